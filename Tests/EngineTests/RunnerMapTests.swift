import Foundation
@testable import NixActionsEngine
import NixActionsPluginMessages
import Testing
import TestSupport

private func job(_ yaml: String) throws -> Job {
    let result = WorkflowLoader.load(yaml: "jobs:\n  j:\n" + yaml + "    steps: [ { run: x } ]\n", file: "w.yml")
    #expect(!result.hasErrors, "\(result.diagnostics)")
    return try #require(result.workflow?.jobs.first)
}

private func executor(_ choice: RunnerMap.Choice) -> String? {
    if case .executor(let reference, _) = choice { return reference.pluginID }
    return nil
}

@Suite("Runners chosen by label: runs-on → executor")
struct RunnerMapTests {
    var farm: RunnerMap {
        var map = RunnerMap()
        map.map("build-farm", to: .init(executor: ExecutorReference(pluginID: "ssh", options: ["hosts": .array([.string("a")])]), origin: "config.yml:2:3"))
        map.map("Ubuntu-Latest", to: .init(executor: ExecutorReference(pluginID: "oci"), origin: "--runner"))
        return map
    }

    @Test("without a mapping: Linux labels run locally, Windows and macOS are skipped with the reason, others refused")
    func defaults() throws {
        let map = RunnerMap()
        for labels in [[], ["ubuntu-latest"], ["ubuntu-22.04"], ["self-hosted", "linux"], ["Linux"], [RunnerMap.hostArch.lowercased()]] {
            #expect(executor(map.choose(for: try job(""), labels: labels)) == "local", "\(labels)")
        }
        for labels in [["windows-latest"], ["macos-14"], ["self-hosted", "macOS"], ["Windows"]] {
            guard case .skip(let reason) = map.choose(for: try job(""), labels: labels) else {
                Issue.record("\(labels) was not skipped")
                continue
            }
            #expect(reason.contains("this machine runs Linux"))
            #expect(reason.contains("--runner \(labels.last!)=EXECUTOR"))
        }
        let other = RunnerMap.hostArch == "X64" ? "arm64" : "x64"
        guard case .skip(let reason) = map.choose(for: try job(""), labels: ["self-hosted", other]) else {
            Issue.record("another architecture was not skipped")
            return
        }
        #expect(reason.contains("this machine is \(RunnerMap.hostArch)"))
        // GitHub's hosted labels that name an architecture in a part (audit 63 fidelity H1: ran here as X64).
        let (foreign, own) = RunnerMap.hostArch == "X64"
            ? (["ubuntu-24.04-arm", "ubuntu-22.04-arm", "ubuntu-24.04-arm64-8core-32gb", "Ubuntu-24.04-ARM"], ["ubuntu-24.04-x64-4core", "ubuntu-latest-8-cores"])
            : (["ubuntu-24.04-x64-4core"], ["ubuntu-24.04-arm", "ubuntu-latest-8-cores"])
        for label in foreign {
            guard case .skip(let reason) = map.choose(for: try job(""), labels: [label]) else {
                Issue.record("\(label) was not skipped")
                continue
            }
            #expect(reason.contains("it runs on '\(label)' and this machine is \(RunnerMap.hostArch)"), "\(reason)")
        }
        for label in own { #expect(executor(map.choose(for: try job(""), labels: [label])) == "local", "\(label)") }
        guard case .refuse(let message, let hint, let label) = map.choose(for: try job(""), labels: ["self-hosted", "gpu"]) else {
            Issue.record("an unknown label was not refused")
            return
        }
        #expect(message == "runs-on label 'gpu' of job 'j' is not mapped to an executor")
        #expect(hint.contains("--runner gpu=local"))
        #expect(!hint.contains("did you mean"), "\(hint)")
        #expect(label == "gpu")
        // A typo of a label GitHub's runners have (audit 57 UX M3).
        guard case .refuse(_, let typoHint, _) = map.choose(for: try job(""), labels: ["ubunty-latest"]) else {
            Issue.record("a typo was not refused")
            return
        }
        #expect(typoHint.hasPrefix("did you mean 'ubuntu-latest'? Else map it under 'runners:'"), "\(typoHint)")
    }

    @Test("a mapped label chooses its executor (labels compare without case); the job's own executor wins")
    func mapped() throws {
        let choice = farm.choose(for: try job(""), labels: ["self-hosted", "build-farm"])
        guard case .executor(let reference, let label) = choice else {
            Issue.record("not mapped: \(choice)")
            return
        }
        #expect(reference.pluginID == "ssh")
        #expect(reference.options["hosts"] == .array([.string("a")]))
        #expect(label == "build-farm")
        #expect(executor(farm.choose(for: try job(""), labels: ["ubuntu-latest"])) == "oci")
        // A mapped label also wins over the Windows rule: the mapping says where it can run.
        var windows = farm
        windows.map("windows-latest", to: .init(executor: ExecutorReference(pluginID: "ssh"), origin: "x"))
        #expect(executor(windows.choose(for: try job(""), labels: ["windows-latest"])) == "ssh")
        // executor: and container: choose; labels are then only labels.
        let own = try job("    executor: test-double\n")
        #expect(executor(farm.choose(for: own, labels: ["build-farm"])) == "test-double")
    }

    @Test("two labels of one job that choose different executors are refused, naming both origins")
    func conflicting() throws {
        guard case .refuse(let message, _, _) = farm.choose(for: try job(""), labels: ["build-farm", "ubuntu-latest"]) else {
            Issue.record("not refused")
            return
        }
        #expect(message.contains("'build-farm' and 'ubuntu-latest'"))
        #expect(message.contains("config.yml:2:3") && message.contains("--runner"))
    }

    @Test("labels are evaluated with the matrix; a list value gives several labels; the object form reads group and labels")
    func evaluated() throws {
        let templated = try job("    runs-on: ${{ matrix.os }}\n")
        let context = DictionaryExpressionContext(["matrix": .object(["os": .string("windows-2022")])])
        #expect(try RunnerMap.labels(of: templated, in: context) == ["windows-2022"])
        let list = DictionaryExpressionContext(["matrix": .object(["os": .array([.string("self-hosted"), .string("gpu")])])])
        #expect(try RunnerMap.labels(of: templated, in: list) == ["self-hosted", "gpu"])
        #expect(!RunnerMap.isStatic(templated))
        let object = try job("    runs-on: { group: farm-group, labels: [self-hosted, big] }\n")
        #expect(object.runsOn.map(\.value) == ["farm-group", "self-hosted", "big"])
        #expect(RunnerMap.isStatic(object))
    }

    @Test("the configuration file: runners mapped with their place; unknown keys and bad entries are errors at their line")
    func configFile() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let good = try temp.write("config.yml", """
            runners:
              self-hosted: local
              build-farm: { plugin: ssh, with: { hosts: [a, b] } }
            """)
        let (config, diagnostics) = ProjectConfig.load(file: good, required: true)
        #expect(diagnostics.isEmpty, "\(diagnostics)")
        #expect(config.runners.labels == ["self-hosted", "build-farm"])
        #expect(config.runners.entry(for: "BUILD-FARM")?.executor.pluginID == "ssh")
        #expect(config.runners.entry(for: "build-farm")?.origin == "\(good):3:3")

        let bad = try temp.write("bad.yml", """
            runner:
              x: local
            runners:
              farm: { with: { hosts: [a] } }
              ${{ matrix.os }}: local
              gpu: local
              GPU: { plugin: oci, with: { image: alpine } }
            """)
        let problems = ProjectConfig.load(file: bad, required: true).diagnostics.map(\.description)
        #expect(problems.contains { $0.hasPrefix("\(bad):1:1: error: unknown key 'runner' in the configuration") && $0.contains("did you mean 'runners'?") }, "\(problems)")
        #expect(problems.contains { $0.hasPrefix("\(bad):4:9: error: executor needs a 'plugin'") }, "\(problems)")
        #expect(problems.contains { $0.hasPrefix("\(bad):5:3: error: '${{ matrix.os }}' is not a runner label") }, "\(problems)")
        // Labels are compared without case: a second spelling is an error, not a silent replacement (audit 61 input H7).
        #expect(problems.contains { $0.hasPrefix("\(bad):7:3: error: runner label 'GPU' is 'gpu' again (labels are compared without case)") }, "\(problems)")

        // The default file may be absent; a file named with --config may not.
        #expect(ProjectConfig.load(file: temp.path + "/none.yml", required: false).diagnostics.isEmpty)
        #expect(ProjectConfig.load(file: temp.path + "/none.yml", required: true).diagnostics.first?.message
            == "cannot read the configuration file '\(temp.path)/none.yml': no such file")
    }
}
