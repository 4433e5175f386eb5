import Foundation
import Testing
import TestSupport

@Suite("Every example in examples/ runs as documented")
struct ExamplesTests {
    @Test("examples/01-basic: lint and test, then package")
    func basic() async throws {
        let result = try await nixactions(["run", "examples/01-basic/workflow.yml"], in: packageDirectory.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[lint] hello from lint\n"))
        #expect(result.stdout.contains("[test] running tests in workspace\n"))
        #expect(result.stdout.contains("[test] tests said ok\n"))
        #expect(result.stdout.contains("[package] packaging app.tar after lint and test\n"))
        #expect(result.stdout.contains("==> workflow 'basic' succeeded in "))
        #expect(result.stdout.hasSuffix("\n") && result.stdout.contains("\nlogs: .nixactions/runs/"))
    }

    @Test("examples/14-checkout: a step runs git in the workspace (HEAD, one commit, clean); actions/checkout with path and fetch-depth, a sparse one, one with lfs")
    func checkout() async throws {
        let result = try await nixactions(["run", "examples/14-checkout/workflow.yml", "--log-format", "plain"], in: packageDirectory.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains(": 1 commit deep, 0 changes\n"))
        #expect(result.stdout.contains("[describe] examples/14-checkout/workflow.yml\n"))
        #expect(result.stdout.contains("[history] src holds "))
        #expect(result.stdout.contains(".git included: yes\n"))
        #expect(result.stdout.contains("[sparse] examples holds: 14-checkout \n"), "\(result.stdout)")
        #expect(result.stdout.contains("[lfs] Git LFS filter is git-lfs filter-process\n"), "\(result.stdout)")
    }

    @Test("examples/03-matrix: cross product minus exclude plus include")
    func matrix() async throws {
        let result = try await nixactions(["run", "examples/03-matrix/workflow.yml"], in: packageDirectory.path)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        let tested = Set(lines.filter { $0.contains("] testing ") }.map { $0.components(separatedBy: "] ").last ?? "" })
        #expect(tested == ["testing linux v1 experimental=false", "testing linux v2 experimental=false",
                           "testing bsd v2 experimental=false", "testing linux v3 experimental=true"], "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[report] all success\n"))
        // The deploys share a concurrency group: the second waited for the first, both ran.
        #expect(result.stdout.contains("[deploy-target-production] waiting: 'deploy (target: staging)' of concurrency group 'deploy-"), "\(result.stdout)")
        let staged = try #require(result.stdout.range(of: "[deploy-target-staging] deploying to staging\n"))
        let produced = try #require(result.stdout.range(of: "[deploy-target-production] deploying to production\n"))
        #expect(staged.upperBound <= produced.lowerBound)
    }

    @Test("examples/03-matrix/from-needs.yml: a matrix made from an earlier job's output, expanded when that job has finished")
    func matrixFromNeeds() async throws {
        let result = try await nixactions(["run", "examples/03-matrix/from-needs.yml"], in: packageDirectory.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("job 'build': matrix of 3 from its needs"))
        for line in ["building api (0 of 3) bundle=false", "building web (1 of 3) bundle=true", "building cli (2 of 3) bundle=false"] {
            #expect(result.stdout.contains(line), "missing '\(line)' in:\n\(result.stdout)")
        }
    }

    @Test("examples/15-defaults: retry inherited from the job, --env over the workflow's env")
    func defaults() async throws {
        let result = try await nixactions(["run", "examples/15-defaults/workflow.yml", "--env", "BRANCH=main"], in: packageDirectory.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[build] download attempt 3\n"))
        #expect(result.stdout.contains("[deploy] deploying main\n"))
        let plain = try await nixactions(["run", "examples/15-defaults/workflow.yml"], in: packageDirectory.path)
        #expect(plain.stdout.contains("[deploy] not deploying develop\n"))
    }

    @Test("examples/17-remote-actions: a remote composite action and one in a folder of its repository, and a checkout of that repository, from a git daemon and from a folder")
    func remoteActions() async throws {
        let daemon = try GitDaemon()
        defer { daemon.stop() }
        let source = packageDirectory.path + "/examples/17-remote-actions/greet"
        var files: [String: String] = [:]
        for case let relative as String in FileManager.default.enumerator(atPath: source)! {
            var isFolder: ObjCBool = false
            if FileManager.default.fileExists(atPath: source + "/" + relative, isDirectory: &isFolder), !isFolder.boolValue {
                files[relative] = try String(contentsOfFile: source + "/" + relative, encoding: .utf8)
            }
        }
        #expect(files.keys.sorted() == ["action.yml", "bin/greet.sh", "shout/action.yml"])
        try daemon.publish("nixactions-examples/greet", files: files, tags: ["v1"])
        let cache = try TemporaryDirectory()
        defer { cache.remove() }
        // From the daemon, then from its folder of bare repositories (OWNER/REPO.git), as the example's comment shows.
        for url in [daemon.url, daemon.folder.path + "/repositories"] {
            let result = try await nixactions(["run", "examples/17-remote-actions/workflow.yml", "--actions-url", url, "--log-format", "plain"],
                                              in: packageDirectory.path, environment: ["XDG_CACHE_HOME": cache.path])
            #expect(result.status == 0, "\(url): \(result.stderr)\n\(result.stdout)")
            for line in ["[hello] hello, remote actions (from nixactions-examples/greet@v1)\n", "[hello] the action said 'hello, remote actions'\n",
                         "[hello] HELLO, REMOTE ACTIONS\n", "[other] checked out refs/tags/v1: action.yml bin shout \n"] {
                #expect(result.stdout.contains(line), "\(url): missing '\(line)' in:\n\(result.stdout)")
            }
        }
    }

    @Test("examples/18-javascript-actions: JavaScript actions with inputs (one with '-' in its name), outputs, GITHUB_ENV, and a post script that reads the state main saved")
    func javaScriptActions() async throws {
        let logs = NSTemporaryDirectory() + "nxa-example18-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: logs) }
        let result = try await nixactions(["run", "workflow.yml", "--log-format", "plain", "--log-dir", logs],
                                          in: packageDirectory.path + "/examples/18-javascript-actions")
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        for line in ["[release] stopwatch 'release' started\n", "[release] 1.4.2 + minor = 1.5.0-rc.1\n",
                     "[release] next version 1.5.0-rc.1 (NEXT_VERSION=1.5.0-rc.1)\n", "[release] > Post ./actions/stopwatch\n"] {
            #expect(result.stdout.contains(line), "missing '\(line)' in:\n\(result.stdout)")
        }
        let post = try #require(result.stdout.range(of: "next version 1.5.0-rc.1"))
        #expect(result.stdout[post.upperBound...].contains("[release] stopwatch 'release' stopped after the job's steps ("), "\(result.stdout)")
    }

    @Test("examples/16-composite-actions: local composite actions with inputs, outputs, GITHUB_ENV and a nested action, run from their folder")
    func compositeActions() async throws {
        let result = try await nixactions(["run", "workflow.yml", "--log-dir", NSTemporaryDirectory() + "nxa-example16-\(getpid())"],
                                          in: packageDirectory.path + "/examples/16-composite-actions")
        defer { try? FileManager.default.removeItem(atPath: NSTemporaryDirectory() + "nxa-example16-\(getpid())") }
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        for line in ["[build-target-linux] building app 1.4.0+linux (VERSION=1.4.0+linux)\n",
                     "[build-target-wasm] building app 1.4.0+wasm (VERSION=1.4.0+wasm)\n",
                     "[release] ==============\n[release] released 1.4.0\n[release] ==============\n", "[release] banner from banner\n",
                     "[release] > ./actions/notify › ./actions/banner\n"] {
            #expect(result.stdout.contains(line), "missing '\(line)' in:\n\(result.stdout)")
        }
        #expect(!result.stdout.contains("] the banner failed"))
        #expect(!result.stderr.contains("warning"), "\(result.stderr)")
        // From the repository's root the project is the root: the warning says where the action
        // is, and to run from there (audit 58 examples L8: "check the path").
        let fromRoot = try await nixactions(["validate", "examples/16-composite-actions/workflow.yml"], in: packageDirectory.path)
        #expect(fromRoot.stderr.contains("warning: no action.yml, action.yaml or Dockerfile in './actions/version' of the project"), "\(fromRoot.stderr)")
        #expect(fromRoot.stderr.contains("'./actions/version' is in \(packageDirectory.path)/examples/16-composite-actions, the workflow file's folder: "
                                         + "run from there (cd \(packageDirectory.path)/examples/16-composite-actions)"), "\(fromRoot.stderr)")
    }

    @Test("examples/20-reusable-workflows: a build called per target and a deploy called with a secret; their outputs reach later jobs")
    func reusableWorkflows() async throws {
        let logs = NSTemporaryDirectory() + "nxa-example20-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: logs) }
        let result = try await nixactions(["run", ".github/workflows/ci.yml", "--secret", "DEPLOY_TOKEN=t0ken-value", "--log-dir", logs, "--log-format", "plain"],
                                          in: packageDirectory.path + "/examples/20-reusable-workflows")
        #expect(result.status == 0, "\(result.stderr)\n\(result.stdout)")
        for line in ["[build-target-linux-compile] compiling 2.1.0 for linux (optimize: true)\n",
                     "[build-target-wasm-test] testing app-2.1.0-wasm in job test\n",
                     "[deploy-upload] uploading 2.1.0 with token *** (dry run: true)\n",
                     "[announce] deployed https://releases.example.com/app/2.1.0 (success)\n",
                     "==> job 'build (target: wasm) / test' succeeded"] {
            #expect(result.stdout.contains(line), "missing '\(line)' in:\n\(result.stdout)")
        }
        #expect(!result.stdout.contains("t0ken-value"))
        #expect(!result.stderr.contains("warning"), "\(result.stderr)")
    }

    @Test("examples/04-conditions: failure allowed, always() job, cleanup step")
    func conditions() async throws {
        let result = try await nixactions(["run", "examples/04-conditions/workflow.yml"], in: packageDirectory.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[flaky] probe outcome=failure conclusion=success\n"))
        #expect(result.stdout.contains("[notify] flaky=success build=success\n"))
        #expect(result.stdout.contains("[notify] cleanup\n"))
        #expect(result.stdout.contains("flaky   success (failure allowed)  "))
        #expect(!result.stdout.contains("] never printed"))
        #expect(result.stdout.contains("[notify] - Run echo \"never printed, nothing failed in this job\" (skipped)\n"))
    }

    @Test("examples/05-artifacts: kept and restored under another path, upload and download")
    func artifacts() async throws {
        let result = try await nixactions(["run", "examples/05-artifacts/workflow.yml"], in: packageDirectory.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.components(separatedBy: "[deploy] app v1\n").count == 3)
    }

    @Test("examples/06-masking: the masked token reaches no output, log file or JSON event")
    func masking() async throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let logs = temp.path + "/logs"
        for format in ["plain", "json"] {
            let result = try await nixactions(["run", "examples/06-masking/workflow.yml", "--log-format", format, "--log-dir", logs],
                                        in: packageDirectory.path)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("deploying with ***"))
            #expect(result.stdout.range(of: "tok-[0-9]+-secret", options: .regularExpression) == nil)
            #expect(!result.stdout.contains("add-mask"))
        }
        let files = FileManager.default.enumerator(atPath: logs)?.allObjects as? [String] ?? []
        #expect(files.contains { $0.hasSuffix("events.jsonl") })
        for file in files {
            let text = (try? String(contentsOfFile: logs + "/" + file, encoding: .utf8)) ?? ""
            #expect(text.range(of: "tok-[0-9]+-secret", options: .regularExpression) == nil, "\(file) leaks the token")
        }
    }

    @Test("examples/07-plugin-functions: functions from the text plugin in expressions")
    func pluginFunctions() async throws {
        let result = try await nixactions(["run", "examples/07-plugin-functions/workflow.yml"], in: packageDirectory.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[release] tag V1.10.0 valid=true\n"))
        #expect(result.stdout.contains("[release] publishing 1.10.0 (coverage 87.5%)\n"))
    }

    @Test("examples/09-runners: labels choose the executor; Windows and macOS instances are skipped with the reason")
    func runners() async throws {
        let result = try await nixactions(["run", "examples/09-runners/workflow.yml", "--config", "examples/09-runners/config.yml",
                                     "--log-format", "plain"], in: packageDirectory.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[build] build ran on Linux ("))
        #expect(result.stdout.contains("[test-os-ubuntu-latest] tests ran for ubuntu-latest\n"))
        #expect(result.stdout.contains("[test-os-windows-latest] skipped: it runs on 'windows-latest' and this machine runs Linux"))
        #expect(result.stdout.contains("[test-os-macos-latest] skipped: it runs on 'macos-latest' and this machine runs Linux"))
        #expect(result.stdout.contains("[package] packaged on the build farm\n"))
        // Without the configuration, `build-farm` is a label no runner carries.
        let bare = try await nixactions(["run", "examples/09-runners/workflow.yml"], in: packageDirectory.path)
        #expect(bare.status == 2)
        #expect(bare.stderr.contains("examples/09-runners/workflow.yml:22:28: error: runs-on label 'build-farm' of job 'package' is not mapped to an executor"), "\(bare.stderr)")
    }

    @Test("examples/13-events-inputs: a push runs the push step; workflow_dispatch with typed inputs and a var deploys")
    func eventsInputs() async throws {
        let push = try await nixactions(["run", "examples/13-events-inputs/workflow.yml", "--log-format", "plain"], in: packageDirectory.path)
        #expect(push.status == 0, "\(push.stderr)")
        #expect(push.stdout.contains("[describe] event push of "))
        #expect(push.stdout.contains("head commit found=true\n"), "\(push.stdout)")
        #expect(push.stdout.contains("[describe] payload in $GITHUB_EVENT_PATH\n"))
        #expect(push.stdout.contains("[deploy] skipped: its 'if' is false"))
        let dispatch = try await nixactions(["run", "examples/13-events-inputs/workflow.yml", "--log-format", "plain", "--event", "workflow_dispatch",
                                       "--input", "environment=production", "--input", "dry-run=false", "--var", "REGION=eu-west-1"],
                                      in: packageDirectory.path)
        #expect(dispatch.status == 0, "\(dispatch.stderr)")
        #expect(dispatch.stdout.contains("[deploy] deploying to production in eu-west-1 with 2 replicas (dry run false)\n"), "\(dispatch.stdout)")
        #expect(dispatch.stdout.contains("[deploy] not a dry run, 2 replicas up\n"))
        let wrong = try await nixactions(["run", "examples/13-events-inputs/workflow.yml", "--input", "environment=moon"], in: packageDirectory.path)
        #expect(wrong.status == 2)
        #expect(wrong.stderr.contains("'moon' is not one of the options (staging, production)"), "\(wrong.stderr)")
    }

    @Test("examples/21-concurrency: a deploy runs; a newer preview deploy cancels the one in progress, whose roll-back step runs")
    func concurrency() async throws {
        let logs = NSTemporaryDirectory() + "nxa-example21-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: logs) }
        func deploy(_ environment: String, seconds: Int) async throws -> CommandResult {
            let arguments = ["run", "examples/21-concurrency/workflow.yml", "--log-format", "plain", "--log-dir", logs, "--event", "workflow_dispatch",
                             "--input", "environment=\(environment)"]
            let folder = packageDirectory.path
            // Without the tests' command slots: the two runs must be at once.
            return try await offThePool {
                try runCommandBlocking(nixactionsBinary, arguments, in: folder, environment: ["DEPLOY_SECONDS": String(seconds)])
            }
        }
        let staging = try await deploy("staging", seconds: 0)
        #expect(staging.status == 0, "\(staging.stderr)")
        #expect(staging.stdout.contains("[deploy] deployed to staging\n") && staging.stdout.contains("[deploy] - Roll back (skipped)"), "\(staging.stdout)")
        // The first preview deploy, until its step has started (its job log says so).
        async let first = deploy("preview", seconds: 60)
        var started = false
        for _ in 0..<1200 where !started {
            let runs = (try? FileManager.default.contentsOfDirectory(atPath: logs)) ?? []
            started = runs.contains { ((try? String(contentsOfFile: "\(logs)/\($0)/deploy.log", encoding: .utf8)) ?? "").contains("deploying to preview") }
            if !started { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(started, "the first preview deploy did not start")
        let second = try await deploy("preview", seconds: 0)
        let cancelled = try await first
        #expect(cancelled.status == 130, "\(cancelled.stdout)\(cancelled.stderr)")
        #expect(cancelled.stdout.contains("[deploy] deploy to preview cancelled, rolled back\n"), "\(cancelled.stdout)")
        #expect(cancelled.stdout.contains("the run is cancelled by a newer run of concurrency group 'deploy-preview'"), "\(cancelled.stdout)")
        #expect(!cancelled.stdout.contains("deployed to preview"), "\(cancelled.stdout)")
        #expect(second.status == 0 && second.stdout.contains("[deploy] deployed to preview\n"), "\(second.stdout)\(second.stderr)")
        #expect(second.stderr.contains("cancelling the run of concurrency group 'deploy-preview' in progress"), "\(second.stderr)")
    }
}
