import Foundation
import Testing
import TestSupport

extension RealExecutorSuites {
    @Suite("Scenarios: bounds on workflow size, matrix size and job keys")
    struct BoundsScenarios {
        @Test("a plain job 'build-os-linux' next to matrix job 'build' with os: [linux, mac]: all three run and are in the summary")
        func matrixKeyCollision() async throws {
            let scenario = try Scenario()
            defer { scenario.remove() }
            let result = try await scenario.run("""
                name: keys
                jobs:
                  build-os-linux:
                    steps:
                      - run: touch "$MARKS/plain"
                  build:
                    strategy:
                      matrix:
                        os: [linux, mac]
                    steps:
                      - run: touch "$MARKS/matrix-${{ matrix.os }}"
                """, ["--env", "MARKS=\(scenario.marks)"])
            #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
            #expect(scenario.marked("plain"))
            #expect(scenario.marked("matrix-linux"))
            #expect(scenario.marked("matrix-mac"))
            #expect(Set(startedJobNames(result.stdout)) == ["build-os-linux", "build (os: linux)", "build (os: mac)"])
            let summary = outputLines(result.stdout).drop { !$0.hasPrefix("JOB ") }.prefix { !$0.isEmpty }
            let rows = summary.dropFirst().map { $0.components(separatedBy: "  ").first ?? "" }
            #expect(Set(rows) == ["build-os-linux", "build (os: linux)", "build (os: mac)"], "\(summary)")
            #expect(summary.dropFirst().allSatisfy { $0.contains(" success ") }, "\(summary)")
        }

        @Test("a 4096 × 4096 matrix: validate and run refuse it at once, at the strategy")
        func hugeMatrix() async throws {
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            let values = (0..<4096).map(String.init).joined(separator: ", ")
            let path = try temp.write("wf.yml", """
                jobs:
                  big:
                    strategy:
                      matrix:
                        a: [\(values)]
                        b: [\(values)]
                    steps:
                      - run: echo ${{ matrix.a }}
                """)
            let expected = "wf.yml:4:7: error: the matrix of job 'big' has 16777216 combinations; at most 256 are allowed"
            for arguments in [["validate", path], ["run", path, "--dry-run"], ["run", path]] {
                let result = try await nixactions(arguments, in: temp.path)
                #expect(result.status == 2)
                #expect(result.stderr.contains(expected), "\(arguments): \(result.stderr)")
                #expect(!result.stdout.contains("valid"))
                #expect(result.seconds < 10)
            }
        }

        enum Shape: String, CaseIterable { case chain, reversedChain, layered }

        /// `count` jobs: a chain (each needs the one before), the same chain last job first, or layers
        /// of 100 jobs each needing three of the layer before.
        static func workflow(_ shape: Shape, _ count: Int) -> String {
            var lines: [String] = []
            lines.reserveCapacity(count + 1)
            for index in 0..<count {
                var needs: [Int] = []
                switch shape {
                case .chain, .reversedChain: if index > 0 { needs = [index - 1] }
                case .layered:
                    let layer = index / 100, slot = index % 100
                    if layer > 0 { needs = [0, 1, 7].map { (layer - 1) * 100 + (slot + $0) % 100 } }
                }
                let needsText = needs.isEmpty ? "" : ", needs: [\(needs.map { "j\($0)" }.joined(separator: ", "))]"
                lines.append("  j\(index): { steps: [ { run: echo \(index) } ]\(needsText) }")
            }
            if shape == .reversedChain { lines.reverse() }
            return "name: big\njobs:\n" + lines.joined(separator: "\n") + "\n"
        }

