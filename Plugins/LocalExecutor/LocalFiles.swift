import Foundation
import NixActionsPluginKit
import NixActionsPluginMessages
import NixActionsProcessKit

/// The files interface (nixactions/files.h) of the local executor: `sh` and `tar` on this machine,
/// in the job's folders.
extension LocalExecutor: ExecutorFiles {
    func put(_ request: FilesPut, from source: PutSource, context: OperationContext) async throws -> FilesPutResult {
        try await FilesTransfer.put(request, from: source, shell: shell(request.jobKey), context: context)
    }

    func get(_ request: FilesGet, into stream: StreamWriter, context: OperationContext) async throws -> FilesGetResult {
        try await FilesTransfer.get(request, into: stream, shell: shell(request.jobKey), context: context)
    }

    func shell(_ jobKey: String) -> JobShell {
        let directory = jobDirectory(jobKey)
        return JobShell(workspace: directory + "/workspace", temporary: directory + "/tmp",
                        environment: ProcessInfo.processInfo.environment) { script, arguments in
            ["/bin/sh", "-c", script, "sh"] + arguments
        }
    }
}

extension LocalExecutor {
    /// The job's folders are this machine's: the host copies artifacts there itself.
    var sharesHostPaths: Bool { true }
}
