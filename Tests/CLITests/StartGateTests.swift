import Synchronization
import Testing
import NixActionsEngine

@testable import NixActionsCLI

/// `StartGate`: an event of the run's own (a signal's message) never reaches the console ahead of
/// its `workflow_started`, and is not lost when it comes before it.
@Suite struct StartGateTests {
    final class Collect: RunReporter {
        let events = Mutex<[String]>([])
        func report(_ event: RunEvent) {
            let text: String
            switch event {
            case .workflowStarted: text = "started"
            case .message(_, _, let message): text = message
            default: text = "other"
            }
            events.withLock { $0.append(text) }
        }
        var all: [String] { events.withLock { $0 } }
    }

    @Test("a signal's message before the runner starts: the events file gets it at once (caller), the console right after workflow_started, each once")
    func messageBeforeStart() {
        let console = Collect(), log = Collect()
        let gate = StartGate(FanOutReporter([console, log]), console: console)
        let early = RunEvent.message(job: nil, level: .warning, text: "cancelling: signal 15")
        #expect(gate.report(startedOnly: early) == false)
        #expect(console.all.isEmpty && log.all.isEmpty, "nothing ahead of workflow_started")
        gate.report(.workflowStarted(workflow: "w", runID: "r"))
        #expect(console.all == ["started", "cancelling: signal 15"])
        #expect(log.all == ["started"], "the events file had it from the caller already")
        // After the start, such an event goes to every reporter at once.
        #expect(gate.report(startedOnly: .message(job: nil, level: .warning, text: "late")) == true)
        #expect(console.all == ["started", "cancelling: signal 15", "late"])
        #expect(log.all == ["started", "late"])
    }
}
