/// Interprets GitHub workflow commands in a step's output, line by line, as GitHub's runner does
/// (`ActionCommandManager`, `ActionCommand.TryParseV2` then `TryParse`):
///
/// - a line that starts (after spaces or tabs) with `::NAME[ PROPERTIES]::DATA`, or one that holds
///   the older form `##[NAME[ PROPERTIES]]DATA` anywhere; names without case;
/// - `add-mask` registers DATA with the redactor; the line itself is never shown;
/// - `error|warning|notice [file=F,line=L,title=T]` becomes an annotation;
/// - `group` / `endgroup` fold output in the human format (shown as a header line);
/// - `debug` is shown only when debugging is on;
/// - `stop-commands::TOKEN` turns command processing off until a command named TOKEN (the token
///   must not be empty, `pause-logging` or a command's name, unless the step's env has
///   `ACTIONS_ALLOW_UNSECURE_STOPCOMMAND_TOKENS: true`; a token longer than 6 bytes is masked);
/// - `set-output name=N` and `save-state name=N` set the step's output or state (with GitHub's
///   deprecation warning, once per step);
/// - `set-env name=N` and `add-path` fail the step, as on GitHub, unless the step's env has
///   `ACTIONS_ALLOW_UNSECURE_COMMANDS: true`;
/// - `echo::on|off` shows later command lines (but not `debug` and annotations; `add-mask` as
///   `::add-mask::***`, as GitHub's runner does).
/// Not thread-safe: one per step (lines arrive in order, under the pipeline's lock).
final class WorkflowCommandProcessor: @unchecked Sendable {
    enum Action: Equatable {
        /// Show this line (maybe rewritten).
        case show(String)
        case annotation(Annotation.Kind, message: String, file: String?, line: Int?, title: String?)
        /// Warn with this text.
        case warn(String)
        case setOutput(name: String, value: String)
        case saveState(name: String, value: String)
        case setEnv(name: String, value: String)
        case addPath(String)
        /// The command failed: the step fails with this error (GitHub's "Unable to process command").
        case fail(String)
    }

    /// What the step's environment allows (GitHub reads them from the env context).
    struct Permissions: Sendable {
        var unsecureCommands = false
        var unsecureStopTokens = false

        init(unsecureCommands: Bool = false, unsecureStopTokens: Bool = false) {
            self.unsecureCommands = unsecureCommands
            self.unsecureStopTokens = unsecureStopTokens
        }

        /// From a step's environment: `bool.TryParse` for the commands, GitHub's
        /// `StringUtil.ConvertToBoolean` (also `1`, `$true`) for the stop tokens.
        init(environment: [String: String]) {
            func setting(_ name: String) -> String? { environment[name]?.trimmingCharacters(in: .whitespaces).lowercased() }
            unsecureCommands = setting("ACTIONS_ALLOW_UNSECURE_COMMANDS") == "true"
            unsecureStopTokens = setting("ACTIONS_ALLOW_UNSECURE_STOPCOMMAND_TOKENS").map { ["true", "1", "$true"].contains($0) } ?? false
        }
    }

    /// The commands GitHub's runner registers (names without case).
    static let registered: Set<String> = [
        "add-mask", "add-matcher", "remove-matcher", "add-path", "set-env", "set-output", "save-state", "echo",
        "stop-commands", "debug", "warning", "error", "notice", "group", "endgroup", "internal-set-repo-path",
    ]

    private var warnedShort = false
    private var warnedDeprecated: Set<String> = []
    private var stopToken: String?
    private var echo = false
    let redactor: Redactor
    let debug: Bool
    let permissions: Permissions

    /// The job's workspace (`GITHUB_WORKSPACE`): an annotation's `file=` under it is shown
    /// relative to it, as GitHub's runner makes it (the workspace of a run is gone after it; the
    /// relative path names the project's file).
    let workspace: String?

    init(redactor: Redactor, debug: Bool = false, permissions: Permissions = Permissions(), workspace: String? = nil) {
        self.redactor = redactor
        self.debug = debug
        self.permissions = permissions
        self.workspace = workspace.flatMap { $0.isEmpty || $0 == "/" ? nil : ($0.hasSuffix("/") ? String($0.dropLast()) : $0) }
    }

