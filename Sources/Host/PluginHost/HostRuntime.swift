import CNixActionsPlugin
import Foundation
import NixActionsEngine
import NixActionsPluginMessages
import Synchronization

/// The host side of `nxa_host_services`: routes plugin callbacks to pending operations.
///
/// One runtime per process; it lives forever (plugins keep pointers to it).
final class HostRuntime: Sendable {
    static let shared = HostRuntime()

    struct Pending {
        var continuation: CheckedContinuation<(nxa_status, [UInt8]), Never>
        var sink: (any StepOutputSink)?
        var cancelled = false
        var options: OperationOptions
    }

    /// Options of an operation beyond its continuation and output sink.
    struct OperationOptions: Sendable {
        /// Whether the host may cancel it (cleanup operations are never cancelled, ABI 1.2).
        var cancellable = true
        /// CLOCK_MONOTONIC nanoseconds by which it must complete; 0 = none.
        var deadline: UInt64 = 0
        /// Where the plugin's messages about it go (`log_op`), with the plugin's id in front;
        /// nil: the process-wide `logHandler`.
        var messages: OperationMessages?
        var pluginID = ""
        /// For a secrets `resolve`: takes each delivered value (ABI 1.2 `secret_value`).
        var secrets: (@Sendable (String, UnsafeRawBufferPointer) -> nxa_status)?
        /// The plugin's thread that completes it goes on with the task that awaits it, when that
        /// task prefers `HandOffExecutor` (an executor's operations: see `PluginExecutor`).
        var handOff = false
        /// The plugin the operation belongs to (its services table's `host_data`, as a number;
        /// 0: any). Its `write_output`, `complete` and `secret_value` calls for another
        /// plugin's operation are ignored (host.h), so that one plugin's wrong id cannot finish
        /// or write into another's job (audit 50).
        var owner: UInt = 0
    }

    private let pending = Mutex<[UInt64: Pending]>([:])
    private let nextID = Atomic<UInt64>(1)
    private let runCancelled = Atomic<Bool>(false)
    /// Receives values plugins register as secrets (the redactor, once the CLI sets it up).
    let secretHandler = Mutex<(@Sendable ([UInt8]) -> Void)?>(nil)
    /// Masks secrets in plugin log messages before they are shown (the redactor, once the CLI sets it up).
    let redact = Mutex<(@Sendable (String) -> String)?>(nil)
    /// Receives plugin log messages (plugin id, level, text).
    let logHandler = Mutex<@Sendable (String, Int32, String) -> Void>({ plugin, level, text in
        let label = ["debug", "info", "warning", "error"][Int(max(0, min(3, level)))]
        FileHandle.standardError.write(Data("nixactions: plugin '\(plugin)' \(label): \(text)\n".utf8))
    })

    func makeOperation() -> UInt64 { nextID.add(1, ordering: .relaxed).oldValue }

    func register(
        _ op: UInt64, _ continuation: CheckedContinuation<(nxa_status, [UInt8]), Never>, sink: (any StepOutputSink)?,
        options: OperationOptions = OperationOptions()
    ) {
        pending.withLock {
            $0[op] = Pending(continuation: continuation, sink: sink, options: options)
        }
    }

    /// Where messages about `op` go, while it is pending and its job gave a route.
    /// Only for `owner`'s own operation: another plugin's line would reach that operation's job
    /// under its plugin's name (review 50 L3).
    func messageRoute(_ op: UInt64, from owner: UInt?) -> (OperationMessages, String)? {
        pending.withLock { entry in
            entry[op].flatMap { pending in Self.owns(owner, pending) ? pending.options.messages.map { ($0, pending.options.pluginID) } : nil }
        }
    }

    /// Whether `op` is still waiting for its `complete`.
    func isPending(_ op: UInt64) -> Bool {
        pending.withLock { $0[op] != nil }
    }

    func deadline(_ op: UInt64) -> UInt64 {
        pending.withLock { $0[op]?.options.deadline ?? 0 }
    }

    /// A secret value delivered for `op`; refused unless `op` is a live secrets operation.
    func secretValue(_ op: UInt64, name: String, _ value: UnsafeRawBufferPointer, from owner: UInt) -> nxa_status {
        guard let handler = pending.withLock({ entry -> (@Sendable (String, UnsafeRawBufferPointer) -> nxa_status)? in
            guard let pending = entry[op], Self.owns(owner, pending) else { return nil }
            return pending.options.secrets
        }) else { return NXA_STATUS_INVALID_ARGUMENT }
        return handler(name, value)
    }

    /// Whether `owner` (a services table's `host_data`; nil: the host itself) may act on `pending`.
    static func owns(_ owner: UInt?, _ pending: Pending) -> Bool {
        guard let owner else { return true }
        return pending.options.owner == 0 || pending.options.owner == owner
    }

