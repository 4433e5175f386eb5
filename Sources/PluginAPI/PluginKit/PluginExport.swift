import CNixActionsPlugin
import Foundation
import NixActionsPluginMessages
import NixActionsProcessKit
import Synchronization

/// The glue between a plugin's `@_cdecl("nixactions_plugin_entry")` function and its Swift types.
///
/// A plugin library contains exactly this much C-facing code:
///
///     @_cdecl("nixactions_plugin_entry")
///     public func nixactionsPluginEntry(
///         _ host: UnsafePointer<nxa_host_info>?, _ out: UnsafeMutablePointer<UnsafePointer<nxa_plugin>?>?,
///         _ error: UnsafeMutablePointer<nxa_error>?
///     ) -> nxa_status {
///         PluginExport.entry(MyPlugin.declaration, host: host, out: out, error: error)
///     }
///
/// Each plugin library links its own copy of this module, so the state below is per plugin.
public enum PluginExport {
    struct State: @unchecked Sendable {
        var declaration: PluginDeclaration
        var host: HostServices
        var descriptor: UnsafeMutablePointer<nxa_plugin>
    }

    nonisolated(unsafe) static var state: State?
    nonisolated(unsafe) static var executorTable: UnsafeMutablePointer<nxa_executor_v1>?

    /// Perform the handshake and hand the host this plugin's descriptor.
    public static func entry(
        _ declaration: PluginDeclaration,
        host: UnsafePointer<nxa_host_info>?,
        out: UnsafeMutablePointer<UnsafePointer<nxa_plugin>?>?,
        error: UnsafeMutablePointer<nxa_error>?
    ) -> nxa_status {
        guard let host, let out else {
            fill(error, "nixactions_plugin_entry called with a null argument")
            return NXA_STATUS_INVALID_ARGUMENT
        }
        // Read nothing beyond the struct size the host reported.
        let hostInfoSize = Int(host.pointee.struct_size)
        guard hostInfoSize >= MemoryLayout<nxa_host_info>.size else {
            fill(error, "host info struct is \(hostInfoSize) bytes, this plugin needs \(MemoryLayout<nxa_host_info>.size)")
            return NXA_STATUS_INCOMPATIBLE
        }
        guard host.pointee.abi_major == NXA_ABI_MAJOR else {
            fill(error, "plugin '\(declaration.id)' speaks ABI \(NXA_ABI_MAJOR).\(NXA_ABI_MINOR), host speaks \(host.pointee.abi_major).\(host.pointee.abi_minor)")
            return NXA_STATUS_INCOMPATIBLE
        }
        guard let services = host.pointee.services,
            Int(services.pointee.struct_size) >= nxa_host_services_size_v1_1()
        else {
            fill(error, "host services table is missing or too small")
            return NXA_STATUS_INCOMPATIBLE
        }
        // A secret provider delivers values through `secret_value`, which hosts below ABI 1.2 lack.
        if declaration.cache != nil, !nxa_host_services_has_v1_2(services) {
            fill(error, "plugin '\(declaration.id)' is a cache backend, which needs a host of ABI 1.2 or later (host speaks \(host.pointee.abi_major).\(host.pointee.abi_minor))")
            return NXA_STATUS_INCOMPATIBLE
        }
        if declaration.secrets != nil, !nxa_host_services_has_v1_2(services) {
            fill(error, "plugin '\(declaration.id)' provides secrets, which needs a host of ABI 1.2 or later (host speaks \(host.pointee.abi_major).\(host.pointee.abi_minor))")
            return NXA_STATUS_INCOMPATIBLE
        }
        if let existing = state {
            out.pointee = UnsafePointer(existing.descriptor)
            return NXA_STATUS_OK
        }
        let descriptor = makeDescriptor(declaration)
        state = State(declaration: declaration, host: HostServices(services), descriptor: descriptor)
        out.pointee = UnsafePointer(descriptor)
        return NXA_STATUS_OK
    }

    /// Copy a message into the host's error buffer (truncated to its capacity, on a UTF-8 boundary).
    static func fill(_ error: UnsafeMutablePointer<nxa_error>?, _ message: String) {
        guard let error, let data = error.pointee.data, error.pointee.capacity > 0 else { return }
        var count = 0
        for scalar in message.unicodeScalars {
            let utf8 = Array(String(scalar).utf8)
            if count + utf8.count > error.pointee.capacity { break }
            for byte in utf8 {
                data[count] = CChar(bitPattern: byte)
                count += 1
            }
        }
        error.pointee.length = count
    }

