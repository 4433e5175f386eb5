import Foundation
@testable import NixActionsEngine
import Testing

/// The mapping of `nix/eval.nix`'s JSON onto the model, without Nix (the JSON is written here as
/// the library prints it: keys sorted, positions under `__pos`).
@Suite("Nix workflows: the original's keys mapped onto the model")
struct NixWorkflowTranslationTests {
    static func load(_ json: String, environment: [String: String] = [:], tools: Set<String> = ["bash", "jq"]) -> LoadResult {
        NixWorkflow.load(json: json, file: "ci.nix", projectDirectory: "/nonexistent", environment: environment,
                         findTool: { tools.contains($0) ? "/opt/tools/bin/\($0)" : nil })
    }

    static func position(_ line: Int, _ column: Int, keys: [String: (Int, Int)] = [:]) -> String {
        let keyText = keys.map { "\"\($0.key)\": [\($0.value.0), \($0.value.1)]" }.joined(separator: ", ")
        return #""__pos": {"file": "ci.nix", "line": \#(line), "column": \#(column), "keys": {\#(keyText)}}"#
    }

    @Test("retry merges field by field (action over job over workflow), null turns it off; timeouts are the nearest, null is none")
    func inheritance() throws {
        let result = Self.load("""
            {"__format": "nixactions.nix/1", \(Self.position(1, 1)),
             "retry": {"max_attempts": 3, "backoff": "linear", "min_time": 2, "max_time": 9},
             "timeout": "1m",
             "jobs": {
               "a": {\(Self.position(3, 3)), "retry": {"max_attempts": 5}, "timeout": 30, "actions": [
                 {\(Self.position(4, 5)), "bash": "one"},
                 {\(Self.position(5, 5)), "bash": "two", "retry": {"backoff": "constant"}, "timeout": "5s"},
                 {\(Self.position(6, 5)), "bash": "three", "retry": null, "timeout": null}
               ]},
               "b": {\(Self.position(8, 3)), "retry": null, "actions": [ {\(Self.position(9, 5)), "bash": "four"} ]}
             }}
            """)
        #expect(!result.hasErrors, "\(result.diagnostics)")
        let workflow = try #require(result.workflow)
        #expect(workflow.jobs.map(\.id) == ["a", "b"])
        let a = try #require(workflow.job("a")).steps
        #expect(a[0].retry?.maxAttempts == 5)
        #expect(a[0].retry?.backoff == .linear)
        #expect(a[0].retry?.delay == .seconds(2))
        #expect(a[0].retry?.maxDelay == .seconds(9))
        #expect(a[0].timeout?.value == .seconds(30))
        #expect(a[1].retry?.maxAttempts == 5)
        #expect(a[1].retry?.backoff == .constant)
        #expect(a[1].timeout?.value == .seconds(5))
        #expect(a[2].retry == nil)
        #expect(a[2].timeout == nil)
        let b = try #require(workflow.job("b")).steps
        #expect(b[0].retry == nil, "the job's null turns off the workflow's retry")
        #expect(b[0].timeout?.value == .seconds(60))
        // bash runs as the original ran it: errexit, nounset, pipefail.
        #expect(a[0].shell?.source.value == "bash --noprofile --norc -euo pipefail {0}")
        #expect(workflow.job("a")?.original != nil, "a .nix job has the original's semantics ($JOB_ENV sourced)")
    }

    @Test("env values as the original exported them (toString): true is 1, false and null are empty, numbers as text (audit 58 M1)")
    func envValues() throws {
        let result = Self.load("""
            {"__format": "nixactions.nix/1", \(Self.position(1, 1)),
             "env": {"T": true, "F": false, "N": null, "I": 3, "S": "text"},
             "jobs": {"a": {\(Self.position(3, 3)), "actions": [{\(Self.position(4, 5)), "bash": "echo"}]}}}
            """)
        let workflow = try #require(result.workflow, "\(result.diagnostics)")
        let env = Dictionary(uniqueKeysWithValues: workflow.env.map { ($0.name, $0.value.source.value) })
        #expect(env == ["T": "1", "F": "", "N": "", "I": "3", "S": "text"], "\(env)")
    }

