import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// What a process writes to its two pipes (stdout, stderr), delivered so that no value is shown
/// before an `::add-mask::` line the process wrote before it on the other pipe
/// (`echo "::add-mask::$S" >&2; echo "$S"`, at any speed). Used by `ChildProcess.wait` and
/// `HelperChannel`.
///
/// Which of two pipes was written first cannot be told from what they hold. What is known: the
/// bytes read from one pipe were written before that read, so whatever the process wrote to the
/// other pipe before them is in that pipe when it is read next. So a chunk is delivered only once
/// the other pipe has been read after it (or found empty, or closed), and the values of the
/// `add-mask` lines that read found are handed to `onSecret` first; the newer chunk then waits
/// for the same in its turn. A process writing to one stream costs a `poll` per read, no copy.
///
/// The unfinished last line delivered on each stream is kept (up to `lineLimit` bytes), so that an
/// `add-mask` line whose beginning went out in an earlier chunk is read whole. A read of the other
/// pipe takes all it holds (up to `readLimit`): an `add-mask` line cut by a full read goes on in it.
///
/// `onSecret` values are registered again, harmlessly, when the host reads the lines in order.
/// Under `::stop-commands::` they are registered all the same (more masked, never less).
public struct TwoPipeOutput {
    /// The pipes' descriptors: stdout, stderr.
    private let fds: [Int32]
    private let onSecret: (([UInt8]) -> Void)?
    /// Per stream: the bytes delivered after its last line end (the unfinished line), and whether
    /// that line grew past `lineLimit` (its rest is then no command line of interest).
    private var unfinished: [[UInt8]] = [[], []]
    private var overlong = [false, false]
    private var scratch: [UInt8] = []

    /// The longest unfinished line kept (an `add-mask` of a certificate in base64 is shorter).
    public static let lineLimit = 1 << 20
    /// The most read from the other pipe at once.
    public static let readLimit = 4 << 20

    /// - Parameter onSecret: where the values of `add-mask` lines go ahead of their output (nil:
    ///   chunks are delivered as read, with no look at the other pipe).
    public init(stdout: Int32, stderr: Int32, onSecret: (([UInt8]) -> Void)?) {
        fds = [stdout, stderr]
        self.onSecret = onSecret
    }

    /// What a look at a pipe found.
    enum Found {
        case bytes([UInt8])
        case nothing
        case closed
    }

    /// Deliver `chunk`, just read from pipe `index` (0: stdout, 1: stderr), reading the other pipe
    /// as often as it takes to deliver it safely (see the type). `otherOpen`: whether the other pipe
    /// is still open. `goOn`: false stops the chase (a drain time that ran out), delivering what
    /// was read. Returns the indices of the pipes found closed on the way.
    public mutating func deliver(
        _ chunk: UnsafeRawBufferPointer, from index: Int, otherOpen: Bool, goOn: () -> Bool = { true },
        onOutput: (Int32, UnsafeRawBufferPointer) -> Void
    ) -> [Int] {
        guard let onSecret else {
            onOutput(Int32(index + 1), chunk)
            return []
        }
        var closed: [Int] = []
        var held: [UInt8]? = nil  // the chunk waiting, once it is not `chunk` any more
        var at = index
        while true {
            let other = 1 - at
            let found: Found = (!otherOpen && other != index) || closed.contains(other) ? .nothing : look(fds[other])
            guard case .bytes(let bytes) = found else {
                if case .closed = found { closed.append(other) }
                emit(held, chunk, at, onOutput)
                return closed
            }
            // What the other pipe held was written before now, the waiting chunk before its read:
            // its add-mask values first, then the waiting chunk, and these bytes wait in turn.
            for value in addMaskValues(after: other, bytes) { onSecret(value) }
            emit(held, chunk, at, onOutput)
            held = bytes
            at = other
            if !goOn() {
                emit(held, chunk, at, onOutput)
                return closed
            }
        }
    }

