import Foundation
import Synchronization

/// Replaces every registered secret (and its common encodings) with `***`.
///
/// Matching is on UTF-8 bytes, with one multi-pattern automaton (`RedactionAutomaton`) over every
/// form of every secret, so its cost does not grow with the number of secrets. A multi-line secret
/// is masked line by line (GitHub's rule), each line trimmed. For each value it also masks base64 in
/// all three byte alignments (also when wrapped at any column with `\n` or `\r\n`), the URL-encoded
/// (`%XX`, also `+` for space) and the JSON-escaped forms (also `\uXXXX`). See `RedactionForms`.
///
/// Two ways to use it:
/// - `redact(_:)` for whole texts (messages, names, summaries);
/// - `makeStream(emit:)` for byte streams (step output): it holds back only the bytes that may
///   still begin a match, so a secret split across writes is still masked.
///
/// Overlapping and adjacent matches are masked as their union; inside a masked range CR and LF
/// bytes are kept and each run of other bytes becomes `***`.
///
/// Values can be added at any time (`::add-mask::`, a plugin's `register_secret`); they apply to
/// everything redacted or written after `add` returns. `add` publishes a new version; the
/// immutable automaton for it is built by the first reader that needs it (so a burst of `add`s
/// costs one build). Thread-safe.
public final class Redactor: Sendable {
    public static let mask = "***"
    /// Shorter values (in UTF-8 bytes) are not masked (masking "a" would destroy the log); `add` says so.
    public static let minimumLength = 4

    private struct Registry {
        /// Every form, in the order added; the first `baseCount` are in `built.base`, the rest in
        /// `built.recent`.
        var patterns: [RedactionPattern] = []
        var known: Set<RedactionPattern> = []
        /// Values given to `add`, and whether they could be masked.
        var values: [String: Bool] = [:]
        var version = 0
        var built = RedactionAutomatons.empty
        var baseCount = 0
        var builtVersion = 0
        /// Patterns read while building automatons so far (tests: adding one value at a time costs
        /// far less than rebuilding everything each time).
        var patternsBuilt = 0
        /// The next build folds `recent` into `base` (`mergeRecent`).
        var mergeAsked = false
    }

    private let registry = Mutex(Registry())
    /// The registry's version, readable without the lock (streams check it once per write).
    private let published = Atomic<Int>(0)

    /// Up to this many forms, one automaton holds them all (`current()`).
    private let smallBase: Int

    public init() { smallBase = Self.smallBase }

    /// A redactor that splits its automatons from `smallBase` forms on (tests: 0 splits at once).
    init(smallBase: Int) { self.smallBase = smallBase }

    /// Register a secret. Returns false (and masks nothing) when the value is too short to mask.
    @discardableResult
    public func add(_ secret: String) -> Bool {
        // A value seen before (a secret's variable in every step's environment) costs one lookup,
        // not the derivation of its forms again.
        if let known = registry.withLock({ $0.values[secret] }) { return known }
        guard let forms = RedactionForms.patterns(for: secret) else {
            registry.withLock { $0.values[secret] = false }
            return false
        }
        publish(forms, value: secret)
        return true
    }

    /// Register a value given as bytes. Bytes that are not UTF-8 (a step printing a Latin-1
    /// password it gave to `::add-mask::`) are masked as they are, with their base64 and
    /// URL-encoded forms, each line on its own; UTF-8 goes to `add(_:)`.
    @discardableResult
    public func add(bytes: [UInt8]) -> Bool {
        if let text = String(validating: bytes, as: UTF8.self) { return add(text) }
        guard let forms = RedactionForms.patterns(forBytes: bytes) else { return false }
        publish(forms, value: nil)
        return true
    }

    private func publish(_ forms: [RedactionPattern], value secret: String?) {
        registry.withLock { registry in
            if let secret { registry.values[secret] = true }
            var changed = false
            for form in forms where registry.known.insert(form).inserted {
                registry.patterns.append(form)
                changed = true
            }
            if changed {
                registry.version += 1
                published.store(registry.version, ordering: .releasing)
            }
        }
    }

    /// Every value given to `add` that is masked (not the byte values of `add(bytes:)`).
    func maskedValues() -> [String] {
        registry.withLock { $0.values.compactMap { $0.value ? $0.key : nil } }
    }

    /// True when nothing is registered (the fast path).
    public var isEmpty: Bool { published.load(ordering: .acquiring) == 0 }

