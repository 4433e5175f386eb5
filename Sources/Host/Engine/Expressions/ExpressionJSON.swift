import Foundation

extension ExpressionValue {
    /// Serializes the value as JSON, an object's keys in its members' order.
    ///
    /// With `pretty`, output matches GitHub's `toJSON`: two-space indentation,
    /// `"key": value`, one element per line, and `{}`/`[]` for empty containers.
    /// Without it, output is compact (`{"a":1,"b":[true,null]}`).
    public func toJSON(pretty: Bool) -> String {
        var output = ""
        ExpressionJSON.write(self, pretty: pretty, indent: 0, into: &output)
        return output
    }

    /// What GitHub's `toJSON` gives (`ToJson.cs`): pretty JSON whose numbers are written as
    /// GitHub writes a number as text (15 significant digits, `1E+21`, bare `NaN` and
    /// `Infinity`, which are not JSON), where `toJSON(pretty:)` keeps every digit and quotes
    /// them for files that JSON readers take.
    public func gitHubJSON() -> String {
        var output = ""
        ExpressionJSON.write(self, pretty: true, indent: 0, gitHub: true, into: &output)
        return output
    }

    /// Parses JSON text (any JSON value, not only objects and arrays) into a value.
    /// Errors carry the UTF-8 offset of the problem within `text`.
    /// - Parameter lenient: read it as the `fromJSON` of GitHub's runner reads it (Newtonsoft's
    ///   `JsonTextReader` through `JToken.ReadFrom`): also `'single quotes'`, unquoted keys,
    ///   `//` and `/* */` comments, `NaN`, `Infinity`, `undefined` (null), `0x1F` and octal `017`,
    ///   and whatever follows the first value; keys that differ only in case are one key (the
    ///   first one's spelling, the last one's value).
    public static func fromJSON(_ text: String, lenient: Bool = false) throws(ExpressionError) -> ExpressionValue {
        var reader = ExpressionJSONReader(text: text)
        reader.lenient = lenient
        return try reader.readDocument()
    }
}

