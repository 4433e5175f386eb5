import Foundation

/// A string that may contain `${{ expr }}` segments, e.g. a `run:` script or an env value.
public struct Template: Sendable, Hashable {
    /// A piece of a template.
    public enum Segment: Sendable, Hashable {
        /// Text copied as is.
        case literal(String)
        /// An expression; `offset` is the UTF-8 offset of its `${{` in the template.
        case expression(Expression, offset: Int)
    }

    /// The full template text; error offsets are relative to it.
    public let text: String
    /// Literal and expression segments in order.
    public let segments: [Segment]

    /// Parses a template. Offsets in errors are relative to `text`; an unclosed
    /// `${{` and an empty `${{ }}` are errors. Inside an expression, `}}` within a
    /// single-quoted string does not close it.
    public static func parse(_ text: String) throws(ExpressionError) -> Template {
        let bytes = Array(text.utf8)
        var segments: [Segment] = []
        for piece in try TemplateScanner.scan(text, bytes) {
            switch piece {
            case .literal(let range):
                segments.append(.literal(String(decoding: bytes[range], as: UTF8.self)))
            case .expression(let inner, let opening):
                let source = String(decoding: bytes[inner], as: UTF8.self)
                do {
                    segments.append(.expression(try Expression.parse(source), offset: opening))
                } catch {
                    throw error.embedded(in: text, at: inner.lowerBound)
                }
            }
        }
        return Template(text: text, segments: segments)
    }

    /// The length (UTF-16 code units) of the one expression GitHub's runner makes of a text with
    /// `${{ }}` in it (`TemplateReader.ParseScalar`: `format('TEXT', e1, e2, …)`, the text's
    /// quotes and braces doubled, each expression a `{N}`), which its 21,000 limit applies to; 0
    /// for a literal or a template that is exactly one expression (checked on its own).
    public var gitHubFormatLength: Int {
        if isLiteral || (segments.count == 1) { return 0 }
        var length = "format('".utf16.count + "')".utf16.count
        var index = 0
        for segment in segments {
            switch segment {
            case .literal(let literal):
                for unit in literal.utf16 {
                    length += unit == 0x27 || unit == 0x7B || unit == 0x7D ? 2 : 1  // ' { }
                }
            case .expression(let expression, _):
                length += "{\(index)}".utf16.count + ", ".utf16.count
                    + expression.source.trimmingCharacters(in: .whitespacesAndNewlines).utf16.count
                index += 1
            }
        }
        return length
    }

    /// True when the template has no `${{ }}` segment.
    public var isLiteral: Bool {
        !segments.contains { if case .expression = $0 { return true } else { return false } }
    }

    /// Every context access of every segment, with offsets relative to `text`.
    public var references: [ContextReference] {
        var result: [ContextReference] = []
        for case .expression(let expression, let offset) in segments {
            for reference in expression.references {
                result.append(ContextReference(root: reference.root, path: reference.path,
                                               isComplete: reference.isComplete, offset: offset + 3 + reference.offset))
            }
        }
        return result
    }

    /// Evaluates every expression and concatenates the segments, interpolating each value's
    /// text as GitHub's runner does (`gitHubText`: an array is `Array`, an object `Object`).
    /// A template that is exactly one expression (nothing around it) giving an array or object is
    /// an error, as on GitHub ("Expected a string"): a text is wanted here. Errors are relative
    /// to `text`.
    public func render(_ context: some ExpressionContext) throws(ExpressionError) -> String {
        if segments.count == 1, case .expression(let expression, let offset) = segments[0] {
            let value = try evaluate(expression, at: offset, context)
            switch value {
            case .array, .object:
                throw ExpressionError(
                    message: "the expression gave an \(value.kindName), where a text is expected (GitHub fails it: 'Expected a string')",
                    offset: offset, source: text, hint: "write toJSON(…) for its JSON")
            default: return value.displayString
            }
        }
        var output = ""
        var given = 0
        for segment in segments {
            switch segment {
            case .literal(let literal):
                output += literal
            case .expression(let expression, let offset):
                let piece = try evaluate(expression, at: offset, context).gitHubText
                try count(piece, at: offset, into: &given)
                output += piece
            }
        }
        return output
    }

