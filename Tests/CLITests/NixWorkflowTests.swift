import Foundation
import Synchronization
import Testing
import TestSupport
@testable import NixActionsCLI

/// Nix is installed by `.ci/setup` (Debian's nix-bin); a machine without it skips these, CI must not.
func nixAvailable() -> Bool {
    if testTool("nix-instantiate") != nil && testTool("nix-build") != nil { return true }
    #expect(ProcessInfo.processInfo.environment["CI"] == nil, "Nix (nix-bin) is missing on CI: .ci/setup installs it")
    return false
}

/// Nix without a binary cache (none is reachable) and without the build sandbox (the test
/// derivations use the host's /bin/sh).
let nixTestEnvironment = ["NIX_CONFIG": "substituters =\nsandbox = false\nbuild-users-group ="]

/// Local derivations the tests build: a tool `nxa-hello-NONCE`, one that counts its builds in
/// `COUNTER`, and one whose builder fails with a message.
func nixToolsFile(nonce: String, counter: String) -> String {
    """
    let
      tool = name: text: derivation {
        inherit name; system = builtins.currentSystem; builder = "/bin/sh";
        args = [ "-c" "/bin/mkdir -p $out/bin; printf '#!/bin/sh\\\\necho ${text}\\\\n' > $out/bin/${name}; /bin/chmod +x $out/bin/${name}; echo built >> \(counter)" ];
      };
    in {
      hello = tool "nxa-hello-\(nonce)" "hello from nix \(nonce)";
      tools.second = tool "nxa-second-\(nonce)" "second tool";
      broken = derivation {
        name = "nxa-broken-\(nonce)"; system = builtins.currentSystem; builder = "/bin/sh";
        args = [ "-c" "echo this build fails on purpose >&2; exit 3" ];
      };
    }
    """
}

/// The Nix suites run one test at a time: each starts several processes (Nix evaluations and
/// builds, whole runs), and running them all at once on a 2-core machine starved the
/// timing-sensitive suites that run next to them.
@Suite("Nix workflows, one test at a time", .serialized)
struct NixSuites {}

extension NixSuites {
@Suite("Workflows written in Nix, and Nix packages per job")
struct NixWorkflowTests {
    @Test("the original's semantics: $JOB_ENV sourced before each action, shell-test conditions (run after a failed action too), a job's continueOnError, --env over env")
    func originalSemantics() async throws {
        guard nixAvailable() else { return }
        let scenario = try Scenario()
        defer { scenario.remove() }
        let workflow = """
            { pkgs, nixactions, executor ? nixactions.executors.local }:
            nixactions.mkWorkflow {
              name = "original";
              env = { BRANCH = "develop"; };
              jobs = {
                build = {
                  inherit executor;
                  continueOnError = true;
                  actions = [
                    { name = "exists"; condition = ''[ -f "$JOB_ENV" ]''; bash = ''
                        echo "job env exists, workflow $WORKFLOW_NAME, in $(basename "$JOB_DIR") = $(basename "$PWD"), id ''${#WORKFLOW_ID} long"
                      ''; }
                    { name = "set"; bash = ''
                        echo "VERSION=1.2" >> "$JOB_ENV"
                        mkdir -p bin && printf '#!/bin/sh\\necho my tool\\n' > bin/mytool && chmod +x bin/mytool
                        echo 'export PATH="$PWD/bin:$PATH"' >> "$JOB_ENV"
                      ''; }
                    { name = "use"; bash = ''echo "version $VERSION"; mytool''; }
                    { name = "gate"; condition = ''[ "$BRANCH" = main ]''; bash = "echo deploying"; }
                    { name = "version-gate"; condition = ''[ "$VERSION" = 1.2 ]''; bash = "echo version gate open"; }
                    { name = "typo"; condition = "success() && true"; bash = "echo typo ran"; }
                    { name = "unset"; bash = "echo $NOT_SET_ANYWHERE"; continueOnError = true; }
                    { name = "fails"; bash = "exit 3"; }
                    # The original: a failed action skips the later success() ones, continueOnError
                    # or not; a bash test alone decides (audit 48).
                    { name = "after"; bash = "echo still running"; }
                    { name = "explicit"; condition = "success()"; bash = "echo explicit success ran"; }
                    { name = "tested"; condition = ''[ -f "$JOB_ENV" ]''; bash = "echo tested after the failure"; }
                    { name = "on-failure"; condition = "failure()"; bash = "echo failure seen"; }
                  ];
                };
                produce = {
                  outputs = { fa = "dist/a/"; fb = "dist/b/"; };
                  actions = [ { bash = "mkdir -p dist/a dist/b && echo x > dist/a/x && echo y > dist/b/y"; } ];
                };
                merged = {
                  needs = [ "produce" ];
                  inputs = [ "fa" "fb" ];
                  actions = [ { bash = ''cat dist/a/x dist/b/y; echo "VALUE=from merged" >> "$GITHUB_OUTPUT"''; } ];
                };
                reads = {
                  needs = [ "merged" ];
                  actions = [ { bash = "echo 'got \\${{ needs.merged.outputs.VALUE }}'"; } ];
                };
                deploy = {
                  inherit executor;
                  condition = ''[ "$BRANCH" = main ]'';
                  actions = [ { bash = "echo deploy job ran"; } ];
                };
              };
            }
            """
        let result = try await scenario.run(workflow, file: "ci.nix")
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        for line in ["[build] job env exists, workflow original, in", "[merged] x", "[merged] y", "[reads] got from merged", "[build] version 1.2", "[build] my tool", "[build] version gate open", "[build] tested after the failure", "[build] failure seen"] {
            #expect(result.stdout.contains(line), "\(line)\n\(result.stdout)")
        }
        #expect(!result.stdout.contains("deploying"))
        #expect(!result.stdout.contains("still running"), "\(result.stdout)")
        #expect(!result.stdout.contains("explicit success ran"), "\(result.stdout)")
        #expect(result.stdout.contains("[build] - after (skipped)"), "\(result.stdout)")
        #expect(!result.stdout.contains("deploy job ran"))
        #expect(result.stdout.contains("[build] - gate (skipped)"), "\(result.stdout)")
        // A test bash cannot evaluate is false too, and said with bash's words (audit 58 Nix L3);
        // a test that is merely false is not.
        #expect(result.stdout.contains("[build] - typo (skipped)") && !result.stdout.contains("typo ran"), "\(result.stdout)")
        #expect(result.stdout.contains("the condition 'success() && true' is taken as false: bash exited with 2 and said: "), "\(result.stdout)")
        // bash's words without the hidden script's path or the job-env lines before it (Nix audit 65 L6).
        #expect(result.stdout.contains("said: syntax error near unexpected token `&&' / `success() && true'"), "\(result.stdout)")
        let warning = result.stdout.split(separator: "\n").first { $0.contains("is taken as false") } ?? ""
        #expect(!warning.contains(".sh: line") && !warning.contains("JOB_ENV"), "\(warning)")
        #expect(result.stdout.contains("syntax error"), "\(result.stdout)")
        #expect(!result.stdout.contains("the condition '[ \"$BRANCH\" = main ]' is taken as false"), "\(result.stdout)")
        // nounset, as the original's writeShellApplication
        #expect(result.stdout.contains("NOT_SET_ANYWHERE: unbound variable") || result.stderr.contains("NOT_SET_ANYWHERE"), "\(result.stdout)")
        #expect(result.stdout.range(of: #"deploy\s+skipped"#, options: .regularExpression) != nil, "\(result.stdout)")
        #expect(result.stdout.range(of: #"build\s+failure"#, options: .regularExpression) != nil, "\(result.stdout)")

        let plan = try await scenario.run(workflow, ["--dry-run"], file: "ci.nix")
        #expect(plan.stdout.contains(#"deploy  [executor: local; timeout: 6h; condition (bash): [ "$BRANCH" = main ]]"#), "\(plan.stdout)")
        #expect(plan.stdout.contains(#"- gate  (condition (bash): [ "$BRANCH" = main ])"#), "\(plan.stdout)")

        // A value given at run time is over the workflow's env: the gates open.
        let opened = try await scenario.run(workflow, ["--env", "BRANCH=main"], file: "ci.nix")
        #expect(opened.stdout.contains("[build] deploying"), "\(opened.stdout)")
        #expect(opened.stdout.contains("[deploy] deploy job ran"), "\(opened.stdout)")
    }

