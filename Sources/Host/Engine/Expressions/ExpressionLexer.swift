import Foundation

/// A token kind of the expression language.
enum ExpressionTokenKind: Sendable, Hashable {
    case leftParen, rightParen, leftBracket, rightBracket, comma, dot, star
    case bang, bangEqual, equalEqual, greater, greaterEqual, less, lessEqual, and, or
    case number(Double)
    case string(String)
    case identifier(String)
    case trueLiteral, falseLiteral, nullLiteral
    case end
}

/// A token with its UTF-8 offset and raw text.
struct ExpressionToken: Sendable {
    let kind: ExpressionTokenKind
    let offset: Int
    let lexeme: String

    /// How the token is quoted in error messages.
    var quoted: String {
        switch kind {
        case .end: return "end of expression"
        case .string: return lexeme
        default: return "'\(lexeme)'"
        }
    }
}

/// An on-demand lexer over a UTF-8 range of a source text, following GitHub's
/// rules: a `.` after an identifier, `]`, `)` or `*` is a dereference and
/// otherwise starts a number; `+`/`-` start numbers; keywords are not
/// recognized right after a `.`.
struct ExpressionLexer {
    let source: String
    let bytes: [UInt8]
    let end: Int
    private(set) var index: Int
    private var previous: ExpressionTokenKind?

    init(source: String, bytes: [UInt8], range: Range<Int>) {
        self.source = source
        self.bytes = bytes
        self.end = min(range.upperBound, bytes.count)
        self.index = max(0, min(range.lowerBound, self.end))
    }

