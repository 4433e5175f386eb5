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
        let result = try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script, root] + files)
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("GitHub's order: each pattern's folder in turn, depth first, names in byte order (audit 52: sorted whole paths put a-b/ before a/)")
    func gitHubOrder() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        for path in ["a/x.lock", "a-b/y.lock", "a.lock", "b/z.lock"] { try temp.write(path, path + "\n") }
        #expect(HashFiles.ordered(["a-b/y.lock", "a.lock", "a/x.lock", "b/z.lock"], patterns: ["**/*.lock"], root: temp.path)
            == ["a/x.lock", "a-b/y.lock", "a.lock", "b/z.lock"])
        #expect(HashFiles.hash(["**/*.lock"], in: temp.path) == (try expected(temp.path, ["a/x.lock", "a-b/y.lock", "a.lock", "b/z.lock"])))
        #expect(HashFiles.hash(["b/**", "a/**"], in: temp.path) == (try expected(temp.path, ["b/z.lock", "a/x.lock"])))
        #expect(HashFiles.hash(["b/**", "a/**"], in: temp.path) != HashFiles.hash(["a/**", "b/**"], in: temp.path))
        // The remote (ssh) reading of a tar stream gives the same (review 52: it sorted whole paths).
        #expect(try hashedArchive(temp.path, ["a.lock", "a-b", "a", "b"], patterns: ["**/*.lock"]) == HashFiles.hash(["**/*.lock"], in: temp.path))
        // A pattern's folder under a later pattern's is walked with it, in that one's order.
        #expect(HashFiles.ordered(["a/x.lock", "a.lock", "b/z.lock"], patterns: ["b/**", "**/*.lock"], root: temp.path)
            == ["a/x.lock", "a.lock", "b/z.lock"])
    }

    @Test("contained (a container's workspace): no file reached through a link is hashed, no device opened; not contained, a link to a file is followed as GitHub's hashFiles follows it")
    func contained() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("outside/shadow", "host only\n")
        try temp.write("ws/a.txt", "a\n")
        try FileManager.default.createSymbolicLink(atPath: temp.path + "/ws/out.txt", withDestinationPath: temp.path + "/outside/shadow")
        try FileManager.default.createSymbolicLink(atPath: temp.path + "/ws/in.txt", withDestinationPath: "a.txt")
        let root = temp.path + "/ws"
        #expect(HashFiles.hash(["out.txt"], in: root, contained: true) == "")
        // No link at all is followed there, not even one that stays inside; nor is a device opened.
        #expect(HashFiles.hash(["*.txt"], in: root, contained: true) == (try expected(root, ["a.txt"])))
        if getuid() == 0 {
            #expect(mknod(root + "/dev.txt", S_IFCHR | 0o600, dev_t(1 << 8 | 3)) == 0)  // /dev/null's numbers
            #expect(HashFiles.hash(["dev.txt", "a.txt"], in: root, contained: true) == (try expected(root, ["a.txt"])))
        }
        #expect(HashFiles.hash(["out.txt"], in: root) == (try expected(root, ["out.txt"])))
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

    @Test("patterns as @actions/glob reads them: in order (an include after an exclude takes a file back), absolute ones inside the workspace, several per argument, trimmed, # comments (audit 50)")
    func patternRules() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("build.sh", "echo\n")
        try temp.write("src/a.txt", "a\n")
        try temp.write("src/b.txt", "b\n")
        func files(_ patterns: String...) -> [String] { HashFiles.matching(patterns, in: temp.path) }
        #expect(files("src/**", "!src/b.txt") == ["src/a.txt"])
        #expect(files("src/**", "!src/b.txt", "src/b.txt") == ["src/a.txt", "src/b.txt"], "the later include wins")
        #expect(files("!src/b.txt", "src/**") == ["src/a.txt", "src/b.txt"], "an exclude before the include excludes nothing")
        #expect(files("src", "!src/*.txt", "src/a.txt") == ["src/a.txt"])
        #expect(files("!!src/a.txt") == ["src/a.txt"], "two ! undo each other")
        #expect(files(temp.path + "/build.sh") == ["build.sh"], "absolute, inside the workspace")
        #expect(files(temp.path + "/src/**", "!" + temp.path + "/src/a.txt") == ["src/b.txt"])
        #expect(files(temp.path) == ["build.sh", "src/a.txt", "src/b.txt"], "the workspace itself: everything")
        #expect(files("/etc/hostname", "/etc/**").isEmpty, "outside the workspace: nothing")
        #expect(files("  src/a.txt  \n# a comment\n\n!src/nothing\nbuild.sh") == ["build.sh", "src/a.txt"])
        #expect(files("!src/a.txt").isEmpty, "excludes alone match nothing")
        let context = RuntimeContext(contexts: ["github": .object(["workspace": .string(temp.path)])], status: .ok, hashRoot: temp.path)
        let key = try Template.parse("${{ hashFiles(format('{0}/build.sh', github.workspace)) }}").render(context)
        #expect(key == (try expected(temp.path, ["build.sh"])))
    }

    /// `TarFileHasher` over what GNU tar makes of a folder (the stream an ssh job's files get sends).
    func hashedArchive(_ folder: String, _ members: [String], patterns: [String]? = nil) throws -> String {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let made = try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/tar"),
                                  ["-c", "--format=pax", "-f", temp.path + "/a.tar", "-C", folder] + members)
        #expect(made.status == 0, "\(made.stderr)")
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: temp.path + "/a.tar")))
        let hasher = patterns.map { patterns in TarFileHasher(order: { HashFiles.ordered($0, patterns: patterns, root: folder) }) } ?? TarFileHasher()
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + 777)  // chunks that straddle headers
            #expect(bytes[offset..<end].withUnsafeBytes { hasher.write($0) })
            offset = end
        }
        hasher.close(complete: true, message: "")
        return try hasher.result()
    }

    @Test("the tar stream hasher agrees with hashing the folder: long names (pax), a line break in a name, a hard link, a folder's files")
    func tarHasher() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let long = String(repeating: "d", count: 150)
        try temp.write("w/\(long)/lock.json", "long\n")
        try temp.write("w/odd\nname.json", "odd\n")
        try temp.write("w/src/a.txt", "a\n")
        try temp.write("w/src/sub/b.txt", "b\n")
        #expect(link(temp.path + "/w/src/a.txt", temp.path + "/w/src/hard.txt") == 0)
        let root = temp.path + "/w"
        let files = ["\(long)/lock.json", "odd\nname.json", "src/a.txt", "src/hard.txt", "src/sub/b.txt"].sorted {
            Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8))
        }
        #expect(try hashedArchive(root, files) == (try expected(root, files)))
        #expect(HashFiles.hash(["**"], in: root) == (try expected(root, files)))
        // A pattern naming a folder takes the files under it (@actions/glob's rule), as the remote get does.
        let source = ["src/a.txt", "src/hard.txt", "src/sub/b.txt"]
        #expect(HashFiles.hash(["src"], in: root) == (try expected(root, source)))
        #expect(try hashedArchive(root, ["src"]) == (try expected(root, source)))
    }
}
