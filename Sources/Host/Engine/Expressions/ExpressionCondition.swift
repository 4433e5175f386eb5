import Foundation

extension Expression {
    /// Parses an `if:` condition. GitHub accepts a bare expression (`github.ref == 'x'`)
    /// or one wrapped in `${{ }}` alone; both parse here.
    ///
    /// Text mixing `${{ }}` with other characters (`${{ a }} && b`) is, as on GitHub,
    /// a string template: it becomes `format('{0} && b', a)`, a string that is
    /// truthy whenever non-empty. So is `${{ }}` with white space around it (the final line
    /// break of a `|` or `>` block, spaces inside quotes): GitHub's parser does not trim it, and
    /// `if: |` over `${{ false }}` runs (audit 52: it was evaluated here, and skipped;
    /// `stringCondition` lets validation warn). Error offsets are relative to `text`, except
    /// for the wrapped form whose expression (and offsets) are the text inside `${{ }}`.
    public static func parseCondition(_ text: String) throws(ExpressionError) -> Expression {
        let bytes = Array(text.utf8)
        guard text.contains("${{") else { return try parse(text) }
        let pieces = try TemplateScanner.scan(text, bytes)
        var expressionRanges: [Range<Int>] = []
        var onlyWhitespaceLiterals = true
        for piece in pieces {
            switch piece {
            case .literal(let range):
                if !bytes[range].allSatisfy(ExpressionLexer.isSpace) { onlyWhitespaceLiterals = false }
            case .expression(let range, _):
                expressionRanges.append(range)
            }
        }
        if onlyWhitespaceLiterals, pieces.count == 1, expressionRanges.count == 1, let inner = expressionRanges.first {
            let source = String(decoding: bytes[inner], as: UTF8.self)
            do {
                return try parse(source)
            } catch {
                throw error.embedded(in: text, at: inner.lowerBound)
            }
        }
        // Mixed template: format('<literal with {N} placeholders>', expr0, expr1, ...).
        var formatString = ""
        var arguments: [ExpressionNode] = []
        for piece in pieces {
            switch piece {
            case .literal(let range):
                let literal = String(decoding: bytes[range], as: UTF8.self)
                formatString += literal.replacingOccurrences(of: "{", with: "{{").replacingOccurrences(of: "}", with: "}}")
            case .expression(let range, _):
                formatString += "{\(arguments.count)}"
                arguments.append(try ExpressionParser.parse(source: text, bytes: bytes, range: range))
            }
        }
        let root = ExpressionNode.call(.format, [.literal(.string(formatString), offset: 0)] + arguments, offset: 0)
        return Expression(source: text, root: root)
    }

    /// How a condition with `${{ }}` in it is a string on GitHub (and here), so always true
    /// whatever its expressions give.
    public enum StringCondition: Equatable {
        /// One `${{ }}` with only white space around it.
        case padded
        /// Text beside its `${{ }}` (`${{ a }} && ${{ b }}`).
        case textBeside
    }

    /// Whether the condition `text` is a string (`StringCondition`), or nil when it is an
    /// expression (one `${{ }}` alone, or none).
    public static func stringCondition(_ text: String) -> StringCondition? {
        let bytes = Array(text.utf8)
        guard text.contains("${{"), let pieces = try? TemplateScanner.scan(text, bytes), pieces.count > 1 else { return nil }
        var expressions = 0
        var onlyWhitespace = true
        for piece in pieces {
            switch piece {
            case .literal(let range): if !bytes[range].allSatisfy(ExpressionLexer.isSpace) { onlyWhitespace = false }
            case .expression: expressions += 1
            }
        }
        return onlyWhitespace && expressions == 1 ? .padded : .textBeside
    }
}
