import Foundation
import NixActionsEngine
import NixActionsPluginHost
import NixActionsPluginMessages
import Synchronization
import Testing
import TestSupport

/// Collects what a get sends.
final class TreeCollector: TreeSink {
    let state = Mutex<(bytes: [UInt8], closed: Int, complete: Bool)>(([], 0, false))
    func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        state.withLock { $0.bytes += bytes }
        return true
    }
    func close(complete: Bool, message: String) {
        state.withLock {
            $0.closed += 1
            $0.complete = complete
        }
    }
    /// The archive's names as `tar -t` lists them.
    func names() throws -> [String] {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let file = temp.path + "/got.tar"
        try Data(state.withLock { $0.bytes }).write(to: URL(fileURLWithPath: file))
        let listed = try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/tar"), ["-tf", file])
        return listed.stdout.split(separator: "\n").map(String.init).sorted()
    }
}

func message(_ error: any Error) -> String {
    (error as? OperationFailure)?.error.message ?? "\(error)"
}

@Suite("TarGuard: the archive rules of files.h, checked as the bytes pass")
struct TarGuardTests {
    func check(_ archive: [UInt8], roots: Set<String>? = nil, chunk: Int = 100) -> String? {
        var guardian = TarGuard(rootNames: roots)
        var offset = 0
        while offset < archive.count {
            let end = min(archive.count, offset + chunk)
            let problem = archive[offset..<end].withUnsafeBytes { guardian.feed($0) }
            if let problem { return problem }
            offset = end
        }
        return guardian.finish()
    }

    /// A finished archive of what `build` adds.
    func archive(_ build: (inout TarBuilder) -> Void) -> [UInt8] {
        var tar = TarBuilder()
        build(&tar)
        tar.end()
        return tar.bytes
    }