        @Test("validate and run --dry-run of 20000 jobs (chain in both file orders, layered DAG): no crash, linear time", arguments: Shape.allCases)
        func manyJobs(shape: Shape) async throws {
            let temp = try TemporaryDirectory()
            defer { temp.remove() }
            let big = try temp.write("big.yml", Self.workflow(shape, 20_000))
            let small = try temp.write("small.yml", Self.workflow(shape, 5_000))

            /// The command's result and its CPU time (user + system, its children included, from
            /// bash's `times`): other suites running at once change wall time, hardly CPU time.
            func timed(_ arguments: [String]) async throws -> (CommandResult, TimeInterval) {
                let script = "\"$0\" \"$@\" >\(temp.path)/out.txt 2>\(temp.path)/err.txt; s=$?; times >\(temp.path)/times.txt; exit $s"
                let run = try await runCommand(URL(fileURLWithPath: "/bin/bash"), ["-c", script, nixactionsBinary.path] + arguments, in: temp.path)
                let read = { (name: String) in (try? String(contentsOfFile: temp.path + "/" + name, encoding: .utf8)) ?? "" }
                // `times`: the shell's own user and system time, then its children's ("0m1.234s 0m0.056s").
                let children = read("times.txt").split(separator: "\n").last?.split(separator: " ") ?? []
                let seconds = children.reduce(0.0) { total, field in
                    let parts = field.dropLast().split(separator: "m")
                    guard parts.count == 2, let minutes = Double(parts[0]), let secs = Double(parts[1]) else { return total }
                    return total + minutes * 60 + secs
                }
                return (CommandResult(status: run.status, stdout: read("out.txt"), stderr: read("err.txt")), seconds)
            }
            let (validated, _) = try await timed(["validate", big])
            #expect(validated.status == 0, "\(validated.stderr.prefix(2000))")
            #expect(validated.stdout.contains("big.yml: valid"))

            let (planned, bigTime) = try await timed(["run", big, "--dry-run"])
            #expect(planned.status == 0, "\(planned.stderr.prefix(2000))")
            #expect(planned.stdout.hasPrefix("plan of workflow 'big': 20000 jobs, 20000 to run"))
            // Every job is listed after the jobs it needs.
            var position: [String: Int] = [:]
            for line in outputLines(planned.stdout) where line.first?.isNumber == true {
                guard let dot = line.firstIndex(of: "."), let space = line.firstIndex(of: " ") else { continue }
                let id = line[line.index(after: space)...].prefix { $0 != " " }
                position[String(id)] = Int(line[..<dot])
            }
            #expect(position.count == 20_000)
            if shape != .layered {
                #expect(position["j0"] == 1 && position["j19999"] == 20_000)
            }

            let (plannedSmall, smallTime) = try await timed(["run", small, "--dry-run"])
            #expect(plannedSmall.status == 0)
            // Four times the jobs: about four times the CPU time when linear, sixteen times when
            // quadratic (10000 jobs used to take 23 s or more). Generous bounds for a debug build.
            #expect(bigTime < 30, "20000 jobs took \(bigTime) s of CPU")
            #expect(bigTime < max(smallTime, 0.5) * 12, "5000 jobs took \(smallTime) s of CPU, 20000 took \(bigTime) s")
        }

        @Test("nested text.repeat (the text plugin) stops at the first result over 1 MiB, with the call's position")
        func expressionResultLimit() async throws {
            let scenario = try Scenario()
            defer { scenario.remove() }
            let result = try await scenario.run("""
                name: expressions
                jobs:
                  a:
                    steps:
                      - run: echo "${{ text.repeat(text.repeat(text.repeat('x', 1000), 1100), 100) }}" | wc -c
                """)
            #expect(result.status == 1, "\(result.stdout)\n\(result.stderr)")
            // The text plugin refuses a result over 1 MiB itself (the engine's own cap is tested in BoundsExpressionTests).
            #expect(result.stdout.contains("/wf.yml:5:36: cannot evaluate 'run': 'text.repeat' failed"), "\(result.stdout)")
            #expect(result.seconds < 10)
            // One call whose result would be 10 GB is refused by the plugin before it is built.
            let single = try await scenario.run("""
                name: expressions
                jobs:
                  a:
                    steps:
                      - run: echo "${{ text.repeat(text.repeat(text.repeat('x', 1000), 1000), 10000) }}" | wc -c
                """)
            #expect(single.status == 1)
            #expect(single.stdout.contains("text.repeat"), "\(single.stdout)")
            #expect(single.seconds < 10)
        }
    }
}
