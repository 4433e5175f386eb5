import Foundation

extension ExpressionJSONReader {
    /// Reads a JSON string starting at the opening quote.
    /// A string from its opening quote (`"`, or `'` when lenient: the same escapes, `\'` too).
    mutating func readString() throws(ExpressionError) -> String {
        let start = index
        let quote = bytes[index]
        index += 1
        var buffer: [UInt8] = []
        while true {
            guard index < bytes.count else {
                index = start
                throw jsonFailure("unterminated string")
            }
            let byte = bytes[index]
            if byte == quote { index += 1; break }
            if byte < 0x20 && !lenient { throw jsonFailure("control character in string") }
            if byte != UInt8(ascii: "\\") { buffer.append(byte); index += 1; continue }
            index += 1
            guard index < bytes.count else { throw jsonFailure("unterminated escape sequence") }
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""): buffer.append(UInt8(ascii: "\""))
            case UInt8(ascii: "'") where lenient: buffer.append(UInt8(ascii: "'"))
            case UInt8(ascii: "\\"): buffer.append(UInt8(ascii: "\\"))
            case UInt8(ascii: "/"): buffer.append(UInt8(ascii: "/"))
            case UInt8(ascii: "b"): buffer.append(0x08)
            case UInt8(ascii: "f"): buffer.append(0x0C)
            case UInt8(ascii: "n"): buffer.append(0x0A)
            case UInt8(ascii: "r"): buffer.append(0x0D)
            case UInt8(ascii: "t"): buffer.append(0x09)
            case UInt8(ascii: "u"):
                let scalar = try readUnicodeEscape()
                buffer.append(contentsOf: Array(String(Character(scalar)).utf8))
            default:
                index -= 1
                throw jsonFailure("invalid escape sequence")
            }
        }
        return String(decoding: buffer, as: UTF8.self)
    }

    /// Reads the hex digits after `\u`, combining surrogate pairs; a lone
    /// surrogate becomes U+FFFD.
    private mutating func readUnicodeEscape() throws(ExpressionError) -> Unicode.Scalar {
        let high = try readHex4()
        if (0xD800...0xDBFF).contains(high) {
            if index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") {
                let saved = index
                index += 2
                let low = try readHex4()
                if (0xDC00...0xDFFF).contains(low) {
                    let combined = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                    return Unicode.Scalar(UInt32(combined)) ?? "\u{FFFD}"
                }
                index = saved
            }
            return "\u{FFFD}"
        }
        return Unicode.Scalar(UInt32(high)) ?? "\u{FFFD}"
    }

    private mutating func readHex4() throws(ExpressionError) -> Int {
        var value = 0
        for _ in 0..<4 {
            guard index < bytes.count, let digit = ExpressionNumber.hexDigitValue(bytes[index]) else {
                throw jsonFailure("invalid \\u escape")
            }
            value = value * 16 + digit
            index += 1
        }
        return value
    }

    /// Reads a JSON number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    mutating func readNumber() throws(ExpressionError) -> Double {
        let start = index
        func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        if lenient, let value = readRadixNumber() { return try delimited(value) }
        let negative = index < bytes.count && bytes[index] == UInt8(ascii: "-")
        if negative { index += 1 }
        // Lenient, as Newtonsoft (double.TryParse): `.5`, `-.5` and `1.` are numbers (audit 52).
        let leadingDot = lenient && index + 1 < bytes.count && bytes[index] == UInt8(ascii: ".") && isDigit(bytes[index + 1])
        guard index < bytes.count, isDigit(bytes[index]) || leadingDot else {
            index = start
            throw jsonFailure("unexpected character")
        }
        if leadingDot {
            // The fraction below reads it.
        } else if bytes[index] == UInt8(ascii: "0") && !(lenient && negative) {
            index += 1
        } else {
            // (Lenient: after `-`, leading zeros are decimal, as Newtonsoft reads `-017`: -17.)
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            if !lenient {
                guard index < bytes.count, isDigit(bytes[index]) else { throw jsonFailure("expected a digit after '.'") }
            }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") { index += 1 }
            guard index < bytes.count, isDigit(bytes[index]) else { throw jsonFailure("expected a digit in exponent") }
            while index < bytes.count, isDigit(bytes[index]) { index += 1 }
        }
        var literal = String(decoding: bytes[start..<index], as: UTF8.self)
        if lenient {
            // Swift's Double wants digits around the point: `.5` → `0.5`, `1.` → `1.0`.
            literal = literal.replacingOccurrences(of: "-.", with: "-0.")
            if literal.hasPrefix(".") { literal = "0" + literal }
            if literal.hasSuffix(".") { literal += "0" }
            literal = literal.replacingOccurrences(of: ".e", with: ".0e").replacingOccurrences(of: ".E", with: ".0E")
        }
        guard var value = Double(literal) else {
            index = start
            throw jsonFailure("invalid number")
        }
        // Newtonsoft reads `-0` as the integer 0 (a `-0.0` stays a float): +0 (audit 65 expressions L2).
        if lenient, value == 0, !literal.contains(where: { $0 == "." || $0 == "e" || $0 == "E" }) { value = 0 }
        return lenient ? try delimited(value) : value
    }

    /// Lenient: a number must end where a value can (Newtonsoft fails `0x1G`, `08`, `1e5x`).
    private func delimited(_ value: Double) throws(ExpressionError) -> Double {
        guard index < bytes.count else { return value }
        switch bytes[index] {
        case 0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: "/"): return value
        default: throw jsonFailure("invalid number")
        }
    }

    /// Lenient: Newtonsoft's `0x1F` (hex) and `017` (octal, a leading zero), with an optional `-`.
    private mutating func readRadixNumber() -> Double? {
        // Only when the first character is `0` (Newtonsoft's nonBase10): `-017` is decimal, `-0x1F`
        // no number (audit 52).
        var cursor = index
        guard cursor + 1 < bytes.count, bytes[cursor] == UInt8(ascii: "0") else { return nil }
        let next = bytes[cursor + 1]
        let radix: Int
        if next == UInt8(ascii: "x") || next == UInt8(ascii: "X") {
            radix = 16
            cursor += 2
        } else if next >= UInt8(ascii: "0") && next <= UInt8(ascii: "7") {
            radix = 8
            cursor += 1
        } else {
            return nil
        }
        let digitsStart = cursor
        while cursor < bytes.count, Int(String(UnicodeScalar(bytes[cursor])), radix: radix) != nil { cursor += 1 }
        guard cursor > digitsStart, let magnitude = Int64(String(decoding: bytes[digitsStart..<cursor], as: UTF8.self), radix: radix) else {
            return nil
        }
        index = cursor
        return Double(magnitude)
    }

    func jsonFailure(_ message: String) -> ExpressionError {
        ExpressionError(message: "invalid JSON: \(message) at position \(index + 1)", offset: index, source: text)
    }
}