    @Test("a plain archive passes, counted, whatever the chunk size")
    func plain() {
        var tar = TarBuilder()
        tar.add("dist", .folder, mode: 0o755)
        tar.add("dist/a.txt", .file("hello"))
        tar.add("dist/l", .link("a.txt"))
        tar.add("dist/h", .hardLink("dist/a.txt"))
        tar.end()
        for chunk in [1, 7, 512, 100_000] { #expect(check(tar.bytes, chunk: chunk) == nil) }
        var guardian = TarGuard(rootNames: nil)
        tar.bytes.withUnsafeBytes { _ = guardian.feed($0) }
        #expect(guardian.files == 2 && guardian.bytes == 5)
    }

    @Test("absolute names, '..', a path through the archive's own link, a bad hard link and a foreign root are refused")
    func refused() {
        #expect(check(archive { $0.add("/etc/passwd", .file("x")) })?.contains("is absolute") == true)
        #expect(check(archive { $0.add("a/../../x", .file("x")) })?.contains("'..'") == true)
        #expect(check(archive { $0.add("evil", .link("/tmp")); $0.add("evil/pwned", .file("x")) })?.contains("passes through its symbolic link 'evil'") == true)
        #expect(check(archive { $0.add("h", .hardLink("../outside")) })?.contains("hard link target") == true)
        #expect(check(archive { $0.add("2/x", .file("x")) }, roots: ["0", "1"])?.contains("matches no root") == true)
        #expect(check(archive { $0.add("0/x", .file("x")) }, roots: ["0", "1"]) == nil)
    }

    @Test("a root that is a symbolic link (its target would be merged), data after the end marker, sparse-file records are refused")
    func rootLinksAndTrailingData() {
        #expect(check(archive { $0.add("0", .link("/root/.ssh")) }, roots: ["0"])?.contains("root '0' is a symbolic link") == true)
        #expect(check(archive { $0.add("./0/", .link("/etc")) }, roots: ["0", "1"])?.contains("is a symbolic link") == true)
        // A named root that is a second name of a file the archive holds passes (two cached files
        // that are hard links of each other); one naming itself or outside the archive does not.
        #expect(check(archive { $0.add("0/f", .file("x")); $0.add("1", .hardLink("0/f")) }, roots: ["0", "1"]) == nil)
        #expect(check(archive { $0.add("1", .hardLink("./1")) }, roots: ["0", "1"])?.contains("names itself") == true)
        #expect(check(archive { $0.add("1", .hardLink("../x")) }, roots: ["0", "1"])?.contains("hard link target") == true)
        #expect(check(archive { $0.add("1", .hardLink("/etc/passwd")) }, roots: ["0", "1"])?.contains("is absolute") == true)
        #expect(check(archive { $0.add(".", .hardLink("f")) })?.contains("is a hard link") == true, "the one root of a request without names")
        #expect(check(archive { $0.add(".", .link("/etc")) })?.contains("is a symbolic link") == true, "the one root of a request without names")
        // Links below a root, and a root that is a file or a folder, still pass.
        #expect(check(archive { $0.add("0", .folder); $0.add("0/l", .link("/etc")); $0.add("1", .file("x")) }, roots: ["0", "1"]) == nil)
        // One zero block ends the archive for GNU tar; busybox reads on. What follows must be zeros.
        var head = TarBuilder()
        head.add("0/a", .file("x"))
        var hidden = TarBuilder()
        hidden.add("0/fifo", .file("hidden"))
        hidden.end()
        let trailing = head.bytes + [UInt8](repeating: 0, count: 512) + hidden.bytes
        #expect(check(trailing, roots: ["0"])?.contains("data after its end-of-archive marker") == true)
        for chunk in [1, 512, 100_000] {
            #expect(check(archive { $0.add("0/a", .file("x")) } + [UInt8](repeating: 0, count: 9216), roots: ["0"], chunk: chunk) == nil, "padding passes")
        }
        let sparse = check(archive { $0.add("0/PaxHeaders/s", .pax([("GNU.sparse.name", "../../x")])); $0.add("0/s", .file("x")) }, roots: ["0"])
        #expect(sparse?.contains("sparse") == true, "\(sparse ?? "passed")")
    }

    @Test("links are matched by whole components, after '.' and '//' are dropped, however many there are")
    func linkPrefixes() {
        // A link two levels down: a path under it is refused, written in any spelling.
        for spelling in ["a/b/c/x", "./a/b/c/x", "a//b/./c/x", "a/b/x"] {
            let problem = check(archive { $0.add("a/b", .link("/tmp")); $0.add(spelling, .file("x")) })
            #expect(problem?.contains("passes through its symbolic link 'a/b'") == true, "\(spelling): \(problem ?? "passed")")
        }
        // A name that only starts with the link's bytes is another entry.
        #expect(check(archive { $0.add("a/b", .link("/tmp")); $0.add("a/bc/x", .file("x")); $0.add("a/b", .file("y")) }) == nil)
        // Many links (looked up by hash): the one in the middle is still found, the others pass.
        let many = archive { tar in
            for index in 0..<2000 { tar.add("l/\(index)", .link("t")) }
            tar.add("l/x/f", .file("x"))
            tar.add("l/1234/f", .file("x"))
        }
        #expect(check(many, chunk: 4096)?.contains("symbolic link 'l/1234'") == true)
        // A hard link through a link is refused too.
        #expect(check(archive { $0.add("d", .link("/etc")); $0.add("h", .hardLink("d/passwd")) })?.contains("hard link target") == true)
        // So is a hard link that is a second name of a link: a path through it would pass
        // through a link the guard did not know (GNU tar follows it).
        let second = check(archive {
            $0.add("0/d", .folder, mode: 0o755); $0.add("0/s", .link("d")); $0.add("0/h", .hardLink("0/s")); $0.add("0/h/x", .file("x"))
        })
        #expect(second?.contains("is a second name of its symbolic link") == true, "\(second ?? "passed")")
        // A hard link to a file, next to links, still passes.
        #expect(check(archive { $0.add("0/s", .link("f")); $0.add("0/f", .file("x")); $0.add("0/h", .hardLink("0/f")) }) == nil)
    }

    @Test("a global pax header that renames entries (path, linkpath) is refused; one with other records passes")
    func globalPax() {
        let renaming = check(archive { $0.add("pax_global_header", .globalPax([("path", "../../../tmp/x")])); $0.add("0/f", .file("x")) })
        #expect(renaming?.contains("global pax header") == true, "\(renaming ?? "passed")")
        #expect(check(archive { $0.add("pax_global_header", .globalPax([("linkpath", "/etc")])); $0.add("0/f", .file("x")) }) != nil)
        #expect(check(archive { $0.add("pax_global_header", .globalPax([("comment", "0123abcd")])); $0.add("0/f", .file("x")) }) == nil)
    }

    @Test("an archive cut short or with a broken header is refused")
    func incomplete() {
        var tar = TarBuilder()
        tar.add("a.txt", .file(String(repeating: "x", count: 2000)))
        #expect(check(tar.bytes)?.contains("incomplete") == true)
        #expect(check(Array(tar.bytes.prefix(700)))?.contains("incomplete") == true)
        var broken = tar.bytes
        broken[0] = UInt8(ascii: "b")  // the checksum no longer matches
        #expect(check(broken)?.contains("checksum") == true)
    }

    @Test("GNU tar's pax archives (long names in extended headers) pass, and a '..' hidden in a pax path is refused")
    func gnuTar() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let long = String(repeating: "d", count: 120)
        try FileManager.default.createDirectory(atPath: temp.path + "/src/\(long)", withIntermediateDirectories: true)
        try temp.write("src/\(long)/f.txt", "x")
        let made = try await runCommand(URL(fileURLWithPath: "/usr/bin/tar"), ["-c", "--format=pax", "-f", temp.path + "/a.tar", "-C", temp.path + "/src", long])
        #expect(made.status == 0)
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: temp.path + "/a.tar")))
        #expect(check(bytes) == nil)
        // The same archive with '..' in the long name (same length, so the pax record stays valid).
        let hostile = Array(String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "path=ddd", with: "path=../").utf8)
        #expect(hostile.count == bytes.count)
        #expect(check(hostile)?.contains("'..'") == true)
    }
}