    /// The current version (changes on every `add` that registers a new form).
    var version: Int { published.load(ordering: .acquiring) }

    /// The automatons for the newest version, built now if needed, and its version.
    ///
    /// Values added one at a time while output flows (a step that masks and prints values in a
    /// loop) would each have the automaton rebuilt over every form known: quadratic (a step adding
    /// 1,000 values took 32 s of CPU in a debug build, 2,000 took 127 s). Past `smallBase` forms,
    /// those added since the last full build go to a second, small automaton (`recent`), rebuilt
    /// alone, until they are more than about twice the square root of the base's; then everything
    /// is built again as one. The cost of adding n forms one by one grows as n^1.5, not n².
    func current() -> (automatons: RedactionAutomatons, version: Int) {
        registry.withLock { registry in
            if registry.builtVersion != registry.version {
                let fresh = registry.patterns.count - registry.baseCount
                let limit = max(64, 2 * Int(Double(registry.baseCount).squareRoot()))
                if registry.mergeAsked || registry.baseCount == 0 || registry.baseCount < smallBase || fresh > limit {
                    registry.mergeAsked = false
                    registry.built = RedactionAutomatons(base: RedactionAutomaton(patterns: registry.patterns), recent: .empty)
                    registry.baseCount = registry.patterns.count
                    registry.patternsBuilt += registry.patterns.count
                } else {
                    let recent = Array(registry.patterns[registry.baseCount...])
                    registry.built = RedactionAutomatons(base: registry.built.base, recent: RedactionAutomaton(patterns: recent))
                    registry.patternsBuilt += recent.count
                }
                registry.builtVersion = registry.version
            }
            return (registry.built, registry.builtVersion)
        }
    }

    /// Fold the small automaton into the large one at the next `current()`: a stream that has read
    /// much output with two asks for it, since one build costs less than scanning twice from then on.
    func mergeRecent() {
        registry.withLock { registry in
            guard registry.builtVersion == registry.version, !registry.built.recent.isEmpty, !registry.mergeAsked else { return }
            registry.mergeAsked = true
            registry.version += 1
            published.store(registry.version, ordering: .releasing)
        }
    }

    /// Up to this many forms, one automaton holds them all (rebuilding it is cheap).
    static let smallBase = 1024

    /// Patterns read while building automatons so far.
    var patternsBuilt: Int { registry.withLock { $0.patternsBuilt } }

    /// `text` with every registered value replaced by `***`.
    public func redact(_ text: String) -> String {
        guard !isEmpty, !text.isEmpty else { return text }
        let automatons = current().automatons
        var text = text
        return text.withUTF8 { bytes in
            let intervals = automatons.matches(in: bytes)
            if intervals.isEmpty { return nil }
            return String(decoding: RedactionAutomaton.apply(intervals, to: bytes), as: UTF8.self)
        } ?? text
    }

    /// Whether `text` contains a registered value (in any of its forms).
    public func contains(_ text: String) -> Bool {
        guard !isEmpty, !text.isEmpty else { return false }
        let automatons = current().automatons
        var text = text
        return text.withUTF8 { !automatons.matches(in: $0).isEmpty }
    }

    /// A redacting stream: bytes written to it come out of `emit`, redacted, as soon as they can no
    /// longer begin a match. One writer per stream; see `RedactionStream`.
    public func makeStream(emit: @escaping (UnsafeRawBufferPointer) -> Void) -> RedactionStream {
        RedactionStream(redactor: self, emit: emit)
    }
}

/// The automatons a redactor matches with: one over most forms (`base`) and a small one over
/// those added since it was built (`recent`, often empty). See `Redactor.current()`.
struct RedactionAutomatons: Sendable {
    let base: RedactionAutomaton
    let recent: RedactionAutomaton

    static let empty = RedactionAutomatons(base: .empty, recent: .empty)

    var isEmpty: Bool { base.isEmpty && recent.isEmpty }
    var maxLength: Int { max(base.maxLength, recent.maxLength) }

    /// The masked intervals of `bytes`, of both automatons, merged.
    func matches(in bytes: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        guard !recent.isEmpty else { return base.matches(in: bytes) }
        var intervals = base.matches(in: bytes)
        for interval in recent.matches(in: bytes) { RedactionAutomaton.merge(interval, into: &intervals, from: 0) }
        return intervals
    }
}
