import Foundation
import NixActionsEngine
import NixActionsProcessKit
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Every call the host makes into a plugin's code on a thread of its own, watched.
///
/// A plugin's functions return at once (executor.h: "asynchronous calls return quickly"; `create`,
/// `cancel`, `destroy`, a function's call): the work goes on on the plugin's threads. One that
/// never returns holds the host's thread that called it, and with it the job's task (a task
/// suspended inside a synchronous C call cannot be resumed elsewhere): the run hung for good,
/// past every deadline and a first Ctrl-C (audit 61 ABI H1). Nothing can take that thread back,
/// so a call still running `limit` after it began ends the command: `handler` (the run's: say
/// why in its record, kill its processes, run its cleanup scripts) and then the process exits.
///
/// The watch costs a lock and a clock read on each side of a call, and never a wake of another
/// thread: a thread of its own, started with the first call, looks at the calls under way four
/// times per `limit`, at most once a second. The entry function is not watched here: it has its own, shorter limit on a thread of its
/// own (`PluginLoader.callEntry`).
public enum PluginCallWatch {
    /// How long one call may take: `NIXACTIONS_PLUGIN_CALL_TIMEOUT` seconds (0.001 to 86400), 60 by default.
    public static let limit: Duration = EnvironmentSeconds.read("NIXACTIONS_PLUGIN_CALL_TIMEOUT", allowed: 0.001...86_400) ?? .seconds(60)

    struct Call {
        let plugin: String
        /// What the call is: `kind` then `detail` ("its call starting " + "step 'build'"), joined
        /// only when it is reported (no string is made per call).
        let kind: StaticString
        let detail: String
        let since: ContinuousClock.Instant
        var what: String { kind.description + detail }
    }

    struct State {
        var calls: [UInt64: Call] = [:]
        var next: UInt64 = 0
        var watching = false
        var fired = false
        var handler: (@Sendable (_ message: String, _ hint: String) -> Int32)?
    }

    static let state = Mutex(State())

    /// What the command does when a call never returned, before the process exits with the
    /// status it returns: the run records the message, kills its processes and runs its cleanup.
    /// Without one, the message goes to standard error and the exit status is 2.
    public static func setHandler(_ handler: (@Sendable (_ message: String, _ hint: String) -> Int32)?) {
        state.withLock { $0.handler = handler }
    }

    /// Run `body`, a call into plugin `plugin`'s code described by `kind` and `detail` ("its call
    /// starting ", "step 'build'"), watched.
    @inline(__always)
    static func during<T>(_ plugin: String, _ kind: StaticString, _ detail: String = "", _ body: () throws -> T) rethrows -> T {
        let key = enter(Call(plugin: plugin, kind: kind, detail: detail, since: .now))
        defer { leave(key) }
        return try body()
    }

    static func enter(_ call: Call) -> UInt64 {
        let (key, start) = state.withLock { state -> (UInt64, Bool) in
            state.next &+= 1
            state.calls[state.next] = call
            defer { state.watching = true }
            return (state.next, !state.watching)
        }
        if start {
            let thread = Thread { watch() }
            thread.name = "nixactions-plugin-calls"
            thread.stackSize = 1 << 18
            thread.start()
        }
        return key
    }

    static func leave(_ key: UInt64) {
        state.withLock { _ = $0.calls.removeValue(forKey: key) }
    }

    /// How often the calls under way are looked at: four times per limit, at most once a second.
    static var interval: Duration { min(limit / 4, .seconds(1)) }

    static func watch() {
        let (seconds, attoseconds) = interval.components
        while true {
            var pause = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
            var left = timespec()
            while nanosleep(&pause, &left) != 0 && errno == EINTR { pause = left }
            let now = ContinuousClock.now
            let stuck = state.withLock { state -> (Call, (@Sendable (String, String) -> Int32)?)? in
                guard !state.fired, let oldest = state.calls.values.min(by: { $0.since < $1.since }),
                    now - oldest.since >= limit
                else { return nil }
                state.fired = true
                return (oldest, state.handler)
            }
            guard let (call, handler) = stuck else { continue }
            let message = "plugin '\(call.plugin)' has not returned from \(call.what) for \(Self.describe(now - call.since)) "
                + "(a call into a plugin must return at once; the limit is \(Self.describe(limit))): nixactions cannot take back the thread "
                + "it holds, so it stops here"
            let hint = "report it to the plugin's authors; NIXACTIONS_PLUGIN_CALL_TIMEOUT (seconds) sets the limit"
            let status: Int32
            if let handler {
                status = handler(message, hint)
            } else {
                StandardStreams.writeError("nixactions: error: \(message)\n  hint: \(hint)\n")
                status = 2
            }
            PluginExitGuard.hostExits()
            _exit(status)
        }
    }

    static func describe(_ duration: Duration) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return seconds >= 10 ? "\(Int(seconds.rounded())) s" : String(format: "%.1f s", seconds)
    }
}
