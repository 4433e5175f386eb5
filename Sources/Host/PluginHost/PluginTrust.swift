import Foundation
import NixActionsProcessKit

#if canImport(Glibc)
    import Glibc
#endif

/// The checks a plugin file and its folders must pass before `dlopen` maps it.
///
/// A plugin runs with the host's rights, so nobody but root and the user running nixactions may
/// have been able to write it or to replace it:
///
/// 1. The path is resolved first (`realpath`): every check below is on the real file and its real
///    folders, not on a symlink or the symlink's folder.
/// 2. The file and every folder from it up to `/` must be owned by root or by the effective user.
/// 3. None of them may be writable by group or others. One exception: a folder that is sticky
///    (like `/tmp`, mode 1777) may be writable by others when it is an *ancestor* and the folder
///    right below it is itself owned by root or the user and not writable by group or others: in a
///    sticky folder other users cannot rename, replace or delete entries they do not own. A sticky
///    folder is never accepted as the plugin file's own folder (others can add files to it).
/// 4. The file is opened (`O_RDONLY | O_CLOEXEC | O_NOFOLLOW`) and the opened descriptor is checked
///    (`fstat`: a regular file, owner, mode) and read: a complete 64-bit ELF shared object whose
///    program headers, section headers and every `PT_LOAD` segment lie within the file. A truncated
///    library would otherwise crash the host with SIGBUS inside `dlopen`.
/// 5. The library is loaded through `/proc/self/fd/N`, the descriptor that was checked, so what was
///    checked is what is mapped, even if the path is changed afterwards.
enum PluginTrust {
    /// Why a file was refused.
    struct Reason: Error {
        var text: String
        /// The system's error number, when a call failed.
        var errno: Int32?
        init(_ text: String, errno: Int32? = nil) {
            self.text = text
            self.errno = errno
        }
    }

    /// The real path of `path`, or why it has none.
    static func realPath(_ path: String) -> Result<String, Reason> {
        guard let resolved = realpath(path, nil) else { return .failure(Reason(errorText(), errno: errno)) }
        defer { free(resolved) }
        return .success(String(cString: resolved))
    }

    /// A folder that fails the rules, and what is wrong with it.
    struct FolderProblem: Error, Equatable {
        /// The offending folder (`folder` itself or one of its ancestors).
        var folder: String
        /// E.g. "is writable by group and others (chmod go-w '/x')".
        var problem: String
    }

    /// nil if plugins may be loaded from the real folder `folder`; otherwise the folder (itself or
    /// an ancestor) that fails, and why.
    ///
    /// `folder` is the plugin files' own folder, where a sticky bit does not excuse write access for
    /// others (unless `mayBeSticky`: a folder this process only makes its own private folders in,
    /// like the run folder in `/tmp`); its ancestors up to `/` are checked too.
    static func folderProblem(_ folder: String, mayBeSticky: Bool = false) -> FolderProblem? {
        var current = folder
        var isOwnFolder = !mayBeSticky
        var belowIsWritable = false  // the folder checked just before (the one inside `current`)
        var below = ""
        while true {
            var info = stat()
            guard lstat(current, &info) == 0 else { return FolderProblem(folder: current, problem: "cannot be inspected: \(errorText())") }
            guard (info.st_mode & S_IFMT) == S_IFDIR else { return FolderProblem(folder: current, problem: "is not a folder") }
            if let owner = FileOwnership.foreignOwner(info) {
                return FolderProblem(folder: current, problem: "is owned by \(owner), not by root or you")
            }
            let writable = info.st_mode & (S_IWGRP | S_IWOTH) != 0
            if writable {
                let sticky = info.st_mode & S_ISVTX != 0
                if !sticky {
                    return FolderProblem(folder: current, problem: "is writable by \(FileOwnership.writers(info)) (chmod go-w '\(current)')")
                }
                if isOwnFolder {
                    return FolderProblem(
                        folder: current,
                        problem: "is writable by \(FileOwnership.writers(info)) (it is sticky, but others can still add files to it)")
                }
                if belowIsWritable {
                    return FolderProblem(
                        folder: below,
                        problem: "is writable by other users and sits in the sticky folder '\(current)' (chmod go-w '\(below)')")
                }
            }
            if current == "/" { return nil }
            below = current
            belowIsWritable = writable
            isOwnFolder = false
            current = PathText.parent(current)
            if current.isEmpty { current = "/" }
        }
    }

