import Foundation
import NixActionsProcessKit

#if canImport(Glibc)
    import Glibc
#endif

/// The attribute letters `lsattr -d` prints for `path` (`-------------Te-------`), or nil where
/// there is no lsattr or the file system keeps no such attributes.
public func fileAttributeLetters(_ path: String) -> String? {
    let lsattr = URL(fileURLWithPath: "/usr/bin/lsattr")
    guard FileManager.default.isExecutableFile(atPath: lsattr.path),
          let result = try? runCommandBlocking(lsattr, ["-d", path]), result.status == 0
    else { return nil }
    return result.stdout.split(separator: " ").first.map(String.init)
}

/// Whether folders made in `parent` get the top-of-hierarchy flag (`FastFiles.spreadSubfolders`
/// sets it on a probe folder of its own): false on a file system where nixactions leaves it unset.
public func spreadsSubfolders(in parent: String) -> Bool {
    let probe = parent + "/.probe-\(getpid())"
    guard mkdir(probe, 0o700) == 0 else { return false }
    defer { rmdir(probe) }
    return FastFiles.spreadSubfolders(probe) == nil
}
