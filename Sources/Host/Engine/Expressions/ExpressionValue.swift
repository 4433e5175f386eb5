import Foundation
import NixActionsPluginMessages
import OrderedCollections

/// An object's members in the order they were made (GitHub's dictionaries keep insertion order:
/// `toJSON` and `.*` list them so).
public typealias ExpressionObject = OrderedDictionary<String, ExpressionValue>

/// A value produced or consumed by a GitHub Actions `${{ }}` expression.
///
/// The cases mirror the expression language's data kinds: null, boolean,
/// number (always a double), string, array and object (a dictionary).
public enum ExpressionValue: Sendable, Hashable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([ExpressionValue])
    case object(ExpressionObject)

    /// GitHub's truthiness: `false`, `0`, `-0`, `NaN`, `""` and `null` are falsy;
    /// everything else, including empty arrays and objects, is truthy.
    public var isTruthy: Bool {
        switch self {
        case .null: return false
        case .bool(let value): return value
        case .number(let value): return !(value == 0 || value.isNaN)
        case .string(let value): return !value.isEmpty
        case .array, .object: return true
        }
    }

    /// The value as JSON for a plugin's message (an executor's options).
    public var jsonValue: JSONValue {
        switch self {
        case .null: return .null
        case .bool(let value): return .bool(value)
        case .number(let value): return .number(value)
        case .string(let value): return .string(value)
        case .array(let items): return .array(items.map(\.jsonValue))
        case .object(let members): return .object(Dictionary(uniqueKeysWithValues: members.map { ($0.key, $0.value.jsonValue) }))
        }
    }

    /// An object made from a Swift dictionary, whose order changes from process to process:
    /// its keys sorted, so that what `toJSON` prints is the same in every run. Contexts whose
    /// order means something (a matrix, an event's JSON, `env`) are built as `ExpressionObject`s.
    public static func sortedObject(_ members: [String: ExpressionValue]) -> ExpressionValue {
        var ordered = ExpressionObject(minimumCapacity: members.count)
        for key in members.keys.sorted() { ordered[key] = members[key] }
        return .object(ordered)
    }

    /// Whether the value is a primitive (null, boolean, number or string).
    public var isPrimitive: Bool {
        switch self {
        case .null, .bool, .number, .string: return true
        case .array, .object: return false
        }
    }

    /// A short name of the value's kind, used in error messages.
    public var kindName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .number: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }

    /// How the value is interpolated into a string (templates, `format`, `join`).
    ///
    /// `null` is empty, booleans are `true`/`false`, numbers print like GitHub
    /// (integers without `.0`, at most 15 significant digits, never an exponent),
    /// arrays and objects print as compact JSON, an object's keys in its order.
    public var displayString: String {
        switch self {
        case .null: return ""
        case .bool(let value): return value ? "true" : "false"
        case .number(let value): return ExpressionNumber.format(value)
        case .string(let value): return value
        case .array, .object: return toJSON(pretty: false)
        }
    }

    /// The value as text the way GitHub's runner makes it (`EvaluationResult.ConvertToString`):
    /// as `displayString`, but an array is `Array` and an object `Object` (what `format`, `join`
    /// and text around `${{ }}` give; `toJSON` gives the JSON).
    public var gitHubText: String {
        switch self {
        case .array: return "Array"
        case .object: return "Object"
        default: return displayString
        }
    }

    /// The value coerced to a number with GitHub's rules: null is 0, booleans are
    /// 1/0, strings are parsed (empty or whitespace is 0, invalid is NaN), arrays
    /// and objects are NaN.
    public var coercedNumber: Double {
        switch self {
        case .null: return 0
        case .bool(let value): return value ? 1 : 0
        case .number(let value): return value
        case .string(let value): return ExpressionNumber.parse(value)
        case .array, .object: return .nan
        }
    }

    /// Looks up a property of an object the way GitHub does: the exact key first,
    /// then a case-insensitive match. Returns nil for non-objects and missing keys.
    public func property(_ name: String) -> ExpressionValue? {
        guard case .object(let members) = self else { return nil }
        if let exact = members[name] { return exact }
        let wanted = ExpressionComparison.foldCase(name)
        var bestKey: String?
        for key in members.keys where ExpressionComparison.foldCase(key) == wanted {
            if let current = bestKey, current <= key { continue }
            bestKey = key
        }
        guard let key = bestKey else { return nil }
        return members[key]
    }
}

extension OrderedDictionary {
    /// The members as a Swift dictionary (for code that looks keys up and does not list them).
    public var unordered: [Key: Value] {
        Dictionary(uniqueKeysWithValues: map { ($0.key, $0.value) })
    }
}

extension ExpressionValue: ExpressibleByStringLiteral {
    /// Creates a string value.
    public init(stringLiteral value: String) { self = .string(value) }
}

extension ExpressionValue: ExpressibleByIntegerLiteral {
    /// Creates a number value.
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
}

extension ExpressionValue: ExpressibleByFloatLiteral {
    /// Creates a number value.
    public init(floatLiteral value: Double) { self = .number(value) }
}

extension ExpressionValue: ExpressibleByBooleanLiteral {
    /// Creates a boolean value.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
}

extension ExpressionValue: ExpressibleByArrayLiteral {
    /// Creates an array value.
    public init(arrayLiteral elements: ExpressionValue...) { self = .array(elements) }
}

extension ExpressionValue: ExpressibleByDictionaryLiteral {
    /// Creates an object value, its keys in the literal's order; a repeated key keeps the last value.
    public init(dictionaryLiteral elements: (String, ExpressionValue)...) {
        var members: ExpressionObject = [:]
        for (key, value) in elements { members[key] = value }
        self = .object(members)
    }
}