@Suite("Files interface (nixactions.executor.files/1) of the local executor, through the C ABI")
struct FilesInterfaceTests {
    func executor(_ temp: TemporaryDirectory) throws -> any Executor {
        let folder = try temp.pluginFolder(["local": "nixactions-plugin-local"])
        let (loaded, refused) = PluginLoader.discover(in: [folder])
        let registry = PluginRegistry(loaded: loaded, refused: refused, searchPath: [folder])
        return try registry.makeExecutor(
            pluginID: "local", configuration: ExecutorConfiguration(runID: "t", runDirectory: temp.path + "/run", projectDirectory: temp.path))
    }

    /// Write `bytes` in chunks of `chunk`.
    func producer(_ bytes: [UInt8], chunk: Int = 4096, failAfter: Int? = nil) -> @Sendable (any TreeWriter) throws -> Void {
        { writer in
            var offset = 0
            while offset < bytes.count {
                if let failAfter, offset >= failAfter { throw EngineError("the producer gave up") }
                let end = min(bytes.count, offset + chunk)
                try bytes[offset..<end].withUnsafeBytes { try writer.write($0) }
                offset = end
            }
        }
    }

    func leftovers(_ temp: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: temp)) ?? []).filter { $0.hasPrefix(".nixactions-") }
    }

    @Test("the plugin lists and answers the files interface; oci and ssh do too")
    func declared() throws {
        for product in ["nixactions-plugin-local", "nixactions-plugin-oci", "nixactions-plugin-ssh"] {
            let plugin = try PluginLoader.load(library(product).path).get()
            #expect(plugin.interfaces.contains(executorFilesInterfaceV1), "\(product)")
        }
        let double = try PluginLoader.load(library("nixactions-testplugin-double").path).get()
        #expect(!double.interfaces.contains(executorFilesInterfaceV1))
    }

    @Test("put then get: folders, a file of 8 MiB (back-pressure), links kept as links, named roots")
    func roundTrip() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let executor = try executor(temp)
        let job = JobSpec(jobKey: "j", displayName: "j")
        let started = try await executor.startJob(job)
        #expect(started.hostPaths == true)
        let files = try #require(executor.files)
        let big = String(repeating: "0123456789abcdef", count: 1 << 19)
        var tar = TarBuilder()
        tar.add("dist", .folder, mode: 0o755)
        tar.add("dist/a.txt", .file("hello"))
        tar.add("dist/big.bin", .file(big))
        tar.add("dist/l", .link("a.txt"))
        tar.add("dist/run.sh", .file("#!/bin/sh\n"), mode: 0o4755)
        tar.end()
        let put = try await files.putTree(FilesPut(jobKey: "j", roots: [FilesPutRoot(name: "", path: "in")]), produce: producer(tar.bytes, chunk: 1 << 20))
        #expect(put.files == 3 && put.bytes == 5 + big.utf8.count + 10)
        let workspace = started.workspace
        #expect(try String(contentsOfFile: workspace + "/in/dist/a.txt", encoding: .utf8) == "hello")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: workspace + "/in/dist/l") == "a.txt")
        let mode = try FileManager.default.attributesOfItem(atPath: workspace + "/in/dist/run.sh")[.posixPermissions] as? Int
        #expect(mode.map { $0 & 0o7000 } == 0, "setuid is dropped")
        #expect(leftovers(started.temporaryDirectory).isEmpty)

        let sink = TreeCollector()
        let got = try await files.getTree(
            FilesGet(jobKey: "j", roots: [FilesGetRoot(name: "", path: "in", include: ["dist/a.txt", "dist/l", "nothing"])]), into: sink)
        #expect(sink.state.withLock { $0.closed == 1 && $0.complete })
        #expect(try sink.names() == ["dist/a.txt", "dist/l"])
        #expect(got.files == 1 && got.bytes == 5)

        // A fifo is left out and counted; the rest of its folder comes.
        #expect(mkfifo(workspace + "/in/dist/pipe", 0o644) == 0)
        let withFifo = TreeCollector()
        let counted = try await files.getTree(FilesGet(jobKey: "j", roots: [FilesGetRoot(name: "", path: "in", include: ["dist/**"])]), into: withFifo)
        #expect(counted.skipped == 1)
        #expect(try withFifo.names() == ["dist/", "dist/a.txt", "dist/big.bin", "dist/l", "dist/run.sh"])

        // A name with a line break (a file, or a folder with all it holds) is left out and counted,
        // never dropped without a word, whichever way the root is listed: a top-level `**`, a
        // walk, a filter (audit 64 cache M1: a cache saved without it, and the next run was a hit).
        #expect(unlink(workspace + "/in/dist/pipe") == 0)
        #expect(FileManager.default.createFile(atPath: workspace + "/in/dist/new\nline", contents: Data("x".utf8)))
        try FileManager.default.createDirectory(atPath: workspace + "/in/dist/dir\nname/sub", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: workspace + "/in/dist/dir\nname/sub/f", contents: Data("y".utf8)))
        #expect(FileManager.default.createFile(atPath: workspace + "/in/top\nname", contents: Data("z".utf8)))
        for (include, expected) in [(["**"], 3), (["dist/**"], 2), (["dist/*.txt", "dist/dir*", "top*"], 4), (["dist/*name/**"], 3)] {
            let sink = TreeCollector()
            let result = try await files.getTree(FilesGet(jobKey: "j", roots: [FilesGetRoot(name: "", path: "in", include: include)]), into: sink)
            #expect(result.skipped == expected, "\(include): \(result)")
            #expect(try sink.names().allSatisfy { !$0.contains("\n") }, "\(include)")
            #expect(try include == ["dist/*name/**"] || sink.names().contains("dist/a.txt"), "\(include)")
        }
        _ = try? FileManager.default.removeItem(atPath: workspace + "/in/dist/new\nline")
        _ = try? FileManager.default.removeItem(atPath: workspace + "/in/dist/dir\nname")
        _ = try? FileManager.default.removeItem(atPath: workspace + "/in/top\nname")

        // Two named roots, one missing.
        let named = TreeCollector()
        let both = try await files.getTree(
            FilesGet(jobKey: "j", roots: [FilesGetRoot(name: "0", path: "in/dist"), FilesGetRoot(name: "1", path: "absent")]), into: named)
        #expect(both.missing == ["absent"])
        #expect(try named.names().contains("0/big.bin"))
        #expect(try named.names().allSatisfy { $0.hasPrefix("0/") })

        // A modification time to the nanosecond comes out whole; access and change times do not
        // come at all (pax records "mtime" only).
        var times = [timespec(tv_sec: 1_600_000_000, tv_nsec: 0), timespec(tv_sec: 1_600_000_123, tv_nsec: 456_789_012)]
        #expect(utimensat(AT_FDCWD, workspace + "/in/dist/a.txt", &times, 0) == 0)
        let timed = TreeCollector()
        _ = try await files.getTree(FilesGet(jobKey: "j", roots: [FilesGetRoot(name: "", path: "in", include: ["dist/a.txt"])]), into: timed)
        let text = String(decoding: timed.state.withLock { $0.bytes }, as: UTF8.self)
        #expect(text.contains("mtime=1600000123.456789012"))
        #expect(!text.contains("atime=") && !text.contains("ctime="))
        await executor.finishJob(job)
    }

    @Test("a hostile archive fails the put: nothing outside the root, nothing partial inside it, no staging left")
    func hostile() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let outside = temp.path + "/outside"
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        let executor = try executor(temp)
        let job = JobSpec(jobKey: "j", displayName: "j")
        let started = try await executor.startJob(job)
        let files = try #require(executor.files)
        let cases: [(String, (inout TarBuilder) -> Void)] = [
            ("is absolute", { $0.add(outside + "/abs.txt", .file("x")) }),
            ("'..'", { $0.add("../../../../../../../../../../" + outside.dropFirst() + "/dots.txt", .file("x")) }),
            ("symbolic link", { $0.add("evil", .link(outside)); $0.add("evil/pwned.txt", .file("x")) }),
            // Valid names, but tar cannot make it: tar's own error is the reason.
            ("tar -x exited", { $0.add("h", .hardLink("missing.txt")) }),
        ]
        for (expected, hostile) in cases {
            var tar = TarBuilder()
            tar.add("first.txt", .file("written before the bad entry"))
            hostile(&tar)
            tar.end()
            await #expect {
                _ = try await files.putTree(FilesPut(jobKey: "j", roots: [FilesPutRoot(name: "", path: "")]), produce: producer(tar.bytes, chunk: 100))
            } throws: { error in
                message(error).contains(expected)
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty, "\(expected): wrote outside")
            #expect(!FileManager.default.fileExists(atPath: started.workspace + "/first.txt"), "\(expected): partial put")
            #expect(!FileManager.default.fileExists(atPath: started.workspace + "/evil"), "\(expected): partial put")
            #expect(leftovers(started.temporaryDirectory).isEmpty, "\(expected): staging left")
        }
        // An archive whose root is itself a link: the restore would have merged (moved) what the
        // link points to into the workspace. Refused; the files stay where they are.
        try "key".write(toFile: outside + "/id_rsa", atomically: true, encoding: .utf8)
        var rootLink = TarBuilder()
        rootLink.add("0", .link(outside))
        rootLink.end()
        await #expect {
            _ = try await files.putTree(FilesPut(jobKey: "j", roots: [FilesPutRoot(name: "0", path: "deps")]), produce: producer(rootLink.bytes))
        } throws: { message($0).contains("root '0' is a symbolic link") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside) == ["id_rsa"])
        #expect(!FileManager.default.fileExists(atPath: started.workspace + "/deps"))
        try FileManager.default.removeItem(atPath: outside + "/id_rsa")
        // A stream the host aborts half-way changes nothing either.
        var tar = TarBuilder()
        tar.add("a.txt", .file(String(repeating: "a", count: 100_000)))
        tar.add("b.txt", .file("b"))
        tar.end()
        await #expect {
            _ = try await files.putTree(FilesPut(jobKey: "j", roots: [FilesPutRoot(name: "", path: "")]), produce: producer(tar.bytes, failAfter: 50_000))
        } throws: { message($0).contains("aborted: the producer gave up") }
        #expect(!FileManager.default.fileExists(atPath: started.workspace + "/a.txt"))
        #expect(leftovers(started.temporaryDirectory).isEmpty)
        // A root that passes through a link of the workspace is refused (the link leads outside).
        try FileManager.default.createSymbolicLink(atPath: started.workspace + "/out", withDestinationPath: outside)
        var fine = TarBuilder()
        fine.add("x.txt", .file("x"))
        fine.end()
        await #expect {
            _ = try await files.putTree(FilesPut(jobKey: "j", roots: [FilesPutRoot(name: "", path: "out/got")]), produce: producer(fine.bytes))
        } throws: { message($0).contains("passes through the symbolic link 'out'") }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)
        // And a get does not follow it: the include matches nothing.
        try "secret".write(toFile: outside + "/secret.txt", atomically: true, encoding: .utf8)
        let sink = TreeCollector()
        let got = try await files.getTree(FilesGet(jobKey: "j", roots: [FilesGetRoot(name: "", path: "", include: ["out/secret.txt"])]), into: sink)
        #expect(got.files == 0)
        #expect(try sink.names().isEmpty)
        await executor.finishJob(job)
    }
}

