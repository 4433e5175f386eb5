import Foundation
@testable import NixActionsEngine
import Testing
import TestSupport

@Suite("UnfinishedRunEvents: the supervisor closes the events of a run whose host could not")
struct UnfinishedRunEventsTests {
    static let head = """
        {"ts":"2026-12-05T03:00:00.000Z","event":"workflow_started","format":"nixactions.events/1","workflow":"w \\"x\\"","run_id":"r"}
        {"ts":"2026-12-05T03:00:00.010Z","event":"job_started","job":"a","name":"A"}
        {"ts":"2026-12-05T03:00:00.010Z","event":"job_started","job":"b","name":"b"}
        {"ts":"2026-12-05T03:00:00.011Z","event":"job_started","job":"c","name":"c"}
        {"ts":"2026-12-05T03:00:00.020Z","event":"step_started","job":"a","step":0,"name":"first"}
        {"ts":"2026-12-05T03:00:00.020Z","event":"step_started","job":"b","step":0,"name":"only"}
        {"ts":"2026-12-05T03:00:00.030Z","event":"output","job":"a","step":0,"stream":"stdout","offset":0,"length":3,"lines":1}
        {"ts":"2026-12-05T03:00:00.040Z","event":"step_finished","job":"a","step":0,"name":"first","status":"success","exit_code":0,"duration_ms":20}
        {"ts":"2026-12-05T03:00:00.041Z","event":"step_started","job":"a","step":1,"name":"second"}
        {"ts":"2026-12-05T03:00:00.050Z","event":"step_finished","job":"c","step":0,"name":"x","status":"success","exit_code":0,"duration_ms":1}
        {"ts":"2026-12-05T03:00:00.051Z","event":"job_finished","job":"c","name":"c","status":"success","duration_ms":40}

        """

    @Test("the stream's closing events: a reader that does not read holds the writer at most its time; a file gets a line end first, though opened for writing only (review 65 H1, L1)")
    func streamWrites() throws {
        var ends: [Int32] = [0, 0]
        #expect(pipe(&ends) == 0)
        defer { close(ends[0]); close(ends[1]) }
        let clock = ContinuousClock()
        let began = clock.now
        UnfinishedRunEvents.writeStream(String(repeating: "x", count: 300_000), to: ends[1], within: .milliseconds(300))
        #expect(clock.now - began < .seconds(3), "held by a reader that never reads: \(clock.now - began)")
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let file = temp.path + "/stream.jsonl"
        try "{\"event\":\"output\",\"text\":\"cut mid-li".write(toFile: file, atomically: false, encoding: .utf8)
        let writing = open(file, O_WRONLY | O_APPEND)
        #expect(writing >= 0)
        UnfinishedRunEvents.writeStream("{\"event\":\"workflow_finished\"}\n", to: writing, within: .seconds(2))
        close(writing)
        #expect(try String(contentsOfFile: file, encoding: .utf8) == "{\"event\":\"output\",\"text\":\"cut mid-li\n{\"event\":\"workflow_finished\"}\n")
    }

    @Test("open steps and jobs are finished, then the run; a cut last line goes; a second close adds nothing")
    func closes() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let path = temp.path + "/events.jsonl"
        // A long line (more than the 1 MiB piece the file is read in) and a last line cut mid-write.
        let long = "{\"ts\":\"2026-12-05T03:00:00.060Z\",\"event\":\"message\",\"job\":\"a\",\"level\":\"info\",\"text\":\""
            + String(repeating: "y", count: 3 << 20) + "\"}\n"
        try (Self.head + long + "{\"ts\":\"2026-12-05T03:00:00.070Z\",\"event\":\"step_fini").write(toFile: path, atomically: false, encoding: .utf8)

