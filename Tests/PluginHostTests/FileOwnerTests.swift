import Foundation
import NixActionsProcessKit
import Testing
import TestSupport

/// `FileOwner`: how the oci executor hands a job's folders to the user its container runs as.
@Suite("FileOwner: folders given to a container's user, never through a link", .enabled(if: getuid() == 0, "giving files away needs root"))
struct FileOwnerTests {
    @Test("applyTree gives the tree, and a link in it itself, but never what a link points to; applyAncestors gives only root's folders above a path")
    func treeAndLinks() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let tree = temp.path + "/tree", outside = temp.path + "/outside"
        try FileManager.default.createDirectory(atPath: tree + "/a/b", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: outside + "/dir", withIntermediateDirectories: true)
        try "f".write(toFile: tree + "/a/b/file", atomically: false, encoding: .utf8)
        try "o".write(toFile: outside + "/file", atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: tree + "/a/to-file", withDestinationPath: outside + "/file")
        try FileManager.default.createSymbolicLink(atPath: tree + "/to-dir", withDestinationPath: outside + "/dir")
        let owner = FileOwner(uid: 4321, gid: 4322)
        #expect(owner.applyTree(to: tree, below: tree) == nil)
        func owners(_ path: String) -> (uid_t, gid_t) {
            var info = stat()
            _ = lstat(path, &info)
            return (info.st_uid, info.st_gid)
        }
        for path in [tree, tree + "/a", tree + "/a/b", tree + "/a/b/file", tree + "/a/to-file", tree + "/to-dir"] {
            #expect(owners(path) == (4321, 4322), "\(path)")
        }
        for path in [outside, outside + "/file", outside + "/dir"] {
            #expect(owners(path) == (0, 0), "followed a link to \(path)")
        }
        // A link given as the root itself is not walked either.
        #expect(owner.applyTree(to: tree + "/to-dir", below: tree) == nil)
        #expect(owners(outside + "/dir") == (0, 0))
        // A link on the way to the path (a folder a container swapped for one) is refused, never
        // followed; a path outside the base too.
        try FileManager.default.createDirectory(atPath: outside + "/dir/sub", withIntermediateDirectories: true)
        #expect([ELOOP, ENOTDIR].contains(owner.applyTree(to: tree + "/to-dir/sub", below: tree) ?? 0))
        #expect(owners(outside + "/dir/sub") == (0, 0))
        #expect(owner.applyTree(to: outside + "/dir", below: tree) == EXDEV)
        #expect(owner.applyTree(to: tree + "/a/../../outside", below: tree) == EXDEV)
        #expect(owners(outside + "/dir") == (0, 0) && owners(outside) == (0, 0))

        // Above a path: root's folders only, below the base, never the path itself.
        let base = temp.path + "/ws"
        try FileManager.default.createDirectory(atPath: base + "/x/y/z", withIntermediateDirectories: true)
        #expect(lchown(base + "/x", 1000, 1000) == 0)
        #expect(owner.applyAncestors(of: base + "/x/y/z", below: base) == nil)
        #expect(owners(base) == (0, 0) && owners(base + "/x") == (1000, 1000))
        #expect(owners(base + "/x/y") == (4321, 4322) && owners(base + "/x/y/z") == (0, 0))
        // Not through a link: the folders it leads to stay root's.
        try FileManager.default.createDirectory(atPath: outside + "/up/q", withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: base + "/l", withDestinationPath: outside + "/up")
        _ = owner.applyAncestors(of: base + "/l/q/z", below: base)
        #expect(owners(outside + "/up") == (0, 0) && owners(outside + "/up/q") == (0, 0))
    }
}