extension FilesInterfaceTests {
    @Test("a put cancelled while the archive is still coming ends promptly, changes nothing and leaves no staging folder")
    func cancelledPut() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let executor = try executor(temp)
        let job = JobSpec(jobKey: "j", displayName: "j")
        let started = try await executor.startJob(job)
        let files = try #require(executor.files)
        var tar = TarBuilder()
        tar.add("early.txt", .file("first"))
        tar.add("slow.bin", .file(String(repeating: "s", count: 4 << 20)))
        tar.end()
        let bytes = tar.bytes
        let clock = ContinuousClock()
        // When the host's writer (a thread of its own) saw its write fail: timed there, not after
        // the awaiting task's next turn, which can come late while the whole suite runs.
        let writeFailed = Mutex<ContinuousClock.Instant?>(nil)
        let task = Task {
            try await files.putTree(FilesPut(jobKey: "j", roots: [FilesPutRoot(name: "", path: "")])) { writer in
                // 4 KiB every 20 ms: the whole archive would take more than 20 seconds.
                var offset = 0
                while offset < bytes.count {
                    let end = min(bytes.count, offset + 4096)
                    do {
                        try bytes[offset..<end].withUnsafeBytes { try writer.write($0) }
                    } catch {
                        writeFailed.withLock { $0 = clock.now }
                        throw error
                    }
                    offset = end
                    usleep(20_000)
                }
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        let cancelled = clock.now
        task.cancel()
        await #expect(throws: CancellationError.self) { _ = try await task.value }
        // The writes fail well before the archive's end; not a tighter bound, which a loaded
        // machine can miss.
        let failedAt = try #require(writeFailed.withLock { $0 }, "the host's writes never failed")
        #expect(failedAt - cancelled < .seconds(10))
        #expect(!FileManager.default.fileExists(atPath: started.workspace + "/early.txt"))
        #expect(leftovers(started.temporaryDirectory).isEmpty)
        await executor.finishJob(job)
    }
}

extension FilesInterfaceTests {
    @Test("a put the executor fails before reading the archive still ends promptly: the host's writes fail, it closes")
    func refusedBeforeReading() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let executor = try executor(temp)
        let job = JobSpec(jobKey: "j", displayName: "j")
        _ = try await executor.startJob(job)
        let files = try #require(executor.files)
        var tar = TarBuilder()
        tar.add("big.bin", .file(String(repeating: "b", count: 8 << 20)))
        tar.end()
        let clock = ContinuousClock()
        let started = clock.now
        // A line break in a root path is refused before any process reads the stream.
        await #expect {
            _ = try await files.putTree(FilesPut(jobKey: "j", roots: [FilesPutRoot(name: "", path: "a\nb")]), produce: producer(tar.bytes))
        } throws: { message($0).contains("line break") }
        // Its deadline is an hour: a put that waited for it would show here. (Alone this takes
        // 0.6 s; with the whole suite on two cores, the test's own tasks can wait 45 s for a thread.)
        #expect(clock.now - started < .seconds(120))
        await executor.finishJob(job)
    }
}

