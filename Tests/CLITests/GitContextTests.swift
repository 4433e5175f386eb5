import Foundation
import Testing
import TestSupport

/// Issue 12: the github context, the GITHUB_*/RUNNER_* variables, events, inputs and vars of a
/// run, from a real git repository made in a temporary folder.
@Suite("run: github context from git, events, inputs and vars")
struct GitContextTests {
    /// A repository on `branch` with an origin and two commits (`src/a.c`, then `README.md`).
    static func repository(origin: String? = "git@github.com:octo/hello.git", branch: String = "feature/x") throws -> TemporaryDirectory {
        let temp = try TemporaryDirectory()
        func git(_ arguments: String...) throws {
            let result = try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/env"), ["git"] + arguments, in: temp.path,
                                        environment: ["GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_DATE": "2026-01-02T03:04:05Z",
                                                      "GIT_COMMITTER_DATE": "2026-01-02T03:04:05Z"])
            guard result.status == 0 else { throw TestComponentError("git \(arguments): \(result.stderr)") }
        }
        try git("init", "-q", "-b", "main")
        try git("config", "user.name", "Ada Lovelace")
        try git("config", "user.email", "ada@example.com")
        if let origin { try git("remote", "add", "origin", origin) }
        try temp.write("src/a.c", "int main;\n")
        try git("add", ".")
        try git("commit", "-q", "-m", "first commit")
        if branch != "main" { try git("checkout", "-q", "-b", branch) }
        try temp.write("README.md", "hello\n")
        try git("add", "README.md")
        try git("commit", "-q", "-m", "add the readme\n\nwith a body")
        return temp
    }

    static func head(_ temp: TemporaryDirectory) throws -> String {
        try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/env"), ["git", "rev-parse", "HEAD"], in: temp.path).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }

    static let standardVariables = [
        "GITHUB_SHA", "GITHUB_REF", "GITHUB_REF_NAME", "GITHUB_REF_TYPE", "GITHUB_REPOSITORY", "GITHUB_REPOSITORY_OWNER",
        "GITHUB_ACTOR", "GITHUB_TRIGGERING_ACTOR", "GITHUB_SERVER_URL", "GITHUB_API_URL", "GITHUB_GRAPHQL_URL",
        "GITHUB_EVENT_PATH", "GITHUB_RUN_ATTEMPT", "GITHUB_WORKFLOW_REF", "GITHUB_WORKFLOW_SHA", "GITHUB_RETENTION_DAYS",
        "RUNNER_NAME", "RUNNER_TOOL_CACHE", "RUNNER_ENVIRONMENT", "GITHUB_RUN_ID", "GITHUB_RUN_NUMBER", "GITHUB_EVENT_NAME", "GITHUB_REF_PROTECTED",
    ]

    @Test("push (the default event): sha, ref, repository and owner from origin, actor from git, the payload, every standard variable")
    func push() async throws {
        let temp = try Self.repository()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            on: push
            jobs:
              show:
                steps:
                  - run: echo "ctx ${{ github.sha }}|${{ github.ref }}|${{ github.ref_name }}|${{ github.ref_type }}|${{ github.repository }}|${{ github.repository_owner }}|${{ github.actor }}|${{ github.server_url }}|${{ github.head_ref }}|${{ github.workflow_ref }}"
                  - run: echo "message ${{ github.event.head_commit.message }} by ${{ github.event.head_commit.author.email }}"
                  - if: github.event_name == 'push'
                    run: echo "is a push"
                  - run: |
                      for name in \(Self.standardVariables.joined(separator: " ")); do [ -n "${!name}" ] || echo "unset $name"; done
                      [[ $GITHUB_RUN_ID =~ ^[0-9]+$ ]] && echo "run id is a number"
                      grep -q '"message": "add the readme' "$GITHUB_EVENT_PATH" && echo "payload file has the commit"
                      [ "$RUNNER_ARCH" = "${{ runner.arch }}" ] && echo "arch agrees"
                      [ "$GITHUB_REF_PROTECTED" = "${{ github.ref_protected }}" ] && echo "ref_protected agrees: $GITHUB_REF_PROTECTED"
            """)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[show] ref_protected agrees: false\n"), "\(result.stdout)")
        let sha = try Self.head(temp)
        #expect(sha.count == 40)
        #expect(result.stdout.contains("[show] ctx \(sha)|refs/heads/feature/x|feature/x|branch|octo/hello|octo|Ada Lovelace|https://github.com||octo/hello/wf.yml@refs/heads/feature/x\n"),
                "\(result.stdout)")
        #expect(result.stdout.contains("[show] message add the readme\n[show] \n[show] with a body by ada@example.com\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[show] is a push\n"))
        #expect(!result.stdout.contains("unset "), "\(result.stdout)")
        #expect(result.stdout.contains("[show] run id is a number\n"))
        #expect(result.stdout.contains("[show] payload file has the commit\n"))
        #expect(result.stdout.contains("[show] arch agrees\n"))
        #expect(!result.stderr.contains("warning"), "\(result.stderr)")
    }

    @Test("push: commits holds what the branch has beyond its upstream, oldest first, at most 2,048 (the newest); before is the upstream's commit")
    func pushCommits() async throws {
        let temp = try Self.repository()
        defer { temp.remove() }
        func git(_ arguments: [String], input: String? = nil) throws -> String {
            let result = try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/env"), ["git", "-C", temp.path] + arguments,
                                                input: Data((input ?? "").utf8), environment: ["GIT_CONFIG_NOSYSTEM": "1"])
            guard result.status == 0 else { throw TestComponentError("git \(arguments): \(result.stderr)") }
            return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        // The pushed branch's upstream is where it is now; 2,050 empty commits go on top (one fast-import).
        let base = try Self.head(temp)
        _ = try git(["update-ref", "refs/remotes/origin/feature/x", base])
        _ = try git(["branch", "-q", "--set-upstream-to=origin/feature/x"])
        let count = 2050
        var stream = ""
        for number in 1...count {
            let message = "commit \(number)\n"
            stream += "commit refs/heads/feature/x\nmark :\(number)\ncommitter Ada Lovelace <ada@example.com> \(1_767_322_800 + number) +0000\n"
            stream += "data \(message.utf8.count)\n\(message)" + (number == 1 ? "from \(base)\n" : "from :\(number - 1)\n") + "\n"
        }
        _ = try git(["fast-import", "--quiet"], input: stream)
        let head = try Self.head(temp)
        #expect(head != base)
        try temp.write("wf.yml", #"""
            on: push
            jobs:
              show:
                steps:
                  - run: |
                      python3 - "$GITHUB_EVENT_PATH" <<'EOF'
                      import json, sys
                      event = json.load(open(sys.argv[1]))
                      commits = event["commits"]
                      print("count", len(commits))
                      print("first", commits[0]["message"], "last", commits[-1]["message"])
                      print("last is head", commits[-1]["id"] == event["head_commit"]["id"] == event["after"])
                      print("before", event["before"])
                      EOF
            """#)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[show] count 2048\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[show] first commit 3 last commit 2050\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[show] last is head True\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[show] before \(base)\n"), "\(result.stdout)")
    }

    @Test("--event pull_request: head_ref is the branch, base_ref the default branch; an https origin on another host")
    func pullRequest() async throws {
        let temp = try Self.repository(origin: "https://git.example.com/team/tool.git")
        defer { temp.remove() }
        try temp.write("wf.yml", """
            on:
              pull_request:
                branches: [main]
            jobs:
              show:
                steps:
                  - run: echo "pr ${{ github.event_name }} ${{ github.head_ref }}->${{ github.base_ref }} $GITHUB_HEAD_REF->$GITHUB_BASE_REF ${{ github.ref }} ${{ github.event.pull_request.head.ref }} ${{ github.event.action }} ${{ github.api_url }} labels=${{ toJSON(github.event.pull_request.labels) }} commits=${{ github.event.pull_request.commits }}"
            """)
        let result = try await nixactions(["run", "wf.yml", "--event", "pull_request", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stderr)")
        // labels an empty list, commits the head's past the base (audit 63 fidelity L8: null, missing).
        #expect(result.stdout.contains("[show] pr pull_request feature/x->main feature/x->main refs/pull/1/merge feature/x opened https://git.example.com/api/v3 labels=[] commits=1\n"),
                "\(result.stdout)")
        #expect(!result.stderr.contains("warning"), "\(result.stderr)")
    }

    @Test("a login in origin's URL reaches nothing a step sees: clone_url is GitHub's form, in the context, the event file and the logs (audit 53)")
    func originLoginStaysOut() async throws {
        let temp = try Self.repository(origin: "https://x-access-token:TOKEN-IN-ORIGIN-42@git.example.com/team/tool.git")
        defer { temp.remove() }
        try temp.write("wf.yml", """
            on: [push, pull_request]
            jobs:
              dump:
                steps:
                  - env: { GITHUB_CONTEXT: "${{ toJSON(github) }}" }
                    run: |
                      echo "$GITHUB_CONTEXT"; cat "$GITHUB_EVENT_PATH"; echo
                      echo "clone=${{ github.event.repository.clone_url }}"
            """)
        for event in ["push", "pull_request"] {
            let result = try await nixactions(["run", "wf.yml", "--event", event, "--log-format", "plain", "--log-dir", "logs-\(event)"], in: temp.path)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("[dump] clone=https://git.example.com/team/tool.git\n"), "\(result.stdout)")
            #expect(!(result.stdout + result.stderr).contains("TOKEN-IN-ORIGIN"), "\(result.stdout)")
            let logs = try FileManager.default.subpathsOfDirectory(atPath: temp.path + "/logs-\(event)")
            for file in logs {
                let text = (try? String(contentsOfFile: temp.path + "/logs-\(event)/" + file, encoding: .utf8)) ?? ""
                #expect(!text.contains("TOKEN-IN-ORIGIN"), "\(file)")
            }
        }
    }

    @Test("--event schedule: github.event.schedule is the first cron; a GITHUB_TOKEN secret is github.token too, masked (audit 53)")
    func scheduleAndToken() async throws {
        let temp = try Self.repository()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            on:
              schedule:
                - cron: '30 5 * * 1,3'
                - cron: '0 2 * * 0'
            jobs:
              s:
                steps:
                  - if: github.event.schedule == '30 5 * * 1,3'
                    run: echo "first cron [${{ github.event.schedule }}]"
                  - run: echo "token ${{ github.token }} same=${{ github.token == secrets.GITHUB_TOKEN }} empty=${{ github.token == '' }}"
            """)
        let result = try await nixactions(["run", "wf.yml", "--event", "schedule", "--secret", "GITHUB_TOKEN=ghp_local-token-123",
                                           "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[s] first cron [30 5 * * 1,3]\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[s] token *** same=true empty=false\n"), "\(result.stdout)")
        #expect(!result.stdout.contains("ghp_local"))
        let without = try await nixactions(["run", "wf.yml", "--event", "schedule", "--log-format", "plain"], in: temp.path)
        #expect(without.stdout.contains("[s] token  same=true empty=true\n"), "\(without.stdout)")
    }

    @Test("push: each commit lists the paths it added, removed and modified (audit 53: always empty)")
    func pushFileChanges() async throws {
        let temp = try Self.repository()
        defer { temp.remove() }
        func git(_ arguments: [String]) throws {
            let result = try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/env"), ["git", "-C", temp.path] + arguments,
                                                environment: ["GIT_CONFIG_NOSYSTEM": "1"])
            guard result.status == 0 else { throw TestComponentError("git \(arguments): \(result.stderr)") }
        }
        try temp.write("README.md", "hello again\n")
        try temp.write("docs/new file.md", "new\n")
        try git(["rm", "-q", "src/a.c"])
        try git(["add", "-A", "README.md", "docs"])
        try git(["commit", "-q", "-m", "change things"])
        try temp.write("wf.yml", """
            on: push
            jobs:
              show:
                steps:
                  - run: echo "added=[${{ join(github.event.head_commit.added, ',') }}] removed=[${{ join(github.event.head_commit.removed, ',') }}] modified=[${{ join(github.event.head_commit.modified, ',') }}] readme=${{ contains(github.event.head_commit.modified, 'README.md') }}"
            """)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[show] added=[docs/new file.md] removed=[src/a.c] modified=[README.md] readme=true\n"), "\(result.stdout)")
    }

    @Test("without name:, github.workflow and GITHUB_WORKFLOW are the file's path in the repository, as on GitHub (audit 53: the base name)")
    func workflowWithoutName() async throws {
        let temp = try Self.repository()
        defer { temp.remove() }
        let steps = "jobs:\n  s:\n    steps:\n      - run: echo \"wf=[${{ github.workflow }}] env=[$GITHUB_WORKFLOW]\"\n"
        try temp.write(".github/workflows/noname.yml", steps)
        try temp.write(".github/workflows/named.yml", "name: Named CI\n" + steps)
        let plain = try await nixactions(["run", "noname", "--log-format", "plain"], in: temp.path)
        #expect(plain.stdout.contains("[s] wf=[.github/workflows/noname.yml] env=[.github/workflows/noname.yml]\n"), "\(plain.stdout)\(plain.stderr)")
        #expect(plain.stdout.contains("==> workflow 'noname'"), "the console keeps the base name")
        let named = try await nixactions(["run", "named", "--log-format", "plain"], in: temp.path)
        #expect(named.stdout.contains("[s] wf=[Named CI] env=[Named CI]\n"), "\(named.stdout)")
    }

    @Test("--event-path: the payload is github.event and gives the ref; invalid JSON exits 2 with the file and position")
    func eventPath() async throws {
        let temp = try Self.repository()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            jobs:
              show:
                steps:
                  - run: echo "event ${{ github.ref }} ${{ github.ref_type }} ${{ github.ref_name }} ${{ github.event.custom.answer }}"
            """)
        try temp.write("event.json", #"{"ref": "refs/tags/v1.2", "custom": {"answer": 42}}"#)
        let result = try await nixactions(["run", "wf.yml", "--event-path", "event.json", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[show] event refs/tags/v1.2 tag v1.2 42\n"), "\(result.stdout)")
        try temp.write("bad.json", "{\n  \"ref\": \"x\",\n}\n")
        let bad = try await nixactions(["run", "wf.yml", "--event-path", "bad.json"], in: temp.path)
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("bad.json:3:1: error: invalid JSON"), "\(bad.stderr)")
    }

    @Test("on: filters: one warning naming the filter, and the run goes on; an event the workflow does not listen to warns too")
    func filterWarning() async throws {
        let temp = try Self.repository()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            on:
              push:
                branches: [main, 'release/**']
            jobs:
              show:
                steps:
                  - run: echo ran
            """)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[show] ran\n"))
        let warnings = result.stderr.split(separator: "\n").filter { $0.hasPrefix("warning:") }
        #expect(warnings == ["warning: on GitHub, this push would not run workflow 'wf': branch 'feature/x' does not match on.push.branches (main, release/**) (wf.yml:3:16); running it anyway"],
                "\(result.stderr)")
        let other = try await nixactions(["run", "wf.yml", "--event", "issues", "--log-format", "plain"], in: temp.path)
        #expect(other.status == 0)
        #expect(other.stderr.contains("the workflow does not listen to 'issues' (on: push)"), "\(other.stderr)")
    }

    @Test("a head commit whose message says [skip ci] warns that GitHub would not run the push or pull request, and the run goes on (audit 55 F5)")
    func skipDirectiveWarning() async throws {
        let temp = try Self.repository()
        defer { temp.remove() }
        try temp.write("wf.yml", "on: [push, pull_request]\njobs:\n  show:\n    steps:\n      - run: echo ran\n")
        let plain = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path)
        #expect(plain.status == 0 && !plain.stderr.contains("warning:"), "\(plain.stderr)")
        let commit = try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/env"), ["git", "commit", "-q", "--allow-empty", "-m", "docs tweak [skip ci]"],
                                            in: temp.path, environment: ["GIT_CONFIG_NOSYSTEM": "1"])
        #expect(commit.status == 0, "\(commit.stderr)")
        for event in ["push", "pull_request"] {
            let result = try await nixactions(["run", "wf.yml", "--event", event, "--log-format", "plain"], in: temp.path)
            #expect(result.status == 0 && result.stdout.contains("[show] ran\n"), "\(result.stdout)\n\(result.stderr)")
            #expect(result.stderr.contains("warning: on GitHub, this \(event) would not run workflow 'wf': its head commit's message says '[skip ci]'; running it anyway"),
                    "\(result.stderr)")
        }
    }

    @Test("inputs: typed in inputs.*, strings in github.event.inputs.*, defaults, seen by the matrix; required, unknown and bad values exit 2; a push of a file that listens to it has none")
    func inputs() async throws {
        let temp = try Self.repository()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            on:
              workflow_dispatch:
                inputs:
                  target: { type: choice, options: [staging, production], default: staging }
                  dry: { type: boolean, default: false }
                  count: { type: number, required: true }
                  flavours: { type: string, default: '{"flavour": ["a", "b"]}' }
            jobs:
              show:
                strategy:
                  matrix: ${{ fromJSON(inputs.flavours) }}
                steps:
                  - run: echo "in ${{ matrix.flavour }} ${{ inputs.target }} ${{ inputs.dry == true }} ${{ inputs.count == 3 }} ${{ github.event.inputs.dry == 'true' }} ${{ github.event.inputs.count }}"
            """)
        let result = try await nixactions(["run", "wf.yml", "--event", "workflow_dispatch", "--input", "count=3", "--input", "dry=true",
                                     "--input", #"flavours={"flavour": ["x","y","z"]}"#, "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stderr)")
        for flavour in ["x", "y", "z"] {
            #expect(result.stdout.contains("] in \(flavour) staging true true true 3\n"), "\(result.stdout)")
        }
        // Its only event is the default, as act has it (audit 57 UX H2: a push, so
        // github.event.inputs was empty and no warning said why): no --event needed.
        let only = try await nixactions(["run", "wf.yml", "--input", "count=3", "--log-format", "plain"], in: temp.path)
        #expect(only.status == 0, "\(only.stderr)")
        #expect(only.stdout.contains("] in a staging false true false 3\n"), "\(only.stdout)")
        #expect(!only.stderr.contains("would not run"), "\(only.stderr)")
        let missing = try await nixactions(["run", "wf.yml"], in: temp.path)
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("wf.yml:6:7: error: input 'count' is required and has no default"), "\(missing.stderr)")
        // A file that also listens to push: a push has no inputs on GitHub (nothing required, no
        // default: tailscale's `inputs.tag != null`); a workflow_dispatch run takes them.
        try temp.write("both.yml", """
            on:
              push:
              workflow_dispatch:
                inputs:
                  tag: { required: true }
                  flag: { type: boolean, default: true }
            jobs:
              show:
                steps:
                  - run: echo "tag=[${{ inputs.tag }}] null=${{ inputs.tag == null }} flag=[${{ inputs.flag }}]"
            """)
        let push = try await nixactions(["run", "both.yml", "--log-format", "plain"], in: temp.path)
        #expect(push.status == 0, "\(push.stderr)")
        #expect(push.stdout.contains("[show] tag=[] null=true flag=[]\n"), "\(push.stdout)")
        let dispatch = try await nixactions(["run", "both.yml", "--event", "workflow_dispatch"], in: temp.path)
        #expect(dispatch.status == 2)
        #expect(dispatch.stderr.contains("both.yml:5:7: error: input 'tag' is required and has no default"), "\(dispatch.stderr)")
        let unknown = try await nixactions(["run", "wf.yml", "--input", "count=1", "--input", "taget=production"], in: temp.path)
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("error: --input taget: the workflow has no input 'taget'\n  hint: did you mean 'target'? inputs: target, dry, count, flavours"),
                "\(unknown.stderr)")
        let bad = try await nixactions(["run", "wf.yml", "--input", "count=many", "--input", "target=prod", "--input", "dry=yes"], in: temp.path)
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("'many' is not a number") && bad.stderr.contains("'prod' is not one of the options (staging, production)")
                && bad.stderr.contains("'yes' is not a boolean"), "\(bad.stderr)")
    }

    @Test("vars: --var wins over --var-file, which wins over config.yml's vars; a bad line names the file and line")
    func vars() async throws {
        let temp = try Self.repository()
        defer { temp.remove() }
        try temp.write(".nixactions/config.yml", "vars:\n  A: config\n  B: config\n  C: config\n")
        try temp.write("vars.env", "# vars\nA=file\nB=file\n")
        try temp.write("wf.yml", """
            jobs:
              show:
                steps:
                  - run: echo "vars ${{ vars.A }} ${{ vars.B }} ${{ vars.C }} [${{ vars.MISSING }}]"
            """)
        let result = try await nixactions(["run", "wf.yml", "--var-file", "vars.env", "--var", "A=cli", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[show] vars cli file config []\n"), "\(result.stdout)")
        try temp.write("bad.env", "A=1\nnot a line\n")
        let bad = try await nixactions(["run", "wf.yml", "--var-file", "bad.env"], in: temp.path)
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("bad.env:2: error:"), "\(bad.stderr)")
    }

    @Test("run_number goes up by one per run of the project; run_id is a new number each time")
    func runNumber() async throws {
        let temp = try Self.repository()
        defer { temp.remove() }
        try temp.write("wf.yml", "jobs:\n  show:\n    steps:\n      - run: echo \"number ${{ github.run_number }} $GITHUB_RUN_NUMBER id $GITHUB_RUN_ID\"\n")
        var ids: [String] = []
        for expected in 1...2 {
            let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path)
            #expect(result.status == 0, "\(result.stderr)")
            let line = try #require(result.stdout.split(separator: "\n").first { $0.hasPrefix("[show] number ") })
            #expect(line.hasPrefix("[show] number \(expected) \(expected) id "), "\(line)")
            ids.append(String(line.split(separator: " ").last ?? ""))
        }
        #expect(ids.count == 2 && ids[0] != ids[1] && ids.allSatisfy { !$0.isEmpty && $0.allSatisfy(\.isNumber) })
        // A dry run takes no number.
        _ = try await nixactions(["run", "wf.yml", "--dry-run"], in: temp.path)
        let third = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path)
        #expect(third.stdout.contains("[show] number 3 3 id "), "\(third.stdout)")
    }

    @Test("no git repository, or no origin: the folder's name under $USER, empty sha and ref, no error; list, graph and validate work")
    func withoutGit() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            on: { push: { branches: [main] } }
            jobs:
              show:
                steps:
                  - run: echo "bare [${{ github.sha }}] [${{ github.ref }}] ${{ github.repository }} ${{ github.event_name }}"
            """)
        let folder = temp.url.lastPathComponent
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path, environment: ["USER": "tester"])
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[show] bare [] [] tester/\(folder) push\n"), "\(result.stdout)")
        #expect(!result.stderr.contains("warning"), "\(result.stderr)")
        for command in [["validate", "wf.yml"], ["graph", "wf.yml"], ["list", "wf.yml"]] {
            #expect(try await nixactions(command, in: temp.path).status == 0, "\(command)")
        }
        let noOrigin = try Self.repository(origin: nil)
        defer { noOrigin.remove() }
        try noOrigin.write("wf.yml", "jobs:\n  show:\n    steps:\n      - run: echo \"repo ${{ github.repository }} ${{ github.actor }}\"\n")
        let local = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: noOrigin.path, environment: ["USER": "tester"])
        #expect(local.stdout.contains("[show] repo tester/\(noOrigin.url.lastPathComponent) Ada Lovelace\n"), "\(local.stdout)")
    }

    @Test("RUNNER_DEBUG and runner.debug when the host debugs (ACTIONS_STEP_DEBUG), unset otherwise; RUNNER_TOOL_CACHE from the host")
    func runnerDebug() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", "jobs:\n  show:\n    steps:\n      - run: echo \"debug [${RUNNER_DEBUG-unset}] [${{ runner.debug }}] $RUNNER_TOOL_CACHE ${{ runner.tool_cache }}\"; echo '::debug::a debug message'\n")
        let debug = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path,
                                   environment: ["ACTIONS_STEP_DEBUG": "true", "RUNNER_TOOL_CACHE": "/opt/tools"])
        #expect(debug.stdout.contains("[show] debug [1] [1] /opt/tools /opt/tools\n"), "\(debug.stdout)\(debug.stderr)")
        // ::debug:: is shown when the run debugs, hidden otherwise (audit 53: always hidden).
        #expect(debug.stdout.contains("[show] debug: a debug message\n"), "\(debug.stdout)")
        let plain = try await runCommand(nixactionsBinary, ["run", "wf.yml", "--log-format", "plain"], in: temp.path,
                                   environment: ["RUNNER_TOOL_CACHE": "/opt/tools"], removing: ["ACTIONS_STEP_DEBUG", "ACTIONS_RUNNER_DEBUG", "RUNNER_DEBUG"])
        #expect(plain.stdout.contains("[show] debug [unset] [] /opt/tools /opt/tools\n"), "\(plain.stdout)\(plain.stderr)")
        #expect(!plain.stdout.contains("a debug message"), "\(plain.stdout)")
    }

    @Test("paths: the files of the push decide; a detached HEAD at a tag is a tag push, which branch filters do not trigger")
    func pathsAndTags() async throws {
        let temp = try Self.repository()
        defer { temp.remove() }
        try temp.write("wf.yml", """
            on:
              push:
                branches: ['**']
                paths: ['src/**']
            jobs:
              show:
                steps:
                  - run: echo "ref ${{ github.ref }} ${{ github.ref_type }} ${{ github.ref_name }}"
            """)
        let result = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stderr.contains("warning: on GitHub, this push would not run workflow 'wf': none of the 1 changed file matches on.push.paths (src/**) (wf.yml:4:13); running it anyway"),
                "\(result.stderr)")
        for arguments in [["tag", "v1.0"], ["checkout", "-q", "--detach", "v1.0"]] {
            #expect(try await runCommand(URL(fileURLWithPath: "/usr/bin/env"), ["git"] + arguments, in: temp.path).status == 0)
        }
        let tag = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path)
        #expect(tag.stdout.contains("[show] ref refs/tags/v1.0 tag v1.0\n"), "\(tag.stdout)")
        #expect(tag.stderr.contains("on.push filters only branches, so a push of a tag does not trigger it"), "\(tag.stderr)")
    }
}
