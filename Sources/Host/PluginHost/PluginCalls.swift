import CNixActionsPlugin
import Foundation
import NixActionsEngine
import NixActionsPluginMessages
import NixActionsProcessKit
import Synchronization

/// The asynchronous operations of one plugin instance (any interface): start, await the
/// completion, forward cancellation, abandon at the deadline.
final class PluginCalls: @unchecked Sendable {
    let plugin: LoadedPlugin
    let instance: UnsafeMutableRawPointer
    /// "executor", "cache backend": how messages name the plugin.
    let noun: String
    let cancel: (@convention(c) (UnsafeMutableRawPointer?, UInt64) -> Void)?
    /// Set when an operation was abandoned: the plugin may still be using the instance, which is
    /// then never destroyed (the process exits soon after).
    let abandoned = Atomic<Bool>(false)

    /// End an operation the plugin accepted but cannot carry out (it gave no usable stream):
    /// failed now with `message`, not at its deadline; the plugin is told (`cancel`) and, as for
    /// an abandoned operation, its instance is never destroyed (it may still hold the operation).
    func refuseAccepted(_ op: UInt64, _ message: String) {
        let failure = (try? MessageCoding.encode(OperationFailure(message: message))) ?? []
        abandoned.store(true, ordering: .relaxed)
        HostRuntime.shared.complete(op, status: NXA_STATUS_FAILED, result: failure)
        if let cancel { HostRuntime.callingCancel(plugin.id) { cancel(instance, op) } }
    }

    init(plugin: LoadedPlugin, instance: UnsafeMutableRawPointer, noun: String,
         cancel: (@convention(c) (UnsafeMutableRawPointer?, UInt64) -> Void)?) {
        self.plugin = plugin
        self.instance = instance
        self.noun = noun
        self.cancel = cancel
    }

    /// Call a function that takes an `nxa_error *`, returning its status and message.
    static func callWithError(_ body: (UnsafeMutablePointer<nxa_error>) -> nxa_status) -> (nxa_status, String) {
        var buffer = [CChar](repeating: 0, count: 2048)
        return buffer.withUnsafeMutableBufferPointer { chars in
            var error = nxa_error(data: chars.baseAddress, capacity: chars.count, length: 0)
            let status = body(&error)
            // A length past the buffer (or above Int.max: negative here) is the buffer's (audit 61 ABI H2: a trap).
            let bytes = UnsafeRawBufferPointer(start: chars.baseAddress, count: max(0, min(error.length, chars.count)))
            return (status, String(decoding: bytes, as: UTF8.self))
        }
    }

    /// A synchronous error's message, and the hint a plugin put on its last line ("\n  hint: TEXT",
    /// nixactions/types.h: `nxa_error`).
    static func messageAndHint(_ text: String) -> (message: String, hint: String?) {
        guard let range = text.range(of: "\n  hint: ", options: .backwards) else { return (text, nil) }
        return (String(text[..<range.lowerBound]), String(text[range.upperBound...]))
    }

    typealias AsyncCall = (UnsafeMutableRawPointer, UInt64, UnsafePointer<UInt8>?, Int, UnsafeMutablePointer<nxa_error>?) -> nxa_status

    /// How long a cancelled operation has to complete before the host stops waiting for it
    /// (`NIXACTIONS_ABANDON_AFTER` seconds, default 20).
    static let afterCancel: Duration = {
        // 0.001 to 86400 (`1e300` or `inf` trapped: audit 61 input H3).
        EnvironmentSeconds.read("NIXACTIONS_ABANDON_AFTER", allowed: 0.001...86_400) ?? .seconds(20)
    }()

