import Foundation
import NixActionsProcessKit

#if canImport(Glibc)
    import Glibc
#endif

/// How many runs' log folders a log root keeps (`run --keep-logs`, `logs: { keep: }` of
/// `.nixactions/config.yml`; default 100), and the pruning of the older ones at a run's end.
///
/// Only this runner's own folders are touched: entries of the log root named as run ids
/// (`yyyyMMdd-HHmmss-` and 8 hex digits), folders (not links), owned by this user. A run holds a
/// shared lock on its log folder for its whole life (`hold`); a folder whose lock another
/// process holds (a run still going, in another shell) is left, whatever its age. The newest are
/// kept: by the start second in the run id, then by when the folder last changed; the calling
/// run's own folder always is.
public enum LogRetention {
    public static let defaultKeep = 100

    /// `N` (at least 1) or `all` (`keep` nil: never pruned); `valid` false for anything else.
    public static func parse(_ text: String) -> (keep: Int?, valid: Bool) {
        if text == "all" { return (nil, true) }
        guard let count = Int(text), count >= 1 else { return (nil, false) }
        return (count, true)
    }

    /// Take a shared lock on the run's log folder, kept until the process ends (the descriptor
    /// is never closed): another run's pruning sees the folder in use.
    public static func hold(_ folder: String) {
        let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return }
        if flock(fd, LOCK_SH | LOCK_NB) != 0 { close(fd) }
    }

    /// Whether `name` is a run id as `RunSupervision.makeRunID` makes them.
    static func isRunID(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard bytes.count == 24, bytes[8] == UInt8(ascii: "-"), bytes[15] == UInt8(ascii: "-") else { return false }
        func digit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }
        func hex(_ byte: UInt8) -> Bool { digit(byte) || (byte >= 0x61 && byte <= 0x66) }
        return bytes[0..<8].allSatisfy(digit) && bytes[9..<15].allSatisfy(digit) && bytes[16...].allSatisfy(hex)
    }

    /// Remove the log folders of `root` beyond the `keep` newest, never `current` (a name) nor a
    /// folder in use. Returns how many were removed and the problems met (each a sentence).
    public static func prune(root: String, keep: Int, current: String) -> (removed: Int, problems: [String]) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: root) else { return (0, []) }
        let user = getuid()
        var runs: [(name: String, changed: timespec)] = []
        for name in names where isRunID(name) {
            var info = stat()
            guard lstat(root + "/" + name, &info) == 0, info.st_mode & S_IFMT == S_IFDIR, info.st_uid == user else { continue }
            runs.append((name, info.st_mtim))
        }
        guard runs.count > keep else { return (0, []) }
        // Newest first: by the start second in the name, then (runs of one second, whose random
        // parts do not say which came first) by when the folder last changed.
        runs.sort { a, b in
            let (first, second) = (a.name.prefix(15), b.name.prefix(15))
            if first != second { return first > second }
            return (a.changed.tv_sec, a.changed.tv_nsec, a.name) > (b.changed.tv_sec, b.changed.tv_nsec, b.name)
        }
        var removed = 0
        var problems: [String] = []
        for name in runs.dropFirst(keep).map(\.name) where name != current {
            let path = root + "/" + name
            let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            // A run still going holds its folder's lock: left for a later run to prune.
            guard flock(fd, LOCK_EX | LOCK_NB) == 0 else { continue }
            if let failure = FastFiles.removeTree(path) {
                problems.append("cannot remove the old run logs \(path): \(String(cString: strerror(failure)))")
            } else {
                removed += 1
            }
        }
        return (removed, problems)
    }
}