    /// Strings in the descriptor live for the life of the process (plugins are never unloaded).
    private static func makeDescriptor(_ declaration: PluginDeclaration) -> UnsafeMutablePointer<nxa_plugin> {
        var interfaces: [String] = []
        if declaration.executor != nil { interfaces.append(executorInterfaceV1) }
        if declaration.executor is any ExecutorFiles.Type { interfaces.append(executorFilesInterfaceV1) }
        if !declaration.functions.isEmpty { interfaces.append(NXA_FUNCTIONS_INTERFACE_V1) }
        if declaration.secrets != nil { interfaces.append(secretsInterfaceV1) }
        if declaration.cache != nil { interfaces.append(cacheInterfaceV1) }
        if optionsInterface(declaration) != nil { interfaces.append(optionsInterfaceV1) }
        let interfaceList = UnsafeMutablePointer<UnsafePointer<CChar>?>.allocate(capacity: interfaces.count + 1)
        for (index, name) in interfaces.enumerated() { interfaceList[index] = UnsafePointer(strdup(name)) }
        interfaceList[interfaces.count] = nil
        var kinds: nxa_kind = 0
        if declaration.executor != nil { kinds |= NXA_KIND_EXECUTOR }
        if !declaration.functions.isEmpty { kinds |= NXA_KIND_FUNCTIONS }
        if declaration.secrets != nil { kinds |= NXA_KIND_SECRETS }
        if declaration.cache != nil { kinds |= NXA_KIND_CACHE }

        let descriptor = UnsafeMutablePointer<nxa_plugin>.allocate(capacity: 1)
        descriptor.initialize(
            to: nxa_plugin(
                struct_size: UInt32(MemoryLayout<nxa_plugin>.size),
                abi_major: NXA_ABI_MAJOR,
                abi_minor: NXA_ABI_MINOR,
                id: UnsafePointer(strdup(declaration.id)),
                name: UnsafePointer(strdup(declaration.name)),
                version: UnsafePointer(strdup(declaration.version)),
                description: UnsafePointer(strdup(declaration.description)),
                toolchain: UnsafePointer(strdup(toolchainTag)),
                kinds: kinds,
                interfaces: UnsafePointer(interfaceList),
                get_interface: { _, interfaceID in
                    guard let interfaceID, let declaration = PluginExport.state?.declaration else { return nil }
                    switch String(cString: interfaceID) {
                    case executorInterfaceV1 where declaration.executor != nil:
                        return UnsafeRawPointer(PluginExport.executorInterface())
                    case executorFilesInterfaceV1 where declaration.executor is any ExecutorFiles.Type:
                        return UnsafeRawPointer(PluginExport.filesInterface())
                    case NXA_FUNCTIONS_INTERFACE_V1 where !declaration.functions.isEmpty:
                        return UnsafeRawPointer(PluginExport.functionsInterface(declaration.functions))
                    case secretsInterfaceV1 where declaration.secrets != nil:
                        return UnsafeRawPointer(PluginExport.secretsInterface())
                    case cacheInterfaceV1 where declaration.cache != nil:
                        return UnsafeRawPointer(PluginExport.cacheInterface())
                    case optionsInterfaceV1:
                        return PluginExport.optionsTable.map { UnsafeRawPointer($0) }
                    default:
                        return nil
                    }
                }
            ))
        return descriptor
    }
}

/// One executor instance, the tasks of its running operations and its jobs' kept environments.
final class ExecutorBox: Sendable {
    let executor: any ExecutorPlugin
    let operations: Operations
    /// `StepSpec.jobEnvironment` by job key, from the step that sent it until `finishJob`.
    private let environments = Mutex<[String: [String: String]]>([:])

    init(executor: any ExecutorPlugin, host: HostServices) {
        self.executor = executor
        self.operations = Operations(host: host)
    }

    /// The step as the executor sees it: `environment` is the whole of it, the job's kept
    /// environment with the step's own over it (`StepSpec.jobEnvironment`, `usesJobEnvironment`).
    func resolveEnvironment(_ step: StepSpec) throws(OperationFailure) -> StepSpec {
        var step = step
        let shared: [String: String]
        if var sent = step.jobEnvironment {
            // Room for the steps' own variables, so that each step's copy takes them without rehashing.
            sent.reserveCapacity(sent.count + 32)
            environments.withLock { [sent] in $0[step.jobKey] = sent }
            shared = sent
        } else if step.usesJobEnvironment == true {
            guard let kept = environments.withLock({ $0[step.jobKey] }) else {
                throw OperationFailure(
                    message: "step '\(step.displayName)' of job '\(step.jobKey)' uses the job's environment, but none was sent for that job",
                    hint: "a host sends jobEnvironment with the first step that uses it (a host or plugin defect)")
            }
            shared = kept
        } else {
            return step
        }
        var environment = shared
        for (name, value) in step.environment { environment[name] = value }
        step.environment = environment
        step.jobEnvironment = nil
        step.usesJobEnvironment = nil
        return step
    }