    /// `file` relative to the workspace when it is inside it.
    func relative(_ file: String?) -> String? {
        guard let file, let workspace, file.hasPrefix(workspace + "/"), file.utf8.count > workspace.utf8.count + 1 else { return file }
        return String(file.dropFirst(workspace.count + 1))
    }

    /// A command changes its text before showing or keeping it: its data and properties are
    /// unescaped (`%25` → `%`), and its syntax cuts what comes after `::` or `]` from the rest. A
    /// secret in the line would then no longer match what is shown (a URL-encoded password, a
    /// secret that is itself `::notice::TEXT`): the forms those cuts and unescapes make of each
    /// secret found in the line are registered too (`Redactor.add` skips those under 4 bytes). The
    /// command itself is read from the line as written, so a secret that happens to be a
    /// command's name (`warning`) masks text, not the command.
    private func registerCommandForms(of line: String) {
        var text = line
        let pieces: [String] = text.withUTF8 { bytes in
            redactor.current().automatons.matches(in: bytes).map { String(decoding: UnsafeBufferPointer(rebasing: bytes[$0]), as: UTF8.self) }
        }
        for piece in pieces {
            var cuts = [piece]
            // Only where the secret holds a command's syntax (`::NAME::`, `##[NAME]`): a fragment
            // of a secret is masked on its own then, never because of a lone `::` or `]` in it.
            if let first = piece.range(of: "::"), let last = piece.range(of: "::", options: .backwards), first != last {
                cuts.append(String(piece[last.upperBound...]))
            }
            if let open = piece.range(of: "##["), let close = piece[open.upperBound...].firstIndex(of: "]") {
                cuts.append(String(piece[piece.index(after: close)...]))
            }
            for cut in cuts {
                for form in [cut, WorkflowCommandLine.unescapeData(cut), WorkflowCommandLine.unescapeProperty(cut), WorkflowCommandLine.unescapeLegacy(cut)]
                    where form != piece {
                    redactor.add(form)
                }
            }
        }
    }

    /// A parsed command: its name (lower case), properties and data, both unescaped.
    typealias Command = WorkflowCommandLine

    /// What to do with `line`: `[.show(line)]` when it is no command.
    func process(_ line: String) -> [Action] {
        guard let command = Self.parse(line, extra: stopToken) else { return [.show(line)] }
        if let token = stopToken {
            guard command.name == token.lowercased() else { return [.show(line)] }
            stopToken = nil
            return [.show(line)]  // GitHub shows the resuming line
        }
        if command.name != "add-mask" && !redactor.isEmpty { registerCommandForms(of: line) }
        var actions: [Action] = []
        if echo && !["add-mask", "debug", "error", "warning", "notice"].contains(command.name) { actions.append(.show(line)) }
        actions += handle(command, line: line)
        return actions
    }

