import Foundation

extension Expression {
    /// Evaluates the expression. Errors (unknown named values, bad `fromJSON`
    /// input, `format` problems, `hashFiles` failures) have offsets in `source`.
    public func evaluate(_ context: some ExpressionContext) throws(ExpressionError) -> ExpressionValue {
        let evaluator = ExpressionEvaluator(context: context, source: source)
        return try evaluator.evaluate(root).value
    }
}

/// Limits on what evaluating an expression may build.
public enum ExpressionLimits {
    /// Largest string a function call may return, built-in or plugin: 5 MiB. GitHub's runner stops
    /// a step field's expression at 10 MB counted in UTF-16 (`PipelineTemplateEvaluator.MaxResultSize`),
    /// about 5 million characters (audit 65 expressions M1: 1 MiB here failed what GitHub runs).
    public static let maxStringBytes = 5 << 20
    /// Most bytes the expressions of one text (a `run:`, a name, an env value) may give in all:
    /// each is at most `maxStringBytes`, and a text of many of them stops here (audit 66
    /// hardening H1: 200 legal 5 MB values built a 1 GB script).
    public static let maxTemplateBytes = 2 * maxStringBytes
    static let hint = "pass large data through files in the workspace rather than through expressions"

    /// The error of a function whose result would be `size` bytes.
    static func tooLarge(_ function: String, _ size: Int) -> String {
        "the result of \(function)() is \(size) bytes; an expression result can be at most \(maxStringBytes) bytes (5 MiB)"
    }
}

/// Well-known context names, used for did-you-mean hints.
enum ExpressionContextNames {
    static let all = ["github", "env", "vars", "secrets", "needs", "strategy", "matrix",
                      "steps", "job", "jobs", "runner", "inputs"]
}

/// A tree-walking evaluator. Recursion is bounded by the parser's depth limit.
struct ExpressionEvaluator<Context: ExpressionContext> {
    let context: Context
    let source: String

    /// An intermediate result: the output of `*` stays a "filtered array" so that
    /// following property and index steps apply to each element.
    enum Outcome {
        case value(ExpressionValue)
        case filtered([ExpressionValue])

        var value: ExpressionValue {
            switch self {
            case .value(let value): return value
            case .filtered(let elements): return .array(elements)
            }
        }
    }

    private func error(_ message: String, at offset: Int, hint: String? = nil) -> ExpressionError {
        ExpressionError(message: message, offset: offset, source: source, hint: hint)
    }

