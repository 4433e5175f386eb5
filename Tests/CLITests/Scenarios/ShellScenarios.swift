import Foundation
import Testing
import TestSupport

@Suite("Scenarios: shells and defaults.run as GitHub runs them")
struct ShellScenarios {
    @Test("a quoted custom shell runs as one command line: script -q -e -c \"bash {0}\"")
    func quotedCustomShell() async throws {
        guard testTool("script") != nil else { return }
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              a:
                steps:
                  - shell: 'script -q -e -c "bash {0}" /dev/null'
                    run: |
                      p=$PPID
                      for i in 1 2 3; do
                        echo "ancestor $(cat /proc/$p/comm)"
                        p=$(cut -d' ' -f4 /proc/$p/stat)
                      done
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        // script runs the command line through $SHELL -c: bash execs its last command, dash forks
        // it, so script is the parent or the grandparent depending on the machine's shell.
        #expect(result.stdout.contains("[a] ancestor script"), "\(result.stdout)")
    }

    @Test("a custom shell in GitHub's format: {0} is the script, {{0}} the text {0}, {{ and }} one brace (audit 53: {{0}} was the script's path)")
    func customShellBraces() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              a:
                steps:
                  - shell: bash -e {0} {{0}} x{{y}}z
                    run: echo "args=[$1] [$2] script=${0##*.}"
            """, ["--log-format", "plain"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[a] args=[{0}] [x{y}z] script=sh\n"), "\(result.stdout)")
    }

    @Test("pwsh passes validation; where it is not installed the step fails naming pwsh, with no suggestion of bash")
    func missingPwsh() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let yaml = """
            jobs:
              a:
                steps:
                  - shell: pwsh
                    run: Write-Host "hello from pwsh"
            """
        let path = try scenario.temp.write("wf.yml", yaml)
        let validated = try await nixactions(["validate", path], in: scenario.project)
        #expect(validated.status == 0, "\(validated.stdout)\n\(validated.stderr)")
        let result = try await scenario.run(yaml)
        if testTool("pwsh") != nil {
            #expect(result.stdout.contains("[a] hello from pwsh"))
            return
        }
        #expect(result.status == 1)
        #expect(result.stdout.contains("cannot start 'pwsh'"), "\(result.stdout)")
        #expect(result.stdout.contains("is 'pwsh' installed and on PATH?"), "\(result.stdout)")
        #expect(!result.stdout.contains("'bash'") && !result.stderr.contains("did you mean"))
    }

    @Test("PATH= written to GITHUB_ENV: the next step fails saying its PATH is empty, not that bash is missing (audit 55 L6)")
    func emptyPathHint() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              a:
                steps:
                  - run: echo "PATH=" >> "$GITHUB_ENV"
                  - run: echo never
                  - if: always()
                    shell: /bin/bash {0}
                    run: echo "a full path still runs [$PATH]"
            """, ["--log-format", "plain"])
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("cannot start 'bash'"), "\(result.stdout)")
        #expect(result.stdout.contains("the step's PATH is empty, so 'bash' is looked up nowhere"), "\(result.stdout)")
        #expect(!result.stdout.contains("installed and on PATH"), "\(result.stdout)")
        #expect(!result.stdout.contains("[a] never\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] a full path still runs []"), "\(result.stdout)")
    }

    @Test("a pwsh or powershell script gets GitHub's two lines (stop on error, the last exit status), built-in or custom; another shell's does not (audit 53)")
    func powerShellFixUp() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        // Stand-ins on GITHUB_PATH that print the script they were given (`. 'FILE'` or a path).
        let result = try await scenario.run("""
            jobs:
              a:
                steps:
                  - run: |
                      mkdir -p "$RUNNER_TEMP/bin"
                      cat > "$RUNNER_TEMP/bin/pwsh" <<'STUB'
                      #!/bin/sh
                      for a in "$@"; do
                        case "$a" in
                          ". '"*) f=${a#". '"}; f=${f%"'"} ;;
                          *.ps1) f=$a ;;
                        esac
                      done
                      echo "== $(basename "$0")"; cat "$f"; echo
                      STUB
                      chmod +x "$RUNNER_TEMP/bin/pwsh"
                      cp "$RUNNER_TEMP/bin/pwsh" "$RUNNER_TEMP/bin/powershell"
                      cp "$RUNNER_TEMP/bin/pwsh" "$RUNNER_TEMP/bin/PowerShell"
                      echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"
                  - shell: pwsh
                    run: ./build.sh
                  - shell: powershell
                    run: Write-Host two
                  - shell: pwsh -NoProfile -File {0}
                    run: Write-Host three
                  - shell: PowerShell
                    run: Write-Host four
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let out = result.stdout
        for (line, body) in [("pwsh", "./build.sh"), ("powershell", "Write-Host two"), ("pwsh", "Write-Host three")] {
            #expect(out.contains("[a] $ErrorActionPreference = 'stop'\n[a] \(body)\n[a] if ((Test-Path -LiteralPath variable:\\LASTEXITCODE)) { exit $LASTEXITCODE }\n"),
                    "\(line): \(out)")
        }
        // GitHub's runner picks the fix-up by the name as written, with case: not for PowerShell.
        #expect(out.contains("[a] == PowerShell\n[a] Write-Host four\n"), "\(out)")
        #expect(outputLines(out).filter { $0.hasSuffix("$ErrorActionPreference = 'stop'") }.count == 3, "\(out)")
    }

    @Test("defaults.run with expressions: the workflow's, then the job's, then the step's own win, evaluated at the step's start")
    func defaultsWithExpressions() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: defaults
            defaults:
              run:
                shell: ${{ github.workflow == 'defaults' && 'bash' || 'sh' }}
                working-directory: ${{ github.workflow }}-dir
            jobs:
              workflow-level:
                steps:
                  - run: mkdir -p defaults-dir
                    working-directory: .
                  - run: |
                      echo "wf dir=$(basename "$PWD") bash=${BASH_VERSION:+yes}"
                      false | true
                      echo "wf not reached: pipefail is on"
              job-level:
                strategy:
                  matrix:
                    shell: [sh]
                env:
                  SUB: from-env
                defaults:
                  run:
                    shell: ${{ matrix.shell }}
                    working-directory: ${{ env.SUB }}
                steps:
                  - run: mkdir -p from-env other
                    working-directory: .
                  - run: echo "job dir=$(basename "$PWD") bash=${BASH_VERSION:-no}"
                  - run: echo "step dir=$(basename "$PWD") bash=${BASH_VERSION:+yes}"
                    shell: ${{ 'bash' }}
                    working-directory: other
            """)
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        let out = result.stdout
        #expect(out.contains("[workflow-level] wf dir=defaults-dir bash=yes\n"), "\(out)")
        #expect(!out.contains("wf not reached"))
        #expect(out.contains("job dir=from-env bash=no\n"), "\(out)")
        #expect(out.contains("step dir=other bash=yes\n"), "\(out)")
    }

    @Test("a shell that an expression yields is checked when the step starts: error with position and hint")
    func badShellFromExpression() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            jobs:
              a:
                defaults:
                  run:
                    shell: ${{ 'zsh' }}
                steps:
                  - run: echo never
            """)
        #expect(result.status == 1)
        #expect(result.stdout.contains("wf.yml:5:16: unknown shell 'zsh' (from '${{ 'zsh' }}')"), "\(result.stdout)")
        #expect(result.stdout.contains("hint: built-in shells: bash, sh, python, python3, pwsh, powershell"), "\(result.stdout)")
        #expect(!result.stdout.contains("[a] never"))
    }
}
