import CNixActionsPlugin
import Foundation
import NixActionsPluginKit
import NixActionsPluginMessages
import Synchronization

@_cdecl("nixactions_plugin_entry")
public func nixactionsPluginEntry(
    _ host: UnsafePointer<nxa_host_info>?,
    _ out: UnsafeMutablePointer<UnsafePointer<nxa_plugin>?>?,
    _ error: UnsafeMutablePointer<nxa_error>?
) -> nxa_status {
    PluginExport.entry(
        PluginDeclaration(
            id: "test-double", name: "Test double executor", version: "0.1.0",
            description: "Interprets a tiny command language instead of running processes (for tests)",
            executor: TestDoubleExecutor.self),
        host: host, out: out, error: error)
}

/// An executor for tests, driven by the step's script instead of a shell (like woodpecker's
/// dummy backend). One command per line:
///
///     echo TEXT          TEXT and a newline on stdout
///     stderr TEXT        TEXT and a newline on stderr
///     sleep SECONDS      wait (cancellable)
///     exit CODE          end the step with CODE
///     file NAME LINE     append LINE to the capture file NAME (GITHUB_OUTPUT, GITHUB_ENV, …)
///     printenv NAME      print the step's value of NAME
///     secret VALUE       register VALUE with the host's redactor
///     fail MESSAGE       fail the operation itself (machinery failure, not a step exit)
///     hang SECONDS       wait, ignoring cancellation (an executor that does not stop)
///
/// Options: `fail-start` (a job key whose start fails), `journal` (a file that receives one line
/// per lifecycle call: `start KEY`, `step KEY INDEX`, `finish KEY`, and `finished KEY` or
/// `finish cancelled KEY` after a `slow-finish`), `slow-finish` (seconds `finishJob` takes),
/// `deadlines` (true: each lifecycle line is followed by `deadline OPERATION S`, the whole seconds
/// left before the operation's `op_deadline`, or `none`), `slow-start` (seconds `startJob` takes,
/// cancellable; `start cancelled KEY` when cancelled or past its deadline), `busy-starts` (how
/// many times each job's start answers "no room now" with `retryAfterSeconds` 0.05 before it
/// succeeds; each answer is journaled as `busy KEY SECONDS`, the seconds since the job's first
/// try), `job-output` (true: `startJob` writes two lines to stdout, the second in two pieces, and
/// one without its newline to stderr; `finishJob` one line).
final class TestDoubleExecutor: ExecutorPlugin {
    let failStart: String?
    let journal: String?
    let slowFinish: Double
    let slowStart: Double
    let busyStarts: Int
    let deadlines: Bool
    let jobOutput: Bool
    let lock = Mutex<Void>(())
    /// Per job key: the first try's time and the "no room now" answers so far (`busy-starts`).
    let busy = Mutex<[String: (first: ContinuousClock.Instant, answers: Int)]>([:])

    init(configuration: ExecutorConfiguration, host: HostServices) throws {
        failStart = configuration.options["fail-start"]?.stringValue
        journal = configuration.options["journal"]?.stringValue
        if case .number(let seconds)? = configuration.options["slow-finish"] { slowFinish = seconds } else { slowFinish = 0 }
        if case .number(let seconds)? = configuration.options["slow-start"] { slowStart = seconds } else { slowStart = 0 }
        if case .number(let count)? = configuration.options["busy-starts"] { busyStarts = Int(count) } else { busyStarts = 0 }
        if case .bool(true)? = configuration.options["deadlines"] { deadlines = true } else { deadlines = false }
        if case .bool(true)? = configuration.options["job-output"] { jobOutput = true } else { jobOutput = false }
        if configuration.options["fail-create"] != nil {
            throw OperationFailure(message: "test double configured to fail on create")
        }
    }

    func record(_ line: String) {
        guard let journal else { return }
        lock.withLock { _ in
            if let handle = FileHandle(forWritingAtPath: journal) {
                handle.seekToEndOfFile()
                handle.write(Data((line + "\n").utf8))
                handle.closeFile()
            } else {
                FileManager.default.createFile(atPath: journal, contents: Data((line + "\n").utf8))
            }
        }
    }

