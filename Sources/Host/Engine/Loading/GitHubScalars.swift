import Foundation
import Yams

/// Plain YAML scalars as GitHub's workflow parser turns them into text: it reads a workflow with
/// YAML 1.2's core schema, so a plain `1.20`, `True` or `0x10` is a number or a boolean, and a
/// value that must be text (an `env` value, a `with` input) is that number or boolean written
/// back: `1.2`, `true`, `16` (the runner's `NumberToken`, 15 significant digits). The famous case:
/// `python-version: 3.10` is `3.1` on GitHub. Quoted scalars, and plain ones that are text in the
/// core schema (`1_000`, `yes`, `1.2.3`), stay as written.
enum GitHubScalars {
    /// A plain scalar that is null in YAML 1.2's core schema (GitHub's `MatchNull`): empty, `~`,
    /// `null`, `Null`, `NULL`.
    static func isNull(_ text: String) -> Bool {
        switch text {
        case "", "~", "null", "Null", "NULL": return true
        default: return false
        }
    }

    /// The text GitHub makes of a plain scalar, when it differs from `text`; nil otherwise.
    static func text(ofPlain text: String) -> String? {
        let converted: String
        switch text {
        case "true", "True", "TRUE": converted = "true"
        case "false", "False", "FALSE": converted = "false"
        default:
            guard let number = number(text) else { return nil }
            converted = format(number)
        }
        return converted == text ? nil : converted
    }

    /// A core-schema number: decimal integer, `0o` octal, `0x` hex, a float with an optional
    /// exponent, `.inf`, `.nan` (in their three spellings); nil for anything else.
    static func number(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty else { return nil }
        func digits(_ slice: ArraySlice<UInt8>, _ allowed: (UInt8) -> Bool) -> Bool { !slice.isEmpty && slice.allSatisfy(allowed) }
        let isDecimal = { (b: UInt8) in b >= 0x30 && b <= 0x39 }
        if bytes.count > 2, bytes[0] == 0x30, bytes[1] == 0x78 {  // 0x
            let rest = bytes[2...]
            guard digits(rest, { isDecimal($0) || (0x61...0x66).contains($0) || (0x41...0x46).contains($0) }) else { return nil }
            return UInt64(String(decoding: rest, as: UTF8.self), radix: 16).map { Double($0) }
        }
        if bytes.count > 2, bytes[0] == 0x30, bytes[1] == 0x6F {  // 0o
            let rest = bytes[2...]
            guard digits(rest, { (0x30...0x37).contains($0) }) else { return nil }
            return UInt64(String(decoding: rest, as: UTF8.self), radix: 8).map { Double($0) }
        }
        switch text {
        case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF": return .infinity
        case "-.inf", "-.Inf", "-.INF": return -.infinity
        case ".nan", ".NaN", ".NAN": return .nan
        default: break
        }
        // [-+]? ( \.[0-9]+ | [0-9]+ ( \.[0-9]* )? ) ( [eE] [-+]? [0-9]+ )?
        var index = 0
        if bytes[index] == 0x2B || bytes[index] == 0x2D { index += 1 }
        var integral = 0, fraction = 0, sawDot = false
        while index < bytes.count, isDecimal(bytes[index]) { integral += 1; index += 1 }
        if index < bytes.count, bytes[index] == 0x2E {
            sawDot = true
            index += 1
            while index < bytes.count, isDecimal(bytes[index]) { fraction += 1; index += 1 }
        }
        guard integral > 0 || (sawDot && fraction > 0) else { return nil }
        if index < bytes.count, bytes[index] == 0x65 || bytes[index] == 0x45 {
            index += 1
            if index < bytes.count, bytes[index] == 0x2B || bytes[index] == 0x2D { index += 1 }
            var exponent = 0
            while index < bytes.count, isDecimal(bytes[index]) { exponent += 1; index += 1 }
            guard exponent > 0 else { return nil }
        }
        guard index == bytes.count else { return nil }
        return Double(text.hasPrefix("+") ? String(text.dropFirst()) : text)
    }

    /// A number as the runner writes it: 15 significant digits (`G15`): `1.2`, `16`, `1E+21`,
    /// `Infinity`, `NaN`.
    static func format(_ value: Double) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-Infinity" : "Infinity" }
        // .NET Core 3.0 and later write negative zero as "-0" (audit 58 F3: an env's `-0` was "0").
        if value == 0 { return value.sign == .minus ? "-0" : "0" }
        var text = String(format: "%.15G", value)
        // C writes at least two exponent digits, as .NET's G format does ("1E+21", "1E-05").
        if let e = text.firstIndex(of: "E") {
            let mantissa = text[..<e], exponent = text[text.index(after: e)...]
            text = String(mantissa) + "E" + String(exponent)
        }
        return text
    }
}

extension NodeReader {
    /// `node` as GitHub reads a value that must be text (`env`, `with`): a plain number or
    /// boolean written back as GitHub writes it, with a warning where that changes the text.
    mutating func gitHubText(_ node: Node, what: String, context: String?) -> Node {
        guard case .scalar(let scalar) = node, scalar.style == .plain, !scalar.string.containsBytes("${{"),
              let converted = GitHubScalars.text(ofPlain: scalar.string)
        else { return node }
        diagnostics.warning(
            "\(what): GitHub reads \(scalar.string) as \(converted == "true" || converted == "false" ? "the boolean" : "the number") \(converted), "
                + "so the value is '\(converted)'", at: location(node), context: context,
            hint: "quote it ('\(scalar.string)') to keep the text as written")
        return .scalar(Node.Scalar(converted, scalar.tag, .singleQuoted, scalar.mark))
    }
}
