import Foundation
import Synchronization
@testable import NixActionsEngine
import Testing
import TestSupport

/// A job's log is made and closed on the flusher thread (`BufferedWriter.init(opening:)`,
/// `closeSoon`); nothing a job writes may be lost or reordered by that.
@Suite("Log folder: job logs made and closed off the jobs' path")
struct LogDirectoryReporterTests {
    @Test("lines after a job's end (before its log was closed) follow its last line; every log is whole at the run's end")
    func linesAfterTheEnd() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = temp.path + "/run"
        let reporter = try LogDirectoryReporter(directory: folder)
        for job in ["a", "b"] {
            reporter.report(.jobStarted(job: job, name: job))
            reporter.report(.stepStarted(job: job, step: 0, name: "Run true"))
            Array("out of \(job)\n".utf8).withUnsafeBytes { reporter.output(OutputChunk(job: job, step: 0, stream: 1, bytes: $0, lines: 1)) }
            reporter.report(.stepFinished(job: job, step: 0, name: "Run true", outcome: .success, exitCode: 0, duration: .zero))
            reporter.report(.jobFinished(job: job, name: job, outcome: .success, duration: .zero, failure: nil))
        }
        // Straight after a's end, while its log may still wait for the flusher.
        reporter.report(.message(job: "a", level: .warning, text: "after the end"))
        reporter.report(.workflowFinished(workflow: "w", outcome: .success, duration: .zero))
        // Host lines start with a timestamp; output is kept as written.
        let a = try String(contentsOfFile: folder + "/a.log", encoding: .utf8).split(separator: "\n")
            .map { $0.hasPrefix("out") ? String($0) : String($0.drop { $0 != " " }.dropFirst()) }
        #expect(a == ["> Run true", "out of a", "step 'Run true' success (exit code 0)", "job success", "warning: after the end"], "\(a)")
        let b = try String(contentsOfFile: folder + "/b.log", encoding: .utf8)
        #expect(b.hasSuffix(" job success\n") && b.contains("out of b\n"), "\(b)")
        // The output offsets in events.jsonl point at the bytes in the log.
        let events = try String(contentsOfFile: folder + "/events.jsonl", encoding: .utf8)
        let output = try #require(events.split(separator: "\n").first { $0.contains("\"event\":\"output\"") && $0.contains("\"job\":\"b\"") })
        let object = try #require(JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any])
        let offset = try #require(object["offset"] as? Int), length = try #require(object["length"] as? Int)
        let bytes = Array(b.utf8)
        #expect(String(decoding: bytes[offset..<(offset + length)], as: UTF8.self) == "out of b\n")
    }

    @Test("a signal after the run's end is recorded after workflow_finished, and the replayed record's exit status is 130 (audit 48: it said success)")
    func signalAfterTheEnd() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = temp.path + "/run"
        let reporter = try LogDirectoryReporter(directory: folder)
        reporter.report(.workflowStarted(workflow: "w", runID: "r"))
        reporter.report(.jobStarted(job: "a", name: "a"))
        reporter.report(.jobFinished(job: "a", name: "a", outcome: .success, duration: .zero, failure: nil))
        reporter.report(.workflowFinished(workflow: "w", outcome: .success, duration: .zero))
        #expect(reporter.isFinished)
        var state = try RunState.replay(try String(contentsOfFile: folder + "/events.jsonl", encoding: .utf8))
        #expect(state.exitStatus == 0)
        reporter.report(.message(job: nil, level: .warning, text: "the run received signal 2 (SIGINT) after it finished: if it succeeded, its exit status is 130"))
        let text = try String(contentsOfFile: folder + "/events.jsonl", encoding: .utf8)
        #expect(text.hasSuffix("its exit status is 130\"}\n"), "\(text)")
        state = try RunState.replay(text)
        #expect(state.status == "success" && state.signalled && state.exitStatus == 130)
        // A run stopped before any job (a secret it could not read) exited 2; a failed one 1.
        let early = try RunState.replay("""
            {"ts":"2026-12-05T12:00:00.000Z","event":"workflow_started","format":"nixactions.events/1","workflow":"w","run_id":"r"}
            {"ts":"2026-12-05T12:00:00.001Z","event":"workflow_finished","workflow":"w","status":"failure","duration_ms":0}

            """)
        #expect(early.exitStatus == 2)
        let failed = try RunState.replay("""
            {"ts":"2026-12-05T12:00:00.000Z","event":"workflow_started","format":"nixactions.events/1","workflow":"w","run_id":"r"}
            {"ts":"2026-12-05T12:00:00.001Z","event":"job_started","job":"a","name":"a"}
            {"ts":"2026-12-05T12:00:00.002Z","event":"job_finished","job":"a","name":"a","status":"failure","duration_ms":1}
            {"ts":"2026-12-05T12:00:00.003Z","event":"message","job":null,"level":"warning","text":"the run received signal 2 (SIGINT) after it finished: if it succeeded, its exit status is 130"}
            {"ts":"2026-12-05T12:00:00.004Z","event":"workflow_finished","workflow":"w","status":"failure","duration_ms":4}

            """)
        #expect(failed.exitStatus == 1)
        // A job that failed without a failed step (its time limit) has all three failure fields.
        let line = Mutex("")
        JSONLinesReporter(write: { text in line.withLock { $0 += text } })
            .report(.jobFinished(job: "t", name: "t", outcome: .failure, duration: .zero, failure: JobFailure(message: "job 't' timed out after 2s")))
        let finishedLine = line.withLock { $0 }
        #expect(finishedLine.contains("\"failed_step\":null") && finishedLine.contains("\"failed_step_index\":null")
                && finishedLine.contains("\"exit_code\":null"), "\(finishedLine)")
        // A job's message after the end is not the run's: not appended.
        reporter.report(.message(job: "a", level: .warning, text: "late"))
        #expect(try String(contentsOfFile: folder + "/events.jsonl", encoding: .utf8) == text)
    }
}

@Suite("JSONLinesReporter: the json console's output objects")
struct JSONLinesReporterTests {
    @Test("one object per line, without its newline; a piece of a line says partial (audit 51: a cut line looked whole)")
    func partialLines() throws {
        let written = Mutex("")
        let reporter = JSONLinesReporter(write: { text in written.withLock { $0 += text } })
        Array("one\ntwo\n".utf8).withUnsafeBytes { reporter.output(OutputChunk(job: "a", step: 0, stream: 1, bytes: $0, lines: 2)) }
        Array("no newline".utf8).withUnsafeBytes { reporter.output(OutputChunk(job: "a", step: 0, stream: 2, bytes: $0, lines: 0)) }
        let objects = try written.withLock { $0 }.split(separator: "\n").map {
            try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any])
        }
        #expect(objects.map { $0["text"] as? String } == ["one", "two", "no newline"])
        #expect(objects.map { $0["partial"] as? Bool } == [nil, nil, true])
        #expect(objects.last?["stream"] as? String == "stderr")
    }
}
