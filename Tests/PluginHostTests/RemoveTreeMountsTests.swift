import Foundation
import NixActionsProcessKit
import Testing
import TestSupport

#if canImport(Glibc)
    import Glibc
#endif

/// `FastFiles.removeTree` (run folders, job folders, the supervisor's sweep) never goes into a
/// mount a step left in its workspace: what is mounted is not the run's.
@Suite("FastFiles.removeTree and mounts left in a run's folders", .enabled(if: getuid() == 0, "mount needs root"))
struct RemoveTreeMountsTests {
    func mount(_ arguments: [String]) throws -> Bool {
        let result = try runCommandBlocking(URL(fileURLWithPath: "/bin/mount"), arguments)
        return result.status == 0
    }

    @Test("a bind mount (same file system) and a tmpfs in a folder being removed: detached, never emptied; the folder goes")
    func mountsDetachedNotEmptied() throws {
        let temp = try TemporaryDirectory()
        defer {
            _ = try? runCommandBlocking(URL(fileURLWithPath: "/bin/umount"), ["-l", temp.path + "/run/tmp/cache"])
            _ = try? runCommandBlocking(URL(fileURLWithPath: "/bin/umount"), ["-l", temp.path + "/run/work/ram"])
            temp.remove()
        }
        _ = try temp.write("precious/file.txt", "keep me\n")
        chmod(temp.path + "/precious", 0o755)
        for folder in ["run/tmp/cache", "run/work/ram"] {
            try FileManager.default.createDirectory(atPath: temp.path + "/" + folder, withIntermediateDirectories: true)
        }
        _ = try temp.write("run/work/own.txt", "the run's own\n")
        #expect(try mount(["--bind", temp.path + "/precious", temp.path + "/run/tmp/cache"]))
        #expect(try mount(["-t", "tmpfs", "-o", "size=1m", "tmpfs", temp.path + "/run/work/ram"]))
        _ = try temp.write("run/work/ram/in-tmpfs.txt", "x\n")

        let failure = FastFiles.removeTree(temp.path + "/run")
        #expect(failure == nil, "\(failure.map { String(cString: strerror($0)) } ?? "")")
        #expect(!FileManager.default.fileExists(atPath: temp.path + "/run"))
        #expect(try String(contentsOfFile: temp.path + "/precious/file.txt", encoding: .utf8) == "keep me\n")
        var info = stat()
        #expect(stat(temp.path + "/precious", &info) == 0 && info.st_mode & 0o777 == 0o755, "the mounted folder's mode was changed")
        let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        #expect(!mounts.contains(temp.path + "/run"), "a mount is left")
    }
}
