import Synchronization

/// The plugin functions a workflow may call (name → the types of its arguments, hence their
/// number), found only when an expression calls a function that is not built in: most workflows
/// call none, and finding them means loading every plugin.
///
/// A type is a letter of the signature language (`l` a whole number, `d` a number, `b` true or
/// false, `s` a string; `?` when the caller only knows how many there are): `validate` refuses a
/// literal argument the call would refuse when it runs (`text.round('abc', 1)`).
public final class FunctionArities: Sendable {
    private let find: @Sendable () -> [String: String]
    private let found = Mutex<[String: String]?>(nil)

    /// - Parameter signatures: name → its signature (`"d(dl)"`: returns a number, takes a number
    ///   and a whole number).
    public init(signatures: @escaping @Sendable () -> [String: String]) {
        self.find = signatures
    }

    /// Only how many arguments each takes.
    public convenience init(_ find: @escaping @Sendable () -> [String: Int]) {
        self.init(signatures: { find().mapValues { "?(" + String(repeating: "?", count: $0) + ")" } })
    }

    public convenience init(_ table: [String: Int]) {
        self.init { table }
    }

    /// Name → signature, found on first use (once, whichever thread asks first).
    var signatures: [String: String] {
        found.withLock { cached in
            if let cached { return cached }
            let table = find()
            cached = table
            return table
        }
    }

    /// The argument type letters of a signature: `"dl"` of `"d(dl)"`.
    static func argumentTypes(_ signature: String) -> [Character] {
        guard let open = signature.firstIndex(of: "("), let close = signature.lastIndex(of: ")"), open < close else { return [] }
        return Array(signature[signature.index(after: open)..<close])
    }

    /// Name → number of arguments.
    var table: [String: Int] { signatures.mapValues { Self.argumentTypes($0).count } }

    /// What an argument of type `type` must be when `value` is not that (nil: it is): the one rule
    /// both for the call (`ForeignFunction.call` converts only what passes) and for `validate`'s
    /// check of a literal argument.
    public static func refusal(_ value: ExpressionValue, type: Character) -> String? {
        switch (type, value) {
        case ("l", .number(let number)) where number.rounded() == number && abs(number) < 9.0e18: return nil
        case ("d", .number): return nil
        case ("b", .bool): return nil
        case ("s", _) where value.isPrimitive: return nil
        case ("l", _): return "a whole number"
        case ("d", _): return "a number"
        case ("b", _): return "true or false"
        case ("s", _): return "a string"
        default: return nil
        }
    }
}
