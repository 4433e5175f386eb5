import Foundation

/// Copies the project's files into a job's workspace, leaving out excluded names.
struct ProjectCopier {
    /// Names (matched against each path component, `fnmatch` globs) never copied.
    let excludes: [String]

    func copy(from source: URL, to destination: URL) throws {
        let manager = FileManager.default
        let entries = try manager.contentsOfDirectory(atPath: source.path)
        for name in entries where !isExcluded(name) {
            let from = source.appendingPathComponent(name)
            let to = destination.appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard manager.fileExists(atPath: from.path, isDirectory: &isDirectory) else { continue }
            let attributes = try? manager.attributesOfItem(atPath: from.path)
            if attributes?[.type] as? FileAttributeType == .typeSymbolicLink {
                let target = try manager.destinationOfSymbolicLink(atPath: from.path)
                try manager.createSymbolicLink(atPath: to.path, withDestinationPath: target)
            } else if isDirectory.boolValue {
                try manager.createDirectory(at: to, withIntermediateDirectories: true)
                try copy(from: from, to: to)
            } else {
                try manager.copyItem(at: from, to: to)
            }
        }
    }

    func isExcluded(_ name: String) -> Bool {
        excludes.contains { fnmatch($0, name, 0) == 0 }
    }
}
