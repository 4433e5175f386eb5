import Foundation
@testable import NixActionsEngine
import Testing

@Suite("upload-artifact's path: patterns, search paths and the root of the stored files (GitHub's rule)")
struct UploadSelectionTests {
    func selection(_ path: String) throws -> UploadSelection { try UploadSelection(path, artifact: "a") }

    @Test("one pattern: the part before the first wildcard; a single file: its folder; several: their least common ancestor")
    func roots() throws {
        #expect(try selection("out/**/app*").root(of: ["out/linux/app", "out/mac/app"]) == "out")
        #expect(try selection("dist/").root(of: ["dist/app.txt", "dist/sub/more.txt"]) == "dist")
        #expect(try selection("dist/app.txt").root(of: ["dist/app.txt"]) == "dist")
        #expect(try selection("app.txt").root(of: ["app.txt"]) == "")
        #expect(try selection("out/linux\nlogs/build.log").root(of: ["out/linux/app", "logs/build.log"]) == "")
        #expect(try selection("a/b/c/x.txt\na/b/d/*\n!a/b/d/skip").root(of: ["a/b/c/x.txt", "a/b/d/y"]) == "a/b")
        #expect(try selection("*.txt").root(of: ["x.txt"]) == "")
    }

    @Test("lines are trimmed, blank and # lines ignored, ! lines exclude; only exclusions, an absolute path or a climb out are errors")
    func patterns() throws {
        let chosen = try selection("  dist/  \n\n# a comment\n!dist/*.map\n./docs/../build/**")
        #expect(chosen.patterns == ["dist", "!dist/*.map", "build/**"])
        #expect(chosen.searchPaths == ["dist", "build"])
        #expect(throws: EngineError.self) { try selection("!dist/*.map") }
        #expect(throws: EngineError.self) { try selection("/etc/passwd") }
        #expect(throws: EngineError.self) { try selection("../../x") }
    }

    @Test("hidden files are left out unless asked for")
    func hidden() throws {
        var chosen = try selection("out")
        #expect(chosen.filter(["out/a", "out/.env", "out/.cache/b"]) == ["out/a"])
        chosen.hidden = true
        #expect(chosen.filter(["out/a", "out/.env"]) == ["out/a", "out/.env"])
    }

    @Test("merge-multiple merges folders and replaces files; a symbolic link in the way is replaced, never followed")
    func merge() throws {
        let base = FileManager.default.temporaryDirectory.path + "/merge-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: base) }
        let manager = FileManager.default
        for folder in ["one/bin", "two/bin", "into/bin", "outside"] { try manager.createDirectory(atPath: base + "/" + folder, withIntermediateDirectories: true) }
        try "1".write(toFile: base + "/one/bin/a", atomically: true, encoding: .utf8)
        try "2".write(toFile: base + "/two/bin/b", atomically: true, encoding: .utf8)
        try "new".write(toFile: base + "/two/bin/a", atomically: true, encoding: .utf8)
        try manager.createDirectory(atPath: base + "/two/link", withIntermediateDirectories: true)
        try "x".write(toFile: base + "/two/link/x", atomically: true, encoding: .utf8)
        try manager.createSymbolicLink(atPath: base + "/into/link", withDestinationPath: base + "/outside")
        try ArtifactStore.merge(base + "/one/bin", into: base + "/into/bin")
        try ArtifactStore.merge(base + "/two/bin", into: base + "/into/bin")
        try ArtifactStore.merge(base + "/two/link", into: base + "/into/link")
        #expect(try manager.contentsOfDirectory(atPath: base + "/into/bin").sorted() == ["a", "b"])
        #expect(try String(contentsOfFile: base + "/into/bin/a", encoding: .utf8) == "new")
        #expect(try manager.contentsOfDirectory(atPath: base + "/outside").isEmpty, "nothing written through the link")
        #expect(try String(contentsOfFile: base + "/into/link/x", encoding: .utf8) == "x")
    }

    @Test("a path in the home folder (~) is an error saying so, as upload-artifact would look there (audit 51 L1)")
    func home() {
        #expect(throws: EngineError.self) { try selection("~/reports/x.txt") }
        do {
            _ = try selection("~")
            Issue.record("~ was accepted")
        } catch {
            #expect("\(error)".contains("'~' is in the home folder, outside the job's workspace"), "\(error)")
        }
        #expect((try? selection("a~b/x")) != nil)
    }

    @Test("download-artifact's pattern as minimatch reads it: braces, ranges, a leading ! negates, globs")
    func namePatterns() {
        let names = ["dist-linux", "dist-mac", "dist-win", "manual", "log-1", "log-2", "log-3"]
        func chosen(_ pattern: String) -> [String] { names.filter { NamePattern.matches(pattern, $0) } }
        #expect(chosen("dist-{linux,mac}") == ["dist-linux", "dist-mac"])
        #expect(chosen("{dist-*,manual}") == ["dist-linux", "dist-mac", "dist-win", "manual"])
        #expect(chosen("log-{1..2}") == ["log-1", "log-2"])
        #expect(chosen("!dist-*") == ["manual", "log-1", "log-2", "log-3"])
        #expect(chosen("dist-{lin{ux,},win}") == ["dist-linux", "dist-win"])
        #expect(chosen("{manual}") == [])  // no comma: the braces are literal, as in minimatch
        #expect(chosen("log-[13]") == ["log-1", "log-3"])
        #expect((4000...4096).contains(NamePattern.expand(String(repeating: "{a,b}", count: 20)).count))  // 2^20 capped
        // A range whose bounds overflow stays as written (it crashed the run: review 52).
        #expect(!NamePattern.matches("x{-1..9223372036854775807}", "x-1"))
        #expect(NamePattern.expand(String(repeating: "{a,b}", count: 300)).count == 1)  // too long to expand
    }
}