    /// The rule of host.h for a secret's name: an environment variable name, 1 to 256 bytes.
    static func isSecretName(_ name: UnsafeRawBufferPointer) -> Bool {
        guard let first = name.first, name.count <= 256, first == UInt8(ascii: "_") || (first | 0x20) >= 0x61 && (first | 0x20) <= 0x7A else { return false }
        return name.allSatisfy { $0 == UInt8(ascii: "_") || ($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x7A || $0 >= 0x30 && $0 <= 0x39 }
    }

    /// A value the host refuses is still masked (host.h: "whatever the status, a non-empty value
    /// the host could read has been registered"): as bytes, and each part between NUL bytes,
    /// which is what a C string of it would show.
    func maskRefused(_ value: UnsafeRawBufferPointer) {
        guard !value.isEmpty, let register = secretHandler.withLock({ $0 }) else { return }
        register(Array(value))
        if value.contains(0) {
            for part in value.split(separator: 0) where !part.isEmpty { register(Array(part)) }
        }
    }

    /// A plugin's message with every registered secret masked.
    func redacted(_ text: String) -> String {
        guard let redact = redact.withLock({ $0 }) else { return text }
        return redact(text)
    }

    /// Finish `op` once; later calls are ignored.
    /// - Parameter here: a plugin's `complete_here` (ABI 1.3): the plugin lets this thread go on
    ///   with the waiting task, which the host does for an operation that allows it (`handOff`).
    ///   Never for the host's own completions (a deadline, a refused start) or a plain `complete`.
    func complete(_ op: UInt64, status: nxa_status, result: [UInt8], here: Bool = false, from owner: UInt? = nil) {
        guard let entry = pending.withLock({ entries -> Pending? in
            guard let pending = entries[op], Self.owns(owner, pending) else { return nil }
            return entries.removeValue(forKey: op)
        }) else { return }
        // Not from inside the plugin's `cancel` (host.h forbids it there; going on with the task
        // on that thread ran the rest of the job inside the cancellation handler, whose frame was
        // then gone: a crash, audit 50): a plain `complete` instead.
        if here && entry.options.handOff && !Self.isInsideCancel {
            HandOffExecutor.continueHere { entry.continuation.resume(returning: (status, result)) }
        } else {
            entry.continuation.resume(returning: (status, result))
        }
    }

    func write(_ op: UInt64, stream: Int32, _ bytes: UnsafeRawBufferPointer, from owner: UInt) {
        let sink = pending.withLock { entries in entries[op].flatMap { Self.owns(owner, $0) ? $0.sink : nil } }
        sink?.write(stream: stream, bytes)
    }

    func markCancelled(_ op: UInt64) {
        pending.withLock { $0[op]?.cancelled = true }
    }

    func isCancelled(_ op: UInt64) -> Bool {
        if op == 0 { return runCancelled.load(ordering: .relaxed) }
        return pending.withLock { entry in
            // Over (completed or abandoned): cancelled for good, so a plugin that polls stops (audit
            // 61 ABI M2: it read false again once the host had abandoned it).
            guard let entry = entry[op] else { return true }
            // Cleanup is never cancelled, not even while the run is (ABI 1.2).
            return entry.options.cancellable && (entry.cancelled || runCancelled.load(ordering: .relaxed))
        }
    }

    func cancelRun() { runCancelled.store(true, ordering: .relaxed) }

    private static let insideCancelKey = "nixactions.inside-plugin-cancel"

    /// Call plugin `pluginID`'s `cancel` with this thread marked (`isInsideCancel`), watched
    /// (`PluginCallWatch`: a cancel never blocks for long, executor.h).
    static func callingCancel(_ pluginID: String, _ body: () -> Void) {
        let dictionary = Thread.current.threadDictionary
        dictionary[insideCancelKey] = true
        defer { dictionary.removeObject(forKey: insideCancelKey) }
        PluginCallWatch.during(pluginID, "its cancel call") { body() }
    }

    /// Whether this thread is inside a plugin's `cancel` call.
    static var isInsideCancel: Bool { Thread.current.threadDictionary[insideCancelKey] != nil }

    /// Whether a plugin's NXA_STATUS_CANCELLED answers the host's cancellation (the calling task's,
    /// or the run's). One that nothing asked for is a failure of the plugin, not a cancelled run
    /// (audit 50: a plugin's own "cancelled" ended the run with 130, its failure() handlers skipped).
    static func cancellationWasAsked() -> Bool {
        Task.isCancelled || shared.runCancelled.load(ordering: .relaxed)
    }

    /// A services table for one plugin: `host_data` carries the plugin's path for log messages.
    func services(for label: String) -> UnsafePointer<nxa_host_services> {
        let context = Unmanaged.passRetained(PluginContext(label: label)).toOpaque()
        let table = UnsafeMutablePointer<nxa_host_services>.allocate(capacity: 1)
        table.initialize(to: nxa_host_services(
            struct_size: UInt32(MemoryLayout<nxa_host_services>.size),
            host_data: context,
            log: { data, level, message, length in
                guard let data else { return }
                let label = Unmanaged<PluginContext>.fromOpaque(data).takeUnretainedValue().label
                let text = HostRuntime.text(message, length)
                let handler = HostRuntime.shared.logHandler.withLock { $0 }
                handler(label, level, HostRuntime.shared.redacted(text))
            },
            write_output: { data, op, stream, bytes, length in
                guard let bytes, length > 0 else { return }
                HostRuntime.shared.write(op, stream: stream, UnsafeRawBufferPointer(start: bytes, count: length), from: UInt(bitPattern: data))
            },
            register_secret: { _, bytes, length in
                guard let bytes, length > 0 else { return }
                // As bytes: a value that is not UTF-8 is masked as the bytes that are printed.
                let value = Array(UnsafeRawBufferPointer(start: bytes, count: length))
                HostRuntime.shared.secretHandler.withLock { $0 }?(value)
            },
            is_cancelled: { _, op in HostRuntime.shared.isCancelled(op) },
            complete: { data, op, status, bytes, length in
                let (status, result) = HostRuntime.result(status, bytes, length)
                HostRuntime.shared.complete(op, status: status, result: result, from: UInt(bitPattern: data))
            },
            op_deadline: { _, op in HostRuntime.shared.deadline(op) },
            secret_value: { data, op, name, nameLength, value, valueLength in
                // Lengths first: a size_t above Int.max arrives negative (review 50).
                guard nameLength > 0, nameLength <= 256, valueLength >= 0 else { return NXA_STATUS_INVALID_ARGUMENT }
                let bytes = UnsafeRawBufferPointer(start: value, count: value == nil ? 0 : min(valueLength, Int(NXA_SECRET_VALUE_MAX)))
                let status: nxa_status
                // host.h's rules: a name of [A-Za-z_][A-Za-z0-9_]* (a name holding '=' set
                // another variable than the one recorded, audit 50), no NUL in the value (the
                // part before it reached the step's environment unmasked, audit 50: HIGH).
                if let name, HostRuntime.isSecretName(UnsafeRawBufferPointer(start: name, count: nameLength)),
                    valueLength <= Int(NXA_SECRET_VALUE_MAX), !bytes.contains(0)
                {
                    let text = String(decoding: UnsafeRawBufferPointer(start: name, count: nameLength), as: UTF8.self)
                    status = HostRuntime.shared.secretValue(op, name: text, bytes, from: UInt(bitPattern: data))
                } else {
                    status = NXA_STATUS_INVALID_ARGUMENT
                }
                if status != NXA_STATUS_OK { HostRuntime.shared.maskRefused(bytes) }
                return status
            },
            log_op: { data, op, level, message, length in
                // Lines about an operation go to the job that started it (redacted), else with
                // the plugin's own messages.
                guard let data else { return }
                let text = HostRuntime.shared.redacted(HostRuntime.text(message, length))
                // Debug lines are not for the job's readers: they stay with the plugin's own messages.
                if level > 0, let (route, pluginID) = HostRuntime.shared.messageRoute(op, from: UInt(bitPattern: data)) {
                    route.send(level >= 3 ? .error : level == 2 ? .warning : .info, "\(pluginID): \(text)")
                    return
                }
                let label = Unmanaged<PluginContext>.fromOpaque(data).takeUnretainedValue().label
                let handler = HostRuntime.shared.logHandler.withLock { $0 }
                handler(label, level, text)
            },
            progress: { _, _, _, _, _, _ in },
            complete_here: { data, op, status, bytes, length in
                let (status, result) = HostRuntime.result(status, bytes, length)
                HostRuntime.shared.complete(op, status: status, result: result, here: true, from: UInt(bitPattern: data))
            }))
        return UnsafePointer(table)
    }

    /// A plugin's text (`log`, `log_op`): a length above Int.max (negative here, from a `size_t`
    /// computed the wrong way round) gives a note instead of a trap (audit 61 ABI H2).
    static func text(_ bytes: UnsafePointer<CChar>?, _ length: Int) -> String {
        guard let bytes else { return "" }
        guard length >= 0 else { return "(a message of impossible length \(UInt(bitPattern: length)))" }
        return String(decoding: UnsafeRawBufferPointer(start: bytes, count: length), as: UTF8.self)
    }

    /// A completion's result: one of impossible length fails the operation, saying so.
    static func result(_ status: nxa_status, _ bytes: UnsafePointer<UInt8>?, _ length: Int) -> (nxa_status, [UInt8]) {
        guard length >= 0 else {
            let failure = (try? MessageCoding.encode(OperationFailure(
                message: "the plugin completed an operation with a result of impossible length \(UInt(bitPattern: length))",
                hint: "a bug in the plugin (a size_t computed the wrong way round); report it to its authors"))) ?? []
            return (NXA_STATUS_FAILED, failure)
        }
        return (status, bytes.map { Array(UnsafeBufferPointer(start: $0, count: length)) } ?? [])
    }
}

/// What `host_data` points at: which plugin is calling.
final class PluginContext: Sendable {
    let label: String
    init(label: String) { self.label = label }
}
