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
        let lines = String(decoding: errors.withLock { $0 }, as: UTF8.self).split(separator: "\n").map(String.init)
        let errorText = (lines.last { $0.hasPrefix("Error:") } ?? lines.suffix(2).joined(separator: " "))
            .trimmingCharacters(in: .whitespaces)
        return CapturedCommand(status: status, output: output.withLock { $0 }, errorText: errorText, expired: expired)
    }
}

/// Ends a cancelled step that runs through another program (a container engine's `exec`, `ssh`):
/// SIGTERM to the process group whose leader's pid the step's wrapper wrote to `pidFile` (to that
/// process alone when it leads no group), SIGKILL after `grace`. Killing the local client alone would leave the step running.
public struct GroupSignaller: Sendable {
    /// The command that runs one shell command line there (`podman exec NAME /bin/sh -c`, `ssh … HOST`).
    public let prefix: [String]
    public let pidFile: String
    public let grace: Duration
    public let environment: [String: String]

    public init(prefix: [String], pidFile: String, grace: Duration, environment: [String: String]) {
        self.prefix = prefix
        self.pidFile = pidFile
        self.grace = grace
        self.environment = environment
    }

    /// SIGTERM now, SIGKILL after the grace time, on a thread of its own.
    public func start() {
        let signaller = self
        Thread.detachNewThread {
            signaller.signal("TERM")
            Thread.sleep(forTimeInterval: Double(signaller.grace.components.seconds) + Double(signaller.grace.components.attoseconds) / 1e18)
            signaller.signal("KILL")
        }
    }

    func signal(_ name: String) {
        // After SIGTERM a SIGCONT: a stopped step (`kill -STOP $$`) would otherwise only wait for
        // the SIGKILL, its handler never run (audit 66 hardening L7; systemd does the same).
        let resume = name == "TERM" ? " && { kill -CONT -\"$pid\" || kill -CONT \"$pid\"; }" : ""
        let command = "read -r pid rest < \(ShellWords.quote(pidFile)) 2>/dev/null && [ -n \"$pid\" ] && { kill -\(name) -\"$pid\" || kill -\(name) \"$pid\"; }\(resume) 2>/dev/null; true"
        _ = try? ChildProcess(arguments: prefix + [command], environment: environment, directory: nil).wait(onOutput: { _, _ in })
    }
}
