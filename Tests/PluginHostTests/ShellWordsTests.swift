import Foundation
import NixActionsProcessKit
import Testing

/// `ShellWords.quote` gives one shell word that is exactly the text, whatever it holds.
@Suite("ShellWords: quoting for the shell")
struct ShellWordsTests {
    static let alphabet: [Character] = Array("ab '\"\\$`*?;&|<>(){}[]~#!\n\t=ž🐴")

    static func randomText(_ generator: inout some RandomNumberGenerator) -> String {
        String((0..<Int.random(in: 0...24, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! })
    }

    @Test("quoted text splits back into itself, one word (2,000 random texts with quotes, backslashes, dollars, newlines)")
    func roundTrip() {
        var generator = SystemRandomNumberGenerator()
        #expect(ShellWords.quote("") == "''")
        #expect(ShellWords.quote("it's") == "'it'\\''s'")
        #expect(ShellWords.quote("''") == "''\\'''\\'''")
        for _ in 0..<2_000 {
            let text = Self.randomText(&generator)
            #expect(ShellWords.split(ShellWords.quote(text)) == [text], "\(text.debugDescription)")
        }
    }

    @Test("/bin/sh prints quoted text back byte for byte")
    func throughTheShell() throws {
        var generator = SystemRandomNumberGenerator()
        let texts = ["", "'", "it's", "a'b'c", "$HOME `id` \\n"] + (0..<20).map { _ in Self.randomText(&generator) }
        for text in texts {
            let child = try ChildProcess(arguments: ["/bin/sh", "-c", "printf %s " + ShellWords.quote(text)],
                                         environment: ["PATH": "/usr/bin:/bin"], directory: nil)
            var output: [UInt8] = []
            #expect(child.wait { stream, bytes in if stream == 1 { output += bytes } } == .exited(0))
            #expect(String(decoding: output, as: UTF8.self) == text, "\(text.debugDescription)")
        }
    }
}
