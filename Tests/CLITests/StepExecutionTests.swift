import Foundation
import Testing
import TestSupport

@Suite("Steps: shells, working directories, workspace copy, run logs, completions")
struct StepExecutionTests {
    @Test("bash -e (default, no pipefail), sh, python3 and a custom {0} template")
    func shells() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              a:
                workspace: { copy-project: false }
                steps:
                  - run: echo "bash $BASH_VERSION" | cut -c1-5; set -o | grep -c 'pipefail.*on' || true
                  - shell: sh
                    run: echo "sh says $0" | sed 's|/.*/|/|'
                  - shell: python3
                    run: |
                      import sys
                      print("python", sys.version_info[0], sys.argv[0].endswith(".py"))
                  - shell: perl {0}
                    run: print "perl ok\\n";
            """)
        let result = try await nixactions(["run", "wf.yml"], in: temp.path)
        #expect(result.status == 0, "\(result.stderr)\(result.stdout)")
        #expect(result.stdout.contains("[a] bash \n[a] 0\n"))  // bash, without pipefail (GitHub's `bash -e {0}`)
        #expect(result.stdout.contains("[a] sh says /step-1-"))
        #expect(result.stdout.contains("[a] python 3 True\n"))
        #expect(result.stdout.contains("[a] perl ok\n"))
    }

    @Test("a step's git config --global stays in its job: the user's ~/.gitconfig is read, never written; another job does not see it (audit 66 fidelity H2)")
    func gitGlobalConfigPerJob() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let home = temp.path + "/home"
        try temp.write("home/.gitconfig", "[user]\n\temail = me@example.test\n")
        try temp.write("wf.yml", """
            jobs:
              release:
                steps:
                  - run: |
                      git config --global user.name "github-actions[bot]"
                      echo "name=$(git config --global user.name) email=$(git config user.email)"
              other:
                needs: release
                steps:
                  - run: echo "other name=[$(git config --global user.name || true)] email=$(git config user.email)"
              own:
                env: { GIT_CONFIG_GLOBAL: \(temp.path)/own.gitconfig }
                steps:
                  - run: git config --global user.name own-name
            """)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path, environment: ["HOME": home])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[release] name=github-actions[bot] email=me@example.test\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[other] other name=[] email=me@example.test\n"), "\(result.stdout)")
        #expect(try String(contentsOfFile: home + "/.gitconfig", encoding: .utf8) == "[user]\n\temail = me@example.test\n", "the user's file is unchanged")
        // A GIT_CONFIG_GLOBAL the workflow sets is its own choice.
        #expect(try String(contentsOfFile: temp.path + "/own.gitconfig", encoding: .utf8).contains("own-name"))
    }

    @Test("steps start with no core files (the host's soft core limit is 0, as on GitHub's runners); a step may raise it to the hard limit and get them (audit 63 secrets M2)")
    func coreFiles() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              a:
                workspace: { copy-project: false }
                steps:
                  - run: |
                      echo "soft=$(ulimit -c)"
                      ulimit -c "$(ulimit -H -c)" && echo "raised=$(ulimit -c)"
            """)
        let result = try await runCommand(nixactionsBinary, ["run", "wf.yml", "--log-format", "plain"], in: temp.path, removing: ["SWIFT_BACKTRACE"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[a] soft=0\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] raised="), "\(result.stdout)")
    }

    @Test("no shell is `bash -e`: a failing command inside a pipeline does not fail the step; `shell: bash` adds pipefail and it does")
    func pipefail() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("default.yml", "jobs:\n  a:\n    steps:\n      - run: |\n          false | true\n          echo reached\n          false\n          echo not-reached\n")
        let plain = try await nixactions(["run", "default.yml"], in: temp.path)
        #expect(plain.status == 1)  // -e: the lone `false` fails the step
        #expect(plain.stdout.contains("[a] reached\n"), "\(plain.stdout)")
        #expect(!plain.stdout.contains("not-reached"))

        try temp.write("bash.yml", "jobs:\n  a:\n    steps:\n      - shell: bash\n        run: |\n          false | true\n          echo not-reached\n")
        let bash = try await nixactions(["run", "bash.yml"], in: temp.path)
        #expect(bash.status == 1)
        #expect(!bash.stdout.contains("not-reached"))

        try temp.write("defaults.yml", "defaults:\n  run:\n    shell: bash\njobs:\n  a:\n    steps:\n      - run: false | true\n")
        #expect(try await nixactions(["run", "defaults.yml"], in: temp.path).status == 1)
        try temp.write("ok.yml", "jobs:\n  a:\n    steps:\n      - run: false | true\n")
        #expect(try await nixactions(["run", "ok.yml"], in: temp.path).status == 0)
    }

    @Test("working-directory (step and defaults), and a missing one is a clear error")
    func workingDirectory() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("sub/inner/file.txt", "x\n")
        try temp.write("wf.yml", """
            defaults:
              run:
                working-directory: sub
            jobs:
              a:
                steps:
                  - run: basename "$PWD"
                  - working-directory: sub/inner
                    run: ls
                  - working-directory: nowhere
                    run: echo never
            """)
        let result = try await nixactions(["run", "wf.yml"], in: temp.path)
        #expect(result.status == 1)
        #expect(result.stdout.contains("[a] sub\n"))
        #expect(result.stdout.contains("[a] file.txt\n"))
        #expect(result.stdout.contains("working directory 'nowhere' of step 'Run echo never' does not exist"))
        #expect(!result.stdout.contains("[a] never"))
    }

    @Test("workspace.exclude replaces the default excludes; copy-project: false starts empty")
    func workspaceCopy() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("keep.txt", "k\n")
        try temp.write("secret.env", "s\n")
        try temp.write("node_modules/m.js", "m\n")
        try temp.write("wf.yml", """
            jobs:
              custom:
                workspace: { exclude: ["*.env"] }
                steps: [ { run: "find . -type f | sort" } ]
              empty:
                workspace: { copy-project: false }
                steps: [ { run: "ls -A | wc -l" } ]
            """)
        let result = try await nixactions(["run", "wf.yml"], in: temp.path)
        #expect(result.status == 0)
        #expect(result.stdout.contains("[custom] ./keep.txt\n"))
        #expect(result.stdout.contains("[custom] ./node_modules/m.js\n"))
        #expect(!result.stdout.contains("secret.env"))
        #expect(result.stdout.contains("[empty] 0\n"))
    }

    @Test("each run keeps a log folder: one file per job, events.jsonl and summary.md")
    func runLogs() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", "jobs:\n  a: { steps: [ { run: echo hello-a } ] }\n  b: { steps: [ { run: 'echo oops >&2; exit 4' } ] }\n")
        let result = try await nixactions(["run", "wf.yml"], in: temp.path)
        #expect(result.status == 1)
        let line = try #require(result.stdout.split(separator: "\n").last { $0.hasPrefix("logs: ") })
        let folder = temp.path + "/" + line.dropFirst("logs: ".count)
        let jobA = try String(contentsOfFile: folder + "/a.log", encoding: .utf8)
        #expect(jobA.contains(" hello-a\n"))
        let jobB = try String(contentsOfFile: folder + "/b.log", encoding: .utf8)
        #expect(jobB.contains("\noops\n"))
        #expect(try loggedOutput(folder: folder, job: "b", stream: "stderr") == Array("oops\n".utf8))
        #expect(try loggedOutput(folder: folder, job: "b", stream: "stdout").isEmpty)
        #expect(jobB.contains("(exit code 4)"))
        let events = try String(contentsOfFile: folder + "/events.jsonl", encoding: .utf8).split(separator: "\n")
        let kinds = events.compactMap { line -> String? in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["event"] as? String
        }
        #expect(kinds.count == events.count)
        #expect(kinds.first == "workflow_started" && kinds.last == "workflow_finished")
        let summary = try String(contentsOfFile: folder + "/summary.md", encoding: .utf8)
        #expect(summary.contains("b    failure"))
        #expect(summary.contains("'Run echo oops >&2; exit 4' (exit code 4)"))
    }

    @Test("shell completions come from the argument parser", arguments: ["bash", "zsh", "fish"])
    func completions(shell: String) async throws {
        let result = try await nixactions(["--generate-completion-script", shell])
        #expect(result.status == 0)
        #expect(result.stdout.contains("nixactions"))
        #expect(result.stdout.contains("validate") && result.stdout.contains("graph"))
        guard shell == "bash" else { return }
        // The workflow argument and the file options complete file names (audit 64 cli M7: the
        // script offered nothing there, worse than bash's own completion).
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("completion.bash", result.stdout)
        try temp.write("project/ci.yml", "jobs: {}\n")
        let completed = try await runCommand(URL(fileURLWithPath: "/bin/bash"), ["-c", """
            source ../completion.bash
            for line in "nixactions run c" "nixactions validate --config c"; do
              read -ra COMP_WORDS <<< "$line"; COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMP_LINE="$line"; COMP_POINT=${#line}
              COMPREPLY=(); _nixactions; echo "[$line] ${COMPREPLY[*]}"
            done
            """], in: temp.path + "/project")
        #expect(completed.stdout.contains("[nixactions run c] ci.yml\n") && completed.stdout.contains("[nixactions validate --config c] ci.yml\n"),
                "\(completed.stdout)\(completed.stderr)")
    }
}
