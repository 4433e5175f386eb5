import Foundation

/// Implementations of the value-level built-in functions. Problems are returned
/// as messages; the evaluator turns them into errors at the call site.
enum ExpressionBuiltins {
    /// `contains(search, item)`: case-insensitive substring for primitives,
    /// loose-equality membership for arrays, false otherwise.
    static func contains(_ search: ExpressionValue, _ item: ExpressionValue) -> ExpressionValue {
        switch search {
        case .array(let elements):
            return .bool(elements.contains { ExpressionComparison.equals(item, $0) })
        case .object:
            return .bool(false)
        default:
            guard item.isPrimitive else { return .bool(false) }
            return .bool(ExpressionComparison.containsIgnoringCase(search.gitHubText, item.gitHubText))
        }
    }

    /// `startsWith(searchString, searchValue)`, case-insensitive; false for non-primitives.
    static func startsWith(_ text: ExpressionValue, _ prefix: ExpressionValue) -> ExpressionValue {
        guard text.isPrimitive, prefix.isPrimitive else { return .bool(false) }
        return .bool(ExpressionComparison.hasPrefixIgnoringCase(text.gitHubText, prefix.gitHubText))
    }

    /// `endsWith(searchString, searchValue)`, case-insensitive; false for non-primitives.
    static func endsWith(_ text: ExpressionValue, _ suffix: ExpressionValue) -> ExpressionValue {
        guard text.isPrimitive, suffix.isPrimitive else { return .bool(false) }
        return .bool(ExpressionComparison.hasSuffixIgnoringCase(text.gitHubText, suffix.gitHubText))
    }

    /// `join(array, separator = ',')`: a primitive is returned as a string.
    /// A result over `ExpressionLimits.maxStringBytes` is measured before it is built (audit 66
    /// hardening H1: a 101 MB join was made, then refused).
    static func join(_ arguments: [ExpressionValue]) -> Result<ExpressionValue, Problem> {
        guard let first = arguments.first else { return .success(.string("")) }
        switch first {
        case .array(let elements):
            var separator = ","
            if arguments.count > 1, arguments[1].isPrimitive { separator = arguments[1].displayString }
            let texts = elements.map(\.gitHubText)
            let size = texts.reduce(0) { $0 + $1.utf8.count } + max(texts.count - 1, 0) * separator.utf8.count
            if size > ExpressionLimits.maxStringBytes { return .failure(Problem(message: ExpressionLimits.tooLarge("join", size), tooLarge: true)) }
            return .success(.string(texts.joined(separator: separator)))
        case .object:
            return .success(.string(""))
        default:
            return .success(.string(first.displayString))
        }
    }

    /// `case(pred1, val1, ..., default)`: the value after the first true predicate.
    static func caseOf(_ arguments: [ExpressionValue]) -> Result<ExpressionValue, Problem> {
        var position = 0
        while position + 1 < arguments.count {
            guard case .bool(let flag) = arguments[position] else {
                let kind = arguments[position].kindName
                return .failure(Problem(
                    message: "case: predicate \(position / 2 + 1) must evaluate to a boolean, got \(kind)"))
            }
            if flag { return .success(arguments[position + 1]) }
            position += 2
        }
        return .success(arguments.last ?? .null)
    }

    /// A problem found while applying a built-in.
    struct Problem: Error, Sendable {
        let message: String
        /// The result would be over `ExpressionLimits.maxStringBytes`: said as any such result is.
        var tooLarge = false
    }

