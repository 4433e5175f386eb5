import Foundation
import Testing
import TestSupport

/// Each workflow of `examples/nix/` written in Nix, in the original NixActions' style, runs with the
/// same outcome as its YAML twin next to it: the exit status, each job's status and the lines
/// the steps print (sorted: parallel jobs interleave).
extension NixSuites {
@Suite("examples/nix: each .nix workflow runs as its YAML twin does")
struct NixExamplesTests {
    static let folder = packageDirectory.path + "/examples/nix"
    static let names: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
        .filter { $0.hasSuffix(".nix") }.map { String($0.dropLast(4)) }.sorted()
    static let environment = ["DEMO_TOKEN": "s3cr3t-demo-token-value"]

    struct Outcome: Equatable, CustomStringConvertible {
        var status: Int32
        var jobs: [String: String]
        var lines: [String]
        var description: String { "exit \(status), jobs \(jobs.sorted { $0.key < $1.key }), lines:\n" + lines.joined(separator: "\n") }
    }

    /// The runner's own lines (step starts and ends, skip reasons, Nix builds) are left out: the
    /// twins name steps differently; what the steps print is compared.
    static func outcome(of result: CommandResult) -> Outcome {
        var jobs: [String: String] = [:]
        var lines: [String] = []
        var inTable = false
        for raw in result.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if raw.hasPrefix("JOB ") && raw.contains("STATUS") { inTable = true; continue }
            if inTable {
                if raw.isEmpty { inTable = false; continue }
                let columns = raw.split(separator: " ", omittingEmptySubsequences: true)
                if columns.count >= 2 { jobs[String(columns[0])] = String(columns[1]) }
                continue
            }
            guard raw.hasPrefix("["), let close = raw.firstIndex(of: "]") else { continue }
            let start = raw.index(close, offsetBy: 2, limitedBy: raw.endIndex) ?? raw.endIndex
            let text = raw[start...]
            if ["> ", "✓ ", "✗ ", "- ", "skipped: ", "nix: "].contains(where: { text.hasPrefix($0) }) { continue }
            lines.append(raw)
        }
        return Outcome(status: result.status, jobs: jobs, lines: lines.sorted())
    }

    @Test("there are Nix examples, each with a YAML twin")
    func twinsExist() {
        #expect(Self.names.count >= 8, "\(Self.names)")
        for name in Self.names {
            #expect(FileManager.default.fileExists(atPath: "\(Self.folder)/\(name).yml"), "examples/nix/\(name).yml")
        }
    }

    @Test("the .nix file and its YAML twin: same exit status, job statuses and printed lines", arguments: names)
    func sameOutcome(name: String) async throws {
        guard nixAvailable() else { return }
        // A project holding only the examples: the jobs copy it (the repository would be copied whole).
        let project = try TemporaryDirectory()
        defer { project.remove() }
        try FileManager.default.createDirectory(atPath: project.path + "/examples", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: Self.folder, toPath: project.path + "/examples/nix")
        let nix = try await nixactions(["run", "examples/nix/\(name).nix", "--log-format", "plain"], in: project.path, environment: Self.environment)
        let yaml = try await nixactions(["run", "examples/nix/\(name).yml", "--log-format", "plain"], in: project.path, environment: Self.environment)
        let fromNix = Self.outcome(of: nix), fromYAML = Self.outcome(of: yaml)
        #expect(!fromNix.jobs.isEmpty && !fromNix.lines.isEmpty, "\(nix.stdout)\n\(nix.stderr)")
        #expect(fromNix == fromYAML, "\(name).nix:\n\(fromNix)\n\n\(name).yml:\n\(fromYAML)\n\nstderr:\n\(nix.stderr)\n\(yaml.stderr)")
        #expect(!nix.stdout.contains(Self.environment["DEMO_TOKEN"]!))
        #expect(!nix.stderr.contains("warning: deps"), "examples use tools that are on PATH: \(nix.stderr)")
    }
}
}
