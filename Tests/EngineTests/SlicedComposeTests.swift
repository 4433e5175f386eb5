@testable import NixActionsEngine
import Testing
import TestSupport
import Yams

/// A workflow of `count` jobs in varied shapes: block texts, flow mappings, quoted keys,
/// comments at every indentation, unicode, CRLF optional.
private func workflow(jobs count: Int, seed: UInt64, crlf: Bool = false) -> String {
    var random = SplitMix64(seed: seed)
    var lines = ["# generated", "name: \"sliced ✓\"", "env:", "  GLOBAL: one  # trailing", "", "jobs:  # the jobs", "  # a comment before the first job"]
    for index in 0..<count {
        let name = random.next() % 5 == 0 ? "\"job-\(index)\"" : "job\(index)"
        lines.append("  \(name):")
        if index > 0, random.next() % 2 == 0 { lines.append("    needs: [job\(index - 1)]") }
        switch random.next() % 4 {
        case 0:
            lines += ["    steps:", "      - run: |", "          echo \(index) ünïcødé", "", "          # not a comment: block text", "        name: block"]
        case 1:
            lines += ["    env: { A: \"\(index)\", B: 'x: y' }", "    steps: [{ run: 'echo flow' }]"]
        case 2:
            lines += ["# a comment at column 0 inside the jobs", "    steps:", "      - run: >-", "          folded \(index)", "          text"]
        default:
            lines += ["    if: ${{ success() && env.A != '*' }}", "    steps:", "      - run: 'echo \"a: b\" && true'", "        timeout: 5m"]
        }
    }
    lines += ["", "# after the jobs", "defaults:", "  run: { shell: bash }"]
    return lines.joined(separator: crlf ? "\r\n" : "\n") + (crlf ? "\r\n" : "\n")
}

@Suite("Composing a large workflow in slices gives the tree of the whole file")
struct SlicedComposeTests {
    @Test("the sliced tree equals the whole file's, node for node, with the same marks", arguments: [2, 3, 8])
    func sameTree(slices: Int) throws {
        for seed in UInt64(1)...UInt64(6) {
            let yaml = workflow(jobs: 900, seed: seed, crlf: seed == 6)
            let whole = try Yams.compose(yaml: yaml, .basic)
            let sliced = try #require(SlicedCompose.compose(yaml, slices: slices), "seed \(seed) was not sliced")
            #expect(yamlTreeDump(sliced) == yamlTreeDump(whole), "seed \(seed)")
        }
    }

    @Test("files it must not cut are left to the whole-file composer")
    func declines() throws {
        let plain = workflow(jobs: 900, seed: 9)
        #expect(SlicedCompose.compose(plain, slices: 2) != nil)
        // Small files, one core.
        #expect(SlicedCompose.compose(workflow(jobs: 20, seed: 9), slices: 2) == nil)
        #expect(SlicedCompose.compose(plain, slices: 1) == nil)
        // A second document, a directive, jobs in flow style, a sequence where jobs begin.
        #expect(SlicedCompose.compose(plain + "---\nname: two\n", slices: 2) == nil)
        #expect(SlicedCompose.compose("%YAML 1.1\n---\n" + plain, slices: 2) == nil)
        let flow = plain.replacingOccurrences(of: "jobs:  # the jobs", with: "jobs: {}\nother:")
        #expect(SlicedCompose.compose(flow, slices: 2) == nil)
        // A job name twice, in different slices: the whole file reports it.
        let twice = plain.replacingOccurrences(of: "  job899:", with: "  job1:")
        #expect(SlicedCompose.compose(twice, slices: 2) == nil)
        #expect(throws: YamlError.self) { try Yams.compose(yaml: twice, .basic) }
    }

    @Test("an alias to an anchor in another slice falls back, and loads as the whole file does")
    func aliasAcrossSlices() throws {
        var yaml = workflow(jobs: 900, seed: 3)
        // An anchor in the head and one in the first job, aliases in a last job.
        yaml = yaml.replacingOccurrences(of: "  GLOBAL: one", with: "  GLOBAL: &global one")
        yaml = yaml.replacingOccurrences(of: "jobs:  # the jobs\n", with: "jobs:  # the jobs\n  first:\n    env: &shared { S: 1 }\n    steps: [{ run: 'true' }]\n")
        yaml = yaml.replacingOccurrences(of: "\n# after the jobs", with: "  last:\n    env: *shared\n    steps: [{ run: *global }]\n\n# after the jobs")
        #expect(SlicedCompose.compose(yaml, slices: 2) == nil)
        let result = WorkflowLoader.load(yaml: yaml, file: "w.yml")
        let job = try #require(result.workflow?.jobs.first { $0.id == "last" })
        let names = job.env.map(\.name), run = job.steps.first?.run?.source.value
        #expect(names == ["S"])
        #expect(run == "one")
    }

    @Test("a quoted text running across a job boundary is never cut")
    func quotedAcrossBoundary() throws {
        var yaml = workflow(jobs: 900, seed: 4)
        // libyaml reads a double-quoted text over several lines; a line in it at the jobs'
        // indentation must not start a slice.
        yaml = yaml.replacingOccurrences(of: "  job450:\n", with: "  job449b:\n    name: \"one\n  job-like: two\"\n  job450:\n")
        let whole = try? Yams.compose(yaml: yaml, .basic)
        let sliced = SlicedCompose.compose(yaml, slices: 2)
        if let whole {
            if let sliced { #expect(yamlTreeDump(sliced) == yamlTreeDump(whole)) }
        } else {
            #expect(sliced == nil)
        }
    }
}
