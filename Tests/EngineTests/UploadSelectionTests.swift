import Foundation
@testable import NixActionsEngine
import NixActionsProcessKit
import Testing
import TestSupport

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
        try ProjectCopier.copyItem(from: base + "/one/bin", to: base + "/into/bin", merging: true)
        try ProjectCopier.copyItem(from: base + "/two/bin", to: base + "/into/bin", merging: true)
        try ProjectCopier.copyItem(from: base + "/two/link", to: base + "/into/link", merging: true)
        #expect(try manager.contentsOfDirectory(atPath: base + "/into/bin").sorted() == ["a", "b"])
        #expect(try String(contentsOfFile: base + "/into/bin/a", encoding: .utf8) == "new")
        #expect(try manager.contentsOfDirectory(atPath: base + "/outside").isEmpty, "nothing written through the link")
        #expect(try String(contentsOfFile: base + "/into/link/x", encoding: .utf8) == "x")
    }

    @Test("artifact copies (download, merge-multiple) keep names that are not UTF-8 (an artifact a remote job's tar stream brought), and leave out FIFOs")
    func nonUTF8Names() async throws {
        let temp = try TemporaryDirectory()
        let base = temp.path + "/names"
        defer { temp.remove() }
        func raw(_ path: String, _ name: [UInt8]) -> [CChar] { (Array(path.utf8) + [UInt8(ascii: "/")] + name + [0]).map { CChar(bitPattern: $0) } }
        let bad: [UInt8] = [0x62, 0xFF, 0x6E], folder: [UInt8] = [0x64, 0xE9]
        for path in [base, base + "/store", base + "/into"] { #expect(mkdir(path, 0o700) == 0) }
        #expect(mkdir(raw(base + "/store", folder), 0o700) == 0)
        #expect(close(open(raw(base + "/store", bad), O_CREAT | O_WRONLY, 0o600)) == 0)
        #expect(close(open(raw(base + "/store", folder + Array("/inner".utf8)), O_CREAT | O_WRONLY, 0o600)) == 0)
        #expect(mkfifo(base + "/store/pipe", 0o600) == 0)
        try ProjectCopier.copyEntries(of: base + "/store", into: base + "/into")
        #expect(access(raw(base + "/into", bad), F_OK) == 0, "the file whose name is not UTF-8 is missing")
        #expect(access(raw(base + "/into", folder + Array("/inner".utf8)), F_OK) == 0, "the folder whose name is not UTF-8 is missing")
        #expect(access(base + "/into/pipe", F_OK) != 0, "a FIFO was copied")
        // Merged into what is there: the folder merged, the file replaced.
        #expect(mkdir(base + "/more", 0o700) == 0 && mkdir(raw(base + "/more", folder), 0o700) == 0)
        #expect(close(open(raw(base + "/more", folder + Array("/second".utf8)), O_CREAT | O_WRONLY, 0o600)) == 0)
        try ProjectCopier.copyEntries(of: base + "/more", into: base + "/into", merging: true)
        #expect(access(raw(base + "/into", folder + Array("/inner".utf8)), F_OK) == 0 && access(raw(base + "/into", folder + Array("/second".utf8)), F_OK) == 0)
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
