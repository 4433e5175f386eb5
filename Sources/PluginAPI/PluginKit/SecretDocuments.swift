import NixActionsPluginMessages

/// Helpers shared by secret providers that read documents (dotenv, JSON, YAML, a Vault secret).
///
/// The flattening rule (documented in docs/secrets.md): nested keys are joined with `_`,
/// upper-cased, and every character other than a letter, digit or `_` becomes `_`
/// (`db: { password: x }` → `DB_PASSWORD`, `api-key` → `API_KEY`); list items use their
/// index (`hosts: [a, b]` → `HOSTS_0`, `HOSTS_1`). Strings are taken as they are, numbers and
/// booleans as their text, null as the empty string.
public enum SecretDocuments {
    public struct Flattened: Sendable {
        /// Name → value, and the key path each name came from (for messages and `keys:`).
        public var values: [String: String] = [:]
        public var paths: [String: String] = [:]
    }

    /// Flatten a document. Two paths that give the same name are an error naming both.
    /// `under` is the key path the document was taken from (a provider's `extract`): its names
    /// start with it (`db` → `{ password, user }` gives `DB_PASSWORD`, `DB_USER`), and a single
    /// value is then named after it alone.
    public static func flatten(_ document: JSONValue, what: String, under: [String] = []) throws -> Flattened {
        var result = Flattened()
        if under.isEmpty, case .array = document {
            throw OperationFailure(message: "\(what) is a list, not a set of keys",
                                   hint: "use a mapping of NAME: value (a list's items would be named _0, _1, …)")
        }
        func visit(_ value: JSONValue, _ path: [String]) throws {
            switch value {
            case .object(let members):
                for key in members.keys.sorted() { try visit(members[key]!, path + [key]) }
            case .array(let items):
                for (index, item) in items.enumerated() { try visit(item, path + [String(index)]) }
            default:
                guard !path.isEmpty else {
                    throw OperationFailure(message: "\(what) is a single value, not a set of keys",
                                           hint: "use a mapping of NAME: value, or 'format: binary' with 'as: NAME' for a whole file")
                }
                let name = SecretNames.flatten(path)
                let dotted = path.joined(separator: ".")
                if let earlier = result.paths[name], earlier != dotted {
                    throw OperationFailure(message: "\(what): the keys '\(earlier)' and '\(dotted)' both become \(name)",
                                           hint: "rename one of them, or select keys with 'keys:'")
                }
                result.paths[name] = dotted
                result.values[name] = text(value)
            }
        }
        try visit(document, under)
        return result
    }

    static func text(_ value: JSONValue) -> String {
        switch value {
        case .string(let text): return text
        case .bool(let flag): return flag ? "true" : "false"
        case .number(let number):
            if number == number.rounded(), abs(number) < 1e15 { return String(Int64(number)) }
            return String(number)
        case .null: return ""
        default: return ""
        }
    }

    /// The entry's `keys:` option (names after flattening, or dotted key paths), or nil for all.
    public static func requestedKeys(_ options: [String: JSONValue]) throws -> [String]? {
        guard let value = options["keys"] else { return nil }
        switch value {
        case .string(let one): return [one]
        case .array(let items):
            guard !items.isEmpty else {
                throw OperationFailure(message: "'keys' is an empty list: the entry would give no secret", hint: "leave 'keys' out to take every key")
            }
            return try items.map {
                guard case .string(let key) = $0 else { throw OperationFailure(message: "'keys' must be a list of key names") }
                return key
            }
        default: throw OperationFailure(message: "'keys' must be a list of key names")
        }
    }

    /// The selected values: all of them, or exactly the requested keys (a missing one is an error).
    public static func select(_ flattened: Flattened, keys: [String]?, what: String) throws -> [String: String] {
        guard let keys else { return flattened.values }
        var selected: [String: String] = [:]
        var byPath: [String: String] = [:]
        for (name, path) in flattened.paths { byPath[path] = name }
        for key in keys {
            guard let name = flattened.values[key] != nil ? key : byPath[key] ?? (flattened.values[SecretNames.flatten([key])] != nil ? SecretNames.flatten([key]) : nil)
            else {
                let known = flattened.values.keys.sorted()
                throw OperationFailure(
                    message: "\(what) has no key '\(key)'",
                    hint: known.isEmpty ? "it holds no keys" : "it has: \(known.prefix(12).joined(separator: ", "))\(known.count > 12 ? ", …" : "")")
            }
            selected[name] = flattened.values[name]
        }
        return selected
    }

    /// A string option.
    public static func string(_ options: [String: JSONValue], _ key: String) throws -> String? {
        guard let value = options[key] else { return nil }
        guard case .string(let text) = value else { throw OperationFailure(message: "'\(key)' must be a string") }
        return text
    }

    /// Options this provider does not know are an error (a typo must not pass silently).
    public static func checkKnown(_ options: [String: JSONValue], _ known: Set<String>, provider: String) throws {
        if let unknown = options.keys.sorted().first(where: { !known.contains($0) }) {
            throw OperationFailure(message: "the \(provider) provider has no option '\(unknown)'",
                                   hint: "its options: \(known.sorted().joined(separator: ", "))")
        }
    }

    /// A path from an entry, relative to the project folder unless absolute.
    public static func path(_ path: String, project: String) -> String {
        path.hasPrefix("/") ? path : project + "/" + path
    }
}