    private func handle(_ command: Command, line: String) -> [Action] {
        func unable(_ why: String) -> [Action] {
            [.fail("Unable to process command '\(line)' successfully. \(why)")]
        }
        switch command.name {
        case "add-mask":
            let secret = command.data
            // (A printable ASCII character other than space settles it without Foundation.)
            if !secret.utf8.contains(where: { $0 > 0x20 && $0 < 0x7F }) && secret.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                return [.warn("::add-mask:: with an empty value was ignored")]
            }
            // With echo on, GitHub's runner shows the command with its value masked.
            let shown: [Action] = echo ? [.show("::add-mask::***")] : []
            if !redactor.add(secret) {
                guard !warnedShort else { return shown }
                warnedShort = true
                return shown + [.warn("a value given to ::add-mask:: is shorter than \(Redactor.minimumLength) bytes (white space around it not counted) and is not masked")]
            }
            return shown
        case "stop-commands":
            let token = command.data
            if !permissions.unsecureStopTokens && (token.isEmpty || token.lowercased() == "pause-logging" || Self.registered.contains(token.lowercased())) {
                return unable("You cannot use a endToken that is an empty string, the string 'pause-logging', or another workflow command. "
                    + "Opt into insecure command execution by setting the `ACTIONS_ALLOW_UNSECURE_STOPCOMMAND_TOKENS` environment variable to `true`.")
            }
            stopToken = token
            if token.utf8.count > 6 { redactor.add(token) }
            return [.show(line)]  // shown, as GitHub does (a long token masked)
        case "group": return [.show("▸ " + command.data)]
        case "endgroup": return []
        case "debug": return debug ? [.show("debug: " + command.data)] : []
        case "error", "warning", "notice":
            let kind = Annotation.Kind(rawValue: command.name) ?? .notice
            return [.annotation(kind, message: command.data, file: relative(command.properties["file"]),
                                line: command.properties["line"].flatMap { Int($0) }, title: command.properties["title"])]
        case "set-output", "save-state":
            guard let name = command.properties["name"], !name.isEmpty else {
                return unable("Required field 'name' is missing in ##[\(command.name)] command.")
            }
            var actions: [Action] = []
            if warnedDeprecated.insert(command.name).inserted {
                actions.append(.warn("The `\(command.name)` command is deprecated and will be disabled soon. Please upgrade to using Environment Files "
                    + "(GITHUB_OUTPUT, GITHUB_STATE)."))
            }
            actions.append(command.name == "set-output" ? .setOutput(name: name, value: command.data) : .saveState(name: name, value: command.data))
            return actions
        case "set-env", "add-path":
            guard permissions.unsecureCommands else {
                return unable("The `\(command.name)` command is disabled. Please upgrade to using Environment Files or opt into unsecure command "
                    + "execution by setting the `ACTIONS_ALLOW_UNSECURE_COMMANDS` environment variable to `true`.")
            }
            if command.name == "add-path" { return [.addPath(command.data)] }
            guard let name = command.properties["name"], !name.isEmpty else {
                return unable("Required field 'name' is missing in ##[set-env] command.")
            }
            return [.setEnv(name: name, value: command.data)]
        case "echo":
            switch command.data.trimmingCharacters(in: .whitespaces).lowercased() {
            case "on": echo = true
            case "off": echo = false
            default: return unable("Invalid echo command value. Possible values can be: 'on', 'off'. Current value is: '\(command.data)'.")
            }
            return []
        default:
            // add-matcher, remove-matcher (problem matchers are not read here), internal commands.
            return []
        }
    }

    /// Whether the command name of a candidate line is one GitHub's runner registers (or the stop
    /// token): after `::` at its start (up to a space or `:`), or at `nameStart`, after `##[` (up
    /// to a space or `]`). nil while the name is not all there yet; a name longer than any
    /// command's (or a line that ended first) is none.
    func registersName(in line: UnsafeRawBufferPointer, at nameStart: Int?, lineEnded: Bool) -> Bool? {
        var index: Int
        let legacy = nameStart != nil
        if let nameStart {
            index = nameStart
        } else {
            index = 0
            while index < line.count && (line[index] == 0x20 || line[index] == 0x09) { index += 1 }
            index += 2
        }
        let start = index
        while index < line.count {
            let byte = line[index]
            if byte == 0x20 || (legacy ? byte == 0x5D : byte == 0x3A) { break }
            index += 1
        }
        if index >= line.count {
            return lineEnded || index - start > max(32, stopToken?.utf8.count ?? 0) ? false : nil
        }
        let name = String(decoding: UnsafeRawBufferPointer(rebasing: line[min(start, index)..<index]), as: UTF8.self).lowercased()
        return Self.registered.contains(name) || name == stopToken?.lowercased()
    }

    /// `line` as a command: `::NAME …::DATA` at its start (after spaces and tabs), else
    /// `##[NAME …]DATA` anywhere in it; a name GitHub's runner registers (or `extra`, a stop
    /// token), without case. nil: no command.
    static func parse(_ line: String, extra: String? = nil) -> Command? {
        WorkflowCommandLine.parse(line) { registered.contains($0) || $0 == extra?.lowercased() }
    }
}

import Foundation
import NixActionsProcessKit
import Synchronization
