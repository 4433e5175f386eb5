import NixActionsPluginKit
import NixActionsPluginMessages
import Testing

/// What plugins say of credentials that cannot go in a header, and how they shorten other text.
@Suite("Header credentials and clipped text (audit 56 H1, H2)")
struct HeaderCredentialsTests {
    @Test("a credential with a control character is refused by name and place, never quoted; a tab or high bytes are fine")
    func problems() {
        let token = "AQoDYXdzEJr" + String(repeating: "x9", count: 200)
        let carriage = HeaderCredentials.problem(token + "\r", name: "AWS_SESSION_TOKEN")
        #expect(carriage?.error.message == "AWS_SESSION_TOKEN holds a carriage return at byte \(token.utf8.count + 1) of \(token.utf8.count + 1), which an HTTP header cannot carry")
        #expect(carriage?.error.hint?.contains("CRLF") == true)
        let control = HeaderCredentials.problem("ab\u{7F}cd", name: "VAULT_TOKEN")
        #expect(control?.error.message == "VAULT_TOKEN holds a control character (0x7F) at byte 3 of 5, which an HTTP header cannot carry")
        #expect(HeaderCredentials.problem("a\nb", name: "T")?.error.message.contains("a line break at byte 2") == true)
        for problem in [carriage, control] { #expect(!(problem?.error.message ?? "").contains("AQoD") && !(problem?.error.hint ?? "").contains("AQoD")) }
        #expect(HeaderCredentials.problem("tab\tand-é", name: "T") == nil)
        #expect(HeaderCredentials.isRefusal(#"HTTPClientError.invalidHeaderFieldValues(["tok\r"])"#))
        #expect(!HeaderCredentials.isRefusal("HTTPClientError.connectTimeout"))
    }

    @Test("text over the limit is cut back to the last boundary before the cut, so no word is shown in part")
    func clipped() {
        #expect(ClippedText.clipped("short text", 200) == "short text")
        let token = String(repeating: "k", count: 300)
        #expect(ClippedText.clipped("error([\"" + token + "\"])", 200) == "error([…")
        #expect(ClippedText.clipped("a b c " + token, 10) == "a b c…")
        #expect(ClippedText.clipped(token, 200) == "…")
        let cut = ClippedText.clipped("value=" + token + " tail", 100)
        #expect(cut == "value…", "\(cut)")
    }
}
