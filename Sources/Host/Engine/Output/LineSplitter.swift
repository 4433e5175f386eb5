import Synchronization

/// Turns a step's output chunks into lines per stream and hands them on.
///
/// Chunks can end anywhere (mid-line, mid-UTF-8 sequence); a partial line is held until its
/// newline or `finish()`. A line longer than `maxLine` bytes is emitted in pieces so that memory
/// stays bounded. Thread-safe.
public final class LineSplitter: StepOutputSink {
    private let pending = Mutex<[Int32: [UInt8]]>([:])
    private let emit: @Sendable (Int32, String) -> Void
    private let maxLine: Int

    public init(maxLine: Int = 1 << 20, emit: @escaping @Sendable (Int32, String) -> Void) {
        self.emit = emit
        self.maxLine = maxLine
    }

    public func write(stream: Int32, _ bytes: UnsafeRawBufferPointer) {
        let lines: [String] = pending.withLock { pending in
            var buffer = pending[stream] ?? []
            var lines: [String] = []
            var start = 0
            for (index, byte) in bytes.enumerated() where byte == 0x0A {
                buffer.append(contentsOf: bytes[start..<index])
                lines.append(Self.decode(buffer))
                buffer.removeAll(keepingCapacity: true)
                start = index + 1
            }
            buffer.append(contentsOf: bytes[start...])
            if buffer.count > maxLine {
                lines.append(Self.decode(buffer))
                buffer.removeAll()
            }
            pending[stream] = buffer
            return lines
        }
        for line in lines { emit(stream, line) }
    }

    /// Emit what is left of unterminated lines.
    public func finish() {
        let rest = pending.withLock { pending in
            defer { pending.removeAll() }
            return pending.sorted { $0.key < $1.key }.filter { !$0.value.isEmpty }
        }
        for (stream, bytes) in rest { emit(stream, Self.decode(bytes)) }
    }

    static func decode(_ bytes: [UInt8]) -> String {
        var bytes = bytes
        if bytes.last == 0x0D { bytes.removeLast() }
        return String(decoding: bytes, as: UTF8.self)
    }
}
