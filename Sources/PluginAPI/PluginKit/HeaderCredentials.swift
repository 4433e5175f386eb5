import Foundation
import NixActionsPluginMessages

/// Credentials a plugin sends in an HTTP header (a Vault token, an AWS key id or session token).
///
/// An HTTP client refuses a header value with a control character in it, and its error quotes
/// the value: a token read from a file with CRLF line ends reached the output that way, cut where
/// no mask could match it (audit 56 H1, H2). So a plugin checks each such credential before its
/// first request, and says what is wrong without the value; and an HTTP client's refusal of a
/// header is described by a fixed text, never by the client's own, and not retried.
public enum HeaderCredentials {
    /// Why `value` cannot go in a header: the first control character (other than a tab) by name
    /// and place, never the value; nil when it can.
    public static func problem(_ value: String, name: String) -> OperationFailure? {
        let bytes = value.utf8
        guard let index = bytes.firstIndex(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) else { return nil }
        let byte = bytes[index]
        let place = bytes.distance(from: bytes.startIndex, to: index) + 1
        let what = switch byte {
        case 0x0D: "a carriage return"
        case 0x0A: "a line break"
        default: String(format: "a control character (0x%02X)", byte)
        }
        return OperationFailure(
            message: "\(name) holds \(what) at byte \(place) of \(bytes.count), which an HTTP header cannot carry",
            hint: byte == 0x0D || byte == 0x0A
                ? "was it read from a file with CRLF line ends? Remove the line ends, e.g. \"$(tr -d '\\r\\n' < FILE)\" (the value is not shown)"
                : "check where \(name) comes from (the value is not shown)")
    }

    /// What a message says for an HTTP client's refusal of a header value or name.
    public static let refusal = "a header held a character HTTP does not allow (a control character or a line break)"

    /// `description` (an HTTP client's error as text) is its refusal of a header: described by
    /// `refusal`, never by the text itself, which quotes the value.
    public static func isRefusal(_ description: String) -> Bool {
        description.contains("invalidHeaderField")
    }
}

/// Text from elsewhere (a library's error, a server's message) shortened for a message.
public enum ClippedText {
    /// `text` if it has at most `limit` characters; else its first `limit`, taken back to the last
    /// space, quote, bracket, comma or `=` before the cut, then `…`. A cut through a token would
    /// show its start, which no mask matches (masks match whole values; audit 56 H1): the word
    /// cut through goes whole.
    public static func clipped(_ text: some StringProtocol, _ limit: Int) -> String {
        guard text.count > limit else { return String(text) }
        let head = text.prefix(limit)
        let boundary = head.lastIndex { " \t\n\"'`([{<,;=".contains($0) }
        return String(boundary.map { head[..<$0] } ?? "") + "…"
    }
}

