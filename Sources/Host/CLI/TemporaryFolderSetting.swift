import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `TMPDIR`, resolved once when the process starts.
///
/// The run's folder, its jobs' workspaces and temporary folders, its cleanup scripts and the
/// supervisor all name paths under TMPDIR. Checked as resolved but used as given, a TMPDIR that
/// passes through a symbolic link another user owns let that user repoint the link during the
/// run: the steps then wrote into their folder and the run's end ran their cleanup scripts as
/// this user (audit 64 users H1). Resolved here, before anything reads it, every later use names
/// the folder that `TrustedFolder` checks, whatever becomes of the link.
public enum TemporaryFolderSetting {
    /// Replace `TMPDIR` in this process's environment by its resolved path (the part that exists
    /// resolved, what does not yet exist appended as given). Call before any other thread starts.
    public static func resolve() {
        guard let given = getenv("TMPDIR").map({ String(cString: $0) }), !given.isEmpty else { return }
        guard let resolved = resolvedPath(given), resolved != given else { return }
        setenv("TMPDIR", resolved, 1)
    }

    /// `path` with its existing part resolved (`realpath`) and the missing rest appended; nil when
    /// nothing of it can be resolved.
    static func resolvedPath(_ path: String) -> String? {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var missing: [Substring] = []
        var existing = Substring(absolute)
        while true {
            if let real = realpath(String(existing), nil) {
                defer { free(real) }
                let base = String(cString: real)
                let rest = missing.reversed().filter { !$0.isEmpty && $0 != "." }.joined(separator: "/")
                if missing.contains("..") { return nil }  // not resolved past a part that is not there
                return rest.isEmpty ? base : (base == "/" ? "/" : base + "/") + rest
            }
            guard let slash = existing.lastIndex(of: "/"), existing != "/" else { return nil }
            missing.append(existing[existing.index(after: slash)...])
            existing = slash == existing.startIndex ? "/" : existing[..<slash]
        }
    }
}
