import Foundation
@testable import NixActionsEngine
import NixActionsPluginMessages
import Testing
import TestSupport

/// The host's end of artifacts that come through an executor's files interface.
@Suite("TarExtractor and TarProducer: the artifact store's tar, checked before it is extracted")
struct ArtifactTransferTests {
    func feed(_ extractor: TarExtractor, _ bytes: [UInt8], chunk: Int = 1000) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + chunk)
            guard bytes[offset..<end].withUnsafeBytes({ extractor.write($0) }) else { return false }
            offset = end
        }
        return true
    }

    @Test("a valid archive is extracted; one with a file through its own link is refused before tar sees it")
    func extract() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let outside = temp.path + "/outside", into = temp.path + "/into"
        for folder in [outside, into] { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) }

        var good = TarBuilder()
        good.add("dist", .folder, mode: 0o755)
        good.add("dist/a.txt", .file("hello"))
        good.end()
        let fine = try TarExtractor(into: into)
        #expect(feed(fine, good.bytes))
        fine.close(complete: true, message: "")
        #expect(await fine.finish() == nil)
        #expect(try String(contentsOfFile: into + "/dist/a.txt", encoding: .utf8) == "hello")

        var bad = TarBuilder()
        bad.add("evil", .link(outside))
        bad.add("evil/pwned.txt", .file("x"))
        bad.end()
        let refused = try TarExtractor(into: into)
        #expect(!feed(refused, bad.bytes, chunk: 100))
        refused.close(complete: true, message: "")
        #expect(await refused.finish()?.contains("passes through its symbolic link 'evil'") == true)
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside).isEmpty)

        // Complete as far as the bytes go, but the sender aborted: refused.
        let aborted = try TarExtractor(into: temp.path + "/into")
        #expect(feed(aborted, Array(good.bytes.prefix(512))))
        aborted.close(complete: false, message: "the connection broke")
        #expect(await aborted.finish() == "the connection broke")
    }

    final class Writer: TreeWriter {
        var bytes: [UInt8] = []
        func write(_ bytes: UnsafeRawBufferPointer) throws { self.bytes += bytes }
    }

    @Test("TarProducer writes a pax archive of the named entries that TarExtractor takes back")
    func roundTrip() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try FileManager.default.createDirectory(atPath: temp.path + "/src/dist", withIntermediateDirectories: true)
        try temp.write("src/dist/a.txt", "a")
        try temp.write("src/other.txt", "o")
        let writer = Writer()
        try TarProducer.write(folder: temp.path + "/src", entries: ["dist"], listFolder: temp.path, into: writer)
        try FileManager.default.createDirectory(atPath: temp.path + "/back", withIntermediateDirectories: true)
        let extractor = try TarExtractor(into: temp.path + "/back")
        #expect(feed(extractor, writer.bytes))
        extractor.close(complete: true, message: "")
        #expect(await extractor.finish() == nil)
        #expect(FileManager.default.fileExists(atPath: temp.path + "/back/dist/a.txt"))
        #expect(!FileManager.default.fileExists(atPath: temp.path + "/back/other.txt"))
        let empty = Writer()
        try TarProducer.write(folder: temp.path + "/src", entries: [], listFolder: temp.path, into: empty)
        #expect(empty.bytes.count >= 1024 && empty.bytes.allSatisfy { $0 == 0 })
        // The list of entries tar read is gone.
        #expect(try FileManager.default.contentsOfDirectory(atPath: temp.path).filter { $0.hasPrefix(".tar-entries-") }.isEmpty)
    }
}

/// An executor's files interface that answers every get with a fixed archive.
struct CannedFiles: ExecutorFileTransfer {
    let archive: [UInt8]
    func putTree(_ request: FilesPut, produce: @escaping @Sendable (any TreeWriter) throws -> Void) async throws -> FilesPutResult {
        FilesPutResult(files: 0, bytes: 0)
    }
    func getTree(_ request: FilesGet, into sink: any TreeSink) async throws -> FilesGetResult {
        let complete = archive.withUnsafeBytes { sink.write($0) }
        sink.close(complete: complete, message: complete ? "" : "refused")
        return FilesGetResult(files: 0, bytes: archive.count)
    }
}

extension ArtifactTransferTests {
    @Test("a kept path under a link the executor's archive made is not followed: the file it points at stays where it is")
    func linkInTheArchive() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let victim = temp.path + "/victim"
        try FileManager.default.createDirectory(atPath: victim, withIntermediateDirectories: true)
        try temp.write("victim/secret.txt", "precious\n")
        var tar = TarBuilder()
        tar.add("dist", .link(victim))
        tar.end()
        let store = ArtifactStore(root: temp.path + "/artifacts")
        await #expect {
            try await store.keep(["dist/secret.txt"], as: "x", jobKey: "j", through: CannedFiles(archive: tar.bytes))
        } throws: { "\($0)".contains("'dist/secret.txt' does not exist in the workspace") }
        #expect(try String(contentsOfFile: victim + "/secret.txt", encoding: .utf8) == "precious\n")
        #expect(!FileManager.default.fileExists(atPath: temp.path + "/artifacts/x/dist/secret.txt"))
    }
}