    func evaluate(_ node: ExpressionNode) throws(ExpressionError) -> Outcome {
        switch node {
        case .literal(let value, _):
            return .value(value)
        case .context(let name, let offset):
            return .value(try lookup(name, at: offset))
        case .group(let inner, _):
            return try evaluate(inner)
        case .property(let base, let name, _):
            if Self.isEnvContext(base), case .value(.object(let members)) = try evaluate(base) { return .value(members[name] ?? .null) }
            return access(try evaluate(base), key: .string(name), star: false)
        case .index(let base, let key, _):
            let target = try evaluate(base)
            // `env` names environment variables, which Linux tells apart by case: GitHub's runner
            // reads it case-sensitively there (audit 53: `env.FOO` found `Foo`).
            if Self.isEnvContext(base), case .value(.object(let members)) = target {
                guard let name = Key(try evaluate(key).value).name else { return .value(.null) }
                return .value(members[name] ?? .null)
            }
            // Not a collection: null, the key not evaluated (GitHub's Index.EvaluateCore; audit
            // 52: `github.nope[fromJSON('x')]` failed here).
            if case .value(let value) = target {
                switch value {
                case .array, .object: break
                default: return .value(.null)
                }
            }
            return access(target, key: try evaluate(key).value, star: false)
        case .star(let base, _):
            return access(try evaluate(base), key: .null, star: true)
        case .not(let operand, _):
            return .value(.bool(!(try evaluate(operand).value.isTruthy)))
        case .binary(let op, let lhs, let rhs, _):
            let left = try evaluate(lhs).value
            let right = try evaluate(rhs).value
            // Arrays and objects are equal when they are the same one (GitHub compares them by
            // reference): both read from the same place of a context (audit 65 expressions H1:
            // `github.event == github.event` was false).
            let same = !left.isPrimitive && !right.isPrimitive && op != .less && op != .greater
                ? try sameOrigin(lhs, rhs) : false
            return .value(.bool(Self.compare(op, left, right, sameReference: same)))
        case .logical(let op, let operands, _):
            var result = Outcome.value(.null)
            for operand in operands {
                result = try evaluate(operand)
                let truthy = result.value.isTruthy
                if (op == .and && !truthy) || (op == .or && truthy) { break }
            }
            return result
        case .call(.case, let arguments, let offset):
            // Only the predicates up to the first true one, and that one's value (GitHub's `Case.cs`).
            var position = 0
            while position + 1 < arguments.count {
                let predicate = try evaluate(arguments[position]).value
                guard case .bool(let flag) = predicate else {
                    throw error("case: predicate \(position / 2 + 1) must evaluate to a boolean, got \(predicate.kindName)", at: offset,
                                hint: "usage: \(ExpressionFunction.case.signature)")
                }
                if flag { return .value(try evaluate(arguments[position + 1]).value) }
                position += 2
            }
            guard let fallback = arguments.last else { return .value(.null) }
            return .value(try evaluate(fallback).value)
        case .call(let function, let arguments, let offset):
            var values: [ExpressionValue] = []
            values.reserveCapacity(arguments.count)
            if function == .format, let template = arguments.first {
                // Only the arguments the template names (GitHub's `Format.cs` evaluates them lazily).
                let first = try evaluate(template).value
                let used = ExpressionBuiltins.formatReferences(first.displayString)
                values.append(first)
                for (index, argument) in arguments.dropFirst().enumerated() {
                    values.append(used.contains(index) ? try evaluate(argument).value : .null)
                }
            } else if arguments.count == 2, [.contains, .startsWith, .endsWith, .join].contains(function) {
                // The second argument only where GitHub's functions read it (`Contains.cs`: a
                // primitive or a non-empty array first; `StartsWith.cs`/`EndsWith.cs`: a
                // primitive; `Join.cs`: the separator of more than one item): where they do not,
                // its errors do not fail the step.
                let first = try evaluate(arguments[0]).value
                var items: Int?
                if case .array(let elements) = first { items = elements.count }
                let needed: Bool
                switch function {
                case .contains: needed = first.isPrimitive || (items ?? 0) > 0
                case .startsWith, .endsWith: needed = first.isPrimitive
                default: needed = (items ?? 0) > 1
                }
                values.append(first)
                values.append(needed ? try evaluate(arguments[1]).value : .null)
            } else {
                for argument in arguments { values.append(try evaluate(argument).value) }
            }
            if function == .contains, values.count == 2, case .array(let elements) = values[0], !values[1].isPrimitive,
               try containsSameElement(arguments[0], arguments[1], count: elements.count) {
                return .value(.bool(true))
            }
            let result = try bounded(try call(function, values, at: offset), from: function.name, at: offset)
            // fromJSON takes a document apart and unescapes it: its strings are no form of the
            // argument the redactor knows. The other built-ins return their arguments' text as
            // it was (format, join), a form the redactor already knows (toJSON), or no text.
            if function == .fromJSON { context.computed(result, from: values) }
            return .value(result)
        case .pluginCall(let name, let arguments, let offset):
            var values: [ExpressionValue] = []
            for argument in arguments { values.append(try evaluate(argument).value) }
            let result: ExpressionValue
            do {
                result = try context.callPluginFunction(name, values)
            } catch {
                throw self.error(error.message, at: offset, hint: error.hint)
            }
            let checked = try bounded(result, from: name, at: offset)
            context.computed(checked, from: values)
            return .value(checked)
        }
    }

    /// `value`, unless it is a string longer than `ExpressionLimits.maxStringBytes`: then evaluation
    /// stops, so that nested calls (`format`, `join`, `toJSON`, plugin functions) cannot build huge strings.
    private func bounded(_ value: ExpressionValue, from function: String, at offset: Int) throws(ExpressionError) -> ExpressionValue {
        guard case .string(let text) = value, text.utf8.count > ExpressionLimits.maxStringBytes else { return value }
        throw error(ExpressionLimits.tooLarge(function, text.utf8.count), at: offset, hint: ExpressionLimits.hint)
    }

    private func lookup(_ name: String, at offset: Int) throws(ExpressionError) -> ExpressionValue {
        if let value = context.value(ofContext: name) { return value }
        let lowered = name.lowercased()
        if lowered != name, let value = context.value(ofContext: lowered) { return value }
        var hint: String?
        if let close = ExpressionContextNames.all.first(where: {
            ExpressionEditDistance.distance(lowered, $0) <= 2 && context.value(ofContext: $0) != nil
        }) {
            hint = "did you mean '\(close)'?"
        }
        throw error("unrecognized named-value: '\(name)'", at: offset, hint: hint)
    }

