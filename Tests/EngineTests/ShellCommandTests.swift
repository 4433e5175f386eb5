@testable import NixActionsEngine
import NixActionsProcessKit
import Testing

@Suite("Shells: GitHub's command lines on Linux, custom shells split like a shell, checks at load time")
struct ShellCommandTests {
    func command(_ shell: String?) -> ShellCommand? {
        if case .success(let command) = ShellCommand.resolve(shell) { return command }
        return nil
    }

    func problem(_ shell: String?) -> ShellCommand.Problem? {
        if case .failure(let problem) = ShellCommand.resolve(shell) { return problem }
        return nil
    }

    @Test("no shell is bash -e (no pipefail); the keywords are GitHub's templates with GitHub's extensions")
    func builtIn() {
        #expect(command(nil) == ShellCommand(arguments: ["bash", "-e", "{0}"], scriptExtension: ".sh"))
        #expect(command("bash") == ShellCommand(arguments: ["bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"], scriptExtension: ".sh"))
        #expect(command("sh") == ShellCommand(arguments: ["sh", "-e", "{0}"], scriptExtension: ".sh"))
        #expect(command("python") == ShellCommand(arguments: ["python", "{0}"], scriptExtension: ".py"))
        #expect(command("python3") == ShellCommand(arguments: ["python3", "{0}"], scriptExtension: ".py"))
        #expect(command("pwsh") == ShellCommand(arguments: ["pwsh", "-command", ". '{0}'"], scriptExtension: ".ps1"))
        #expect(command("powershell") == ShellCommand(arguments: ["powershell", "-command", ". '{0}'"], scriptExtension: ".ps1"))
    }

    @Test("a built-in name in another case gets its template (GitHub looks it up without case) but starts the program as written")
    func builtInCase() {
        #expect(command("PowerShell") == ShellCommand(arguments: ["PowerShell", "-command", ". '{0}'"], scriptExtension: ".ps1"))
        #expect(command("Pwsh")?.scriptExtension == ".ps1")
        #expect(command("CMD")?.arguments.first == "CMD")
        #expect(command("Bash") == ShellCommand(arguments: ["Bash", "--noprofile", "--norc", "-eo", "pipefail", "{0}"], scriptExtension: ".sh"))
        #expect(command("SH")?.arguments == ["SH", "-e", "{0}"])
        #expect(command("Python")?.scriptExtension == ".py")
        #expect(command("/usr/bin/Python3 -u {0}")?.scriptExtension == "", "GitHub looks the first word up as written: a path is no name of its table")
        #expect(problem("Zsh")?.message == "unknown shell 'Zsh'")
        let accepted = WorkflowLoader.load(yaml: """
            jobs:
              a:
                runs-on: windows-latest
                steps:
                  - run: Write-Host hi
                    shell: PowerShell
                  - run: echo hi
                    shell: CMD
            """, file: "wf.yml")
        #expect(accepted.diagnostics.filter { $0.severity == .error }.isEmpty, "\(accepted.diagnostics)")
    }

    @Test("a custom shell is split with quotes and backslashes, not on every space")
    func custom() {
        #expect(command(#"script -q -e -c "bash {0}""#)?.arguments == ["script", "-q", "-e", "-c", "bash {0}"])
        #expect(command("script -q -e -c 'bash --norc {0}' /dev/null")?.arguments == ["script", "-q", "-e", "-c", "bash --norc {0}", "/dev/null"])
        #expect(command(#"sh -c a\ b\"c {0}"#)?.arguments == ["sh", "-c", #"a b"c"#, "{0}"])
        #expect(command(#"x "a \"q\" \n" {0}"#)?.arguments == ["x", #"a "q" \n"#, "{0}"])
        #expect(command("perl   -w\t{0}  ")?.arguments == ["perl", "-w", "{0}"])
        #expect(command("x '' {0}")?.arguments == ["x", "", "{0}"])
        #expect(command("python -u {0}")?.scriptExtension == ".py")
        // GitHub's extension by the first word as written, without case; none for other programs (audit 53).
        #expect(command("/usr/bin/pwsh -noprofile -command \". '{0}'\"")?.scriptExtension == "")
        #expect(command("PWSH -File {0}")?.scriptExtension == ".ps1")
        #expect(command("bash -l {0}")?.scriptExtension == ".sh")
        #expect(command("perl {0}")?.scriptExtension == "")
        #expect(command("node {0}")?.scriptExtension == "")
        // string.Format's doubled braces are one brace each, when the executor fills in the script
        // (the words cross the ABI as written): `{{0}}` is the text {0} (audit 53: it was the path).
        let braces = command("bash -c \"echo {{literal}} {{0}}; . {0}\"")
        #expect(braces?.arguments == ["bash", "-c", "echo {{literal}} {{0}}; . {0}"])
        #expect(ShellWords.fillScript(braces?.arguments ?? [], script: "/s.sh") == ["bash", "-c", "echo {literal} {0}; . /s.sh"])
        #expect(ShellWords.fillScript(["perl", "{{0}}", "x{0}y{0}", "}}{{", "{", "}"], script: "/p") == ["perl", "{0}", "x/py/p", "}{", "{", "}"])
        #expect(ShellWords.fillScript(["python", "-u"], script: "/p") == ["python", "-u", "/p"])
        #expect(ShellWords.fillScript(["python", "{{0}}"], script: "/p") == ["python", "{0}", "/p"])
    }

