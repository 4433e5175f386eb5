import Foundation
import NixActionsProcessKit
import NixActionsPluginMessages

/// What `actions/upload-artifact`'s `path:` selects, by GitHub's rules (@actions/glob): one
/// pattern per line, `!` excludes, a pattern that matches a folder takes everything under it, and
/// the artifact's root is where the files are stored from.
struct UploadSelection: Equatable {
    /// The patterns, relative to the workspace (excludes keep their `!`).
    var patterns: [String]
    /// Per include pattern, its part before the first wildcard ("" for the workspace).
    var searchPaths: [String]
    /// Per include pattern, as written (for messages).
    var written: [String] = []

    init(_ path: String, artifact: String) throws {
        patterns = []
        searchPaths = []
        for line in path.split(separator: "\n") {
            let text = line.trimmingCharacters(in: .whitespaces)
            guard !text.isEmpty, !text.hasPrefix("#") else { continue }
            let excluded = text.hasPrefix("!")
            let relative = try ArtifactStore.relative(excluded ? String(text.dropFirst()) : text, artifact: artifact, role: "path")
            patterns.append((excluded ? "!" : "") + (relative.isEmpty ? "**" : relative))
            if !excluded {
                written.append(text)
                let parts = relative.split(separator: "/")
                searchPaths.append(parts.prefix { !$0.contains(where: { "*?[".contains($0) }) }.joined(separator: "/"))
            }
        }
        guard !searchPaths.isEmpty else {
            throw EngineError("upload-artifact '\(artifact)': 'path' has no pattern to include", hint: "e.g. path: dist/ (one path or glob per line; '!' excludes)")
        }
    }

    /// Whether hidden files (a path component starting with '.') are kept (`include-hidden-files`).
    var hidden = false

    /// The matched files that are uploaded: without hidden ones unless `hidden`.
    func filter(_ files: [String]) -> [String] {
        hidden ? files : files.filter { !$0.split(separator: "/").contains { $0.hasPrefix(".") } }
    }

    /// A path without wildcards that leads out of the workspace through a symbolic link is an
    /// error (not "no files found"), as for every artifact path.
    func refuseLinksOut(in workspace: String, artifact: String) throws {
        guard let realWorkspace = ArtifactStore.realPath(workspace) else { return }
        for (index, path) in searchPaths.enumerated() where !path.isEmpty {
            let source = workspace + "/" + path
            guard FileManager.default.fileExists(atPath: source) || ArtifactStore.resolved(source) == nil else { continue }
            if let real = ArtifactStore.resolved(source), ArtifactStore.isInside(real, realWorkspace) { continue }
            throw ArtifactStore.escapes(written[index], artifact: artifact, role: "path", through: ArtifactStore.resolved(source))
        }
    }

    /// The folder the files are stored relative to (upload-artifact's rule): with several
    /// patterns the least common ancestor of their search paths; with one, its search path, or
    /// the folder that holds it when it is the single file found.
    func root(of files: [String]) -> String {
        if searchPaths.count > 1 {
            var common = searchPaths[0].split(separator: "/")
            for path in searchPaths.dropFirst() {
                let parts = path.split(separator: "/")
                common = Array(zip(common, parts).prefix { $0 == $1 }.map(\.0))
            }
            return common.joined(separator: "/")
        }
        if files == [searchPaths[0]] { return PathText.parent(searchPaths[0]) }
        return searchPaths[0]
    }
}