    /// - Parameter sameReference: `left` and `right` are the same array or object (`sameOrigin`).
    static func compare(_ op: ExpressionBinaryOperator, _ left: ExpressionValue, _ right: ExpressionValue, sameReference: Bool = false) -> Bool {
        switch op {
        case .equal: return ExpressionComparison.equals(left, right, sameReference: sameReference)
        case .notEqual: return !ExpressionComparison.equals(left, right, sameReference: sameReference)
        case .less: return ExpressionComparison.lessThan(left, right)
        case .lessOrEqual:
            return ExpressionComparison.equals(left, right, sameReference: sameReference) || ExpressionComparison.lessThan(left, right)
        case .greater: return ExpressionComparison.greaterThan(left, right)
        case .greaterOrEqual:
            return ExpressionComparison.equals(left, right, sameReference: sameReference) || ExpressionComparison.greaterThan(left, right)
        }
    }

    /// Where in the contexts `node` reads its value from: the context and each key or index
    /// (as GitHub looks them up: names without case), or nil when it is made (a function's
    /// result, a `*` filter, a literal) rather than read. Two operands with the same origin are
    /// the same array or object on GitHub, whose contexts hand out one object per place.
    func origin(_ node: ExpressionNode) throws(ExpressionError) -> [String]? {
        switch node {
        case .context(let name, _): return [name.lowercased()]
        case .group(let inner, _): return try origin(inner)
        case .property(let base, let name, _): return try origin(base).map { $0 + [name.lowercased()] }
        case .index(let base, let key, _):
            guard let path = try origin(base) else { return nil }
            let value = try evaluate(key).value
            guard value.isPrimitive else { return nil }
            return path + [value.displayString.lowercased()]
        default: return nil
        }
    }

    private func sameOrigin(_ lhs: ExpressionNode, _ rhs: ExpressionNode) throws(ExpressionError) -> Bool {
        guard let left = try origin(lhs), let right = try origin(rhs) else { return false }
        return left == right
    }

    /// `contains(ARRAY, ITEM)` for an array or object ITEM: whether ITEM is one of ARRAY's own
    /// elements, read from the place just below ARRAY's (`contains(x.list, x.list[0])`).
    func containsSameElement(_ array: ExpressionNode, _ item: ExpressionNode, count: Int) throws(ExpressionError) -> Bool {
        guard let list = try origin(array), let element = try origin(item), element.count == list.count + 1,
              Array(element.prefix(list.count)) == list, let position = Int(element.last ?? ""), (0..<count).contains(position) else { return false }
        return true
    }

    /// An index as GitHub interprets it: primitives give a string key, and any
    /// finite non-negative number (after coercion) gives an array position.
    private struct Key {
        let name: String?
        let position: Double?

        init(_ value: ExpressionValue) {
            name = value.isPrimitive ? value.displayString : nil
            let number = value.coercedNumber
            position = (number.isFinite && number >= 0) ? number.rounded(.down) : nil
        }

        func element(of elements: [ExpressionValue]) -> ExpressionValue? {
            guard let position, position < Double(elements.count) else { return nil }
            return elements[Int(position)]
        }
    }

    /// Whether `node` is the `env` context itself (any case, as context names are read).
    static func isEnvContext(_ node: ExpressionNode) -> Bool {
        if case .context(let name, _) = node, name.utf8.count == 3, name.lowercased() == "env" { return true }
        return false
    }

    private func access(_ target: Outcome, key: ExpressionValue, star: Bool) -> Outcome {
        let index = Key(key)
        switch target {
        case .filtered(let items):
            var results: [ExpressionValue] = []
            for item in items {
                switch item {
                case .object(let members):
                    if star {
                        results.append(contentsOf: members.values)
                    } else if let name = index.name, let found = item.property(name) {
                        results.append(found)
                    }
                case .array(let elements):
                    if star {
                        results.append(contentsOf: elements)
                    } else if let found = index.element(of: elements) {
                        results.append(found)
                    }
                default:
                    continue
                }
            }
            return .filtered(results)
        case .value(let value):
            switch value {
            case .array(let elements):
                if star { return .filtered(elements) }
                return .value(index.element(of: elements) ?? .null)
            case .object(let members):
                if star { return .filtered(Array(members.values)) }
                guard let name = index.name else { return .value(.null) }
                return .value(value.property(name) ?? .null)
            default:
                return star ? .filtered([]) : .value(.null)
            }
        }
    }
}
