import Foundation

/// Number parsing and printing with GitHub Actions semantics.
enum ExpressionNumber {
    /// 2^53: integers up to this magnitude are printed exactly.
    static let maxExactInteger: Double = 9_007_199_254_740_992

    /// Parses text as GitHub's runner does (`ExpressionUtility.ParseNumber`), for string
    /// coercion and number literals alike: surrounding white space is ignored, empty text is 0,
    /// a decimal number (signs, fractions, exponents), `Infinity`; `0x` and `0o` (lower case)
    /// give a 32-bit integer (`0xFFFFFFFF` is -1, more than 32 bits is NaN); anything else is NaN
    /// (`0X10`, `0b101`).
    static func parse(_ text: String) -> Double {
        let scalars = text.unicodeScalars
        var start = scalars.startIndex
        var end = scalars.endIndex
        while start < end, isSpace(scalars[start]) { start = scalars.index(after: start) }
        while end > start, isSpace(scalars[scalars.index(before: end)]) { end = scalars.index(before: end) }
        let trimmed = Array(String(scalars[start..<end]).utf8)
        if trimmed.isEmpty { return 0 }
        // .NET's double.TryParse compares the infinity symbol without case (audit 52: 'infinity'
        // and '-INFINITY' are numbers there).
        if trimmed.count <= 9 {
            switch String(decoding: trimmed, as: UTF8.self).lowercased() {
            case "infinity", "+infinity": return .infinity
            case "-infinity": return -.infinity
            default: break
            }
        }
        if trimmed.count > 2, trimmed[0] == UInt8(ascii: "0") {
            switch trimmed[1] {
            case UInt8(ascii: "x"): return parseInt32(trimmed.dropFirst(2), radix: 16)
            case UInt8(ascii: "o"): return parseInt32(trimmed.dropFirst(2), radix: 8)
            default: break
            }
        }
        return parseDecimal(trimmed)
    }

    /// .NET's `String.Trim()`: Unicode white space (not U+FEFF, which JavaScript would trim).
    private static func isSpace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.properties.isWhitespace
    }

    /// Hex or octal digits as .NET reads them into an `Int32` (`Int32.TryParse` with
    /// `AllowHexSpecifier`, `Convert.ToInt32(text, 8)`): the 32 bits as two's complement, NaN
    /// beyond 32 bits or for any other character.
    private static func parseInt32(_ digits: ArraySlice<UInt8>, radix: Int) -> Double {
        var value: UInt64 = 0
        for byte in digits {
            guard let digit = hexDigitValue(byte), digit < radix else { return .nan }
            value = value * UInt64(radix) + UInt64(digit)
            if value > UInt64(UInt32.max) { return .nan }
        }
        return Double(Int32(bitPattern: UInt32(value)))
    }

    static func hexDigitValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte - UInt8(ascii: "a")) + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte - UInt8(ascii: "A")) + 10
        default: return nil
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// `[+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?`
    private static func parseDecimal(_ bytes: [UInt8]) -> Double {
        var index = 0
        var negative = false
        if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
            negative = bytes[index] == UInt8(ascii: "-")
            index += 1
        }
        var integer: [UInt8] = []
        while index < bytes.count, isDigit(bytes[index]) { integer.append(bytes[index]); index += 1 }
        var fraction: [UInt8] = []
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            while index < bytes.count, isDigit(bytes[index]) { fraction.append(bytes[index]); index += 1 }
        }
        if integer.isEmpty && fraction.isEmpty { return .nan }
        var exponent: [UInt8] = []
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                exponent.append(bytes[index])
                index += 1
            }
            var sawDigit = false
            while index < bytes.count, isDigit(bytes[index]) { exponent.append(bytes[index]); index += 1; sawDigit = true }
            if !sawDigit { return .nan }
        }
        if index != bytes.count { return .nan }
        var canonical = negative ? "-" : ""
        canonical += integer.isEmpty ? "0" : String(decoding: integer, as: UTF8.self)
        canonical += "." + (fraction.isEmpty ? "0" : String(decoding: fraction, as: UTF8.self))
        if !exponent.isEmpty { canonical += "e" + String(decoding: exponent, as: UTF8.self) }
        return Double(canonical) ?? .nan
    }

    /// Formats a number the way GitHub turns it into text: .NET's `ToString("G15")`
    /// (actions/runner, `ExpressionConstants.NumberFormat`): at most 15 significant digits,
    /// fixed-point when the decimal exponent is from -5 (exclusive) to 15 (exclusive), else
    /// scientific with `E`, a sign and at least two exponent digits (`1E+15`, `1.5E-07`).
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        // .NET Core 3.0 and later keep the sign of a negative zero (audit 52): `-0`.
        if value == 0 { return value.sign == .minus ? "-0" : "0" }
        // "%.14e" yields exactly 15 correctly rounded significant digits.
        let scientific = String(format: "%.14e", abs(value))
        let parts = scientific.split(separator: "e", maxSplits: 1)
        guard parts.count == 2, let exponent = Int(parts[1]) else { return String(value) }
        var digits = Array(parts[0].utf8.filter { $0 != UInt8(ascii: ".") })
        while digits.count > 1, digits.last == UInt8(ascii: "0") { digits.removeLast() }
        var text = value < 0 ? "-" : ""
        if exponent > -5 && exponent < 15 {
            if exponent < 0 {
                text += "0." + String(repeating: "0", count: -exponent - 1) + String(decoding: digits, as: UTF8.self)
            } else if digits.count <= exponent + 1 {
                text += String(decoding: digits, as: UTF8.self) + String(repeating: "0", count: exponent + 1 - digits.count)
            } else {
                text += String(decoding: digits.prefix(exponent + 1), as: UTF8.self)
                text += "." + String(decoding: digits.dropFirst(exponent + 1), as: UTF8.self)
            }
        } else {
            text += String(decoding: digits.prefix(1), as: UTF8.self)
            if digits.count > 1 { text += "." + String(decoding: digits.dropFirst(), as: UTF8.self) }
            let magnitude = String(abs(exponent))
            text += (exponent < 0 ? "E-" : "E+") + (magnitude.count < 2 ? "0" : "") + magnitude
        }
        return text
    }

    /// Formats a number for JSON output: integers up to 2^53 without a fraction, other finite
    /// numbers in shortest round-trip form, NaN/Infinity as strings. (GitHub's `toJSON` writes
    /// numbers as `format` does, 15 digits; this keeps every digit, since the same writer carries
    /// event payloads and outputs between jobs, where an id must survive a round trip.)
    static func json(_ value: Double) -> String {
        if value.isNaN { return "\"NaN\"" }
        if value.isInfinite { return value < 0 ? "\"-Infinity\"" : "\"Infinity\"" }
        // .NET Core 3.0 and later keep the sign of a negative zero (audit 52): `-0`.
        if value == 0 { return value.sign == .minus ? "-0" : "0" }
        if value == value.rounded(.towardZero), abs(value) <= maxExactInteger {
            return String(Int64(value))
        }
        return "\(value)"
    }
}
