import Foundation
@testable import NixActionsEngine
import Testing
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// Job logs are spare files made ahead and renamed into place (`SpareFiles`): never over a file
/// that exists, and none is left once stopped.
@Suite("SpareFiles: logs made ahead and renamed into place")
struct SpareFilesTests {
    static func spares(in folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasPrefix(SpareFiles.prefix) }
    }

    /// A spare once the thread made one (it starts at once; this waits at most 5 s).
    static func take(_ files: SpareFiles, as name: String) throws -> Int32 {
        for _ in 0..<500 {
            if let fd = files.take(as: name) { return fd }
            usleep(10_000)
        }
        throw CocoaError(.fileNoSuchFile)
    }

    @Test("a spare becomes the named file, open for appending; an existing file is never replaced; stop leaves no spare")
    func renameIntoPlace() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let files = SpareFiles(directory: temp.path, count: 4)
        let fd = try Self.take(files, as: "a.log")
        #expect(write(fd, "hello\n", 6) == 6)
        close(fd)
        #expect(try String(contentsOfFile: temp.path + "/a.log", encoding: .utf8) == "hello\n")

        // `b.log` exists: no spare may take its name, and its bytes stay.
        try "kept\n".write(toFile: temp.path + "/b.log", atomically: false, encoding: .utf8)
        for _ in 0..<3 { #expect(files.take(as: "b.log") == nil) }
        #expect(try String(contentsOfFile: temp.path + "/b.log", encoding: .utf8) == "kept\n")
        // Nor `a.log`, now that it exists.
        #expect(files.take(as: "a.log") == nil)
        #expect(try String(contentsOfFile: temp.path + "/a.log", encoding: .utf8) == "hello\n")
        // The spares refused are still there for the next name.
        let next = try Self.take(files, as: "c.log")
        close(next)
        #expect(FileManager.default.fileExists(atPath: temp.path + "/c.log"))

        files.stop()
        #expect(Self.spares(in: temp.path).isEmpty, "left: \(Self.spares(in: temp.path))")
        #expect(files.take(as: "d.log") == nil)
        #expect(!FileManager.default.fileExists(atPath: temp.path + "/d.log"))
    }
}