    /// `format(template, args...)`: `{N}` (or `{N:}`) is replaced by argument N, `{{` and `}}`
    /// are literal braces, anything else with a brace is an error, format specifiers
    /// (`{0:x}`) too, as in GitHub's runner (`Format.cs`).
    /// The argument indexes `template` names, for evaluating only those (GitHub's runner
    /// evaluates a `format` argument only when the template uses it).
    static func formatReferences(_ template: String) -> Set<Int> {
        var found: Set<Int> = []
        let bytes = Array(template.utf8)
        var index = 0
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "{") {
                if index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "{") { index += 2; continue }
                var cursor = index + 1
                var argument = 0
                while cursor < bytes.count, bytes[cursor] >= UInt8(ascii: "0"), bytes[cursor] <= UInt8(ascii: "9") {
                    argument = min(argument * 10 + Int(bytes[cursor] - UInt8(ascii: "0")), 1_000_000)
                    cursor += 1
                }
                if cursor > index + 1 { found.insert(argument) }
                index = cursor
            } else {
                index += 1
            }
        }
        return found
    }

    static func format(_ template: String, _ arguments: [ExpressionValue]) -> Result<String, Problem> {
        let bytes = Array(template.utf8)
        // Each argument's text once; the result's size from them before anything is built (audit
        // 66 hardening H1: a 5 GB result was built, then refused).
        var texts: [[UInt8]?] = Array(repeating: nil, count: arguments.count)
        func text(_ index: Int) -> [UInt8] {
            if let known = texts[index] { return known }
            let made = Array(arguments[index].gitHubText.utf8)
            texts[index] = made
            return made
        }
        // One pass checks the template and measures the result; a second writes it.
        var size = 0
        if case .failure(let problem) = build(bytes, arguments.count, text, write: { size += $0.count }) { return .failure(problem) }
        var output: [UInt8] = []
        if size > ExpressionLimits.maxStringBytes { return .failure(Problem(message: ExpressionLimits.tooLarge("format", size), tooLarge: true)) }
        output.reserveCapacity(size)
        _ = build(bytes, arguments.count, text) { output.append(contentsOf: $0) }
        return .success(String(decoding: output, as: UTF8.self))
    }

    /// Walks the template: the problem in it, or each piece of the result to `write`.
    private static func build(_ bytes: [UInt8], _ count: Int, _ text: (Int) -> [UInt8],
                              write: (ArraySlice<UInt8>) -> Void) -> Result<Void, Problem> {
        let arguments = count
        var index = 0
        var literalStart = 0
        func flush(_ end: Int) { if end > literalStart { write(bytes[literalStart..<end]) } }
        let open = UInt8(ascii: "{"), close = UInt8(ascii: "}")
        while index < bytes.count {
            let byte = bytes[index]
            if byte == open {
                if index + 1 < bytes.count, bytes[index + 1] == open {
                    flush(index + 1); index += 2; literalStart = index; continue
                }
                var cursor = index + 1
                var argument = 0
                while cursor < bytes.count, bytes[cursor] >= UInt8(ascii: "0"), bytes[cursor] <= UInt8(ascii: "9") {
                    argument = min(argument * 10 + Int(bytes[cursor] - UInt8(ascii: "0")), 1_000_000)
                    cursor += 1
                }
                guard cursor > index + 1 else {
                    return .failure(Problem(message:
                        "invalid format string: '{' at position \(index + 1) must be followed by an argument index or another '{'"))
                }
                guard cursor < bytes.count, bytes[cursor] == close || bytes[cursor] == UInt8(ascii: ":") else {
                    return .failure(Problem(message: cursor < bytes.count
                        ? "invalid format string: '{\(argument)' at position \(index + 1) is followed by '\(Character(UnicodeScalar(bytes[cursor])))', not '}'"
                        : "invalid format string: '{' at position \(index + 1) is not closed by '}'"))
                }
                guard let closing = bytes[cursor...].firstIndex(of: close) else {
                    return .failure(Problem(message:
                        "invalid format string: '{' at position \(index + 1) is not closed by '}'"))
                }
                if closing > cursor + 1 {
                    let specifiers = String(decoding: bytes[(cursor + 1)..<closing], as: UTF8.self)
                    return .failure(Problem(message:
                        "invalid format specifiers '\(specifiers)' for argument {\(argument)}: GitHub's format takes none (write '{\(argument)}')"))
                }
                guard argument < arguments else {
                    let supplied = arguments == 1 ? "1 argument was" : "\(arguments) arguments were"
                    // The index as written (audit 55 L2: a long one was shown as its clamped value).
                    let written = String(decoding: bytes[(index + 1)..<cursor], as: UTF8.self)
                    return .failure(Problem(message:
                        "format string references argument {\(written.count > 40 ? written.prefix(40) + "…" : written)} but only \(supplied) supplied"))
                }
                flush(index)
                write(text(argument)[...])
                index = closing + 1
                literalStart = index
            } else if byte == close {
                guard index + 1 < bytes.count, bytes[index + 1] == close else {
                    return .failure(Problem(message:
                        "invalid format string: unbalanced '}' at position \(index + 1) (write '}}' for a literal brace)"))
                }
                flush(index + 1); index += 2; literalStart = index
            } else {
                index += 1
            }
        }
        flush(bytes.count)
        return .success(())
    }
}
