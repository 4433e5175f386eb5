import NixActionsPluginMessages

/// A value with the place in the workflow file it came from.
public struct Located<Value: Sendable>: Sendable {
    public var value: Value
    public var location: SourceLocation?

    public init(_ value: Value, at location: SourceLocation?) {
        self.value = value
        self.location = location
    }
}

extension Located: Equatable where Value: Equatable {}
extension Located: Hashable where Value: Hashable {}

/// One `NAME: value` of an `env:` map, in file order. The value may hold `${{ }}`.
public struct EnvEntry: Sendable, Hashable {
    public var name: String
    public var value: Located<String>
}

/// A compiled workflow: typed, backend-neutral, with no YAML left in it.
public struct Workflow: Sendable {
    /// `name:`, or the file's base name.
    public var name: String
    /// The file it was loaded from.
    public var file: String
    public var env: [EnvEntry]
    public var defaults: RunDefaults
    /// Jobs in file order.
    public var jobs: [Job]
    /// Keys that parse but that this version cannot honour yet; `run` refuses them.
    public var unsupported: [Located<String>]

    public func job(_ id: String) -> Job? { jobs.first { $0.id == id } }
}

/// `defaults.run` at workflow or job level.
public struct RunDefaults: Sendable, Hashable {
    public var shell: Located<String>?
    public var workingDirectory: Located<String>?

    public init(shell: Located<String>? = nil, workingDirectory: Located<String>? = nil) {
        self.shell = shell
        self.workingDirectory = workingDirectory
    }
}

/// Which executor plugin runs a job, and its options.
public struct ExecutorReference: Sendable, Hashable {
    public var pluginID: String
    public var options: [String: JSONValue]
    public var location: SourceLocation?

    public init(pluginID: String, options: [String: JSONValue] = [:], location: SourceLocation? = nil) {
        self.pluginID = pluginID
        self.options = options
        self.location = location
    }

    public static let local = ExecutorReference(pluginID: "local")
}

public struct Job: Sendable {
    public var id: String
    public var name: String?
    public var needs: [Located<String>]
    public var condition: Located<String>?
    public var executor: ExecutorReference
    public var env: [EnvEntry]
    public var defaults: RunDefaults
    public var steps: [Step]
    public var continueOnError: Bool
    public var location: SourceLocation?

    /// The name people read.
    public var displayName: String { name ?? id }
}

public struct Step: Sendable {
    /// 0-based position in the job.
    public var index: Int
    public var id: String?
    public var name: String?
    public var run: Located<String>?
    public var shell: Located<String>?
    public var workingDirectory: Located<String>?
    public var env: [EnvEntry]
    public var condition: Located<String>?
    public var continueOnError: Bool
    public var location: SourceLocation?

    /// The name people read: `name`, else `id`, else the first line of `run`.
    public var displayName: String {
        if let name { return name }
        if let id { return id }
        if let run = run?.value {
            let first = run.split(separator: "\n", omittingEmptySubsequences: true).first.map(String.init) ?? ""
            return "Run " + (first.count > 60 ? String(first.prefix(57)) + "..." : first)
        }
        return "step \(index + 1)"
    }
}
