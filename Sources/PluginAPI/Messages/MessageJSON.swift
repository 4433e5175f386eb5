import Foundation

/// Fast JSON for the messages that cross the plugin boundary once or more per step (`JobSpec`,
/// `JobStarted`, `StepSpec`, `StepResult`, `OperationFailure`).
///
/// Foundation's `JSONEncoder`/`JSONDecoder` went through `Codable`'s generic containers for every
/// key and took about a tenth of the host's time on a run of short jobs. These messages are
/// small and fixed, so they are written straight into bytes and read through a small
/// recursive-descent parser into `JSONValue`. The text is the same JSON: a plugin may keep
/// using `Codable` on its side (both forms are tested against each other), and types without a
/// fast form still go through Foundation (`MessageCoding`).
public protocol FastJSONMessage: Codable {
    func writeJSON(_ writer: inout JSONWriter)
    init(json: JSONValue) throws
}

/// Encode and decode a message: the fast path for `FastJSONMessage` types, Foundation otherwise.
public enum MessageCoding {
    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        if let fast = value as? any FastJSONMessage {
            var writer = JSONWriter()
            fast.writeJSON(&writer)
            return writer.bytes
        }
        return Array(try JSONEncoderBox.encode(value))
    }

    public static func decode<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer) throws -> T {
        if let fast = type as? any FastJSONMessage.Type {
            let value = try JSONValue.parse(bytes)
            // swift-format-ignore: the cast cannot fail (fast is T's own metatype)
            return try fast.init(json: value) as! T
        }
        return try JSONEncoderBox.decode(type, from: bytes)
    }

    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try bytes.withUnsafeBytes { try decode(type, from: $0) }
    }
}

/// A malformed or incomplete message.
public struct MessageDecodingError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

// MARK: - Writing

/// Appends JSON to a byte buffer; strings are escaped in runs of bytes that need none.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []
    private var needsComma = false

    public init() { bytes.reserveCapacity(512) }

    public mutating func beginObject() {
        comma()
        bytes.append(UInt8(ascii: "{"))
        needsComma = false
    }

    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
        needsComma = true
    }

    public mutating func beginArray() {
        comma()
        bytes.append(UInt8(ascii: "["))
        needsComma = false
    }

    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
        needsComma = true
    }

    /// A member name; the value follows with one of the value functions.
    public mutating func key(_ name: StaticString) {
        comma()
        bytes.append(UInt8(ascii: "\""))
        name.withUTF8Buffer { bytes.append(contentsOf: $0) }
        bytes.append(contentsOf: [UInt8(ascii: "\""), UInt8(ascii: ":")])
        needsComma = false
    }

    public mutating func key(_ name: String) {
        string(name)
        bytes.append(UInt8(ascii: ":"))
        needsComma = false
    }

    public mutating func string(_ value: String) {
        comma()
        var value = value
        value.withUTF8 { Self.appendEscaped($0, to: &bytes) }
        needsComma = true
    }

    public mutating func int(_ value: Int) {
        comma()
        bytes.append(contentsOf: String(value).utf8)
        needsComma = true
    }

    /// A finite number as JSON writes it (`0.5`, `2`); anything else is written as 0.
    public mutating func number(_ value: Double) {
        comma()
        if value.isFinite, let whole = Int(exactly: value) {
            bytes.append(contentsOf: String(whole).utf8)
        } else {
            bytes.append(contentsOf: (value.isFinite ? String(value) : "0").utf8)
        }
        needsComma = true
    }

    public mutating func bool(_ value: Bool) {
        comma()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
        needsComma = true
    }

    public mutating func null() {
        comma()
        bytes.append(contentsOf: "null".utf8)
        needsComma = true
    }

    public mutating func value(_ value: JSONValue) {
        switch value {
        case .null: null()
        case .bool(let flag): bool(flag)
        case .number(let number):
            comma()
            if number.isFinite, number == number.rounded(), abs(number) < 1e15 {
                bytes.append(contentsOf: String(Int64(number)).utf8)
            } else if number.isFinite {
                bytes.append(contentsOf: "\(number)".utf8)
            } else {
                bytes.append(contentsOf: "null".utf8)
            }
            needsComma = true
        case .string(let text): string(text)
        case .array(let items):
            beginArray()
            for item in items { self.value(item) }
            endArray()
        case .object(let members):
            beginObject()
            for name in members.keys.sorted() {
                key(name)
                self.value(members[name]!)
            }
            endObject()
        }
    }

    public mutating func strings(_ values: [String]) {
        beginArray()
        for value in values { string(value) }
        endArray()
    }

    public mutating func stringMap(_ values: [String: String]) {
        beginObject()
        for (name, value) in values {
            key(name)
            string(value)
        }
        endObject()
    }

    private mutating func comma() {
        if needsComma { bytes.append(UInt8(ascii: ",")) }
    }

    static let hex = Array("0123456789abcdef".utf8)

    static func appendEscaped(_ text: UnsafeBufferPointer<UInt8>, to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "\""))
        var start = 0
        for index in 0..<text.count {
            let byte = text[index]
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            if start < index { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: text[start..<index])) }
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x0A: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            default:
                bytes.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"),
                                          hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            }
            start = index + 1
        }
        if start < text.count { bytes.append(contentsOf: UnsafeBufferPointer(rebasing: text[start..<text.count])) }
        bytes.append(UInt8(ascii: "\""))
    }
}

