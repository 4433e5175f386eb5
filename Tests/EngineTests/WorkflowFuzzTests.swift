import Foundation
@testable import NixActionsEngine
import Testing
import TestSupport

/// Random and mutated workflow files through the loader, validator and planner: no crash, and
/// every problem is a diagnostic with a message and a position inside the file.
@Suite("Fuzzing the workflow loader")
struct WorkflowFuzzTests {
    static let seeds: [String] = [
        """
        name: ci
        env: { A: "1", B: ${{ github.workflow }} }
        jobs:
          build:
            outputs: { v: "${{ steps.s.outputs.v }}" }
            timeout: 10m
            steps:
              - id: s
                run: echo "v=1" >> "$GITHUB_OUTPUT"
                retry: { max-attempts: 3, backoff: linear, delay: 1s }
          test:
            needs: [build]
            if: ${{ needs.build.result == 'success' }}
            strategy:
              matrix:
                node: [18, 20]
                include: [ { node: 22, extra: true } ]
                exclude: [ { node: 18 } ]
            steps:
              - run: echo ${{ matrix.node }} ${{ needs.build.outputs.v }}
                if: always()
                continue-on-error: true
              - uses: actions/upload-artifact@v4
                with: { name: x, path: out }
        """,
        """
        jobs:
          a:
            executor: { plugin: local, with: { inherit-env: false } }
            defaults: { run: { shell: sh, working-directory: sub } }
            env:
              X: |
                multi
                line ${{ format('{0}', 'x') }}
            steps:
              - name: ${{ toJSON(github) }}
                run: |
                  echo "${{ fromJSON('[1,2]')[0] }}"
                timeout-minutes: 2
          b: { needs: a, artifacts: { restore: [ { job: a, path: p } ] }, steps: [ { run: x } ] }
        """,
    ]

    static let fragments = [
        ":", "-", " ", "\n", "  ", "[", "]", "{", "}", "${{", "}}", "'", "\"", "#", "&a", "*a", "|", ">", "\t", "é", "needs:",
        "steps:", "run:", "if:", "matrix:", "1e9", "-1", "null", "~", "true", "${{ needs.", "${{ matrix.", "!!str", "---", "...",
    ]

    static func mutate(_ text: String, _ rng: inout ExprSplitMix64) -> String {
        var characters = Array(text)
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            guard !characters.isEmpty else { break }
            let at = Int.random(in: 0..<characters.count, using: &rng)
            switch Int.random(in: 0..<5, using: &rng) {
            case 0: characters.removeSubrange(at..<min(characters.count, at + Int.random(in: 1...12, using: &rng)))
            case 1: characters.insert(contentsOf: fragments.randomElement(using: &rng)!, at: at)
            case 2:
                let lines = String(characters).split(separator: "\n", omittingEmptySubsequences: false)
                var shuffled = lines
                if lines.count > 2 { shuffled.swapAt(Int.random(in: 0..<lines.count, using: &rng), Int.random(in: 0..<lines.count, using: &rng)) }
                characters = Array(shuffled.joined(separator: "\n"))
            case 3: characters.insert(contentsOf: String(repeating: " ", count: Int.random(in: 1...3, using: &rng)), at: at)
            default: characters[at] = Character(UnicodeScalar(UInt8.random(in: 32...126, using: &rng)))
            }
        }
        return String(characters)
    }

    /// A random YAML document built from the workflow keys and random scalars.
    static func randomDocument(_ rng: inout ExprSplitMix64) -> String {
        let keys = WorkflowLoader.workflowKeys + WorkflowLoader.jobKeys + WorkflowLoader.stepKeys + ["matrix", "include", "max-attempts", "x"]
        func node(_ depth: Int, _ indent: String) -> String {
            switch depth > 3 ? 0 : Int.random(in: 0..<4, using: &rng) {
            case 0: return " " + fragments.randomElement(using: &rng)!.replacingOccurrences(of: "\n", with: "")
            case 1: return " [" + (0..<Int.random(in: 0...3, using: &rng)).map { _ in keys.randomElement(using: &rng)! }.joined(separator: ", ") + "]"
            default:
                return (0..<Int.random(in: 1...4, using: &rng)).map { _ in
                    "\n\(indent)\(keys.randomElement(using: &rng)!):" + node(depth + 1, indent + "  ")
                }.joined()
            }
        }
        return "jobs:" + node(1, "  ") + "\n" + (0..<3).map { _ in "\(keys.randomElement(using: &rng)!):" + node(1, "  ") }.joined(separator: "\n")
    }

    @Test("8,000 mutated and random workflows: no crash, every failure a located diagnostic")
    func fuzz() async throws {
        // Seconds of CPU: off Swift's cooperative threads, which other suites need meanwhile; what
        // is wrong is collected there and recorded here.
        let (tried, valid, problems) = try await offThePool { () -> (Int, Int, [String]) in
            var rng = ExprSplitMix64(seed: 0x5EED_F00D)
            var tried = 0, valid = 0
            var problems: [String] = []
            for index in 0..<8_000 {
                let text = index % 4 == 3 ? Self.randomDocument(&rng) : Self.mutate(Self.seeds[index % Self.seeds.count], &rng)
                tried += 1
                let lines = text.split(separator: "\n", omittingEmptySubsequences: false).count
                let result = WorkflowLoader.load(yaml: text, file: "fuzz.yml")
                for diagnostic in result.diagnostics {
                    if diagnostic.message.isEmpty { problems.append("an empty message in:\n\(text)") }
                    if let location = diagnostic.location, !(1...lines + 1).contains(location.line) || location.column < 1 {
                        problems.append("\(diagnostic) at a place outside the file in:\n\(text)")
                    }
                }
                if let workflow = result.workflow, !result.hasErrors {
                    valid += 1
                    if case .success(let plan) = Planner.plan(workflow), plan.allInstances.count < plan.order.count {
                        problems.append("a plan with fewer instances than its order in:\n\(text)")
                    }
                }
            }
            return (tried, valid, problems)
        }
        #expect(problems.isEmpty, "\(problems.count) problems, the first: \(problems.prefix(3))")
        #expect(tried == 8_000)
        #expect(valid > 100, "the mutations should leave some workflows valid; only \(valid) were")
    }
}