    /// `deadline OPERATION S` (with the `deadlines` option).
    func recordDeadline(_ operation: String, _ context: OperationContext) {
        guard deadlines else { return }
        record("deadline \(operation) " + (context.host.remainingSeconds(context.id).map { String(Int($0.rounded())) } ?? "none"))
    }

    func startJob(_ job: JobSpec, context: OperationContext) async throws -> JobStarted {
        record("start \(job.jobKey)")
        recordDeadline("start", context)
        if job.jobKey == failStart {
            throw OperationFailure(message: "test double refused to start job '\(job.jobKey)'")
        }
        if busyStarts > 0 {
            let now = ContinuousClock.now
            let (first, answers) = busy.withLock { table -> (ContinuousClock.Instant, Int) in
                var entry = table[job.jobKey] ?? (now, 0)
                entry.answers += 1
                table[job.jobKey] = entry
                return (entry.first, entry.answers)
            }
            if answers <= busyStarts {
                let seconds = Double((now - first).components.attoseconds) / 1e18 + Double((now - first).components.seconds)
                record("busy \(job.jobKey) " + String(format: "%.3f", seconds))
                throw OperationFailure(message: "no room for job '\(job.jobKey)' yet", retryAfterSeconds: 0.05)
            }
        }
        if jobOutput {
            context.write("setting up \(job.jobKey)\npulled ")
            context.write("image secret-pull-token\n")
            context.write("a last line without its newline", to: .stderr)
        }
        if slowStart > 0 {
            do {
                try await Task.sleep(for: .milliseconds(Int(slowStart * 1000)))
            } catch {
                record("start cancelled \(job.jobKey)")
                throw error
            }
        }
        return JobStarted(workspace: "/test-double/\(job.jobKey)", temporaryDirectory: "/test-double/tmp")
    }

    func runStep(_ step: StepSpec, context: OperationContext) async throws -> StepResult {
        record("step \(step.jobKey) \(step.index)")
        recordDeadline("step", context)
        var files: [String: String] = [:]
        for name in step.captureFiles { files[name] = "" }
        for rawLine in step.script.split(separator: "\n", omittingEmptySubsequences: true) {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            let (command, argument) = split(line)
            switch command {
            case "echo": context.write(argument + "\n")
            case "stderr": context.write(argument + "\n", to: .stderr)
            case "sleep": try await Task.sleep(for: .milliseconds(Int((Double(argument) ?? 0) * 1000)))
            case "exit": return StepResult(exitCode: Int32(argument) ?? 1, files: files)
            case "file":
                let (name, value) = split(argument)
                files[name, default: ""] += value + "\n"
            case "printenv": context.write((step.environment[argument] ?? "") + "\n")
            case "secret": context.host.registerSecret(argument)
            case "fail": throw OperationFailure(message: argument)
            case "hang":
                let until = ContinuousClock.now + .milliseconds(Int((Double(argument) ?? 0) * 1000))
                while ContinuousClock.now < until { try? await Task.sleep(for: .milliseconds(50)) }
            case "": continue
            default:
                context.write("test-double: unknown command '\(command)'\n", to: .stderr)
                return StepResult(exitCode: 127, files: files)
            }
        }
        return StepResult(exitCode: 0, files: files)
    }

    func finishJob(_ job: JobSpec, context: OperationContext) async throws {
        record("finish \(job.jobKey)")
        if jobOutput { context.write("removed the workspace of \(job.jobKey)\n") }
        recordDeadline("finish", context)
        guard slowFinish > 0 else { return }
        do {
            try await Task.sleep(for: .milliseconds(Int(slowFinish * 1000)))
            record(context.isCancelled ? "finish cancelled \(job.jobKey)" : "finished \(job.jobKey)")
        } catch {
            record("finish cancelled \(job.jobKey)")
        }
    }

    private func split(_ text: String) -> (String, String) {
        guard let space = text.firstIndex(of: " ") else { return (text, "") }
        return (String(text[..<space]), String(text[text.index(after: space)...]))
    }
}
