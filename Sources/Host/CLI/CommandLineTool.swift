import ArgumentParser
import CProcessSupport
import Foundation
import NixActionsEngine

/// Entry point of the `nixactions` command.
///
/// Exit status: 0 success, 1 a job failed, 2 invalid workflow or usage, 130 cancelled.
public enum CommandLineTool {
    /// - Parameter exitsAfter: the process ends when this returns (the executable; not a test that
    ///   calls it in process). Then a command that only loads workflows and reports on them
    ///   (`validate`, `list`, `graph`) leaves its YAML trees and workflows for the exit to free
    ///   (`FreeAtExit`): about 10 ms of `validate`'s 140 on a 2,000-job file.
    public static func main(_ arguments: [String], exitsAfter: Bool = false) async -> Int32 {
        if exitsAfter, let command = arguments.first, ["validate", "list", "graph"].contains(command) {
            FreeAtExit.enable()
        }
        // The supervisor starts with every run: its fixed arguments are read without building the
        // whole command tree (ArgumentParser's reflection costs milliseconds per start).
        if let supervisor = SuperviseCommand.fastParse(arguments) {
            supervisor.run()
            return 0
        }
        if let problem = usageProblem(arguments) {
            // With the usage line, as every other usage error (audit 53: `-j -1` had none).
            var text = "Error: \(problem)\n"
            if arguments.first == "run" {
                text += "Usage: \(NixActions.usageString(for: RunCommand.self))\n  See 'nixactions run --help' for more information.\n"
            }
            standardError(text)
            return ExitStatus.usage
        }
        do {
            var command = try fastParse(arguments) ?? NixActions.parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            // A listing (validate, list, graph, plugins, a dry run) that could not be written, to a
            // full disk, fails (audit 51: `graph > ci.dot` left an empty file and exit 0). A reader
            // that went away (`| head -1`) is not an error. `run` writes its console itself and
            // goes on without one, as documented.
            if !((command as? RunCommand).map { !$0.dryRun } ?? false), let problem = unwrittenOutput() {
                standardError("nixactions: error: cannot write the output: \(problem)\n")
                return ExitStatus.jobFailed
            }
            // Signalled too late for a cancel to stop anything (the last step had ended, the run
            // folder was being removed): the run finished its cleanup, and it still was cancelled.
            return command is RunCommand ? SignalHub.finalStatus(0) : 0
        } catch let exit as ExitCode {
            return exit.rawValue
        } catch {
            let code = NixActions.exitCode(for: error)
            let message = NixActions.fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { print(message) }
                // `--help`, `--version` and a completion script fail as a listing does when they
                // cannot be written: a completion file cut short on a full disk (audit 64 cli L5).
                if let problem = unwrittenOutput() {
                    standardError("nixactions: error: cannot write the output: \(problem)\n")
                    return ExitStatus.jobFailed
                }
                return 0
            }
            if !message.isEmpty { standardError(message + "\n") }
            return ExitStatus.usage
        }
    }
}

extension CommandLineTool {
    /// Usage errors ArgumentParser words badly or lets pass (audit 51): `help NAME` of no command
    /// printed the top help and exited 0; `-j -1` said "Missing value for '-j'".
    static func usageProblem(_ arguments: [String]) -> String? {
        if arguments.first == "help" {
            // Each word names a subcommand of the one before (`help cache nosuch` printed cache's
            // help and exited 0: audit 64 cli L3).
            var command: ParsableCommand.Type = NixActions.self
            var path = ""
            for word in arguments.dropFirst().prefix(while: { !$0.hasPrefix("-") }) {
                let subcommands = command.configuration.subcommands.filter { $0 != SuperviseCommand.self }
                let names = subcommands.map { $0._commandName }
                guard let next = subcommands.first(where: { $0._commandName == word }) else {
                    if names.isEmpty { return "'\(path)' has no subcommands (unexpected '\(DisplayText.escaped(word))')" }
                    return "unknown command '\(path.isEmpty ? "" : path + " ")\(DisplayText.escaped(word))'; the "
                        + (path.isEmpty ? "commands" : "subcommands of '\(path)'") + " are \(names.joined(separator: ", "))"
                }
                command = next
                path += (path.isEmpty ? "" : " ") + word
            }
        }
        guard arguments.first == "run" else { return nil }
        for (index, argument) in arguments.enumerated().dropLast() where argument == "-j" || argument == "--jobs" {
            if arguments[index + 1] == "--" { break }
            let value = arguments[index + 1]
            if value.count > 1, value.hasPrefix("-"), value.dropFirst().allSatisfy({ $0.isASCII && $0.isNumber }) {
                return "--jobs must be at least 1 (got \(value))"
            }
        }
        return nil
    }

    /// Why what `print` wrote to standard output did not all reach it (flushed here), or nil. A
    /// closed pipe (EPIPE) is nil: the reader stopped reading, as `head` does.
    static func unwrittenOutput() -> String? {
        let error = nxa_flush_stdout()
        guard error != 0, error != EPIPE else { return nil }
        // An earlier write failed (the buffer filled while printing): a pipe without a reader
        // shows POLLERR.
        var ready = pollfd(fd: STDOUT_FILENO, events: Int16(POLLOUT), revents: 0)
        if error < 0, poll(&ready, 1, 0) == 1, ready.revents & Int16(POLLERR) != 0 { return nil }
        return error > 0 ? String(cString: strerror(error)) : "a write to standard output failed"
    }

    /// `run` parsed on its own, without the root's tree of every subcommand (ArgumentParser builds
    /// and reflects each command's arguments: milliseconds at every start), by `RunCommand.fastParse`
    /// when the arguments are spelled the usual way, else by `RunCommand.parse`; `validate FILE…`
    /// by `ValidateCommand.fastParse`. Anything they do not take (help, a usage error) goes the
    /// normal way, for the normal messages.
    static func fastParse(_ arguments: [String]) -> (any ParsableCommand)? {
        guard !arguments.contains(where: { $0.hasPrefix("--generate-completion") }) else { return nil }
        let rest = Array(arguments.dropFirst())
        switch arguments.first {
        case "run": return RunCommand.fastParse(rest) ?? (try? RunCommand.parse(rest))
        case "validate": return ValidateCommand.fastParse(rest)
        default: return nil
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
        abstract: "Run GitHub-Actions-shaped workflows locally, in containers or over SSH (a host or a pool of hosts).",
        discussion: "Exit status: 0 success, 1 a job failed, 2 invalid workflow or usage, 130 cancelled.",
        version: "0.1.0",
        subcommands: [RunCommand.self, ValidateCommand.self, ListCommand.self, GraphCommand.self, PluginsCommand.self, CacheCommand.self, SuperviseCommand.self]
    )
}
