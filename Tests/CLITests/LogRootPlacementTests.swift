import Foundation
import NixActionsProcessKit
import Testing
import TestSupport

/// A log root `run` makes is marked as the top of a hierarchy (each run's folder placed by the file
/// system on its own); one that already exists is left as it is (FastFiles.spreadSubfolders).
@Suite("Log root placement")
struct LogRootPlacementTests {
    static func letters(_ path: String) async throws -> String? {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/lsattr") else { return nil }
        let result = try await runCommand(URL(fileURLWithPath: "/usr/bin/lsattr"), ["-d", path])
        guard result.status == 0 else { return nil }
        return result.stdout.split(separator: " ").first.map(String.init)
    }

    @Test("a new log root gets the flag where the file system has it; an existing one is not touched")
    func newAndExisting() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try "jobs:\n  a:\n    steps:\n      - run: echo hi\n".write(toFile: temp.path + "/wf.yml", atomically: false, encoding: .utf8)
        let probe = temp.path + "/probe"
        try FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: false)
        let supported = FastFiles.spreadSubfolders(probe) == nil

        let made = temp.path + "/new/logs"
        let first = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--log-dir", made], in: temp.path)
        #expect(first.status == 0, "\(first.stderr)")
        let existing = temp.path + "/existing"
        try FileManager.default.createDirectory(atPath: existing, withIntermediateDirectories: false)
        let second = try await nixactions(["run", "wf.yml", "--log-format", "plain", "--log-dir", existing], in: temp.path)
        #expect(second.status == 0, "\(second.stderr)")
        // Both runs logged their job.
        for root in [made, existing] {
            let runs = try FileManager.default.contentsOfDirectory(atPath: root).filter { !$0.hasPrefix(".") }
            #expect(runs.count == 1)
            #expect(FileManager.default.fileExists(atPath: root + "/" + (runs.first ?? "") + "/a.log"))
        }
        guard supported, let newLetters = try await Self.letters(made), let oldLetters = try await Self.letters(existing) else { return }
        #expect(newLetters.contains("T"), "new root: \(newLetters)")
        #expect(!oldLetters.contains("T"), "existing root: \(oldLetters)")
    }
}