// MARK: - Reading

extension JSONValue {
    /// Nesting deeper than this is refused (a message is a few levels deep).
    public static let maximumDepth = 512

    /// Parse one JSON document (RFC 8259; surrounding whitespace allowed).
    /// - Parameter numbersAsText: numbers become `.string` of their text as written (`1.50`,
    ///   `12345678901234567890`), for documents whose values are text to hand on (secrets files),
    ///   where a double would drop digits; a message's numbers are doubles (the default).
    public static func parse(_ bytes: UnsafeRawBufferPointer, numbersAsText: Bool = false) throws -> JSONValue {
        var parser = JSONParser(bytes: bytes)
        parser.numbersAsText = numbersAsText
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.offset == bytes.count else { throw parser.error("unexpected text after the value") }
        return value
    }

    public static func parse(_ bytes: [UInt8], numbersAsText: Bool = false) throws -> JSONValue {
        try bytes.withUnsafeBytes { try parse($0, numbersAsText: numbersAsText) }
    }

    // Typed access for message decoders.

    func member(_ name: String, of type: String) throws -> JSONValue {
        guard case .object(let members) = self else { throw MessageDecodingError("\(type): not a JSON object") }
        guard let value = members[name] else { throw MessageDecodingError("\(type): missing '\(name)'") }
        return value
    }

    func optionalMember(_ name: String) -> JSONValue? {
        guard case .object(let members) = self, let value = members[name], value != .null else { return nil }
        return value
    }

    func string(_ name: String, of type: String) throws -> String {
        guard case .string(let text) = try member(name, of: type) else { throw MessageDecodingError("\(type): '\(name)' is not a string") }
        return text
    }

    func optionalString(_ name: String, of type: String) throws -> String? {
        guard let value = optionalMember(name) else { return nil }
        guard case .string(let text) = value else { throw MessageDecodingError("\(type): '\(name)' is not a string") }
        return text
    }

    func int(_ name: String, of type: String) throws -> Int {
        guard case .number(let number) = try member(name, of: type), let value = Int(exactly: number) else {
            throw MessageDecodingError("\(type): '\(name)' is not an integer")
        }
        return value
    }

    func optionalInt32(_ name: String, of type: String) throws -> Int32? {
        guard let value = optionalMember(name) else { return nil }
        guard case .number(let number) = value, let result = Int32(exactly: number) else {
            throw MessageDecodingError("\(type): '\(name)' is not a 32-bit integer")
        }
        return result
    }

    func optionalDouble(_ name: String, of type: String) throws -> Double? {
        guard let value = optionalMember(name) else { return nil }
        guard case .number(let number) = value else { throw MessageDecodingError("\(type): '\(name)' is not a number") }
        return number
    }

    func bool(_ name: String, of type: String) throws -> Bool {
        guard case .bool(let flag) = try member(name, of: type) else { throw MessageDecodingError("\(type): '\(name)' is not a boolean") }
        return flag
    }

    func optionalBool(_ name: String, of type: String) throws -> Bool? {
        guard let value = optionalMember(name) else { return nil }
        guard case .bool(let flag) = value else { throw MessageDecodingError("\(type): '\(name)' is not a boolean") }
        return flag
    }

