// TEMPORARY: a line-based stand-in for the streaming redactor (replaced when it lands).

extension Redactor {
    public func makeStream(emit: @escaping (UnsafeRawBufferPointer) -> Void) -> RedactingStreamStub {
        RedactingStreamStub(redactor: self, emit: emit)
    }
}

public final class RedactingStreamStub {
    let redactor: Redactor
    let emit: (UnsafeRawBufferPointer) -> Void
    var pending: [UInt8] = []

    init(redactor: Redactor, emit: @escaping (UnsafeRawBufferPointer) -> Void) {
        self.redactor = redactor
        self.emit = emit
    }

    public func write(_ bytes: UnsafeRawBufferPointer) {
        if redactor.isEmpty && pending.isEmpty { return emit(bytes) }
        pending.append(contentsOf: bytes)
        guard let last = pending.lastIndex(of: 0x0A) else { return }
        let text = redactor.redact(String(decoding: pending[...last], as: UTF8.self))
        pending.removeSubrange(...last)
        var copy = text
        copy.withUTF8 { emit(UnsafeRawBufferPointer($0)) }
    }

    public func flush() {}

    public func finish() {
        guard !pending.isEmpty else { return }
        var text = redactor.redact(String(decoding: pending, as: UTF8.self))
        pending.removeAll()
        text.withUTF8 { emit(UnsafeRawBufferPointer($0)) }
    }
}
