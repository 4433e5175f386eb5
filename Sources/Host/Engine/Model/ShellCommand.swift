import NixActionsProcessKit

/// The command line that runs a `run:` step, from its `shell:` value, as GitHub's runner builds it
/// on Linux (workflow syntax, `jobs.<job_id>.steps[*].shell`). `{0}` is the script file's path.
public struct ShellCommand: Sendable, Equatable {
    public var arguments: [String]
    /// The script file's extension: GitHub's, where the interpreter cares (`.py`, `.ps1`).
    public var scriptExtension: String

    /// A step without a shell in a job's `container:`: `sh -e {0}`, whether or not the image has
    /// bash, as GitHub's runner starts it there (`ScriptHandler`: the container step host runs
    /// `sh`; actions/runner#1533). A Debian image's `sh` is dash: a bash-only script fails here as
    /// it does on GitHub (audit 66 fidelity H1).
    public static let containerDefault = ShellCommand(arguments: ["sh", "-e", "{0}"], scriptExtension: ".sh")

    /// The default's command line (no `shell:`) elsewhere: `bash -e {0}`, `sh -e {0}` where there
    /// is no bash (GitHub's runner on a host). `shell: bash` has no such fallback.
    public static let defaultArguments = ["bash", "-e", "{0}"]

    /// The built-in shells (besides none at all), in the order the hint lists them.
    public static let builtIn = ["bash", "sh", "python", "python3", "pwsh", "powershell", "cmd"]

    /// Why a `shell:` value cannot be used; `hint` says what would work.
    public struct Problem: Error, Sendable, Equatable {
        public var message: String
        public var hint: String
    }

    /// The command for `shell` (nil: no `shell:` and no `defaults.run.shell`).
    ///
    /// - none: `bash -e {0}` (executors fall back to `sh -e {0}` where there is no bash; in a
    ///   job's `container:`, `sh -e {0}`: `containerDefault`);
    /// - `bash`: `bash --noprofile --norc -eo pipefail {0}`; `sh`: `sh -e {0}`;
    /// - `python`: `python {0}`, and `python3`: `python3 {0}` (a NixActions extra), both `.py`;
    /// - `pwsh` / `powershell`: `pwsh -command ". '{0}'"` (`.ps1`);
    /// - anything else is a custom shell, `command [options] {0} [more]`, split into words as a
    ///   POSIX shell would (single and double quotes, backslashes); `{0}` must appear.
    public static func resolve(_ shell: String?) -> Result<ShellCommand, Problem> {
        guard let shell else { return .success(ShellCommand(arguments: defaultArguments, scriptExtension: ".sh")) }
        // GitHub's runner looks a built-in name's arguments up without case
        // (`ScriptHandlerHelpers._defaultArguments`, OrdinalIgnoreCase) but starts the program as
        // written: `shell: PowerShell` is valid (a Windows job's), and on Linux starting
        // 'PowerShell' fails, naming it, as it does on GitHub's Linux runners.
        switch shell.lowercased() {
        case "bash": return .success(ShellCommand(arguments: [shell, "--noprofile", "--norc", "-eo", "pipefail", "{0}"], scriptExtension: ".sh"))
        case "sh": return .success(ShellCommand(arguments: [shell, "-e", "{0}"], scriptExtension: ".sh"))
        case "python", "python3": return .success(ShellCommand(arguments: [shell, "{0}"], scriptExtension: ".py"))
        case "pwsh", "powershell": return .success(ShellCommand(arguments: [shell, "-command", ". '{0}'"], scriptExtension: ".ps1"))
        // Windows' cmd, GitHub's command line: valid in a workflow (its Windows jobs are skipped
        // here); a Linux job that asks for it fails to start 'cmd', naming it.
        case "cmd": return .success(ShellCommand(arguments: [shell, "/D", "/E:ON", "/V:OFF", "/S", "/C", "CALL \"{0}\""], scriptExtension: ".cmd"))
        default: break
        }
        let words: [String]
        switch split(shell) {
        case .success(let split): words = split
        case .failure(let problem): return .failure(problem)
        }
        guard let command = words.first else {
            return .failure(Problem(message: "the shell is empty", hint: hint))
        }
        guard words.contains(where: ShellWords.namesScript) else {
            let message = words.count == 1 ? "unknown shell '\(shell)'" : "custom shell '\(shell)' has no {0}"
            // A placeholder mistyped (`bash {0`): the command with a right one, not the mistake with another.
            let example = words.count == 1 || shell.contains("{") ? "'\(command) {0}'" : "'\(shell) {0}'"
            return .failure(Problem(
                message: message,
                hint: "built-in shells: \(builtIn.joined(separator: ", ")); any other program as 'command [options] {0}', "
                    + "where {0} is the script's file (e.g. \(example))"))
        }
        // The words go to the executor as GitHub's format (`{{` and `}}` are one brace there, and
        // `{{0}}` the text `{0}`: ShellWords.fillScript).
        return .success(ShellCommand(arguments: words, scriptExtension: extensionFor(command)))
    }

