import Foundation
import Synchronization

/// Writes one JSON object per event per line: `ts`, `event`, `job`, `step`, and `text` for output,
/// `status`, `exit_code` and `duration_ms` where something finished.
public final class JSONLinesReporter: RunReporter {
    private let write: @Sendable (String) -> Void
    private let lock = Mutex<Void>(())

    public init(write: @escaping @Sendable (String) -> Void) {
        self.write = write
    }

    public func report(_ event: RunEvent) {
        var object = JSONObjectWriter()
        object.add("ts", Timestamp.now())
        func milliseconds(_ value: Duration) -> Int {
            Int(value.components.seconds * 1000 + value.components.attoseconds / 1_000_000_000_000_000)
        }
        switch event {
        case .workflowStarted(let workflow, let runID):
            object.add("event", "workflow_started"); object.add("workflow", workflow); object.add("run_id", runID)
        case .jobStarted(let job, let name):
            object.add("event", "job_started"); object.add("job", job); object.add("name", name)
        case .stepStarted(let job, let step, let name):
            object.add("event", "step_started"); object.add("job", job); object.add("step", step); object.add("name", name)
        case .output(let job, let step, let stream, let line):
            object.add("event", "output"); object.add("job", job); object.add("step", step)
            object.add("stream", stream == 2 ? "stderr" : "stdout"); object.add("text", line)
        case .stepFinished(let job, let step, let name, let outcome, let exitCode, let time):
            object.add("event", "step_finished"); object.add("job", job); object.add("step", step); object.add("name", name)
            object.add("status", outcome.rawValue); object.add("exit_code", exitCode.map(Int.init)); object.add("duration_ms", milliseconds(time))
        case .jobFinished(let job, let name, let outcome, let time, let failure):
            object.add("event", "job_finished"); object.add("job", job); object.add("name", name); object.add("status", outcome.rawValue)
            object.add("duration_ms", milliseconds(time))
            if let failure {
                object.add("failed_step", failure.stepName)
                object.add("exit_code", failure.exitCode.map(Int.init))
                object.add("message", failure.message)
            }
        case .workflowFinished(let workflow, let outcome, let time):
            object.add("event", "workflow_finished"); object.add("workflow", workflow); object.add("status", outcome.rawValue)
            object.add("duration_ms", milliseconds(time))
        case .message(let job, let level, let text):
            object.add("event", "message"); object.add("job", job); object.add("level", level.rawValue); object.add("text", text)
        case .annotation(let annotation):
            object.add("event", "annotation"); object.add("job", annotation.job); object.add("step", annotation.step)
            object.add("level", annotation.kind.rawValue); object.add("text", annotation.message)
            object.add("file", annotation.file); object.add("line", annotation.line)
        case .jobSummary(let job, let markdown):
            object.add("event", "job_summary"); object.add("job", job); object.add("text", markdown)
        }
        let line = object.finish() + "\n"
        lock.withLock { _ in write(line) }
    }
}

/// Keeps a run's logs in a folder: one `<job>.log` per job, `events.jsonl`, and `summary.md`.
///
/// The folder is made fresh (never an existing one) with mode 0700, its files with 0600. A write
/// that fails (a full disk) is reported once per file on standard error and the run goes on.
public final class LogDirectoryReporter: RunReporter {
    public let directory: String
    private let files = Mutex<[String: LogFile]>([:])
    private let eventsFile: LogFile
    private let events: JSONLinesReporter
    private let summary: ConsoleReporter
    private let onFailure: @Sendable (String) -> Void

    public init(directory: String, onFailure: @escaping @Sendable (String) -> Void = { StandardStreams.writeError("warning: \($0)\n") }) throws {
        self.directory = directory
        self.onFailure = onFailure
        let parent = (directory as NSString).deletingLastPathComponent
        if !parent.isEmpty { try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true) }
        guard mkdir(directory, 0o700) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        let eventsFile = try LogFile(path: directory + "/events.jsonl", onFailure: onFailure)
        self.eventsFile = eventsFile
        events = JSONLinesReporter { eventsFile.write($0) }  // JSONLinesReporter serialises its writes
        let buffer = TextBuffer()
        summary = ConsoleReporter(style: .plain) { line in buffer.text.withLock { $0 += line } }
        summaryBuffer = buffer
    }

    private let summaryBuffer: TextBuffer

    final class TextBuffer: Sendable {
        let text = Mutex<String>("")
    }

    func append(_ job: String, _ line: String) {
        files.withLock { files in
            if files[job] == nil {
                files[job] = try? LogFile(path: directory + "/" + job + ".log", onFailure: onFailure)
                if files[job] == nil { onFailure("cannot create the log file \(directory)/\(job).log: \(String(cString: strerror(errno)))") }
            }
            files[job]?.write(Timestamp.now() + " " + line + "\n")
        }
    }

    public func report(_ event: RunEvent) {
        events.report(event)
        switch event {
        case .output(let job, _, let stream, let line): append(job, (stream == 2 ? "[stderr] " : "") + line)
        case .stepStarted(let job, _, let name): append(job, "> \(name)")
        case .stepFinished(let job, _, let name, let outcome, let exitCode, _):
            append(job, "step '\(name)' \(outcome.rawValue)\(exitCode.map { " (exit code \($0))" } ?? "")")
        case .message(let job?, let level, let text): append(job, "\(level.rawValue): \(text)")
        case .annotation(let annotation): append(annotation.job, ConsoleReporter.describe(annotation))
        case .jobFinished(let job, _, let outcome, _, _): append(job, "job \(outcome.rawValue)")
        default: break
        }
        switch event {
        case .jobFinished, .annotation, .jobSummary, .workflowFinished: summary.report(event)
        default: break
        }
        if case .workflowFinished = event {
            let text = summaryBuffer.text.withLock { $0 }
            // Only the table and what follows it belong in the summary file.
            let table = text.range(of: "\nJOB ").map { String(text[$0.lowerBound...]) } ?? text
            if let file = try? LogFile(path: directory + "/summary.md", onFailure: onFailure) {
                file.write("```\n" + table.trimmingCharacters(in: .newlines) + "\n```\n")
                file.close()
            }
            files.withLock { files in for file in files.values { file.close() } }
            eventsFile.close()
        }
    }
}
