import Foundation
import NixActionsPluginKit
import NixActionsPluginMessages
import Testing

/// The formats secret files come in: dotenv as the common tools read it, and the flattening rule.
@Suite("Secret formats: dotenv and flattening")
struct SecretFormatsTests {
    @Test("dotenv: export, spaces, comments, double quotes with escapes and lines, single quotes as written")
    func dotenv() throws {
        let text = """
            # a comment
            export API_KEY=sk_live_123   # trailing comment
            SPACED = spaced value
            HASH=a#b
            DOUBLE="one\\ntwo\\t\\"q\\" \\\\ \\$HOME"
            MULTI="first
            second"
            SINGLE='no $escape \\n here'
            EMPTY=
            CRLF=value\r
            """
        let entries = try Dotenv.parse(text).get()
        let values = Dictionary(uniqueKeysWithValues: entries.map { ($0.name, $0.value) })
        #expect(values["API_KEY"] == "sk_live_123")
        #expect(values["SPACED"] == "spaced value")
        #expect(values["HASH"] == "a#b")
        #expect(values["DOUBLE"] == "one\ntwo\t\"q\" \\ $HOME")
        #expect(values["MULTI"] == "first\nsecond")
        #expect(values["SINGLE"] == "no $escape \\n here")
        #expect(values["EMPTY"] == "")
        #expect(values["CRLF"] == "value")
        #expect(entries.first { $0.name == "SINGLE" }?.line == 8)
    }

    @Test("dotenv: a bad line is an error naming it, never skipped", arguments: [
        ("A=1\nnot an assignment\n", 2), ("A=1\nB=\"never closed\n", 2), ("1ABC=x\n", 1), ("A=\"x\" junk\n", 1),
    ])
    func dotenvErrors(_ text: String, _ line: Int) {
        switch Dotenv.parse(text) {
        case .success(let entries): Issue.record("parsed \(entries) from \(text.debugDescription)")
        case .failure(let error): #expect(error.line == line, "\(error)")
        }
    }

    @Test("dotenv: an error never quotes the file's text (an unquoted value's second line, a bare token)", arguments: [
        "KEY=-----BEGIN KEY-----\nMIIEvAIBADANBgkqhkiG9w0BAQEFAASC+rest\n", "ghp_SuperSecretTokenValue1234\n", "A=\"x\" ghp_tail\n",
        "9ghp_Digits=x\n", "A=\"ghp_neverClosed\n",
    ])
    func dotenvErrorsQuoteNothing(_ text: String) {
        guard case .failure(let error) = Dotenv.parse(text) else {
            Issue.record("parsed \(text.debugDescription)")
            return
        }
        for word in ["MIIEv", "BEGIN", "ghp_", "Digits"] {
            #expect(!error.description.contains(word), "\(error)")
        }
    }

    @Test("flattening: nested keys, lists, numbers, booleans and null; two keys that collide are an error")
    func flattening() throws {
        let document = try JSONValue.parse(Array(#"{"db": {"password": "p", "port": 5432}, "api-key": "k", "hosts": ["a", "b"], "on": true, "none": null}"#.utf8))
        let flat = try SecretDocuments.flatten(document, what: "f")
        #expect(flat.values == ["DB_PASSWORD": "p", "DB_PORT": "5432", "API_KEY": "k", "HOSTS_0": "a", "HOSTS_1": "b", "ON": "true", "NONE": ""])
        #expect(flat.paths["DB_PASSWORD"] == "db.password")
        #expect(try SecretDocuments.select(flat, keys: ["db.password", "API_KEY"], what: "f") == ["DB_PASSWORD": "p", "API_KEY": "k"])
        #expect(throws: (any Error).self) { try SecretDocuments.select(flat, keys: ["nope"], what: "f") }
        let colliding = try JSONValue.parse(Array(#"{"a-b": "1", "a_b": "2"}"#.utf8))
        #expect(throws: (any Error).self) { try SecretDocuments.flatten(colliding, what: "f") }
        #expect(SecretNames.flatten(["9lives"]) == "_9LIVES")
        // A top-level list is refused (its names would be made up); under an extract path it is named after it.
        let list = try JSONValue.parse(Array(#"["a", "b"]"#.utf8))
        #expect(throws: (any Error).self) { try SecretDocuments.flatten(list, what: "f") }
        #expect(try SecretDocuments.flatten(list, what: "f", under: ["hosts"]).values == ["HOSTS_0": "a", "HOSTS_1": "b"])
        #expect(try SecretDocuments.flatten(.string("v"), what: "f", under: ["db", "password"]).values == ["DB_PASSWORD": "v"])
        #expect(throws: (any Error).self) { try SecretDocuments.requestedKeys(["keys": .array([])]) }
    }
}
