import Foundation

/// A syntax or evaluation error in an expression or template.
///
/// `offset` is the 0-based UTF-8 offset within `source` where the problem is
/// (always within `0...source.utf8.count`; the end offset means "at the end").
/// Positions quoted inside `message` are 1-based (`offset + 1`), as GitHub prints them.
public struct ExpressionError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, e.g. `unexpected token ')' at position 7`.
    public let message: String
    /// 0-based UTF-8 offset within `source`.
    public let offset: Int
    /// The text the offset refers to (an expression, a template or JSON text).
    public let source: String
    /// An optional suggestion, e.g. `did you mean 'format'?`.
    public let hint: String?

    /// Creates an error; the offset is clamped into `0...source.utf8.count`.
    public init(message: String, offset: Int, source: String, hint: String? = nil) {
        self.message = message
        self.offset = min(max(offset, 0), source.utf8.count)
        self.source = source
        self.hint = hint
    }

    /// The message followed by the hint, if any.
    public var description: String {
        guard let hint else { return message }
        return "\(message) (hint: \(hint))"
    }

    /// A multi-line rendering: the message, the offending source line, a caret
    /// under the problem, and the hint.
    public var diagnostic: String {
        let bytes = Array(source.utf8)
        let clamped = min(offset, bytes.count)
        var lineStart = clamped
        while lineStart > 0, bytes[lineStart - 1] != 0x0A { lineStart -= 1 }
        var lineEnd = clamped
        while lineEnd < bytes.count, bytes[lineEnd] != 0x0A { lineEnd += 1 }
        let line = String(decoding: bytes[lineStart..<lineEnd], as: UTF8.self)
        let prefix = String(decoding: bytes[lineStart..<clamped], as: UTF8.self)
        var text = message + "\n  " + line + "\n  " + String(repeating: " ", count: prefix.count) + "^"
        if let hint { text += "\nhint: " + hint }
        return text
    }

    /// The same error re-expressed relative to an enclosing text that embeds
    /// `source` at UTF-8 offset `base`.
    func embedded(in enclosing: String, at base: Int) -> ExpressionError {
        ExpressionError(message: message, offset: base + offset, source: enclosing, hint: hint)
    }
}