    /// Start an asynchronous plugin operation and await its completion. Cancellation is forwarded
    /// (unless `cancellable` is false); an operation still running `afterCancel` after its cancel,
    /// or past `deadline`, is abandoned: the host stops waiting and says so, and the run goes on.
    /// `inlineWork`: the starting call itself may work until `deadline` (a job's start and cleanup,
    /// which executors may do inline: `PluginCallWatch`); any other call has the watch's limit.
    func perform<Request: Encodable, Response: Decodable>(
        _ call: AsyncCall, _ request: Request, sink: (any StepOutputSink)?, as: Response.Type,
        cancellable: Bool = true, deadline: Duration? = nil, what: String = "an operation",
        handOff: Bool = false, inlineWork: Bool = false, onAccepted: ((UInt64) -> Void)? = nil
    ) async throws -> Response {
        let runtime = HostRuntime.shared
        let op = runtime.makeOperation()
        let json = try MessageCoding.encode(request)
        let plugin = self.plugin
        let noun = self.noun
        // A deadline is an entry in the shared timer, not a sleeping task (see DeadlineTimer).
        // `why` is only made when the deadline passes (a Duration's text costs more than the timer entry).
        let abandon: @Sendable (Duration, @escaping @Sendable () -> String) -> DeadlineTimer.Token = { limit, why in
            DeadlineTimer.shared.schedule(after: limit) {
                guard runtime.isPending(op) else { return }
                self.abandoned.store(true, ordering: .relaxed)
                let message = "\(noun) '\(plugin.id)' did not finish \(what) \(why()); nixactions stopped waiting for it"
                runtime.logHandler.withLock { $0 }(plugin.id, 2, message)
                let failure = (try? MessageCoding.encode(OperationFailure(
                    message: message, hint: "whatever it left may still be there; the plugin's own cleanup or the next run removes it"))) ?? []
                runtime.complete(op, status: NXA_STATUS_TIMED_OUT, result: failure)
            }
        }
        let watchdogs = WatchdogSet()
        defer { watchdogs.cancelAll() }
        if let deadline { watchdogs.add(abandon(deadline) { "within \(deadline)" }) }
        var options = HostRuntime.OperationOptions(
            cancellable: cancellable, deadline: deadline.map { HostRuntime.deadline(after: $0) } ?? 0, handOff: handOff)
        options.messages = OperationMessages.route
        options.pluginID = plugin.id
        options.owner = plugin.owner
        let (status, bytes) = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<(nxa_status, [UInt8]), Never>) in
                runtime.register(op, continuation, sink: sink, options: options)
                let (accepted, message) = PluginCallWatch.during(plugin.id, "its call for ", what, deadline: inlineWork ? deadline : nil) {
                    Self.callWithError { error in
                        json.withUnsafeBytes { call(instance, op, $0.baseAddress?.assumingMemoryBound(to: UInt8.self), $0.count, error) }
                    }
                }
                if accepted == NXA_STATUS_OK { onAccepted?(op) }
                if accepted != NXA_STATUS_OK {
                    // A refusal without words still names the plugin and what it refused (audit 50: "status 77").
                    let text = message.isEmpty ? "\(noun) '\(plugin.id)' refused \(what) (status \(accepted), no message)" : message
                    let failure = (try? MessageCoding.encode(OperationFailure(message: text))) ?? []
                    runtime.complete(op, status: accepted, result: failure)
                } else if cancellable && Task.isCancelled {
                    // Cancelled between registering and starting: the handler may have missed it.
                    runtime.markCancelled(op)
                    if let cancel { HostRuntime.callingCancel(plugin.id) { cancel(instance, op) } }
                    watchdogs.add(abandon(Self.afterCancel) { "within \(Self.afterCancel) of being cancelled" })
                }
            }
        } onCancel: {
            guard cancellable else { return }
            runtime.markCancelled(op)
            if let cancel { HostRuntime.callingCancel(plugin.id) { cancel(instance, op) } }
            watchdogs.add(abandon(Self.afterCancel) { "within \(Self.afterCancel) of being cancelled" })
        }
        switch status {
        case NXA_STATUS_OK:
            do {
                return try MessageCoding.decode(Response.self, from: bytes)
            } catch {
                throw EngineError("\(noun) '\(plugin.id)' sent a malformed \(Response.self): \(error)")
            }
        case NXA_STATUS_CANCELLED:
            guard HostRuntime.cancellationWasAsked() else {
                throw EngineError("\(noun) '\(plugin.id)' reported \(what) cancelled, though nothing cancelled it",
                                  hint: "a plugin answers NXA_STATUS_CANCELLED only to the host's cancel; report it to the plugin's authors")
            }
            throw CancellationError()
        case NXA_STATUS_TIMED_OUT:
            let failure = try? MessageCoding.decode(OperationFailure.self, from: bytes)
            throw EngineError(failure?.error.message ?? "\(noun) '\(plugin.id)' did not finish \(what) in time", hint: failure?.error.hint)
        default:
            if let failure = try? MessageCoding.decode(OperationFailure.self, from: bytes) { throw failure }
            throw EngineError("\(noun) '\(plugin.id)' failed with status \(status)")
        }
    }
}

extension LoadedPlugin {
    /// The interface table `interface` as `T` (nil: the plugin does not provide it), checked
    /// before any use: its `struct_size` (the first field of every table) at least `T`'s, and a
    /// function in every slot after it but those at `optional` offsets (`cancel`). Otherwise an
    /// error naming the plugin and `what` ("an executor table"): a NULL crashed the host at its
    /// first call (audit 50).
    func table<T>(_ interface: String, as type: T.Type, what: String, optional: [Int?] = []) throws -> UnsafePointer<T>? {
        guard let raw = self.interface(interface) else { return nil }
        let size = Int(raw.load(as: UInt32.self))
        guard size >= MemoryLayout<T>.size else {
            throw EngineError("plugin '\(id)' has \(what) of \(size) bytes, too small for \(interface)")
        }
        let skip = Set(optional.compactMap { $0 })
        let pointer = MemoryLayout<UnsafeRawPointer>.size
        for offset in stride(from: pointer, to: MemoryLayout<T>.size, by: pointer)
        where !skip.contains(offset) && raw.load(fromByteOffset: offset, as: UInt.self) == 0 {
            throw EngineError("plugin '\(id)' has \(what) with a function missing (a NULL pointer); it cannot be used",
                              hint: "every function of \(interface)\(skip.isEmpty ? "" : " but cancel") must be set; rebuild or remove the plugin")
        }
        return raw.assumingMemoryBound(to: T.self)
    }
}