    /// Forget the job's kept environment (its `finishJob`).
    func forgetEnvironment(_ jobKey: String) {
        _ = environments.withLock { $0.removeValue(forKey: jobKey) }
    }

    func start<Result: Encodable & Sendable>(
        _ op: UInt64, cancellable: Bool = true, inline: Bool = false, _ body: @escaping @Sendable (OperationContext) async throws -> Result
    ) {
        operations.start(op, cancellable: cancellable, inline: inline, body)
    }

    func cancel(_ op: UInt64) { operations.cancel(op) }
}

/// The running operations of one plugin instance (any interface): each runs as a task that
/// completes its `op` exactly once, and can be cancelled by `op` while it runs.
final class Operations: Sendable {
    let host: HostServices
    private let tasks = Mutex<[UInt64: Task<Void, Never>]>([:])

    init(host: HostServices) { self.host = host }

    /// Run `body` as the operation `op`, completing it with its encoded result. A cleanup
    /// operation (`cancellable: false`) is never kept, so `cancel(op)` finds nothing (ABI 1.2).
    /// `inline`: the task prefers `InlineTaskExecutor`, so it goes on, and completes, on whatever
    /// thread resumes it (see `ExecutorPlugin.completesStepsInline`).
    func start<Result: Encodable & Sendable>(
        _ op: UInt64, cancellable: Bool = true, inline: Bool = false, _ body: @escaping @Sendable (OperationContext) async throws -> Result
    ) {
        let context = OperationContext(id: op, host: host)
        let host = self.host
        let finished = Flag()
        // The body starts on the caller's thread and runs until it first suspends: an operation
        // that never suspends (a local job's start and cleanup) completes before `start` returns,
        // without a hop to another thread. The task is kept (for `cancel`) only if it is still running.
        let task = Task.immediate(executorPreference: inline ? InlineTaskExecutor.shared : nil) {
            let (status, bytes) = await PluginExport.outcome { try await body(context) }
            finished.set()
            self.tasks.withLock { _ = $0.removeValue(forKey: op) }
            // `complete_here` (ABI 1.3: the host may go on with the job on this thread) only where
            // this thread may be kept and holds no lock: the pool thread a task that is not inline
            // runs on, or a process waiter handing its process's end back. An inline task resumed
            // by anything else (a timer, a canceller inside its cancellation handler) completes
            // with `complete`. Completing before `start` returns (nothing suspended) is either way.
            host.complete(op, status: status, result: bytes, here: !inline || WaiterPool.isHandingBack)
        }
        guard cancellable else { return }
        tasks.withLock { tasks in
            if !finished.isSet { tasks[op] = task }
        }
    }

    func cancel(_ op: UInt64) {
        tasks.withLock { $0[op] }?.cancel()
    }
}

extension PluginExport {
    static func outcome<Result: Encodable>(
        _ body: () async throws -> Result
    ) async -> (nxa_status, [UInt8]) {
        do {
            let value = try await body()
            return (NXA_STATUS_OK, try MessageCoding.encode(value))
        } catch is CancellationError {
            return (NXA_STATUS_CANCELLED, encode(OperationFailure(message: "cancelled")))
        } catch let failure as OperationFailure {
            return (NXA_STATUS_FAILED, encode(failure))
        } catch let failure as StatusFailure {
            return (failure.status, encode(failure.failure))
        } catch {
            return (NXA_STATUS_FAILED, encode(OperationFailure(message: String(describing: error))))
        }
    }

    private static func encode(_ failure: OperationFailure) -> [UInt8] {
        (try? MessageCoding.encode(failure)) ?? []
    }
}

/// Set once, read from any thread.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .releasing) }
    var isSet: Bool { value.load(ordering: .acquiring) }
}

struct Empty: FastJSONMessage, Sendable {
    init() {}
    init(json: JSONValue) throws {}
    func writeJSON(_ writer: inout JSONWriter) {
        writer.beginObject()
        writer.endObject()
    }
}

extension PluginExport {
    /// A synchronous call's failure: `thrown` written into `error` (an `OperationFailure`'s hint on
    /// the message's last line, nixactions/types.h `nxa_error`); NXA_STATUS_FAILED.
    static func failed(_ error: UnsafeMutablePointer<nxa_error>?, by thrown: any Error) -> nxa_status {
        if let failure = thrown as? OperationFailure {
            fill(error, failure.error.hint.map { failure.error.message + "\n  hint: " + $0 } ?? failure.error.message)
        } else {
            fill(error, String(describing: thrown))
        }
        return NXA_STATUS_FAILED
    }