    /// The checked plugin file, open; or why it was refused.
    ///
    /// `path` must already be a real path. The caller closes the descriptor.
    static func open(_ path: String) -> Result<Int32, Reason> {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return .failure(Reason("cannot read it: \(errorText())", errno: errno)) }
        var info = stat()
        guard fstat(fd, &info) == 0 else {
            let error = errno
            close(fd)
            return .failure(Reason("cannot read it: \(String(cString: strerror(error)))", errno: error))
        }
        func refuse(_ reason: String) -> Result<Int32, Reason> {
            close(fd)
            return .failure(Reason(reason))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else { return refuse("not a regular file") }
        if let owner = FileOwnership.foreignOwner(info) { return refuse("refused: the file is owned by \(owner), not by root or you") }
        if info.st_mode & (S_IWGRP | S_IWOTH) != 0 {
            return refuse("refused: the file is writable by other users (chmod go-w '\(path)')")
        }
        if let problem = elfProblem(fd, size: UInt64(info.st_size)) { return refuse("not a loadable library: \(problem)") }
        return .success(fd)
    }

    /// nil if the open file `fd` of `size` bytes is a complete 64-bit ELF shared object for this CPU.
    static func elfProblem(_ fd: Int32, size: UInt64) -> String? {
        func bytes(_ count: Int, at offset: UInt64) -> [UInt8]? {
            var buffer = [UInt8](repeating: 0, count: count)
            var done = 0
            while done < count {
                let got = buffer.withUnsafeMutableBytes { raw in
                    pread(fd, raw.baseAddress! + done, count - done, off_t(offset) + off_t(done))
                }
                if got < 0 && errno == EINTR { continue }
                guard got > 0 else { return nil }
                done += got
            }
            return buffer
        }
        func integer<T: FixedWidthInteger>(_ data: [UInt8], _ offset: Int, as: T.Type) -> T {
            var value: T = 0
            for index in (0..<MemoryLayout<T>.size).reversed() { value = value << 8 | T(data[offset + index]) }
            return value  // little-endian, checked below
        }
        /// The end of `count` items of `size` bytes at `offset`, or nil on overflow.
        func end(_ offset: UInt64, _ count: UInt64, _ size: UInt64) -> UInt64? {
            let (length, overflow) = count.multipliedReportingOverflow(by: size)
            guard !overflow else { return nil }
            let (last, overflow2) = offset.addingReportingOverflow(length)
            return overflow2 ? nil : last
        }
        guard size >= 64, let header = bytes(64, at: 0) else {
            return "file too short (\(size) bytes) for an ELF header"
        }
        guard header[0] == 0x7F, header[1] == 0x45, header[2] == 0x4C, header[3] == 0x46 else {
            return "invalid ELF header (the file does not start with \\x7fELF)"
        }
        guard header[4] == 2 else { return "not a 64-bit ELF file (class \(header[4]))" }
        guard header[5] == 1 else { return "not a little-endian ELF file" }
        let type = integer(header, 16, as: UInt16.self)
        guard type == 3 else { return "not a shared library (ELF type \(type))" }
        let machine = integer(header, 18, as: UInt16.self)
        if let expected = hostMachine, machine != expected {
            return "built for another CPU (ELF machine \(machine); this host is \(expected))"
        }
        let phoff = integer(header, 32, as: UInt64.self)
        let shoff = integer(header, 40, as: UInt64.self)
        let phentsize = UInt64(integer(header, 54, as: UInt16.self))
        let phnum = UInt64(integer(header, 56, as: UInt16.self))
        let shentsize = UInt64(integer(header, 58, as: UInt16.self))
        var shnum = UInt64(integer(header, 60, as: UInt16.self))
        let truncated = "truncated or damaged ELF file"

        guard phnum > 0, phentsize == 56 else { return "\(truncated): no valid program headers" }
        guard let programEnd = end(phoff, phnum, phentsize), programEnd <= size else {
            return "\(truncated): its program headers end past the end of the file (\(size) bytes)"
        }
        if shoff != 0 {
            guard shentsize == 64 else { return "\(truncated): section header size \(shentsize)" }
            if shnum == 0 {  // more than 0xff00 sections: the count is in section 0's sh_size
                guard let first = bytes(64, at: shoff) else {
                    return "\(truncated): its section headers start past the end of the file (\(size) bytes)"
                }
                shnum = integer(first, 32, as: UInt64.self)
            }
            guard let sectionEnd = end(shoff, shnum, shentsize), sectionEnd <= size else {
                return "\(truncated): its section headers end past the end of the file (\(size) bytes)"
            }
        }
        guard let table = bytes(Int(phnum * phentsize), at: phoff) else {
            return "\(truncated): cannot read its program headers"
        }
        for index in 0..<Int(phnum) {
            let base = index * 56
            guard integer(table, base, as: UInt32.self) == 1 else { continue }  // PT_LOAD
            let offset = integer(table, base + 8, as: UInt64.self)
            let fileSize = integer(table, base + 32, as: UInt64.self)
            guard let segmentEnd = end(offset, 1, fileSize), segmentEnd <= size else {
                return "\(truncated): loadable segment \(index) ends at byte \(offset &+ fileSize), past the end of the file (\(size) bytes)"
            }
        }
        return nil
    }