extension FilesInterfaceTests {
    @Test("include and exclude globs: '*' and '?' within a folder, '**' across folders, a matched folder brings its contents")
    func globs() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let executor = try executor(temp)
        let job = JobSpec(jobKey: "j", displayName: "j")
        let started = try await executor.startJob(job)
        let files = try #require(executor.files)
        for path in ["src/a.js", "src/lib/b.js", "src/lib/c.txt", "build/out.o", "build/sub/x.o", "top.js", "notes.log", "a+b (1).txt"] {
            let full = started.workspace + "/" + path
            try FileManager.default.createDirectory(atPath: (full as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try "x".write(toFile: full, atomically: false, encoding: .utf8)
        }
        func names(_ include: [String]?, _ exclude: [String]? = nil) async throws -> [String] {
            let sink = TreeCollector()
            _ = try await files.getTree(FilesGet(jobKey: "j", roots: [FilesGetRoot(name: "", path: "", include: include, exclude: exclude)]), into: sink)
            return try sink.names().filter { !$0.hasSuffix("/") }  // folders come too when they match
        }
        #expect(try await names(["**/*.js"]) == ["src/a.js", "src/lib/b.js", "top.js"])
        #expect(try await names(["*.js"]) == ["top.js"])
        #expect(try await names(["src/**"], ["**/*.txt"]) == ["src/a.js", "src/lib/b.js"])
        #expect(try await names(nil, ["build", "*.log", "src"]) == ["a+b (1).txt", "top.js"])
        #expect(try await names(["build/s?b"]) == ["build/sub/x.o"])
        #expect(try await names(["a+b (1).txt"], ["nothing"]) == ["a+b (1).txt"])
        await executor.finishJob(job)
    }
}

@Suite("Files interface of the oci executor: in the container for its own paths, on this machine for the mounted workspace")
struct OCIFilesInterfaceTests {
    @Test("put and get a container path with the image's busybox tar; a hostile archive changes nothing there")
    func containerPaths() async throws {
        let podman = try await offThePool { try PodmanFixture.ready() }
        // The plugin runs podman with this process's environment: point it at the test storage.
        for (name, value) in podman.environment { setenv(name, value, 1) }
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["oci": "nixactions-plugin-oci"])
        try FileManager.default.createDirectory(atPath: temp.path + "/run", withIntermediateDirectories: true)
        let (loaded, refused) = PluginLoader.discover(in: [folder])
        let executor = try PluginRegistry(loaded: loaded, refused: refused, searchPath: [folder]).makeExecutor(
            pluginID: "oci",
            configuration: ExecutorConfiguration(runID: "files\(getpid())", runDirectory: temp.path + "/run", projectDirectory: temp.path,
                                                 options: ["image": .string(PodmanFixture.image), "network": .string("none")]))
        let job = JobSpec(jobKey: "j", displayName: "j")
        let started = try await executor.startJob(job)
        defer { _ = try? podman.podman(["rm", "-f", "-t", "0", "nixactions-files\(getpid())-j"]) }
        #expect(started.hostPaths == true)
        let files = try #require(executor.files)
        let tests = FilesInterfaceTests()

