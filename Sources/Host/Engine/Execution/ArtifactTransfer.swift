import Foundation
import NixActionsPluginMessages
import NixActionsProcessKit
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Artifacts of a job whose workspace is not a folder of this machine (the ssh executor): the
/// files move through the executor's files interface as a tar archive, and the artifact store
/// stays a folder of this machine, the same whatever executor kept or restores an artifact.
///
/// The same path rules as `ArtifactStore.keep`/`restore` apply before anything moves: absolute
/// paths and paths that climb out are refused here; the executor refuses a path that passes
/// through a symbolic link (keep: it matches nothing, so "does not exist"; restore: the put
/// fails); the archive that comes back is checked entry by entry (`TarGuard`) before `tar -x`.
extension ArtifactStore {
    /// Copy `paths` (relative to the job's workspace) out of the job into artifact `name`.
    ///
    /// With `patterns` (upload-artifact), `paths` are the folders to bring out, what is kept is
    /// the files among them that the patterns match (`HashFiles.matching`; none is no error and
    /// keeps nothing), each stored relative to the folder `rootOf` chooses for them.
    /// - Returns: how many paths were kept.
    @discardableResult
    func keep(_ paths: [String], as name: String, jobKey: String, through files: any ExecutorFileTransfer,
              patterns: [String]? = nil, select: ([String]) -> [String] = { $0 }, rootOf: (([String]) -> String)? = nil) async throws -> Int {
        let target = try folder(name)
        var relatives: [(path: String, relative: String)] = []
        for path in paths { relatives.append((path, try Self.relative(path, artifact: name, role: "path"))) }
        let manager = FileManager.default
        try manager.createDirectory(atPath: root, withIntermediateDirectories: true)
        let staging = root + "/.incoming-" + UUID().uuidString
        try manager.createDirectory(atPath: staging, withIntermediateDirectories: false)
        defer { try? manager.removeItem(atPath: staging) }

        let includes = relatives.map { $0.relative.isEmpty ? "**" : $0.relative }
        let request = FilesGet(jobKey: jobKey, roots: [FilesGetRoot(name: "", path: "", include: includes)])
        let sink = try TarExtractor(into: staging)
        do {
            _ = try await files.getTree(request, into: sink)
        } catch {
            _ = await sink.finish()
            throw EngineError("artifact '\(name)': cannot get its files out of the job: \(OperationFailure.describe(error))")
        }
        if let problem = await sink.finish() {
            throw EngineError("artifact '\(name)': the files from the job were refused: \(problem)")
        }
        if let patterns {
            relatives = select(HashFiles.matching(patterns, in: staging)).filter { !Self.passesThroughLink(staging, $0) }.map { ($0, $0) }
            if relatives.isEmpty { return 0 }
        }
        let base = rootOf?(relatives.map(\.relative)) ?? ""
        for (path, relative) in relatives where !relative.isEmpty && patterns == nil {
            var info = stat()
            // Only what the archive holds at that path: a link the archive made on the way would lead
            // the move below anywhere on this machine.
            guard !Self.passesThroughLink(staging, relative), lstat(Self.join(staging, relative), &info) == 0 else {
                throw EngineError("artifact '\(name)': '\(path)' does not exist in the workspace",
                                  hint: "check the path; it is relative to the job's workspace (a symbolic link on the way is not followed)")
            }
        }
        try manager.createDirectory(atPath: target, withIntermediateDirectories: true)
        try record(name)
        guard let realTarget = Self.realPath(target) else { throw EngineError("artifact '\(name)': cannot use its folder \(target)") }
        for (path, relative) in relatives {
            let source = Self.join(staging, relative)
            var info = stat()
            guard lstat(source, &info) == 0 else { continue }  // moved already with a folder that holds it
            let destination = Self.join(target, Self.strip(base, from: relative))
            guard let realDestination = Self.resolved(destination), Self.isInside(realDestination, realTarget) else {
                throw EngineError("artifact '\(name)': '\(path)' would be stored outside the artifact's folder",
                                  hint: "a symbolic link kept earlier in this artifact points elsewhere; keep the folder that holds it instead")
            }
            if relative.isEmpty {
                // The whole workspace: it replaces what the artifact held.
                try manager.removeItem(atPath: target)
                try manager.moveItem(atPath: staging, toPath: target)
                try manager.createDirectory(atPath: staging, withIntermediateDirectories: false)
                continue
            }
            try manager.createDirectory(atPath: PathText.parent(destination), withIntermediateDirectories: true)
            try? manager.removeItem(atPath: destination)
            try manager.moveItem(atPath: source, toPath: destination)
        }
        return relatives.count
    }

    /// Put everything in artifact `name` into the job's workspace (or `under` it).
    func restore(_ name: String, under: String?, jobKey: String, through files: any ExecutorFileTransfer) async throws {
        let source = try folder(name)
        guard FileManager.default.fileExists(atPath: source) else {
            throw EngineError("no artifact '\(name)' to restore", hint: "the job that keeps it must have succeeded, and be in 'needs'")
        }
        var path = ""
        if let under, !under.isEmpty { path = try Self.relative(under, artifact: name, role: "path") }
        let entries = try FileManager.default.contentsOfDirectory(atPath: source).sorted()
        let request = FilesPut(jobKey: jobKey, roots: [FilesPutRoot(name: "", path: path)])
        do {
            _ = try await files.putTree(request) { writer in
                try TarProducer.write(folder: source, entries: entries, listFolder: PathText.parent(root), into: writer)
            }
        } catch let error as OperationFailure where error.error.message.contains("passes through the symbolic link") {
            throw EngineError("artifact '\(name)': path '\(under ?? "")' leads outside the job's workspace (\(error.error.message))",
                              hint: "artifact paths are relative to the job's workspace and must stay inside it")
        } catch {
            throw EngineError("artifact '\(name)': cannot put its files into the job: \(OperationFailure.describe(error))")
        }
    }

