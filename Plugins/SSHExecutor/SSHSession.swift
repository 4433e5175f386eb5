import Foundation
import Glibc
import NixActionsPluginKit
import NixActionsPluginMessages
import NixActionsProcessKit
import Synchronization

/// A job's shell on its host: one ssh session for the whole job, running a small helper of the
/// project's own (`helperScript`) that takes one step per request on its standard input, so a
/// step costs no ssh client, no channel and no login shell of its own.
///
/// A request is the line `NXA-STEP N KEY`, then the step's wrapper (its script, variables and
/// secrets: never on a command line, never in a file), then a line holding only `KEY`. The helper
/// pipes the wrapper into `sh -s`, run as a session leader (`setsid`, where the host has it), and
/// once it exited prints `KEY end STATUS` on standard output and `KEY` on standard error: the step's output is everything before those markers on each stream
/// (`StepTrailer`, `EndMarker`), and the `$GITHUB_*` files come in the wrapper's own trailer
/// before the end frame. The key is fresh for every step, and the step cannot know it.
///
/// What a background process of a step prints after its step ended comes before the next step's
/// markers and is shown with the next step (the local executor drops it after 200 ms), up to
/// `betweenLimit` bytes; beyond that it is dropped. A cancelled step is still the step after its
/// markers while its group's members live out their grace (`draining`, until `endDrain`): what
/// they print is the cancelled step's (audit 67 remote N5: it went to the next step). When the session ends (the connection broke), the running step fails with a clear
/// message and so does every later step of the job.
final class SSHSession: Sendable {
    enum Outcome: Sendable {
        case finished(status: Int32, files: [String: String])
        case lost(String)
        case abandoned
    }

    /// The step waiting for its end markers.
    final class Pending: @unchecked Sendable {
        let key: String
        var trailer: StepTrailer
        var errors: EndMarker
        let deliver: @Sendable (Int32, [UInt8]) -> Void
        let continuation: CheckedContinuation<Outcome, Never>
        /// Set (under the state's lock) when the step's cancel came.
        var cancelled = false

        init(key: String, deliver: @escaping @Sendable (Int32, [UInt8]) -> Void, continuation: CheckedContinuation<Outcome, Never>) {
            self.key = key
            trailer = StepTrailer(key: key)
            errors = EndMarker(key + "\n")
            self.deliver = deliver
            self.continuation = continuation
        }
    }

    struct State {
        var pending: Pending?
        /// Output that came while no step ran (a background process of an earlier step).
        var between: [(Int32, [UInt8])] = []
        var betweenBytes = 0
        /// Where output goes between a cancelled step's markers and its end (`endDrain`).
        var draining: (@Sendable (Int32, [UInt8]) -> Void)?
        /// Why the session can no longer run steps.
        var broken: String?
    }

    let state = Mutex(State())
    /// Most output kept from between two steps (1 MiB).
    static let betweenLimit = 1 << 20
    /// This side's end of the helper's standard input (-1 once closed).
    let requests: Mutex<Int32>
    /// The helper's end, until the ssh client has it.
    let readEnd: Int32
    /// The ssh client's run, which ends when the session does.
    let task: Mutex<Task<Void, Never>?> = Mutex(nil)

    /// The helper, run as `sh control/helper.sh` in the job's folder there.
    static let helperScript = """
        # nixactions ssh step helper: one step per request on standard input (see SSHSession).
        # A lost session (its connection gone) sends no SIGHUP without a terminal: a watcher runs
        # the job's control/lost.sh once the session's process is gone, unless the job's folder is
        # gone or is another session's by then (audit 56 F1: steps and daemons ran on for good).
        job=${0%/control/helper.sh}
        session=$PPID
        printf '%s\\n' "$$" > "$job/control/session"
        watcher=
        if [ "$session" -gt 1 ] 2>/dev/null && [ -f "$job/control/lost.sh" ]; then
            (
                me=$$
                while kill -0 "$session" 2>/dev/null; do sleep 2; done
                { read -r owner < "$job/control/session"; } 2>/dev/null || exit 0
                [ "$owner" = "$me" ] && exec sh "$job/control/lost.sh"
            ) </dev/null >/dev/null 2>&1 &
            watcher=$!
        fi
        leader=
        command -v setsid >/dev/null 2>&1 && leader=setsid
        while IFS= read -r request; do
            case "$request" in "NXA-STEP "*) ;; *) continue ;; esac
            set -- $request
            key=$3
            # The wrapper (with the step's secrets) goes through a pipe, never to a file; what the
            # wrapper did not read (it exited early) is read to its end.
            while IFS= read -r line && [ "$line" != "$key" ]; do printf '%s\\n' "$line"; done |
                { $leader /bin/sh -s; code=$?; while IFS= read -r rest; do :; done; exit $code; }
            code=$?
            printf '%s end %s\\n' "$key" "$code"
            printf '%s\\n' "$key" >&2
        done
        # The input ended: the job is over (its folder went first), or the session was lost between
        # two steps: then what earlier steps left running goes now, as the watcher would have it.
        [ -n "$watcher" ] && kill "$watcher" 2>/dev/null
        { read -r owner < "$job/control/session"; } 2>/dev/null && [ "$owner" = "$$" ] && exec sh "$job/control/lost.sh" </dev/null >/dev/null 2>&1
        exit 0

        """

