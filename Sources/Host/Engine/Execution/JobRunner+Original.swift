import Foundation
import NixActionsPluginMessages
import NixActionsProcessKit

/// The original NixActions' meanings for jobs of a `.nix` workflow (`OriginalSemantics`), and
/// `nix:` packages, which YAML workflows have too.
extension JobRunner {
    /// The file `$JOB_ENV` names in a job of a `.nix` workflow: one per job, in its temporary folder.
    static func jobEnvFile(_ started: JobStarted) -> String { "\(started.temporaryDirectory)/nixactions-job-env" }

    /// Sources `$JOB_ENV` (exporting what it sets) before a step's own script, as the original did.
    /// The file exists from the job's start, empty, as in the original (`[ -f "$JOB_ENV" ]` holds).
    /// On the script's first line, so that bash's line numbers in errors are the script's own.
    static let jobEnvPrologue = "[ -e \"$JOB_ENV\" ] || : > \"$JOB_ENV\"; set -a; . \"$JOB_ENV\"; set +a; "

    /// The variables the original exported to every action: the run's id and name, the job's folder.
    func defineOriginalVariables(_ environment: inout [String: String], started: JobStarted) {
        guard job.original != nil else { return }
        environment["JOB_ENV"] = Self.jobEnvFile(started)
        environment["JOB_DIR"] = started.workspace
        environment["WORKFLOW_ID"] = options.runID
        environment["WORKFLOW_SHORT_ID"] = String(options.runID.suffix(8))
        environment["WORKFLOW_NAME"] = workflow.name
    }

    /// Run `script` with bash in the job (no output shown), for a shell-test condition or a Nix
    /// build. nil: the machinery failed (the reason is the error).
    func runHidden(_ script: String, index: Int, environment: [String: String], workingDirectory: String? = nil,
                   pathPrepend: [String], executor: any Executor, timeout: Duration? = nil) async -> Result<(status: Int32?, sink: CollectedOutput), RunProblem> {
        let sink = CollectedOutput()
        let spec = StepSpec(
            jobKey: executorKey, index: index, displayName: "(condition)", script: script,
            shell: ["bash", "--noprofile", "--norc", "{0}"], scriptExtension: ".sh", environment: environment,
            workingDirectory: workingDirectory, captureFiles: [], pathPrepend: pathPrepend)
        let outcome = await withTimeout(timeout) { () -> Result<(status: Int32?, sink: CollectedOutput), RunProblem> in
            do {
                let result = try await executor.runStep(spec, output: sink)
                return .success((result.succeeded ? 0 : (result.exitCode ?? -1), sink))
            } catch is CancellationError {
                return .failure(RunProblem("cancelled"))
            } catch {
                return .failure(RunProblem(self.describe(error)))
            }
        }
        return outcome ?? .failure(RunProblem("did not finish within \(DurationParser.format(timeout ?? .zero))"))
    }

    /// Whether a shell-test condition holds: bash runs it in the job's workspace with `environment`.
    func shellConditionHolds(_ condition: Located<String>, index: Int, environment: [String: String], started: JobStarted,
                             pathPrepend: [String], executor: any Executor) async -> Result<Bool, RunProblem> {
        var environment = environment
        var script = condition.value + "\n"
        defineOriginalVariables(&environment, started: started)
        // On a line of its own: bash's message about the condition then quotes the condition alone.
        if job.original != nil { script = Self.jobEnvPrologue + "\n" + script }
        switch await runHidden(script, index: index, environment: environment, pathPrepend: pathPrepend, executor: executor) {
        case .success(let (status, sink)):
            // False, as in the original; but a test that could not be evaluated (bash's syntax
            // error, `[` given a bad operand: status 2 and what bash said) is said, with bash's
            // words, not left as a silent skip (audit 58 Nix L3: a typo skipped a deploy step).
            let said = sink.text.trimmingCharacters(in: .whitespacesAndNewlines)
            if status != 0, (status ?? 2) >= 2 || !said.isEmpty {
                let at = condition.location.map { "\($0): " } ?? ""
                // Without the hidden script's path (`/dev/shm/…/step-4-7.sh: line 2: `): the
                // user wrote no such file (Nix audit 65 L6).
                let words = said.split(separator: "\n").prefix(5)
                    .map { $0.replacing(/^\S+: line \d+:[ ]/, with: "") }.joined(separator: " / ")
                reporter.report(.message(job: planned.key, level: .warning, text:
                    "\(at)the condition '\(condition.value)' is taken as false: bash exited with \(status.map(String.init) ?? "no status")"
                        + (words.isEmpty ? "" : " and said: \(words)")))
            }
            return .success(status == 0)
        case .failure(let problem):
            let at = condition.location.map { "\($0): " } ?? ""
            return .failure(RunProblem("\(at)cannot run the condition '\(condition.value)': \(problem.message)"))
        }
    }

