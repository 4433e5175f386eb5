import Foundation
import NixActionsPluginKit
import NixActionsPluginMessages
import NixActionsProcessKit

/// The files interface (nixactions/files.h) of the ssh executor: `sh` and `tar` on the job's host,
/// the archive on the standard input or output of an `ssh` over the job's shared connection.
extension SSHExecutor: ExecutorFiles {
    func put(_ request: FilesPut, from source: PutSource, context: OperationContext) async throws -> FilesPutResult {
        try await FilesTransfer.put(request, from: source, shell: try shell(request.jobKey), context: context)
    }

    func get(_ request: FilesGet, into stream: StreamWriter, context: OperationContext) async throws -> FilesGetResult {
        try await FilesTransfer.get(request, into: stream, shell: try shell(request.jobKey), context: context)
    }

    func shell(_ jobKey: String) throws -> JobShell {
        guard let target = jobs.withLock({ $0[jobKey] }) else {
            throw OperationFailure(message: "ssh executor: job '\(jobKey)' has no host")
        }
        let directory = remoteJob(jobKey)
        let ssh = sshArguments(target)
        let environment = self.environment
        return JobShell(workspace: directory + "/workspace", temporary: directory + "/tmp") { script, arguments, input, output in
            // One remote command line: ssh joins its arguments with spaces for the remote shell.
            let command = (["sh", "-c", script, "sh"] + arguments).map(ShellWords.quote).joined(separator: " ")
            let outcome = try await JobShell.run(ssh + [command], environment: environment, input: input, output: output)
            if outcome.status == 255 {
                // Ended by a cancel (ssh goes with it): cancelled, not a connection that failed
                // (audit 66 remote L1: a Ctrl-C during an artifact's copy made the job a failure).
                try Task.checkCancellation()
                let said = outcome.errors.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.last { !$0.isEmpty }
                throw OperationFailure(message: "the connection to \(target.name) failed while moving files: \(said ?? "ssh exited with status 255 and said nothing")")
            }
            return outcome
        }
    }
}