    init() throws {
        // Neither end may leak into other children, not even for a moment (the ssh client gets its
        // end as standard input).
        guard let pipe = closeOnExecPipe() else {
            throw OperationFailure(message: "ssh executor: cannot make a pipe: \(String(cString: strerror(errno)))")
        }
        readEnd = pipe.read
        requests = Mutex(pipe.write)
    }

    deinit {
        closeRequests()
    }

    /// Start the ssh client that runs the helper there (`arguments`).
    func start(arguments: [String], environment: [String: String]) async throws {
        let readEnd = self.readEnd
        let failure: String? = await withCheckedContinuation { continuation in
            let once = Mutex<CheckedContinuation<String?, Never>?>(continuation)
            let take: @Sendable () -> CheckedContinuation<String?, Never>? = { once.withLock { held in defer { held = nil }; return held } }
            let run = Task.detached { [self] in
                var why = "the connection ended"
                do {
                    let termination = try await runProcess(
                        arguments: arguments, environment: environment, directory: nil, grace: .seconds(2), inputDescriptor: readEnd,
                        drainAfterExit: .seconds(1), onStart: { _ in take()?.resume(returning: nil) }
                    ) { stream, bytes in
                        self.route(stream, Array(bytes))
                    }
                    if case .exited(let code) = termination, code != 0 { why = "the connection ended (ssh exited with status \(code))" }
                } catch {
                    why = "\(error)"
                    take()?.resume(returning: why)
                }
                self.end(why)
            }
            task.withLock { $0 = run }
        }
        Glibc.close(readEnd)
        if let failure {
            closeRequests()
            throw OperationFailure(message: "ssh executor: cannot start ssh: \(failure)")
        }
    }

    func closeRequests() {
        requests.withLock { fd in
            if fd >= 0 { Glibc.close(fd) }
            fd = -1
        }
    }

