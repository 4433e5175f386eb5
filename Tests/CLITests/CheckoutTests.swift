import Foundation
import Testing
import TestSupport

/// A git project in a temporary folder (real git), run with the built `nixactions`.
///
/// Layout: `project/` (the repository, the run's working directory), `wf.yml` next to it (outside
/// the project, so it is no uncommitted change), `logs/`, and `tmp/` (the run's TMPDIR: its
/// private folder, where the clones go, must be gone after the run).
struct GitProject {
    let temp: TemporaryDirectory
    var project: String { temp.path + "/project" }
    var tmp: String { temp.path + "/tmp" }

    /// Two commits on `main` (`v1` tags the first, an annotated tag), a branch `feature` with a
    /// third, HEAD back on main.
    init() throws {
        temp = try TemporaryDirectory()
        for folder in [project, tmp, temp.path + "/logs"] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        }
        try git(["init", "--quiet", "--initial-branch=main"])
        try temp.write("project/version.txt", "one\n")
        try temp.write("project/.gitignore", "ignored.txt\n")
        try git(["add", "-A"])
        try commit("first")
        try git(["tag", "-a", "v1", "-m", "version 1"])
        try temp.write("project/version.txt", "two\n")
        try commit("second", all: true)
        try git(["checkout", "--quiet", "-b", "feature"])
        try temp.write("project/feature.txt", "feature\n")
        try git(["add", "feature.txt"])
        try commit("feature work")
        try git(["checkout", "--quiet", "main"])
    }

    func remove() { temp.remove() }

    @discardableResult
    func git(_ arguments: [String], in directory: String? = nil) throws -> String {
        let result = try runCommandBlocking(URL(fileURLWithPath: "/usr/bin/git"), arguments, in: directory ?? project,
                                    environment: Self.gitEnvironment)
        guard result.status == 0 else { throw TestFailure("git \(arguments.joined(separator: " ")): \(result.stderr)") }
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// No system or user configuration; an identity for commits and tags.
    static let gitEnvironment = [
        "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_AUTHOR_NAME": "Test", "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test", "GIT_COMMITTER_EMAIL": "test@example.com",
    ]

    func commit(_ message: String, all: Bool = false, in directory: String? = nil) throws {
        try git(["-c", "commit.gpgsign=false", "commit", "--quiet"]
                + (all ? ["-a"] : []) + ["-m", message], in: directory)
    }

    var head: String { (try? git(["rev-parse", "HEAD"])) ?? "?" }

    func run(_ yaml: String, _ arguments: [String] = [], environment: [String: String] = [:]) async throws -> CommandResult {
        let path = try temp.write("wf.yml", yaml)
        return try await nixactions(["run", path, "--log-dir", temp.path + "/logs", "--log-format", "plain"] + arguments, in: project,
                              environment: ["TMPDIR": tmp, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"].merging(environment) { _, new in new })
    }

    /// What the run left in its TMPDIR (its private folder with the clones must be gone).
    func leftovers() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? []).filter { $0.hasPrefix("nixactions-") }
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

@Suite("Checkout: a git project's workspace is a git repository of its commit (real git)")
struct CheckoutTests {
    static let describe = """
        - run: |
                  echo "head=$(git rev-parse HEAD)"
                  echo "count=$(git rev-list --count HEAD)"
                  echo "status=[$(git status --porcelain)]"
                  echo "files=$(git ls-files | tr '\\n' ' ')"
                  echo "branch=$(git rev-parse --abbrev-ref HEAD)"
                  echo "version=$(cat version.txt)"
                  ls -A | tr '\\n' ' '; echo
        """

    @Test("what the runner writes in .nixactions/ (logs, the run counter) is not an uncommitted change of the project; a config.yml there is (audit 57 UX M1)")
    func runnersOwnFilesAreNotChanges() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("wf.yml", "jobs:\n  a:\n    steps:\n      - run: echo hi\n")
        let made = try await runCommand(URL(fileURLWithPath: "/bin/sh"), ["-c",
            "git init -q && git -c user.name=t -c user.email=t@example.com add -A && git -c user.name=t -c user.email=t@example.com commit -qm one"],
            in: temp.path)
        #expect(made.status == 0, "\(made.stderr)")
        for _ in 0..<2 {
            let run = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(!run.stderr.contains("uncommitted changes"), "\(run.stderr)")
        }
        try temp.write(".nixactions/config.yml", "vars: { A: b }\n")
        let configured = try await nixactions(["run", "wf.yml", "--log-format", "plain"], in: temp.path)
        #expect(configured.stderr.contains("the project has uncommitted changes (1 file: .nixactions/)"), "\(configured.stderr)")
    }

    @Test("--working-tree keeps the project's committed .nixactions/ (workflows, config): git sees no file deleted, so git diff --exit-code holds (audit 58 examples M3)")
    func workingTreeKeepsNixactions() async throws {
        let repo = try GitProject()
        defer { repo.remove() }
        try repo.temp.write("project/.nixactions/workflows/gd.yml", "jobs: { a: { steps: [ { run: echo } ] } }\n")
        try repo.temp.write("project/.nixactions/config.yml", "checkout: commit\n")
        try repo.git(["add", "-A"])
        try repo.commit("workflows")
        let result = try await repo.run("""
            jobs:
              a:
                steps:
                  - run: git diff --stat; git diff --exit-code >/dev/null && echo CLEAN; ls .nixactions | tr '\\n' ' '; echo
            """, ["--working-tree"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[a] CLEAN\n") && result.stdout.contains("[a] config.yml workflows \n"), "\(result.stdout)")
    }

    @Test("--working-tree with actions/checkout: the log root and a run folder inside the project are not copied into the checkout; files keep their modification times (review 59 M6, L10)")
    func workingTreeCheckoutSkipsRunFolders() async throws {
        let repo = try GitProject()
        defer { repo.remove() }
        let tmp = repo.project + "/tmpdir"
        try FileManager.default.createDirectory(atPath: tmp, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try repo.temp.write("project/old.txt", "old\n")
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSince1970: 978_307_200)], ofItemAtPath: repo.project + "/old.txt")
        try repo.temp.write("project/wf.yml", """
            jobs:
              a:
                steps:
                  - uses: actions/checkout@v4
                    with: { path: co }
                  - run: echo "logs=$(ls -A co/out/logs 2>/dev/null | wc -l) runs=$(ls -A co/tmpdir 2>/dev/null | grep -c nixactions-) mtime=$(stat -c %Y co/old.txt)"
            """)
        let environment = ["TMPDIR": tmp, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": "/dev/null"]
        for _ in 0..<2 {  // the second run has the first one's logs under out/logs
            let result = try await nixactions(["run", "wf.yml", "--working-tree", "--log-dir", "out/logs", "--log-format", "plain"], in: repo.project,
                                              environment: environment)
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            #expect(result.stdout.contains("[a] logs=0 runs=0 mtime=978307200\n"), "\(result.stdout)")
        }
    }

    @Test("default: HEAD one commit deep, git status clean, no uncommitted change (said once); --working-tree: the folder as it is")
    func defaultAndWorkingTree() async throws {
        let repo = try GitProject()
        defer { repo.remove() }
        let head = repo.head
        try repo.temp.write("project/version.txt", "uncommitted\n")
        try repo.temp.write("project/new.txt", "new\n")
        try repo.temp.write("project/ignored.txt", "ignored\n")
        let workflow = """
            jobs:
              build:
                steps:
                  \(Self.describe)
              stepped:
                steps:
                  - uses: actions/checkout@v4
                    with: { path: wt }
                  - run: echo "stepped=$(cat wt/version.txt) new=$(cat wt/new.txt 2>/dev/null) git=$(git -C wt rev-parse HEAD) root=$(ls -A | tr '\\n' ' ')"
            """
        let result = try await repo.run(workflow)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[build] head=\(head)\n"))
        #expect(result.stdout.contains("[build] count=1\n"))
        #expect(result.stdout.contains("[build] status=[]\n"))
        #expect(result.stdout.contains("[build] files=.gitignore version.txt \n"))
        #expect(result.stdout.contains("[build] branch=main\n"))
        #expect(result.stdout.contains("[build] version=two\n"))
        #expect(result.stdout.contains("[build] .git .gitignore version.txt \n"))
        #expect(!result.stdout.contains("not a git repository"))
        let notes = result.stderr.components(separatedBy: "uncommitted changes").count - 1
        #expect(notes == 1, "\(result.stderr)")
        #expect(result.stderr.contains("--working-tree"))
        #expect(result.stderr.contains("checkout: working-tree"))
        #expect(result.stdout.contains("[stepped] stepped=two new= git=\(head) root=wt \n"))
        #expect(repo.leftovers().isEmpty, "\(repo.leftovers())")

        let tree = try await repo.run(workflow, ["--working-tree"])
        #expect(tree.status == 0, "\(tree.stdout)\(tree.stderr)")
        #expect(tree.stdout.contains("[build] head=\(head)\n"))
        #expect(tree.stdout.contains("[build] count=2\n"))
        #expect(tree.stdout.contains("[build] version=uncommitted\n"))
        #expect(tree.stdout.contains(" M version.txt"))
        #expect(tree.stdout.contains("new.txt"))
        #expect(!tree.stderr.contains("uncommitted changes"))
        #expect(tree.stdout.contains("[stepped] stepped=uncommitted new=new git=\(head) root=wt \n"), "\(tree.stdout)")
        #expect(tree.stdout.contains("checked out the project's working tree (--working-tree) into 'wt'"))

        // The same from .nixactions/config.yml; a bad value is an error at its line.
        try repo.temp.write("project/.nixactions/config.yml", "checkout: working-tree\n")
        let configured = try await repo.run(workflow)
        #expect(configured.stdout.contains("[build] version=uncommitted\n"), "\(configured.stdout)\(configured.stderr)")
        try repo.temp.write("project/.nixactions/config.yml", "checkout: worktree\n")
        let bad = try await repo.run(workflow)
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("config.yml:1:11: error: checkout must be commit or working-tree, not 'worktree'"), "\(bad.stderr)")
    }

    @Test("a step's git push to origin fails naming why, and the project's repository gets no branch or tag (audit 53: it did)")
    func pushDoesNotReachTheProject() async throws {
        let repo = try GitProject()
        defer { repo.remove() }
        let result = try await repo.run("""
            jobs:
              bot:
                steps:
                  - uses: actions/checkout@v4
                  - run: |
                      git -c user.name=bot -c user.email=bot@example.com commit --allow-empty -qm bump
                      git tag v9.9.9
                      echo "url=$(git remote get-url origin)"
                      if git push origin HEAD:refs/heads/bot-branch v9.9.9 2> err.txt; then echo PUSHED; else head -1 err.txt; fi
              plain:
                steps:
                  - run: if git push origin HEAD:refs/heads/plain-branch 2>/dev/null; then echo PUSHED; else echo refused; fi
                  - run: if git push "$(git remote get-url origin)" HEAD:refs/heads/written-out 2>/dev/null; then echo PUSHED; else echo refused written out; fi
              elsewhere:
                steps:
                  - run: |
                      git init -q --bare "$RUNNER_TEMP/remote.git"
                      git -C "$RUNNER_TEMP/remote.git" config receive.shallowUpdate true
                      git remote set-url origin "$RUNNER_TEMP/remote.git"
                      git push -q origin HEAD:refs/heads/moved && echo "pushed to the new origin: $(git -C "$RUNNER_TEMP/remote.git" branch --list moved)"
            """)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[bot] fatal: '/dev/null/nixactions: a run does not push to the project's repository' does not appear to be a git repository\n"),
                "\(result.stdout)")
        #expect(result.stdout.contains("[plain] refused\n") && result.stdout.contains("[plain] refused written out\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[elsewhere] pushed to the new origin:   moved\n"), "set-url then push still works: \(result.stdout)")
        #expect(!result.stdout.contains("PUSHED"))
        let refs = try repo.git(["for-each-ref", "--format=%(refname)"])
        #expect(!refs.contains("bot-branch") && !refs.contains("plain-branch") && !refs.contains("written-out") && !refs.contains("v9.9.9"), "\(refs)")
    }

    @Test("HEAD detached at a tag: checkout without ref and the default copy check the tag out, so git describe names it (audit 53: no tag)")
    func detachedAtTag() async throws {
        let repo = try GitProject()
        defer { repo.remove() }
        try repo.git(["checkout", "--quiet", "--detach", "v1"])
        let result = try await repo.run("""
            on: { push: { tags: ['v*'] } }
            jobs:
              stepped:
                steps:
                  - uses: actions/checkout@v4
                  - run: echo "ref=$GITHUB_REF describe=$(git describe --tags) version=$(cat version.txt) count=$(git rev-list --count HEAD)"
              copied:
                steps:
                  - run: echo "describe=$(git describe --tags)"
            """)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[stepped] ref=refs/tags/v1 describe=v1 version=one count=1\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[copied] describe=v1\n"), "\(result.stdout)")
    }

    @Test("actions/checkout: fetch-depth 0 sees the tag, ref gives a branch or a tag, path a subfolder, outputs commit and ref")
    func checkoutInputs() async throws {
        let repo = try GitProject()
        defer { repo.remove() }
        let head = repo.head
        let feature = try repo.git(["rev-parse", "feature"])
        let first = try repo.git(["rev-parse", "v1^{commit}"])
        let result = try await repo.run("""
            jobs:
              sha:
                steps:
                  - uses: actions/checkout@v4
                    id: co
                    with: { ref: "\(first.prefix(10))" }  # quoted: a sha such as 5e12345678 is a number in YAML
                  - run: echo "detached=$(git rev-parse HEAD) $(git rev-parse --abbrev-ref HEAD) ref=[${{ steps.co.outputs.ref }}] version=$(cat version.txt)"
              history:
                steps:
                  - uses: actions/checkout@v4
                    with: { fetch-depth: 0 }
                  - run: echo "describe=$(git describe --tags) count=$(git rev-list --count HEAD) tags=$(git tag)"
              branch:
                steps:
                  - uses: actions/checkout@v4
                    id: co
                    with: { ref: feature }
                  - run: echo "branch=$(git rev-parse --abbrev-ref HEAD) files=$(ls | tr '\\n' ' ') status=[$(git status --porcelain)]"
                  - run: echo "outputs=${{ steps.co.outputs.commit }} ${{ steps.co.outputs.ref }}"
              tag:
                steps:
                  - uses: actions/checkout@v4
                    with: { ref: v1 }
                  - run: echo "tag=$(git describe --tags) version=$(cat version.txt) count=$(git rev-list --count HEAD)"
              tags:
                steps:
                  - uses: actions/checkout@v4
                    with: { fetch-tags: true }
                  - run: echo "fetched tags=$(git tag) count=$(git rev-list --count HEAD)"
              coerced:
                steps:
                  # Values actions/checkout reads otherwise than they look (GitHub checks no input):
                  # -1 is all history, anything but true is false.
                  - uses: actions/checkout@v4
                    with:
                      fetch-depth: -1
                      clean: yes
                      show-progress: false\\
                  - run: echo "coerced count=$(git rev-list --count HEAD)"
              sub:
                steps:
                  - uses: actions/checkout@v4
                    with: { path: src/app }
                  - run: echo "root=$(ls -A | tr '\\n' ' ') head=$(git -C src/app rev-parse HEAD) count=$(git -C src/app rev-list --count HEAD)"
            """)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[history] describe=v1-1-g\(head.prefix(7)) count=2 tags=v1\n"))
        #expect(result.stdout.contains("[branch] branch=feature files=feature.txt version.txt  status=[]\n"))
        #expect(result.stdout.contains("[branch] outputs=\(feature) refs/heads/feature\n"))
        #expect(result.stdout.contains("[tag] tag=v1 version=one count=1\n"))
        #expect(result.stdout.contains("[sub] root=src  head=\(head) count=1\n"))
        #expect(result.stdout.contains("[coerced] coerced count=2\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[tags] fetched tags=v1 count=1\n"))
        #expect(result.stdout.contains("[sha] detached=\(first) HEAD ref=[] version=one\n"))
        #expect(result.stdout.contains("checked out 'feature' (1 commit deep) into the workspace: \(feature)"))
        #expect(repo.leftovers().isEmpty)

        let missing = try await repo.run("jobs:\n  a:\n    steps: [ { uses: actions/checkout@v4, with: { ref: nope } } ]\n")
        #expect(missing.status == 1)
        #expect(missing.stdout.contains("ref 'nope' is not a branch, tag or commit of the project's repository"), "\(missing.stdout)")
    }

    @Test("actions/checkout of another repository from a git server: default branch, tag, branch with all history, a commit id, path, outputs; its own name is the project; no credentials kept; errors name the repository")
    func otherRepository() async throws {
        let daemon = try GitDaemon()
        defer { daemon.stop() }
        let first = try daemon.publish("octo/tools", files: ["tool.txt": "tool one\n"], tags: ["v1"])
        let second = try daemon.publish("octo/tools", files: ["tool.txt": "tool two\n", "more.txt": "more\n"])
        let repo = try GitProject()
        defer { repo.remove() }
        let head = repo.head
        let result = try await repo.run("""
            jobs:
              default:
                steps:
                  - uses: actions/checkout@v4
                    id: co
                    with: { repository: octo/tools, path: tools }
                  - run: |
                      echo "default=$(cat tools/tool.txt) branch=$(git -C tools rev-parse --abbrev-ref HEAD) count=$(git -C tools rev-list --count HEAD)"
                      echo "outputs=${{ steps.co.outputs.commit }} ${{ steps.co.outputs.ref }} origin=$(git -C tools remote get-url origin)"
                      echo "workspace=$(ls -A | tr '\\n' ' ')"
              tag:
                steps:
                  - uses: actions/checkout@v4
                    id: co
                    with: { repository: octo/tools, ref: v1 }
                  - run: echo "tag=$(cat tool.txt) described=$(git describe --tags) ref=${{ steps.co.outputs.ref }} files=$(ls | tr '\\n' ' ')"
              history:
                steps:
                  - uses: actions/checkout@v4
                    with: { repository: octo/tools, ref: main, fetch-depth: 0 }
                  - run: echo "history count=$(git rev-list --count HEAD) tags=$(git tag) status=[$(git status --porcelain)]"
              sha:
                steps:
                  - uses: actions/checkout@v4
                    with: { repository: octo/tools, ref: "\(first)", github-server-url: \(daemon.folder.path)/repositories }
                  - run: echo "sha=$(cat tool.txt) head=$(git rev-parse HEAD)"
              own:
                steps:
                  - uses: actions/checkout@v4
                    with: { repository: "${{ github.repository }}" }
                  - run: echo "own=$(cat version.txt) head=$(git rev-parse HEAD)"
            """, ["--actions-url", daemon.url])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let out = result.stdout
        for line in [
            "[default] default=tool two branch=main count=1\n",
            "[default] outputs=\(second) refs/heads/main origin=\(daemon.url)/octo/tools\n",
            // As on GitHub: a job with a checkout step gets the project only from a checkout of it.
            "[default] workspace=tools \n",
            "checked out octo/tools (its default branch) (1 commit deep) into 'tools': \(second)",
            "[tag] tag=tool one described=v1 ref=refs/tags/v1 files=tool.txt \n",
            "[history] history count=2 tags=v1 status=[]\n",
            "[sha] sha=tool one head=\(first)\n",
            "[own] own=two head=\(head)\n",
        ] {
            #expect(out.contains(line), "missing '\(line)' in:\n\(out)")
        }
        #expect(repo.leftovers().isEmpty)

        let missing = try await repo.run("""
            jobs:
              a:
                steps:
                  - uses: actions/checkout@v4
                    with: { repository: octo/missing }
              b:
                steps:
                  - uses: actions/checkout@v4
                    with: { repository: octo/tools, ref: nope }
              c:
                steps:
                  - uses: actions/checkout@v4
                    with: { repository: octo/tools, github-server-url: "https://robot:tok-9a8b7c@127.0.0.1:9" }
            """, ["--actions-url", daemon.url])
        #expect(missing.status == 1)
        #expect(missing.stdout.contains("cannot check out octo/missing from \(daemon.url)/octo/missing"), "\(missing.stdout)")
        #expect(missing.stdout.contains("ref 'nope' is not a branch or tag of octo/tools on \(daemon.url)"), "\(missing.stdout)")
        // A password in the server's address is in no message.
        let failed = missing.stdout.split(separator: "\n").filter { $0.contains("[c] error:") }
        #expect(failed.count == 1 && failed[0].contains("cannot check out octo/tools from https://127.0.0.1:9/octo/tools"), "\(missing.stdout)")
        #expect(!failed.joined().contains("tok-9a8b7c"), "\(failed)")
    }

    @Test("a login in a server's address (checkout's github-server-url, --actions-url) reaches git in its environment, for that server only, never on its command line")
    func loginNeverOnCommandLine() async throws {
        let repo = try GitProject()
        defer { repo.remove() }
        // A git in front of the real one that records its command line and the login variables.
        let record = repo.temp.path + "/git-calls"
        try repo.temp.write("bin/git", """
            #!/bin/sh
            printf 'ARGS %s\\n' "$*" >> \(record)
            env | grep '^GIT_CONFIG_' | sed 's/^/ENV /' >> \(record)
            exec /usr/bin/git "$@"
            """)
        chmod(repo.temp.path + "/bin/git", 0o755)
        let file = try repo.temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - uses: actions/checkout@v4
                    with: { repository: octo/tools, github-server-url: "https://robot:tok-9a8b7c@127.0.0.1:9" }
              b:
                steps:
                  - uses: acme/greet@v1
            """)
        let path = repo.temp.path + "/bin:" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        for arguments in [[file, "a"], [file, "b", "--actions-url", "https://robot:tok-9a8b7c@127.0.0.1:9"]] {
            let result = try await nixactions(["run"] + arguments + ["--log-format", "plain"], in: repo.project,
                                              environment: ["PATH": path, "TMPDIR": repo.tmp, "XDG_CACHE_HOME": repo.temp.path + "/cache",
                                                            "NIXACTIONS_ACTIONS_FETCH_SECONDS": "20"])
            #expect(result.status != 0, "no server there: \(result.stdout)\(result.stderr)")
            #expect(!(result.stdout + result.stderr).contains("tok-9a8b7c"), "\(result.stdout)\(result.stderr)")
        }
        let calls = try String(contentsOfFile: record, encoding: .utf8)
        let lines = calls.split(separator: "\n")
        #expect(lines.contains { $0.contains(" ls-remote ") && $0.contains("https://127.0.0.1:9/octo/tools") }, "\(calls)")
        #expect(lines.contains { $0.contains("https://127.0.0.1:9/acme/greet") }, "\(calls)")
        #expect(!lines.contains { $0.hasPrefix("ARGS") && ($0.contains("tok-9a8b7c") || $0.contains("robot")) }, "a login on git's command line:\n\(calls)")
        let header = "Authorization: Basic " + Data("robot:tok-9a8b7c".utf8).base64EncodedString()
        #expect(lines.contains("ENV GIT_CONFIG_KEY_0=http.https://127.0.0.1:9/.extraHeader"), "\(calls)")
        #expect(lines.contains { $0 == "ENV GIT_CONFIG_VALUE_0=" + header }, "\(calls)")
        #expect(repo.leftovers().isEmpty)
    }

    @Test("sparse-checkout: cone mode gives the root's files and the named folders, without it the patterns; git status clean; the same for another repository")
    func sparseCheckout() async throws {
        let daemon = try GitDaemon()
        defer { daemon.stop() }
        try daemon.publish("octo/tools", files: ["README": "r\n", "lib/a.txt": "a\n", "bin/b.txt": "b\n"])
        let repo = try GitProject()
        defer { repo.remove() }
        try repo.temp.write("project/src/app/main.txt", "main\n")
        try repo.temp.write("project/docs/guide.txt", "guide\n")
        try repo.temp.write("project/tests/t.txt", "t\n")
        try repo.git(["add", "-A"])
        try repo.commit("folders")
        let list = "echo \"$(find . -path ./.git -prune -o -type f -print | sort | tr '\\n' ' ')status=[$(git status --porcelain)]\""
        let result = try await repo.run("""
            jobs:
              cone:
                steps:
                  - uses: actions/checkout@v4
                    with:
                      sparse-checkout: |
                        src
                        docs
                  - run: \(list)
              patterns:
                steps:
                  - uses: actions/checkout@v4
                    with:
                      sparse-checkout: |
                        /*
                        !/docs/
                        !/tests/
                      sparse-checkout-cone-mode: false
                  - run: \(list)
              other:
                steps:
                  - uses: actions/checkout@v4
                    with: { repository: octo/tools, sparse-checkout: lib }
                  - run: \(list)
            """, ["--actions-url", daemon.url])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let out = result.stdout
        for line in [
            "[cone] ./.gitignore ./docs/guide.txt ./src/app/main.txt ./version.txt status=[]\n",
            "[patterns] ./.gitignore ./src/app/main.txt ./version.txt status=[]\n",
            "[other] ./README ./lib/a.txt status=[]\n",
            "checked out HEAD (1 commit deep), sparse: src docs into the workspace",
        ] {
            #expect(out.contains(line), "missing '\(line)' in:\n\(out)")
        }
        #expect(repo.leftovers().isEmpty)
    }

    @Test("lfs: true checks out Git LFS files with their contents (the project's, sparse, another repository's), git status clean; without it the pointers; an object missing fails naming the fix")
    func lfs() async throws {
        let daemon = try GitDaemon()
        defer { daemon.stop() }
        try daemon.publish("octo/assets", files: ["model.bin": "other weights\n", "README": "r\n", "big/huge.bin": "huge\n"], lfs: ["*.bin"])
        let repo = try GitProject()
        defer { repo.remove() }
        try repo.git(["lfs", "install", "--local"])
        try repo.git(["lfs", "track", "*.bin"])
        try repo.temp.write("project/data.bin", "weights v1\n")
        try repo.temp.write("project/docs/big.bin", "docs weights\n")
        try repo.temp.write("project/media/clip.bin", "clip\n")
        try repo.git(["add", "-A"])
        try repo.commit("lfs files")
        let workflow = """
            jobs:
              contents:
                steps:
                  - uses: actions/checkout@v4
                    with: { lfs: true }
                  - run: echo "data=$(cat data.bin) docs=$(cat docs/big.bin) status=[$(git status --porcelain)] hook=$(test -x .git/hooks/pre-push && echo pre-push)"
              pointers:
                steps:
                  - uses: actions/checkout@v4
                  - run: echo "pointer=$(head -1 data.bin) status=[$(git status --porcelain)]"
              sparse:
                steps:
                  - uses: actions/checkout@v4
                    with: { lfs: true, sparse-checkout: docs, sparse-checkout-cone-mode: true }
                  - run: echo "sparse=$(cat docs/big.bin) top=$(cat data.bin) media=$(ls media 2>/dev/null) status=[$(git status --porcelain)] objects=$(find .git/lfs/objects -type f | wc -l)"
              sparse-other:
                steps:
                  - uses: actions/checkout@v4
                    with: { repository: octo/assets, lfs: true, path: assets, sparse-checkout: docs }
                  - run: echo "other-sparse=$(ls assets | tr '\\n' ' ')objects=$(find assets/.git/lfs/objects -type f 2>/dev/null | wc -l)"
              other:
                steps:
                  - uses: actions/checkout@v4
                    with: { repository: octo/assets, lfs: true, path: assets }
                  - run: echo "other=$(cat assets/model.bin) status=[$(git -C assets status --porcelain)]"
            """
        let result = try await repo.run(workflow, ["--actions-url", daemon.folder.path + "/repositories"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        let out = result.stdout
        for line in [
            "[contents] data=weights v1 docs=docs weights status=[] hook=pre-push\n",
            "[pointers] pointer=version https://git-lfs.github.com/spec/v1 status=[]\n",
            // Cone mode has the files at the top too.
            // Only the LFS files it writes are fetched (media/clip.bin is not).
            "[sparse] sparse=docs weights top=weights v1 media= status=[] objects=2\n",
            "[sparse-other] other-sparse=README model.bin objects=1\n",
            "[other] other=other weights status=[]\n",
            "checked out HEAD (1 commit deep), with Git LFS files into the workspace",
        ] {
            #expect(out.contains(line), "missing '\(line)' in:\n\(out)")
        }
        #expect(repo.leftovers().isEmpty)

        // The project's own .git/lfs lacks an object (a clone made with GIT_LFS_SKIP_SMUDGE): the
        // step fails saying where the files come from and how to get them.
        try FileManager.default.removeItem(atPath: repo.project + "/.git/lfs/objects")
        let missing = try await repo.run("""
            jobs:
              a:
                steps:
                  - uses: actions/checkout@v4
                    with: { lfs: true }
            """)
        #expect(missing.status == 1, "\(missing.stdout)\(missing.stderr)")
        #expect(missing.stdout.contains("cannot fetch the Git LFS files of the checkout from the project's repository"), "\(missing.stdout)")
        #expect(missing.stdout.contains("hint: its LFS files come from the project's own .git/lfs: fetch them there first (git lfs fetch, in "),
                "\(missing.stdout)")
        #expect(repo.leftovers().isEmpty)
    }

    @Test("lfs: true in many jobs at once: each job's copy of the checkout succeeds though the clones share their LFS objects by hard links (tar failed with 'file changed as we read it')")
    func lfsConcurrent() async throws {
        let repo = try GitProject()
        defer { repo.remove() }
        try repo.git(["lfs", "install", "--local"])
        try repo.git(["lfs", "track", "*.bin"])
        // Objects big enough that reading them overlaps other jobs' clones linking them.
        let block = String(repeating: "0123456789abcdef", count: 8192)
        for index in 0..<24 { try repo.temp.write("project/data/\(index).bin", "\(index)\n" + block) }
        try repo.git(["add", "-A"])
        try repo.commit("lfs files")
        // Each depth is a clone of its own, and each clone links the project's LFS objects while
        // other jobs copy theirs (with tar, 2 runs in 5 failed on this machine).
        for _ in 0..<3 {
            let result = try await repo.run("""
                jobs:
                  copy:
                    strategy: { matrix: { depth: [1, 2, 3, 4, 5, 6, 7, 8] } }
                    steps:
                      - uses: actions/checkout@v4
                        with: { lfs: true, fetch-depth: "${{ matrix.depth }}" }
                      - run: echo "copy=$(head -qn1 data/*.bin | sort -n | tr '\\n' ' ')status=[$(git status --porcelain)]"
                """, ["-j", "8"])
            #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
            let expected = (0..<24).map(String.init).joined(separator: " ")
            #expect(result.stdout.components(separatedBy: "copy=\(expected) status=[]\n").count - 1 == 8, "\(result.stdout)")
            #expect(!result.stdout.contains("changed as we read it"), "\(result.stdout)")
            #expect(repo.leftovers().isEmpty)
        }
    }

    @Test("clean: true (default) removes what earlier steps left; clean: false keeps it")
    func clean() async throws {
        let repo = try GitProject()
        defer { repo.remove() }
        let result = try await repo.run("""
            jobs:
              cleaned:
                steps:
                  - run: mkdir -p d && touch junk d/x ignored.txt && echo changed > version.txt
                  - uses: actions/checkout@v4
                  - run: echo "left=[$(ls -A | tr '\\n' ' ')] version=$(cat version.txt) status=[$(git status --porcelain --ignored | tr '\\n' ' ')]"
              kept:
                steps:
                  - run: touch junk
                  - uses: actions/checkout@v4
                    with: { clean: false }
                  - run: echo "status=[$(git status --porcelain | tr '\\n' ' ')] version=$(cat version.txt)"
            """)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[cleaned] left=[.git .gitignore version.txt ] version=two status=[]\n"))
        #expect(result.stdout.contains("[kept] status=[?? junk ] version=two\n"))

        // A path that climbs out, or passes through a symbolic link, is refused; nothing outside is touched.
        try repo.temp.write("outside/keep.txt", "keep\n")
        let refused = try await repo.run("""
            jobs:
              climbs:
                steps:
                  - uses: actions/checkout@v4
                    with: { path: ../x }
              linked:
                steps:
                  - run: ln -s \(repo.temp.path)/outside out
                  - uses: actions/checkout@v4
                    with: { path: out/app }
            """)
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("actions/checkout: path '../x' leads outside the workspace"), "\(refused.stdout)")
        #expect(refused.stdout.contains("out is a symbolic link"), "\(refused.stdout)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: repo.temp.path + "/outside") == ["keep.txt"])
    }

    @Test("artifacts.keep of the workspace holds its files, not the .git the checkout put there (a path in .git is kept as named)")
    func artifactsLeaveGitOut() async throws {
        let repo = try GitProject()
        defer { repo.remove() }
        let result = try await repo.run("""
            jobs:
              make:
                artifacts: { keep: [., .git/HEAD] }
                steps:
                  - run: mkdir -p dist/inner && echo built > dist/out.txt && git init -q dist/inner
              use:
                needs: make
                artifacts: { restore: [ { job: make, path: got } ] }
                steps:
                  - run: |
                      for p in got/.git/objects got/.git/HEAD got/dist/inner/.git got/dist/out.txt got/version.txt; do
                        if [ -e "$p" ]; then echo "has $p"; else echo "no $p"; fi
                      done
            """)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        for line in ["no got/.git/objects", "has got/.git/HEAD", "no got/dist/inner/.git", "has got/dist/out.txt", "has got/version.txt"] {
            #expect(result.stdout.contains("[use] \(line)\n"), "\(result.stdout)")
        }
    }

    @Test("submodules: true checks out the project's submodule (from the project's own copy); without it the folder is empty")
    func submodules() async throws {
        let repo = try GitProject()
        defer { repo.remove() }
        let library = repo.temp.path + "/library", inner = repo.temp.path + "/inner"
        for folder in [library, inner] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            try repo.git(["init", "--quiet", "--initial-branch=main"], in: folder)
        }
        try repo.temp.write("inner/inner.txt", "from the inner library\n")
        try repo.git(["add", "inner.txt"], in: inner)
        try repo.commit("inner", in: inner)
        try repo.temp.write("library/lib.txt", "from the library\n")
        try repo.git(["add", "lib.txt"], in: library)
        try repo.git(["-c", "protocol.file.allow=always", "submodule", "--quiet", "add", inner, "inner"], in: library)
        try repo.commit("library", in: library)
        try repo.git(["-c", "protocol.file.allow=always", "submodule", "--quiet", "add", library, "libs/library"])
        try repo.git(["-c", "protocol.file.allow=always", "submodule", "--quiet", "update", "--init", "--recursive"])
        try repo.commit("add the library")
        // The submodules' own repositories go: only the project's copies of them are left.
        try FileManager.default.removeItem(atPath: library)
        try FileManager.default.removeItem(atPath: inner)
        let result = try await repo.run("""
            jobs:
              with:
                steps:
                  - uses: actions/checkout@v4
                    with: { submodules: true }
                  - run: echo "lib=$(cat libs/library/lib.txt) status=[$(git status --porcelain)] sub=$(git submodule status | cut -c1)"
              recursive:
                steps:
                  - uses: actions/checkout@v4
                    with: { submodules: recursive }
                  - run: echo "inner=$(cat libs/library/inner/inner.txt) status=[$(git status --porcelain)]"
              without:
                steps:
                  - uses: actions/checkout@v4
                  - run: echo "empty=[$(ls -A libs/library)]"
            """)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[with] lib=from the library status=[] sub= \n"))
        #expect(result.stdout.contains("[without] empty=[]\n"))
        #expect(result.stdout.contains("[recursive] inner=from the inner library status=[]\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[with] lib=from the library"))
    }

    @Test("a checkout whose git waits on the network ends with the job's time limit, and its git processes with the run")
    func stuckSubmoduleFetch() async throws {
        let repo = try GitProject()
        defer { repo.remove() }
        let server = try SilentServer()
        defer { server.close() }
        let port = server.port
        // A submodule the project has no copy of: git fetches it from the server.
        try repo.temp.write("project/.gitmodules", "[submodule \"sub\"]\n\tpath = sub\n\turl = http://127.0.0.1:\(port)/sub.git\n")
        try repo.git(["update-index", "--add", "--cacheinfo", "160000,\(repo.head),sub"])
        try repo.git(["add", ".gitmodules"])
        try repo.commit("a submodule on a server that never answers")
        let result = try await repo.run("""
            jobs:
              a:
                timeout: 4s
                steps:
                  - uses: actions/checkout@v4
                    with: { submodules: true }
            """)
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.seconds < 30, "the job's time limit did not end the checkout: \(result.seconds) s")
        #expect(result.stdout.contains("timed out") || result.stdout.contains("time limit"), "\(result.stdout)")
        // Nothing of git is left talking to the server.
        let left = await livePids(after: .seconds(3)) { $0.contains("127.0.0.1:\(port)") }
        #expect(left.isEmpty, "git processes outlived the run: \(left)")
        for pid in left { kill(pid, SIGKILL) }
        #expect(repo.leftovers().isEmpty)
    }

    @Test("a checkout of a repository on a git:// server that never answers ends with the step's own time limit (timeout-minutes), not the job's; the always() step after it runs (audit 60 hangs H1)")
    func stepLimitOnCheckout() async throws {
        let repo = try GitProject()
        defer { repo.remove() }
        let server = try SilentServer()
        defer { server.close() }
        let port = server.port
        let result = try await repo.run("""
            jobs:
              a:
                timeout-minutes: 2
                steps:
                  - uses: actions/checkout@v4
                    timeout-minutes: 0.05
                    with: { repository: octo/tools, github-server-url: "git://127.0.0.1:\(port)", path: tools }
                  - if: always()
                    run: echo after
            """)
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.seconds < 30, "the step's time limit did not end the checkout: \(result.seconds) s")
        #expect(result.stdout.contains("step 'actions/checkout@v4' timed out after 3s"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] after\n"), "\(result.stdout)")
        let left = await livePids(after: .seconds(3)) { $0.contains("127.0.0.1:\(port)") }
        #expect(left.isEmpty, "git processes outlived the run: \(left)")
        for pid in left { kill(pid, SIGKILL) }
        #expect(repo.leftovers().isEmpty)

        // Without a time limit of the step's: git's question to the server has one of its own
        // (120 s, NIXACTIONS_GIT_ASK_SECONDS; audit 60 hangs M1: it waited for the job's 6 hours).
        let asked = try await repo.run("""
            jobs:
              a:
                steps:
                  - uses: actions/checkout@v4
                    with: { repository: octo/tools, github-server-url: "git://127.0.0.1:\(port)", path: tools }
            """, environment: ["NIXACTIONS_GIT_ASK_SECONDS": "2"])
        #expect(asked.status == 1 && asked.seconds < 30, "\(asked.seconds) s: \(asked.stdout)\(asked.stderr)")
        #expect(asked.stdout.contains("git ls-remote did not finish within 2 s: the server took the connection and did not answer"), "\(asked.stdout)")
    }

    @Test("a project that is not a git repository is copied as before, without .git; checkout says so")
    func notRepository() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("project/file.txt", "plain\n")
        let path = try temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - uses: actions/checkout@v4
                  - run: echo "files=$(ls -A | tr '\\n' ' ')"; (git rev-parse HEAD 2>&1 || true) | head -1
            """)
        let result = try await nixactions(["run", path, "--log-dir", temp.path + "/logs", "--log-format", "plain"], in: temp.path + "/project",
                                    environment: ["GIT_CEILING_DIRECTORIES": temp.path])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[a] files=file.txt \n"))
        #expect(result.stdout.contains("not a git repository"))
        #expect(!result.stderr.contains("uncommitted"))
    }

    @Test("a repository without a commit: jobs get its working tree, with a note")
    func noCommitYet() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("project/file.txt", "new\n")
        _ = try await runCommand(URL(fileURLWithPath: "/usr/bin/git"), ["init", "--quiet", temp.path + "/project"])
        let path = try temp.write("wf.yml", "jobs:\n  a:\n    steps:\n      - run: echo \"files=$(ls -A | tr '\\n' ' ') $(git status --porcelain)\"\n")
        let result = try await nixactions(["run", path, "--log-dir", temp.path + "/logs", "--log-format", "plain"], in: temp.path + "/project")
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        // .nixactions is there (the working tree as it is), without the runner's own files in it.
        #expect(result.stdout.contains("[a] files=.git .nixactions file.txt  ?? file.txt\n"), "\(result.stdout)")
        #expect(result.stderr.contains("the project's git repository has no commit yet; jobs get its working tree"))
    }

    @Test("validate: unknown inputs, values checkout reads otherwise than they look, a repository checkout would refuse, credentials and filter (not used) are warnings, each once at its line; lfs, persist-credentials: false and the default token none")
    func validateInputs() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let path = try temp.write("wf.yml", """
            jobs:
              a:
                steps:
                  - uses: actions/checkout@v4
                    with:
                      token: abc
                      lfs: true
                      filter: blob:none
                      fetch-depth: -1
                      submodules: maybe
                      repository: other
                      fetch-dept: 2
                      ref: ${{ github.ref }}
                  - uses: actions/checkout@v4
                    with:
                      persist-credentials: false
                      token: ${{ secrets.GITHUB_TOKEN }}
                  - uses: actions/checkout@v4
                    with: { token: "${{ github.token }}", persist-credentials: true }
            """)
        let result = try await nixactions(["validate", path], in: temp.path)
        // Warnings only: what GitHub accepts is valid.
        #expect(result.status == 0)
        let text = result.stderr
        #expect(text.contains("wf.yml:6:18: warning: actions/checkout input 'token' is not used"), "\(text)")
        #expect(!text.contains("wf.yml:7:"), "\(text)")
        #expect(text.contains("wf.yml:8:19: warning: actions/checkout input 'filter' is not used: the checkout holds every object of the fetched commits"), "\(text)")
        // What actions/checkout reads otherwise than it looks: a warning saying how it reads it.
        #expect(text.contains("wf.yml:9:24: warning: actions/checkout: fetch-depth '-1' is read as 0 (all history and tags)"), "\(text)")
        #expect(text.contains("wf.yml:10:23: warning: actions/checkout: submodules 'maybe' is none of false, true and recursive: it is read as false"), "\(text)")
        #expect(text.contains("wf.yml:11:23: warning: actions/checkout: repository 'other' is not OWNER/REPO; the step fails if it runs"), "\(text)")
        #expect(text.contains("wf.yml:12:23: warning: actions/checkout declares no input 'fetch-dept' (it is ignored, as on GitHub, with this warning)"), "\(text)")
        #expect(text.contains("did you mean 'fetch-depth'?"))
        #expect(!text.contains("'ref'"))
        #expect(text.components(separatedBy: "'token'").count == 2)
        // What NixActions does anyway (no credential persisted, the run's own token) is no warning.
        #expect(!text.contains("wf.yml:16:") && !text.contains("wf.yml:17:") && !text.contains("wf.yml:19:22"), "\(text)")
        #expect(text.contains("wf.yml:19:68: warning: actions/checkout input 'persist-credentials' is not used"), "\(text)")
    }
}

extension RealExecutorSuites.OCIExecutorTests {
    @Test("oci: the container's workspace is the same git repository (HEAD, one commit, .git), by default and with actions/checkout")
    func checkoutInContainer() async throws {
        let podman = try await offThePool { try PodmanFixture.ready() }
        let repo = try GitProject()
        defer { repo.remove() }
        let head = repo.head
        let result = try await nixactions(
            ["run", try repo.temp.write("wf.yml", """
                jobs:
                  plain:
                    container: \(Self.container)
                    steps:
                      - run: echo "head=$(cat .git/HEAD) shallow=$(cat .git/shallow) files=$(ls -A | tr '\\n' ' ')"
                  checkout:
                    container: \(Self.container)
                    steps:
                      - uses: actions/checkout@v4
                        with: { path: app, ref: feature }
                      - run: echo "head=$(cat app/.git/HEAD) files=$(ls -A app | tr '\\n' ' ')"
                """), "--log-dir", repo.temp.path + "/logs", "--log-format", "plain"],
            in: repo.project, environment: podman.environment.merging(["TMPDIR": repo.tmp]) { _, new in new })
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[plain] head=ref: refs/heads/main shallow=\(head) files=.git .gitignore version.txt \n"))
        #expect(result.stdout.contains("[checkout] head=ref: refs/heads/feature files=.git .gitignore feature.txt version.txt \n"))
        #expect(try podman.containers().isEmpty)
        #expect(repo.leftovers().isEmpty)
    }
}

extension RealExecutorSuites.SSHExecutorTests {
    @Test("ssh: the remote workspace is the same git repository, by default (the tar stream) and with actions/checkout (the files interface)")
    func checkoutOverSSH() async throws {
        let server = try await offThePool { try SSHServer() }
        defer { server.stop() }
        let repo = try GitProject()
        defer { repo.remove() }
        let remote = repo.temp.path + "/remote"
        try FileManager.default.createDirectory(atPath: remote, withIntermediateDirectories: true)
        let head = repo.head
        let feature = try repo.git(["rev-parse", "feature"])
        let executor = Self.executor([server], workdir: remote)
        let result = try await repo.run("""
            jobs:
              plain:
                executor: \(executor)
                steps:
                  - run: echo "head=$(git rev-parse HEAD) count=$(git rev-list --count HEAD) status=[$(git status --porcelain)] at=${PWD#\(remote)/}"
              checkout:
                executor: \(executor)
                steps:
                  - run: mkdir -p app && touch app/junk
                  - uses: actions/checkout@v4
                    with: { path: app, ref: feature, fetch-depth: 0 }
                  - run: echo "head=$(git -C app rev-parse HEAD) count=$(git -C app rev-list --count HEAD) files=$(ls -A app | tr '\\n' ' ')"
            """)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[plain] head=\(head) count=1 status=[] at=nixactions-"), "\(result.stdout)")
        #expect(result.stdout.contains("[checkout] head=\(feature) count=3 files=.git .gitignore feature.txt version.txt \n"), "\(result.stdout)")
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: remote)) ?? ["?"]).isEmpty)
        #expect(repo.leftovers().isEmpty)
    }
}
