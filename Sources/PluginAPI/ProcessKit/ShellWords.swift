import Foundation

/// How an executor that runs steps through another program (a container engine's `exec`, `ssh`)
/// starts a step: a small POSIX shell script that records the step's process group, sets its
/// environment from quoted text (values never on a command line) and runs the step's shell.
public enum StepWrapper {
    /// The step's wrapper: runs `preamble`, records its pid in `pidFile` (`podman exec` and sshd
    /// start it as the leader of a process group, which a cancellation signals as a whole), sets
    /// the step's environment from shell-quoted text, enters `directory` and runs the shell on the
    /// script, its standard input `/dev/null`. The default `bash` falls back to `sh -e` where there
    /// is no bash, as GitHub's runner does in a container.
    ///
    /// With `trailer`, the shell is not `exec`ed: the trailer's lines run after it, with its exit
    /// status in `$code`, and the wrapper then exits with that status. The wrapper outlives a
    /// cancel's SIGTERM to the group (a trap, which the step's shell does not inherit), so the
    /// trailer still reports what a cancelled step wrote to its files; SIGKILL ends it as well.
    /// A step without a shell (`bash -e {0}`): `sh -e` where there is no bash, as GitHub's runner
    /// on a host. An asked-for bash (`shell: bash`, `bash … {0}`) has no fallback: GitHub fails
    /// such a step (audit 66 fidelity M1: `pipefail` was silently dropped).
    static let defaultBash = ["bash", "-e", "{0}"]
    static let noBash = "echo \"nixactions: cannot start 'bash': it is not installed here; the step asks for it (shell: bash). "
        + "Use shell: sh, or an image or host that has bash\""

    public static func render(shell: [String], script: String, environment: [String: String], pathPrepend: [String],
                              pidFile: String, directory: String, preamble: [String] = [], trailer: [String]? = nil,
                              recordStartTime: Bool = false) -> String {
        // With `recordStartTime`, the pid file also holds the start time (`/proc/PID/stat` field
        // 22, where there is a /proc), so that a later cleanup can tell a reused pid apart.
        // A pid file that cannot be written (a full file system) is a step that could not be ended: it does not run.
        var lines = preamble + [orFail(recordStartTime
            ? "start=; if read -r s < /proc/$$/stat 2>/dev/null; then set -- $s; start=${22}; fi; echo \"$$ $start\" > \(ShellWords.quote(pidFile))"
            : "echo $$ > \(ShellWords.quote(pidFile))", writing: pidFile)]
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) where ShellWords.isName(name) {
            lines.append("export \(name)=\(ShellWords.quote(value))")
        }
        if !pathPrepend.isEmpty {
            lines.append("export PATH=\(ShellWords.quote(pathPrepend.joined(separator: ":")))\"${PATH:+:$PATH}\"")
        }
        let missing = "nixactions: the step's working directory \(directory) does not exist here or cannot be entered; "
            + "make it in an earlier step, or fix the step's working-directory"
        lines.append("cd \(ShellWords.quote(directory)) || { echo \(ShellWords.quote(missing)) >&2; exit 1; }")
        let command = ShellWords.fillScript(shell, script: script).map(ShellWords.quote)
        let run = command.joined(separator: " ") + " </dev/null"
        if let trailer {
            lines.insert("trap : TERM", at: preamble.count)
            // The step's variables, directory and shell in a subshell of their own: the trailer
            // then runs with the wrapper's own environment (a step's environment over the
            // kernel's limit made every `rm` of the trailer fail too: audit 66 remote L5). It
            // outlives a SIGTERM as the wrapper does.
            let first = preamble.count + 2
            lines.insert("(trap : TERM", at: first)
            let fallback = "sh -e \(ShellWords.quote(script)) </dev/null"
            // The step's stderr is the wrapper's (fd 3 meanwhile); the wrapper's own goes to
            // /dev/null while the step runs, where the shell's "Terminated" about a cancelled
            // step would go (review 51: it showed on every cancelled step's stderr).
            func step(_ command: String) -> String { "(exec 2>&3 3>&-; exec \(command))" }
            lines.append("exec 3>&2 2>/dev/null")
            if shell == defaultBash {
                lines.append("if command -v bash >/dev/null 2>&1; then \(step(run)); else \(step(fallback)); fi")
            } else if shell.first == "bash" {
                lines.append("if command -v bash >/dev/null 2>&1; then \(step(run)); else \(noBash) >&3; (exit 127); fi")
            } else {
                lines.append(step(run))
            }
            lines.append(")")
            lines.append("code=$?")
            lines += trailer
            lines.append("exit $code")
            return lines.joined(separator: "\n") + "\n"
        }
        if shell == defaultBash {
            lines.append("command -v bash >/dev/null 2>&1 || exec sh -e \(ShellWords.quote(script)) </dev/null")
        } else if shell.first == "bash" {
            lines.append("command -v bash >/dev/null 2>&1 || { \(noBash) >&2; exit 127; }")
        }
        lines.append("exec " + run)
        return lines.joined(separator: "\n") + "\n"
    }
}

extension StepWrapper {
    /// Lines that make each file empty (created if missing): a step's capture files exist when
    /// it starts, as GitHub's runner makes them (`@actions/core` refuses a missing one).
    public static func createEmpty(_ paths: [String]) -> [String] {
        paths.isEmpty ? [] : [orFail(": > " + paths.map(ShellWords.quote).joined(separator: " && : > "), writing: paths.count == 1 ? paths[0] : "the step's files")]
    }