    /// Run step `number`: send its wrapper, pass its output to `deliver` (1 or 2, bytes) until
    /// both end markers came. On cancel, `onCancel` runs (it should end the step there); then the
    /// wait ends when the markers come or `abandonAfter` has passed.
    func run(
        _ number: Int, wrapper: String, key: String, abandonAfter: Duration,
        onCancel: @escaping @Sendable () -> Void, deliver: @escaping @Sendable (Int32, [UInt8]) -> Void
    ) async -> Outcome {
        let request = Array("NXA-STEP \(number) \(key)\n\(wrapper.hasSuffix("\n") ? wrapper : wrapper + "\n")\(key)\n".utf8)
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
                let pending = Pending(key: key, deliver: deliver, continuation: continuation)
                let (refused, early) = state.withLock { state -> (String?, [(Int32, [UInt8])]) in
                    if let broken = state.broken { return (broken, []) }
                    state.pending = pending
                    state.draining = nil
                    defer {
                        state.between = []
                        state.betweenBytes = 0
                    }
                    return (nil, state.between)
                }
                if let refused {
                    continuation.resume(returning: .lost(refused))
                    return
                }
                for (stream, bytes) in early { deliver(stream, bytes) }
                // Its own copy of the pipe's end: `close` may run while the write is blocked. The
                // copy is close-on-exec too (`dup` would drop that): no child may inherit it.
                let fd = requests.withLock { $0 >= 0 ? fcntl($0, F_DUPFD_CLOEXEC, 0) : -1 }
                Task.detached {
                    // The pipe may be full while the helper is busy: a blocking write, off Swift's pool.
                    let failed = await Blocking.run { () -> Bool in
                        defer { if fd >= 0 { Glibc.close(fd) } }
                        var offset = 0
                        while fd >= 0 && offset < request.count {
                            let written = request.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
                            if written < 0 && errno == EINTR { continue }
                            if written <= 0 { return true }
                            offset += written
                        }
                        return fd < 0
                    }
                    if failed { self.end("cannot send the step to the session's helper") }
                }
            }
        } onCancel: {
            state.withLock { state in
                if let pending = state.pending, pending.key == key { pending.cancelled = true }
            }
            onCancel()
            Task.detached {
                try? await Task.sleep(for: abandonAfter)
                self.abandon(key)
            }
        }
    }

    /// The session's output, in order, from the ssh client's output thread.
    func route(_ stream: Int32, _ bytes: [UInt8]) {
        var deliveries: [(Int32, [UInt8])] = []
        var finished: (Pending, Outcome)?
        var deliver: (@Sendable (Int32, [UInt8]) -> Void)?
        state.withLock { state in
            guard let pending = state.pending else {
                if let draining = state.draining {
                    // Under the lock: once `endDrain` returned, none is on its way to the step.
                    draining(stream, bytes)
                    return
                }
                if state.betweenBytes < Self.betweenLimit {
                    state.between.append((stream, bytes))
                    state.betweenBytes += bytes.count
                }
                return
            }
            deliver = pending.deliver
            let passed = bytes.withUnsafeBytes { stream == 2 ? pending.errors.feed($0) : pending.trailer.feed($0) }
            if !passed.isEmpty { deliveries.append((stream, passed)) }
            guard pending.trailer.ended && pending.errors.ended else { return }
            let result = pending.trailer.finish()
            state.pending = nil
            // What came after the markers belongs to later steps, but for a cancelled step's
            // group in its grace, which is still the step's.
            if pending.cancelled {
                state.draining = pending.deliver
                if !pending.trailer.overflow.isEmpty { deliveries.append((1, pending.trailer.overflow)) }
                if !pending.errors.overflow.isEmpty { deliveries.append((2, pending.errors.overflow)) }
            } else {
                if !pending.trailer.overflow.isEmpty { state.between.append((1, pending.trailer.overflow)) }
                if !pending.errors.overflow.isEmpty { state.between.append((2, pending.errors.overflow)) }
            }
            finished = (pending, .finished(status: result.status ?? 255, files: result.files))
        }
        if let deliver { for (stream, bytes) in deliveries { deliver(stream, bytes) } }
        if let (pending, outcome) = finished { pending.continuation.resume(returning: outcome) }
    }

    /// The session ended (or can no longer be used): the running step fails, and so do later ones.
    func end(_ why: String) {
        let pending = state.withLock { state -> Pending? in
            if state.broken == nil { state.broken = why }
            defer { state.pending = nil }
            return state.pending
        }
        guard let pending else { return }
        let rest = pending.trailer.finish().output
        if !rest.isEmpty { pending.deliver(1, rest) }
        let errors = pending.errors.finish()
        if !errors.isEmpty { pending.deliver(2, errors) }
        pending.continuation.resume(returning: .lost(state.withLock { $0.broken } ?? why))
    }

    /// A cancelled step is over: what comes now belongs to later steps. (It may wait for a
    /// delivery in progress, which waits for the console as the session's output thread does.)
    func endDrain() {
        state.withLock { $0.draining = nil }
    }

    /// A cancelled step whose markers did not come in time: stop waiting; the session is not
    /// used again (the helper may still be running it).
    func abandon(_ key: String) {
        let pending = state.withLock { state -> Pending? in
            guard let pending = state.pending, pending.key == key else { return nil }
            state.pending = nil
            state.broken = "a cancelled step did not end in time"
            return pending
        }
        pending?.continuation.resume(returning: .abandoned)
    }

    /// End the session: no more requests (the helper exits at the end of its input); wait up to
    /// `wait` for the ssh client to end, then end it.
    func close(wait: Duration) async {
        _ = state.withLock { state in
            if state.broken == nil { state.broken = "the job has finished" }
        }
        closeRequests()
        guard let run = task.withLock({ $0 }) else { return }
        let timer = Task.detached {
            try? await Task.sleep(for: wait)
            run.cancel()
        }
        await run.value
        timer.cancel()
    }
}
