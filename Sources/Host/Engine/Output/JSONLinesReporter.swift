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
public final class LogDirectoryReporter: RunReporter {
    public let directory: String
    private let files = Mutex<[String: FileHandle]>([:])
    private let events: JSONLinesReporter
    private let summary: ConsoleReporter

    public init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let eventsPath = directory + "/events.jsonl"
        FileManager.default.createFile(atPath: eventsPath, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: eventsPath))
        events = JSONLinesReporter { handle.write(Data($0.utf8)) }
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
                let path = directory + "/" + job + ".log"
                FileManager.default.createFile(atPath: path, contents: nil)
                files[job] = FileHandle(forWritingAtPath: path)
            }
            files[job]?.write(Data((Timestamp.now() + " " + line + "\n").utf8))
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
            FileManager.default.createFile(atPath: directory + "/summary.md", contents: Data(("```\n" + table.trimmingCharacters(in: .newlines) + "\n```\n").utf8))
            files.withLock { files in for handle in files.values { try? handle.close() } }
        }
    }
}
