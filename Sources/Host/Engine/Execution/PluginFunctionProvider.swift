/// Functions plugins declare for expressions (`${{ text.upper('x') }}`), as the engine sees them.
/// The plugin host implements it (through libffi); the engine knows nothing of how they are called.
public protocol PluginFunctionProvider: Sendable {
    /// Qualified name (`plugin.function`) → number of arguments.
    var arities: [String: Int] { get }
    /// Call a function. Thread-safe.
    func call(_ name: String, _ arguments: [ExpressionValue]) throws(PluginFunctionError) -> ExpressionValue
}
