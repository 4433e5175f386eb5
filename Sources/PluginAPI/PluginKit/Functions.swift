import CNixActionsPlugin
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A function a plugin offers to workflow expressions (see nixactions/functions.h).
///
///     let upper: @convention(c) (UnsafePointer<CChar>?) -> UnsafePointer<CChar>? = { text in
///         FunctionResult.string(String(cString: text!).uppercased())
///     }
///     FunctionDeclaration(name: "upper", signature: "s(s)", description: "…", function: upper)
///
/// The signature must match the closure's C type exactly: the host calls it through libffi.
public struct FunctionDeclaration: @unchecked Sendable {
    public let name: String
    public let signature: String
    public let description: String
    let function: UnsafeRawPointer

    /// - Parameter function: a `@convention(c)` function whose type matches `signature`.
    public init<F>(name: String, signature: String, description: String, function: F) {
        precondition(MemoryLayout<F>.size == MemoryLayout<UnsafeRawPointer>.size, "pass a @convention(c) function")
        self.name = name
        self.signature = signature
        self.description = description
        self.function = unsafeBitCast(function, to: UnsafeRawPointer.self)
    }
}

/// Returning strings from plugin functions: the result lives in a buffer of the calling thread
/// until that thread's next call, as nixactions/functions.h requires.
public enum FunctionResult {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { pointer in free(pointer) }
        return key
    }()

    /// `text` as a C string valid until the next call on this thread.
    public static func string(_ text: String) -> UnsafePointer<CChar>? {
        if let previous = pthread_getspecific(key) { free(previous) }
        let copy = strdup(text)
        pthread_setspecific(key, copy)
        return UnsafePointer(copy)
    }

    /// Failure: the host reports "PLUGIN.NAME failed".
    public static var failure: UnsafePointer<CChar>? { nil }
}

extension PluginExport {
    nonisolated(unsafe) static var functionsTable: UnsafeMutablePointer<nxa_functions_v1>?

    /// The functions table, made once.
    static func functionsInterface(_ declarations: [FunctionDeclaration]) -> UnsafeMutablePointer<nxa_functions_v1> {
        if let table = functionsTable { return table }
        let entries = UnsafeMutablePointer<nxa_function_v1>.allocate(capacity: max(1, declarations.count))
        for (index, declaration) in declarations.enumerated() {
            entries[index] = nxa_function_v1(
                name: UnsafePointer(strdup(declaration.name)), signature: UnsafePointer(strdup(declaration.signature)),
                description: UnsafePointer(strdup(declaration.description)), function: declaration.function)
        }
        let table = UnsafeMutablePointer<nxa_functions_v1>.allocate(capacity: 1)
        table.initialize(to: nxa_functions_v1(
            struct_size: UInt32(MemoryLayout<nxa_functions_v1>.size), count: UInt32(declarations.count), functions: entries))
        functionsTable = table
        return table
    }
}
