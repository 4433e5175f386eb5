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

/// A log file written with plain `write(2)`: when the disk fills up or the file goes away, the
/// first failure is reported through `onFailure` and later writes are dropped (counted), instead
/// of crashing the host mid-run.
public final class LogFile: @unchecked Sendable {
    public let path: String
    private var fd: Int32
    private var failure: Int32?
    private let onFailure: @Sendable (String) -> Void

    /// Create (exclusively, mode 0600) or fail with the errno.
    public init(path: String, onFailure: @escaping @Sendable (String) -> Void) throws {
        fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        self.path = path
        self.onFailure = onFailure
    }

    /// Callers serialise writes to one file.
    public func write(_ text: String) {
        guard fd >= 0, failure == nil else { return }
        if let error = StandardStreams.write(text, to: fd) {
            failure = error
            onFailure("cannot write the log file \(path): \(String(cString: strerror(error))); the run goes on, its logs from here on are lost")
        }
    }

    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    deinit { close() }
}