    @Test("an empty job ({ }, lib.optionalAttrs turned off) is left out with a note, as the original left it out (audit 58 M2: an error)")
    func emptyJobLeftOut() throws {
        let result = Self.load("""
            {"__format": "nixactions.nix/1", \(Self.position(1, 1)),
             "jobs": {"a": {\(Self.position(3, 3)), "actions": [{\(Self.position(4, 5)), "bash": "echo"}]}, "test": {\(Self.position(6, 3))}}}
            """)
        let workflow = try #require(result.workflow, "\(result.diagnostics)")
        #expect(workflow.jobs.map(\.id) == ["a"])
        #expect(result.diagnostics.map(\.description).contains { $0.hasPrefix("ci.nix:6:3: note: job 'test' is empty ({ }): left out") }, "\(result.diagnostics)")
        #expect(!result.diagnostics.contains { $0.severity == .error }, "\(result.diagnostics)")
    }

    @Test("retry min_time = 0 and max_time = 0 retry at once, as the original's sleep 0 did (audit 48: refused, naming YAML's keys)")
    func zeroRetryWaits() throws {
        let result = Self.load("""
            {"__format": "nixactions.nix/1", \(Self.position(1, 1)),
             "jobs": {
               "a": {\(Self.position(2, 3)), "retry": {"max_attempts": 3, "min_time": 0, "max_time": 0}, "actions": [
                 {\(Self.position(3, 5)), "bash": "one"} ]}
             }}
            """)
        #expect(!result.hasErrors, "\(result.diagnostics)")
        let retry = try #require(result.workflow?.job("a")?.steps.first?.retry)
        #expect(retry.maxAttempts == 3 && retry.delay == .zero && retry.maxDelay == .zero)
        #expect(retry.wait(before: 3) == .zero)
    }

    @Test("conditions: status functions and ${{ }} are GitHub's if, anything else a shell test; a job's continueOnError is accepted")
    func conditions() throws {
        let result = Self.load("""
            {"__format": "nixactions.nix/1", \(Self.position(1, 1)),
             "jobs": {
               "deploy": {\(Self.position(3, 3, keys: ["condition": (3, 5)])), "condition": "[ \\"$BRANCH\\" = main ]", "continueOnError": true,
                 "actions": [
                   {\(Self.position(4, 5)), "bash": "a", "condition": "always()"},
                   {\(Self.position(5, 5, keys: ["condition": (5, 20)])), "bash": "b", "condition": "test -f ready"},
                   {\(Self.position(6, 5)), "bash": "c", "condition": "${{ env.X == 'y' }}"}
                 ]}
             }}
            """)
        #expect(!result.hasErrors, "\(result.diagnostics)")
        let job = try #require(result.workflow?.job("deploy"))
        #expect(job.original?.shellCondition?.value == #"[ "$BRANCH" = main ]"#)
        #expect(job.original?.shellCondition?.location?.description == "ci.nix:3:5")
        #expect(job.condition == nil)
        #expect(job.steps[0].condition?.source.value == "always()")
        #expect(job.steps[0].shellCondition == nil)
        #expect(job.steps[1].condition == nil)
        #expect(job.steps[1].shellCondition?.value == "test -f ready")
        #expect(job.steps[1].shellCondition?.location?.description == "ci.nix:5:20")
        #expect(job.steps[2].condition != nil)
    }

    @Test("an env.X no level defines: the warning's hint is in the Nix file's terms (Nix audit 58 L4)")
    func undefinedEnvHint() throws {
        let result = Self.load("""
            {"__format": "nixactions.nix/1", \(Self.position(1, 1)),
             "jobs": {"a": {\(Self.position(2, 3)), "actions": [ {\(Self.position(3, 5)), "bash": "echo ${{ env.NOPE }}"} ]}}}
            """)
        let messages = result.diagnostics.map(\.description).joined(separator: "\n")
        #expect(messages.contains("env.NOPE") && messages.contains("is not defined at workflow, job or step level"), "\(messages)")
        #expect(messages.contains("env = { NOPE = \"value\"; };") && !messages.contains("    env:\n"), "\(messages)")
    }

