import Foundation

extension ExpressionValue {
    /// Serializes the value as JSON with keys sorted.
    ///
    /// With `pretty`, output matches GitHub's `toJSON`: two-space indentation,
    /// `"key": value`, one element per line, and `{}`/`[]` for empty containers.
    /// Without it, output is compact (`{"a":1,"b":[true,null]}`).
    public func toJSON(pretty: Bool) -> String {
        var output = ""
        ExpressionJSON.write(self, pretty: pretty, indent: 0, into: &output)
        return output
    }

    /// Parses JSON text (any JSON value, not only objects and arrays) into a value.
    /// Errors carry the UTF-8 offset of the problem within `text`.
    public static func fromJSON(_ text: String) throws(ExpressionError) -> ExpressionValue {
        var reader = ExpressionJSONReader(text: text)
        return try reader.readDocument()
    }
}

/// JSON writing helpers.
enum ExpressionJSON {
    static func write(_ value: ExpressionValue, pretty: Bool, indent: Int, into output: inout String) {
        switch value {
        case .null: output += "null"
        case .bool(let flag): output += flag ? "true" : "false"
        case .number(let number): output += ExpressionNumber.json(number)
        case .string(let text): writeString(text, into: &output)
        case .array(let elements):
            if elements.isEmpty { output += "[]"; return }
            output += "["
            for (position, element) in elements.enumerated() {
                if position > 0 { output += "," }
                newline(pretty: pretty, indent: indent + 1, into: &output)
                write(element, pretty: pretty, indent: indent + 1, into: &output)
            }
            newline(pretty: pretty, indent: indent, into: &output)
            output += "]"
        case .object(let members):
            if members.isEmpty { output += "{}"; return }
            output += "{"
            for (position, key) in members.keys.sorted().enumerated() {
                if position > 0 { output += "," }
                newline(pretty: pretty, indent: indent + 1, into: &output)
                writeString(key, into: &output)
                output += pretty ? ": " : ":"
                write(members[key] ?? .null, pretty: pretty, indent: indent + 1, into: &output)
            }
            newline(pretty: pretty, indent: indent, into: &output)
            output += "}"
        }
    }

    private static func newline(pretty: Bool, indent: Int, into output: inout String) {
        guard pretty else { return }
        output += "\n"
        output += String(repeating: "  ", count: indent)
    }

    static func writeString(_ text: String, into output: inout String) {
        output += "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": output += "\\\""
            case "\\": output += "\\\\"
            case "\n": output += "\\n"
            case "\r": output += "\\r"
            case "\t": output += "\\t"
            case "\u{08}": output += "\\b"
            case "\u{0C}": output += "\\f"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    output += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    output.unicodeScalars.append(scalar)
                }
            }
        }
        output += "\""
    }
}

/// A strict JSON reader (RFC 8259) with a nesting limit, producing precise errors.
struct ExpressionJSONReader {
    static let maxDepth = 256

    let text: String
    let bytes: [UInt8]
    var index = 0
    var depth = 0

    init(text: String) {
        self.text = text
        self.bytes = Array(text.utf8)
    }

    mutating func readDocument() throws(ExpressionError) -> ExpressionValue {
        skipWhitespace()
        if index >= bytes.count { throw jsonFailure("empty JSON input") }
        let value = try readValue()
        skipWhitespace()
        if index < bytes.count { throw jsonFailure("unexpected character after the JSON value") }
        return value
    }

    private mutating func skipWhitespace() {
        while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
    }

    private mutating func readValue() throws(ExpressionError) -> ExpressionValue {
        skipWhitespace()
        guard index < bytes.count else { throw jsonFailure("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try readObject()
        case UInt8(ascii: "["): return try readArray()
        case UInt8(ascii: "\""): return .string(try readString())
        case UInt8(ascii: "t"): try readKeyword("true"); return .bool(true)
        case UInt8(ascii: "f"): try readKeyword("false"); return .bool(false)
        case UInt8(ascii: "n"): try readKeyword("null"); return .null
        default: return .number(try readNumber())
        }
    }

    private mutating func readKeyword(_ word: String) throws(ExpressionError) {
        let expected = Array(word.utf8)
        guard index + expected.count <= bytes.count,
              bytes[index..<(index + expected.count)].elementsEqual(expected) else {
            throw jsonFailure("unexpected character")
        }
        index += expected.count
    }

    private mutating func enter() throws(ExpressionError) {
        depth += 1
        if depth > Self.maxDepth { throw jsonFailure("nesting deeper than \(Self.maxDepth) levels") }
    }

    private mutating func readArray() throws(ExpressionError) -> ExpressionValue {
        try enter()
        index += 1
        var elements: [ExpressionValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; depth -= 1; return .array([]) }
        while true {
            elements.append(try readValue())
            skipWhitespace()
            guard index < bytes.count else { throw jsonFailure("unterminated array") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "]") { index += 1; break }
            throw jsonFailure("expected ',' or ']' in array")
        }
        depth -= 1
        return .array(elements)
    }

    private mutating func readObject() throws(ExpressionError) -> ExpressionValue {
        try enter()
        index += 1
        var members: [String: ExpressionValue] = [:]
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; depth -= 1; return .object([:]) }
        while true {
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw jsonFailure("expected a string key") }
            let key = try readString()
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw jsonFailure("expected ':' after key") }
            index += 1
            members[key] = try readValue()
            skipWhitespace()
            guard index < bytes.count else { throw jsonFailure("unterminated object") }
            if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
            if bytes[index] == UInt8(ascii: "}") { index += 1; break }
            throw jsonFailure("expected ',' or '}' in object")
        }
        depth -= 1
        return .object(members)
    }
}