    /// Adds what one expression gave to what the text's expressions gave so far: over
    /// `ExpressionLimits.maxTemplateBytes` in all, the text is not built (audit 66 hardening H1).
    private func count(_ piece: String, at offset: Int, into given: inout Int) throws(ExpressionError) {
        given += piece.utf8.count
        guard given > ExpressionLimits.maxTemplateBytes else { return }
        throw ExpressionError(
            message: "the expressions of this text give more than \(ExpressionLimits.maxTemplateBytes) bytes in all (10 MiB): \(given) bytes up to this one",
            offset: offset, source: text, hint: ExpressionLimits.hint)
    }

    /// The template rendered with each literal segment replaced by `separator`: what its
    /// expressions gave, and nothing the workflow's author wrote (a check of what a value brought
    /// into a text, such as a secret in a step's `shell:`, looks at this).
    public func renderExpressions(_ context: some ExpressionContext, literalsAs separator: String) throws(ExpressionError) -> String {
        var output = ""
        var given = 0
        for segment in segments {
            switch segment {
            case .literal: output += separator
            case .expression(let expression, let offset):
                let piece = try evaluate(expression, at: offset, context).gitHubText
                try count(piece, at: offset, into: &given)
                output += piece
            }
        }
        return output
    }

    /// If the whole template is exactly one `${{ expr }}`, evaluates to the value itself (for
    /// `continue-on-error`, `strategy.matrix: ${{ fromJSON(...) }}`); otherwise renders to a
    /// string. White space around it makes it a string, as GitHub's parser does not trim (a `|`
    /// block's final line break: `continue-on-error: |` over `${{ true }}` is the text
    /// "true\n"; audit 52).
    public func evaluateValue(_ context: some ExpressionContext) throws(ExpressionError) -> ExpressionValue {
        if let (expression, offset) = singleExpression {
            return try evaluate(expression, at: offset, context)
        }
        return .string(try render(context))
    }

    /// The expression when it is the template's only segment.
    var singleExpression: (Expression, Int)? {
        guard segments.count == 1, case .expression(let expression, let offset) = segments[0] else { return nil }
        return (expression, offset)
    }

    private func evaluate(_ expression: Expression, at offset: Int, _ context: some ExpressionContext) throws(ExpressionError) -> ExpressionValue {
        do {
            return try expression.evaluate(context)
        } catch {
            throw error.embedded(in: text, at: offset + 3)
        }
    }
}

/// Splits template text into literal ranges and `${{ }}` inner ranges.
enum TemplateScanner {
    enum Piece {
        case literal(Range<Int>)
        /// The range between `${{` and `}}`, and the offset of `${{`.
        case expression(Range<Int>, opening: Int)
    }

    static func scan(_ text: String, _ bytes: [UInt8]) throws(ExpressionError) -> [Piece] {
        var pieces: [Piece] = []
        var literalStart = 0
        var index = 0
        let dollar = UInt8(ascii: "$"), open = UInt8(ascii: "{"), close = UInt8(ascii: "}"), quote = UInt8(ascii: "'")
        while index + 2 < bytes.count {
            guard bytes[index] == dollar, bytes[index + 1] == open, bytes[index + 2] == open else {
                index += 1
                continue
            }
            let innerStart = index + 3
            var cursor = innerStart
            var inString = false
            var innerEnd: Int?
            while cursor < bytes.count {
                let byte = bytes[cursor]
                if byte == quote {
                    inString.toggle()
                } else if !inString, byte == close, cursor + 1 < bytes.count, bytes[cursor + 1] == close {
                    innerEnd = cursor
                    break
                }
                cursor += 1
            }
            guard let innerEnd else {
                throw ExpressionError(
                    message: "unclosed '${{' at position \(index + 1): expected '}}'", offset: index, source: text,
                    hint: inString ? "a string literal inside the expression is not terminated"
                                   : "close the expression with '}}'")
            }
            if index > literalStart { pieces.append(.literal(literalStart..<index)) }
            pieces.append(.expression(innerStart..<innerEnd, opening: index))
            index = innerEnd + 2
            literalStart = index
        }
        if literalStart < bytes.count { pieces.append(.literal(literalStart..<bytes.count)) }
        return pieces
    }
}
