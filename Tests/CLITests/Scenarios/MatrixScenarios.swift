import Foundation
import Testing
import TestSupport

@Suite("Scenarios: matrix instances, fail-fast and max-parallel")
struct MatrixScenarios {
    @Test("include and exclude give exactly the expected instances; matrix.* works in expressions")
    func includeExclude() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: matrix
            jobs:
              test:
                strategy:
                  matrix:
                    node: [18, 20]
                    os: [linux, mac]
                    exclude:
                      - node: 18
                        os: mac
                    include:
                      - node: 22
                        os: linux
                        experimental: true
                      - node: 20
                        os: linux
                        extra: big
                env:
                  LABEL: node-${{ matrix.node }}-on-${{ matrix.os }}
                steps:
                  - name: Show ${{ matrix.os }}
                    run: |
                      echo "label=$LABEL exp=${{ matrix.experimental || 'no' }} extra=[${{ matrix.extra }}] of=${{ strategy.job-total }}"
                  - name: Only on 22
                    if: matrix.node == 22
                    run: echo only-on-22
              after:
                needs: test
                steps:
                  - run: echo "after all instances result=${{ needs.test.result }}"
            """, ["--jobs", "4"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let out = result.stdout
        let names = Set(startedJobNames(out).filter { $0.hasPrefix("test") })
        let expected: Set<String> = [
            "test (node: 18, os: linux)",
            "test (node: 20, os: linux, extra: big)",
            "test (node: 20, os: mac)",
            "test (node: 22, os: linux, experimental: true)",
        ]
        #expect(names == expected)
        #expect(startedJobNames(out).count == 5, "four instances and 'after', each started once")
        #expect(!out.contains("node: 18, os: mac"))
        // Each instance saw its own combination, in its labelled lines.
        #expect(out.contains("[test-node-18-os-linux] label=node-18-on-linux exp=no extra=[] of=4\n"))
        #expect(out.contains("[test-node-20-os-linux-extra-big] label=node-20-on-linux exp=no extra=[big] of=4\n"))
        #expect(out.contains("[test-node-20-os-mac] label=node-20-on-mac exp=no extra=[] of=4\n"))
        #expect(out.contains("[test-node-22-os-linux-experimental-true] label=node-22-on-linux exp=true extra=[] of=4\n"))
        #expect(out.contains("[test-node-20-os-mac] > Show mac\n"))
        // matrix.* in a step's if.
        #expect(out.contains("[test-node-22-os-linux-experimental-true] only-on-22\n"))
        #expect(outputLines(out).filter { $0.hasSuffix("] only-on-22") }.count == 1)
        #expect(out.contains("[test-node-18-os-linux] - Only on 22 (skipped)\n"))
        // A job that needs a matrix job waits for every instance.
        #expect(out.contains("[after] after all instances result=success\n"))
        let all = outputLines(out)
        let afterStart = try #require(all.firstIndex(of: "==> job 'after' started"))
        for name in names {
            let done = try #require(all.firstIndex { $0.hasPrefix("==> job '\(name)' succeeded") }, "\(name) never finished")
            #expect(done < afterStart)
        }
    }

    @Test("a job name with ${{ matrix.* }} is rendered for each instance")
    func renderedJobName() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: named
            jobs:
              test:
                name: Test on ${{ matrix.os }}
                strategy:
                  matrix:
                    os: [linux, bsd]
                steps:
                  - run: echo "running on ${{ matrix.os }}"
            """)
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let names = startedJobNames(result.stdout)
        #expect(names.count == 2)
        #expect(names.contains { $0.hasPrefix("Test on linux") }, "started: \(names)")
        #expect(names.contains { $0.hasPrefix("Test on bsd") }, "started: \(names)")
        #expect(!result.stdout.contains("${{ matrix.os }} ("), "the job name was not rendered:\n\(result.stdout)")
    }

    /// `quick` fails as soon as `slow` is running; `slow` would finish 4 s later.
    static func failFast(_ enabled: Bool, marks: String) -> String {
        """
        name: failfast
        env:
          MARKS: \(marks)
        jobs:
          test:
            strategy:
              fail-fast: \(enabled)
              matrix:
                speed: [quick, slow]
            steps:
              - name: Work
                run: |
                  if [ "${{ matrix.speed }}" = quick ]; then
                    for i in $(seq 1 400); do [ -f "$MARKS/slow-started" ] && break; sleep 0.05; done
                    echo quick-failing
                    exit 3
                  fi
                  touch "$MARKS/slow-started"
                  echo slow-started
                  sleep 4
                  echo slow-finished
                  touch "$MARKS/slow-finished"
          after:
            needs: test
            steps:
              - run: echo must-not-run-after
        """
    }

    @Test("fail-fast: one instance fails, its running sibling is cancelled at once, the run exits 1")
    func failFastCancelsSiblings() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run(Self.failFast(true, marks: scenario.marks), ["--jobs", "4"])
        let elapsed = result.seconds
        let out = result.stdout
        #expect(scenario.marked("slow-started"), "the slow instance never started:\n\(out)")
        #expect(out.contains("[test-speed-quick] quick-failing\n"))
        #expect(out.contains("[test-speed-quick] ✗ Work (exit code 3, "))
        #expect(out.contains("warning: fail-fast: 'test (speed: quick)' failed; cancelling test-speed-slow\n"), "\(out)")
        #expect(!out.contains("[test-speed-quick] warning: fail-fast"), "a run's message, not the finished job's: \(out)")
        #expect(out.contains("[test-speed-slow] warning: cancelling: 'test (speed: quick)' failed (fail-fast)\n"), "\(out)")
        #expect(out.contains("==> job 'test (speed: slow)' cancelled"))
        #expect(!out.contains("slow-finished"))
        #expect(out.contains("[after] skipped: needed job 'test' did not succeed\n"))
        #expect(!out.contains("[after] must-not-run"))
        #expect(elapsed < 3.5, "the slow sibling was not cancelled: the run took \(elapsed) s")
        // A failed job makes the run a failure: siblings cancelled by fail-fast do not make it "cancelled" (130).
        #expect(result.status == 1, "exit status \(result.status)")
        #expect(out.contains("==> workflow 'failfast' failed in "), "\(out)")
        // The sibling's process tree is gone: its marker never appears.
        try await pause(until: Date().addingTimeInterval(5 - elapsed))  // 5 s after the run began
        #expect(!scenario.marked("slow-finished"), "the cancelled instance kept running")
    }

    @Test("fail-fast: false lets the sibling finish; the run still exits 1")
    func noFailFast() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run(Self.failFast(false, marks: scenario.marks), ["--jobs", "4"])
        let out = result.stdout
        #expect(result.status == 1, "\(out)\n\(result.stderr)")
        #expect(out.contains("[test-speed-quick] ✗ Work (exit code 3, "))
        #expect(out.contains("[test-speed-slow] slow-finished\n"))
        #expect(out.contains("==> job 'test (speed: slow)' succeeded"))
        #expect(!out.contains("fail-fast: cancelling"))
        #expect(scenario.marked("slow-finished"))
        #expect(out.contains("[after] skipped: needed job 'test' did not succeed\n"))
        #expect(out.contains("==> workflow 'failfast' failed in "))
    }

    @Test("max-parallel: 1 runs the instances one at a time")
    func maxParallel() async throws {
        let scenario = try Scenario()
        defer { scenario.remove() }
        let result = try await scenario.run("""
            name: maxpar
            env:
              MARKS: \(scenario.marks)
            jobs:
              test:
                strategy:
                  max-parallel: 1
                  matrix:
                    n: [1, 2, 3]
                steps:
                  - run: |
                      touch "$MARKS/running-${{ matrix.n }}"
                      sleep 0.3
                      echo "n=${{ matrix.n }} running=$(ls "$MARKS" | grep -c '^running-')"
                      rm "$MARKS/running-${{ matrix.n }}"
                      echo "${{ matrix.n }}" >> "$MARKS/order"
            """, ["--jobs", "4", "--log-format", "json"])
        #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)")
        let events = try JSONEvents(result.stdout)
        let texts = events.all("output").compactMap { $0["text"] as? String }
        for n in 1...3 { #expect(texts.contains("n=\(n) running=1"), "instance \(n) overlapped another: \(texts)") }
        #expect(scenario.mark("order")?.split(separator: "\n").count == 3)
        // In the event stream, each instance starts only after the previous one finished.
        let lifecycle = events.events.compactMap { event -> String? in
            guard let kind = event["event"] as? String, kind == "job_started" || kind == "job_finished",
                let job = event["job"] as? String, job.hasPrefix("test-n-") else { return nil }
            return kind
        }
        #expect(lifecycle == ["job_started", "job_finished", "job_started", "job_finished", "job_started", "job_finished"])
        let instances: Set<String> = ["test (n: 1)", "test (n: 2)", "test (n: 3)"]
        #expect(Set(events.all("job_started").compactMap { $0["name"] as? String }) == instances)
    }
}
