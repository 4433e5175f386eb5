import Foundation
@testable import NixActionsEngine
import Testing
import TestSupport

/// Remote actions (`uses: OWNER/REPO[/PATH]@REF`): fetched with git from a real `git daemon` on
/// 127.0.0.1 (`--actions-url`), kept in the user's cache, copied into each job that uses them.
@Suite("Remote actions")
struct RemoteActionTests {
    static let greet = """
        name: Greet
        inputs:
          who: { description: whom, default: world }
        outputs:
          said: { description: the text, value: "${{ steps.say.outputs.said }}" }
        runs:
          using: composite
          steps:
            - id: say
              shell: bash
              run: |
                "$GITHUB_ACTION_PATH/bin/greet.sh" "${{ inputs.who }}"
                echo "said=hello ${{ inputs.who }}" >> "$GITHUB_OUTPUT"
                echo "repo=$GITHUB_ACTION_REPOSITORY ref=$GITHUB_ACTION_REF context=${{ github.action_repository }}@${{ github.action_ref }}"
                echo "path=${GITHUB_ACTION_PATH#$RUNNER_TEMP/}"
                if [ -e "$GITHUB_ACTION_PATH/scribble" ]; then echo "scribble seen"; fi
                echo scribbled > "$GITHUB_ACTION_PATH/scribble"
        """

    static let files = [
        "action.yml": greet,
        "bin/greet.sh": "#!/bin/sh\necho \"hello $1 (version one)\"\n",
        // An action in a folder of the repository that uses another remote one and a local one.
        "tools/wrap/action.yml": """
            runs:
              using: composite
              steps:
                - uses: acme/greet@v1
                  with: { who: nested }
                - uses: ./local
                - run: ls "$GITHUB_ACTION_PATH/../.."
                  shell: bash
            """,
        "legacy/action.yml": "name: D\nruns:\n  using: node8\n  main: index.js\n",
        "broken/action.yml": "runs:\n  using: composite\n  steps:\n    - run: echo ${{ nope( }}\n      shell: bash\n",
    ]

    static let localAction = "runs:\n  using: composite\n  steps:\n    - run: echo local action ran\n      shell: bash\n"

    static func run(_ workflow: String, daemon: String, cache: String, extra: [String] = [], in project: TemporaryDirectory) async throws -> CommandResult {
        let file = try project.write("wf.yml", workflow)
        return try await nixactions(["run", file, "--actions-url", daemon, "--log-format", "plain", "--log-dir", project.path + "/logs"] + extra,
                                    in: project.path, environment: ["XDG_CACHE_HOME": cache])
    }

    @Test("a repository whose trees name each other (a git bomb: a million files from a few KB) is refused before its checkout, naming the limit (audit 51: checkout grew 250 MB a second)")
    func gitBomb() async throws {
        let daemon = try GitDaemon()
        defer { daemon.stop() }
        let bare = daemon.folder.path + "/repositories/acme/bomb.git"
        try FileManager.default.createDirectory(atPath: bare, withIntermediateDirectories: true)
        let made = try await runCommand(URL(fileURLWithPath: "/bin/sh"), ["-c", """
            set -e
            export GIT_DIR='\(bare)' GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@example.test GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@example.test
            git init -q --bare "$GIT_DIR"
            blob=$(printf 'x\\n' | git hash-object -w --stdin)
            tree=$(for i in 0 1 2 3 4 5 6 7 8 9; do printf '100644 blob %s\\tf%s\\n' "$blob" "$i"; done | git mktree)
            for level in 1 2 3 4 5; do
              tree=$(for i in 0 1 2 3 4 5 6 7 8 9; do printf '040000 tree %s\\td%s\\n' "$tree" "$i"; done | git mktree)
            done
            action=$(printf 'runs:\\n  using: composite\\n  steps: []\\n' | git hash-object -w --stdin)
            top=$(printf '100644 blob %s\\taction.yml\\n040000 tree %s\\tbomb\\n' "$action" "$tree" | git mktree)
            commit=$(echo bomb | git commit-tree "$top")
            git update-ref refs/tags/v1 "$commit"
            git update-ref refs/heads/main "$commit"
            """])
        #expect(made.status == 0, "\(made.stderr)")
        let project = try TemporaryDirectory()
        defer { project.remove() }
        let cache = project.path + "/cache"
        let result = try await Self.run("jobs:\n  a:\n    steps:\n      - uses: acme/bomb@v1\n", daemon: daemon.url, cache: cache, in: project)
        #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("the action 'acme/bomb@v1' is too large: its commit holds more than 200000 files"), "\(result.stderr)")
        #expect(result.seconds < 60, "took \(result.seconds) s")
    }

