import Foundation
import Synchronization

/// A command run to its end with what it printed kept: how executors drive `podman`, `ssh`, `tar`.
public struct CapturedCommand: Sendable {
    public var status: Int32
    public var output: [UInt8]
    /// The command's own error line when it printed one (`Error: …`, after podman's warnings and
    /// retries), else its last two lines of standard error.
    public var errorText: String

    /// True when `limit` passed and ended the command (`status` is then its signal's).
    public var expired = false

    public var outputText: String { String(decoding: output, as: UTF8.self) }

    /// Run `arguments` to its end. `limit`: the most it may take; past it, the command's process
    /// group gets SIGTERM, and SIGKILL after `grace` (`expired` is then true).
    ///
    /// `finishAfterCancel`: a cancel of the calling task does not end the command at once (as it
    /// does without it) but lets it finish within this long, then ends it as `limit` would: for a
    /// command that leaves a half-made thing when stopped midway (`podman run -d` between its
    /// container's creation and its start: audit 65 cancel M1).
    public static func run(_ arguments: [String], environment: [String: String], limit: Duration? = nil,
                           grace: Duration = .seconds(2), finishAfterCancel: Duration? = nil) async throws(SpawnError) -> CapturedCommand {
        let output = Mutex<[UInt8]>([]), errors = Mutex<[UInt8]>([])
        let timer = Mutex<ChildTimeLimit?>(nil)
        // After a cancel (finishAfterCancel): the child, once started, and whether the cancel came.
        let shielded = Mutex<(child: ChildProcess?, cancelled: Bool, limit: ChildTimeLimit?)>((nil, false, nil))
        let start: @Sendable (ChildProcess) -> Void = { child in
            if let limit { timer.withLock { $0 = ChildTimeLimit(child, limit: limit, grace: grace) } }
            guard let finishAfterCancel else { return }
            shielded.withLock { state in
                state.child = child
                if state.cancelled { state.limit = ChildTimeLimit(child, limit: finishAfterCancel, grace: grace) }
            }
        }
        let collect: @Sendable (Int32, UnsafeRawBufferPointer) -> Void = { stream, bytes in
            if stream == 2 { errors.withLock { $0 += bytes } } else { output.withLock { $0 += bytes } }
        }
        let termination: Termination
        if let finishAfterCancel {
            // In a task of its own, which a cancel of this one does not reach.
            let running = Task { () async -> Result<Termination, SpawnError> in
                do throws(SpawnError) {
                    return .success(try await runProcess(arguments: arguments, environment: environment, directory: nil, onStart: start, onOutput: collect))
                } catch {
                    return .failure(error)
                }
            }
            let result = await withTaskCancellationHandler {
                await running.value
            } onCancel: {
                shielded.withLock { state in
                    state.cancelled = true
                    if let child = state.child { state.limit = ChildTimeLimit(child, limit: finishAfterCancel, grace: grace) }
                }
            }
            shielded.withLock { _ = $0.limit?.end() }
            termination = try result.get()
        } else {
            termination = try await runProcess(arguments: arguments, environment: environment, directory: nil, onStart: start, onOutput: collect)
        }
        let expired = timer.withLock { $0?.end() } ?? false
        let status = termination.exitStatus
        // Lines by any line break: ssh ends its own with CR LF, which showed as a literal `\r` in
        // warnings (audit 66 remote L3). Nothing said: the status says it.
        let lines = String(decoding: errors.withLock { $0 }, as: UTF8.self).split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        var errorText = lines.last { $0.hasPrefix("Error:") } ?? lines.suffix(2).joined(separator: " ")
        if errorText.isEmpty && status != 0 {
            let name = arguments.first.map { String($0.split(separator: "/").last ?? "") } ?? "the command"
            switch termination {
            case .signaled(let signal): errorText = "\(name) was ended by signal \(signal)"
            case .exited(let code): errorText = "\(name) exited with status \(code) and said nothing"
            }
        }
        return CapturedCommand(status: status, output: output.withLock { $0 }, errorText: errorText, expired: expired)
    }
}

/// Ends a cancelled step that runs through another program (a container engine's `exec`, `ssh`),
/// as the local executor ends its own: SIGTERM (and SIGCONT) to the process group whose leader's
/// pid the step's wrapper wrote to `pidFile` (to that process alone when it leads no group), then
/// SIGKILL to it once `grace` has passed while a member is still alive. One command there does it
/// all (`script`), so the pid is read once, before the wrapper's end removes the file. Killing the
/// local client alone would leave the step running.
///
/// The step is over when `waitEnded` returns: its whole group gone, or killed after the grace.
/// Before, the step was reported ended when its shell was, and a member that ignored SIGTERM ran
/// on beside the job's next steps (ssh) or for good (oci: the pid file was gone by the SIGKILL;
/// audit 66 remote M1).
public final class GroupSignaller: Sendable {
    /// The command that runs one shell command line there (`podman exec NAME /bin/sh -c`, `ssh … HOST`).
    public let prefix: [String]
    public let pidFile: String
    public let grace: Duration
    public let environment: [String: String]
    /// Whether the command `prefix` runs is read by a login shell (ssh's remote command): the
    /// script then goes to `/bin/sh -c`, as zsh or fish would read it otherwise (review 67: zsh
    /// did not split a /proc line, and the member that ignored SIGTERM was never killed).
    public let loginShell: Bool
    /// When `start` ran, whether its command ended, and the step that waits for that.
    private let state = Mutex<(started: ContinuousClock.Instant?, ended: Bool, waiter: CheckedContinuation<Void, Never>?)>((nil, false, nil))

