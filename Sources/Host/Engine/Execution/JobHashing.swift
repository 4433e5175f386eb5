import Crypto
import Foundation
import NixActionsPluginMessages
import Synchronization

/// `hashFiles` on a job's workspace (GitHub's rule: SHA-256 over the SHA-256 of each matching
/// file, in path order; "" when nothing matches).
///
/// A workspace that is a folder of this machine (local, oci: `JobStarted.hostPaths`) is read
/// directly. Another (ssh) is read through the executor's files interface: before a step (or a
/// job's caches) is evaluated, the `hashFiles(...)` calls of its fields whose patterns are
/// literal strings are computed from a tar stream of the matching files (`prefetch`), since an
/// expression is evaluated without waiting. A call with computed patterns on such a job is an
/// error that says so.
final class JobHashing: Sendable {
    private struct State {
        var root: String?
        /// Files that lead out of `root` are not hashed (`JobStarted.writesThroughFiles`: a container's).
        var contained = false
        var remote = false
        /// The workspace's path where the executor has it (absolute patterns are read under it).
        var workspace = ""
        var known: [[String]: String] = [:]
    }
    private let state = Mutex(State())

    /// The job started: where its workspace is, if on this machine.
    func started(_ started: JobStarted) {
        state.withLock {
            if started.hostPaths == true { $0.root = started.workspace } else { $0.remote = true }
            $0.contained = started.writesThroughFiles == true
            $0.workspace = started.workspace
        }
    }

    var isRemote: Bool { state.withLock { $0.remote } }

    func hash(_ patterns: [String]) throws(ExpressionError) -> String {
        let (root, known, remote, contained) = state.withLock { ($0.root, $0.known[patterns], $0.remote, $0.contained) }
        if let root { return HashFiles.hash(patterns, in: root, contained: contained) }
        if let known { return known }
        guard remote else { return "" }
        throw ExpressionError(
            message: "hashFiles: on this executor it is computed before each step and the job's caches, for literal patterns "
                + "(e.g. hashFiles('**/package-lock.json')); not with computed patterns, nor in the job's env or outputs",
            offset: 0, source: "")
    }

    /// The literal-pattern `hashFiles` calls in `fields` and `conditions`.
    static func calls(in templates: [Template], conditions: [Expression]) -> [[String]] {
        var found: [[String]] = []
        func walk(_ node: ExpressionNode) {
            switch node {
            case .call(let function, let arguments, _):
                if function == .hashFiles {
                    let literal = arguments.compactMap { argument -> String? in
                        if case .literal(.string(let text), _) = argument { return text }
                        return nil
                    }
                    if literal.count == arguments.count, !found.contains(literal) { found.append(literal) }
                }
                arguments.forEach(walk)
            case .pluginCall(_, let arguments, _): arguments.forEach(walk)
            case .property(let base, _, _), .star(let base, _), .not(let base, _), .group(let base, _): walk(base)
            case .index(let base, let index, _): walk(base); walk(index)
            case .binary(_, let left, let right, _): walk(left); walk(right)
            case .logical(_, let operands, _): operands.forEach(walk)
            case .literal, .context: break
            }
        }
        for template in templates {
            for case .expression(let expression, _) in template.segments { walk(expression.root) }
        }
        for expression in conditions { walk(expression.root) }
        return found
    }

    /// Compute the literal calls through the files interface (remote workspaces only). What the
    /// files were at the previous step is forgotten: steps change them.
    func prefetch(_ calls: [[String]], jobKey: String, files: (any ExecutorFileTransfer)?) async throws {
        guard isRemote else { return }
        let workspace = state.withLock { $0.known = [:]; return $0.workspace }
        if let files {
            for patterns in calls {
                // Every include is fetched; the patterns in order then decide (an exclude may be
                // undone by a later include, which a files get's excludes cannot say).
                let rules = HashPatterns(patterns, root: workspace)
                let hasher = TarFileHasher(accept: { rules.matches($0) }, order: { HashFiles.ordered($0, patterns: patterns, root: workspace) })
                if rules.includes.isEmpty {
                    state.withLock { $0.known[patterns] = "" }
                    continue
                }
                _ = try await files.getTree(
                    FilesGet(jobKey: jobKey, roots: [FilesGetRoot(name: "", path: "", include: rules.includes, exclude: rules.finalExcludes + [".git/**", ".git"])]),
                    into: hasher)
                let value = try hasher.result()
                state.withLock { $0.known[patterns] = value }
            }
        }
    }
}

/// Reads a tar stream and hashes each regular file's content: `hashFiles` of what a files `get`
/// sent. Understands ustar headers, pax extended headers (`path=`) and GNU long names.
final class TarFileHasher: TreeSink, @unchecked Sendable {
    private let lock = NSLock()
    private var header = [UInt8]()
    private var pendingName: String?
    private var remaining = 0  // content bytes of the current entry
    private var padding = 0
    private var current: (name: String, hasher: SHA256?, collect: Bool)?
    private var collected = [UInt8]()
    private var digests: [(String, SHA256.Digest)] = []
    private var byName: [String: SHA256.Digest] = [:]
    /// `size=` of a pax header, for the entry after it.
    private var pendingSize: Int?
    private var problem: String?
    private var closed: (complete: Bool, message: String)?
    /// Which files count (the patterns in order); the others arrive and are left out.
    private let accept: @Sendable (String) -> Bool

    /// The files' order for the digest (hashFiles: GitHub's, as on this machine: review 52 found
    /// the two orders apart); nil: byte order of the paths.
    private let order: (@Sendable ([String]) -> [String])?