    @Test("a composite action by tag, branch, commit and folder: inputs, outputs, GITHUB_ACTION_*, nested remote and local actions, each job's own copy")
    func runsRemoteCompositeActions() async throws {
        let daemon = try GitDaemon()
        defer { daemon.stop() }
        let commit = try daemon.publish("acme/greet", files: Self.files, tags: ["v1"])
        let project = try TemporaryDirectory()
        defer { project.remove() }
        try project.write("local/action.yml", Self.localAction)
        let cacheFolder = try TemporaryDirectory()
        defer { cacheFolder.remove() }
        let cache = cacheFolder.path
        let result = try await Self.run("""
            on: push
            jobs:
              a:
                runs-on: ubuntu-latest
                steps:
                  - id: g
                    uses: acme/greet@v1
                    with: { who: you }
                  - run: echo "output=${{ steps.g.outputs.said }}"
                  - uses: acme/greet/tools//wrap@main
                  - uses: acme/greet@\(commit)
              b:
                runs-on: ubuntu-latest
                steps:
                  - uses: acme/greet@v1
            """, daemon: daemon.url, cache: cache, in: project)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let out = result.stdout
        #expect(out.contains("[a] hello you (version one)"))
        #expect(out.contains("[a] output=hello you"))
        #expect(out.contains("[a] repo=acme/greet ref=v1 context=acme/greet@v1"))
        #expect(out.contains("[a] path=_actions/acme/greet/v1"))
        #expect(out.contains("[a] hello nested (version one)"), "the remote action used by the one in tools/wrap")
        #expect(out.contains("[a] local action ran"), "./local inside a remote action is the workspace's")
        #expect(out.contains("[a] tools"), "the action's whole repository is in the job")
        #expect(out.contains("[a] repo=acme/greet ref=\(commit) context=acme/greet@\(commit)"))
        #expect(out.contains("[b] hello world (version one)"))
        #expect(out.contains("the action 'acme/greet@v1' is commit \(commit)"))
        // One tree per commit in the cache, private, and what a job wrote into its copy is not in it.
        let kept = cache + "/nixactions/actions/127.0.0.1_\(daemon.port)/acme/greet"
        #expect(try FileManager.default.contentsOfDirectory(atPath: kept) == [commit])
        #expect(FileManager.default.fileExists(atPath: kept + "/\(commit)/bin/greet.sh"))
        #expect(!FileManager.default.fileExists(atPath: kept + "/\(commit)/scribble"))
        #expect(!FileManager.default.fileExists(atPath: kept + "/\(commit)/.git"))
        for folder in [cache + "/nixactions/actions", kept] {
            let mode = try #require(FileManager.default.attributesOfItem(atPath: folder)[.posixPermissions] as? Int)
            #expect(mode & 0o077 == 0, "\(folder) is private: \(String(mode, radix: 8))")
        }
        // A job's copy is its own: the nested use in job a sees what a's first use wrote there, job b does not.
        #expect(out.contains("[a] scribble seen"), "\(out)")
        #expect(!out.contains("[b] scribble seen"), "\(out)")
    }