    static func strings(_ value: JSONValue, _ name: String, of type: String) throws -> [String] {
        guard case .array(let items) = value else { throw MessageDecodingError("\(type): '\(name)' is not an array") }
        return try items.map {
            guard case .string(let text) = $0 else { throw MessageDecodingError("\(type): '\(name)' holds a non-string") }
            return text
        }
    }

    func strings(_ name: String, of type: String) throws -> [String] {
        try Self.strings(member(name, of: type), name, of: type)
    }

    func optionalStrings(_ name: String, of type: String) throws -> [String]? {
        guard let value = optionalMember(name) else { return nil }
        return try Self.strings(value, name, of: type)
    }

    static func stringMap(_ value: JSONValue, _ name: String, of type: String) throws -> [String: String] {
        guard case .object(let members) = value else { throw MessageDecodingError("\(type): '\(name)' is not an object") }
        var result = [String: String](minimumCapacity: members.count)
        for (key, item) in members {
            guard case .string(let text) = item else { throw MessageDecodingError("\(type): '\(name).\(key)' is not a string") }
            result[key] = text
        }
        return result
    }

    func stringMap(_ name: String, of type: String) throws -> [String: String] {
        try Self.stringMap(member(name, of: type), name, of: type)
    }

    func optionalStringMap(_ name: String, of type: String) throws -> [String: String]? {
        guard let value = optionalMember(name) else { return nil }
        return try Self.stringMap(value, name, of: type)
    }
}

struct JSONParser {
    let bytes: UnsafeRawBufferPointer
    var offset = 0
    var numbersAsText = false

    init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    func error(_ message: String) -> MessageDecodingError {
        MessageDecodingError("invalid JSON at byte \(offset): \(message)")
    }

    mutating func skipSpace() {
        while offset < bytes.count {
            switch bytes[offset] {
            case 0x20, 0x09, 0x0A, 0x0D: offset += 1
            default: return
            }
        }
    }

    mutating func expect(_ literal: String, _ value: JSONValue) throws -> JSONValue {
        for byte in literal.utf8 {
            guard offset < bytes.count, bytes[offset] == byte else { throw error("expected '\(literal)'") }
            offset += 1
        }
        return value
    }

