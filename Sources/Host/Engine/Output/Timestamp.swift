#if canImport(Glibc)
    import Glibc
#endif

/// RFC 3339 UTC timestamps with milliseconds, without Foundation's (ICU-backed) formatters,
/// which cost more than the rest of an event on the per-step hot path. The digits go straight into
/// a 24-byte buffer: one allocation (the string itself) per timestamp; each event takes two or three.
enum Timestamp {
    static func now() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return format(seconds: spec.tv_sec, milliseconds: Int32(spec.tv_nsec / 1_000_000))
    }

    /// `YYYY-MM-DDTHH:MM:SS.mmmZ` for `seconds` since the epoch (years 0–9999).
    static func format(seconds: Int, milliseconds: Int32) -> String {
        var seconds = seconds
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 24) { text in
            func put(_ value: Int32, _ width: Int, at start: Int) {
                var value = value
                for index in stride(from: start + width - 1, through: start, by: -1) {
                    text[index] = UInt8(ascii: "0") + UInt8(value % 10)
                    value /= 10
                }
            }
            put(parts.tm_year + 1900, 4, at: 0)
            text[4] = UInt8(ascii: "-")
            put(parts.tm_mon + 1, 2, at: 5)
            text[7] = UInt8(ascii: "-")
            put(parts.tm_mday, 2, at: 8)
            text[10] = UInt8(ascii: "T")
            put(parts.tm_hour, 2, at: 11)
            text[13] = UInt8(ascii: ":")
            put(parts.tm_min, 2, at: 14)
            text[16] = UInt8(ascii: ":")
            put(parts.tm_sec, 2, at: 17)
            text[19] = UInt8(ascii: ".")
            put(milliseconds, 3, at: 20)
            text[23] = UInt8(ascii: "Z")
            return String(decoding: UnsafeBufferPointer(start: text.baseAddress, count: 24), as: UTF8.self)
        }
    }
}

/// Builds one JSON object as text, keys in insertion order.
struct JSONObjectWriter {
    private(set) var text = "{"
    private var first = true

    private mutating func key(_ name: String) {
        if !first { text += "," }
        first = false
        text += "\"\(name)\":"
    }

    mutating func add(_ name: String, _ value: String?) {
        key(name)
        guard let value else { text += "null"; return }
        ExpressionJSON.writeString(value, into: &text)
    }

    mutating func add(_ name: String, _ value: Int?) {
        key(name)
        text += value.map(String.init) ?? "null"
    }

    mutating func add(_ name: String, _ value: Bool) {
        key(name)
        text += value ? "true" : "false"
    }

    mutating func add(_ name: String, _ values: [String]) {
        key(name)
        text += "["
        for (index, value) in values.enumerated() {
            if index > 0 { text += "," }
            ExpressionJSON.writeString(value, into: &text)
        }
        text += "]"
    }

    /// `{"NAME": "VALUE", …}`, names in order.
    mutating func add(_ name: String, _ values: [String: String]) {
        key(name)
        writeObject(values.sorted(by: { $0.key < $1.key }).map { ($0.key, $0.value) })
    }

    /// `{"NAME": "VALUE", …}` in the order given.
    private mutating func writeObject(_ pairs: [(String, String)]) {
        text += "{"
        for (index, pair) in pairs.enumerated() {
            if index > 0 { text += "," }
            ExpressionJSON.writeString(pair.0, into: &text)
            text += ":"
            ExpressionJSON.writeString(pair.1, into: &text)
        }
        text += "}"
    }

    /// `[{"job","id","name","needs","matrix":{…}}, …]`: what the plan knows of each instance.
    mutating func add(_ name: String, _ details: [JobDescription]) {
        key(name)
        text += "["
        for (index, detail) in details.enumerated() {
            if index > 0 { text += "," }
            var object = JSONObjectWriter()
            object.add("job", detail.key); object.add("id", detail.id); object.add("name", detail.name); object.add("needs", detail.needs)
            object.key("matrix")
            object.writeObject(detail.matrix.map { ($0.name, $0.value) })
            text += object.finish()
        }
        text += "]"
    }

    mutating func finish() -> String { text + "}" }
}
