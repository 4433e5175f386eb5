import Foundation
import NixActionsProcessKit
import Testing
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// The local executor hands a finished job's folder to the next job only when
/// `FastFiles.emptySubfolders` says it holds nothing but its empty `workspace` and `tmp` with a new
/// folder's mode (`FolderRecycler`).
@Suite("FastFiles.emptySubfolders: what makes a job folder fit for the next job")
struct EmptySubfoldersTests {
    static let mode: mode_t = 0o755

    /// `temp/job` with `workspace` and `tmp`, mode 0755.
    static func jobFolder(_ temp: TemporaryDirectory) -> String {
        let job = temp.path + "/job"
        for path in [job, job + "/workspace", job + "/tmp"] {
            mkdir(path, 0o700)
            chmod(path, mode)
        }
        return job
    }

    @Test("contents go, read-only folders too; the folders stay")
    func empties() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let job = Self.jobFolder(temp)
        try temp.write("job/workspace/a/b/file", "x")
        try temp.write("job/tmp/t", "y")
        chmod(job + "/workspace/a/b", 0o500)
        #expect(FastFiles.emptySubfolders(job, ["workspace", "tmp"], mode: Self.mode) == nil)
        #expect(try FileManager.default.contentsOfDirectory(atPath: job + "/workspace").isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: job + "/tmp").isEmpty)
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: job)) == ["workspace", "tmp"])
    }

    @Test("refused: a file beside them, a link in place of one, a changed mode, a link in place of the folder")
    func refusals() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let outside = temp.path + "/outside"
        mkdir(outside, 0o755)
        try temp.write("outside/keep", "precious")

        let beside = Self.jobFolder(temp)
        try temp.write("job/stray", "z")
        #expect(FastFiles.emptySubfolders(beside, ["workspace", "tmp"], mode: Self.mode) == ENOTEMPTY)
        FastFiles.removeTree(beside)

        let linked = Self.jobFolder(temp)
        rmdir(linked + "/workspace")
        symlink(outside, linked + "/workspace")
        let refused = FastFiles.emptySubfolders(linked, ["workspace", "tmp"], mode: Self.mode)
        #expect(refused == ENOTDIR || refused == ELOOP)
        #expect((try? String(contentsOfFile: outside + "/keep", encoding: .utf8)) == "precious", "a link is never followed")
        FastFiles.removeTree(linked)

        let moded = Self.jobFolder(temp)
        chmod(moded + "/tmp", 0o777)
        #expect(FastFiles.emptySubfolders(moded, ["workspace", "tmp"], mode: Self.mode) == EPERM)
        FastFiles.removeTree(moded)

        let real = Self.jobFolder(temp)
        let alias = temp.path + "/alias"
        symlink(real, alias)
        let viaLink = FastFiles.emptySubfolders(alias, ["workspace", "tmp"], mode: Self.mode)
        #expect(viaLink == ENOTDIR || viaLink == ELOOP)
        #expect(FastFiles.emptySubfolders(temp.path + "/missing", ["workspace", "tmp"], mode: Self.mode) == ENOENT)
    }
}