    public init(prefix: [String], pidFile: String, grace: Duration, environment: [String: String], loginShell: Bool = false) {
        self.prefix = prefix
        self.pidFile = pidFile
        self.grace = grace
        self.environment = environment
        self.loginShell = loginShell
    }

    /// The shell command that signals the group and waits for it (POSIX sh). A member is alive
    /// while the group can be signalled and /proc shows one that is not a zombie (a container's
    /// first process may not reap for a while); without /proc, while `kill -0` reaches the group.
    /// The grace is counted in ticks of 0.1 s, and bounded by wall time however slow a scan of
    /// /proc is on a busy host (`date`, whole seconds: one more than the grace, or a grace of 1 s
    /// that started late in a second ended at once). A cancel that comes before the wrapper wrote
    /// its pid waits for it, within the grace.
    var script: String {
        let tenths = Int(grace.components.seconds) * 10 + Int(grace.components.attoseconds / 100_000_000_000_000_000)
        let seconds = (tenths + 9) / 10
        return """
            end=$(( $(date +%s) + \(seconds + 1) )); i=0
            over() { [ "$i" -ge \(tenths) ] || [ "$(date +%s)" -ge "$end" ]; }
            tick() { if sleep 0.1 2>/dev/null; then i=$((i+1)); else sleep 1; i=$((i+10)); fi; }
            until read -r pid rest < \(ShellWords.quote(pidFile)) 2>/dev/null && [ -n "$pid" ]; do over && exit 0; tick; done
            send() { kill -"$1" -"$pid" 2>/dev/null || kill -"$1" "$pid" 2>/dev/null; }
            send TERM; send CONT
            alive() {
              kill -0 -"$pid" 2>/dev/null || kill -0 "$pid" 2>/dev/null || return 1
              [ -r /proc/self/stat ] || return 0
              for f in /proc/[0-9]*/stat; do
                { read -r line < "$f"; } 2>/dev/null || continue
                set -- ${line##*) }
                [ "$1" != Z ] && { [ "$3" = "$pid" ] || [ "$f" = "/proc/$pid/stat" ]; } && return 0
              done
              return 1
            }
            while alive && ! over; do tick; done
            # SIGKILL is delivered as the members are next scheduled: gone (or zombies) within a second.
            if alive; then send KILL; i=0; while [ "$i" -lt 10 ] && alive; do sleep 0.1 2>/dev/null || sleep 1; i=$((i+1)); done; fi
            true
            """
    }

    /// Signal the group now and wait for it there, on a thread of its own.
    public func start() {
        let first = state.withLock { state -> Bool in
            guard state.started == nil else { return false }
            state.started = .now
            return true
        }
        guard first else { return }
        let command = loginShell ? ["exec /bin/sh -c " + ShellWords.quote(script)] : [script]
        Thread.detachNewThread { [self] in
            _ = try? ChildProcess(arguments: prefix + command, environment: environment, directory: nil).wait(onOutput: { _, _ in })
            state.withLock { state -> CheckedContinuation<Void, Never>? in
                state.ended = true
                defer { state.waiter = nil }
                return state.waiter
            }?.resume()
        }
    }

    /// Whether the step is over as `waitEnded(limit:)` would say it, without waiting: `start` never
    /// ran, or its command ended, or `limit` has passed since `start`.
    public func hasEnded(limit: Duration) -> Bool {
        state.withLock { state in
            guard let started = state.started else { return true }
            return state.ended || ContinuousClock.now - started >= limit
        }
    }

    /// Once `start` ran: until its command ended (the group gone, or killed after the grace), at
    /// most `limit` after `start` (a host or engine that does not answer must not hold the step
    /// for good). At once when it did not run (the step was not cancelled). One caller.
    public func waitEnded(limit: Duration) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let left = state.withLock { state -> Duration? in
                guard let started = state.started, !state.ended else { return nil }
                let left = limit - (ContinuousClock.now - started)
                guard left > .zero else { return nil }
                state.waiter = continuation
                return left
            }
            guard let left else { return continuation.resume() }
            let nanoseconds = left.components.seconds * 1_000_000_000 + left.components.attoseconds / 1_000_000_000
            DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) { [self] in
                state.withLock { state -> CheckedContinuation<Void, Never>? in
                    defer { state.waiter = nil }
                    return state.waiter
                }?.resume()
            }
        }
    }
}
