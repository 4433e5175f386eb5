import Foundation
import NixActionsPluginMessages

/// Runs one job: start it on its executor, run its steps in order, clean it up.
struct JobRunner: Sendable {
    let job: Job
    let workflow: Workflow
    let reporter: any RunReporter
    let options: RunOptions

    static let captureFiles = ["GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH", "GITHUB_STEP_SUMMARY"]

    func run(_ instances: ExecutorCache) async -> RunSummary.JobResult {
        let clock = ContinuousClock()
        let started = clock.now
        reporter.report(.jobStarted(job: job.id, name: job.displayName))
        let spec = JobSpec(jobKey: job.id, displayName: job.displayName)

        func finish(_ outcome: Outcome, _ failure: JobFailure?) -> RunSummary.JobResult {
            let duration = clock.now - started
            reporter.report(.jobFinished(job: job.id, name: job.displayName, outcome: outcome, duration: duration, failure: failure))
            return RunSummary.JobResult(id: job.id, name: job.displayName, outcome: outcome, failure: failure, duration: duration)
        }

        let executor: any Executor
        switch instances.executor(for: job.executor) {
        case .success(let made): executor = made
        case .failure(let error):
            reporter.report(.message(job: job.id, level: .error, text: error.description))
            return finish(.failure, JobFailure(message: error.message))
        }

        let jobStarted: JobStarted
        do {
            jobStarted = try await executor.startJob(spec)
        } catch {
            await executor.finishJob(spec)
            if error is CancellationError || Task.isCancelled { return finish(.cancelled, nil) }
            let message = "cannot start job '\(job.displayName)' on executor '\(job.executor.pluginID)': \(Self.describe(error))"
            reporter.report(.message(job: job.id, level: .error, text: message))
            return finish(.failure, JobFailure(message: message))
        }

        var outcome = Outcome.success
        var failure: JobFailure?
        var addedEnv: [String: String] = [:]
        var pathPrepend: [String] = []
        for step in job.steps {
            if Task.isCancelled {
                outcome = .cancelled
                break
            }
            if outcome != .success { break }
            let environment = stepEnvironment(step, started: jobStarted, added: addedEnv)
            let stepSpec = StepSpec(
                jobKey: job.id, index: step.index, displayName: step.displayName, script: step.run?.value ?? "",
                shell: Self.shell(step.shell?.value ?? job.defaults.shell?.value ?? workflow.defaults.shell?.value),
                scriptExtension: Self.scriptExtension(step.shell?.value ?? job.defaults.shell?.value ?? workflow.defaults.shell?.value),
                environment: environment,
                workingDirectory: step.workingDirectory?.value ?? job.defaults.workingDirectory?.value
                    ?? workflow.defaults.workingDirectory?.value,
                captureFiles: Self.captureFiles, pathPrepend: pathPrepend)
            reporter.report(.stepStarted(job: job.id, step: step.index, name: step.displayName))
            let stepStarted = clock.now
            let jobID = job.id, index = step.index, reporter = self.reporter
            let splitter = LineSplitter { stream, line in
                reporter.report(.output(job: jobID, step: index, stream: stream, line: line))
            }
            var stepOutcome = Outcome.success
            var exitCode: Int32?
            do {
                let result = try await executor.runStep(stepSpec, output: splitter)
                splitter.finish()
                exitCode = result.exitCode
                if !result.succeeded {
                    stepOutcome = .failure
                    if let signal = result.signal {
                        reporter.report(.message(job: job.id, level: .error, text: "step '\(step.displayName)' was killed by signal \(signal)"))
                    }
                }
                apply(result.files, env: &addedEnv, path: &pathPrepend)
            } catch {
                splitter.finish()
                if error is CancellationError || Task.isCancelled {
                    stepOutcome = .cancelled
                } else {
                    stepOutcome = .failure
                    reporter.report(.message(job: job.id, level: .error, text: "step '\(step.displayName)': \(Self.describe(error))"))
                }
            }
            reporter.report(.stepFinished(
                job: job.id, step: step.index, name: step.displayName, outcome: stepOutcome, exitCode: exitCode,
                duration: clock.now - stepStarted))
            if stepOutcome == .failure && !step.continueOnError {
                outcome = .failure
                failure = JobFailure(
                    stepIndex: step.index, stepName: step.displayName, exitCode: exitCode,
                    message: "step '\(step.displayName)' failed")
            } else if stepOutcome == .cancelled {
                outcome = .cancelled
            }
        }
        await executor.finishJob(spec)
        if outcome == .failure && job.continueOnError {
            reporter.report(.message(job: job.id, level: .warning, text: "job failed, allowed by continue-on-error"))
            return finish(.success, failure)
        }
        return finish(outcome, failure)
    }