extension JobRunner {
    /// `actions/upload-artifact`: the files `path:` selects, stored relative to their root.
    /// Returns the line to print; nothing found is a warning (default), an error or nothing,
    /// per `if-no-files-found`.
    func uploadArtifact(_ inputs: [String: String], step: Step, started: JobStarted, executor: any Executor) async throws -> String {
        let artifact = inputs["name"].flatMap { $0.isEmpty ? nil : $0 } ?? "artifact"
        guard let path = inputs["path"] else {
            throw EngineError("upload-artifact needs 'with: path'", hint: "e.g. with: { name: dist, path: dist/ }")
        }
        let ifNone = inputs["if-no-files-found"].flatMap { $0.isEmpty ? nil : $0.lowercased() } ?? "warn"
        guard ["warn", "error", "ignore"].contains(ifNone) else {
            throw EngineError("upload-artifact: unrecognized if-no-files-found '\(inputs["if-no-files-found"] ?? "")'",
                              hint: "use warn (the default), error or ignore")
        }
        var selection = try UploadSelection(path, artifact: artifact)
        // upload-artifact v4.4 and later leave out hidden files (a name starting with '.') unless asked.
        selection.hidden = inputs["include-hidden-files"]?.lowercased() == "true"
        let described = path.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: ", ")
        var count = 0
        // Into a copy of its own, added to the artifact once whole (two jobs uploading one name
        // at once collided or mixed their files: audit 51).
        let staging = try artifacts.staging()
        do {
            if let files = Self.fileTransfer(started, executor) {
                // The search paths come out of the job; the patterns choose among what came.
                count = try await staging.keep(selection.searchPaths, as: artifact, jobKey: executorKey, through: files,
                                               patterns: selection.patterns, select: selection.filter, rootOf: selection.root(of:))
            } else {
                try selection.refuseLinksOut(in: started.workspace, artifact: artifact)
                let matched = selection.filter(HashFiles.matching(selection.patterns, in: started.workspace))
                if !matched.isEmpty {
                    try staging.keep(matched, from: started.workspace, as: artifact, root: selection.root(of: matched))
                }
                count = matched.count
            }
            // overwrite: true replaces what an earlier upload of the name kept (review: its files stayed).
            try artifacts.publish(artifact, from: staging, inputs["overwrite"]?.lowercased() == "true" ? .replace : .add)
        } catch {
            try? FileManager.default.removeItem(atPath: staging.root)
            throw error
        }
        guard count > 0 else {
            let message = "No files were found with the provided path: \(described). No artifacts will be uploaded."
            switch ifNone {
            case "error": throw EngineError("upload-artifact '\(artifact)': \(message)", hint: "check the path (relative to the job's workspace), or set if-no-files-found: warn or ignore")
            case "warn": reporter.report(.message(job: planned.key, level: .warning, text: message))
            default: reporter.report(.output(job: planned.key, step: step.index, stream: 1, line: message))
            }
            return ""
        }
        // Names and paths as text (a name holding a terminal escape is shown escaped: audit 51).
        return "uploaded artifact '\(DisplayText.escaped(artifact))': \(DisplayText.escaped(described)) (\(count) file\(count == 1 ? "" : "s"))"
    }

    /// `actions/download-artifact`: `name` (one artifact, into `path`), else every artifact whose
    /// name `pattern` matches (all without one), each in a folder named after it under `path`, or
    /// all into `path` with `merge-multiple: true`. `path` defaults to the workspace.
    func downloadArtifacts(_ inputs: [String: String], started: JobStarted, executor: any Executor) async throws -> [String] {
        let path = inputs["path"].flatMap { $0.isEmpty ? nil : $0 }
        if let name = inputs["name"], !name.isEmpty {
            guard try artifacts.names().contains(name) || FileManager.default.fileExists(atPath: artifacts.folder(name)) else {
                let known = artifacts.names()
                throw EngineError("Artifact not found for name: \(name)",
                                  hint: "the job that uploads it must have succeeded before this one (list it in 'needs'); "
                                      + (known.isEmpty ? "no artifact was uploaded yet" : "artifacts: \(known.joined(separator: ", "))"))
            }
            // Over what is there, as GitHub's download extracts: nothing else goes (audit 51: a
            // folder of the same name was replaced whole).
            try await restoreArtifact(name, under: path, started: started, executor: executor, merge: true)
            return ["downloaded artifact '\(DisplayText.escaped(name))'"]
        }
        let pattern = inputs["pattern"].flatMap { $0.isEmpty ? nil : $0 }
        let merge = inputs["merge-multiple"].map { $0.lowercased() == "true" } ?? false
        let chosen = artifacts.names().filter { name in pattern.map { fnmatch($0, name, 0) == 0 } ?? true }
        guard !chosen.isEmpty else {
            return ["no artifacts\(pattern.map { " match '\($0)'" } ?? " to download")"]
        }
        var lines: [String] = []
        for name in chosen {
            let under = merge ? path : path.map { $0 + "/" + name } ?? name
            try await restoreArtifact(name, under: under, started: started, executor: executor, merge: true)
            lines.append("downloaded artifact '\(DisplayText.escaped(name))' to '\(DisplayText.escaped(under ?? "."))'")
        }
        return lines
    }
}
