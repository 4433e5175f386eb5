import Foundation
import Testing
import TestSupport

/// What steps write is what the job logs hold, byte for byte: the job log and the `output`
/// events of `events.jsonl` that reference it give back each stream exactly.
@Suite("Output fidelity: job logs hold the bytes steps wrote")
struct OutputFidelityTests {
    /// A step that writes `seed`'s bytes to stdout and stderr, interleaved, and keeps copies.
    static func writer(seed: Int, marks: String, name: String, size: Int) -> String {
        """
        python3 - <<'PY'
        import os, random, sys
        r = random.Random(\(seed))
        out, err = bytearray(), bytearray()
        pieces = []
        # binary (NULs, invalid UTF-8, CR, lone newlines), short lines, a line over 64 KiB, no final newline
        pieces.append((1, bytes(r.getrandbits(8) for _ in range(\(size)))))
        pieces.append((2, b"err line\\n" * 3))
        pieces.append((1, b"".join(b"line %d\\n" % i for i in range(\(size / 20)))))
        pieces.append((2, bytes(r.getrandbits(8) for _ in range(\(size / 4)))))
        pieces.append((1, b"x" * 200000 + b"\\n"))
        pieces.append((1, b"  indented\\n::not-a-command::\\xff\\xfe\\n::group::kept as ok\\n"))
        pieces.append((2, b"tail without newline"))
        pieces.append((1, b"last without newline"))
        for stream, data in pieces:
            for i in range(0, len(data), 7919):
                part = data[i:i + 7919]
                os.write(stream, part)
                (out if stream == 1 else err).extend(part)
        open("\(marks)/\(name).out", "wb").write(out)
        open("\(marks)/\(name).err", "wb").write(err)
        PY
        """
    }