    @Test("nix: packages on PATH for the jobs that ask, not the others; built once for two jobs; a broken build fails the job with Nix's message")
    func packagesPerJob() async throws {
        guard nixAvailable() else { return }
        let scenario = try Scenario()
        defer { scenario.remove() }
        let nonce = String(UUID().uuidString.prefix(8)).lowercased()
        let counter = scenario.marks + "/builds"
        _ = try scenario.temp.write("project/tools.nix", nixToolsFile(nonce: nonce, counter: counter))
        try FileManager.default.createDirectory(atPath: scenario.project + "/tools-flake", withIntermediateDirectories: true)
        _ = try scenario.temp.write("project/tools-flake/flake.nix", """
            {
              outputs = { self }: {
                packages.x86_64-linux.hello = derivation {
                  name = "nxa-flake-\(nonce)"; system = "x86_64-linux"; builder = "/bin/sh";
                  args = [ "-c" "/bin/mkdir -p $out/bin; printf '#!/bin/sh\\\\necho hello from a flake\\\\n' > $out/bin/nxa-flake-\(nonce); /bin/chmod +x $out/bin/nxa-flake-\(nonce)" ];
                };
              };
            }
            """)
        let result = try await nixactions(["run", try scenario.temp.write("wf.yml", """
            jobs:
              from-flake:
                nix: { flake: "./tools-flake#hello" }
                steps:
                  - run: nxa-flake-\(nonce)
              first:
                nix: { packages: [hello, tools.second], file: tools.nix }
                steps:
                  - run: nxa-hello-\(nonce) && nxa-second-\(nonce)
              again:
                nix: { file: tools.nix, packages: [hello, tools.second] }
                steps:
                  - run: nxa-hello-\(nonce)
              without:
                steps:
                  - run: if command -v nxa-hello-\(nonce); then echo FOUND; exit 1; fi; echo not on PATH here
              broken:
                nix: { packages: [broken], file: tools.nix }
                steps:
                  - run: echo must not run
              missing:
                nix: { packages: [nothing-here], file: tools.nix }
                steps:
                  - run: echo must not run
            """), "--log-dir", scenario.logs], in: scenario.project, environment: nixTestEnvironment)
        #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[first] hello from nix \(nonce)"), "\(result.stdout)")
        #expect(result.stdout.contains("[first] second tool"), "\(result.stdout)")
        #expect(result.stdout.contains("[again] hello from nix \(nonce)"), "\(result.stdout)")
        #expect(result.stdout.contains("[without] not on PATH here"), "\(result.stdout)")
        #expect(result.stdout.contains("[from-flake] hello from a flake"), "\(result.stdout)")
        #expect(!result.stdout.contains("must not run\n"))
        #expect(result.stdout.contains("this build fails on purpose"), "Nix's message is shown\n\(result.stdout)")
        #expect(result.stdout.contains("nxa-broken-\(nonce).drv' failed with exit code 3"), "\(result.stdout)")
        #expect(result.stdout.contains("no package 'nothing-here' in"), "\(result.stdout)")
        #expect(result.stdout.range(of: #"broken\s+failure"#, options: .regularExpression) != nil)
        #expect(result.stdout.range(of: #"first\s+success"#, options: .regularExpression) != nil)
        // Two jobs asked for the same set: each package was built once (Nix's store has it after).
        let builds = (try? String(contentsOfFile: counter, encoding: .utf8)) ?? ""
        #expect(builds.split(separator: "\n").count == 2, "one build per package: \(builds)")
    }

    @Test("nix = { packages; file; } in a .nix workflow, and the workflow's nix for every job")
    func packagesInNixWorkflow() async throws {
        guard nixAvailable() else { return }
        let scenario = try Scenario()
        defer { scenario.remove() }
        let nonce = String(UUID().uuidString.prefix(8)).lowercased()
        _ = try scenario.temp.write("project/tools.nix", nixToolsFile(nonce: nonce, counter: scenario.marks + "/builds"))
        _ = try scenario.temp.write("project/ci.nix", """
            { nixactions, ... }:
            nixactions.mkWorkflow {
              nix = { packages = [ "hello" ]; file = ./tools.nix; };
              jobs.a.actions = [ { bash = "nxa-hello-\(nonce)"; } ];
              jobs.b = { nix = { packages = [ "tools.second" ]; file = ./tools.nix; }; actions = [ { bash = "nxa-second-\(nonce); command -v nxa-hello-\(nonce) || echo no hello"; } ]; };
            }
            """)
        let result = try await nixactions(["run", "ci.nix", "--log-dir", scenario.logs], in: scenario.project, environment: nixTestEnvironment)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        #expect(result.stdout.contains("[a] hello from nix \(nonce)"), "\(result.stdout)")
        #expect(result.stdout.contains("[b] second tool"), "\(result.stdout)")
        #expect(result.stdout.contains("[b] no hello"), "the job's own nix replaces the workflow's\n\(result.stdout)")
    }

    @Test("a path in a string (\"bash ${./s.sh}\", ${./.}), which Nix makes a store path no store holds here, is the project's own file or folder (Nix audit 58 H1: No such file)")
    func pathInString() async throws {
        guard nixAvailable() else { return }
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("sub/s.sh", "echo from the script $1\n")
        try temp.write("sub/other/s.sh", "echo the other one\n")
        try temp.write("sub/w.nix", """
            { pkgs, nixactions, ... }:
            nixactions.mkWorkflow { jobs.a.steps = [ { name = "p"; bash = "bash ${./s.sh} one; ls ${./.} | tr '\\n' ' '"; } ]; }
            """)
        let result = try await nixactions(["run", "sub/w.nix", "--log-format", "plain"], in: temp.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[a] from the script one\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] other s.sh w.nix \n"), "\(result.stdout)")
    }

