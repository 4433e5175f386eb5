import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Writes to file descriptors that never crash the host (Foundation's `FileHandle.write` traps on
/// any error, e.g. a full disk or a closed pipe).
public enum StandardStreams {
    /// Write all of `text` to `fd`. Returns nil, or the errno that stopped it (EPIPE, ENOSPC, …).
    @discardableResult
    public static func write(_ text: String, to fd: Int32) -> Int32? {
        var text = text
        return text.withUTF8 { write(UnsafeRawBufferPointer($0), to: fd) }
    }

    /// Write all of `bytes` to `fd`. Returns nil, or the errno that stopped it.
    @discardableResult
    public static func write(_ bytes: UnsafeRawBufferPointer, to fd: Int32) -> Int32? {
        guard let base = bytes.baseAddress else { return nil }
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(fd, base + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                return errno
            }
            offset += written
        }
        return nil
    }

    /// Standard output; a reader that went away (`nixactions run … | head`) is ignored: the run
    /// goes on and cleans up, and its logs are still kept.
    public static func writeOutput(_ text: String) { write(text, to: STDOUT_FILENO) }

    /// Standard error, ignoring errors likewise.
    public static func writeError(_ text: String) { write(text, to: STDERR_FILENO) }
}
