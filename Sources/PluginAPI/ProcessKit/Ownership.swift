import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Who, besides root and this user, could change a file: the one statement of it for plugins'
/// folders, the Nix library, workflow files and cache entries.
public enum FileOwnership {
    /// "user 'nobody' (uid 65534)" when the owner is neither root nor the effective user; else nil.
    public static func foreignOwner(_ info: stat) -> String? {
        let uid = info.st_uid
        if uid == 0 || uid == geteuid() { return nil }
        if let entry = getpwuid(uid), let name = entry.pointee.pw_name {
            return "user '\(String(cString: name))' (uid \(uid))"
        }
        return "uid \(uid)"
    }

    /// Who may write it besides its owner, for a message: "every user" or "its group".
    public static func writers(_ info: stat) -> String {
        info.st_mode & S_IWOTH != 0 ? "every user" : "its group"
    }

    /// Why others could change it (another owner, or group or others may write), or nil.
    /// `groupMay`: writable by its group is not counted (many systems give each user a group of
    /// their own), only by every user.
    public static func problem(_ info: stat, groupMay: Bool = false) -> String? {
        if let owner = foreignOwner(info) { return "belongs to \(owner)" }
        let writable: mode_t = groupMay ? S_IWOTH : S_IWGRP | S_IWOTH
        if info.st_mode & writable != 0 { return "is writable by \(writers(info))" }
        return nil
    }
}

/// A number of seconds from a variable of the environment (`NIXACTIONS_CLEANUP_SECONDS` and the
/// like): nil when it is not set, not a number, or outside `allowed`.
public enum EnvironmentSeconds {
    public static func read(_ name: String, allowed: ClosedRange<Double>,
                            environment: [String: String] = ProcessInfo.processInfo.environment) -> Duration? {
        guard let text = environment[name], let seconds = Double(text), allowed.contains(seconds) else { return nil }
        return .milliseconds(Int64(seconds * 1000))
    }
}

