import ArgumentParser

/// `run`'s arguments read without ArgumentParser's reflection.
///
/// `RunCommand.parse` builds the command's argument set by reflecting every property (twice: once
/// to look for a completion-script request), which cost 3.2 ms of the 25 ms a one-step run takes
/// (`perf`, 60 runs). This reads the usual spellings only: `--name value`, `--name=value`, `-j N`,
/// `-jN`, the flags and positional arguments in any order. Anything else (help, `--version`,
/// `--`, an unknown or repeated option, a value that starts with `-` or is empty, a value
/// ArgumentParser would refuse) returns nil, and ArgumentParser reads the arguments the normal
/// way, with its messages. `validate()` runs as `parse` would run it.
///
/// `FastParseTests` checks that this gives what `RunCommand.parse` gives over a generated set of
/// argument lists, and that no property is left unset (reading one would stop the program): an
/// option added to `RunCommand` or `RunEventOptions` must be added here too.
extension RunCommand {
    static func fastParse(_ arguments: [String]) -> RunCommand? {
        var positionals: [String] = []
        var single: [String: String] = [:]
        var repeated: [String: [String]] = [:]
        var flags: Set<String> = []
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            index += 1
            guard argument.hasPrefix("-") else {
                positionals.append(argument)
                continue
            }
            var name: String
            var value: String?
            if argument.hasPrefix("--") {
                let body = argument.dropFirst(2)
                if let equals = body.firstIndex(of: "=") {
                    name = String(body[..<equals])
                    value = String(body[body.index(after: equals)...])
                } else {
                    name = String(body)
                }
            } else if argument.hasPrefix("-j") {
                name = "jobs"
                if argument.count > 2 { value = String(argument.dropFirst(2)) }
            } else {
                return nil
            }
            if flagNames.contains(name) {
                guard value == nil, flags.insert(name).inserted else { return nil }
                continue
            }
            guard singleNames.contains(name) || repeatedNames.contains(name) else { return nil }
            if value == nil {
                guard index < arguments.endIndex else { return nil }
                value = arguments[index]
                index += 1
            }
            guard let value, !value.isEmpty, !value.hasPrefix("-") else { return nil }
            if repeatedNames.contains(name) {
                repeated[name, default: []].append(value)
            } else {
                guard single.updateValue(value, forKey: name) == nil else { return nil }
            }
        }
        guard let workflow = positionals.first else { return nil }

        var command = RunCommand()
        command.workflow = workflow
        command.jobs = Array(positionals.dropFirst())
        if let jobs = single["jobs"] {
            guard let count = Int(jobs) else { return nil }
            command.maxJobs = count
        } else {
            command.maxJobs = nil
        }
        command.env = repeated["env"] ?? []
        command.envFiles = repeated["env-file"] ?? []
        command.secrets = repeated["secret"] ?? []
        command.secretFiles = repeated["secret-file"] ?? []
        if let format = single["log-format"] {
            guard let parsed = LogFormat(rawValue: format) else { return nil }
            command.logFormat = parsed
        } else {
            command.logFormat = nil
        }
        command.logDirectory = single["log-dir"] ?? RunCommand.defaultLogRoot
        command.dryRun = flags.contains("dry-run")
        command.workingTree = flags.contains("working-tree")
        command.keepArtifacts = flags.contains("keep-artifacts")
        command.config = single["config"]
        command.keepLogs = single["keep-logs"]
        command.runners = repeated["runner"] ?? []
        command.actionsURL = single["actions-url"]
        var events = RunEventOptions()
        events.event = single["event"]
        events.eventPath = single["event-path"]
        events.inputs = repeated["input"] ?? []
        events.vars = repeated["var"] ?? []
        events.varFiles = repeated["var-file"] ?? []
        command.events = events
        do {
            try events.validate()
            try command.validate()
        } catch {
            return nil
        }
        return command
    }

    private static let flagNames: Set<String> = ["dry-run", "working-tree", "keep-artifacts"]
    private static let singleNames: Set<String> = ["jobs", "log-format", "log-dir", "keep-logs", "config", "event", "event-path", "actions-url"]
    private static let repeatedNames: Set<String> = ["env", "env-file", "secret", "secret-file", "runner", "input", "var", "var-file"]
}

extension ValidateCommand {
    /// `validate FILE…` without ArgumentParser's reflection (2.7 ms of a validate's 16 ms of CPU):
    /// only file names, none starting with `-`; anything else is ArgumentParser's.
    static func fastParse(_ arguments: [String]) -> ValidateCommand? {
        guard !arguments.isEmpty, arguments.allSatisfy({ !$0.isEmpty && !$0.hasPrefix("-") }) else { return nil }
        var command = ValidateCommand()
        command.workflows = arguments
        // Every property wrapper given a value: one read without it traps (ArgumentParser).
        command.config = nil
        return command
    }
}
