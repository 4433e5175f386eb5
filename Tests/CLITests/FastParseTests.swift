import ArgumentParser
import Testing
import TestSupport

@testable import NixActionsCLI

/// `RunCommand.fastParse` reads what `RunCommand.parse` reads, or leaves the arguments to it.
@Suite struct FastParseTests {
    /// Everything a parsed `run` holds, as text.
    static func describe(_ command: RunCommand) -> String {
        let events = command.events
        return [
            "workflow=\(command.workflow)", "jobs=\(command.jobs)", "maxJobs=\(String(describing: command.maxJobs))",
            "env=\(command.env)", "envFiles=\(command.envFiles)", "secrets=\(command.secrets)",
            "secretFiles=\(command.secretFiles)", "logFormat=\(String(describing: command.logFormat))",
            "logDirectory=\(command.logDirectory)", "dryRun=\(command.dryRun)", "workingTree=\(command.workingTree)",
            "config=\(String(describing: command.config))", "runners=\(command.runners)",
            "event=\(events.event)", "eventPath=\(String(describing: events.eventPath))", "inputs=\(events.inputs)",
            "vars=\(events.vars)", "varFiles=\(events.varFiles)",
        ].joined(separator: " ")
    }

    /// True when some property wrapper inside `value` was never given a value (reading it would
    /// stop the program): ArgumentParser keeps such a wrapper in its `definition` case.
    static func hasUnsetProperty(_ value: Any) -> Bool {
        let mirror = Mirror(reflecting: value)
        for child in mirror.children {
            if mirror.displayStyle == .enum && child.label == "definition" { return true }
            if hasUnsetProperty(child.value) { return true }
        }
        return false
    }

    @Test func theUsualSpellingsTakeTheFastPathAndMatchArgumentParser() throws {
        let usual: [[String]] = [
            ["g.yml"],
            ["g.yml", "--log-format", "plain", "--log-dir", "logs", "-j", "2"],
            ["g.yml", "build", "test", "-j2", "--dry-run"],
            ["g.yml", "--keep-artifacts", "--log-format", "plain"],
            ["--jobs=4", "ci", "--env", "A=1", "--env=B=2", "--working-tree", "lint"],
            ["g.yml", "--secret", "TOKEN", "--secret-file", "s.env", "--env-file", "e.env", "--config", "c.yml"],
            ["g.yml", "--runner", "ubuntu-latest=local", "--event", "pull_request", "--event-path", "e.json"],
            ["g.yml", "--input", "name=x", "--var", "V=1", "--var-file", "v.env", "--log-format=json"],
            ["g.yml", "--actions-url", "git://127.0.0.1:9418", "build"],
            ["g.yml", "--keep-logs", "20"], ["g.yml", "--keep-logs=all", "-j2"],
        ]
        #expect(Self.hasUnsetProperty(RunCommand()), "the check must see a property never set")
        for arguments in usual {
            let fast = try #require(RunCommand.fastParse(arguments), "not taken by the fast path: \(arguments)")
            let full = try RunCommand.parse(arguments)
            #expect(Self.describe(fast) == Self.describe(full), "\(arguments)")
            #expect(!Self.hasUnsetProperty(fast), "\(arguments)")
        }
    }

    @Test func whatItDoesNotTakeGoesToArgumentParser() {
        let unusual: [[String]] = [
            [], ["--help"], ["-h"], ["--version"], ["g.yml", "--"], ["g.yml", "--", "-x"], ["g.yml", "--nope"],
            ["g.yml", "-x"], ["g.yml", "--log-dir"], ["g.yml", "--log-dir", "-x"], ["g.yml", "--env="],
            ["g.yml", "-j", "0"], ["g.yml", "-jx"], ["g.yml", "--log-format", "xml"], ["g.yml", "--env", "NOEQUALS"],
            ["g.yml", "--log-dir", "a", "--log-dir", "b"], ["g.yml", "--dry-run=true"], ["g.yml", "--dry-run", "--dry-run"], ["g.yml", "--keep-artifacts=1"],
            ["g.yml", "--runner", "nolabel"], ["g.yml", "--secret", "1BAD"], ["g.yml", "--event", "a b"],
            ["g.yml", "--input", "=x"], ["g.yml", "--var", "1=x"], ["g.yml", "--keep-logs", "0"], ["g.yml", "--keep-logs", "some"],
        ]
        for arguments in unusual {
            #expect(RunCommand.fastParse(arguments) == nil, "\(arguments)")
        }
    }

    /// Random argument lists from a pool of tokens: whenever the fast path answers, ArgumentParser
    /// gives the same command, and nothing is left unset.
    @Test func generatedArgumentListsAgreeWithArgumentParser() {
        let pool = [
            "g.yml", "build", "test", "-j", "2", "-j3", "--jobs", "--jobs=5", "--env", "A=1", "--env=B=2", "--env-file", "e.env",
            "--secret", "TOKEN", "T2=v", "--secret-file", "s.env", "--log-format", "plain", "json", "--log-format=human",
            "--log-dir", "logs", "--log-dir=l2", "--dry-run", "--working-tree", "--keep-artifacts", "--config", "c.yml", "--runner", "x=local",
            "--event", "push", "--event=pull_request", "--event-path", "e.json", "--input", "i=1", "--var", "V=1",
            "--var-file", "v.env", "--actions-url", "https://example.test", "--actions-url=/srv/git", "--", "-x", "", "--nope", "=", "-",
            "-j0", "help", "--keep-logs", "3", "--keep-logs=all",
        ]
        var generator = SplitMix64(seed: 0x6e78_6166_6173_7470)
        var taken = 0
        for _ in 0..<4000 {
            let count = Int(generator.next() % 9)
            let arguments = (0..<count).map { _ in pool[Int(generator.next() % UInt64(pool.count))] }
            guard let fast = RunCommand.fastParse(arguments) else { continue }
            taken += 1
            guard let full = try? RunCommand.parse(arguments) else {
                Issue.record("the fast path took \(arguments), which ArgumentParser refuses")
                continue
            }
            #expect(Self.describe(fast) == Self.describe(full), "\(arguments)")
            #expect(!Self.hasUnsetProperty(fast), "\(arguments)")
        }
        #expect(taken > 200, "the generated lists should exercise the fast path (taken: \(taken))")
    }

    @Test func validateTakesFileNamesAndLeavesTheRest() throws {
        for arguments in [["g.yml"], ["a.yml", "b.yml", "ci"], ["help"]] {
            let fast = try #require(ValidateCommand.fastParse(arguments), "\(arguments)")
            #expect(fast.workflows == (try ValidateCommand.parse(arguments)).workflows)
            #expect(!Self.hasUnsetProperty(fast))
        }
        for arguments in [[], ["--help"], ["-h"], ["g.yml", "--nope"], ["-"], [""], ["--", "g.yml"]] {
            #expect(ValidateCommand.fastParse(arguments) == nil, "\(arguments)")
        }
    }
}
