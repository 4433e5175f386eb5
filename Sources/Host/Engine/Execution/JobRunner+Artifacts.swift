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
                searchPaths.append(HashFiles.searchPath(of: relative))
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
    /// JavaScript's `parseInt(text)` for base 10: leading white space, a sign, then the digits
    /// there are (`"7 days"` is 7); nil where it is NaN (no digit first).
    static func parseInt(_ text: String) -> Int? {
        var rest = Substring(text).drop { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        var sign = 1
        if let first = rest.first, first == "-" || first == "+" {
            sign = first == "-" ? -1 : 1
            rest = rest.dropFirst()
        }
        let digits = rest.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty else { return nil }
        return Int(digits.prefix(18)).map { $0 * sign }
    }

    /// `actions/upload-artifact`: the files `path:` selects, stored relative to their root.
    /// Returns the line to print; nothing found is a warning (default), an error or nothing,
    /// per `if-no-files-found`.
    /// Returns the line to print and the step's outputs (`artifact-id`, `artifact-digest`,
    /// `artifact-url`: see `ArtifactStore.id(of:)` and `digest(of:)`; none when nothing was uploaded).
    func uploadArtifact(_ inputs: [String: String], uses: String, step: Step, started: JobStarted, executor: any Executor) async throws
        -> (line: String, outputs: [String: ExpressionValue]) {
        let artifact = inputs["name"].flatMap { $0.isEmpty ? nil : $0 } ?? "artifact"
        guard let path = inputs["path"] else {
            throw EngineError("upload-artifact needs 'with: path'", hint: "e.g. with: { name: dist, path: dist/ }")
        }
        let ifNone = inputs["if-no-files-found"].flatMap { $0.isEmpty ? nil : $0.lowercased() } ?? "warn"
        guard ["warn", "error", "ignore"].contains(ifNone) else {
            throw EngineError("upload-artifact: unrecognized if-no-files-found '\(inputs["if-no-files-found"] ?? "")'",
                              hint: "use warn (the default), error or ignore")
        }
        // upload-artifact's input helper fails the step on these (read with JavaScript's parseInt:
        // leading digits count, `9x` is 9) with setFailed, which does not stop it: the files are
        // uploaded, then the step fails (review 52).
        var invalid: EngineError?
        if let text = inputs["retention-days"], !text.isEmpty, Self.parseInt(text) == nil {
            invalid = EngineError("upload-artifact: Invalid retention-days '\(text)'", hint: "a number of days, e.g. retention-days: 5")
        }
        if let text = inputs["compression-level"], !text.isEmpty, Self.parseInt(text).map({ (0...9).contains($0) }) != true {
            invalid = EngineError("upload-artifact: Invalid compression-level '\(text)'. Valid values are 0-9", hint: "e.g. compression-level: 6 (the default)")
        }
        // overwrite: true replaces what an earlier upload of the name kept (review: its files stayed);
        // without it v4 and later refuse a name uploaded before (a branch or a SHA: as the latest),
        // before copying anything; v3 and earlier add to it.
        let publication: ArtifactStore.Publication = inputs["overwrite"]?.lowercased() == "true" ? .replace
            : (Self.majorVersion(uses).map { $0 >= 4 } ?? true) ? .refuse : .add
        if publication == .refuse { try artifacts.refuseExisting(artifact) }
        var selection = try UploadSelection(path, artifact: artifact)
        // upload-artifact v4.4 and later leave out hidden files (a name starting with '.') unless asked.
        selection.hidden = inputs["include-hidden-files"]?.lowercased() == "true"
        let described = path.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: ", ")
        var count = 0
        var digest = ""
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
                var leftOut: [String] = []
                let matched = selection.filter(HashFiles.matching(selection.patterns, in: started.workspace, followingLinks: true, leftOut: &leftOut))
                if !leftOut.isEmpty {
                    // Never without a word (upload-artifact's glob leaves them out silently).
                    let shown = leftOut.prefix(3).map { "'\(DisplayText.escaped($0))'" }.joined(separator: ", ") + (leftOut.count > 3 ? ", …" : "")
                    reporter.report(.message(job: planned.key, level: .warning, text:
                        "upload-artifact '\(artifact)': \(leftOut.count) file\(leftOut.count == 1 ? "" : "s") or folder\(leftOut.count == 1 ? "" : "s") left out: "
                        + "\(leftOut.count == 1 ? "its name is" : "their names are") not UTF-8 text (\(shown)); rename \(leftOut.count == 1 ? "it" : "them"), or keep them in a tar archive"))
                }
                if !matched.isEmpty {
                    try staging.keep(matched, from: started.workspace, as: artifact, root: selection.root(of: matched))
                }
                count = matched.count
            }
            // This upload's files, as upload-artifact's digest is of its own zip.
            if count > 0 { digest = try ArtifactStore.digest(of: staging.folder(artifact)) }
            try artifacts.publish(artifact, from: staging, publication)
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
            return ("", [:])
        }
        // Names and paths as text (a name holding a terminal escape is shown escaped: audit 51).
        let line = "uploaded artifact '\(DisplayText.escaped(artifact))': \(DisplayText.escaped(described)) (\(count) file\(count == 1 ? "" : "s"))"
        if let invalid {
            reporter.report(.output(job: planned.key, step: step.index, stream: 1, line: line))
            throw invalid
        }
        return (line, ["artifact-id": .string(String(ArtifactStore.id(of: artifact))), "artifact-digest": .string(digest),
                       "artifact-url": .string("")])
    }

    /// `actions/download-artifact`: `name` (one artifact, into `path`), else every artifact whose
    /// name `pattern` matches (all without one), each in a folder named after it under `path`, or
    /// all into `path` with `merge-multiple: true`. `path` defaults to the workspace.
    /// `artifact-ids` (download-artifact 4.2): the artifacts with those ids (`ArtifactStore.id(of:)`,
    /// the `artifact-id` output of their upload), each under `path/NAME`. The output
    /// `download-path` is where they went, as the job sees it.
    /// - Parameter singleIntoPath: download-artifact v5 and later put a single artifact chosen by
    ///   `artifact-ids` or `pattern` (or the only one there is) into `path` itself, as by name;
    ///   v4 (and a ref that is not `vN`) into `path/NAME` (review 52).
    func downloadArtifacts(_ inputs: [String: String], started: JobStarted, executor: any Executor, singleIntoPath: Bool = false) async throws
        -> (lines: [String], outputs: [String: ExpressionValue]) {
        let path = inputs["path"].flatMap { $0.isEmpty ? nil : $0 }
        let relative = try path.map { try ArtifactStore.relative($0, artifact: inputs["name"].flatMap { $0.isEmpty ? nil : $0 } ?? "*", role: "path") } ?? ""
        let downloadPath: [String: ExpressionValue] = ["download-path": .string(ArtifactStore.join(started.workspace, relative))]
        let ids = inputs["artifact-ids"].flatMap { $0.isEmpty ? nil : $0 }
        if let ids {
            if let name = inputs["name"], !name.isEmpty {
                throw EngineError("Inputs 'name' and 'artifact-ids' cannot be used together. Please specify only one.")
            }
            let wanted = try ids.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.map { text in
                guard let id = Self.parseInt(text) else { throw EngineError("Invalid artifact ID: '\(text)'. Must be a number.") }
                return id
            }
            guard !wanted.isEmpty else { throw EngineError("No valid artifact IDs provided in 'artifact-ids' input") }
            let chosen = artifacts.names().filter { wanted.contains(ArtifactStore.id(of: $0)) }
            guard !chosen.isEmpty else {
                throw EngineError("None of the provided artifact IDs were found",
                                  hint: "an id is the artifact-id output of the upload-artifact step that made it, in this run")
            }
            let found = Set(chosen.map(ArtifactStore.id(of:)))
            let missing = wanted.filter { !found.contains($0) }
            if !missing.isEmpty {
                reporter.report(.message(job: planned.key, level: .warning,
                                         text: "Could not find the following artifact IDs: \(missing.map(String.init).joined(separator: ", "))"))
            }
            let merge = inputs["merge-multiple"].map { $0.lowercased() == "true" } ?? false
            return (try await download(chosen, path: path, merge: merge, singleIntoPath: singleIntoPath, started: started, executor: executor),
                    downloadPath)
        }
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
            return (["downloaded artifact '\(DisplayText.escaped(name))'"], downloadPath)
        }
        let pattern = inputs["pattern"].flatMap { $0.isEmpty ? nil : $0 }
        let merge = inputs["merge-multiple"].map { $0.lowercased() == "true" } ?? false
        let chosen = artifacts.names().filter { name in pattern.map { NamePattern.matches($0, name) } ?? true }
        guard !chosen.isEmpty else {
            return (["no artifacts\(pattern.map { " match '\($0)'" } ?? " to download")"], downloadPath)
        }
        return (try await download(chosen, path: path, merge: merge, singleIntoPath: singleIntoPath, started: started, executor: executor),
                downloadPath)
    }

    /// Each of `chosen` into `path/NAME`, or all into `path` with `merge` (or when it is the only
    /// one and `singleIntoPath`).
    private func download(_ chosen: [String], path: String?, merge: Bool, singleIntoPath: Bool, started: JobStarted,
                          executor: any Executor) async throws -> [String] {
        let merge = merge || (singleIntoPath && chosen.count == 1)
        var lines: [String] = []
        for name in chosen {
            let under = merge ? path : path.map { $0 + "/" + name } ?? name
            try await restoreArtifact(name, under: under, started: started, executor: executor, merge: true)
            lines.append("downloaded artifact '\(DisplayText.escaped(name))' to '\(DisplayText.escaped(under ?? "."))'")
        }
        return lines
    }
}