    @Test("one run resolves at most NIXACTIONS_ACTIONS_MAX_REFS different refs (audit 51 L5: an action naming thousands held the run while loading)")
    func refsAreCapped() async throws {
        let daemon = try GitDaemon()
        defer { daemon.stop() }
        _ = try daemon.publish("acme/greet", files: Self.files, tags: ["v1", "v2", "v3"])
        let project = try TemporaryDirectory()
        defer { project.remove() }
        let cache = try TemporaryDirectory()
        defer { cache.remove() }
        let file = try project.write("wf.yml", """
            jobs:
              a:
                steps:
                  - uses: acme/greet@v1
                  - uses: acme/greet@v2
                  - uses: acme/greet@v1
                  - uses: acme/greet@v3
            """)
        func run(_ most: String) async throws -> CommandResult {
            try await nixactions(["run", file, "--actions-url", daemon.url, "--log-format", "plain", "--log-dir", project.path + "/logs"],
                                 in: project.path, environment: ["XDG_CACHE_HOME": cache.path, "NIXACTIONS_ACTIONS_MAX_REFS": most])
        }
        let capped = try await run("2")
        #expect(capped.status == 2, "\(capped.stdout)\n\(capped.stderr)")
        #expect(capped.stderr.contains("the run already uses 2 different remote action refs, the most one run may"), "\(capped.stderr)")
        #expect(capped.stderr.contains("NIXACTIONS_ACTIONS_MAX_REFS raises the limit"), "\(capped.stderr)")
        let enough = try await run("3")
        #expect(enough.status == 0, "\(enough.stdout)\n\(enough.stderr)")
    }

    @Test("a moved tag is fetched again, a kept commit is used without the server, and a server that is gone is an error at the step")
    func refsAreResolvedByEveryRun() async throws {
        let daemon = try GitDaemon()
        defer { daemon.stop() }
        let first = try daemon.publish("acme/greet", files: Self.files, tags: ["v1"])
        let project = try TemporaryDirectory()
        defer { project.remove() }
        let cacheFolder = try TemporaryDirectory()
        defer { cacheFolder.remove() }
        let cache = cacheFolder.path
        let workflow = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: acme/greet@REF\n"
        let one = try await Self.run(workflow.replacingOccurrences(of: "REF", with: "v1"), daemon: daemon.url, cache: cache, in: project)
        #expect(one.status == 0 && one.stdout.contains("(version one)"), "\(one.stdout)\n\(one.stderr)")

        var files = Self.files
        files["bin/greet.sh"] = "#!/bin/sh\necho \"hello $1 (version two)\"\n"
        let second = try daemon.publish("acme/greet", files: files, tags: ["v1"])
        let two = try await Self.run(workflow.replacingOccurrences(of: "REF", with: "v1"), daemon: daemon.url, cache: cache, in: project)
        #expect(two.status == 0 && two.stdout.contains("(version two)"), "\(two.stdout)\n\(two.stderr)")
        #expect(two.stdout.contains("is commit \(second)"))

        daemon.stop()
        let kept = try await Self.run(workflow.replacingOccurrences(of: "REF", with: first), daemon: daemon.url, cache: cache, in: project)
        #expect(kept.status == 0 && kept.stdout.contains("(version one)"), "a kept commit needs no server: \(kept.stdout)\n\(kept.stderr)")
        let gone = try await Self.run(workflow.replacingOccurrences(of: "REF", with: "v1"), daemon: daemon.url, cache: cache, in: project)
        #expect(gone.status == 2, "\(gone.stdout)\n\(gone.stderr)")
        #expect(gone.stderr.contains("wf.yml:6:15: error: cannot fetch the action 'acme/greet@v1' from \(daemon.url)/acme/greet"), "\(gone.stderr)")
        #expect(gone.stderr.contains("hint: check the repository's name"), "\(gone.stderr)")
        #expect(!gone.stdout.contains("==> job"), "nothing ran")
    }