    /// The script that builds `nix` with the job's Nix and prints the `bin` folders to put on
    /// PATH, one per line. Names and files travel as arguments, never inside Nix code.
    static func nixBuildScript(_ nix: NixPackages) -> String {
        let quoted = ShellWords.quote
        var lines = [
            "set -eu",
            "if ! command -v nix-build >/dev/null 2>&1; then",
            "  echo 'nix-build is not installed where this job runs (Debian: apt install nix-bin; or see https://nixos.org/download)' >&2",
            "  exit 127",
            "fi",
            "nixactions_bins() { while IFS= read -r out; do if [ -d \"$out/bin\" ]; then printf '%s\\n' \"$out/bin\"; fi; done; }",
        ]
        if !nix.packages.isEmpty {
            let expression = """
                { file, names }:
                let
                  words = text: sep: builtins.filter (w: builtins.isString w && w != "") (builtins.split sep text);
                  source = if file == "" then import <nixpkgs> { }
                    else let imported = import (/. + file); in
                      if builtins.isFunction imported then imported { } else imported;
                  from = if file == "" then "<nixpkgs>" else file;
                  get = name: builtins.foldl'
                    (set: key: set.${key} or (throw "nixactions: no package '${name}' in ${from}"))
                    source (words name "[.]");
                in map get (words names " ")
                """
            lines.append("file=\(quoted(nix.file ?? ""))")
            lines.append("case \"$file\" in ''|/*) ;; *) file=\"$PWD/$file\" ;; esac")
            lines.append("out=$(nix-build --no-out-link -E \(quoted(expression)) --argstr file \"$file\" --argstr names \(quoted(nix.packages.joined(separator: " "))))")
            lines.append("printf '%s\\n' \"$out\" | nixactions_bins")
        }
        if !nix.derivations.isEmpty {
            lines.append("out=$(nix-store --realise \(nix.derivations.map(quoted).joined(separator: " ")))")
            lines.append("printf '%s\\n' \"$out\" | nixactions_bins")
        }
        for flake in nix.flakes {
            // `nix path-info` after the build: Nix 2.8 (Debian's) has no `build --print-out-paths`.
            lines.append("nix --extra-experimental-features 'nix-command flakes' build --no-link \(quoted(flake)) >&2")
            lines.append("out=$(nix --extra-experimental-features 'nix-command flakes' path-info \(quoted(flake)))")
            lines.append("printf '%s\\n' \"$out\" | nixactions_bins")
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// `/nix/store/HASH-jq-1.7.drv` → `jq-1.7`.
    static func derivationName(_ path: String) -> String {
        var name = Substring((path as NSString).lastPathComponent)
        if let dash = name.firstIndex(of: "-") { name = name[name.index(after: dash)...] }
        return String(name.hasSuffix(".drv") ? name.dropLast(4) : name)
    }

    /// Build the job's `nix:` packages where the job runs; the `bin` folders to put first on PATH,
    /// or why the build failed (with Nix's own message).
    func buildNixPackages(_ nix: NixPackages, environment: [String: String], executor: any Executor) async -> Result<[String], RunProblem> {
        let began = ContinuousClock.now
        let what = (nix.packages + nix.flakes + nix.derivations.map(Self.derivationName)).joined(separator: ", ")
        reporter.report(.message(job: planned.key, level: .info, text: "nix: building \(what)"))
        switch await runHidden(Self.nixBuildScript(nix), index: 0, environment: environment, pathPrepend: [], executor: executor) {
        case .failure(let problem):
            return .failure(RunProblem("cannot build the job's Nix packages (\(what)): \(problem.message)"))
        case .success(let (status, sink)):
            guard status == 0 else {
                let lines = sink.text(2).split(separator: "\n", omittingEmptySubsequences: true)
                    .filter { !$0.contains("unable to download 'https://cache.nixos.org") && !$0.hasPrefix("warning: error: unable to download") }
                let message = lines.suffix(30).joined(separator: "\n")
                let at = nix.location.map { "\($0): " } ?? ""
                return .failure(RunProblem("\(at)the job's Nix packages (\(what)) did not build (exit code \(status.map(String.init) ?? "-")):\n\(message)"))
            }
            let bins = sink.text(1).split(separator: "\n").map(String.init).filter { !$0.isEmpty }
            reporter.report(.message(
                job: planned.key, level: .info,
                text: "nix: \(what) ready in \(DurationParser.format(ContinuousClock.now - began)) (\(bins.count) folder\(bins.count == 1 ? "" : "s") on PATH)"))
            return .success(bins)
        }
    }
}