    /// Environment of a step, lowest to highest precedence: workflow, job, step, run-time `--env`,
    /// values written to GITHUB_ENV by earlier steps; then the variables the runner defines.
    func stepEnvironment(_ step: Step, started: JobStarted, added: [String: String]) -> [String: String] {
        var environment: [String: String] = [:]
        for entry in workflow.env + job.env + step.env { environment[entry.name] = entry.value.value }
        environment.merge(options.environment) { _, new in new }
        environment.merge(added) { _, new in new }
        environment["CI"] = "true"
        environment["NIXACTIONS"] = "true"
        environment["GITHUB_ACTIONS"] = "true"
        environment["GITHUB_WORKSPACE"] = started.workspace
        environment["RUNNER_TEMP"] = started.temporaryDirectory
        environment["GITHUB_JOB"] = job.id
        environment["GITHUB_WORKFLOW"] = workflow.name
        environment["GITHUB_RUN_ID"] = options.runID
        environment["GITHUB_ACTION"] = step.id ?? "__run_\(step.index + 1)"
        return environment
    }

    /// Apply GITHUB_ENV and GITHUB_PATH written by a step to the steps after it.
    func apply(_ files: [String: String], env: inout [String: String], path: inout [String]) {
        if let text = files["GITHUB_ENV"] {
            for (name, value) in EnvFileParser.parse(text) { env[name] = value }
        }
        if let text = files["GITHUB_PATH"] {
            for line in text.split(separator: "\n") {
                let entry = line.trimmingCharacters(in: .whitespaces)
                if !entry.isEmpty { path.insert(entry, at: 0) }
            }
        }
    }

    static func describe(_ error: any Error) -> String {
        if let failure = error as? OperationFailure {
            return failure.error.hint.map { "\(failure.error.message)\n  hint: \($0)" } ?? failure.error.message
        }
        if let error = error as? EngineError { return error.description }
        return String(describing: error)
    }

    /// The command line for a `shell:` value (GitHub's templates; `{0}` is the script file).
    static func shell(_ name: String?) -> [String] {
        switch name {
        case nil, "bash": return ["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"]
        case "sh": return ["sh", "-e", "{0}"]
        case "python", "python3": return ["python3", "{0}"]
        case let custom?:
            let parts = custom.split(separator: " ").map(String.init)
            return parts.contains { $0.contains("{0}") } ? parts : parts + ["{0}"]
        }
    }

    static func scriptExtension(_ name: String?) -> String {
        switch name {
        case "python", "python3": return ".py"
        default: return ".sh"
        }
    }
}

/// Parses the `NAME=value` / `NAME<<DELIM` format of GITHUB_ENV and GITHUB_OUTPUT.
public enum EnvFileParser {
    public static func parse(_ text: String) -> [(String, String)] {
        var result: [(String, String)] = []
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map {
            $0.hasSuffix("\r") ? String($0.dropLast()) : String($0)
        }[...]
        while let line = lines.popFirst() {
            if line.isEmpty { continue }
            if let range = line.range(of: "<<"), !line[..<range.lowerBound].contains("=") {
                let name = String(line[..<range.lowerBound])
                let delimiter = String(line[range.upperBound...])
                var value: [String] = []
                while let next = lines.popFirst(), next != delimiter { value.append(next) }
                result.append((name, value.joined(separator: "\n")))
            } else if let equals = line.firstIndex(of: "=") {
                result.append((String(line[..<equals]), String(line[line.index(after: equals)...])))
            }
        }
        return result
    }
}
