import Foundation

/// What an expression can see while it is evaluated.
public protocol ExpressionContext {
    /// Value of a top-level context (github, env, secrets, needs, steps, matrix,
    /// job, runner, inputs, strategy, vars); nil means the name is unknown, which
    /// makes evaluation fail with `unrecognized named-value: 'X'`.
    ///
    /// The evaluator asks with the name as written and, if that is nil, lowercased.
    func value(ofContext name: String) -> ExpressionValue?
    /// Current status for the status functions.
    var status: ExpressionStatus { get }
    /// `hashFiles(patterns...)`, implemented by the caller (it needs the file
    /// system); returns "" when nothing matched.
    func hashFiles(_ patterns: [String]) throws(ExpressionError) -> String
    /// Call `plugin.name` (a function a plugin declares); `PluginFunctionError` when there is none or it fails.
    func callPluginFunction(_ name: String, _ arguments: [ExpressionValue]) throws(PluginFunctionError) -> ExpressionValue
    /// A function that may take a value apart or transform it (`fromJSON`, a plugin function)
    /// returned `result` from `arguments`: a context that masks secrets masks the strings in
    /// `result` too when an argument holds one (`fromJSON(secrets.SA).password`). The default
    /// does nothing (validation, tests).
    func computed(_ result: ExpressionValue, from arguments: [ExpressionValue])
}

extension ExpressionContext {
    public func computed(_ result: ExpressionValue, from arguments: [ExpressionValue]) {}
}

/// Why a plugin function could not be called.
public struct PluginFunctionError: Error, Sendable, Hashable {
    public var message: String
    public var hint: String?
    public init(_ message: String, hint: String? = nil) {
        self.message = message
        self.hint = hint
    }
}

extension ExpressionContext {
    public func callPluginFunction(_ name: String, _ arguments: [ExpressionValue]) throws(PluginFunctionError) -> ExpressionValue {
        throw PluginFunctionError("unknown function '\(name)'", hint: "functions from plugins are listed by 'nixactions plugins list'")
    }
}

/// The job status that `success()`, `failure()` and `cancelled()` report.
public struct ExpressionStatus: Sendable, Hashable {
    /// No previous step (or needed job) has failed.
    public var succeeded: Bool
    /// The workflow run has been cancelled.
    public var cancelled: Bool
    /// A previous step, or a job anywhere upstream, failed. Usually `!succeeded`, but a job whose
    /// need was skipped has not succeeded without anything having failed.
    public var failed: Bool

    /// Creates a status. `failure()` is `failed` (default `!succeeded`); `success()` is
    /// `succeeded && !cancelled`; `cancelled()` is `cancelled`.
    public init(succeeded: Bool, cancelled: Bool, failed: Bool? = nil) {
        self.succeeded = succeeded
        self.cancelled = cancelled
        self.failed = failed ?? !succeeded
    }

    /// Nothing failed, nothing cancelled.
    public static let ok = ExpressionStatus(succeeded: true, cancelled: false)
}

/// The job-status functions an expression can call.
public enum StatusFunction: String, Sendable, Hashable, CaseIterable {
    case success, failure, always, cancelled
}

/// A simple context backed by a dictionary, useful for tests and
/// validation-time evaluation. Context names are matched case-insensitively.
public struct DictionaryExpressionContext: ExpressionContext, Sendable {
    /// The signature of a `hashFiles` implementation.
    public typealias HashFilesHandler = @Sendable ([String]) throws(ExpressionError) -> String

    /// Top-level contexts by name.
    public var contexts: [String: ExpressionValue]
    /// Status reported to the status functions.
    public var status: ExpressionStatus
    /// Implementation of `hashFiles`; nil makes `hashFiles` fail.
    public var hashFilesHandler: HashFilesHandler?
    /// Plugin functions; nil: every call is "unknown function".
    public var functions: (any PluginFunctionProvider)?

    /// Creates a context from a dictionary of top-level contexts.
    public init(
        _ contexts: [String: ExpressionValue] = [:],
        status: ExpressionStatus = .ok,
        hashFiles: HashFilesHandler? = nil
    ) {
        self.contexts = contexts
        self.status = status
        self.hashFilesHandler = hashFiles
    }

    /// Looks the name up exactly, then case-insensitively.
    public func value(ofContext name: String) -> ExpressionValue? {
        if let exact = contexts[name] { return exact }
        let wanted = ExpressionComparison.foldCase(name)
        for key in contexts.keys.sorted() where ExpressionComparison.foldCase(key) == wanted {
            return contexts[key]
        }
        return nil
    }

    /// Calls a plugin function, when the context has them.
    public func callPluginFunction(_ name: String, _ arguments: [ExpressionValue]) throws(PluginFunctionError) -> ExpressionValue {
        guard let functions else {
            throw PluginFunctionError("unknown function '\(name)'", hint: "functions from plugins are listed by 'nixactions plugins list'")
        }
        return try functions.call(name, arguments)
    }

    /// Calls the handler, or fails when there is none.
    public func hashFiles(_ patterns: [String]) throws(ExpressionError) -> String {
        guard let hashFilesHandler else {
            throw ExpressionError(message: "hashFiles is not available here", offset: 0, source: "")
        }
        return try hashFilesHandler(patterns)
    }
}
