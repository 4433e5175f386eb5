import Foundation
import NixActionsEngine
import NixActionsPluginHost
import NixActionsPluginMessages
import NixActionsProcessKit
import Testing
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// The folders that hold one folder per job or per run are marked as tops of hierarchies
/// (`chattr +T`) on an ext4 without a journal, so that it places each new folder in them away from
/// the inodes earlier runs freed (docs/benchmarks.md, round 17). This machine kind's root file
/// system is one; elsewhere the flag checks are skipped.
@Suite("Folder placement: the top-of-hierarchy flag on the jobs folder and a new log root")
struct FolderPlacementTests {
    @Test("the flag is set on an ext4 without a journal (lsattr shows T), refused without harm elsewhere")
    func setOrRefused() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = temp.path + "/runs"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        let result = FastFiles.spreadSubfolders(folder)
        if let result {
            #expect([ENOTTY, EOPNOTSUPP, EINVAL].contains(result), "unexpected errno \(result)")
            if let letters = fileAttributeLetters(folder) { #expect(!letters.contains("T")) }
        } else if let letters = fileAttributeLetters(folder) {
            #expect(letters.contains("T"), "lsattr shows \(letters)")
        }
        // Twice is the same as once; folders made in it are ordinary folders.
        #expect(FastFiles.spreadSubfolders(folder) == result)
        try FileManager.default.createDirectory(atPath: folder + "/j1/workspace", withIntermediateDirectories: true)
        #expect(FileManager.default.fileExists(atPath: folder + "/j1/workspace"))

        // Not an ext4 without a journal (tmpfs): EOPNOTSUPP, nothing else.
        if FileManager.default.fileExists(atPath: "/dev/shm"), let shm = try? PrivateFolder(base: "/dev/shm", prefix: "nxa-test-") {
            defer { shm.remove() }
            #expect(FastFiles.spreadSubfolders(shm.path) == EOPNOTSUPP)
        }
    }

    @Test("a link is not followed and a missing folder is an errno")
    func linksAndMissing() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let target = temp.path + "/target"
        try FileManager.default.createDirectory(atPath: target, withIntermediateDirectories: false)
        try FileManager.default.createSymbolicLink(atPath: temp.path + "/link", withDestinationPath: target)
        let result = FastFiles.spreadSubfolders(temp.path + "/link")
        #expect(result == ELOOP || result == ENOTDIR, "got \(String(describing: result))")
        if let letters = fileAttributeLetters(target) { #expect(!letters.contains("T")) }
        #expect(FastFiles.spreadSubfolders(temp.path + "/missing") == ENOENT)
        try "x".write(toFile: temp.path + "/file", atomically: false, encoding: .utf8)
        #expect(FastFiles.spreadSubfolders(temp.path + "/file") == ENOTDIR)
    }

    @Test("the local executor marks its jobs folder; the jobs' folders in it are plain")
    func jobsFolder() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["local": "nixactions-plugin-local"])
        let (loaded, refused) = PluginLoader.discover(in: [folder])
        let registry = PluginRegistry(loaded: loaded, refused: refused, searchPath: [folder])
        let executor = try registry.makeExecutor(
            pluginID: "local",
            configuration: ExecutorConfiguration(runID: "t", runDirectory: temp.path + "/run", projectDirectory: temp.path, options: [:]))
        let job = JobSpec(jobKey: "build", displayName: "build")
        _ = try await executor.startJob(job)
        // On a file system without the flag there is nothing to check.
        if spreadsSubfolders(in: temp.path), let jobs = fileAttributeLetters(temp.path + "/run/jobs"),
           let one = fileAttributeLetters(temp.path + "/run/jobs/build") {
            #expect(jobs.contains("T"), "jobs folder: \(jobs)")
            #expect(!one.contains("T"), "job folder: \(one)")
        }
        await executor.finishJob(job)
    }
}
