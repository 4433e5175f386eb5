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
        var object: [String: Any] = ["ts": Self.timestamp()]
        func duration(_ value: Duration) -> Int {
            Int(value.components.seconds * 1000 + value.components.attoseconds / 1_000_000_000_000_000)
        }
        switch event {
        case .workflowStarted(let workflow, let runID):
            object["event"] = "workflow_started"; object["workflow"] = workflow; object["run_id"] = runID
        case .jobStarted(let job, let name):
            object["event"] = "job_started"; object["job"] = job; object["name"] = name
        case .stepStarted(let job, let step, let name):
            object["event"] = "step_started"; object["job"] = job; object["step"] = step; object["name"] = name
        case .output(let job, let step, let stream, let line):
            object["event"] = "output"; object["job"] = job; object["step"] = step; object["text"] = line
            object["stream"] = stream == 2 ? "stderr" : "stdout"
        case .stepFinished(let job, let step, let name, let outcome, let exitCode, let time):
            object["event"] = "step_finished"; object["job"] = job; object["step"] = step; object["name"] = name
            object["status"] = outcome.rawValue; object["exit_code"] = exitCode.map { $0 as Any } ?? NSNull(); object["duration_ms"] = duration(time)
        case .jobFinished(let job, let name, let outcome, let time, let failure):
            object["event"] = "job_finished"; object["job"] = job; object["name"] = name; object["status"] = outcome.rawValue
            object["duration_ms"] = duration(time)
            if let failure {
                object["failed_step"] = failure.stepName ?? NSNull()
                object["exit_code"] = failure.exitCode.map { $0 as Any } ?? NSNull()
                object["message"] = failure.message
            }
        case .workflowFinished(let workflow, let outcome, let time):
            object["event"] = "workflow_finished"; object["workflow"] = workflow; object["status"] = outcome.rawValue
            object["duration_ms"] = duration(time)
        case .message(let job, let level, let text):
            object["event"] = "message"; object["job"] = job ?? NSNull(); object["level"] = level.rawValue; object["text"] = text
        case .annotation(let annotation):
            object["event"] = "annotation"; object["job"] = annotation.job; object["step"] = annotation.step
            object["level"] = annotation.kind.rawValue; object["text"] = annotation.message
            object["file"] = annotation.file ?? NSNull(); object["line"] = annotation.line.map { $0 as Any } ?? NSNull()
        case .jobSummary(let job, let markdown):
            object["event"] = "job_summary"; object["job"] = job; object["text"] = markdown
        }
        guard let data = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { return }
        let line = String(decoding: data, as: UTF8.self) + "\n"
        lock.withLock { _ in write(line) }
    }

    static func timestamp() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
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
            files[job]?.write(Data((JSONLinesReporter.timestamp() + " " + line + "\n").utf8))
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
        if case .workflowStarted = event {} else { summary.report(event) }
        if case .workflowFinished = event {
            let text = summaryBuffer.text.withLock { $0 }
            // Only the table and what follows it belong in the summary file.
            let table = text.range(of: "\nJOB ").map { String(text[$0.lowerBound...]) } ?? text
            FileManager.default.createFile(atPath: directory + "/summary.md", contents: Data(("```\n" + table.trimmingCharacters(in: .newlines) + "\n```\n").utf8))
            files.withLock { files in for handle in files.values { try? handle.close() } }
        }
    }
}