    @Test("--actions-url that git cannot fetch from (another scheme, a folder that is not there) is a usage error up front; a failed fetch says git's reason in one line (audit 64 cli L14)")
    func actionsURLChecked() async throws {
        let project = try TemporaryDirectory()
        defer { project.remove() }
        try project.write("wf.yml", "jobs:\n  a:\n    steps:\n      - run: echo ran\n")
        for (url, said) in [("ftp://x", "--actions-url: 'ftp://x' is not a URL git fetches actions from (https, http, ssh, git or file), nor a folder"),
                            ("/nonexistent/repos", "--actions-url: '/nonexistent/repos' is not a folder")] {
            let refused = try await nixactions(["run", "wf.yml", "--actions-url", url], in: project.path)
            #expect(refused.status == 2 && refused.stderr.contains(said) && !refused.stdout.contains("ran"), "\(url): \(refused.stderr)")
        }
        let fromEnvironment = try await nixactions(["run", "wf.yml"], in: project.path, environment: ["NIXACTIONS_ACTIONS_URL": "ftp://x"])
        #expect(fromEnvironment.status == 2 && fromEnvironment.stderr.contains("NIXACTIONS_ACTIONS_URL: 'ftp://x' is not a URL git fetches"), "\(fromEnvironment.stderr)")
        // A folder of repositories without the action: git's reason, then the context and the hint, one line each.
        try FileManager.default.createDirectory(atPath: project.path + "/repos", withIntermediateDirectories: true)
        try project.write("remote.yml", "jobs:\n  a:\n    steps:\n      - uses: someone/nosuch-action@v1\n")
        let missing = try await nixactions(["run", "remote.yml", "--actions-url", "repos"], in: project.path)
        let lines = missing.stderr.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(missing.status == 2 && lines.count == 5, "\(missing.stderr)")
        #expect(lines.first?.hasPrefix("remote.yml:4:15: error: cannot fetch the action 'someone/nosuch-action@v1' from ") ?? false, "\(missing.stderr)")
        #expect(lines.first?.contains(": exited 128: fatal: ") ?? false, "\(missing.stderr)")
        #expect(lines.dropFirst().first == "  in workflow 'remote' › job 'a' › step 1" && (lines.dropFirst(2).first?.hasPrefix("  hint: ") ?? false), "\(missing.stderr)")
        #expect(RemoteActionStore.firstLine(of: "exited 128: remote: counting\nfatal: no such ref\n\nPlease make sure") == "exited 128: fatal: no such ref")
    }