    /// `e_machine` of this host, when known.
    static var hostMachine: UInt16? {
        #if arch(x86_64)
            return 62  // EM_X86_64
        #elseif arch(arm64)
            return 183  // EM_AARCH64
        #else
            return nil
        #endif
    }

    static func errorText() -> String { String(cString: strerror(errno)) }
}

/// Whether a folder is one only root and this user can change: the checks plugin folders pass
/// (`PluginTrust`), for the folder runs make their private folders in (`TMPDIR`). A sticky folder
/// (`/tmp`) passes: others cannot rename or replace what this user makes in it.
public enum TrustedFolder {
    /// nil when `folder` (resolved) and its ancestors pass; otherwise what is wrong, naming the folder.
    public static func problem(_ folder: String) -> String? {
        switch PluginTrust.realPath(folder) {
        case .failure(let reason): return "'\(folder)' cannot be resolved: \(reason.text)"
        case .success(let real):
            return PluginTrust.folderProblem(real, mayBeSticky: true).map { "'\($0.folder)' \($0.problem)" }
        }
    }
}

/// Whether a folder of code this process runs (the Nix library's `nix/`: its `.nix` files are
/// evaluated with this user's rights and make the jobs) is one only root and this user can
/// change: the folder (resolved) and its ancestors pass the plugin folders' checks, a sticky
/// folder never as the folder itself, and each file in it is owned by root or this user and not
/// writable by its group or others (audit 60 users H1: a library planted in /tmp ran as the user).
public enum TrustedCode {
    /// nil when `folder` (resolved) and its ancestors pass the plugin folders' checks, a sticky
    /// folder never as the folder itself; otherwise what is wrong (the files in it not looked at).
    public static func folderOnly(_ folder: String) -> String? {
        switch PluginTrust.realPath(folder) {
        case .failure(let reason): return "'\(folder)' cannot be resolved: \(reason.text)"
        case .success(let real): return PluginTrust.folderProblem(real).map { "'\($0.folder)' \($0.problem)" }
        }
    }

    /// nil when `folder` may be used; otherwise what is wrong, naming the folder or file.
    public static func problem(_ folder: String) -> String? {
        let real: String
        switch PluginTrust.realPath(folder) {
        case .failure(let reason): return "'\(folder)' cannot be resolved: \(reason.text)"
        case .success(let resolved): real = resolved
        }
        if let problem = PluginTrust.folderProblem(real) { return "'\(problem.folder)' \(problem.problem)" }
        for name in FastFiles.names(in: real, prefix: "") ?? [] where name != "." && name != ".." {
            var info = stat()
            let path = real + "/" + name
            guard lstat(path, &info) == 0 else { continue }
            if info.st_mode & S_IFMT == S_IFLNK {
                if let owner = FileOwnership.foreignOwner(info) { return "'\(path)' belongs to \(owner)" }
            } else if let problem = FileOwnership.problem(info) {
                return "'\(path)' \(problem)" + (FileOwnership.foreignOwner(info) == nil ? " (chmod go-w '\(path)')" : "")
            }
        }
        return nil
    }
}