    static func decode<T: Decodable>(
        _ type: T.Type, _ bytes: UnsafePointer<UInt8>?, _ count: Int, _ error: UnsafeMutablePointer<nxa_error>?
    ) -> T? {
        do {
            return try MessageCoding.decode(T.self, from: UnsafeRawBufferPointer(start: bytes, count: bytes == nil ? 0 : count))
        } catch let decodingError {
            fill(error, "malformed \(T.self) message: \(decodingError)")
            return nil
        }
    }

    /// `create` of any interface: decode the configuration, make the instance (an object the
    /// plugin owns until `destroy`), or write why not into `error`.
    static func create<Configuration: Decodable>(
        _ type: Configuration.Type, _ config: UnsafePointer<UInt8>?, _ length: Int,
        _ out: UnsafeMutablePointer<UnsafeMutableRawPointer?>?, _ error: UnsafeMutablePointer<nxa_error>?, what: String,
        _ make: (State, Configuration) throws -> AnyObject?
    ) -> nxa_status {
        guard let state = PluginExport.state, let out else {
            fill(error, "\(what) interface used before the entry handshake")
            return NXA_STATUS_INVALID_ARGUMENT
        }
        guard let configuration = decode(type, config, length, error) else { return NXA_STATUS_INVALID_ARGUMENT }
        do {
            guard let instance = try make(state, configuration) else {
                fill(error, "this plugin has no \(what) interface")
                return NXA_STATUS_INVALID_ARGUMENT
            }
            out.pointee = Unmanaged.passRetained(instance).toOpaque()
            return NXA_STATUS_OK
        } catch let thrown {
            return failed(error, by: thrown)
        }
    }

    static func box(_ instance: UnsafeMutableRawPointer?) -> ExecutorBox? {
        instance.map { Unmanaged<ExecutorBox>.fromOpaque($0).takeUnretainedValue() }
    }

    /// The executor function table, made once.
    static func executorInterface() -> UnsafeMutablePointer<nxa_executor_v1> {
        if let table = executorTable { return table }
        let table = UnsafeMutablePointer<nxa_executor_v1>.allocate(capacity: 1)
        table.initialize(
            to: nxa_executor_v1(
                struct_size: UInt32(MemoryLayout<nxa_executor_v1>.size),
                create: { _, config, configLength, outInstance, error in
                    PluginExport.create(ExecutorConfiguration.self, config, configLength, outInstance, error, what: "executor") {
                        state, configuration in
                        guard let type = state.declaration.executor else { return nil }
                        // Steps get back the open-files limit the host was started with.
                        if let limit = configuration.openFilesLimit { ChildOpenFiles.set(limit) }
                        return ExecutorBox(executor: try type.init(configuration: configuration, host: state.host), host: state.host)
                    }
                },
                start_job: { instance, op, json, length, error in
                    guard let box = PluginExport.box(instance),
                        let job = PluginExport.decode(JobSpec.self, json, length, error)
                    else { return NXA_STATUS_INVALID_ARGUMENT }
                    box.start(op) { context in
                        var started = try await box.executor.startJob(job, context: context)
                        if box.executor.sharesHostPaths, started.hostPaths == nil { started.hostPaths = true }
                        started.keepsEnvironment = true  // ExecutorBox.resolveEnvironment
                        return started
                    }
                    return NXA_STATUS_OK
                },
                run_step: { instance, op, json, length, error in
                    guard let box = PluginExport.box(instance),
                        let step = PluginExport.decode(StepSpec.self, json, length, error)
                    else { return NXA_STATUS_INVALID_ARGUMENT }
                    box.start(op, inline: box.executor.completesStepsInline) { context in
                        try await box.executor.runStep(try box.resolveEnvironment(step), context: context)
                    }
                    return NXA_STATUS_OK
                },
                cancel: { instance, op in
                    PluginExport.box(instance)?.cancel(op)
                },
                finish_job: { instance, op, json, length, error in
                    guard let box = PluginExport.box(instance),
                        let job = PluginExport.decode(JobSpec.self, json, length, error)
                    else { return NXA_STATUS_INVALID_ARGUMENT }
                    box.start(op, cancellable: false) { context in
                        box.forgetEnvironment(job.jobKey)
                        try await box.executor.finishJob(job, context: context)
                        return Empty()
                    }
                    return NXA_STATUS_OK
                },
                destroy: { instance in
                    guard let instance else { return }
                    Unmanaged<ExecutorBox>.fromOpaque(instance).release()
                }
            ))
        executorTable = table
        return table
    }
}