    @Test("binary output, long lines, interleaved stdout and stderr: the job log holds every byte")
    func binaryAndLongLines() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let script = Self.writer(seed: 7, marks: scenario.marks, name: "a", size: 300_000)
            .split(separator: "\n", omittingEmptySubsequences: false).map { "          " + $0 }.joined(separator: "\n")
        let result = try await scenario.run("jobs:\n  a:\n    steps:\n      - run: |\n\(script)\n")
        #expect(result.status == 0, "\(result.stderr)")
        let folder = try #require(scenario.logFolders().first)
        var expectedOut = [UInt8](try Data(contentsOf: URL(fileURLWithPath: scenario.marks + "/a.out")))
        let expectedErr = [UInt8](try Data(contentsOf: URL(fileURLWithPath: scenario.marks + "/a.err")))
        // The one workflow command in the output is shown as its group title, like on GitHub.
        let group = Array("::group::kept as ok\n".utf8)
        if let range = expectedOut.firstRange(of: group) { expectedOut.replaceSubrange(range, with: Array("▸ kept as ok\n".utf8)) }
        let out = try loggedOutput(folder: folder, job: "a", stream: "stdout")
        let err = try loggedOutput(folder: folder, job: "a", stream: "stderr")
        #expect(out.count == expectedOut.count)
        #expect(out == expectedOut, "stdout differs at byte \(zip(out, expectedOut).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(out.count, expectedOut.count))")
        #expect(err == expectedErr, "stderr differs")
    }

    @Test("a line without its newline goes on after a second of quiet (a piece; its rest follows), and a host killed with SIGKILL then keeps it in the job log (audit 54 M4)")
    func quietPartialLine() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              a:
                steps:
                  - run: printf 'waiting-for-it'; sleep 3; echo ' done'
            """, ["--log-format", "plain"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[a] waiting-for-it\n[a]  done\n"), "\(result.stdout)")
        let folder = try #require(scenario.logFolders().first)
        #expect(try loggedOutput(folder: folder, job: "a", stream: "stdout") == Array("waiting-for-it done\n".utf8))
        let events = try String(contentsOfFile: folder + "/events.jsonl", encoding: .utf8)
        #expect(events.components(separatedBy: "\"event\":\"output\"").count == 3, "two pieces: \(events)")

        // The host killed while the step waits: the piece is in the log, and the record says so
        // (the step's name, in the log first, does not hold the text it prints).
        let logs = scenario.temp.path + "/killed"
        try scenario.temp.write("kill.yml", "jobs:\n  k:\n    steps:\n      - run: printf 'prompt-%s' before-kill; sleep 300\n")
        let process = try LaunchedProcess([nixactionsBinary.path, "run", scenario.temp.path + "/kill.yml", "--log-dir", logs],
                                          in: scenario.project, environment: ProcessInfo.processInfo.environment)
        let shown = await eventually(timeout: .seconds(30)) {
            let folders = (try? FileManager.default.contentsOfDirectory(atPath: logs)) ?? []
            return folders.contains { (try? String(contentsOfFile: logs + "/\($0)/k.log", encoding: .utf8))?.contains("prompt-before-kill") ?? false }
        }
        #expect(shown, "the partial line never reached the job log while the step waited")
        process.signal(SIGKILL)
        process.wait()
        let folder2 = try #require((try FileManager.default.contentsOfDirectory(atPath: logs)).first.map { logs + "/" + $0 })
        let closed = await eventually(timeout: .seconds(30)) {
            ((try? String(contentsOfFile: folder2 + "/events.jsonl", encoding: .utf8)) ?? "").contains("\"event\":\"workflow_finished\"")
        }
        #expect(closed, "the supervisor did not close the run")
        let recorded = (try? String(contentsOfFile: folder2 + "/events.jsonl", encoding: .utf8)) ?? ""
        #expect(try loggedOutput(folder: folder2, job: "k", stream: "stdout") == Array("prompt-before-kill".utf8), "\(recorded)")

        // A line that keeps growing, never quiet for a second (a progress bar redrawn with \r):
        // it goes on once it has waited a second, so it is in the log before the host is killed
        // (audit 64 events M1: held to its newline, lost with a SIGKILL).
        let barLogs = scenario.temp.path + "/bar"
        try scenario.temp.write("bar.yml", "jobs:\n  b:\n    steps:\n      - run: while :; do printf '\\rprogress-%s' \"$(date +%N)\"; sleep 0.2; done\n")
        let bar = try LaunchedProcess([nixactionsBinary.path, "run", scenario.temp.path + "/bar.yml", "--log-dir", barLogs],
                                      in: scenario.project, environment: ProcessInfo.processInfo.environment)
        let barShown = await eventually(timeout: .seconds(30)) {
            let folders = (try? FileManager.default.contentsOfDirectory(atPath: barLogs)) ?? []
            return folders.contains { (try? String(contentsOfFile: barLogs + "/\($0)/b.log", encoding: .utf8))?.contains("\rprogress-") ?? false }
        }
        #expect(barShown, "a progress line that never rests never reached the job log while the step ran")
        bar.signal(SIGKILL)
        bar.wait()
    }

    @Test("busy output whose writes end mid-line for seconds: no line is cut in two on the console, and the events' ranges follow the log's order (review 64 M1, M2)")
    func busyOutputKeepsLines() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              a:
                steps:
                  - run: |
                      perl -e '$| = 1; my $s = join("", map { sprintf("line-%08d-abcdef\\n", $_) } 1..40000); print substr($s, 0, 10);
                        for my $i (0..249) { print substr($s, 10 + $i * 987, 987); print STDERR "err-$i\\n" if $i % 7 == 0; select(undef, undef, undef, 0.01) }'
                      echo
            """, ["--log-format", "plain"])
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").filter { $0.hasPrefix("[a] ") && !$0.hasPrefix("[a] >") && !$0.hasPrefix("[a] ✓") }
        let cut = lines.filter { line in
            line.range(of: #"^\[a\] (line-\d{8}-abcdef|err-\d+|)$"#, options: .regularExpression) == nil
        }
        // Lines of 21 bytes written 987 at a time after a first 10: every write ends mid-line, so a
        // line is always held. The last line may end mid-way (the step stops there); the `echo` ends it.
        #expect(cut.count <= 1, "\(cut.prefix(10))")
        let folder = try #require(scenario.logFolders().first)
        let events = try String(contentsOfFile: folder + "/events.jsonl", encoding: .utf8)
        var last = -1
        var ordered = true
        for line in events.split(separator: "\n") where line.contains("\"event\":\"output\"") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], let offset = object["offset"] as? Int else { continue }
            if offset < last { ordered = false }
            last = offset
        }
        #expect(ordered, "output events out of the log's order")
    }

    @Test("200 jobs printing at once: each job's log holds exactly its own bytes")
    func concurrentJobs() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        var yaml = "jobs:\n"
        for index in 0..<200 {
            yaml += "  j\(index):\n    steps:\n      - run: |\n"
            yaml += "          for i in $(seq 1 100); do echo \"job \(index) line $i\"; echo \"job \(index) err $i\" >&2; done\n"
            yaml += "          head -c 5000 /dev/urandom | tee \(scenario.marks)/j\(index).bin\n"
        }
        let result = try await scenario.run(yaml, ["--jobs", "200"])
        #expect(result.status == 0, "\(result.stderr.suffix(2000))")
        let folder = try #require(scenario.logFolders().first)
        let outputs = try loggedOutputs(folder: folder)
        for index in 0..<200 {
            let binary = [UInt8](try Data(contentsOf: URL(fileURLWithPath: scenario.marks + "/j\(index).bin")))
            let expectedOut = Array((1...100).map { "job \(index) line \($0)\n" }.joined().utf8) + binary
            let expectedErr = Array((1...100).map { "job \(index) err \($0)\n" }.joined().utf8)
            #expect(outputs["j\(index)"]?["stdout"] == expectedOut, "job \(index) stdout")
            #expect(outputs["j\(index)"]?["stderr"] == expectedErr, "job \(index) stderr")
        }
    }
}

extension Scenario {
    /// The run folders the scenario's runs left in `logs/`.
    func logFolders() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: logs)) ?? []).sorted().map { logs + "/" + $0 }
    }
}