    mutating func value(depth: Int) throws -> JSONValue {
        guard depth < JSONValue.maximumDepth else { throw error("nested deeper than \(JSONValue.maximumDepth) levels") }
        guard offset < bytes.count else { throw error("unexpected end") }
        switch bytes[offset] {
        case UInt8(ascii: "{"):
            offset += 1
            var members: [String: JSONValue] = [:]
            skipSpace()
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "}") {
                offset += 1
                return .object(members)
            }
            while true {
                skipSpace()
                guard offset < bytes.count, bytes[offset] == UInt8(ascii: "\"") else { throw error("expected a member name") }
                let name = try string()
                skipSpace()
                guard offset < bytes.count, bytes[offset] == UInt8(ascii: ":") else { throw error("expected ':'") }
                offset += 1
                skipSpace()
                members[name] = try value(depth: depth + 1)
                skipSpace()
                guard offset < bytes.count else { throw error("unexpected end in an object") }
                if bytes[offset] == UInt8(ascii: ",") {
                    offset += 1
                    continue
                }
                guard bytes[offset] == UInt8(ascii: "}") else { throw error("expected ',' or '}'") }
                offset += 1
                return .object(members)
            }
        case UInt8(ascii: "["):
            offset += 1
            var items: [JSONValue] = []
            skipSpace()
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "]") {
                offset += 1
                return .array(items)
            }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard offset < bytes.count else { throw error("unexpected end in an array") }
                if bytes[offset] == UInt8(ascii: ",") {
                    offset += 1
                    continue
                }
                guard bytes[offset] == UInt8(ascii: "]") else { throw error("expected ',' or ']'") }
                offset += 1
                return .array(items)
            }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try expect("true", .bool(true))
        case UInt8(ascii: "f"): return try expect("false", .bool(false))
        case UInt8(ascii: "n"): return try expect("null", .null)
        default:
            let text = try numberText()
            if numbersAsText { return .string(text) }
            guard let number = Double(text) else { throw error("a malformed number") }
            return .number(number)
        }
    }

    /// A number's text, checked against JSON's grammar.
    mutating func numberText() throws -> String {
        let start = offset
        func digits() -> Int {
            let from = offset
            while offset < bytes.count, bytes[offset] >= UInt8(ascii: "0"), bytes[offset] <= UInt8(ascii: "9") { offset += 1 }
            return offset - from
        }
        if offset < bytes.count, bytes[offset] == UInt8(ascii: "-") { offset += 1 }
        let leading = offset
        let count = digits()
        guard count > 0 else { throw error("expected a value") }
        guard count == 1 || bytes[leading] != UInt8(ascii: "0") else { throw error("a number with a leading zero") }
        if offset < bytes.count, bytes[offset] == UInt8(ascii: ".") {
            offset += 1
            guard digits() > 0 else { throw error("expected digits after '.'") }
        }
        if offset < bytes.count, bytes[offset] | 0x20 == UInt8(ascii: "e") {
            offset += 1
            if offset < bytes.count, bytes[offset] == UInt8(ascii: "+") || bytes[offset] == UInt8(ascii: "-") { offset += 1 }
            guard digits() > 0 else { throw error("expected an exponent") }
        }
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<offset]), as: UTF8.self)
    }

    /// A string starting at the opening quote. Runs without escapes are copied in one piece.
    mutating func string() throws -> String {
        offset += 1
        var start = offset
        // The text with its escapes read, once the first escape is met. One array, appended to in
        // place: a copy taken at each escape (out of an optional) made a value of many lines cost
        // the square of its length (audit 66 remote H3: a 2 MB GITHUB_ENV value, 3.5 s).
        var built: [UInt8] = []
        var escaped = false
        // ASCII (most messages: names, paths, environments) needs no UTF-8 validation.
        var ascii = true
        while offset < bytes.count {
            let byte = bytes[offset]
            if byte == UInt8(ascii: "\"") {
                let tail = UnsafeRawBufferPointer(rebasing: bytes[start..<offset])
                offset += 1
                if escaped {
                    built.append(contentsOf: tail)
                    return try Self.text(built)
                }
                if ascii { return String(decoding: tail, as: UTF8.self) }
                return try Self.text(Array(tail))
            }
            if byte < 0x20 { throw error("a control character inside a string") }
            guard byte == UInt8(ascii: "\\") else {
                if byte >= 0x80 { ascii = false }
                offset += 1
                continue
            }
            escaped = true
            built.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[start..<offset]))
            offset += 1
            guard offset < bytes.count else { throw error("unexpected end in an escape") }
            let escape = bytes[offset]
            offset += 1
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): built.append(escape)
            case UInt8(ascii: "b"): built.append(0x08)
            case UInt8(ascii: "f"): built.append(0x0C)
            case UInt8(ascii: "n"): built.append(0x0A)
            case UInt8(ascii: "r"): built.append(0x0D)
            case UInt8(ascii: "t"): built.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    guard offset + 1 < bytes.count, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u") else {
                        throw error("a lone high surrogate")
                    }
                    offset += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw error("a high surrogate without its low half") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw error("a lone low surrogate")
                }
                guard let unicode = Unicode.Scalar(scalar) else { throw error("an invalid code point") }
                built.append(contentsOf: String(Character(unicode)).utf8)
            default: throw error("an unknown escape '\\\(Character(Unicode.Scalar(escape)))'")
            }
            start = offset
        }
        throw error("an unterminated string")
    }

    mutating func hex4() throws -> UInt32 {
        guard offset + 4 <= bytes.count else { throw error("a short \\u escape") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[offset]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error("a bad hex digit in a \\u escape")
            }
            value = value << 4 | UInt32(digit)
            offset += 1
        }
        return value
    }

    static func text(_ bytes: [UInt8]) throws -> String {
        guard let text = String(validating: bytes, as: UTF8.self) else { throw MessageDecodingError("invalid JSON: a string is not valid UTF-8") }
        return text
    }
}

// MARK: - Foundation for the rest

enum JSONEncoderBox {
    static func encode<T: Encodable>(_ value: T) throws -> Data { try JSONEncoder().encode(value) }

    static func decode<T: Decodable>(_ type: T.Type, from bytes: UnsafeRawBufferPointer) throws -> T {
        let data = bytes.baseAddress.map { Data(bytes: $0, count: bytes.count) } ?? Data()
        return try JSONDecoder().decode(type, from: data)
    }
}
