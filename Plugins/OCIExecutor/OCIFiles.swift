import Foundation
import NixActionsPluginKit
import NixActionsPluginMessages
import NixActionsProcessKit

/// The files interface (nixactions/files.h) of the oci executor. The job's workspace and
/// temporary folder are folders of this machine mounted at the same paths, so a request whose
/// roots all lie in them runs `sh` and `tar` here (no tar needed in the image, files owned as the
/// other workspace files), where no symbolic link in the jobs' folders is followed
/// (`JobShell.followingNoLinks`; where this machine cannot do that, in the container too); any
/// other root (`~/…`, an absolute path of the container) runs them in
/// the container with `ENGINE exec -i` (then the image needs sh and tar; GNU tar for `get`).
extension OCIExecutor: ExecutorFiles {
    func put(_ request: FilesPut, from source: PutSource, context: OperationContext) async throws -> FilesPutResult {
        let result = try await FilesTransfer.put(request, from: source, shell: try await shell(request.jobKey, roots: request.roots.map(\.path), context: context), context: context)
        // Put here as root: a container that runs as another user gets what was put in its folders.
        let directory = jobDirectory(request.jobKey)
        let workspace = directory + "/workspace", temporary = directory + "/tmp"
        if let owner = jobOwners.withLock({ $0[request.jobKey] }),
           request.roots.allSatisfy({ Self.isMounted($0.path, workspace: workspace, temporary: temporary) }) {
            for root in request.roots {
                let path = root.path.hasPrefix("/") ? root.path : root.path.isEmpty ? workspace : workspace + "/" + root.path
                let base = path == temporary || path.hasPrefix(temporary + "/") ? temporary : workspace
                if let error = owner.applyTree(to: path, below: base) ?? owner.applyAncestors(of: path, below: base), error != ENOENT {
                    throw OperationFailure(message: "oci executor: cannot give \(path) to uid \(owner.uid): \(String(cString: strerror(error)))")
                }
            }
        }
        return result
    }

    func get(_ request: FilesGet, into stream: StreamWriter, context: OperationContext) async throws -> FilesGetResult {
        try await FilesTransfer.get(request, into: stream, shell: try await shell(request.jobKey, roots: request.roots.map(\.path), context: context), context: context)
    }

    func shell(_ jobKey: String, roots: [String], context: OperationContext) async throws -> JobShell {
        guard let name = containers.withLock({ $0[jobKey] }) else {
            throw OperationFailure(message: "oci executor: job '\(jobKey)' has no container")
        }
        let directory = jobDirectory(jobKey)
        let workspace = directory + "/workspace", temporary = directory + "/tmp"
        let environment = ProcessInfo.processInfo.environment
        if roots.allSatisfy({ Self.isMounted($0, workspace: workspace, temporary: temporary) }), await hostSideFilesWork(context) {
            // Here, as root, in folders the container's processes share: no link is followed in
            // them (audit 51 H1: a process left running in the container swapped a folder for a
            // link between a check and tar, and root wrote and read files of this machine). The
            // jobs' folder is mounted so, with put's staging beside the jobs' (entries move into
            // place by rename), and get's links to its roots outside it; neither is in a container.
            let root = jobsRoot
            var shell = JobShell(workspace: workspace, temporary: temporary, environment: environment) { script, arguments in
                JobShell.followingNoLinks(in: root, ["/bin/sh", "-c", script, "sh"] + arguments)
            }
            shell.staging = jobsRoot + "/.files-put"
            shell.scratch = configuration.runDirectory + "/oci-files-get"
            return shell
        }
        // In the container (then the image needs sh and tar, GNU tar for get): roots outside the
        // mounted folders, or a machine where links cannot be kept from being followed here.
        // `~/…` is the steps' home: the executor's `home` when it gives one (GitHub's /github/home).
        let engine = self.engine, home = self.home.map { ["-e", "HOME=" + $0] } ?? []
        return JobShell(workspace: workspace, temporary: temporary, environment: environment) { script, arguments in
            [engine, "exec", "-i"] + home + [name, "/bin/sh", "-c", script, "sh"] + arguments
        }
    }

    /// `JobShell.canFollowNoLinks` for the jobs' folder, asked once; where it cannot, a warning
    /// says so once (review 52: the fall back to the container was silent, and an image without
    /// sh or GNU tar then fails the transfers).
    func hostSideFilesWork(_ context: OperationContext) async -> Bool {
        if let known = hostSideFiles.withLock({ $0 }) { return known }
        let works = await JobShell.canFollowNoLinks(in: jobsRoot)
        let first = hostSideFiles.withLock { known -> Bool in
            let unknown = known == nil
            known = works
            return unknown
        }
        if !works && first {
            context.log(.warning, "oci executor: this machine cannot keep symbolic links in the jobs' folders from being followed "
                + "(a mount namespace with nosymfollow: Linux 5.10, util-linux 2.36.1, and for a user who is not root user namespaces), "
                + "so artifacts, caches and checkouts move through the container (podman exec): the image needs sh and tar, GNU tar to send files out")
        }
        return works
    }

    /// Whether `path` (as the job gives it) is in the workspace or temporary folder on this
    /// machine too: relative, or absolute inside one of them, without "..".
    static func isMounted(_ path: String, workspace: String, temporary: String) -> Bool {
        if path.hasPrefix("~") || path.split(separator: "/").contains("..") { return false }
        guard path.hasPrefix("/") else { return true }
        return [workspace, temporary].contains { path == $0 || path.hasPrefix($0 + "/") }
    }
}

extension OCIExecutor {
    /// The workspace and temporary folder are this machine's folders mounted at the same paths.
    var sharesHostPaths: Bool { true }
}