/// JSON writing helpers.
enum ExpressionJSON {
    static func write(_ value: ExpressionValue, pretty: Bool, indent: Int, gitHub: Bool = false, into output: inout String) {
        switch value {
        case .null: output += "null"
        case .bool(let flag): output += flag ? "true" : "false"
        case .number(let number): output += gitHub ? ExpressionNumber.format(number) : ExpressionNumber.json(number)
        case .string(let text): writeString(text, into: &output)
        case .array(let elements):
            if elements.isEmpty { output += "[]"; return }
            output += "["
            for (position, element) in elements.enumerated() {
                if position > 0 { output += "," }
                newline(pretty: pretty, indent: indent + 1, into: &output)
                write(element, pretty: pretty, indent: indent + 1, gitHub: gitHub, into: &output)
            }
            newline(pretty: pretty, indent: indent, into: &output)
            output += "]"
        case .object(let members):
            if members.isEmpty { output += "{}"; return }
            output += "{"
            // In the members' order, as GitHub's dictionaries keep it.
            for (position, member) in members.enumerated() {
                if position > 0 { output += "," }
                newline(pretty: pretty, indent: indent + 1, into: &output)
                writeString(member.key, into: &output)
                output += pretty ? ": " : ":"
                write(member.value, pretty: pretty, indent: indent + 1, gitHub: gitHub, into: &output)
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
                // Control characters, and the line separators Newtonsoft always escapes
                // (U+0085, U+2028, U+2029: JavaScript reads the last two as line ends).
                if scalar.value < 0x20 || scalar.value == 0x85 || scalar.value == 0x2028 || scalar.value == 0x2029 {
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

/// A strict JSON reader (RFC 8259) with a nesting limit, producing precise errors; `lenient`
/// reads what GitHub's runner's `fromJSON` reads.
struct ExpressionJSONReader {
    /// A byte of an unquoted key (Newtonsoft: a letter or digit, `_`, `$`; any non-ASCII byte).
    static func isIdentifierByte(_ byte: UInt8) -> Bool {
        (byte >= 0x30 && byte <= 0x39) || (byte | 0x20 >= 0x61 && byte | 0x20 <= 0x7A) || byte == 0x5F || byte == 0x24 || byte >= 0x80
    }

    static let maxDepth = 256

    let text: String
    let bytes: [UInt8]
    var index = 0
    var depth = 0
    /// Newtonsoft's leniency (`ExpressionValue.fromJSON(_:lenient:)`).
    var lenient = false

    init(text: String) {
        self.text = text
        self.bytes = Array(text.utf8)
    }

    mutating func readDocument() throws(ExpressionError) -> ExpressionValue {
        skipWhitespace()
        if index >= bytes.count { throw jsonFailure("empty JSON input") }
        let value = try readValue()
        if lenient { return value }  // JToken.ReadFrom reads one value, whatever follows
        skipWhitespace()
        if index < bytes.count { throw jsonFailure("unexpected character after the JSON value") }
        return value
    }

    private mutating func skipWhitespace() {
        while index < bytes.count {
            let byte = bytes[index]
            if byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D {
                index += 1
            } else if lenient, byte == UInt8(ascii: "/"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "/") {
                while index < bytes.count, bytes[index] != 0x0A { index += 1 }
            } else if lenient, byte == UInt8(ascii: "/"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "*") {
                index += 2
                while index + 1 < bytes.count, !(bytes[index] == UInt8(ascii: "*") && bytes[index + 1] == UInt8(ascii: "/")) { index += 1 }
                index = min(bytes.count, index + 2)
            } else {
                return
            }
        }
    }

    private mutating func readValue() throws(ExpressionError) -> ExpressionValue {
        skipWhitespace()
        guard index < bytes.count else { throw jsonFailure("unexpected end of input") }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try readObject()
        case UInt8(ascii: "["): return try readArray()
        case UInt8(ascii: "\""): return .string(try readString())
        case UInt8(ascii: "'") where lenient: return .string(try readString())
        case UInt8(ascii: "t"): try readKeyword("true"); return .bool(true)
        case UInt8(ascii: "f"): try readKeyword("false"); return .bool(false)
        case UInt8(ascii: "n"): try readKeyword("null"); return .null
        case UInt8(ascii: "N") where lenient: try readKeyword("NaN"); return .number(.nan)
        case UInt8(ascii: "I") where lenient: try readKeyword("Infinity"); return .number(.infinity)
        // Newtonsoft's Undefined token, which GitHub's context data turns into "" (review 52).
        case UInt8(ascii: "u") where lenient: try readKeyword("undefined"); return .string("")
        case UInt8(ascii: "-") where lenient && index + 1 < bytes.count && bytes[index + 1] == UInt8(ascii: "I"):
            index += 1
            try readKeyword("Infinity")
            return .number(-.infinity)
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
        // Newtonsoft's reader stops at 64 levels (JsonReader.MaxDepth), so GitHub's fromJSON does.
        let most = lenient ? 64 : Self.maxDepth
        if depth > most { throw jsonFailure("nesting deeper than \(most) levels") }
    }

    private mutating func readArray() throws(ExpressionError) -> ExpressionValue {
        try enter()
        index += 1
        var elements: [ExpressionValue] = []
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; depth -= 1; return .array([]) }
        while true {
            skipWhitespace()
            // Lenient, as Newtonsoft: an element left out (`[1,,2]`) is "", a comma before the
            // end (`[1,2,]`) ends the array (audit 52).
            if lenient, index < bytes.count, bytes[index] == UInt8(ascii: ",") {
                elements.append(.string(""))
            } else {
                elements.append(try readValue())
            }
            skipWhitespace()
            guard index < bytes.count else { throw jsonFailure("unterminated array") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                skipWhitespace()
                if lenient, index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; break }
                continue
            }
            if bytes[index] == UInt8(ascii: "]") { index += 1; break }
            throw jsonFailure("expected ',' or ']' in array")
        }
        depth -= 1
        return .array(elements)
    }

    private mutating func readObject() throws(ExpressionError) -> ExpressionValue {
        try enter()
        index += 1
        var members: ExpressionObject = [:]
        /// Lenient: the spelling kept for each key without case.
        var spellings: [String: String] = [:]
        skipWhitespace()
        if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; depth -= 1; return .object([:]) }
        while true {
            skipWhitespace()
            var key: String
            if index < bytes.count, bytes[index] == UInt8(ascii: "\"") || (lenient && bytes[index] == UInt8(ascii: "'")) {
                key = try readString()
            } else if lenient, index < bytes.count, Self.isIdentifierByte(bytes[index]) {
                let start = index
                while index < bytes.count, Self.isIdentifierByte(bytes[index]) { index += 1 }
                key = String(decoding: bytes[start..<index], as: UTF8.self)
            } else {
                throw jsonFailure("expected a string key")
            }
            skipWhitespace()
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw jsonFailure("expected ':' after key") }
            index += 1
            if lenient {
                // GitHub's objects are keyed without case: a later key in another case is the same key.
                let folded = key.lowercased()
                if let first = spellings[folded] { key = first } else { spellings[folded] = key }
            }
            members[key] = try readValue()
            skipWhitespace()
            guard index < bytes.count else { throw jsonFailure("unterminated object") }
            if bytes[index] == UInt8(ascii: ",") {
                index += 1
                skipWhitespace()
                // Lenient: a comma before the end (`{"a":1,}`), as Newtonsoft.
                if lenient, index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; break }
                continue
            }
            if bytes[index] == UInt8(ascii: "}") { index += 1; break }
            throw jsonFailure("expected ',' or '}' in object")
        }
        depth -= 1
        return .object(members)
    }
}
