import Foundation
@testable import NixActionsEngine
import Testing
import TestSupport

/// Plain YAML values read as GitHub's parser reads them (YAML 1.2's core schema), then written
/// back as text where text is needed (audit 48: `env: { V: 1.20 }` was `1.20` here and `1.2` on
/// GitHub, so a workflow that passed here failed there).
@Suite("GitHub's reading of plain YAML numbers and booleans")
struct GitHubScalarsTests {
    @Test("numbers and booleans written back as the runner writes them; text stays text")
    func conversions() {
        let cases: [(String, String?)] = [
            ("1.20", "1.2"), ("3.10", "3.1"), ("1.0", "1"), ("True", "true"), ("FALSE", "false"), ("0x10", "16"), ("0o17", "15"),
            ("010", "10"), ("+1", "1"), ("-0.0", "-0"), ("+0", "0"), (".5", "0.5"), ("1e3", "1000"), ("1e21", "1E+21"), ("1e-5", "1E-05"),
            (".inf", "Infinity"), ("-.Inf", "-Infinity"), (".nan", "NaN"), ("12345678901234567890", "1.23456789012346E+19"),
            // Unchanged, or not numbers in YAML 1.2.
            // -0 is "-0" as .NET Core writes negative zero (audit 58 F3: it was "0").
            ("-0", nil), ("10", nil), ("1.5", nil), ("true", nil), ("1_000", nil), ("yes", nil), ("on", nil), ("1.2.3", nil), ("0x", nil),
            ("0b101", nil), ("1e", nil), (".", nil), ("-", nil), ("v1.0", nil), ("", nil),
        ]
        for (text, expected) in cases {
            #expect(GitHubScalars.text(ofPlain: text) == expected, "\(text)")
        }
    }

    @Test("env values and step inputs: converted, with a warning at the value; quoted ones and expressions untouched")
    func envAndWith() throws {
        let result = WorkflowLoader.load(yaml: """
            env: { A: 1.20, B: True, C: "3.10", D: 0x10, E: 1_000, F: '1.0' }
            jobs:
              a:
                steps:
                  - uses: actions/checkout@v4
                    with: { fetch-depth: 0.0, ref: 3.10 }
                  - run: echo
                    env: { G: 2.50 }
            """, file: "wf.yml")
        let workflow = try #require(result.workflow, "\(result.diagnostics)")
        let env = Dictionary(uniqueKeysWithValues: workflow.env.map { ($0.name, $0.value.source.value) })
        #expect(env == ["A": "1.2", "B": "true", "C": "3.10", "D": "16", "E": "1_000", "F": "1.0"])
        let steps = try #require(workflow.job("a")).steps
        let with = Dictionary(uniqueKeysWithValues: steps[0].with.map { ($0.0, $0.1.source.value) })
        #expect(with == ["fetch-depth": "0", "ref": "3.1"])
        #expect(steps[1].env.first?.value.source.value == "2.5")
        let warnings = result.diagnostics.filter { $0.severity == .warning }.map(\.description)
        #expect(warnings.contains { $0.hasPrefix("wf.yml:1:11: warning: env 'A': GitHub reads 1.20 as the number 1.2, so the value is '1.2'") }, "\(warnings)")
        #expect(warnings.contains { $0.contains("with.ref: GitHub reads 3.10 as the number 3.1") && $0.contains("quote it ('3.10')") }, "\(warnings)")
        #expect(warnings.contains { $0.contains("env 'B': GitHub reads True as the boolean true") }, "\(warnings)")
        #expect(!warnings.contains { $0.contains("env 'C'") || $0.contains("env 'E'") || $0.contains("env 'F'") }, "\(warnings)")
    }

    @Test("plain Null and NULL are null, as ~ and null are (YAML 1.2's core schema, GitHub's MatchNull): empty in env with a warning, null in a matrix; quoted they stay text (audit 58 F2)")
    func nullSpellings() throws {
        let result = WorkflowLoader.load(yaml: """
            env: { A: Null, B: NULL, C: null, D: ~, E: "Null" }
            jobs:
              a:
                strategy: { matrix: { m: [Null, NULL, null, 'NULL'] } }
                steps: [ { run: echo } ]
            """, file: "wf.yml")
        let workflow = try #require(result.workflow, "\(result.diagnostics)")
        let env = Dictionary(uniqueKeysWithValues: workflow.env.map { ($0.name, $0.value.source.value) })
        #expect(env == ["A": "", "B": "", "C": "", "D": "", "E": "Null"])
        let warnings = result.diagnostics.filter { $0.severity == .warning }.map(\.description)
        #expect(warnings.contains { $0.hasPrefix("wf.yml:1:11: warning: env 'A': GitHub reads Null as null, so the value is ''") }, "\(warnings)")
        #expect(warnings.contains { $0.contains("env 'B': GitHub reads NULL as null") }, "\(warnings)")
        #expect(!warnings.contains { $0.contains("env 'C'") || $0.contains("env 'D'") || $0.contains("env 'E'") }, "\(warnings)")
        guard case .literal(let matrix)? = try #require(workflow.job("a")).strategy?.matrix else {
            Issue.record("not a literal matrix")
            return
        }
        #expect(matrix.dimensions.first?.values == [.null, .null, .null, .string("NULL")])
    }

    @Test("matrix values: 010 is 10 and 1_000 is text (YAML 1.2), where YAML 1.1 made them 8 and 1000")
    func matrixValues() throws {
        let result = WorkflowLoader.load(yaml: """
            jobs:
              a:
                strategy: { matrix: { v: [010, 1_000, 3.10, 0x10] } }
                steps: [ { run: echo } ]
            """, file: "wf.yml")
        let job = try #require(result.workflow?.job("a"), "\(result.diagnostics)")
        guard case .literal(let matrix)? = job.strategy?.matrix else {
            Issue.record("not a literal matrix")
            return
        }
        #expect(matrix.dimensions.first?.values == [.number(10), .string("1_000"), .number(3.1), .number(16)])
    }
}
