import Foundation
import Testing
import TestSupport

/// A log root `run` makes is marked as the top of a hierarchy (each run's folder placed by the file
/// system on its own); one that already exists is left as it is (FastFiles.spreadSubfolders).
@Suite("Log root placement")
struct LogRootPlacementTests {
    @Test("a new log root gets the flag where the file system has it; an existing one is not touched")
    func newAndExisting() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try "jobs:\n  a:\n    steps:\n      - run: echo hi\n".write(toFile: temp.path + "/wf.yml", atomically: false, encoding: .utf8)
        let supported = spreadsSubfolders(in: temp.path)

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
        guard supported, let newLetters = fileAttributeLetters(made), let oldLetters = fileAttributeLetters(existing) else { return }
        #expect(newLetters.contains("T"), "new root: \(newLetters)")
        #expect(!oldLetters.contains("T"), "existing root: \(oldLetters)")
    }
}
