import Foundation

extension Expression {
    /// The maximum nesting depth (parentheses, operators, index and property steps).
    public static let maxDepth = 50
    /// The maximum length of one expression in UTF-8 bytes (GitHub's limit).
    public static let maxLength = 21_000

    /// Parses the text inside `${{ }}`. Error offsets are relative to `source`.
    public static func parse(_ source: String) throws(ExpressionError) -> Expression {
        let bytes = Array(source.utf8)
        let root = try ExpressionParser.parse(source: source, bytes: bytes, range: 0..<bytes.count)
        return Expression(source: source, root: root)
    }
}

/// A recursive-descent parser. Precedence, lowest first: `||`, `&&`, `== !=`,
/// `< <= > >=`, `!`, then `[ ]`/`.` (only after a context, call or group).
struct ExpressionParser {
    private var lexer: ExpressionLexer
    private var current: ExpressionToken
    private var depth = 0
    private let source: String

    private init(source: String, bytes: [UInt8], range: Range<Int>) throws(ExpressionError) {
        self.source = source
        self.lexer = ExpressionLexer(source: source, bytes: bytes, range: range)
        self.current = try lexer.next()
    }

    /// Parses the UTF-8 `range` of `bytes` (the UTF-8 of `source`); offsets in
    /// nodes and errors are relative to the whole `source`.
    static func parse(source: String, bytes: [UInt8], range: Range<Int>) throws(ExpressionError) -> ExpressionNode {
        // GitHub's limit counts UTF-16 code units (.NET's String.Length), not bytes, of the
        // expression trimmed (TemplateReader.ParseExpression trims first; audit 52).
        if range.count > Expression.maxLength,
           case let length = String(decoding: bytes[range], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).utf16.count,
           length > Expression.maxLength {
            throw ExpressionError(
                message: "expression is too long: \(length) characters (UTF-16 code units), the limit is \(Expression.maxLength)",
                offset: range.lowerBound, source: source)
        }
        var parser = try ExpressionParser(source: source, bytes: bytes, range: range)
        if case .end = parser.current.kind {
            throw ExpressionError(message: "expected an expression", offset: parser.current.offset, source: source,
                                  hint: "write an expression between '${{' and '}}', e.g. ${{ github.sha }}, or remove them")
        }
        let root = try parser.expression()
        if case .end = parser.current.kind { return root }
        throw parser.unexpected(parser.current)
    }

    // MARK: - Token helpers

    private mutating func advance() throws(ExpressionError) {
        current = try lexer.next()
    }

    private func error(_ message: String, at offset: Int, hint: String? = nil) -> ExpressionError {
        ExpressionError(message: message, offset: offset, source: source, hint: hint)
    }

    private func unexpected(_ token: ExpressionToken) -> ExpressionError {
        switch token.kind {
        case .end:
            return error("unexpected end of expression", at: token.offset, hint: "an operand is missing")
        case .rightParen:
            return error("unexpected token ')' at position \(token.offset + 1)", at: token.offset,
                         hint: "there is no matching '('")
        case .rightBracket:
            return error("unexpected token ']' at position \(token.offset + 1)", at: token.offset,
                         hint: "there is no matching '['")
        case .star:
            return error("unexpected token '*' at position \(token.offset + 1)", at: token.offset,
                         hint: "'*' is only allowed as an object filter, as in 'a.*.b' or 'a[*]'")
        default:
            return error("unexpected token \(token.quoted) at position \(token.offset + 1)", at: token.offset)
        }
    }

    private mutating func enter() throws(ExpressionError) {
        depth += 1
        if depth > Expression.maxDepth {
            throw error("exceeded maximum expression depth of \(Expression.maxDepth)", at: current.offset,
                        hint: "simplify the expression or split it into several steps")
        }
    }