    init(accept: @escaping @Sendable (String) -> Bool = { _ in true }, order: (@Sendable ([String]) -> [String])? = nil) {
        self.accept = accept
        self.order = order
    }

    func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        var index = 0
        let count = bytes.count
        while index < count && problem == nil {
            if remaining > 0 {
                let take = min(remaining, count - index)
                let slice = UnsafeRawBufferPointer(rebasing: bytes[index..<index + take])
                if current?.collect == true { collected += slice } else { current?.hasher?.update(bufferPointer: slice) }
                remaining -= take
                index += take
                if remaining == 0 { endEntry() }
                continue
            }
            if padding > 0 {
                let skip = min(padding, count - index)
                padding -= skip
                index += skip
                continue
            }
            let need = 512 - header.count
            let take = min(need, count - index)
            header += UnsafeRawBufferPointer(rebasing: bytes[index..<index + take])
            index += take
            if header.count == 512 {
                startEntry(header)
                header.removeAll(keepingCapacity: true)
            }
        }
        return problem == nil
    }

    func close(complete: Bool, message: String) {
        lock.lock()
        closed = (complete, message)
        lock.unlock()
    }

    /// The `hashFiles` value, or why the stream could not be read.
    func result() throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if let problem { throw EngineError("hashFiles: \(problem)") }
        guard let closed, closed.complete else { throw EngineError("hashFiles: the files did not arrive: \(closed?.message ?? "no end")") }
        let counted = digests.filter { accept($0.0) }
        guard !counted.isEmpty else { return "" }
        var outer = SHA256()
        if let order {
            var byPath: [String: SHA256.Digest] = [:]
            for (path, digest) in counted where byPath[path] == nil { byPath[path] = digest }
            for path in order(Array(byPath.keys)) { if let digest = byPath[path] { outer.update(data: Data(digest)) } }
        } else {
            for (_, digest) in counted.sorted(by: { Array($0.0.utf8).lexicographicallyPrecedes(Array($1.0.utf8)) }) {
                outer.update(data: Data(digest))
            }
        }
        return outer.finalize().map { String(format: "%02x", $0) }.joined()
    }

    private func startEntry(_ block: [UInt8]) {
        if block.allSatisfy({ $0 == 0 }) { return }  // end-of-archive blocks
        func field(_ offset: Int, _ length: Int) -> String {
            let bytes = block[offset..<offset + length].prefix { $0 != 0 }
            return String(decoding: bytes, as: UTF8.self)
        }
        let sizeField = block[124..<136]
        var size = 0
        if let first = sizeField.first, first & 0x80 != 0 {
            for byte in sizeField.dropFirst() { size = size << 8 | Int(byte) }
        } else {
            size = Int(field(124, 12).trimmingCharacters(in: CharacterSet(charactersIn: " \0")), radix: 8) ?? -1
        }
        guard size >= 0 else {
            problem = "a malformed tar header"
            return
        }
        let type = block[156]
        if let pax = pendingSize, type != UInt8(ascii: "x"), type != UInt8(ascii: "L") { size = pax }
        var name = field(0, 100)
        let prefix = field(345, 155)
        if !prefix.isEmpty { name = prefix + "/" + name }
        if let pending = pendingName { name = pending }
        switch type {
        case UInt8(ascii: "x"), UInt8(ascii: "L"):
            current = (type == UInt8(ascii: "x") ? "pax" : "long", nil, true)
            pendingName = nil
        case UInt8(ascii: "0"), 0, UInt8(ascii: "7"):
            pendingName = nil
            pendingSize = nil
            while name.hasPrefix("./") { name.removeFirst(2) }
            current = (name, SHA256(), false)
        case UInt8(ascii: "1"):
            // A hard link: the content of the earlier entry it names.
            pendingName = nil
            pendingSize = nil
            var target = field(157, 100)
            while target.hasPrefix("./") { target.removeFirst(2) }
            while name.hasPrefix("./") { name.removeFirst(2) }
            if let digest = byName[target] {
                digests.append((name, digest))
                byName[name] = digest
            }
            current = (name, nil, false)
            size = 0
        default:
            pendingName = nil
            pendingSize = nil
            current = (name, nil, false)
        }
        remaining = size
        padding = (512 - size % 512) % 512
        if size == 0 { endEntry() }
    }

    private func endEntry() {
        guard let entry = current else { return }
        current = nil
        if entry.collect {
            let text = String(decoding: collected, as: UTF8.self)
            collected.removeAll(keepingCapacity: true)
            if entry.name == "long" {
                pendingName = String(text.prefix { $0 != "\0" })
            } else {
                // Records are "LENGTH KEY=VALUE\n", LENGTH counting the whole record (a value may
                // hold a line break).
                let bytes = Array(text.utf8)
                var offset = 0
                while offset < bytes.count {
                    guard let space = bytes[offset...].firstIndex(of: 0x20),
                          let length = Int(String(decoding: bytes[offset..<space], as: UTF8.self)), length > 0,
                          offset + length <= bytes.count
                    else { break }
                    let record = String(decoding: bytes[(space + 1)..<(offset + length - 1)], as: UTF8.self)
                    if record.hasPrefix("path=") { pendingName = String(record.dropFirst(5)) }
                    if record.hasPrefix("size="), let value = Int(record.dropFirst(5)) { pendingSize = value }
                    offset += length
                }
            }
        } else if let hasher = entry.hasher {
            let digest = hasher.finalize()
            digests.append((entry.name, digest))
            byName[entry.name] = digest
        }
    }
}
