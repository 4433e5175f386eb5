import Foundation
import Testing
import TestSupport

/// One end-to-end scenario: a workflow file in a fresh temporary folder, run through the built
/// `nixactions` binary.
///
/// Layout of the folder:
/// - `project/` is the run's working directory (the project every job's workspace is a copy of);
///   it stays empty so that copies are cheap.
/// - `marks/` is where steps leave marker files for each other and for the test (absolute path,
///   outside every workspace, passed to the workflow as `MARKS` by the scenarios that need it).
/// - `logs/` receives the run's log folder (`--log-dir`), so nothing is written into the package.
struct Scenario {
    let temp: TemporaryDirectory

    init() throws {
        temp = try TemporaryDirectory()
        for folder in [project, marks, logs] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
    }

    var project: String { temp.path + "/project" }
    var marks: String { temp.path + "/marks" }
    var logs: String { temp.path + "/logs" }

    func remove() { temp.remove() }

    /// Write `yaml` as `file` (next to the project, not in it) and run it with `arguments`.
    func run(_ yaml: String, _ arguments: [String] = [], file: String = "wf.yml") async throws -> CommandResult {
        let path = try temp.write(file, yaml)
        return try await nixactions(["run", path, "--log-dir", logs] + arguments, in: project)
    }

    /// Whether a marker file exists in `marks/`.
    func marked(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: marks + "/" + name)
    }

    /// The text of a marker file in `marks/` (trimmed), or nil.
    func mark(_ name: String) -> String? {
        (try? String(contentsOfFile: marks + "/" + name, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Every file the run left in the log folder, with its text.
    func logFiles() -> [(path: String, text: String)] {
        guard let walker = FileManager.default.enumerator(atPath: logs) else { return [] }
        var files: [(path: String, text: String)] = []
        while let relative = walker.nextObject() as? String {
            let path = logs + "/" + relative
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            if let data = FileManager.default.contents(atPath: path) { files.append((path, String(decoding: data, as: UTF8.self))) }
        }
        return files
    }
}

/// Sleep (without holding a thread) until `deadline`.
func pause(until deadline: Date) async throws {
    let seconds = deadline.timeIntervalSinceNow
    if seconds > 0 { try await Task.sleep(nanoseconds: UInt64(seconds * 1_000_000_000)) }
}

/// Indent every line of `text` by `spaces` (to embed a shell script under `run: |`).
func indented(_ text: String, by spaces: Int) -> String {
    let pad = String(repeating: " ", count: spaces)
    return text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.isEmpty ? "" : pad + String($0) }.joined(separator: "\n")
}

/// The lines of console output, without their newlines.
func outputLines(_ text: String) -> [String] {
    text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
}

/// Names of the jobs the console output says were started (`==> job 'NAME' started`), in order.
func startedJobNames(_ stdout: String) -> [String] {
    outputLines(stdout).compactMap { line in
        guard line.hasPrefix("==> job '"), line.hasSuffix("' started") else { return nil }
        return String(line.dropFirst("==> job '".count).dropLast("' started".count))
    }
}

/// `--log-format json` output: one event object per line.
struct JSONEvents {
    let events: [[String: Any]]

    init(_ stdout: String) throws {
        var parsed: [[String: Any]] = []
        for line in stdout.split(separator: "\n") where !line.isEmpty {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8))
            parsed.append(try #require(object as? [String: Any], "not a JSON object: \(line)"))
        }
        events = parsed
    }

    /// Events of one kind (`job_started`, …), optionally of one job key.
    func all(_ event: String, job: String? = nil) -> [[String: Any]] {
        events.filter { $0["event"] as? String == event && (job == nil || $0["job"] as? String == job) }
    }

    /// The single event of a kind for a job.
    func one(_ event: String, job: String) throws -> [String: Any] {
        let matching = all(event, job: job)
        #expect(matching.count == 1, "expected one \(event) of '\(job)', found \(matching.count)")
        return try #require(matching.first, "no \(event) event for job '\(job)'")
    }

    /// Position of the single event of a kind for a job in the stream.
    func index(_ event: String, job: String) throws -> Int {
        try #require(
            events.firstIndex { $0["event"] as? String == event && $0["job"] as? String == job },
            "no \(event) event for job '\(job)'")
    }

    /// When the single event of a kind for a job happened.
    func time(_ event: String, job: String) throws -> Date {
        try Self.timestamp(try one(event, job: job))
    }

    /// A JSON number as an Int (JSONSerialization may hand back Int, NSNumber or Double).
    static func int(_ value: Any?) -> Int? {
        if let value = value as? Int { return value }
        if let value = value as? NSNumber { return value.intValue }
        if let value = value as? Double { return Int(value) }
        return nil
    }

    /// `ts` is ISO 8601 with fractional seconds (`2026-01-02T03:04:05.678Z`).
    static func timestamp(_ event: [String: Any]) throws -> Date {
        let text = try #require(event["ts"] as? String, "event without ts: \(event)")
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return try #require(formatter.date(from: text), "ts '\(text)' is not ISO 8601 with fractional seconds")
    }
}
