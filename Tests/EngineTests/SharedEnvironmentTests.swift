@testable import NixActionsEngine
import Testing
import TestSupport

@Suite("A job's environment sent once, then each step's difference")
struct SharedEnvironmentTests {
    /// The step's environment as the host computed it before it was sent once per job: the job's
    /// env, GITHUB_ENV, the step's `env:`, `--env`, then the runner's variables and GITHUB_ACTION.
    func whole(job: [String: String], added: [String: String], own: [String: String], given: [String: String],
               runner: [String: String], action: String) -> (stepEnv: [String: String], sent: [String: String]) {
        let stepEnv = job.merging(added) { _, new in new }.merging(own) { _, new in new }.merging(given) { _, new in new }
        var sent = stepEnv.merging(runner) { _, runner in runner }
        sent["GITHUB_ACTION"] = action
        return (stepEnv, sent)
    }

    @Test("base with the delta over it is exactly the step's whole environment (20,000 random cases, names known or not)")
    func deltaIsExact() {
        var random = SplitMix64(seed: 0x5EED_E1)
        let pool = ["A", "B", "C", "CI", "PATH", "GITHUB_ACTION", "GITHUB_WORKSPACE", "RUNNER_TEMP", "X_1", "EMPTY", "JOB_DIR"]
        func map(_ count: Int) -> [String: String] {
            var out: [String: String] = [:]
            for _ in 0..<count {
                out[pool[Int(random.next() % UInt64(pool.count))]] = ["", "v", "w", "1", "x y"][Int(random.next() % 5)]
            }
            return out
        }
        for index in 0..<20_000 {
            let job = map(Int(random.next() % 8)), added = map(Int(random.next() % 3)), own = map(Int(random.next() % 3))
            let given = map(Int(random.next() % 2)), runner = map(Int(random.next() % 5))
            let action = index % 2 == 0 ? "__run_\(index)" : "step\(index)"
            var jobEnv = job.merging(given) { _, new in new }  // the job's env includes --env
            jobEnv.removeValue(forKey: "GITHUB_ACTION")
            let (stepEnv, sent) = whole(job: jobEnv, added: added, own: own, given: given, runner: runner, action: action)
            let shared = SharedEnvironment(job: jobEnv, runner: runner)
            let names = Array(added.keys) + Array(own.keys) + Array(given.keys)
            for known in [names, nil] {
                let delta = shared.delta(stepEnv, names: known, action: action)
                let rebuilt = shared.base.merging(delta) { _, own in own }
                #expect(rebuilt == sent, "case \(index), names \(known == nil ? "unknown" : "known")")
                #expect(delta.count <= names.count + 1, "only what the step changes is sent again (case \(index))")
            }
        }
    }
}
