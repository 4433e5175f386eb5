import Foundation
import NixActionsEngine
import NixActionsPluginMessages
import Testing

@Suite("Events: on: triggers, filter patterns, origins and inputs")
struct EventsTests {
    @Test("GitHub's filter pattern cheat sheet")
    func patterns() {
        let cases: [(String, String, Bool)] = [
            ("feature/*", "feature/my-branch", true), ("feature/*", "feature/your/branch", false),
            ("feature/**", "feature/your/branch", true), ("**", "releases/mona/the/octocat", true),
            ("*", "main", true), ("*", "releases/v1", false), ("main", "main", true), ("main", "mainly", false),
            ("v2*", "v2.0", true), ("v[12].[0-9]+.[0-9]+", "v1.10.1", true), ("v[12].[0-9]+.[0-9]+", "v3.0.0", false),
            ("*.jsx?", "page.js", true), ("*.jsx?", "page.jsx", true), ("*.js", "app/page.js", false),
            ("**.js", "app/page.js", true), ("docs/*", "docs/README.md", true), ("docs/*", "docs/a/b.md", false),
            ("docs/**", "docs/a/b.md", true), ("**/docs/**", "x/docs/y/z.md", true), ("**/README.md", "a/README.md", true),
            ("*/docs/*", "a/docs/b.md", true), ("*/docs/*", "docs/b.md", false), ("release-1.0", "release-1x0", false),
        ]
        for (pattern, text, expected) in cases {
            #expect(FilterPattern(pattern).matches(text) == expected, "\(pattern) vs \(text)")
        }
        // In order: a later `!` excludes what an earlier pattern included, and a later pattern includes again.
        #expect(FilterPattern.selects(["releases/**", "!releases/**-alpha"], "releases/1.0") == true)
        #expect(FilterPattern.selects(["releases/**", "!releases/**-alpha"], "releases/1.0-alpha") == false)
        #expect(FilterPattern.selects(["releases/**", "!releases/**-alpha", "releases/special-alpha"], "releases/special-alpha") == true)
    }