    /// Whether a folder on the way from `base` to `base/relative` (not the last part) is a
    /// symbolic link.
    static func passesThroughLink(_ base: String, _ relative: String) -> Bool {
        var path = base
        for part in relative.split(separator: "/").dropLast() {
            path += "/" + part
            var info = stat()
            if lstat(path, &info) != 0 { return false }  // missing: nothing to follow
            if info.st_mode & S_IFMT == S_IFLNK { return true }
        }
        return false
    }
}

/// `tar -x` into a folder of this machine, fed through a socket; every byte is first checked by
/// a `TarGuard` (no absolute names, no "..", nothing through a link of the archive).
final class TarExtractor: TreeSink, @unchecked Sendable {
    private let writeEnd: Int32
    private let state = Mutex<(guardian: TarGuard, closed: Bool, complete: Bool, message: String)>(
        (TarGuard(rootNames: nil), false, false, ""))
    /// How tar ended, set by the thread that waits for it.
    private let tar = TarWaiter()

    /// How a tar ended, once it has: `ended` is signalled after `outcome` is set.
    private final class TarWaiter: @unchecked Sendable {
        var outcome: HostCommand.Outcome?
        let ended = DispatchSemaphore(value: 0)
    }

    init(into folder: String) throws {
        var pair: [Int32] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw EngineError("cannot make a socket pair for tar: \(String(cString: strerror(errno)))")
        }
        writeEnd = pair[0]
        defer { Glibc.close(pair[1]) }  // tar has its own copy
        let child: ChildProcess
        do {
            child = try HostCommand.start(["tar", "-x", "-o", "-f", "-", "-C", folder],
                                          environment: ProcessInfo.processInfo.environment, inputDescriptor: pair[1])
        } catch {
            throw EngineError("cannot run tar: \(error)")  // deinit closes writeEnd
        }
        // Its standard error is read as it comes, so that tar never blocks on it.
        Thread.detachNewThread { [tar] in
            tar.outcome = HostCommand.wait(for: child)
            tar.ended.signal()
        }
    }

    deinit { Glibc.close(writeEnd) }

    func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let refused = state.withLock { state -> Bool in
            state.closed || state.guardian.feed(bytes) != nil
        }
        if refused { return false }
        var offset = 0
        while offset < bytes.count {
            let sent = send(writeEnd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if sent < 0 {
                if errno == EINTR { continue }
                return false
            }
            offset += sent
        }
        return true
    }

    func close(complete: Bool, message: String) {
        state.withLock { state in
            guard !state.closed else { return }
            state.closed = true
            state.complete = complete
            state.message = message
        }
        shutdown(writeEnd, Int32(SHUT_WR))
    }

    /// Wait for tar; nil when the archive was complete, valid and extracted, else why not.
    func finish() async -> String? {
        close(complete: false, message: "the transfer ended early")
        let waiter = self.tar
        let tar = await withCheckedContinuation { (continuation: CheckedContinuation<HostCommand.Outcome, Never>) in
            Thread.detachNewThread {
                waiter.ended.wait()
                waiter.ended.signal()
                continuation.resume(returning: waiter.outcome ?? HostCommand.Outcome(status: -1, output: [], errors: ""))
            }
        }
        return state.withLock { state -> String? in
            if let violation = state.guardian.violation { return violation }
            if !state.complete { return state.message.isEmpty ? "the archive was aborted" : state.message }
            if let incomplete = state.guardian.finish() { return incomplete }
            if tar.status != 0 {
                return "tar -x exited \(tar.status): \(tar.errors.split(separator: "\n").suffix(2).joined(separator: "; "))"
            }
            return nil
        }
    }
}

/// `tar -c` of some entries of a folder of this machine, written to a `TreeWriter` (on the
/// caller's thread, which may block).
enum TarProducer {
    /// - Parameters:
    ///   - excludes: `tar --exclude` patterns (names or globs, matched at any depth).
    ///   - listFolder: a private folder (the run's) where the entries' names are written for tar
    ///     to read (`--null -T FILE`), removed after: never on tar's command line, which every user
    ///     of the machine can read (audit 58 secrets M2: a file a step named after a secret showed
    ///     there, while the console masked it).
    static func write(folder: String, entries: [String], excludes: [String] = [], listFolder: String, into writer: any TreeWriter) throws {
        var random = SystemRandomNumberGenerator()
        let list = listFolder + "/.tar-entries-" + String(random.next() as UInt64, radix: 36)
        if let error = FastFiles.write(entries.map { $0 + "\0" }.joined(), to: list) { throw EngineError("cannot write \(list): \(String(cString: strerror(error)))") }
        defer { unlink(list) }
        let arguments = ["tar", "-c", "-f", "-", "--format=pax", "-C", folder] + excludes.map { "--exclude=\($0)" }
            + ["--null", "--verbatim-files-from", "-T", list]
        var failure: (any Error)?
        let tar: HostCommand.Outcome
        do {
            tar = try HostCommand.stream(arguments) { bytes in
                do {
                    try writer.write(bytes)
                    return true
                } catch {
                    failure = error
                    return false
                }
            }
        } catch {
            throw EngineError("cannot run tar: \(error)")
        }
        if let failure { throw failure }
        if let failure = tar.failure {
            throw EngineError("tar -c of \(folder) \(failure)")
        }
    }
}