    /// The script as GitHub's runner writes it (`ScriptHandlerHelpers.FixUpScriptContents`): for
    /// a shell whose first word is exactly `pwsh` or `powershell` (built-in or custom, as written),
    /// `$ErrorActionPreference = 'stop'` before it, so a failing cmdlet stops it, and the last
    /// program's exit status after it, so `./build.sh` failing before a `Write-Host` fails the
    /// step (audit 53: both passed here).
    public func fixUp(_ script: String) -> String {
        guard let program = arguments.first, program == "pwsh" || program == "powershell" else { return script }
        return "$ErrorActionPreference = 'stop'\n" + script + "\nif ((Test-Path -LiteralPath variable:\\LASTEXITCODE)) { exit $LASTEXITCODE }"
    }

    static let hint = "built-in shells: \(builtIn.joined(separator: ", ")); any other program as 'command [options] {0}', e.g. 'perl {0}'"

    /// GitHub's extensions by the custom shell's first word as written, without case
    /// (`ScriptHandlerHelpers.GetScriptFileExtension`): a custom `python -u {0}` still gets `.py`,
    /// `bash -l {0}` `.sh`; any other program none (`perl {0}`, `node {0}`, `/usr/bin/pwsh …`:
    /// audit 53, it was `.sh`, which a program that goes by the extension, as bun does, reads as a
    /// shell script).
    static func extensionFor(_ command: String) -> String {
        switch command.lowercased() {
        case "bash", "sh": return ".sh"
        case "pwsh", "powershell": return ".ps1"
        case "python": return ".py"
        case "cmd": return ".cmd"
        default: return ""
        }
    }

    /// Split `text` into words like a POSIX shell: whitespace separates, `'…'` is literal,
    /// `"…"` keeps spaces (a backslash escapes `"`, `\`, `$` and `` ` `` in it), a backslash
    /// outside quotes escapes the next character. No expansion of any kind.
    public static func split(_ text: String) -> Result<[String], Problem> {
        var words: [String] = []
        var current = ""
        var inWord = false
        var characters = Array(text)[...]
        while let character = characters.popFirst() {
            switch character {
            case " ", "\t", "\n":
                if inWord { words.append(current) }
                current = ""
                inWord = false
            case "'":
                inWord = true
                guard let end = characters.firstIndex(of: "'") else {
                    return .failure(Problem(message: "shell '\(text)' has an unclosed single quote", hint: "close it: 'script -q -e -c \"bash {0}\"' is one custom shell"))
                }
                current += String(characters[characters.startIndex..<end])
                characters = characters[(end + 1)...]
            case "\"":
                inWord = true
                var closed = false
                while let inner = characters.popFirst() {
                    if inner == "\"" { closed = true; break }
                    if inner == "\\", let next = characters.first, "\"\\$`".contains(next) {
                        current.append(next)
                        characters = characters.dropFirst()
                    } else {
                        current.append(inner)
                    }
                }
                guard closed else {
                    return .failure(Problem(message: "shell '\(text)' has an unclosed double quote", hint: "close it: script -q -e -c \"bash {0}\" is one custom shell"))
                }
            case "\\":
                inWord = true
                if let next = characters.popFirst() { current.append(next) }
            default:
                inWord = true
                current.append(character)
            }
        }
        if inWord { words.append(current) }
        return .success(words)
    }
}