    @Test("origin URLs: https, ssh:// and scp-like forms, github.com and another host")
    func remotes() {
        let https = RemoteLocation.parse("https://github.com/octo/hello.git")
        #expect(https?.fullName == "octo/hello")
        #expect(https?.serverURL == "https://github.com" && https?.apiURL == "https://api.github.com"
                && https?.graphqlURL == "https://api.github.com/graphql")
        #expect(RemoteLocation.parse("git@github.com:octo/hello.git")?.fullName == "octo/hello")
        #expect(RemoteLocation.parse("ssh://git@github.com:22/octo/hello")?.fullName == "octo/hello")
        let enterprise = RemoteLocation.parse("ssh://git@git.example.com:2222/team/tool.git")
        #expect(enterprise?.owner == "team" && enterprise?.name == "tool")
        #expect(enterprise?.serverURL == "https://git.example.com" && enterprise?.apiURL == "https://git.example.com/api/v3"
                && enterprise?.graphqlURL == "https://git.example.com/api/graphql")
        #expect(RemoteLocation.parse("http://user@git.local:8080/a/b.git")?.serverURL == "http://git.local:8080")
        #expect(RemoteLocation.parse("/srv/git/a/b.git") == nil)
        #expect(RemoteLocation.parse("") == nil)
    }

    static func triggers(_ yaml: String) -> (WorkflowTriggers?, [Diagnostic]) {
        let result = WorkflowLoader.load(yaml: yaml + "\njobs:\n  a:\n    steps: [ { run: x } ]\n", file: "wf.yml")
        return (result.workflow?.triggers, result.diagnostics)
    }

    @Test("on: as a string, a list and a map; filters, types and inputs are read")
    func forms() throws {
        #expect(Self.triggers("on: push").0?.events.map(\.name) == ["push"])
        #expect(Self.triggers("on: [push, pull_request]").0?.events.map(\.name) == ["push", "pull_request"])
        let (map, diagnostics) = Self.triggers("""
            on:
              push:
                branches: [main, 'releases/**']
                paths-ignore: ['docs/**']
              pull_request:
                types: [opened, labeled]
              workflow_dispatch:
                inputs:
                  level: { type: choice, options: [low, high], default: low, required: true }
                  dry: { type: boolean }
              schedule:
                - cron: '0 5 * * *'
            """)
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        let push = try #require(map?.trigger("push"))
        #expect(push.branches?.map(\.value) == ["main", "releases/**"])
        #expect(push.branches?.first?.location?.line == 3)
        #expect(push.pathsIgnore?.map(\.value) == ["docs/**"])
        #expect(map?.trigger("pull_request")?.types?.map(\.value) == ["opened", "labeled"])
        #expect(map?.inputs.map(\.name) == ["level", "dry"])
        #expect(map?.inputs.first?.kind == .choice && map?.inputs.first?.required == true)
    }

    @Test("on: problems: a bad filter key is a warning (GitHub ignores it) with its position and hint, an unknown event an error, as GitHub refuses the file (audit 56 M3)")
    func problems() {
        let (_, diagnostics) = Self.triggers("""
            on:
              push:
                branch: [main]
              pul_request:
              workflow_dispatch:
                inputs:
                  size: { type: integer }
                  kind: { type: choice }
                  flag: { type: boolean, default: maybe }
            """)
        let messages = diagnostics.map { "\($0.severity) \($0.location.map { "\($0.line):\($0.column)" } ?? "") \($0.message) \($0.hint ?? "")" }
        #expect(messages.contains("warning 3:5 unknown key 'branch' in on.push is ignored (as GitHub ignores it) did you mean 'branches'?"), "\(messages)")
        #expect(messages.contains("error 4:3 'pul_request' is not an event GitHub knows did you mean 'pull_request'?"), "\(messages)")
        #expect(messages.contains { $0.hasPrefix("warning 7:21 unknown input type 'integer' for input 'size': it is read as a string") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("error 8:7 choice input 'kind' has no 'options'") }, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("error 9:39 default of input 'flag': 'maybe' is not a boolean") }, "\(messages)")
        let (_, both) = Self.triggers("on:\n  push:\n    branches: [main]\n    branches-ignore: [x]")
        #expect(both.map(\.message) == ["on.push has both 'branches' and 'branches-ignore'"])
    }

    @Test("the trigger check names the filter that would stop the event")
    func triggerCheck() throws {
        let (triggers, _) = Self.triggers("""
            on:
              push:
                branches: [main, 'releases/**', '!releases/**-alpha']
                paths: ['src/**']
              pull_request:
                branches: [main]
                types: [opened]
            """)
        func reason(_ event: TriggerCheck.Event) -> String? { TriggerCheck.reason(triggers, event) }
        #expect(reason(.init(name: "push", ref: "refs/heads/main", changedFiles: ["src/a.c"])) == nil)
        #expect(reason(.init(name: "push", ref: "refs/heads/releases/2-alpha"))?.contains("does not match on.push.branches") == true)
        #expect(reason(.init(name: "push", ref: "refs/heads/main", changedFiles: ["README.md"]))?.contains("on.push.paths (src/**)") == true)
        #expect(reason(.init(name: "push", ref: "refs/tags/v1"))?.contains("filters only branches") == true)
        #expect(reason(.init(name: "pull_request", ref: "refs/heads/main", action: "opened")) == nil)
        #expect(reason(.init(name: "pull_request", ref: "refs/heads/main", action: "closed"))?.contains("on.pull_request.types") == true)
        #expect(reason(.init(name: "pull_request", ref: "refs/heads/dev", action: "opened"))?.contains("base branch 'dev'") == true)
        #expect(reason(.init(name: "issues", ref: "refs/heads/main"))?.contains("does not listen to 'issues'") == true)
        #expect(TriggerCheck.reason(nil, .init(name: "issues", ref: "")) == nil)
        let (ignored, _) = Self.triggers("on:\n  push:\n    paths-ignore: ['docs/**', '!docs/keep.md']")
        #expect(TriggerCheck.reason(ignored, .init(name: "push", ref: "refs/heads/x", changedFiles: ["docs/a.md"]))?.contains("paths-ignore") == true)
        #expect(TriggerCheck.reason(ignored, .init(name: "push", ref: "refs/heads/x", changedFiles: ["docs/keep.md"])) == nil)
        // A skip directive in the head commit's message (audit 55 F5), for push and pull_request only.
        for (message, directive) in [("fix [skip ci]", "[skip ci]"), ("[ci skip] x", "[ci skip]"), ("a\n\n[no ci]", "[no ci]"),
                                     ("[skip actions]", "[skip actions]"), ("x [actions skip]", "[actions skip]"),
                                     ("fix\n\n\nskip-checks: true", "skip-checks: true"), ("fix\n\nskip-checks:true\n", "skip-checks:true")] {
            #expect(reason(.init(name: "push", ref: "refs/heads/main", changedFiles: ["src/a.c"], headMessage: message))
                == "its head commit's message says '\(directive)'", "\(message)")
            #expect(reason(.init(name: "pull_request", ref: "refs/heads/main", action: "opened", headMessage: message))?.contains(directive) == true)
        }
        for message in ["fix [skip-ci]", "[Skip CI]", "skip ci", "skip-checks: true\nmore", "skip-checks: false"] {
            #expect(reason(.init(name: "push", ref: "refs/heads/main", changedFiles: ["src/a.c"], headMessage: message)) == nil, "\(message)")
        }
        let (target, _) = Self.triggers("on: [pull_request_target, workflow_dispatch]")
        #expect(TriggerCheck.reason(target, .init(name: "pull_request_target", ref: "refs/heads/main", action: "opened", headMessage: "[skip ci]")) == nil)
        #expect(TriggerCheck.reason(target, .init(name: "workflow_dispatch", ref: "refs/heads/main", headMessage: "[skip ci]")) == nil)
    }

    @Test("inputs: typed values (a workflow_dispatch number is text, as GitHub keeps it; a workflow_call number a number, 0 when not given), strings for github.event.inputs, defaults, required, unknown and bad values")
    func inputs() throws {
        let (triggers, _) = Self.triggers("""
            on:
              workflow_dispatch:
                inputs:
                  level: { type: choice, options: [low, high], default: low }
                  dry: { type: boolean, default: true }
                  count: { type: number }
                  name: { required: true }
            """)
        let resolved = try InputValues.resolve([("count", "3"), ("name", "x"), ("DRY", "false")], triggers: triggers).get()
        #expect(resolved.typed["count"] == .string("3") && resolved.typed["dry"] == .bool(false) && resolved.typed["level"] == .string("low"))
        #expect(resolved.strings == ["count": "3", "name": "x", "dry": "false", "level": "low"])
        let (called, _) = Self.triggers("""
            on:
              workflow_call:
                inputs:
                  count: { type: number }
                  given: { type: number }
            """)
        let call = try InputValues.resolve([("given", "7")], triggers: called).get()
        #expect(call.typed["count"] == .number(0) && call.typed["given"] == .number(7), "\(call.typed)")
        func errors(_ given: [(name: String, value: String)]) -> [String] {
            guard case .failure(let problems) = InputValues.resolve(given, triggers: triggers) else { return [] }
            return problems.diagnostics.map { $0.message + ($0.hint.map { " | " + $0 } ?? "") }
        }
        #expect(errors([]) == ["input 'name' is required and has no default | give it with --input name=VALUE"])
        #expect(errors([("name", "x"), ("levl", "high")]) == ["--input levl: the workflow has no input 'levl' | did you mean 'level'? inputs: level, dry, count, name"])
        #expect(errors([("name", "x"), ("level", "mid")]).first?.contains("'mid' is not one of the options (low, high)") == true)
        #expect(errors([("name", "x"), ("count", "many")]).first?.contains("'many' is not a number") == true)
        // A required input given a bad value: one error, not also "required" (audit 64 cli M5).
        let (required, _) = Self.triggers("on:\n  workflow_dispatch:\n    inputs:\n      n: { type: number, required: true }\n")
        guard case .failure(let bad) = InputValues.resolve([("n", "abc")], triggers: required) else {
            Issue.record("a bad number was taken")
            return
        }
        #expect(bad.diagnostics.map(\.message) == ["--input n: 'abc' is not a number (input 'n' is a number)"])
    }

    @Test("run numbers go up by one per run and run ids are numbers that only go up, also when taken at once")
    func runCounter() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nixactions-counter-\(getpid())-\(UInt32.random(in: 0...UInt32.max))").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        #expect(RunCounter.peek(in: folder).number == 1)
        let first = RunCounter.next(in: folder)
        #expect(first.number == 1)
        #expect(RunCounter.peek(in: folder).number == 2)
        let taken = await withTaskGroup(of: (Int, UInt64).self) { group in
            for _ in 0..<8 { group.addTask { let next = RunCounter.next(in: folder); return (next.number, next.id) } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(taken.map(\.0)) == Set(2...9))
        #expect(Set(taken.map(\.1)).count == 8 && taken.allSatisfy { $0.1 > first.id })
    }
}
