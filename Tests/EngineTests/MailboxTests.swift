@testable import NixActionsEngine
import Testing

@Suite("The scheduler's mailbox of job outcomes")
struct MailboxTests {
    @Test("values come out in the order sent, whether the receiver waits first or comes later")
    func order() async {
        let mailbox = Mailbox<Int>()
        for value in 0..<3 { mailbox.send(value) }
        var received: [Int] = []
        for _ in 0..<3 { received.append(await mailbox.receive()) }
        let sender = Task {
            try? await Task.sleep(for: .milliseconds(20))
            for value in 3..<1_003 { mailbox.send(value) }
        }
        for _ in 3..<1_003 { received.append(await mailbox.receive()) }
        await sender.value
        #expect(received == Array(0..<1_003))
    }

    @Test("a cancelled receiver still waits for the value (a cancelled run waits for the jobs it started)")
    func cancelledReceiverWaits() async {
        let mailbox = Mailbox<String>()
        let receiver = Task { await mailbox.receive() }
        receiver.cancel()
        try? await Task.sleep(for: .milliseconds(50))
        mailbox.send("late outcome")
        #expect(await receiver.value == "late outcome")
    }
}
