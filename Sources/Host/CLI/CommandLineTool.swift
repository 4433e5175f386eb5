import ArgumentParser
import Foundation
import NixActionsEngine

/// Entry point of the `nixactions` command.
///
/// Exit status: 0 success, 1 a job failed, 2 invalid workflow or usage, 130 cancelled.
public enum CommandLineTool {
    public static func main(_ arguments: [String]) async -> Int32 {
        do {
            var command = try NixActions.parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            return 0
        } catch let exit as ExitCode {
            return exit.rawValue
        } catch {
            let code = NixActions.exitCode(for: error)
            let message = NixActions.fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                return 0
            }
            if !message.isEmpty { standardError(message + "\n") }
            return ExitStatus.usage
        }
    }
}

/// The exit statuses of `nixactions`.
public enum ExitStatus {
    public static let success: Int32 = 0
    public static let jobFailed: Int32 = 1
    public static let usage: Int32 = 2
    public static let cancelled: Int32 = 130
}

func standardError(_ text: String) {
    StandardStreams.writeError(text)
}

struct NixActions: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nixactions",
        abstract: "Run GitHub-Actions-shaped workflows locally, in containers, over SSH or on a cluster.",
        discussion: "Exit status: 0 success, 1 a job failed, 2 invalid workflow or usage, 130 cancelled.",
        version: "0.1.0",
        subcommands: [RunCommand.self, ValidateCommand.self, ListCommand.self, GraphCommand.self, PluginsCommand.self, SuperviseCommand.self]
    )
}
