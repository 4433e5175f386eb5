import Foundation
@testable import NixActionsEngine
import Testing
import TestSupport

@Suite("hashFiles(): SHA-256 over the SHA-256 of each matching file")
struct HashFilesTests {
    /// The same algorithm in Python's hashlib, as an independent check.
    func expected(_ root: String, _ files: [String]) throws -> String {
        let script = """
            import hashlib, sys
            outer = hashlib.sha256()
            for name in sys.argv[2:]:
                outer.update(hashlib.sha256(open(sys.argv[1] + '/' + name, 'rb').read()).digest())
            print(outer.hexdigest())
            """
        let result = try runCommand(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script, root] + files)
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("globs with ** and exclusions, in path order; no match gives ''")
    func hashing() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("package-lock.json", "{}\n")
        try temp.write("a/package-lock.json", "{\"a\":1}\n")
        try temp.write("a/b/package-lock.json", "{\"b\":2}\n")
        try temp.write("node_modules/x/package-lock.json", "ignored\n")
        try temp.write(".git/package-lock.json", "never\n")
        let all = HashFiles.hash(["**/package-lock.json", "!node_modules/**"], in: temp.path)
        #expect(HashFiles.matching(["**/package-lock.json", "!node_modules/**"], in: temp.path)
            == ["a/b/package-lock.json", "a/package-lock.json", "package-lock.json"])
        #expect(all == (try expected(temp.path, ["a/b/package-lock.json", "a/package-lock.json", "package-lock.json"])))
        #expect(HashFiles.hash(["package-lock.json"], in: temp.path) == (try expected(temp.path, ["package-lock.json"])))
        #expect(HashFiles.hash(["*.nothing"], in: temp.path) == "")
        // Through an expression, as a cache key would use it.
        let context = RuntimeContext(contexts: [:], status: .ok, hashRoot: temp.path)
        let key = try Template.parse("deps-${{ hashFiles('**/package-lock.json', '!node_modules/**') }}").render(context)
        #expect(key == "deps-" + all)
    }
}