        let appended = UnfinishedRunEvents.close(file: path, status: .failure, message: "the runner died")
        #expect(appended == 5)  // a's step 1, job a, b's step 0, job b, the run
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.hasSuffix("\n") && !text.contains("step_fini\""), "the cut line is gone")
        #expect(text.hasPrefix(Self.head + long))
        let state = try RunState.replay(text)
        #expect(state.status == "failure" && state.message == "the runner died" && state.workflow == "w \"x\"")
        #expect((state.durationMilliseconds ?? 0) > 0)
        let jobs = Dictionary(uniqueKeysWithValues: state.jobs.map { ($0.key, $0) })
        #expect(jobs["a"]?.status == "failure" && jobs["a"]?.message == "the runner died" && jobs["a"]?.name == "A")
        #expect(jobs["b"]?.status == "failure")
        #expect(jobs["c"]?.status == "success" && jobs["c"]?.message == nil, "a finished job is left as it was")
        #expect(jobs["a"]?.steps.map(\.status) == ["success", "failure"])
        #expect(jobs["b"]?.steps.map(\.status) == ["failure"])
        // The appended events are in the order a reader expects: a job's steps, then the job.
        let added = text.split(separator: "\n").suffix(5).compactMap { UnfinishedRunEvents.eventName(Array($0.utf8)[...]) }
        #expect(added == ["step_finished", "job_finished", "step_finished", "job_finished", "workflow_finished"])

        #expect(UnfinishedRunEvents.close(file: path, status: .failure, message: "again") == 0)
        #expect(try String(contentsOfFile: path, encoding: .utf8) == text)
    }

    @Test("what the open step wrote to its job's log after the last output event is referenced by one more output event, past the host's lines (audit 51 L6)")
    func recoversTheLogTail() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let path = temp.path + "/events.jsonl"
        try Self.head.write(toFile: path, atomically: false, encoding: .utf8)
        // a's log: step 0's output (the range the events know), host lines, then step 1's output
        // the host wrote before it died (no output event), the last line cut.
        let known = "ab\n"
        let host = "2026-12-05T03:00:00.040Z step 'first' success (exit code 0)\n2026-12-05T03:00:00.041Z > Run second\n"
        // Output lines that start with a timestamp of the host's form (a tool's own log): output
        // all the same, past the two host lines the events account for (audit 61 M2).
        let tail = "2026-12-05T03:00:00.042Z tool: out1\n2026-12-05 is output, not a host line\npart"
        try (known + host + tail).write(toFile: temp.path + "/a.log", atomically: false, encoding: .utf8)
        // b's log holds only its host line: nothing to reference.
        try "2026-12-05T03:00:00.020Z > Run only\n".write(toFile: temp.path + "/b.log", atomically: false, encoding: .utf8)

        #expect(UnfinishedRunEvents.close(file: path, status: .failure, message: "the runner died") == 6)
        let text = try String(contentsOfFile: path, encoding: .utf8)
        let added = text.split(separator: "\n").filter { $0.contains("\"recovered\":true") }
        #expect(added.count == 1, "\(text)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data((added.first ?? "").utf8)) as? [String: Any])
        let offset = Array((known + host).utf8).count, length = Array(tail.utf8).count
        #expect(object["job"] as? String == "a" && object["step"] as? Int == 1, "\(object)")
        #expect(object["offset"] as? Int == offset && object["length"] as? Int == length && object["lines"] as? Int == 2, "\(object)")
        let state = try RunState.replay(text)
        let steps = try #require(state.jobs.first { $0.key == "a" }).steps
        #expect(steps.count == 2 && steps[1].output.map(\.offset) == [offset], "\(steps)")
    }

    @Test("a start or end event longer than the pieces the file is read in is still read: a plan of many jobs, a step's and a job's large outputs")
    func longEvents() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let path = temp.path + "/events.jsonl"
        let big = String(repeating: "z", count: 3 << 20)
        // A plan whose details pass 1 MiB (d never starts), and b's step and job finishing with
        // outputs of 3 MiB each: b is done, a is open, d is not started.
        let planned = "{\"ts\":\"2026-12-05T03:00:00.001Z\",\"event\":\"planned\",\"jobs\":[\"a\",\"b\",\"c\",\"d\"],\"details\":["
            + "{\"job\":\"d\",\"id\":\"d\",\"name\":\"D \(big)\",\"needs\":[],\"matrix\":{}}]}\n"
        let finished = "{\"ts\":\"2026-12-05T03:00:00.080Z\",\"event\":\"step_finished\",\"job\":\"b\",\"step\":0,\"name\":\"only\","
            + "\"status\":\"success\",\"exit_code\":0,\"duration_ms\":60,\"id\":\"s\",\"outputs\":{\"o\":\"\(big)\"}}\n"
            + "{\"ts\":\"2026-12-05T03:00:00.081Z\",\"event\":\"job_finished\",\"job\":\"b\",\"name\":\"b\",\"status\":\"success\","
            + "\"duration_ms\":71,\"outputs\":{\"o\":\"\(big)\"}}\n"
        let lines = Self.head.split(separator: "\n", omittingEmptySubsequences: false)
        let text = lines[0] + "\n" + planned + lines[1...].joined(separator: "\n") + finished
        try text.write(toFile: path, atomically: false, encoding: .utf8)

        let appended = UnfinishedRunEvents.close(file: path, status: .failure, message: "the runner died")
        #expect(appended == 4)  // a's step 1, job a, d not started, the run
        let state = try RunState.replay(try String(contentsOfFile: path, encoding: .utf8))
        let jobs = Dictionary(uniqueKeysWithValues: state.jobs.map { ($0.key, $0) })
        #expect(jobs["b"]?.status == "success" && jobs["b"]?.steps.map(\.status) == ["success"] && jobs["b"]?.outputs["o"] == big)
        #expect(jobs["a"]?.status == "failure")
        #expect(jobs["d"]?.status == "cancelled" && jobs["d"]?.message == "not started: the runner died")
    }

    @Test("a second signal's run is cancelled; a finished run, a link and a missing file are left alone")
    func statusAndRefusals() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let path = temp.path + "/events.jsonl"
        try Self.head.write(toFile: path, atomically: false, encoding: .utf8)
        #expect(UnfinishedRunEvents.close(file: path, status: .cancelled, message: "stopped at once") == 5)
        let state = try RunState.replay(try String(contentsOfFile: path, encoding: .utf8))
        #expect(state.status == "cancelled" && state.jobs.filter { $0.status == "cancelled" }.map(\.key) == ["a", "b"])

        let finished = temp.path + "/finished.jsonl"
        let whole = Self.head + "{\"ts\":\"2026-12-05T03:00:01.000Z\",\"event\":\"workflow_finished\",\"workflow\":\"w\",\"status\":\"success\",\"duration_ms\":1000}\n"
        try whole.write(toFile: finished, atomically: false, encoding: .utf8)
        #expect(UnfinishedRunEvents.close(file: finished, status: .failure, message: "m") == 0)
        #expect(try String(contentsOfFile: finished, encoding: .utf8) == whole)

        let link = temp.path + "/link.jsonl"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: temp.path + "/other.jsonl")
        try Self.head.write(toFile: temp.path + "/other.jsonl", atomically: false, encoding: .utf8)
        #expect(UnfinishedRunEvents.close(file: link, status: .failure, message: "m") == 0)
        #expect(try String(contentsOfFile: temp.path + "/other.jsonl", encoding: .utf8) == Self.head, "never through a link")
        #expect(UnfinishedRunEvents.close(file: temp.path + "/missing.jsonl", status: .failure, message: "m") == 0)
    }

    @Test("jobs of the plan that never started are cancelled, matrix instances and called jobs in place of what stood for them")
    func planned() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let path = temp.path + "/events.jsonl"
        try """
            {"ts":"2026-12-05T03:00:00.000Z","event":"workflow_started","format":"nixactions.events/1","workflow":"w","run_id":"r"}
            {"ts":"2026-12-05T03:00:00.001Z","event":"planned","jobs":["a","s","c","d"]}
            {"ts":"2026-12-05T03:00:00.002Z","event":"job_started","job":"a","name":"a"}
            {"ts":"2026-12-05T03:00:00.003Z","event":"matrix_expanded","job":"s","jobs":["s-1","s-2"]}
            {"ts":"2026-12-05T03:00:00.004Z","event":"job_started","job":"c","name":"c"}
            {"ts":"2026-12-05T03:00:00.005Z","event":"call_started","job":"c","uses":"./x.yml","jobs":["c-x"]}
            {"ts":"2026-12-05T03:00:00.006Z","event":"job_finished","job":"s-1","name":"s (1)","status":"success","duration_ms":1}

            """.write(toFile: path, atomically: false, encoding: .utf8)
        #expect(UnfinishedRunEvents.close(file: path, status: .cancelled, message: "stopped") == 6)
        let state = try RunState.replay(try String(contentsOfFile: path, encoding: .utf8))
        #expect(state.order == ["a", "s-1", "s-2", "c", "c-x", "d"])
        let status = Dictionary(uniqueKeysWithValues: state.jobs.map { ($0.key, $0.status ?? "open") })
        #expect(status == ["a": "cancelled", "s-1": "success", "s-2": "cancelled", "c": "cancelled", "c-x": "cancelled", "d": "cancelled"])
        #expect(state.jobs.first { $0.key == "d" }?.message == "not started: stopped")
        #expect(state.jobs.first { $0.key == "a" }?.message == "stopped")
    }

    @Test("timestamps read back as the milliseconds they were written from")
    func timestamps() {
        for seconds in [0, 1_764_900_000, 1_796_000_123, 4_102_444_799] {
            for milli: Int32 in [0, 7, 999] {
                #expect(UnfinishedRunEvents.milliseconds(Timestamp.format(seconds: seconds, milliseconds: milli)) == seconds * 1000 + Int(milli))
            }
        }
        #expect(UnfinishedRunEvents.milliseconds("2026-12-05T03:00:00Z") == nil)
        #expect(UnfinishedRunEvents.milliseconds("2026-12-05T03:00:0x.000Z") == nil)
    }

    @Test("a replay ignores a last line still being written, not a broken line before it")
    func replayOfALiveFile() throws {
        let state = try RunState.replay(Self.head + "{\"ts\":\"2026-12-05T03:00")
        #expect(state.jobs.count == 3)
        #expect(throws: RunState.ReplayError.notJSON(line: 12)) { try RunState.replay(Self.head + "{\"ts\":\n") }
    }
}