    /// The line that writes the step's script to `path` with the shell's `printf` (no process).
    public static func writeScript(_ script: String, to path: String) -> String {
        orFail("printf '%s' \(ShellWords.quote(script)) > \(ShellWords.quote(path))", writing: path)
    }

    /// `command`, a write of the wrapper's before the step starts; when it fails (a full file
    /// system: the shell says why on standard error) the wrapper says what it could not write and
    /// exits with 1 without running the step. Before this, a step whose script could not be
    /// written ran what was there, an empty file, and passed (audit 66 remote H1).
    static func orFail(_ command: String, writing path: String) -> String {
        let message = "nixactions: cannot write \(path) on this host, so the step did not run (is its file system full?)"
        return command + " || { echo \(ShellWords.quote(message)) >&2; exit 1; }"
    }
}

/// Shell quoting and splitting, for the wrapper and for GitHub's `options:` string.
public enum ShellWords {
    /// `text` as it is when a shell takes it as one word unchanged (letters, digits, `/._-`,
    /// bytes beyond ASCII), else `quote(text)`: for commands shown to a person (`cd FOLDER`).
    public static func quoteIfNeeded(_ text: String) -> String {
        let plain = !text.isEmpty && text.utf8.allSatisfy { byte in
            byte >= 0x80 || byte == UInt8(ascii: "/") || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
                || (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
        }
        return plain ? text : quote(text)
    }

    /// `'text'`, with each `'` written as `'\''`.
    public static func quote(_ text: String) -> String {
        // Plain Swift: Foundation's `replacingOccurrences` showed in every run's start.
        guard text.utf8.contains(UInt8(ascii: "'")) else { return "'" + text + "'" }
        return "'" + text.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "'\\''") + "'"
    }

    /// A step's command line from its `shell` (`StepSpec.shell`: GitHub's format, as its runner
    /// fills it with .NET's `string.Format`): in each element `{0}` is the script's path, `{{` and
    /// `}}` are one brace each (`{{0}}` is the text `{0}`); with no `{0}` anywhere, the path is
    /// appended. Elements without a brace are kept as they are (the common case, no copy).
    public static func fillScript(_ shell: [String], script: String) -> [String] {
        var filled = false
        var arguments = shell.map { part -> String in
            if part == "{0}" {
                filled = true
                return script
            }
            guard part.utf8.contains(where: { $0 == UInt8(ascii: "{") || $0 == UInt8(ascii: "}") }) else { return part }
            let (text, found) = format(part, script: script)
            filled = filled || found
            return text
        }
        if !filled { arguments.append(script) }
        return arguments
    }

    /// Whether `part` names the script (a `{0}` that is not `{{0}}`), by `fillScript`'s rules.
    public static func namesScript(_ part: String) -> Bool {
        format(part, script: "").found
    }

    private static func format(_ part: String, script: String) -> (text: String, found: Bool) {
        let bytes = Array(part.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var found = false
        var index = 0
        while index < bytes.count {
            let byte = bytes[index]
            let next = index + 1 < bytes.count ? bytes[index + 1] : 0
            if byte == UInt8(ascii: "{") && next == UInt8(ascii: "{") || byte == UInt8(ascii: "}") && next == UInt8(ascii: "}") {
                out.append(byte)
                index += 2
            } else if byte == UInt8(ascii: "{"), next == UInt8(ascii: "0"), index + 2 < bytes.count, bytes[index + 2] == UInt8(ascii: "}") {
                out += script.utf8
                found = true
                index += 3
            } else {
                out.append(byte)  // a lone brace stays (.NET would refuse the format; GitHub's runner then fails the step)
                index += 1
            }
        }
        return (String(decoding: out, as: UTF8.self), found)
    }

    /// A valid shell variable name.
    public static func isName(_ name: String) -> Bool {
        guard let first = name.utf8.first, first == UInt8(ascii: "_") || (first | 0x20) >= 0x61 && (first | 0x20) <= 0x7A else { return false }
        return name.utf8.allSatisfy { $0 == UInt8(ascii: "_") || ($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x7A || $0 >= 0x30 && $0 <= 0x39 }
    }

    /// Words as a POSIX shell splits them (quotes and backslashes; no expansions), or nil for an
    /// unclosed quote.
    public static func split(_ text: String) -> [String]? {
        var words: [String] = [], current = "", inWord = false
        var iterator = text.makeIterator()
        while let character = iterator.next() {
            switch character {
            case " ", "\t", "\n":
                if inWord { words.append(current); current = ""; inWord = false }
            case "'":
                inWord = true
                var closed = false
                while let next = iterator.next() {
                    if next == "'" { closed = true; break }
                    current.append(next)
                }
                if !closed { return nil }
            case "\"":
                inWord = true
                var closed = false
                while let next = iterator.next() {
                    if next == "\"" { closed = true; break }
                    if next == "\\", let escaped = iterator.next() {
                        if !"$`\"\\\n".contains(escaped) { current.append("\\") }
                        current.append(escaped)
                        continue
                    }
                    current.append(next)
                }
                if !closed { return nil }
            case "\\":
                inWord = true
                if let escaped = iterator.next() { current.append(escaped) }
            default:
                inWord = true
                current.append(character)
            }
        }
        if inWord { words.append(current) }
        return words
    }
}