    @Test("a lib function the stand-in lib lacks: Nix's error, and a hint that lib is the stand-in and builtins may have it (Nix audit 58 L2)")
    func standInLibHint() async throws {
        guard nixAvailable() else { return }
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("ci.nix", """
            { lib, nixactions, ... }:
            nixactions.mkWorkflow { jobs.a.actions = [ { bash = if lib.elem "x" [ "x" ] then "echo yes" else "echo no"; } ]; }
            """)
        let result = try await nixactions(["validate", "ci.nix"], in: temp.path, environment: nixTestEnvironment)
        #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("attribute 'elem' missing"), "\(result.stderr)")
        #expect(result.stderr.contains("hint: without <nixpkgs> on NIX_PATH, lib is NixActions' stand-in, which has no 'elem' (nix/lib.nix lists what it has): "
                                       + "use builtins.elem where there is one, or put a nixpkgs on NIX_PATH"), "\(result.stderr)")
    }

    @Test("the original's helpers this library lacks get a hint; a file asking for an argument it is not given is located in it, not in the library (Nix audit 65 M3, M4)")
    func originalOnlyAndArguments() async throws {
        guard nixAvailable() else { return }
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("node.nix", """
            { nixactions, ... }:
            nixactions.mkWorkflow {
              jobs.a.steps = [ (nixactions.actions.setupNode { version = "20"; }) ];
            }
            """)
        let node = try await nixactions(["validate", "node.nix"], in: temp.path, environment: nixTestEnvironment)
        #expect(node.status == 2, "\(node.stdout)\(node.stderr)")
        #expect(node.stderr.contains("attribute 'setupNode' missing"), "\(node.stderr)")
        #expect(node.stderr.contains("hint: 'setupNode' (an action) of the original NixActions is not provided here"), "\(node.stderr)")
        try temp.write("arg.nix", """
            { pkgs, nixactions, system }:
            nixactions.mkWorkflow { jobs.a.steps = [ { bash = "echo ${system}"; } ]; }
            """)
        let arg = try await nixactions(["validate", "arg.nix"], in: temp.path, environment: nixTestEnvironment)
        #expect(arg.status == 2, "\(arg.stdout)\(arg.stderr)")
        #expect(arg.stderr.hasPrefix("arg.nix:1:1: error: the Nix evaluation of 'arg.nix' failed:"), "\(arg.stderr)")
        #expect(arg.stderr.contains("give 'system' a default ('system ? …') or take it out"), "\(arg.stderr)")
        // bash's ${VAR} in a Nix string is Nix's interpolation (audit 64 cli L15).
        try temp.write("var.nix", """
            { nixactions, ... }:
            nixactions.mkWorkflow { jobs.a.actions = [ { bash = "echo ${foo}"; } ]; }
            """)
        let variable = try await nixactions(["validate", "var.nix"], in: temp.path, environment: nixTestEnvironment)
        #expect(variable.status == 2 && variable.stderr.contains("undefined variable 'foo'"), "\(variable.stderr)")
        #expect(variable.stderr.contains("hint: in a Nix string, ${foo} is Nix's interpolation: for the shell's variable write ''${foo}"), "\(variable.stderr)")
    }

    @Test("a throw or an assert, which Nix reports without a position, is located at the key whose value failed (Nix audit 58 M4)")
    func throwLocated() async throws {
        guard nixAvailable() else { return }
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("throw.nix", """
            { nixactions, ... }:
            nixactions.mkWorkflow {
              jobs.a.actions = [ { name = "x"; bash = throw "my custom failure"; } ];
            }
            """)
        let result = try await nixactions(["validate", "throw.nix"], in: temp.path, environment: nixTestEnvironment)
        #expect(result.status == 2, "\(result.stdout)\(result.stderr)")
        #expect(result.stderr.contains("throw.nix:3:36: error: the Nix evaluation of 'throw.nix' failed in the value of 'bash':\nerror: my custom failure"),
                "\(result.stderr)")
        // Outside a step: the name, a whole job (placed at the key holding it), its steps (Nix audit 65 M2).
        for (body, expected) in [
            ("  name = throw \"bad name\";\n  jobs.a.actions = [ { bash = \"echo\"; } ];", "t.nix:3:3: error: the Nix evaluation of 't.nix' failed in the value of 'name':\nerror: bad name"),
            ("  name = \"x\";\n  jobs.a = throw \"bad job\";", "t.nix:4:3: error: the Nix evaluation of 't.nix' failed in the value of 'a':\nerror: bad job"),
            ("  name = \"x\";\n  jobs.a.needs = [ ];\n  jobs.a.actions = throw \"bad steps\";",
             "t.nix:4:3: error: the Nix evaluation of 't.nix' failed in the value of 'a':\nerror: bad steps"),
        ] {
            try temp.write("t.nix", "{ nixactions, ... }:\nnixactions.mkWorkflow {\n\(body)\n}\n")
            let failed = try await nixactions(["validate", "t.nix"], in: temp.path, environment: nixTestEnvironment)
            #expect(failed.status == 2 && failed.stderr.contains(expected), "\(body):\n\(failed.stderr)")
        }
    }

    @Test("the failed value's place in a partial JSON: its object's __pos, else the key holding the object, outwards")
    func failedValuePlace() {
        let pos = #"{"column":3,"file":"t.nix","keys":{"jobs":[4,3],"name":[3,3]},"line":3}"#
        let step = #"{"__pos":{"column":22,"file":"t.nix","index":0,"keys":{"bash":[4,22]},"line":4},"bash":"echo"}"#
        #expect(NixEvaluation.failedValue(in: #"{"__format":"f","__pos":\#(pos),"jobs":{"a":{"steps":[\#(step)]}},"name":}"#).map { "\($0.line):\($0.column) \($0.key)" }
                == "3:3 name")
        #expect(NixEvaluation.failedValue(in: #"{"__format":"f","__pos":\#(pos),"jobs":{"a":}}"#).map { "\($0.line):\($0.column) \($0.key)" } == "4:3 a")
        #expect(NixEvaluation.failedValue(in: #"{"__pos":\#(pos),"jobs":{"a":{"steps":[{"__pos":{"file":"t.nix","keys":{"bash":[5,9]}},"bash":}]}}}"#)
                    .map { "\($0.line):\($0.column) \($0.key)" } == "5:9 bash")
        #expect(NixEvaluation.failedValue(in: #"{"name":"a \"q\": b","other":"#) == nil)
        // A list whose item failed: printed empty, with only closers after it (Nix audit 65 M2).
        #expect(NixEvaluation.failedValue(in: #"{"__format":"f","__pos":{"file":"r.nix","keys":{"envFrom":[3,3]}},"envFrom":[]}"#)
                    .map { "\($0.line):\($0.column) \($0.key)" } == "3:3 envFrom")
        #expect(NixEvaluation.failedValue(in: #"{"__pos":{"file":"s.nix","keys":{"jobs":[3,3]}},"jobs":{"a":{"__pos":{"file":"s.nix","keys":{"steps":[3,9]}},"steps":[]}}}"#)
                    .map { "\($0.line):\($0.column) \($0.key)" } == "3:9 steps")
        #expect(NixEvaluation.failedValue(in: #"{"__pos":{"file":"s.nix","keys":{"needs":[3,9]}},"needs":[],"name":"x"}"#) == nil)
    }

    @Test("a copy of the program elsewhere (cp .build/…/nixactions ~/bin) still finds the Nix library of the source tree it was built from (audit 58 M5: every .nix workflow failed)")
    func copiedProgramFindsLibrary() async throws {
        guard nixAvailable() else { return }
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try FileManager.default.createDirectory(atPath: temp.path + "/bin", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: nixactionsBinary.path, toPath: temp.path + "/bin/nixactions")
        try temp.write("ci.nix", "{ pkgs, nixactions, ... }:\nnixactions.mkWorkflow { jobs.a.actions = [ { bash = \"echo hi\"; } ]; }\n")
        let result = try await runCommand(URL(fileURLWithPath: "/usr/bin/env"), ["-u", "NIXACTIONS_NIX_LIB", temp.path + "/bin/nixactions", "validate", "ci.nix"],
                                          in: temp.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(!result.stderr.contains("cannot find NixActions' Nix library"), "\(result.stderr)")
    }

    @Test("a Nix syntax error is shown as Nix printed it, with exit status 2; unknown keys get the .nix file's line and column")
    func evaluationErrors() async throws {
        guard nixAvailable() else { return }
        let scenario = try Scenario()
        defer { scenario.remove() }
        let bad = try scenario.temp.write("project/bad.nix", """
            { nixactions, ... }:
            nixactions.mkWorkflow {
              name = "bad"
              jobs.a.actions = [ { bash = "true"; } ];
            }
            """)
        let syntax = try await nixactions(["validate", bad], in: scenario.project)
        #expect(syntax.status == 2)
        #expect(syntax.stderr.contains("syntax error, unexpected"), "\(syntax.stderr)")
        #expect(syntax.stderr.contains("bad.nix:4:"), "Nix names the line\n\(syntax.stderr)")
        // In the FILE:LINE:COL: error: form every diagnostic has, the place Nix named, with a hint
        // for a syntax error (Nix audit 58 L6).
        #expect(syntax.stderr.hasPrefix("bad.nix:4:") && syntax.stderr.contains(": error: the Nix evaluation of "), "\(syntax.stderr)")
        #expect(syntax.stderr.contains("hint: Nix points where it noticed: a missing ';' after an attribute"), "\(syntax.stderr)")
        // `list` says it in one line: Nix's message, without the code it quotes.
        try FileManager.default.createDirectory(atPath: scenario.project + "/.nixactions/workflows", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: bad, toPath: scenario.project + "/.nixactions/workflows/bad.nix")
        let listed = try await nixactions(["list"], in: scenario.project)
        let line = listed.stdout.split(separator: "\n").first { $0.hasPrefix("  invalid: ") }.map(String.init) ?? ""
        #expect(line.contains(".nixactions/workflows/bad.nix:4:") && line.contains("failed: error: syntax error, unexpected") && !line.contains("|"),
                "\(listed.stdout)")

        let unknown = try scenario.temp.write("project/unknown.nix", """
            { nixactions, ... }:
            nixactions.mkWorkflow {
              jobs.a = {
                actions = [
                  { name = "x"; bash = "true"; continueOnErorr = true; }
                ];
                envProviders = [ ];
              };
            }
            """)
        let keys = try await nixactions(["validate", unknown], in: scenario.project)
        #expect(keys.status == 2)
        #expect(keys.stderr.contains("unknown.nix:5:36: error: unknown key 'continueOnErorr'"), "\(keys.stderr)")
        #expect(keys.stderr.contains("did you mean 'continueOnError'?"), "\(keys.stderr)")
        #expect(keys.stderr.contains("unknown.nix:7:5: warning: 'envProviders' in the job is ignored (the original NixActions ignored it too)"), "\(keys.stderr)")
        #expect(keys.stderr.contains("did you mean 'envFrom'?"), "\(keys.stderr)")

        // `with pkgs;` with the stand-in pkgs: Nix's message, and a hint saying what to write.
        let with = try scenario.temp.write("project/with.nix", """
            { pkgs, nixactions, ... }:
            nixactions.mkWorkflow {
              name = "with";
              jobs.a = { deps = with pkgs; [ ripgrep ]; actions = [ { bash = "true"; } ]; };
            }
            """)
        let scoped = try await nixactions(["validate", with], in: scenario.project, environment: ["NIX_PATH": ""])
        #expect(scoped.status == 2)
        #expect(scoped.stderr.contains("undefined variable 'ripgrep'"), "\(scoped.stderr)")
        #expect(scoped.stderr.contains("hint: without <nixpkgs> on NIX_PATH, `with pkgs;` brings no names into scope: write pkgs.ripgrep"),
                "\(scoped.stderr)")

        // An executor the library refuses, from the failing fixtures.
        let uncalled = try await nixactions(["validate", packageDirectory.path + "/Tests/Fixtures/nix-invalid/uncalled-executor.nix"], in: scenario.project)
        #expect(uncalled.status == 2)
        #expect(uncalled.stderr.contains("jobs.deploy.executor is a function"), "\(uncalled.stderr)")
        // The place the library names is the diagnostic's (Nix audit 65 M2: it stayed mid-text).
        #expect(uncalled.stderr.hasPrefix(packageDirectory.path + "/Tests/Fixtures/nix-invalid/uncalled-executor.nix:6:5: error: ")
                || uncalled.stderr.hasPrefix("Tests/Fixtures/nix-invalid/uncalled-executor.nix:6:5: error: "), "\(uncalled.stderr)")
    }

    @Test("without Nix, a .nix workflow is a clear error naming the package to install")
    func nixMissing() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let file = try scenario.temp.write("project/ci.nix", "{ nixactions, ... }: nixactions.mkWorkflow { jobs.a.actions = [ { bash = \"true\"; } ]; }")
        let result = try await nixactions(["validate", file], in: scenario.project, environment: ["PATH": scenario.temp.path])
        #expect(result.status == 2)
        #expect(result.stderr.contains("nix-instantiate is not on PATH"), "\(result.stderr)")
        #expect(result.stderr.contains("apt install nix-bin"), "\(result.stderr)")
    }

    @Test("list and graph read .nix workflows too")
    func listAndGraph() async throws {
        guard nixAvailable() else { return }
        let scenario = try Scenario()
        defer { scenario.remove() }
        try FileManager.default.createDirectory(atPath: scenario.project + "/.nixactions/workflows", withIntermediateDirectories: true)
        _ = try scenario.temp.write("project/.nixactions/workflows/ci.nix", """
            { nixactions, ... }:
            nixactions.mkWorkflow {
              name = "from-nix";
              jobs.build.actions = [ { bash = "true"; } ];
              jobs.test = { needs = [ "build" ]; actions = [ { bash = "true"; } ]; };
            }
            """)
        let listed = try await nixactions(["list"], in: scenario.project)
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("from-nix"), "\(listed.stdout)")
        let graph = try await nixactions(["graph", "ci"], in: scenario.project)
        #expect(graph.status == 0, "\(graph.stderr)")
        #expect(graph.stdout.contains("build") && graph.stdout.contains("test"), "\(graph.stdout)")
    }

    @Test("the original's switches: NIXACTIONS_LOG_FORMAT (json, structured; --log-format wins; a bad value is exit 2) and NIXACTIONS_KEEP_WORKSPACE=1")
    func environmentSwitches() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let path = try scenario.temp.write("wf.yml", """
            jobs:
              build:
                steps:
                  - run: mkdir -p out && echo made > out/file.txt && echo built
            """)
        let json = try await nixactions(["run", path, "--log-dir", scenario.logs], in: scenario.project, environment: ["NIXACTIONS_LOG_FORMAT": "json"])
        #expect(json.status == 0, "\(json.stderr)")
        #expect(json.stdout.split(separator: "\n").allSatisfy { $0.hasPrefix("{") }, "\(json.stdout)")
        let structured = try await nixactions(["run", path, "--log-dir", scenario.logs], in: scenario.project, environment: ["NIXACTIONS_LOG_FORMAT": "structured"])
        #expect(structured.stdout.contains("[build] built"), "\(structured.stdout)")
        let flagWins = try await nixactions(["run", path, "--log-dir", scenario.logs, "--log-format", "plain"], in: scenario.project,
                                      environment: ["NIXACTIONS_LOG_FORMAT": "json"])
        #expect(flagWins.stdout.contains("[build] built") && !flagWins.stdout.hasPrefix("{"), "\(flagWins.stdout)")
        let bad = try await nixactions(["run", path, "--log-dir", scenario.logs], in: scenario.project, environment: ["NIXACTIONS_LOG_FORMAT": "fancy"])
        #expect(bad.status == 2)
        #expect(bad.stderr.contains("NIXACTIONS_LOG_FORMAT='fancy' is not a log format"), "\(bad.stderr)")
        // Said once, before the workflow is read (Nix audit 65 L4: twice, around the load's warnings).
        #expect(bad.stderr.components(separatedBy: "is not a log format").count == 2 && bad.stderr.hasPrefix("error: NIXACTIONS_LOG_FORMAT"),
                "\(bad.stderr)")

        let kept = try await nixactions(["run", path, "--log-dir", scenario.logs], in: scenario.project, environment: ["NIXACTIONS_KEEP_WORKSPACE": "1"])
        #expect(kept.status == 0, "\(kept.stderr)")
        let runs = try FileManager.default.contentsOfDirectory(atPath: scenario.logs).sorted()
        let newest = try #require(runs.last { FileManager.default.fileExists(atPath: scenario.logs + "/" + $0 + "/workspaces") })
        let file = scenario.logs + "/" + newest + "/workspaces/build/out/file.txt"
        #expect((try? String(contentsOfFile: file, encoding: .utf8)) == "made\n", "kept at \(file)")
        #expect(kept.stdout.contains("workspace kept in"), "\(kept.stdout)")
    }

    @Test("the flake builds its nixactions package, whose program runs the real binary with the flake's Nix library")
    func flake() async throws {
        guard nixAvailable(), FileManager.default.fileExists(atPath: packageDirectory.path + "/.git") else { return }
        let nix = try #require(testTool("nix"))
        let features = ["--extra-experimental-features", "nix-command flakes"]
        let built = try await runCommand(URL(fileURLWithPath: nix), features + ["build", "--no-link", ".#nixactions"],
                                   in: packageDirectory.path, environment: nixTestEnvironment)
        #expect(built.status == 0, "\(built.stderr)")
        let info = try await runCommand(URL(fileURLWithPath: nix), features + ["path-info", ".#nixactions"],
                                  in: packageDirectory.path, environment: nixTestEnvironment)
        let out = info.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(out.hasPrefix("/nix/store/"), "\(info.stdout)\(info.stderr)")
        #expect(FileManager.default.fileExists(atPath: out + "/share/nixactions/nix/eval.nix"))
        let program = URL(fileURLWithPath: out + "/bin/nixactions")
        let validated = try await runCommand(program, ["validate", "examples/nix/simple.nix"], in: packageDirectory.path,
                                       environment: ["NIXACTIONS_BIN": nixactionsBinary.path])
        #expect(validated.status == 0, "\(validated.stdout)\(validated.stderr)")
        #expect(validated.stdout.contains("valid"), "\(validated.stdout)")
        let alone = try await runCommand(program, ["validate", "x.nix"], in: packageDirectory.path, environment: ["PATH": "/usr/bin:/bin"])
        #expect(alone.status == 127)
        #expect(alone.stderr.contains("this is the flake's placeholder"), "\(alone.stderr)")
    }

    @Test("NIXACTIONS_NIX_LIB, when set, is the Nix library over the source tree's: its eval.nix runs; a folder without one is the error naming the variable, with no fallback (docs/nix.md)")
    func libraryVariable() async throws {
        guard nixAvailable() else { return }
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        try temp.write("lib/eval.nix", "{ ... }@args: (import \(packageDirectory.path)/nix/eval.nix args) // { name = \"from-given-lib\"; }\n")
        let given = try await nixactions(["list", "examples/nix/simple.nix"], in: packageDirectory.path,
                                         environment: ["NIXACTIONS_NIX_LIB": temp.path + "/lib"])
        #expect(given.status == 0, "\(given.stderr)")
        #expect(given.stdout.hasPrefix("from-given-lib (examples/nix/simple.nix)\n"), "\(given.stdout)")
        let tree = try await nixactions(["list", "examples/nix/simple.nix"], in: packageDirectory.path, environment: ["NIXACTIONS_NIX_LIB": ""])
        #expect(tree.stdout.hasPrefix("simple (examples/nix/simple.nix)\n"), "\(tree.stdout)\(tree.stderr)")
        let missing = try await nixactions(["validate", "examples/nix/simple.nix"], in: packageDirectory.path,
                                           environment: ["NIXACTIONS_NIX_LIB": temp.path + "/none"])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("error: cannot find NixActions' Nix library (nix/eval.nix)"), "\(missing.stderr)")
        #expect(missing.stderr.contains("hint: set NIXACTIONS_NIX_LIB to the nix/ folder"), "\(missing.stderr)")

        // A library others can change is not used: its files would run as this user (audit 60
        // users H1: one planted in a shared folder ran another user's code).
        chmod(temp.path + "/lib/eval.nix", 0o666)
        let open = try await nixactions(["list", "examples/nix/simple.nix"], in: packageDirectory.path,
                                        environment: ["NIXACTIONS_NIX_LIB": temp.path + "/lib"])
        #expect(open.status == 2 && !open.stdout.contains("from-given-lib"), "\(open.stdout)\(open.stderr)")
        #expect(open.stdout.contains("the Nix library in \(temp.path)/lib is not used: '"), "\(open.stdout)")  // list says why
        #expect(open.stdout.contains("/lib/eval.nix' is writable by every user"), "\(open.stdout)")
        chmod(temp.path + "/lib/eval.nix", 0o644)
        chmod(temp.path + "/lib", 0o777)
        let folder = try await nixactions(["list", "examples/nix/simple.nix"], in: packageDirectory.path,
                                          environment: ["NIXACTIONS_NIX_LIB": temp.path + "/lib"])
        #expect(folder.status == 2 && folder.stdout.contains("is writable by every user"), "\(folder.stdout)")
        chmod(temp.path + "/lib", 0o755)
        if geteuid() == 0 {
            chown(temp.path + "/lib/eval.nix", 65534, 65534)
            let owned = try await nixactions(["list", "examples/nix/simple.nix"], in: packageDirectory.path,
                                             environment: ["NIXACTIONS_NIX_LIB": temp.path + "/lib"])
            #expect(owned.status == 2 && owned.stdout.contains("/lib/eval.nix' belongs to "), "\(owned.stdout)")
        }
    }

    @Test("envProviders.required: a name missing everywhere stops the run before any job (exit 2); --env provides it")
    func requiredVariables() async throws {
        guard nixAvailable() else { return }
        let scenario = try Scenario()
        defer { scenario.remove() }
        let workflow = """
            { nixactions, ... }:
            nixactions.mkWorkflow {
              envFrom = [ (nixactions.envProviders.static { A = "from static"; }) (nixactions.envProviders.required [ "A" "NXA_REQUIRED_NAME" ]) ];
              jobs.a.actions = [ { bash = ''echo "$A and $NXA_REQUIRED_NAME"''; } ];
            }
            """
        let missing = try await scenario.run(workflow, file: "req.nix")
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("required variable not set: NXA_REQUIRED_NAME"), "\(missing.stderr)")
        #expect(!missing.stdout.contains("job 'a' started"))
        let given = try await scenario.run(workflow, ["--env", "NXA_REQUIRED_NAME=given"], file: "req.nix")
        #expect(given.status == 0, "\(given.stdout)\(given.stderr)")
        #expect(given.stdout.contains("[a] from static and given"), "\(given.stdout)")
    }

    @Test("precedence as the original's: each level's env over its envFrom, a job's envFrom over the workflow's env; actions.checkout says so and lists the workspace (audit 48)")
    func envFromUnderEnv() async throws {
        guard nixAvailable() else { return }
        let scenario = try Scenario()
        defer { scenario.remove() }
        let workflow = """
            { nixactions, ... }:
            nixactions.mkWorkflow {
              env = { SHARED = "workflow env"; W = "workflow env"; };
              envFrom = [ (nixactions.envProviders.static { SHARED = "workflow envFrom"; W = "workflow envFrom"; ONLY = "from envFrom"; }) ];
              jobs.a = {
                env = { J = "job env"; };
                envFrom = [ (nixactions.envProviders.static { J = "job envFrom"; SHARED = "job envFrom"; }) ];
                actions = [ nixactions.actions.checkout { bash = ''echo "SHARED=$SHARED W=$W J=$J ONLY=$ONLY"''; } ];
              };
            }
            """
        let result = try await scenario.run(workflow, file: "prec.nix")
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[a] SHARED=job envFrom W=workflow env J=job env ONLY=from envFrom\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] → Checking out code\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] total "), "ls -la of the workspace: \(result.stdout)")
    }

    @Test("a variable of the environment that the workflow's env hides: a warning at its line, as the original let the environment win there; a job's or an action's env, which the original exported over it, gets none (audit 58 L1)")
    func shadowedVariables() async throws {
        guard nixAvailable() else { return }
        let scenario = try Scenario()
        defer { scenario.remove() }
        let path = try scenario.temp.write("shadow.nix", """
            { nixactions, ... }:
            nixactions.mkWorkflow {
              env = { NXA_W = "workflow"; };
              jobs.build = {
                env = { NXA_J = "job"; };
                actions = [ { name = "greet"; env = { NXA_A = "action"; }; bash = ''echo "$NXA_W $NXA_J $NXA_A"''; } ];
              };
            }
            """)
        let result = try await nixactions(["run", path, "--log-dir", scenario.logs, "--log-format", "plain"], in: scenario.project,
                                          environment: ["NXA_W": "outside", "NXA_J": "outside", "NXA_A": "outside"])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[build] workflow job action\n"), "\(result.stdout)")
        #expect(result.stderr.contains("shadow.nix:3:"), "\(result.stderr)")
        #expect(result.stderr.contains("warning: NXA_W is set in the environment nixactions runs in and in the workflow's env or envFrom; that value is used"), "\(result.stderr)")
        #expect(!result.stderr.contains("warning: NXA_J ") && !result.stderr.contains("warning: NXA_A "), "\(result.stderr)")
    }

    @Test("each example evaluates to the JSON kept next to it, and the failing fixtures fail with Nix's message (nix/expected.sh --check)")
    func expectedJSON() async throws {
        guard nixAvailable() else { return }
        let result = try await runCommand(URL(fileURLWithPath: "/bin/sh"), [packageDirectory.path + "/nix/expected.sh", "--check"], in: packageDirectory.path)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("ok   examples/nix/env-sharing.nix"), "\(result.stdout)")
        #expect(result.stdout.contains("ok   Tests/Fixtures/nix-invalid/missing-semicolon.nix"), "\(result.stdout)")
    }

    @Test("with a nixpkgs on NIX_PATH, pkgs is the real one: deps and ${pkgs.X} are built when the job starts and are on its PATH")
    func realNixpkgs() async throws {
        guard nixAvailable() else { return }
        let scenario = try Scenario()
        defer { scenario.remove() }
        let nonce = String(UUID().uuidString.prefix(8)).lowercased()
        try FileManager.default.createDirectory(atPath: scenario.temp.path + "/nixpkgs", withIntermediateDirectories: true)
        _ = try scenario.temp.write("nixpkgs/default.nix", """
            { ... }:
            let tool = name: text: derivation {
              inherit name; system = builtins.currentSystem; builder = "/bin/sh";
              args = [ "-c" "/bin/mkdir -p $out/bin; printf '#!/bin/sh\\\\necho ${text}\\\\n' > $out/bin/${name}; /bin/chmod +x $out/bin/${name}" ];
            }; in {
              cowsay = tool "nxa-cowsay-\(nonce)" "moo from nixpkgs";
              figlet = tool "nxa-figlet-\(nonce)" "figlet from nixpkgs";
            }
            """)
        let workflow = """
            { pkgs, nixactions, ... }:
            nixactions.mkWorkflow {
              jobs.a.actions = [ { deps = [ pkgs.cowsay ]; bash = "nxa-cowsay-\(nonce) && ${pkgs.figlet}/bin/nxa-figlet-\(nonce)"; } ];
              jobs.b.actions = [ { bash = "command -v nxa-cowsay-\(nonce) || echo no cowsay in b"; } ];
              # The original's nixShell: built from nixpkgs, on PATH for the rest of the job (Nix audit 58 H2).
              jobs.c.actions = [ (nixactions.actions.nixShell [ "figlet" ]) { bash = "nxa-figlet-\(nonce) in c"; } ];
              # A derivation as a step (the original's actions as derivations, Nix audit 58 M3): its program runs.
              jobs.d.steps = [ pkgs.cowsay ];
            }
            """
        var environment = nixTestEnvironment
        environment["NIX_PATH"] = "nixpkgs=" + scenario.temp.path + "/nixpkgs"
        let path = try scenario.temp.write("ci.nix", workflow)
        let result = try await nixactions(["run", path, "--log-dir", scenario.logs], in: scenario.project, environment: environment)
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[a] moo from nixpkgs"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] figlet from nixpkgs"), "\(result.stdout)")
        #expect(result.stdout.contains("[b] no cowsay in b"), "\(result.stdout)")
        #expect(result.stdout.contains("[c] figlet from nixpkgs"), "\(result.stdout)")
        // d's own lines in order (another job's lines may come between them).
        let dLines = result.stdout.split(separator: "\n").filter { $0.hasPrefix("[d] ") }.joined(separator: "\n")
        #expect(dLines.contains("[d] > nxa-cowsay-\(nonce)\n[d] moo from nixpkgs"), "\(result.stdout)")
        #expect(!result.stderr.contains("deps:"), "real packages are built, not warned about: \(result.stderr)")
    }

    @Test("nixShell without a nixpkgs: the step checks each tool on PATH and fails naming the one missing (Nix audit 58 H2: it passed, the next step failed)")
    func nixShellWithoutNixpkgs() async throws {
        guard nixAvailable() else { return }
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            { nixactions, ... }:
            nixactions.mkWorkflow {
              jobs.a.actions = [ (nixactions.actions.nixShell [ "coreutils" "nxa-surely-missing" ]) { name = "after"; bash = "echo never"; } ];
              jobs.b.actions = [ (nixactions.actions.nixShell [ "coreutils" ]) { bash = "echo tools there"; } ];
            }
            """, file: "ci.nix")
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[a] nix-shell: nxa-surely-missing is not on PATH ('nxa-surely-missing' not found), and there is no nixpkgs to build it from (NIX_PATH)"),
                "\(result.stdout)")
        #expect(result.stdout.contains("[a] ✗ nix-shell (exit code 127") && !result.stdout.contains("[a] never"), "\(result.stdout)")
        #expect(result.stdout.contains("[b] tools there\n"), "\(result.stdout)")
    }

    @Test("an action's timeout covers its retries and the waits between them, as the original timed a whole action")
    func timeoutCoversRetries() async throws {
        guard nixAvailable() else { return }
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            { nixactions, ... }:
            nixactions.mkWorkflow {
              jobs.a.actions = [ { name = "flaky"; timeout = 3; retry = { max_attempts = 3; backoff = "constant"; min_time = 1; }; bash = "echo try; sleep 2; exit 1"; } ];
            }
            """, file: "ci.nix")
        let elapsed = result.seconds
        #expect(result.status == 1)
        #expect(result.stdout.contains("step 'flaky' timed out after 3s"), "\(result.stdout)")
        // Each attempt timed alone would be 2 s + 1 s + 2 s + 1 s + 2 s.
        #expect(elapsed < 6, "took \(elapsed) s")
    }

    @Test("pkgs.writeText and writeShellScript of the stand-in pkgs become files of the run's private folder (0600, a script 0700; folder 0700), usable as an env file and in a command, removed with the run; validate and --dry-run write none (audit 58 H3: world-readable in the project, kept)")
    func writtenFiles() async throws {
        guard nixAvailable() else { return }
        let scenario = try Scenario()
        defer { scenario.remove() }
        let workflow = """
            { pkgs, nixactions, ... }:
            let
              envFile = pkgs.writeText "test.env" ''
                FROM_FILE=from the file
                ODD=100% @home
              '';
              script = pkgs.writeShellScript "hello" "echo hello from a written script";
            in
            nixactions.mkWorkflow {
              envFrom = [ (nixactions.envProviders.file { path = envFile; required = true; }) ];
              jobs.a.actions = [ { bash = ''echo "$FROM_FILE / $ODD"; grep -c FROM_FILE ${envFile}; ${script}; stat -c 'modes %a' ${envFile} ${script} "$(dirname ${envFile})"; echo "in ${envFile}"''; } ];
            }
            """
        let result = try await scenario.run(workflow, file: "ci.nix")
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[a] from the file / 100% @home"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] 1\n"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] hello from a written script"), "\(result.stdout)")
        #expect(result.stdout.contains("[a] modes 600\n[a] modes 700\n[a] modes 700\n"), "\(result.stdout)")
        let folder = result.stdout.split(separator: "\n").first { $0.hasPrefix("[a] in /") }.map { (String($0.dropFirst("[a] in ".count)) as NSString).deletingLastPathComponent } ?? ""
        #expect(folder.contains("/nixactions-nix-files-"), "\(result.stdout)")
        #expect(!folder.isEmpty && !FileManager.default.fileExists(atPath: folder), "the written files' folder was left: \(folder)")
        #expect(!FileManager.default.fileExists(atPath: scenario.project + "/.nixactions/nix-files"), "written into the project")
        // validate and a dry run write nothing.
        try scenario.temp.write("check.nix", workflow)
        try FileManager.default.createDirectory(atPath: scenario.temp.path + "/tmp", withIntermediateDirectories: true)
        for arguments in [["validate", scenario.temp.path + "/check.nix"], ["run", scenario.temp.path + "/check.nix", "--dry-run"]] {
            let checked = try await nixactions(arguments, in: scenario.project, environment: ["TMPDIR": scenario.temp.path + "/tmp"])
            #expect(checked.status == 0, "\(arguments): \(checked.stdout)\(checked.stderr)")
        }
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: scenario.temp.path + "/tmp")) ?? []).isEmpty)
        #expect(!FileManager.default.fileExists(atPath: scenario.project + "/.nixactions/nix-files"))

        // The builders are refused when evaluated, saying why (docs/nix.md).
        let refused = try await scenario.run("""
            { pkgs, nixactions, ... }:
            nixactions.mkWorkflow {
              jobs.a.actions = [ { bash = "${pkgs.runCommand "x" { } "touch $out"}"; } ];
            }
            """, file: "builder.nix")
        #expect(refused.status == 2, "\(refused.stdout)\(refused.stderr)")
        #expect(refused.stderr.contains("pkgs.runCommand builds a derivation; the stand-in pkgs of NixActions has no nixpkgs"), "\(refused.stderr)")
    }

    @Test("a package or written script as a step runs its program (the original's actions as derivations, Nix audit 58 M3: four errors without a line); writeShellScriptBin of the stand-in pkgs is a folder with bin/NAME")
    func programSteps() async throws {
        guard nixAvailable() else { return }
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            { pkgs, nixactions, ... }:
            let tool = pkgs.writeShellScriptBin "nxa-tool" "echo tool with $# arguments"; in
            nixactions.mkWorkflow {
              jobs.a.steps = [
                (pkgs.writeShellScriptBin "lint" "echo linting; exit 3")
              ];
              jobs.b.actions = [
                (pkgs.writeShellScript "fmt" "echo 'formatting'")
                (pkgs.writeShellScriptBin "it's mine" "echo a program named with a quote and a space")
                { bash = "${tool}/bin/nxa-tool x y; ls ${tool}/bin; stat -c %a ${tool} ${tool}/bin ${tool}/bin/nxa-tool | tr '\\n' ' '; echo"; }
                pkgs.coreutils
              ];
            }
            """, file: "ci.nix")
        #expect(result.status == 1, "\(result.stdout)\(result.stderr)")
        // Each job's lines (the two run at once).
        func lines(_ job: String) -> String {
            result.stdout.split(separator: "\n").filter { $0.hasPrefix("[\(job)] ") }.map { String($0) + "\n" }.joined()
        }
        #expect(lines("a").hasPrefix("[a] > lint\n[a] linting\n[a] ✗ lint (exit code 3"), "\(result.stdout)")
        #expect(lines("b").hasPrefix("[b] > fmt\n[b] formatting\n"), "\(result.stdout)")  // the script's quotes kept (review 60 H1)
        #expect(lines("b").contains("[b] a program named with a quote and a space\n"), "\(result.stdout)")
        #expect(lines("b").contains("[b] tool with 2 arguments\n[b] nxa-tool\n[b] 700 700 700 \n"), "\(result.stdout)")
        #expect(lines("b").contains("[b] ✓ coreutils"), "\(result.stdout)")  // a package of PATH: its program (ls) runs
        #expect(!result.stderr.contains("error"), "\(result.stderr)")
        // validate is clean too: no 'unknown key', no 'has no bash'.
        let checked = try await nixactions(["validate", scenario.temp.path + "/ci.nix"], in: scenario.project)
        #expect(checked.status == 0 && !checked.stderr.contains("warning"), "\(checked.stdout)\(checked.stderr)")
    }

    @Test("a Nix evaluation that prints more than 16 MiB is ended with an error saying so, exit 2 (audit 55 H2: read whole, then out of memory)")
    func nixOutputLimit() async throws {
        guard nixAvailable() else { return }
        let scenario = try Scenario()
        defer { scenario.remove() }
        // A 32 MiB script from a 150-byte file.
        let big = try scenario.temp.write("project/big.nix", """
            { nixactions, ... }: let s = n: if n == 0 then "x" else let t = s (n - 1); in t + t; in
            nixactions.mkWorkflow { name = "big"; jobs.a.actions = [ { bash = s 25; } ]; }
            """)
        let result = try await nixactions(["validate", big], in: scenario.project)
        #expect(result.status == 2, "\(result.stderr.prefix(2000))")
        #expect(result.stderr.contains("error: the Nix evaluation of '\(big)' printed more than 16 MiB; it was ended"), "\(result.stderr.prefix(2000))")
        #expect(result.stderr.utf8.count < 10_000)
    }

    /// A workflow whose name is the sum of a list of `count` numbers: slow to evaluate, and its
    /// heap grows with `count`.
    static func summing(_ count: Int) -> String {
        """
        { nixactions, ... }: nixactions.mkWorkflow {
          name = toString (builtins.foldl' (a: b: a + b) 0 (builtins.genList (x: x) \(count)));
          jobs.a.actions = [ { bash = "true"; } ];
        }
        """
    }

    @Test("a Nix evaluation that grows without end stops at its heap limit (GC_MAXIMUM_HEAP_SIZE, 2G unless given) with exit 2 and a hint naming it (audit 58 M6: 3.3 GB in 3 s, growing)")
    func nixHeapLimit() async throws {
        guard nixAvailable() else { return }
        let scenario = try Scenario()
        defer { scenario.remove() }
        let huge = try scenario.temp.write("project/huge.nix", Self.summing(200_000_000))
        let clock = ContinuousClock(), started = clock.now
        let result = try await nixactions(["validate", huge], in: scenario.project, environment: ["GC_MAXIMUM_HEAP_SIZE": "256M"])
        #expect(result.status == 2, "\(result.stderr.prefix(2000))")
        #expect(result.stderr.contains("error: out of memory"), "\(result.stderr.prefix(2000))")
        #expect(result.stderr.contains("hint: the evaluation may use at most 256M of heap (GC_MAXIMUM_HEAP_SIZE sets it); look for a value that grows without end"),
                "\(result.stderr.prefix(2000))")
        #expect(clock.now - started < .seconds(60))
    }

    @Test("odd inputs: Ctrl-C, SIGTERM or SIGHUP while Nix evaluates ends it (130 for each, audit 55 H3: 143 and 129; nothing left), so does SIGKILL (its home swept by the next run), writeText names with ':', matrix values with dots, a flake reference that is an option")
    func oddInputs() async throws {
        guard nixAvailable() else { return }
        let scenario = try Scenario()
        defer { scenario.remove() }
        // Interrupted evaluation: nix-instantiate is in a process group of its own.
        let slow = try scenario.temp.write("project/slow.nix", Self.summing(30_000_000))
        // Watched and signalled from a thread of its own (`signalWhen`): from a test task, the signal
        // could come after the evaluation had ended.
        let found = Mutex<pid_t>(0)
        let evaluating: @Sendable () -> Bool = {
            let line = SSHServer.processes(matching: "nix-instantiate.*\(slow)").first ?? ""
            let pid = pid_t(line.split(separator: " ").first ?? "") ?? 0
            found.withLock { $0 = pid }
            return pid != 0
        }
        for signal in [SIGINT, SIGTERM, SIGHUP] {
            found.withLock { $0 = 0 }
            let errorsPath = scenario.temp.path + "/errors-\(signal).txt"
            _ = FileManager.default.createFile(atPath: errorsPath, contents: nil)
            let errors = try FileHandle(forWritingTo: URL(fileURLWithPath: errorsPath))
            let process = try LaunchedProcess([nixactionsBinary.path, "validate", slow], in: scenario.project,
                                              environment: ProcessInfo.processInfo.environment, errors: errors)
            try? errors.close()
            let sent = await signalWhen(process, signal, timeout: .seconds(20), evaluating)
            let child = found.withLock { $0 }
            #expect(sent != nil && child != 0, "nix-instantiate started (signal \(signal))")
            await waitForExit(process)
            #expect(process.terminationStatus == 130, "signal \(signal)")
            // Said (Nix audit 58 L7: 130 without a word).
            let said = (try? String(contentsOfFile: errorsPath, encoding: .utf8)) ?? ""
            #expect(said.contains("nixactions: cancelled (signal \(signal)) while Nix evaluated the workflow"), "\(said)")
            try await Task.sleep(for: .milliseconds(200))
            #expect(child == 0 || !isRunning(child), "nix-instantiate ended with the command (signal \(signal))")
        }
        let homes = ((try? FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())) ?? []).filter { $0.hasPrefix("nixactions-nix-") }
        #expect(homes.isEmpty, "\(homes)")

        // Killed with SIGKILL while Nix evaluates: nix-instantiate dies with it, and the home it
        // leaves behind is removed by the next evaluation (the one below).
        let killed = try LaunchedProcess([nixactionsBinary.path, "validate", slow], in: scenario.project,
                                         environment: ProcessInfo.processInfo.environment)
        found.withLock { $0 = 0 }
        let killSent = await signalWhen(killed, SIGKILL, timeout: .seconds(20), evaluating)
        let orphan = found.withLock { $0 }
        #expect(killSent != nil && orphan != 0, "nix-instantiate started")
        await waitForExit(killed)
        _ = await eventually(timeout: .seconds(5)) { orphan == 0 || !isRunning(orphan) }
        #expect(orphan == 0 || !isRunning(orphan), "nix-instantiate outlived the killed nixactions")
        if orphan != 0 && isRunning(orphan) { kill(orphan, SIGKILL) }
        let leftHomes = ((try? FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())) ?? []).filter { $0.hasPrefix("nixactions-nix-") }

        let result = try await scenario.run("""
            { pkgs, nixactions, ... }:
            let note = pkgs.writeText "a:b.txt" "x:y@z"; in
            nixactions.mkWorkflow {
              jobs = nixactions.mkMatrixJobs {
                name = "test";
                matrix = { python = [ "3.11" "3.12" ]; };
                jobTemplate = { python }: { actions = [ { bash = "echo python ${python}; cat ${note}; echo"; } ]; };
              };
            }
            """, file: "ci.nix")
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[test-python-3_11] python 3.11"), "\(result.stdout)")
        #expect(result.stdout.contains("[test-python-3_12] x:y@z"), "\(result.stdout)")
        #expect(!leftHomes.isEmpty, "the killed evaluation left its home (only the next one removes it)")
        let stillThere = leftHomes.filter { FileManager.default.fileExists(atPath: NSTemporaryDirectory() + "/" + $0) }
        #expect(stillThere.isEmpty, "the killed evaluation's home was not swept: \(stillThere)")

        let flake = try await scenario.run("""
            jobs:
              a:
                nix: { flake: "--version" }
                steps:
                  - run: "true"
            """)
        #expect(flake.status == 2)
        #expect(flake.stderr.contains("'--version' is not a flake reference"), "\(flake.stderr)")
    }

    @Test("the library's other pieces: extensions, requireEnv, nixShell, oci and local options, logging, mkExecutor; nix where nix-build is missing")
    func libraryPieces() async throws {
        guard nixAvailable() else { return }
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            { pkgs, nixactions, ... }:
            nixactions.mkWorkflow {
              name = "pieces";
              logging = { format = "json"; };
              extensions = [ (w: w // { env = (w.env or { }) // { FROM_EXTENSION = "yes"; }; }) ];
              jobs.a = {
                executor = nixactions.executors.local { name = "shared"; };
                actions = [
                  (nixactions.actions.requireEnv [ "FROM_EXTENSION" ])
                  (nixactions.actions.nixShell [ "bash" ])
                  { bash = ''echo "extension: $FROM_EXTENSION"''; }
                ];
              };
            }
            """, file: "ci.nix")
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.contains("[a] extension: yes"), "\(result.stdout)")
        #expect(result.stderr.contains("'logging' of the original is not used"), "\(result.stderr)")
        #expect(result.stderr.contains("executors.local: 'name' (a workspace shared between jobs) is not supported"), "\(result.stderr)")

        // An extension that rebuilds every job (the original's documented addTimeout pattern)
        // keeps the jobs in the order written, placed where written (Nix audit 65 L1: at its line).
        let rebuilding = """
            { nixactions, ... }:
            let addTimeout = wf: wf // { jobs = builtins.mapAttrs (n: j: j // { timeout = j.timeout or 20; }) wf.jobs; };
            in nixactions.mkWorkflow {
              extensions = [ addTimeout ];
              jobs.zeta.actions = [ { bash = "true"; } ];
              jobs.alpha.actions = [ { bash = "true"; } ];

            """
        let rebuilt = try await scenario.run(rebuilding + "  jobs.mid = { needs = [ \"nope\" ]; actions = [ { bash = \"true\"; } ]; };\n}\n",
                                             ["--dry-run"], file: "ext.nix")
        #expect(rebuilt.status == 2, "\(rebuilt.stdout)\(rebuilt.stderr)")
        #expect(rebuilt.stderr.contains("ext.nix:7:") && rebuilt.stderr.contains("needs 'nope'"), "at the job's line: \(rebuilt.stderr)")
        try (rebuilding + "}\n").write(toFile: scenario.project + "/ext2.nix", atomically: true, encoding: .utf8)
        let order = try await nixactions(["list", "ext2.nix"], in: scenario.project, environment: nixTestEnvironment)
        #expect(order.status == 0, "\(order.stderr)")
        let zeta = order.stdout.range(of: "zeta"), alpha = order.stdout.range(of: "alpha")
        #expect(zeta != nil && alpha != nil && zeta!.lowerBound < alpha!.lowerBound, "in the order written: \(order.stdout)")

        let refused = try await scenario.run("""
            { nixactions, ... }:
            nixactions.mkWorkflow {
              jobs.a = { executor = nixactions.executors.oci { extraPackages = [ "x" ]; mode = "shared"; }; actions = [ { bash = "true"; } ]; };
              jobs.b = { executor = nixactions.executors.oci { image = "debian:stable"; containerEnv = { A = "1"; }; }; actions = [ { bash = "true"; } ]; };
            }
            """, ["--dry-run"], file: "oci.nix")
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("executors.oci needs an 'image' here"), "\(refused.stderr)")
        // An option the original's executor does not have is an error, not dropped (audit 61 input H4).
        let unknown = try await scenario.run("""
            { nixactions, ... }:
            nixactions.mkWorkflow {
              jobs.a = { executor = nixactions.executors.local { copyRepos = false; }; actions = [ { bash = "true"; } ]; };
              jobs.b = { executor = nixactions.executors.oci { image = "debian:stable"; bogus = 1; }; actions = [ { bash = "true"; } ]; };
            }
            """, ["--dry-run"], file: "unknown.nix")
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("error: executors.local: unknown option 'copyRepos'") && unknown.stderr.contains("did you mean 'copyRepo'?"),
                "\(unknown.stderr)")
        #expect(unknown.stderr.contains("error: executors.oci: unknown option 'bogus'")
                && unknown.stderr.contains("its options: containerEnv, copyRepo, extraMounts, extraPackages, image, mode, name"), "\(unknown.stderr)")
        let missingRequired = try await scenario.run("""
            { nixactions, ... }:
            nixactions.mkWorkflow { jobs.a.actions = [ (nixactions.actions.requireEnv [ "NXA_SURELY_UNSET" ]) ]; }
            """, file: "req.nix")
        #expect(missingRequired.status == 1)
        #expect(missingRequired.stdout.contains("required variable NXA_SURELY_UNSET is not set"), "\(missingRequired.stdout)")
        let mkExecutor = try await scenario.run("""
            { nixactions, ... }:
            nixactions.mkWorkflow { jobs.a = { executor = nixactions.mkExecutor { name = "x"; }; actions = [ { bash = "true"; } ]; }; }
            """, file: "exec.nix")
        #expect(mkExecutor.status == 2)
        #expect(mkExecutor.stderr.contains("mkExecutor (executors written as bash hooks in Nix) is not supported"), "\(mkExecutor.stderr)")

        // nix: where the job runs has no nix-build: the job fails saying so.
        let bin = scenario.temp.path + "/bin"
        try FileManager.default.createDirectory(atPath: bin, withIntermediateDirectories: true)
        for tool in ["bash", "sh", "env"] {
            try FileManager.default.createSymbolicLink(atPath: bin + "/" + tool, withDestinationPath: try #require(testTool(tool)))
        }
        let path = try scenario.temp.write("wf.yml", """
            jobs:
              a:
                nix: { packages: [hello] }
                steps:
                  - run: echo must not run
            """)
        let noNix = try await nixactions(["run", path, "--log-dir", scenario.logs], in: scenario.project, environment: ["PATH": bin])
        #expect(noNix.status == 1)
        #expect(noNix.stdout.contains("nix-build is not installed where this job runs (Debian: apt install nix-bin"), "\(noNix.stdout)")
    }
}
}