/// download-artifact's `pattern` over artifact names, as minimatch reads it: a leading `!`
/// negates, braces expand (`{linux,mac}`, `{1..3}`), then `*`, `?` and `[…]` as in a shell.
enum NamePattern {
    static func matches(_ pattern: String, _ name: String) -> Bool {
        var pattern = Substring(pattern)
        var negated = false
        while pattern.first == "!" {
            negated.toggle()
            pattern = pattern.dropFirst()
        }
        let found = expand(String(pattern)).contains { fnmatch($0, name, 0) == 0 }
        return found != negated
    }

    /// Brace expansion, at most `limit` patterns (the rest are left out): `a{b,c}d` is `abd`
    /// and `acd`, `{1..3}` is 1, 2, 3; braces without a comma or a range stay as written.
    static func expand(_ pattern: String, limit: Int = 4096) -> [String] {
        // A long pattern is not expanded (each of up to `limit` copies would be as long).
        guard pattern.utf8.count <= 1024 else { return [pattern] }
        var results: [String] = []
        var pending = [pattern]
        while let next = pending.popLast() {
            guard results.count + pending.count < limit else { break }
            guard let (open, close, alternatives) = firstBraces(next) else {
                results.append(next)
                continue
            }
            let before = next[..<open], after = next[next.index(after: close)...]
            pending += alternatives.reversed().map { String(before) + $0 + String(after) }
        }
        return results
    }