    @Test("a custom shell needs {0} and closed quotes; an unknown name is never 'corrected' to another shell")
    func problems() {
        #expect(problem("perl -w")?.message == "custom shell 'perl -w' has no {0}")
        #expect(problem("perl -w")?.hint.contains("'perl -w {0}'") == true)
        #expect(problem("perl {{0}}")?.message == "custom shell 'perl {{0}}' has no {0}", "{{0}} is the text {0}, not the script")
        #expect(problem("bash {0")?.hint.contains("(e.g. 'bash {0}')") == true, "\(problem("bash {0")?.hint ?? "")")
        #expect(problem("zsh")?.message == "unknown shell 'zsh'")
        #expect(problem("zsh")?.hint.contains("'zsh {0}'") == true)
        #expect(problem("fish")?.hint.contains("did you mean") == false)
        #expect(problem(#"script -c "bash {0}"#)?.message.contains("unclosed double quote") == true)
        #expect(problem("script -c 'bash {0}")?.message.contains("unclosed single quote") == true)
        #expect(problem("")?.message == "the shell is empty")
    }

    @Test("validation accepts pwsh, powershell and quoted custom shells, and puts each shell error at its position with a hint")
    func validation() throws {
        let accepted = WorkflowLoader.load(yaml: """
            defaults:
              run: { shell: pwsh }
            jobs:
              a:
                defaults:
                  run: { shell: powershell }
                steps:
                  - run: Write-Host hi
                    shell: pwsh
                  - run: echo hi
                    shell: 'script -q -e -c "bash {0}"'
            """, file: "wf.yml")
        #expect(accepted.diagnostics.filter { $0.severity == .error }.isEmpty, "\(accepted.diagnostics)")

        let input = Marked("""
            defaults:
              run: { shell: 1️⃣zsh }
            jobs:
              a:
                defaults:
                  run:
                    shell: 2️⃣perl -w
                steps:
                  - run: echo hi
                    shell: 3️⃣pwsh2
                  - run: echo hi
                    shell: 4️⃣'script -c "bash {0}'
            """)
        #expect(input.diagnostics() == [
            "1️⃣ error: unknown shell 'zsh'",
            "2️⃣ error: custom shell 'perl -w' has no {0}",
            "3️⃣ error: unknown shell 'pwsh2'",
            #"4️⃣ error: shell 'script -c "bash {0}' has an unclosed double quote"#,
        ])
        let pwsh2 = WorkflowLoader.load(yaml: input.text, file: "wf.yml").diagnostics.first { $0.message == "unknown shell 'pwsh2'" }
        #expect(pwsh2?.hint?.contains("did you mean") == false)
        #expect(pwsh2?.hint?.contains("'pwsh2 {0}'") == true)
    }

    @Test("defaults.run may hold expressions: the job's over github, needs, strategy, matrix, env, vars, inputs; the workflow's over github, vars, inputs")
    func defaultsExpressions() {
        let fine = WorkflowLoader.load(yaml: """
            defaults:
              run: { shell: "${{ github.workflow == 'x' && 'sh' || 'bash' }}", working-directory: "${{ vars.DIR || '.' }}" }
            jobs:
              a:
                strategy: { matrix: { sh: [sh, bash] } }
                env: { WD: sub }
                defaults:
                  run: { shell: "${{ matrix.sh }}", working-directory: "${{ env.WD }}" }
                steps:
                  - run: echo hi
                    shell: ${{ 'bash' }}
            """, file: "wf.yml")
        #expect(fine.diagnostics.filter { $0.severity == .error }.isEmpty, "\(fine.diagnostics)")

        let input = Marked("""
            defaults:
              run: { shell: "${{ 1️⃣env.X }}" }
            jobs:
              a:
                defaults:
                  run: { working-directory: "${{ 2️⃣steps.s.outputs.d }}" }
                steps:
                  - run: echo hi
            """)
        let found = input.diagnostics()
        #expect(found.count == 2, "\(found)")
        #expect(found.first?.hasPrefix("1️⃣ error:") == true, "\(found)")
        #expect(found.last?.hasPrefix("2️⃣ error:") == true, "\(found)")
    }
}
