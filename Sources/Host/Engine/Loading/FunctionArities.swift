import Synchronization

/// The plugin functions a workflow may call (name → number of arguments), found only when an
/// expression calls a function that is not built in: most workflows call none, and finding them
/// means loading every plugin.
public final class FunctionArities: Sendable {
    private let find: @Sendable () -> [String: Int]
    private let found = Mutex<[String: Int]?>(nil)

    public init(_ find: @escaping @Sendable () -> [String: Int]) {
        self.find = find
    }

    public convenience init(_ table: [String: Int]) {
        self.init { table }
    }

    /// Found on first use (once, whichever thread asks first).
    var table: [String: Int] {
        found.withLock { cached in
            if let cached { return cached }
            let table = find()
            cached = table
            return table
        }
    }
}