    private mutating func expectClose(_ open: ExpressionToken) throws(ExpressionError) {
        let isParen = open.kind == .leftParen
        let wanted: ExpressionTokenKind = isParen ? .rightParen : .rightBracket
        if current.kind == wanted { try advance(); return }
        var message = "expected '\(isParen ? ")" : "]")' to close '\(isParen ? "(" : "[")' opened at position \(open.offset + 1)"
        if current.kind != .end { message += ", found \(current.quoted)" }
        throw error(message, at: current.offset)
    }

    // MARK: - Grammar

    private mutating func expression() throws(ExpressionError) -> ExpressionNode {
        try enter()
        defer { depth -= 1 }
        return try logical(.or)
    }

    private mutating func logical(_ op: ExpressionLogicalOperator) throws(ExpressionError) -> ExpressionNode {
        let tokenKind: ExpressionTokenKind = op == .or ? .or : .and
        let first = op == .or ? try logical(.and) : try equality()
        guard current.kind == tokenKind else { return first }
        let offset = current.offset
        try enter()
        defer { depth -= 1 }
        var operands = [first]
        while current.kind == tokenKind {
            try advance()
            operands.append(op == .or ? try logical(.and) : try equality())
        }
        return .logical(op, operands, offset: offset)
    }

    private mutating func equality() throws(ExpressionError) -> ExpressionNode {
        var node = try comparison()
        var entered = 0
        defer { depth -= entered }
        while let op = Self.equalityOperator(current.kind) {
            let offset = current.offset
            try enter()
            entered += 1
            try advance()
            node = .binary(op, node, try comparison(), offset: offset)
        }
        return node
    }

    private mutating func comparison() throws(ExpressionError) -> ExpressionNode {
        var node = try unary()
        var entered = 0
        defer { depth -= entered }
        while let op = Self.relationalOperator(current.kind) {
            let offset = current.offset
            try enter()
            entered += 1
            try advance()
            node = .binary(op, node, try unary(), offset: offset)
        }
        return node
    }

    private static func equalityOperator(_ kind: ExpressionTokenKind) -> ExpressionBinaryOperator? {
        switch kind {
        case .equalEqual: return .equal
        case .bangEqual: return .notEqual
        default: return nil
        }
    }

    private static func relationalOperator(_ kind: ExpressionTokenKind) -> ExpressionBinaryOperator? {
        switch kind {
        case .less: return .less
        case .lessEqual: return .lessOrEqual
        case .greater: return .greater
        case .greaterEqual: return .greaterOrEqual
        default: return nil
        }
    }

    private mutating func unary() throws(ExpressionError) -> ExpressionNode {
        guard current.kind == .bang else { return try postfix() }
        let offset = current.offset
        try enter()
        defer { depth -= 1 }
        try advance()
        return .not(try unary(), offset: offset)
    }

    private mutating func postfix() throws(ExpressionError) -> ExpressionNode {
        var node = try primary()
        switch node {
        case .group, .call, .context, .pluginCall: break
        default: return node
        }
        var entered = 0
        defer { depth -= entered }
        while true {
            switch current.kind {
            case .leftBracket:
                let open = current
                try enter()
                entered += 1
                try advance()
                if current.kind == .star {
                    let offset = current.offset
                    try advance()
                    try expectClose(open)
                    node = .star(node, offset: offset)
                } else {
                    // The key is a child of the index, one level below it as in GitHub's tree
                    // (`ExpressionParser.CheckMaxDepth`): the bracket counted that level.
                    let key = try logical(.or)
                    try expectClose(open)
                    node = .index(node, key, offset: open.offset)
                }
            case .dot:
                try enter()
                entered += 1
                try advance()
                switch current.kind {
                case .identifier(let name):
                    // `plugin.function(…)`: a bare name, a dot, a name and an opening parenthesis.
                    if case .context(let namespace, let namespaceOffset) = node, peekIsLeftParen() {
                        try advance()
                        node = try pluginCall(namespace + "." + name, at: namespaceOffset)
                        continue
                    }
                    node = .property(node, name: name, offset: current.offset)
                case .star:
                    node = .star(node, offset: current.offset)
                default:
                    let found = current.kind == .end ? "" : ", found \(current.quoted)"
                    throw error("expected a property name or '*' after '.'\(found)", at: current.offset)
                }
                try advance()
            default:
                return node
            }
        }
    }

    private mutating func primary() throws(ExpressionError) -> ExpressionNode {
        let token = current
        let literal: ExpressionValue
        switch token.kind {
        case .nullLiteral: literal = .null
        case .trueLiteral: literal = .bool(true)
        case .falseLiteral: literal = .bool(false)
        case .number(let value): literal = .number(value)
        case .string(let value): literal = .string(value)
        case .identifier(let name):
            try advance()
            if current.kind == .leftParen { return try call(name, at: token) }
            return .context(name: name, offset: token.offset)
        case .leftParen:
            try advance()
            let inner = try expression()
            try expectClose(token)
            return .group(inner, offset: token.offset)
        default:
            throw unexpected(token)
        }
        try advance()
        return .literal(literal, offset: token.offset)
    }

    /// Whether the token after the current one is `(`.
    private func peekIsLeftParen() -> Bool {
        var lookahead = self
        guard (try? lookahead.advance()) != nil else { return false }
        return lookahead.current.kind == .leftParen
    }

    /// The arguments of `plugin.name(…)`, the current token being `(`. Whether the function exists
    /// is for the validator and the evaluator: plugins are not known when parsing.
    private mutating func pluginCall(_ name: String, at offset: Int) throws(ExpressionError) -> ExpressionNode {
        .pluginCall(name, try argumentList(of: name), offset: offset)
    }

    /// `( expression, … )` after a function's name, the current token being `(`.
    private mutating func argumentList(of name: String) throws(ExpressionError) -> [ExpressionNode] {
        let open = current
        try advance()
        var arguments: [ExpressionNode] = []
        if current.kind == .rightParen {
            try advance()
            return arguments
        }
        while true {
            arguments.append(try expression())
            if current.kind == .comma { try advance(); continue }
            if current.kind == .rightParen { try advance(); return arguments }
            if current.kind == .end {
                throw error("expected ')' to close '(' of '\(name)' opened at position \(open.offset + 1)", at: current.offset)
            }
            throw error("expected ',' or ')' after argument \(arguments.count) of '\(name)', found \(current.quoted)", at: current.offset)
        }
    }

    private mutating func call(_ name: String, at nameToken: ExpressionToken) throws(ExpressionError) -> ExpressionNode {
        guard let function = ExpressionFunction.named(name) else {
            throw error("unrecognized function: '\(name)'", at: nameToken.offset,
                        hint: ExpressionFunction.suggestion(for: name))
        }
        let arguments = try argumentList(of: function.name)
        if let problem = function.arityProblem(arguments.count) {
            throw error(problem, at: nameToken.offset, hint: "usage: \(function.signature)")
        }
        if function == .format, case .literal(.string(let template), let offset)? = arguments.first {
            let placeholders = Array(repeating: ExpressionValue.null, count: arguments.count - 1)
            if case .failure(let problem) = ExpressionBuiltins.format(template, placeholders) {
                throw error(problem.message, at: offset, hint: "usage: \(function.signature)")
            }
        }
        return .call(function, arguments, offset: nameToken.offset)
    }
}
