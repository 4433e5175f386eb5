import ArgumentParser
import Foundation
import NixActionsEngine
import NixActionsPluginHost

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a workflow, or some of its jobs and what they need."
    )

    @Argument(help: "A workflow file, or a name in .nixactions/workflows/ or .github/workflows/.")
    var workflow: String

    @Argument(help: "Jobs to run (with the jobs they need). Default: all.")
    var jobs: [String] = []

    @Option(name: [.customShort("j"), .customLong("jobs")], help: "At most this many jobs at once (default: the number of cores).")
    var maxJobs: Int?

    @Option(name: .customLong("env"), help: "Set an environment variable for every step (NAME=VALUE); repeatable.")
    var env: [String] = []

    @Option(name: .customLong("env-file"), help: "Read NAME=VALUE lines for every step from a file; repeatable.")
    var envFiles: [String] = []

    func validate() throws {
        if let maxJobs, maxJobs < 1 { throw ValidationError("--jobs must be at least 1") }
        for entry in env where !entry.contains("=") {
            throw ValidationError("--env '\(entry)' must be NAME=VALUE")
        }
    }

    func run() async throws {
        let path: String
        switch WorkflowLocator.locate(workflow) {
        case .success(let found): path = found
        case .failure(let diagnostic):
            standardError(diagnostic.description + "\n")
            throw ExitCode(ExitStatus.usage)
        }
        let result = WorkflowLoader.load(file: path)
        for diagnostic in result.diagnostics where diagnostic.severity != .note {
            standardError(diagnostic.description + "\n")
        }
        guard let workflow = result.workflow, !result.hasErrors else {
            let count = result.diagnostics.filter { $0.severity == .error }.count
            standardError("nixactions: \(path): \(count) error\(count == 1 ? "" : "s"); nothing was run\n")
            throw ExitCode(ExitStatus.usage)
        }
        if !workflow.unsupported.isEmpty {
            for item in workflow.unsupported {
                let at = item.location.map { "\($0): " } ?? ""
                standardError("\(at)error: \(item.value) is not supported by this version of nixactions yet\n")
            }
            standardError("nixactions: refusing to run rather than ignore these keys\n")
            throw ExitCode(ExitStatus.usage)
        }
        for name in jobs where workflow.job(name) == nil {
            let hint = didYouMean(name, in: workflow.jobs.map(\.id)).map { "did you mean '\($0)'?" }
                ?? "jobs: \(workflow.jobs.map(\.id).joined(separator: ", "))"
            standardError(Diagnostic(.error, "workflow '\(workflow.name)' has no job '\(name)'", hint: hint).description + "\n")
            throw ExitCode(ExitStatus.usage)
        }
        var environment: [String: String] = [:]
        for file in envFiles {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                standardError("error: cannot read --env-file '\(file)'\n")
                throw ExitCode(ExitStatus.usage)
            }
            for (name, value) in EnvFileParser.parse(text) { environment[name] = value }
        }
        for entry in env {
            let parts = entry.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            environment[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
        }

        let registry = PluginRegistry.discover()
        let runID = Self.makeRunID()
        let runDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("nixactions-\(runID)")
        do {
            try FileManager.default.createDirectory(at: runDirectory, withIntermediateDirectories: true)
        } catch {
            standardError("error: cannot create the run directory \(runDirectory.path): \(error.localizedDescription)\n")
            throw ExitCode(ExitStatus.usage)
        }
        defer { try? FileManager.default.removeItem(at: runDirectory) }

        let options = RunOptions(
            selectedJobs: jobs, maxParallelJobs: maxJobs ?? ProcessInfo.processInfo.activeProcessorCount,
            runDirectory: runDirectory.path, projectDirectory: FileManager.default.currentDirectoryPath,
            runID: runID, environment: environment)
        let reporter = ConsoleReporter(style: isatty(STDOUT_FILENO) == 1 ? .human : .plain)
        let runner = WorkflowRunner(workflow: workflow, executors: registry, reporter: reporter, options: options)
        let summary = await CancellationOnSignal.run { await runner.run() }
        if summary.exitCode != 0 { throw ExitCode(summary.exitCode) }
    }

    static func makeRunID() -> String {
        let time = Int(Date().timeIntervalSince1970)
        return "\(time)-\(ProcessInfo.processInfo.processIdentifier)"
    }
}