    private mutating func emit(_ held: [UInt8]?, _ chunk: UnsafeRawBufferPointer, _ index: Int,
                               _ onOutput: (Int32, UnsafeRawBufferPointer) -> Void) {
        if let held {
            held.withUnsafeBytes { onOutput(Int32(index + 1), $0) }
            held.withUnsafeBytes { track($0, index) }
        } else {
            onOutput(Int32(index + 1), chunk)
            track(chunk, index)
        }
    }

    /// Keep the unfinished last line of what stream `index` delivered.
    private mutating func track(_ bytes: UnsafeRawBufferPointer, _ index: Int) {
        guard !bytes.isEmpty else { return }
        // From the end: output usually ends with a line end.
        var end = bytes.count - 1
        while end >= 0, bytes[end] != 10, bytes[end] != 13 { end -= 1 }
        if end >= 0 {
            unfinished[index].removeAll(keepingCapacity: true)
            overlong[index] = false
        }
        guard !overlong[index] else { return }
        let rest = bytes.count - (end + 1)
        if unfinished[index].count + rest > Self.lineLimit {
            unfinished[index] = []
            overlong[index] = true
        } else if rest > 0 {
            unfinished[index].append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[(end + 1)...]))
        }
    }

    /// The `add-mask` values of the whole lines in `bytes`, read after what stream `index` delivered.
    private func addMaskValues(after index: Int, _ bytes: [UInt8]) -> [[UInt8]] {
        if overlong[index] {
            // The first line's beginning is gone: only the lines after it count.
            guard let end = bytes.firstIndex(where: { $0 == 10 || $0 == 13 }) else { return [] }
            return Self.addMaskValues(in: Array(bytes[(end + 1)...]))
        }
        return Self.addMaskValues(in: unfinished[index].isEmpty ? bytes : unfinished[index] + bytes)
    }

    /// What pipe `fd` holds now, without waiting: reads until one comes back short or
    /// `readLimit` bytes are in.
    private mutating func look(_ fd: Int32) -> Found {
        if scratch.isEmpty { scratch = [UInt8](repeating: 0, count: 65536) }
        var bytes: [UInt8] = []
        while bytes.count < Self.readLimit {
            var probe = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&probe, 1, 0) == 1, probe.revents != 0 else { break }
            let count = scratch.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                bytes += scratch[0..<count]
                if count < scratch.count { break }
            } else if count < 0 && errno == EINTR {
                continue
            } else if count < 0 && errno == EAGAIN {
                break
            } else {
                // Ended (or failed): what was read before still goes on.
                return bytes.isEmpty ? .closed : .bytes(bytes)
            }
        }
        return bytes.isEmpty ? .nothing : .bytes(bytes)
    }

    /// The values of the whole `add-mask` lines in `bytes`, as bytes (a line ends at LF or CR;
    /// the last, unfinished one is left out: its value may go on in the next read). A line that
    /// is not UTF-8 is read as Latin-1 (one character per byte), so its value keeps its bytes.
    static func addMaskValues(in bytes: [UInt8]) -> [[UInt8]] {
        guard ChildProcess.registersSecret(bytes) else { return [] }
        var values: [[UInt8]] = []
        var start = 0
        for index in bytes.indices where bytes[index] == 10 || bytes[index] == 13 {
            let line = Array(bytes[start..<index])
            start = index + 1
            guard ChildProcess.registersSecret(line) else { continue }
            if let text = String(validating: line, as: UTF8.self) {
                if let command = WorkflowCommandLine.parse(text, isName: { $0 == "add-mask" }), !command.data.isEmpty {
                    values.append(Array(command.data.utf8))
                }
            } else if let command = WorkflowCommandLine.parse(latin1(line), isName: { $0 == "add-mask" }), !command.data.isEmpty {
                values.append(command.data.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })
            }
        }
        return values
    }

    /// `bytes` as Latin-1 text: one character per byte.
    public static func latin1(_ bytes: some Sequence<UInt8>) -> String {
        String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
    }
}