    @Test("what cannot run is refused before any job starts, each at its step; validate and --dry-run fetch nothing")
    func problemsAreReportedAtTheStep() async throws {
        let daemon = try GitDaemon()
        defer { daemon.stop() }
        try daemon.publish("acme/greet", files: Self.files, tags: ["v1"])
        let project = try TemporaryDirectory()
        defer { project.remove() }
        let cacheFolder = try TemporaryDirectory()
        defer { cacheFolder.remove() }
        let cache = cacheFolder.path
        let workflow = """
            on: push
            jobs:
              a:
                runs-on: ubuntu-latest
                steps:
                  - run: echo must not run
                  - uses: acme/missing@v1
                  - uses: acme/greet@v9
                  - uses: acme/greet/nowhere@v1
                  - uses: acme/greet/broken@v1
              js:
                runs-on: ubuntu-latest
                steps:
                  - uses: acme/greet/legacy@v1
            """
        let result = try await Self.run(workflow, daemon: daemon.url, cache: cache, in: project)
        #expect(result.status == 2, "\(result.stdout)\n\(result.stderr)")
        let errors = result.stderr
        #expect(errors.contains("wf.yml:7:15: error: cannot fetch the action 'acme/missing@v1'"), "\(errors)")
        #expect(errors.contains("wf.yml:8:15: error: cannot fetch the action 'acme/greet@v9'"), "\(errors)")
        #expect(errors.contains("couldn't find remote ref v9"), "\(errors)")
        #expect(errors.contains("wf.yml:9:15: error: no action.yml, action.yaml or Dockerfile in 'nowhere' of acme/greet@v1"), "\(errors)")
        #expect(errors.contains("acme/greet@v1/broken/action.yml:4:"), "the action file's own position: \(errors)")
        #expect(errors.contains("wf.yml:14:15: warning: job 'js', step 1: the action 'acme/greet/legacy@v1' (runs.using: node8)"), "\(errors)")
        #expect(!result.stdout.contains("must not run"))
        // What could not be fetched left nothing in the cache; what was fetched is kept.
        let server = cache + "/nixactions/actions/127.0.0.1_\(daemon.port)"
        #expect(try FileManager.default.contentsOfDirectory(atPath: server + "/acme") == ["greet"])

        // A ref git would read as an option, or a name that climbs out, is not a reference at all (validate says so too).
        let malformed = try project.write("bad.yml", """
            jobs:
              a:
                steps:
                  - uses: acme/greet@--upload-pack=touch${IFS}/tmp/pwned
                  - uses: acme/greet/../other@v1
                  - uses: acme/greet@v1:refs/x
                  - uses: acme/greet@+v1
              called:
                uses: acme/wf/.github/workflows/called.yml@v1:refs/heads/evil
              forced:
                uses: acme/wf/.github/workflows/called.yml@+v1
            """)
        let refused = try await nixactions(["validate", malformed], in: project.path)
        #expect(refused.status == 2, "\(refused.stderr)")
        #expect(refused.stderr.contains("bad.yml:4:15: error: 'uses: acme/greet@--upload-pack=touch${IFS}/tmp/pwned': the ref '--upload-pack=touch${IFS}/tmp/pwned' starts with '-'"),
                "\(refused.stderr)")
        #expect(refused.stderr.contains("bad.yml:5:15: error: 'uses: acme/greet/../other@v1' is not an action reference: '..' cannot be a part"), "\(refused.stderr)")
        #expect(refused.stderr.contains("bad.yml:6:15: error: 'uses: acme/greet@v1:refs/x': 'v1:refs/x' is not a valid ref name: it holds ':'"), "\(refused.stderr)")
        // A leading '+' (git's forced refspec), and a reusable workflow's ref, are checked too (audit 51: both ran).
        #expect(refused.stderr.contains("bad.yml:7:15: error: 'uses: acme/greet@+v1': the ref '+v1' starts with '+'"), "\(refused.stderr)")
        #expect(refused.stderr.contains("bad.yml:9:11: error: 'uses: acme/wf/.github/workflows/called.yml@v1:refs/heads/evil': 'v1:refs/heads/evil' is not a valid ref name: it holds ':'"),
                "\(refused.stderr)")
        #expect(refused.stderr.contains("bad.yml:11:11: error: 'uses: acme/wf/.github/workflows/called.yml@+v1': the ref '+v1' starts with '+'"), "\(refused.stderr)")

        // Only the jobs a run runs are fetched: job js alone is refused for its node8 action.
        let js = try await Self.run(workflow, daemon: daemon.url, cache: cache, extra: ["js"], in: project)
        #expect(js.status == 2 && js.stderr.contains("runs.using: node8") && !js.stderr.contains("acme/missing"), "\(js.stderr)")

        // validate and --dry-run read no remote action (the server is not even asked).
        daemon.stop()
        let file = project.path + "/wf.yml"
        let validate = try await nixactions(["validate", file], in: project.path, environment: ["XDG_CACHE_HOME": cache])
        #expect(validate.status == 0, "\(validate.stderr)")
        #expect(validate.stderr.contains("wf.yml:7:15: note: the action 'acme/missing@v1' is fetched when a run starts"), "\(validate.stderr)")
        let dry = try await nixactions(["run", file, "--dry-run", "--actions-url", daemon.url], in: project.path, environment: ["XDG_CACHE_HOME": cache])
        #expect(dry.status == 0, "\(dry.stderr)")
    }

    /// A listening socket on 127.0.0.1 that never accepts: the kernel completes a connection and
    /// git waits for an answer that never comes. Close the descriptor when done.
    static func silentServer() throws -> (descriptor: Int32, port: UInt16) {
        let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw TestComponentError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var size = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(listener, $0, size) == 0 && getsockname(listener, $0, &size) == 0 }
        }
        guard bound, listen(listener, 8) == 0 else {
            close(listener)
            throw TestComponentError("cannot listen on 127.0.0.1: \(String(cString: strerror(errno)))")
        }
        return (listener, UInt16(bigEndian: address.sin_port))
    }

    @Test("a server that accepts the connection and never answers: the fetch is ended at its limit, an error at the step")
    func silentServerTimesOut() async throws {
        let (listener, port) = try Self.silentServer()
        defer { close(listener) }
        let project = try TemporaryDirectory()
        defer { project.remove() }
        let file = try project.write("wf.yml", "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: acme/greet@v1\n")
        let result = try await nixactions(["run", file, "--actions-url", "git://127.0.0.1:\(port)"], in: project.path,
                                          environment: ["XDG_CACHE_HOME": project.path + "/cache", "NIXACTIONS_ACTIONS_FETCH_SECONDS": "2"])
        #expect(result.status == 2, "\(result.stderr)")
        #expect(result.stderr.contains("wf.yml:6:15: error: cannot fetch the action 'acme/greet@v1'"), "\(result.stderr)")
        #expect(result.stderr.contains("git did not finish within 2s"), "\(result.stderr)")
        #expect(result.seconds < 20, "ended at the limit, not at git's own")
    }

    @Test("Ctrl-C while an action is fetched ends git and leaves no staging folder; exit 130")
    func interruptedFetch() async throws {
        let (listener, port) = try Self.silentServer()
        defer { close(listener) }
        let project = try TemporaryDirectory()
        defer { project.remove() }
        let file = try project.write("wf.yml", "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: acme/greet@v1\n")
        let log = try project.write("out.log", "")
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        defer { try? output.close() }
        let run = try launchNixactions(["run", file, "--actions-url", "git://127.0.0.1:\(port)"], in: project.path,
                                       environment: ["XDG_CACHE_HOME": project.path + "/cache", "NIXACTIONS_ACTIONS_FETCH_SECONDS": "60"], output: output)
        let folder = project.path + "/cache/nixactions/actions/127.0.0.1_\(port)/acme/greet"
        // git's command line, not the run's own (which names the URL too).
        let isGit: @Sendable (String) -> Bool = { $0.split(separator: " ").first?.hasSuffix("git") == true && ($0.contains("fetch") || $0.contains("ls-remote")) && $0.contains("127.0.0.1:\(port)") }
        let gitOfThisRun: @Sendable () -> [pid_t] = { livePids(where: isGit) }
        // Signalled once git is waiting on the server.
        let sent = await signalWhen(run, SIGINT, timeout: .seconds(30)) { !gitOfThisRun().isEmpty }
        #expect(sent != nil, "git never started")
        await waitForExit(run)
        #expect(run.terminationStatus == 130, "\((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
        #expect(await livePids(after: .seconds(5), where: isGit).isEmpty)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).isEmpty, "no staging folder is left")
    }

    @Test("a host killed with SIGKILL while an action is fetched (before any supervisor): git dies with it")
    func killedDuringFetch() async throws {
        let (listener, port) = try Self.silentServer()
        defer { close(listener) }
        let project = try TemporaryDirectory()
        defer { project.remove() }
        let file = try project.write("wf.yml", "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: acme/greet@v1\n")
        let run = try launchNixactions(["run", file, "--actions-url", "git://127.0.0.1:\(port)"], in: project.path,
                                       environment: ["XDG_CACHE_HOME": project.path + "/cache", "NIXACTIONS_ACTIONS_FETCH_SECONDS": "120"])
        let isGit: @Sendable (String) -> Bool = { $0.split(separator: " ").first?.hasSuffix("git") == true && ($0.contains("fetch") || $0.contains("ls-remote")) && $0.contains("127.0.0.1:\(port)") }
        let sent = await signalWhen(run, SIGKILL, timeout: .seconds(30)) { !livePids(where: isGit).isEmpty }
        #expect(sent != nil, "git never started")
        await waitForExit(run)
        // Without it, git would wait on the silent server for the whole 120 s limit (nobody left to end it).
        let left = await livePids(after: .seconds(5), where: isGit)
        for pid in left { kill(pid, SIGKILL) }
        #expect(left.isEmpty, "git outlived the killed host")
    }

    @Test("a folder of repositories named relative to the project; a password in --actions-url is never shown; a link a step put where the action goes is refused")
    func foldersCredentialsAndLinks() async throws {
        let daemon = try GitDaemon()
        defer { daemon.stop() }
        try daemon.publish("acme/greet", files: Self.files, tags: ["v1"])
        let project = try TemporaryDirectory()
        defer { project.remove() }
        let cache = project.path + "/cache"
        // The daemon's folder of bare repositories, copied beside the workflow and named relatively.
        let copy = try runCommandBlocking(URL(fileURLWithPath: "/bin/cp"), ["-R", daemon.folder.path + "/repositories", project.path + "/mirror"])
        #expect(copy.status == 0)
        let relative = try await Self.run("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: acme/greet@v1\n",
                                          daemon: "mirror", cache: cache, in: project)
        #expect(relative.status == 0 && relative.stdout.contains("hello world (version one)"), "\(relative.stdout)\n\(relative.stderr)")

        let secret = "s3cr3t-\(getpid())"
        let hidden = try await Self.run("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: acme/none@v1\n",
                                        daemon: "https://token:\(secret)@127.0.0.1:9", cache: cache, in: project)
        #expect(hidden.status == 2, "\(hidden.stderr)")
        #expect(hidden.stderr.contains("cannot fetch the action 'acme/none@v1' from https://127.0.0.1:9/acme/none"), "\(hidden.stderr)")
        #expect(!(hidden.stdout + hidden.stderr).contains(secret), "\(hidden.stderr)")
        let kept = try FileManager.default.subpathsOfDirectory(atPath: cache)
        #expect(!kept.contains { $0.contains(secret) || $0.contains("token") }, "\(kept)")

        // A step makes the action's folder a link to a folder of its own choosing: the copy is refused, nothing written there.
        try FileManager.default.createDirectory(atPath: project.path + "/elsewhere", withIntermediateDirectories: true)
        let linked = try await Self.run("""
            on: push
            jobs:
              a:
                runs-on: ubuntu-latest
                steps:
                  - run: mkdir -p "$RUNNER_TEMP/_actions/acme/greet" && ln -s "\(project.path)/elsewhere" "$RUNNER_TEMP/_actions/acme/greet/v1"
                  - uses: acme/greet@v1
            """, daemon: daemon.url, cache: cache, in: project)
        #expect(linked.status == 1, "\(linked.stdout)\n\(linked.stderr)")
        #expect(linked.stdout.contains("exists already (a step made it) or is not a folder"), "\(linked.stdout)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: project.path + "/elsewhere").isEmpty)
    }

    @Test("an actions cache folder that others can write is refused")
    func cacheMustBePrivate() async throws {
        let project = try TemporaryDirectory()
        defer { project.remove() }
        let cacheFolder = try TemporaryDirectory()
        defer { cacheFolder.remove() }
        let cache = cacheFolder.path
        try FileManager.default.createDirectory(atPath: cache + "/nixactions/actions", withIntermediateDirectories: true)
        chmod(cache + "/nixactions/actions", 0o777)
        let result = try await Self.run("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: acme/greet@v1\n",
                                        daemon: "git://127.0.0.1:9", cache: cache, in: project)
        #expect(result.status == 2)
        #expect(result.stderr.contains("is writable by others") || result.stderr.contains("belongs to another user or is writable by others"), "\(result.stderr)")
    }

    @Test("kept trees no run used for NIXACTIONS_ACTIONS_KEEP_DAYS (30) are removed by a run that holds the cache alone, never while another run holds it")
    func prunesUnusedTrees() async throws {
        let daemon = try GitDaemon()
        defer { daemon.stop() }
        let commit = try daemon.publish("acme/greet", files: Self.files, tags: ["v1"])
        let project = try TemporaryDirectory()
        defer { project.remove() }
        let cacheFolder = try TemporaryDirectory()
        defer { cacheFolder.remove() }
        let cache = cacheFolder.path
        let workflow = "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: acme/greet@v1\n"
        let first = try await Self.run(workflow, daemon: daemon.url, cache: cache, in: project)
        #expect(first.status == 0, "\(first.stdout)\n\(first.stderr)")
        let root = cache + "/nixactions/actions"
        let server = root + "/127.0.0.1_\(daemon.port)"
        // Trees as earlier runs left them: last used 40, 40 (another repository) and 10 days ago;
        // a staging folder of a run that stopped 2 days ago; the used tree itself last used 20 days ago.
        let old = server + "/acme/greet/" + String(repeating: "a", count: 40)
        let otherRepository = server + "/zeta/tools/" + String(repeating: "b", count: 40)
        let recent = server + "/acme/greet/" + String(repeating: "c", count: 40)
        let staging = server + "/acme/greet/.staging-left"
        func age(_ path: String, days: Double) throws {
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -days * 86_400)], ofItemAtPath: path)
        }
        for (path, days) in [(old, 40.0), (otherRepository, 40), (recent, 10), (staging, 2)] {
            try FileManager.default.createDirectory(atPath: path + "/sub", withIntermediateDirectories: true)
            try "x".write(toFile: path + "/sub/file", atomically: false, encoding: .utf8)
            try age(path, days: days)
        }
        try age(server + "/acme/greet/" + commit, days: 20)
        func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

        // Another run holds the cache (shared): nothing is removed, and this run goes on.
        let held = open(root + "/.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        #expect(held >= 0 && flock(held, LOCK_SH) == 0)
        let beside = try await Self.run(workflow, daemon: daemon.url, cache: cache, in: project)
        close(held)
        #expect(beside.status == 0, "\(beside.stdout)\n\(beside.stderr)")
        #expect(exists(old) && exists(otherRepository) && exists(staging), "pruned while another run held the cache")

        // Alone: what no run used for 30 days goes, with the folders it leaves empty; the tree this run uses stays, marked as used now.
        let alone = try await Self.run(workflow, daemon: daemon.url, cache: cache, in: project)
        #expect(alone.status == 0, "\(alone.stdout)\n\(alone.stderr)")
        #expect(!exists(old) && !exists(staging), "\((try? FileManager.default.contentsOfDirectory(atPath: server + "/acme/greet")) ?? [])")
        #expect(!exists(server + "/zeta"), "the emptied repository and owner folders are removed too")
        #expect(exists(recent) && exists(server + "/acme/greet/" + commit + "/action.yml"))
        let used = try #require(FileManager.default.attributesOfItem(atPath: server + "/acme/greet/" + commit)[.modificationDate] as? Date)
        #expect(Date().timeIntervalSince(used) < 3_600, "the used tree was not marked: \(used)")

        // A shorter keep: the tree used 10 days ago goes; the one just used stays.
        let file = try project.write("wf.yml", workflow)
        let short = try await nixactions(["run", file, "--actions-url", daemon.url, "--log-format", "plain"], in: project.path,
                                         environment: ["XDG_CACHE_HOME": cache, "NIXACTIONS_ACTIONS_KEEP_DAYS": "5"])
        #expect(short.status == 0, "\(short.stdout)\n\(short.stderr)")
        #expect(!exists(recent) && exists(server + "/acme/greet/" + commit))
    }
}