    private static func isBoundary(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "("), UInt8(ascii: "["), UInt8(ascii: ")"), UInt8(ascii: "]"),
             UInt8(ascii: ","), UInt8(ascii: "."), UInt8(ascii: "!"), UInt8(ascii: ">"),
             UInt8(ascii: "<"), UInt8(ascii: "="), UInt8(ascii: "&"), UInt8(ascii: "|"):
            return true
        default:
            return isSpace(byte)
        }
    }

    static func isSpace(_ byte: UInt8) -> Bool {
        byte == 0x20 || (byte >= 0x09 && byte <= 0x0D)
    }

    /// The UTF-8 length of the white space at `index` (0: none). White space as GitHub's lexer
    /// skips it (.NET `Char.IsWhiteSpace`): ASCII's, U+0085, U+00A0 (a no-break space pasted from
    /// a web page), and Unicode's space and separator characters (U+1680, U+2000–U+200A, U+2028,
    /// U+2029, U+202F, U+205F, U+3000).
    static func spaceLength(_ bytes: [UInt8], _ index: Int, _ end: Int) -> Int {
        let byte = bytes[index]
        if byte < 0x80 { return isSpace(byte) ? 1 : 0 }
        guard index + 1 < end else { return 0 }
        let second = bytes[index + 1]
        switch byte {
        case 0xC2: return second == 0x85 || second == 0xA0 ? 2 : 0
        case 0xE1, 0xE2, 0xE3:
            guard index + 2 < end else { return 0 }
            let third = bytes[index + 2]
            switch (byte, second) {
            case (0xE1, 0x9A): return third == 0x80 ? 3 : 0
            case (0xE2, 0x80): return (0x80...0x8A).contains(third) || third == 0xA8 || third == 0xA9 || third == 0xAF ? 3 : 0
            case (0xE2, 0x81): return third == 0x9F ? 3 : 0
            case (0xE3, 0x80): return third == 0x80 ? 3 : 0
            default: return 0
            }
        default: return 0
        }
    }

    /// Whether a word (identifier, number) ends at `index`.
    private func endsWord(at index: Int) -> Bool {
        Self.isBoundary(bytes[index]) || (bytes[index] >= 0xC2 && Self.spaceLength(bytes, index, end) > 0)
    }

    private func text(_ start: Int, _ stop: Int) -> String {
        String(decoding: bytes[start..<stop], as: UTF8.self)
    }

    /// Produces the next token (`.end` repeatedly at the end of the range).
    mutating func next() throws(ExpressionError) -> ExpressionToken {
        while index < end, case let length = Self.spaceLength(bytes, index, end), length > 0 { index += length }
        guard index < end else { return ExpressionToken(kind: .end, offset: end, lexeme: "") }
        let start = index
        let byte = bytes[index]
        index += 1
        let kind: ExpressionTokenKind
        switch byte {
        case UInt8(ascii: "("): kind = .leftParen
        case UInt8(ascii: ")"): kind = .rightParen
        case UInt8(ascii: "["): kind = .leftBracket
        case UInt8(ascii: "]"): kind = .rightBracket
        case UInt8(ascii: ","): kind = .comma
        case UInt8(ascii: "*"): kind = .star
        case UInt8(ascii: "!"): kind = match(UInt8(ascii: "=")) ? .bangEqual : .bang
        case UInt8(ascii: "<"): kind = match(UInt8(ascii: "=")) ? .lessEqual : .less
        case UInt8(ascii: ">"): kind = match(UInt8(ascii: "=")) ? .greaterEqual : .greater
        case UInt8(ascii: "="):
            guard match(UInt8(ascii: "=")) else { throw symbolError(start, hint: "use '==' to compare values") }
            kind = .equalEqual
        case UInt8(ascii: "&"):
            guard match(UInt8(ascii: "&")) else { throw symbolError(start, hint: "use '&&' for a logical and") }
            kind = .and
        case UInt8(ascii: "|"):
            guard match(UInt8(ascii: "|")) else { throw symbolError(start, hint: "use '||' for a logical or") }
            kind = .or
        case UInt8(ascii: "'"):
            kind = .string(try readString(from: start))
        case UInt8(ascii: "."):
            switch previous {
            case .identifier?, .rightBracket?, .rightParen?, .star?: kind = .dot
            default: kind = try readNumber(from: start)
            }
        case UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            kind = try readNumber(from: start)
        default:
            kind = try readIdentifier(from: start)
        }
        previous = kind
        return ExpressionToken(kind: kind, offset: start, lexeme: text(start, index))
    }

    private mutating func match(_ expected: UInt8) -> Bool {
        guard index < end, bytes[index] == expected else { return false }
        index += 1
        return true
    }

    private mutating func readString(from start: Int) throws(ExpressionError) -> String {
        var value: [UInt8] = []
        while true {
            guard index < end else {
                throw ExpressionError(
                    message: "unterminated string literal starting at position \(start + 1)",
                    offset: start, source: source,
                    hint: "close the string with ' (write '' for a literal quote)")
            }
            let byte = bytes[index]
            index += 1
            if byte == UInt8(ascii: "'") {
                guard index < end, bytes[index] == UInt8(ascii: "'") else { break }
                index += 1
            }
            value.append(byte)
        }
        return String(decoding: value, as: UTF8.self)
    }

    private mutating func readNumber(from start: Int) throws(ExpressionError) -> ExpressionTokenKind {
        while index < end, !endsWord(at: index) || bytes[index] == UInt8(ascii: ".") { index += 1 }
        let lexeme = text(start, index)
        let value = ExpressionNumber.parse(lexeme)
        if value.isNaN {
            var hint: String?
            if lexeme == "-" || lexeme == "+" {
                hint = "there is no arithmetic; a sign must be written directly before a number, e.g. -1"
            } else if lexeme.hasPrefix("."), start > 0, bytes[start - 1] == UInt8(ascii: ".") {
                // `github..sha`: a dot too many, not a missing context (audit 65 expressions L5).
                hint = "two dots in a row: write one '.' between a context and its property (github.sha)"
            } else if lexeme.hasPrefix(".") {
                hint = "a property name after '.' needs a context, function call or parenthesized expression before it"
            }
            throw ExpressionError(
                message: "invalid number '\(lexeme)' at position \(start + 1)", offset: start, source: source, hint: hint)
        }
        return .number(value)
    }

    private mutating func readIdentifier(from start: Int) throws(ExpressionError) -> ExpressionTokenKind {
        while index < end, !endsWord(at: index) { index += 1 }
        let lexeme = text(start, index)
        if previous != .dot {
            switch lexeme {
            case "true": return .trueLiteral
            case "false": return .falseLiteral
            case "null": return .nullLiteral
            case "NaN": return .number(.nan)
            case "Infinity": return .number(.infinity)
            default: break
            }
        }
        guard Self.isLegalIdentifier(bytes[start..<index]) else {
            throw symbolError(start, hint: Self.hint(forIllegal: lexeme))
        }
        return .identifier(lexeme)
    }

    private func symbolError(_ start: Int, hint: String?) -> ExpressionError {
        ExpressionError(
            message: "unexpected symbol '\(text(start, index))' at position \(start + 1)",
            offset: start, source: source, hint: hint)
    }

    static func isLegalIdentifier(_ lexeme: ArraySlice<UInt8>) -> Bool {
        guard let first = lexeme.first else { return false }
        func isLetter(_ byte: UInt8) -> Bool {
            (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
                || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z")) || byte == UInt8(ascii: "_")
        }
        guard isLetter(first) else { return false }
        return lexeme.dropFirst().allSatisfy { byte in
            isLetter(byte) || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || byte == UInt8(ascii: "-")
        }
    }

    private static func hint(forIllegal lexeme: String) -> String {
        if lexeme.hasPrefix("\"") { return "string literals use single quotes, e.g. 'text'" }
        if lexeme.hasPrefix("${{") || lexeme.hasPrefix("}}") {
            return "'${{' and '}}' delimit an expression in a template and cannot appear inside one"
        }
        if lexeme.hasPrefix("'") { return "a string literal cannot be directly followed by other characters" }
        if lexeme.contains("*") { return "'*' is only allowed as an object filter, as in 'a.*.b' or 'a[*]'" }
        if lexeme.hasPrefix("{") { return "'{' means nothing in an expression: write it inside a string ('{0}' in format), or outside ${{ }}" }
        return "an expression holds contexts (github.sha), literals ('text', 1, true), operators and functions; docs/expressions.md"
    }
}