        var tar = TarBuilder()
        tar.add("a.txt", .file("in the container"))
        tar.add("sub", .folder, mode: 0o755)
        tar.add("sub/b.txt", .file("nested"))
        tar.end()
        let put = try await files.putTree(FilesPut(jobKey: "j", roots: [FilesPutRoot(name: "", path: "/opt/data")]), produce: tests.producer(tar.bytes))
        #expect(put.files == 2)
        #expect(!FileManager.default.fileExists(atPath: "/opt/data/a.txt"), "written on this machine instead of the container")
        let output = Collector()
        let read = try await executor.runStep(StepSpec(jobKey: "j", index: 0, displayName: "s", script: "cat /opt/data/a.txt /opt/data/sub/b.txt",
                                                       shell: ["sh", "-e", "{0}"]), output: output)
        #expect(read.exitCode == 0)
        #expect(output.text(1) == "in the containernested")

        let sink = TreeCollector()
        let got = try await files.getTree(FilesGet(jobKey: "j", roots: [FilesGetRoot(name: "", path: "/opt/data")]), into: sink)
        #expect(got.files == 2)
        #expect(try sink.names().contains("sub/b.txt"))

        var hostile = TarBuilder()
        hostile.add("evil", .link("/etc"))
        hostile.add("evil/pwned", .file("x"))
        hostile.end()
        await #expect(throws: (any Error).self) {
            _ = try await files.putTree(FilesPut(jobKey: "j", roots: [FilesPutRoot(name: "", path: "/opt/data")]), produce: tests.producer(hostile.bytes))
        }
        let check = Collector()
        _ = try await executor.runStep(StepSpec(jobKey: "j", index: 1, displayName: "s", script: "[ ! -e /etc/pwned ] && [ ! -e /opt/data/evil ] && echo clean; ls -a \(started.temporaryDirectory)",
                                                shell: ["sh", "-e", "{0}"]), output: check)
        #expect(check.text(1).hasPrefix("clean\n"), "\(check.text(1))")
        #expect(!check.text(1).contains(".nixactions-put"), "staging left: \(check.text(1))")

        // A workspace path goes through this machine's tar (GNU, pax), to the mounted folder.
        let inWorkspace = try await files.putTree(FilesPut(jobKey: "j", roots: [FilesPutRoot(name: "", path: "in")]), produce: tests.producer(tar.bytes))
        #expect(inWorkspace.files == 2)
        #expect(try String(contentsOfFile: started.workspace + "/in/sub/b.txt", encoding: .utf8) == "nested")
        await executor.finishJob(job)
    }
}
