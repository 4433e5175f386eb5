import Foundation
import NixActionsEngine
import NixActionsProcessKit
import CProcessSupport
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
/// A job's start and its cleanup (`start_job`, `finish_job`) may take until their operation's
/// deadline and the grace after it (`PluginCalls.afterCancel`): the shipped executors prepare a
/// job's workspace, the project's copy among them, inside `start_job`, and remove it inside
/// `finish_job` (review 62: a large project's copy ended the run after 60 s). Every other call
/// has `limit` (review 62b: a cache lookup was given its deadline, 140 s, past a job's time limit).
///
/// The watch costs a lock and a clock read on each side of a call, and never a wake of another
/// thread: from the first call on, a thread of its own that never calls a plugin looks at the
/// calls under way four times per `limit`, at least once a second and at most every 10 ms (review
/// 62b: on the deadline timer's thread, a time limit's cancel stuck in a plugin stopped the looks
/// too). Without a thread to be had, the looks are entries of the deadline timer. The entry
/// function is not watched here: it has its own, shorter limit on a thread of its own
/// (`PluginLoader.callEntry`).
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
        /// How long this call may take.
        let limit: Duration
        var what: String { kind.description + detail }
    }

    struct State {
        var calls: [UInt64: Call] = [:]
        var next: UInt64 = 0
        /// Whether the looks were started (with the first call).
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
    /// for ", "step 'build'"), watched. `deadline`: the call prepares or removes a job inline
    /// (`start_job`, `finish_job`), and may take until its operation's deadline and the grace
    /// after it (at least `limit`).
    @inline(__always)
    static func during<T>(_ plugin: String, _ kind: StaticString, _ detail: String = "", deadline: Duration? = nil,
                          _ body: () throws -> T) rethrows -> T {
        let allowed = deadline.map { max($0 + PluginCalls.afterCancel, limit) } ?? limit
        let key = enter(Call(plugin: plugin, kind: kind, detail: detail, since: .now, limit: allowed))
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
        if start { scheduleLook() }
        return key
    }

    static func leave(_ key: UInt64) {
        state.withLock { _ = $0.calls.removeValue(forKey: key) }
    }

    /// How often the calls under way are looked at: four times per limit, at least once a second,
    /// at most every 10 ms (a limit of 1 ms would have looked 4,000 times a second).
    static var interval: Duration { max(min(limit / 4, .seconds(1)), .milliseconds(10)) }

    /// The looks: on a thread of their own, else (no thread to be had) on the deadline timer.
    static func scheduleLook() {
        let started = DetachedThread.start(stackSize: 256 * 1024) {
            nxa_name_thread("nxa-plugin-calls")
            let (seconds, attoseconds) = interval.components
            while true {
                var pause = timespec(tv_sec: Int(seconds), tv_nsec: Int(attoseconds / 1_000_000_000))
                var left = timespec()
                while nanosleep(&pause, &left) != 0 && errno == EINTR { pause = left }
                look(again: false)
            }
        }
        if started != 0 { lookLater() }
    }

    static func lookLater() {
        _ = DeadlineTimer.shared.schedule(after: interval) { look(again: true) }
    }

    /// Ends the process when a call has been under way for its limit; otherwise (`again`: on the
    /// deadline timer) looks again later.
    static func look(again: Bool) {
        let now = ContinuousClock.now
        let stuck = state.withLock { state -> (Call, (@Sendable (String, String) -> Int32)?)? in
            guard !state.fired, let late = state.calls.values.first(where: { now - $0.since >= $0.limit }) else { return nil }
            state.fired = true
            return (late, state.handler)
        }
        guard let (call, handler) = stuck else {
            if again { lookLater() }
            return
        }
        // The process ends here (on the timer's thread, when the looks are there: no deadline is
        // needed any more).
        let message = "plugin '\(call.plugin)' has not returned from \(call.what) for \(DurationParser.format(now - call.since)) "
            + "(a call into a plugin must return at once; the limit is \(DurationParser.format(call.limit))): nixactions cannot take back the thread "
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
