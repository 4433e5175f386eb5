@testable import NixActionsEngine

/// Shared contexts and helpers for the expression tests.
enum ExprFixtures {
    static let contexts: [String: ExpressionValue] = [
        "github": [
            "event_name": "push",
            "ref": "refs/heads/main",
            "event": [
                "number": 42,
                "commits": [
                    ["message": "one", "author": ["name": "A"]],
                    ["message": "two", "author": ["name": "B"]],
                ],
                "labels": [["name": "bug"], ["name": "CI"]],
            ],
        ],
        "env": ["NAME": "World", "EMPTY": "", "COUNT": "3", "FMT": "{1}", "KEY": "os", "JSON": "{\"a\": [1, 2]}"],
        "matrix": ["os": "ubuntu-latest", "node": 18],
        "needs": [
            "build": ["result": "success", "outputs": ["version": "1.2.3"]],
            "test": ["result": "failure", "outputs": [:]],
        ],
        "steps": ["x": ["outputs": ["y": "why"], "outcome": "success"]],
        "nums": [1, 2, 3],
        "inputs": ["name": "n", "flag": true],
    ]

    static func context(status: ExpressionStatus = .ok) -> DictionaryExpressionContext {
        DictionaryExpressionContext(contexts, status: status) { patterns throws(ExpressionError) in
            "hash(" + patterns.joined(separator: "|") + ")"
        }
    }

    /// Parses and evaluates `source` against the fixture contexts.
    static func eval(_ source: String, status: ExpressionStatus = .ok) throws(ExpressionError) -> ExpressionValue {
        try Expression.parse(source).evaluate(context(status: status))
    }

    /// The parse error for `source`, or nil when it parses.
    static func parseError(_ source: String) -> ExpressionError? {
        do {
            _ = try Expression.parse(source)
            return nil
        } catch {
            return error
        }
    }

    /// The evaluation error for `source` (which must parse), or nil when it evaluates.
    static func evalError(_ source: String) -> ExpressionError? {
        do {
            _ = try eval(source)
            return nil
        } catch {
            return error
        }
    }

    /// The template error for `text`, or nil when it parses.
    static func templateError(_ text: String) -> ExpressionError? {
        do {
            _ = try Template.parse(text)
            return nil
        } catch {
            return error
        }
    }
}