    /// The first `{…}` with a comma at its own depth or a `..` range, and its alternatives.
    static func firstBraces(_ text: String) -> (String.Index, String.Index, [String])? {
        var index = text.startIndex
        while let open = text[index...].firstIndex(of: "{") {
            var depth = 0
            var parts: [String] = []
            var start = text.index(after: open)
            var cursor = start
            while cursor < text.endIndex {
                let character = text[cursor]
                if character == "\\" {
                    cursor = text.index(after: cursor)
                    if cursor < text.endIndex { cursor = text.index(after: cursor) }
                    continue
                }
                if character == "{" { depth += 1 }
                if character == "}" {
                    if depth == 0 {
                        parts.append(String(text[start..<cursor]))
                        if parts.count > 1 { return (open, cursor, parts) }
                        if let range = Self.range(parts[0]) { return (open, cursor, range) }
                        break
                    }
                    depth -= 1
                }
                if character == ",", depth == 0 {
                    parts.append(String(text[start..<cursor]))
                    start = text.index(after: cursor)
                }
                cursor = text.index(after: cursor)
            }
            index = text.index(after: open)
        }
        return nil
    }

    /// `1..3`, `3..1`, `a..c`: the sequence (at most 1,000 values); nil for anything else.
    static func range(_ text: String) -> [String]? {
        let bounds = text.components(separatedBy: "..")
        guard bounds.count == 2 else { return nil }
        // (Bounds checked before any arithmetic: `{-1..9223372036854775807}` overflowed, review 52.)
        if let from = Int(bounds[0]), let to = Int(bounds[1]), (-1_000_000...1_000_000).contains(from),
           (-1_000_000...1_000_000).contains(to), abs(to - from) < 1000 {
            return Array(from <= to ? Array(from...to) : Array((to...from).reversed())).map(String.init)
        }
        if bounds[0].count == 1, bounds[1].count == 1, let from = bounds[0].unicodeScalars.first?.value,
           let to = bounds[1].unicodeScalars.first?.value, from < 128, to < 128 {
            let values = from <= to ? Array(from...to) : Array((to...from).reversed())
            return values.compactMap { Unicode.Scalar($0).map { String(Character($0)) } }
        }
        return nil
    }
}
