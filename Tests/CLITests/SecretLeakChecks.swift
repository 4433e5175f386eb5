import Foundation
import Testing
import TestSupport

/// Shared by the secrets suites: run a workflow in every log format, then look for secrets
/// in everything it printed and wrote.
/// Run `workflow` in all three log formats; return what each printed, with the log folders.
/// Each run has a TMPDIR of its own, which must be empty again afterwards (no run folder, no
/// secret file left), and its log folder's files are returned by name.
func runAllFormats(
    _ workflow: String?, file: String = "wf.yml", arguments: [String] = [], environment: [String: String] = [:],
    in directory: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
) async throws -> [(format: String, result: CommandResult, files: [String: Data])] {
    var runs: [(String, CommandResult, [String: Data])] = []
    for format in ["human", "plain", "json"] {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        if let workflow { try temp.write(file, workflow) }
        let tmp = temp.path + "/tmp"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true)
        let result = try await nixactions(
            ["run", file, "--log-format", format, "--log-dir", temp.path + "/logs"] + arguments, in: directory ?? temp.path,
            environment: ["TMPDIR": tmp].merging(environment) { _, given in given })
        let left = (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? []
        #expect(left.isEmpty, "\(format): the run left \(left) in its TMPDIR", sourceLocation: sourceLocation)
        var files: [String: Data] = [:]
        if let walker = FileManager.default.enumerator(atPath: temp.path + "/logs") {
            for case let name as String in walker {
                var isFolder: ObjCBool = false
                let path = temp.path + "/logs/" + name
                if FileManager.default.fileExists(atPath: path, isDirectory: &isFolder), !isFolder.boolValue {
                    files[name] = FileManager.default.contents(atPath: path) ?? Data()
                }
            }
        }
        runs.append((format, result, files))
    }
    return runs
}

/// No run printed or wrote `secret`; every run succeeded (unless told otherwise).
func expectNoLeak(_ runs: [(format: String, result: CommandResult, files: [String: Data])], _ secrets: [String],
                  status: Int32 = 0, sourceLocation: SourceLocation = #_sourceLocation) {
    for run in runs {
        #expect(run.result.status == status, "\(run.format): \(run.result.stderr)", sourceLocation: sourceLocation)
        #expect(!run.files.isEmpty, "\(run.format): no log files", sourceLocation: sourceLocation)
        for secret in secrets {
            #expect(!run.result.stdout.contains(secret), "\(run.format) stdout shows \(secret.debugDescription)", sourceLocation: sourceLocation)
            #expect(!run.result.stderr.contains(secret), "\(run.format) stderr shows \(secret.debugDescription)", sourceLocation: sourceLocation)
            for (name, data) in run.files {
                let text = String(decoding: data, as: UTF8.self)
                #expect(!text.contains(secret), "\(run.format) \(name) holds \(secret.debugDescription)", sourceLocation: sourceLocation)
                // events.jsonl escapes text as JSON: look for that form too.
                let json = String(decoding: try! JSONSerialization.data(withJSONObject: [secret], options: [.withoutEscapingSlashes]), as: UTF8.self)
                    .dropFirst(2).dropLast(2)
                #expect(!text.contains(json), "\(run.format) \(name) holds the JSON form of \(secret.debugDescription)", sourceLocation: sourceLocation)
            }
        }
    }
}

