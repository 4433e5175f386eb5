import Foundation
import Synchronization

/// Replaces every registered secret (and its common encodings) with `***`.
///
/// The redactor works on whole lines: every sink receives output line by line, after the
/// `LineSplitter` has held back partial lines across writes, so a secret split across two writes
/// is still seen whole. A multi-line secret is masked line by line (GitHub's rule). For each value
/// it also masks base64 in all three byte alignments, the URL-encoded and the JSON-escaped form.
/// Values can be added at any time (`::add-mask::`, a plugin's `register_secret`); they apply to
/// every line redacted after `add` returns. Thread-safe.
public final class Redactor: Sendable {
    public static let mask = "***"
    /// Shorter values are not masked (masking "a" would destroy the log); `add` says so.
    public static let minimumLength = 3

    private let patterns = Mutex<[String]>([])

    public init() {}

    /// Register a secret. Returns false (and masks nothing) when the value is too short to mask.
    @discardableResult
    public func add(_ secret: String) -> Bool {
        var added = false
        var forms: [String] = []
        for line in secret.split(whereSeparator: \.isNewline).map(String.init) {
            let value = line.trimmingCharacters(in: .whitespaces)
            guard value.count >= Self.minimumLength else { continue }
            added = true
            forms.append(value)
            forms.append(contentsOf: Self.encodings(of: value))
        }
        guard added else { return false }
        patterns.withLock { patterns in
            for form in forms where form.count >= Self.minimumLength && !patterns.contains(form) { patterns.append(form) }
            patterns.sort { $0.utf8.count > $1.utf8.count }  // longest first, so overlapping values mask fully
        }
        return true
    }

    /// True when nothing is registered (the fast path).
    public var isEmpty: Bool { patterns.withLock { $0.isEmpty } }

    /// `text` with every registered value replaced by `***`.
    public func redact(_ text: String) -> String {
        let current = patterns.withLock { $0 }
        guard !current.isEmpty, !text.isEmpty else { return text }
        var result = text
        for pattern in current where result.contains(pattern) {
            result = result.replacingOccurrences(of: pattern, with: Self.mask)
        }
        return result
    }

    /// Encoded forms a secret commonly leaks in.
    static func encodings(of value: String) -> [String] {
        var forms: [String] = []
        let bytes = Array(value.utf8)
        // base64 of the value at each of the three byte alignments: the stable middle part of the
        // encoding of any string that contains the value.
        for shift in 0..<3 {
            let padded = [UInt8](repeating: 0, count: shift) + bytes
            var encoded = Data(padded).base64EncodedString()
            // Drop the characters influenced by the padding bytes in front and by what follows.
            let lead = shift == 0 ? 0 : (shift == 1 ? 2 : 3)
            encoded = String(encoded.dropFirst(lead))
            while encoded.hasSuffix("=") { encoded.removeLast() }
            let tailBytes = (bytes.count + shift) % 3
            if tailBytes != 0 { encoded.removeLast() }
            if encoded.count >= 6 { forms.append(encoded) }
        }
        // URL-encoded: RFC 3986's unreserved set (as in a query value), and a looser form that keeps
        // the characters a URL query allows.
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        for allowed in [unreserved, .urlQueryAllowed.subtracting(CharacterSet(charactersIn: "&=+"))] {
            if let url = value.addingPercentEncoding(withAllowedCharacters: allowed), url != value, !forms.contains(url) {
                forms.append(url)
            }
        }
        if let json = try? JSONEncoder().encode(value), var text = String(data: json, encoding: .utf8) {
            text = String(text.dropFirst().dropLast())
            if text != value { forms.append(text) }
        }
        return forms
    }
}

/// Passes every event through the redactor before the wrapped reporter sees it.
public struct RedactingReporter: RunReporter {
    public let redactor: Redactor
    public let wrapped: any RunReporter

    public init(redactor: Redactor, wrapping wrapped: any RunReporter) {
        self.redactor = redactor
        self.wrapped = wrapped
    }

    /// Output reaches the reporters already redacted (by the step's stream redactor).
    public func output(_ chunk: OutputChunk) { wrapped.output(chunk) }

    public func report(_ event: RunEvent) {
        guard !redactor.isEmpty else { return wrapped.report(event) }
        let r = redactor.redact
        switch event {
        case .output(let job, let step, let stream, let line):
            wrapped.report(.output(job: job, step: step, stream: stream, line: r(line)))
        case .message(let job, let level, let text):
            wrapped.report(.message(job: job, level: level, text: r(text)))
        case .stepStarted(let job, let step, let name):
            wrapped.report(.stepStarted(job: job, step: step, name: r(name)))
        case .stepFinished(let job, let step, let name, let outcome, let exitCode, let duration):
            wrapped.report(.stepFinished(job: job, step: step, name: r(name), outcome: outcome, exitCode: exitCode, duration: duration))
        case .jobFinished(let job, let name, let outcome, let duration, let original):
            var failure = original
            if let original {
                failure?.message = r(original.message)
                failure?.stepName = original.stepName.map(r)
            }
            wrapped.report(.jobFinished(job: job, name: r(name), outcome: outcome, duration: duration, failure: failure))
        case .jobStarted(let job, let name):
            wrapped.report(.jobStarted(job: job, name: r(name)))
        case .annotation(var annotation):
            annotation.message = r(annotation.message)
            wrapped.report(.annotation(annotation))
        case .jobSummary(let job, let markdown):
            wrapped.report(.jobSummary(job: job, markdown: r(markdown)))
        case .workflowStarted, .workflowFinished:
            wrapped.report(event)
        }
    }
}
