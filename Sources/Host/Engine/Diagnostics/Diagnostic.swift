/// A position in a workflow file (1-based line and column, columns counted in Unicode scalars).
public struct SourceLocation: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int

    public init(file: String, line: Int, column: Int) {
        self.file = file
        self.line = line
        self.column = column
    }

    /// `FILE:LINE:COLUMN`, or `FILE` alone when the line is not known (0).
    public var description: String { line > 0 ? "\(file):\(line):\(column)" : file }

    public static func < (lhs: SourceLocation, rhs: SourceLocation) -> Bool {
        (lhs.file, lhs.line, lhs.column) < (rhs.file, rhs.line, rhs.column)
    }
}

/// A problem found in a workflow: where, what, in which workflow/job/step, and a hint.
public struct Diagnostic: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Severity: String, Sendable, Hashable, Comparable {
        case error, warning, note
        public static func < (lhs: Severity, rhs: Severity) -> Bool {
            let order: [Severity] = [.error, .warning, .note]
            return order.firstIndex(of: lhs)! < order.firstIndex(of: rhs)!
        }
    }

    public var severity: Severity
    public var location: SourceLocation?
    public var message: String
    /// Which workflow/job/step this concerns, e.g. "workflow 'ci' › job 'build' › step 2 'Compile'".
    public var context: String?
    public var hint: String?

    public init(
        _ severity: Severity, _ message: String, at location: SourceLocation? = nil,
        context: String? = nil, hint: String? = nil
    ) {
        self.severity = severity
        self.location = location
        self.message = message
        self.context = context
        self.hint = hint
    }

    /// The job this concerns (from the context "… › job 'ID' …"), nil at workflow level.
    public var jobID: String? {
        guard let context, let start = context.range(of: "› job '") else { return nil }
        let rest = context[start.upperBound...]
        guard let end = rest.firstIndex(of: "'") else { return nil }
        return String(rest[..<end])
    }

    /// `FILE:LINE:COL: error: MESSAGE`, then the context and the hint on indented lines. Control
    /// characters the file put in a message (a key, a value) are shown as escapes (`DisplayText`).
    public var description: String {
        var text = location.map { "\($0): " } ?? ""
        text += "\(severity.rawValue): \(message)"
        if let context { text += "\n  in \(context)" }
        if let hint { text += "\n  hint: \(hint)" }
        return DisplayText.escaped(text, keepingNewlines: true)
    }
}

/// Collects diagnostics; validation keeps going after a problem so that all are reported at once.
public struct DiagnosticBag: Sendable {
    public private(set) var diagnostics: [Diagnostic] = []

    public init() {}

    public mutating func append(_ diagnostic: Diagnostic) {
        diagnostics.append(diagnostic)
    }

    public mutating func error(_ message: String, at location: SourceLocation?, context: String? = nil, hint: String? = nil) {
        append(Diagnostic(.error, message, at: location, context: context, hint: hint))
    }

    public mutating func warning(_ message: String, at location: SourceLocation?, context: String? = nil, hint: String? = nil) {
        append(Diagnostic(.warning, message, at: location, context: context, hint: hint))
    }

    public mutating func note(_ message: String, at location: SourceLocation?, context: String? = nil, hint: String? = nil) {
        append(Diagnostic(.note, message, at: location, context: context, hint: hint))
    }

    public var hasErrors: Bool { diagnostics.contains { $0.severity == .error } }

    /// Diagnostics in file order.
    public var sorted: [Diagnostic] {
        diagnostics.enumerated().sorted { a, b in
            switch (a.element.location, b.element.location) {
            case let (l?, r?) where l != r: return l < r
            default: return a.offset < b.offset
            }
        }.map(\.element)
    }
}

/// Suggest the closest of `candidates` to `word`, if one is close enough to be a likely typo.
public func didYouMean(_ word: String, in candidates: some Sequence<String>) -> String? {
    var best: (String, Int)?
    let lowered = word.lowercased()
    // A third of the word's length, at least one and at most three edits: 'pwsh' is not a
    // misspelt 'bash' (two edits of four letters), 'pyhton' is a misspelt 'python'.
    let limit = max(1, min(3, max(word.count, 3) / 3))
    let length = lowered.unicodeScalars.count
    for candidate in candidates {
        // The lengths' difference is a lower bound of the distance: most candidates of a long
        // list (3,000 job ids) are ruled out without computing it.
        let lowerCandidate = candidate.lowercased()
        guard abs(lowerCandidate.unicodeScalars.count - length) <= limit else { continue }
        let distance = editDistance(lowered, lowerCandidate)
        if distance < (best?.1 ?? Int.max) { best = (candidate, distance) }
    }
    guard let best else { return nil }
    return best.1 <= limit ? best.0 : nil
}

/// Edit distance on Unicode scalars, a swap of two neighbours counting as one edit (optimal
/// string alignment: 'nmae' is one edit from 'name').
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.unicodeScalars), b = Array(b.unicodeScalars)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var beforePrevious = [Int](repeating: 0, count: b.count + 1)
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1, j > 1, a[i - 1] == b[j - 2], a[i - 2] == b[j - 1] {
                current[j] = min(current[j], beforePrevious[j - 2] + 1)
            }
        }
        (beforePrevious, previous, current) = (previous, current, beforePrevious)
    }
    return previous[b.count]
}