    @Test("envProviders.file and .sops options: an unknown one is an error with a did-you-mean, a wrong type or format too (Nix audit 65 H1: 'secret = true' was dropped and the values went unmasked)")
    func providerOptionsChecked() throws {
        func errors(_ entry: String) -> [String] {
            Self.load("""
                {"__format": "nixactions.nix/1", \(Self.position(1, 1)), "envFrom": [ \(entry) ],
                 "jobs": {"a": {\(Self.position(2, 3)), "actions": [ {\(Self.position(3, 5)), "bash": "echo"} ]}}}
                """).diagnostics.filter { $0.severity == .error }.map { $0.message + ($0.hint.map { " | " + $0 } ?? "") }
        }
        #expect(errors(#"{"provider": "file", "path": ".env.s", "secret": true, "requried": true}"#) == [
            "envProviders.file has no option 'requried' | did you mean 'required'?",
            "envProviders.file has no option 'secret' | did you mean 'secrets'?",
        ])
        #expect(errors(#"{"provider": "file", "path": ".env.s", "secrets": "yes"}"#) == ["envProviders.file's 'secrets' must be true or false | secrets = true;"])
        #expect(errors(#"{"provider": "sops", "file": "s.yaml", "fromat": "json"}"#) == ["envProviders.sops has no option 'fromat' | did you mean 'format'?"])
        #expect(errors(#"{"provider": "sops", "file": "s.yaml", "format": "ymal"}"#) == ["envProviders.sops's format 'ymal' is not one of yaml, json, dotenv | did you mean 'yaml'?"])
        #expect(errors(#"{"provider": "sops", "file": "s.yaml", "format": "json", "required": false}"#).isEmpty)
        #expect(errors(#"{"provider": "file", "path": ".env.missing", "secrets": true, "required": false}"#).isEmpty)
    }

    @Test("artifact paths the run would refuse are errors when the file is loaded, each one (Nix audit 65 L2)")
    func artifactPathsChecked() throws {
        let result = Self.load("""
            {"__format": "nixactions.nix/1", \(Self.position(1, 1)),
             "jobs": {"a": {\(Self.position(2, 3, keys: ["outputs": (3, 5)])), "outputs": {"up": "../outside.txt", "abs": "/etc/hostname", "ok": "dist/"},
                            "actions": [ {\(Self.position(4, 5)), "bash": "true"} ]},
                      "b": {\(Self.position(5, 3, keys: ["inputs": (6, 5)])), "needs": ["a"], "inputs": [ {"name": "ok", "path": "../../escape"} ],
                            "actions": [ {\(Self.position(7, 5)), "bash": "true"} ]}}}
            """)
        let errors = result.diagnostics.filter { $0.severity == .error }.map { "\($0.location.map { "\($0.line):\($0.column)" } ?? "-") \($0.message)" }
        #expect(errors.count == 3, "\(errors)")
        #expect(errors.contains { $0.hasPrefix("3:5 artifact 'abs'") && $0.contains("/etc/hostname") }, "\(errors)")
        #expect(errors.contains { $0.hasPrefix("3:5 artifact 'up'") && $0.contains("../outside.txt") }, "\(errors)")
        #expect(errors.contains { $0.hasPrefix("6:5 artifact 'ok'") && $0.contains("../../escape") }, "\(errors)")
    }

    @Test("YAML's 'run' in an action is one error whose hint names 'bash'; an action with neither is still said to lack it (audit 64 cli M5)")
    func yamlRunInAction() throws {
        let result = Self.load("""
            {"__format": "nixactions.nix/1", \(Self.position(1, 1)),
             "jobs": {"a": {\(Self.position(2, 3)), "actions": [ {\(Self.position(3, 5, keys: ["run": (3, 7)])), "run": "make"},
                                                           {\(Self.position(4, 5)), "name": "empty"} ]}}}
            """)
        let errors = result.diagnostics.filter { $0.severity == .error }
        #expect(errors.map(\.message) == ["unknown key 'run' in action 1", "action 2 of job 'a' has no 'bash'"], "\(errors)")
        #expect(errors.first?.hint == "did you mean 'bash'?", "\(errors)")
    }

    @Test("unknown keys, both actions and steps, k8s, an artifact no needed job makes, a missing required variable: errors at their place")
    func errors() throws {
        let result = Self.load("""
            {"__format": "nixactions.nix/1", \(Self.position(1, 1)),
             "envFrom": [ {"provider": "static", "values": {"A": "1"}}, {"provider": "required", "names": ["A", "TOKEN", "HOME_X"]} ],
             "jobs": {
               "a": {\(Self.position(3, 3, keys: ["outputs": (4, 5), "exector": (5, 5)])), "outputs": {"dist": "dist/"}, "exector": {"type": "local"},
                 "actions": [ {\(Self.position(6, 5, keys: ["bahs": (6, 7)])), "bahs": "x"},
                              {\(Self.position(7, 5, keys: ["workdir": (7, 9)])), "uses": "actions/checkout@v4", "workdir": "sub"} ]},
               "b": {\(Self.position(8, 3, keys: ["executor": (9, 5), "inputs": (10, 5)])), "executor": {"type": "k8s", "namespace": "ci"},
                 "inputs": ["dist", "nothing"], "actions": [], "steps": []}
             }}
            """, environment: ["TOKEN": "set"])
        let messages = result.diagnostics.map(\.description).joined(separator: "\n")
        #expect(messages.contains("ci.nix:5:5: error: unknown key 'exector' in the job\n  in job 'a'"), "\(messages)")
        #expect(messages.contains("did you mean 'executor'?"), "\(messages)")
        #expect(messages.contains("ci.nix:6:7: error: unknown key 'bahs'"), "\(messages)")
        // One error for one slip: the misspelt key's, not also "has no 'bash'" (audit 64 cli M5).
        #expect(!messages.contains("action 1 of job 'a' has no 'bash'"), "\(messages)")
        // Said once, in the Nix file's words: not again as a YAML step (Nix audit 58 L4).
        #expect(!messages.contains("has neither 'run' nor 'uses'") && !messages.contains("add 'run: COMMAND'"), "\(messages)")
        #expect(messages.contains("ci.nix:7:9: error: 'workdir' of action 2 of job 'a' only applies to an action with 'bash'"), "\(messages)")
        #expect(!messages.contains("working-directory"), "in the Nix file's words: \(messages)")
        #expect(messages.contains("ci.nix:9:5: error: executors.k8s: there is no Kubernetes executor yet"), "\(messages)")
        #expect(messages.contains("'actions' and 'steps' both list the steps of job 'b'"), "\(messages)")
        #expect(messages.contains("job 'b' restores artifact 'dist' from job 'a', which it does not need"), "\(messages)")
        #expect(messages.contains("job 'b' restores artifact 'nothing', which no job makes"), "\(messages)")
        #expect(messages.contains("required variable not set: HOME_X"), "\(messages)")
        #expect(!messages.contains("TOKEN"), "set in the environment: \(messages)")
    }

    @Test("package placeholders resolve to the tool on PATH; a missing deps package is a warning naming it")
    func packages() throws {
        let result = Self.load("""
            {"__format": "nixactions.nix/1", \(Self.position(1, 1)),
             "jobs": {"a": {\(Self.position(2, 3)), "actions": [
               {\(Self.position(3, 5, keys: ["deps": (3, 9)])), "bash": "@nixactions-pkg:jq:jq@/bin/jq . && ls @nixactions-pkg:jq:jq@/share", "deps": [{"package": "jq", "program": "jq"}, {"package": "ripgrep", "program": "rg"}]}
             ]}}}
            """)
        #expect(!result.hasErrors, "\(result.diagnostics)")
        let step = try #require(result.workflow?.job("a")?.steps.first)
        #expect(step.run?.source.value == "/opt/tools/bin/jq . && ls /opt/tools/share")
        let warnings = result.diagnostics.filter { $0.severity == .warning }.map(\.description)
        #expect(warnings.count == 1)
        #expect(warnings.first?.contains("ci.nix:3:9: warning: deps: package 'ripgrep' is not on PATH ('rg' not found)") == true, "\(warnings)")
    }

    @Test("JSON that is not a workflow of this library is refused")
    func notAWorkflow() {
        #expect(Self.load("[1, 2]").diagnostics.first?.message.contains("did not evaluate to nixactions.mkWorkflow") == true)
        #expect(Self.load("{").diagnostics.first?.message.contains("did not print JSON") == true)
    }
    @Test("retry and timeout mistakes are errors once, where they are written; artifacts differing only in case are one name; positions from another file are dropped")
    func levelChecks() throws {
        let result = Self.load("""
            {"__format": "nixactions.nix/1", \(Self.position(1, 1, keys: ["retry": (2, 3)])),
             "retry": {"max_attemps": 3},
             "jobs": {
               "a": {\(Self.position(4, 3, keys: ["timeout": (4, 20), "outputs": (5, 5)])), "timeout": "0", "outputs": {"Dist": "a/"},
                 "actions": [ {\(Self.position(6, 5)), "bash": "x"}, {\(Self.position(7, 5, keys: ["retry": (7, 30)])), "bash": "y", "retry": 3} ]},
               "b": {\(Self.position(9, 3, keys: ["outputs": (10, 5)])), "outputs": {"dist": "b/"}, "actions": [ {\(Self.position(11, 5)), "bash": "z"} ]},
               "c": {"__pos": {"file": "common.nix", "line": 4, "column": 24, "keys": {"bahs": [4, 24]}}, "bahs": "x", "actions": []}
             }}
            """)
        let errors = result.diagnostics.filter { $0.severity == .error }.map(\.description)
        let all = errors.joined(separator: "\n")
        #expect(errors.filter { $0.contains("unknown key 'max_attemps' in retry") }.count == 1, "\(all)")
        #expect(all.contains("ci.nix:2:3: error: unknown key 'max_attemps' in retry"), "\(all)")
        #expect(all.contains("did you mean 'max_attempts'?"), "\(all)")
        #expect(errors.filter { $0.contains("timeout must be a positive number") }.count == 1, "\(all)")
        #expect(all.contains("ci.nix:4:20: error: timeout must be a positive number"), "\(all)")
        #expect(all.contains("ci.nix:7:30: error: retry must be an attribute set"), "\(all)")
        #expect(all.contains("artifact 'dist' is also made by job 'a' (as 'Dist')") || all.contains("artifact 'Dist' is also made by job 'b' (as 'dist')"), "\(all)")
        #expect(!all.contains("ci.nix:4:24"), "a position in common.nix is not shown as one in ci.nix: \(all)")
        #expect(all.contains("unknown key 'bahs'"), "\(all)")
    }

    @Test("a secret provider before envProviders.required may set any name; a dotenv file's values are text, never ${{ }}")
    func providers() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("nxa-dotenv-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "PLAIN=a ${{ not an expression\n".write(toFile: folder + "/vars.env", atomically: true, encoding: .utf8)
        let result = NixWorkflow.load(json: """
            {"__format": "nixactions.nix/1", "envFrom": [
               {"provider": "file", "path": "vars.env"},
               {"provider": "sops", "file": "secrets.yaml"},
               {"provider": "required", "names": ["PLAIN", "FROM_SOPS"]}],
             "jobs": {"a": {"actions": [ {"bash": "true"} ]}}}
            """, file: "ci.nix", projectDirectory: folder, environment: [:], findTool: { _ in nil })
        #expect(!result.hasErrors, "\(result.diagnostics)")
        // The name left to the sops file is not checked, and a warning says so (Nix audit 65 M1).
        let warnings = result.diagnostics.filter { $0.severity == .warning }
        #expect(warnings.map(\.message) == ["envProviders.required: FROM_SOPS is not checked: a secret provider before it may set it when the run starts"],
                "\(result.diagnostics)")
        #expect(warnings.first?.hint?.contains(#": "${FROM_SOPS:?}""#) == true, "\(warnings)")
        let env = try #require(result.workflow?.env)
        let plain = try #require(env.first { $0.name == "PLAIN" })
        #expect(plain.value.template.isLiteral)
        #expect(plain.value.source.value == "a ${{ not an expression")
        // The sops provider is a secrets entry of the workflow: every value of the file is a secret.
        #expect(result.workflow?.secrets.count == 1, "\(String(describing: result.workflow?.secrets))")
    }
}
