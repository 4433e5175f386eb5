import Foundation
import NixActionsProcessKit
import Testing

@Suite("CapturedCommand: a command's status, output and error line, as executors report them")
struct CapturedCommandTests {
    @Test("the error line is its last lines with any line break (ssh's CR LF gave a literal \\r in warnings); nothing said is told by its status (audit 66 remote L3)")
    func errorText() async throws {
        let crlf = try await CapturedCommand.run(["/bin/sh", "-c", "printf 'first\\r\\nConnection timed out during banner exchange\\r\\nConnection to h port 22 timed out\\r\\n' >&2; exit 255"],
                                                 environment: [:])
        #expect(crlf.status == 255)
        #expect(crlf.errorText == "Connection timed out during banner exchange Connection to h port 22 timed out")
        let silent = try await CapturedCommand.run(["/bin/sh", "-c", "exit 4"], environment: [:])
        #expect(silent.errorText == "sh exited with status 4 and said nothing")
        let killed = try await CapturedCommand.run(["/bin/sh", "-c", "kill -TERM $$"], environment: [:])
        #expect(killed.errorText == "sh was ended by signal 15")
        let fine = try await CapturedCommand.run(["/bin/sh", "-c", "echo out"], environment: [:])
        #expect(fine.status == 0 && fine.errorText.isEmpty && fine.outputText == "out\n")
    }
}
