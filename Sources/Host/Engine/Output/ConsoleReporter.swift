import Foundation
import Synchronization

/// Writes a run as text: one line per output line labelled with its job, then a summary table,
/// the annotations and the steps' summaries.
public final class ConsoleReporter: RunReporter {
    public enum Style: String, Sendable { case plain, human }

    private let style: Style
    private let write: @Sendable (String) -> Void
    private let writeBytes: @Sendable (UnsafeRawBufferPointer) -> Void
    /// Output lines are not formatted at all (standard output is /dev/null).
    private let discardsOutput: Bool
    private let state = Mutex<State>(State())

    struct State {
        var rows: [JobRow] = []
        var annotations: [Annotation] = []
        var summaries: [(String, String)] = []
        var names: [String: String] = [:]
        /// Run messages already said on standard error (`saidElsewhere`).
        var saidElsewhere: Set<String> = []
        /// Job keys in plan order, each calling instance's called jobs after it (the table's
        /// order); a key not in it goes after, as it finished.
        var sequence: [String] = []
    }

    struct JobRow {
        var key: String
        var name: String
        var outcome: Outcome
        var duration: Duration?
        var failure: JobFailure?
    }

    /// - Parameters:
    ///   - write: where text goes (default: standard output); it must be thread-safe.
    ///   - writeBytes: where formatted output lines go (default: through `write`).
    ///   - discardsOutput: skip output lines (nobody reads them); events are still written.
    public init(style: Style = .plain, write: (@Sendable (String) -> Void)? = nil,
                writeBytes: (@Sendable (UnsafeRawBufferPointer) -> Void)? = nil, discardsOutput: Bool = false) {
        self.style = style
        let write = write ?? { StandardStreams.writeOutput($0) }
        self.write = write
        self.writeBytes = writeBytes ?? { write(String(decoding: $0, as: UTF8.self)) }
        self.discardsOutput = discardsOutput
    }

    /// Run messages (no job) with these texts are not written: they were said on standard error
    /// before the run started, and come as events for the record (`RunOptions.startWarnings`).
    public func saidElsewhere(_ texts: [String]) {
        state.withLock { $0.saidElsewhere.formUnion(texts) }
    }

    /// `[job] line` per line, formatted outside any lock and written in one piece.
    public func output(_ chunk: OutputChunk) {
        guard !discardsOutput else { return }
        let prefix = Array("[\(chunk.job)] ".utf8)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(chunk.bytes.count + max(1, chunk.lines) * (prefix.count + 1))
        chunk.forEachLine { line in
            buffer.append(contentsOf: prefix)
            buffer.append(contentsOf: line)
            buffer.append(0x0A)
        }
        buffer.withUnsafeBytes { writeBytes($0) }
    }

    private func color(_ code: String, _ text: String) -> String {
        style == .human ? "\u{1B}[\(code)m\(text)\u{1B}[0m" : text
    }

    public func report(_ event: RunEvent) {
        state.withLock { state in
            switch event {
            case .workflowStarted(let workflow, let runID):
                write("==> workflow '\(DisplayText.escaped(workflow))' (run \(runID))\n")
            case .jobStarted(let key, let name):
                let name = DisplayText.escaped(name)
                state.names[key] = name
                write(color("1", "==> job '\(name)' started") + "\n")
            case .stepStarted(let job, _, let name, _):
                write(color("2", "[\(job)] > \(DisplayText.escaped(name))") + "\n")
            case .output(let job, _, _, let line):
                write("[\(job)] \(line)\n")
            case .planned(let jobs, _):
                state.sequence = jobs
            case .callStarted(let key, let uses, let jobs, _):
                if let index = state.sequence.firstIndex(of: key) {
                    state.sequence.insert(contentsOf: jobs, at: index + 1)
                } else {
                    state.sequence += [key] + jobs
                }
                write(color("2", "[\(key)] calls \(DisplayText.escaped(uses)): \(jobs.count) job\(jobs.count == 1 ? "" : "s")") + "\n")
            case .matrixExpanded(let key, let jobs, _):
                // The stand-in's place in the table is its instances'.
                if let index = state.sequence.firstIndex(of: key) { state.sequence.replaceSubrange(index...index, with: jobs) }
            case .stepRetrying(let job, _, let name, let attempt, let of, let exitCode, let wait, let signal):
                let text = Self.retryText(name: name, attempt: attempt, of: of, exitCode: exitCode, wait: wait, signal: signal)
                write("[\(job)] " + color("33", "warning: " + DisplayText.escaped(text, keepingNewlines: true)) + "\n")
            case .stepFinished(let job, _, let name, let outcome, let exitCode, let duration, _, _, _, _, let timeLimit, _):
                write(Self.stepLine(job: job, name: DisplayText.escaped(name), outcome: outcome, exitCode: exitCode, duration: duration,
                                    timeLimit: timeLimit, color: color) + "\n")
            case .annotation(let annotation):
                state.annotations.append(annotation)
                // Each line of it with the job's key, as every console line is.
                write(color(annotation.kind == .error ? "31" : "33", "[\(annotation.job)] \(Self.describe(annotation, continuation: "[\(annotation.job)]   "))") + "\n")
            case .jobSummary(let job, let markdown):
                state.summaries.append((state.names[job] ?? job, markdown))
            case .jobFinished(let key, let name, let outcome, let duration, let failure, _, _):
                let name = DisplayText.escaped(name)  // as the table shows it too
                state.rows.append(JobRow(key: key, name: name, outcome: outcome, duration: duration, failure: failure))
                let mark = outcome == .success ? color("32", "succeeded") : color(outcome == .skipped ? "33" : "31", Self.word(outcome))
                let time = duration == .zero ? "" : " in \(Self.format(duration))"
                write("==> job '\(name)' \(mark)\(time)\n")
            case .message(let job, let level, let text):
                // The run's cancel is said on stderr as the signal comes ("nixactions: cancelling
                // (signal 2); …"): its record in the events is not said twice (audit 58 examples L3).
                if job == nil, text.hasPrefix(Self.cancelRecordPrefix) || state.saidElsewhere.contains(text) { break }
                let prefix = job.map { "[\($0)] " } ?? ""
                let label = level == .info ? "" : "\(level.rawValue): "
                // Messages quote names and values (a step's name, a plugin's words): escaped, lines kept.
                write(prefix + color(level == .error ? "31" : level == .warning ? "33" : "2", label + DisplayText.escaped(text, keepingNewlines: true)) + "\n")
            case .workflowFinished(let workflow, let outcome, let duration, _, _):
                let order = Dictionary(state.sequence.enumerated().map { ($0.element, $0.offset) }, uniquingKeysWith: { first, _ in first })
                let rows = state.rows.enumerated().sorted { a, b in
                    (order[a.element.key] ?? Int.max, a.offset) < (order[b.element.key] ?? Int.max, b.offset)
                }.map(\.element)
                write(Self.table(rows, total: duration))
                if !state.annotations.isEmpty {
                    write("Annotations:\n" + state.annotations.map { "  [\($0.job)] \(Self.describe($0, continuation: "    "))\n" }.joined() + "\n")
                }
                for (job, markdown) in state.summaries {
                    // A step's text: indented, its control characters (an escape sequence) shown as escapes (audit 66 output M1).
                    let lines = DisplayText.escaped(markdown, keepingNewlines: true).split(separator: "\n", omittingEmptySubsequences: false)
                    write("Summary of '\(job)':\n" + lines.map { "  " + $0 }.joined(separator: "\n") + "\n")
                }
                write("==> workflow '\(DisplayText.escaped(workflow))' \(Self.word(outcome)) in \(Self.format(duration))\n")
            }
        }
    }

    /// A finished step on one line: `[build] ✓ Run make (1.20s)`, `[build] ✗ Test (exit code 2, 3.41s)`,
    /// `[build] - Deploy (skipped)`, `[build] ✗ Wait (cancelled, 2.00s)`, `[build] ✗ Slow (timed out after 2s, 2.00s)`.
    static func stepLine(job: String, name: String, outcome: Outcome, exitCode: Int32?, duration: Duration, timeLimit: Duration? = nil,
                         color: (String, String) -> String) -> String {
        var details: [String] = []
        switch outcome {
        case .skipped: return color("2", "[\(job)] - \(name) (skipped)")
        case .cancelled: details.append("cancelled")
        // A step whose process exited 0 and that failed for another reason (a bad GITHUB_ENV
        // line, `::error` with a failing command): no "exit code 0" (audit 53), the error says why.
        case .failure:
            if let timeLimit {
                details.append("timed out after \(DurationParser.format(timeLimit))")
            } else if let exitCode, exitCode != 0 {
                details.append("exit code \(exitCode)")
            }
        case .success: break
        }
        if duration != .zero || outcome == .success { details.append(format(duration)) }
        let suffix = details.isEmpty ? "" : " (\(details.joined(separator: ", ")))"
        // A success shows only its mark in colour; a failure or cancellation is coloured whole.
        if outcome == .success { return "[\(job)] \(color("32", "✓")) \(name)\(suffix)" }
        return color(outcome == .cancelled ? "33" : "31", "[\(job)] ✗ \(name)\(suffix)")
    }

    /// The line a retry shows: `step 'Test' failed (exit code 1); attempt 2 of 3 in 5s`, or
    /// `(killed by signal 9)`.
    static func retryText(name: String, attempt: Int, of: Int, exitCode: Int32?, wait: Duration, signal: Int32? = nil) -> String {
        let why = signal.map { "killed by signal \($0)" } ?? "exit code \(exitCode.map(String.init) ?? "-")"
        return "step '\(name)' failed (\(why)); attempt \(attempt + 1) of \(of) in \(DurationParser.format(wait))"
    }

    /// An annotation as one entry: `continuation` starts each of its lines after the first, so a
    /// message of several lines (`%0A`) stays one entry and never reads as the runner's own lines
    /// (`==> job deploy succeeded`: audit 64 events L2). Control characters other than line breaks
    /// are shown as escapes, as in names.
    static func describe(_ annotation: Annotation, continuation: String = "  ") -> String {
        var place = ""
        if let file = annotation.file { place = " (\(file)\(annotation.line.map { ":\($0)" } ?? ""))" }
        let title = annotation.title.map { "\($0): " } ?? ""
        let text = DisplayText.escaped("\(annotation.kind.rawValue): \(title)\(annotation.message)\(place)", keepingNewlines: true)
        return text.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n" + continuation)
    }

    /// An outcome as the job and workflow lines say it: "succeeded", "failed", "cancelled",
    /// "skipped" (audit 58 examples L17: "failure in 0.01s" beside "succeeded in").
    /// The run's record of a signal that cancels it (RunCommand), which the text console leaves
    /// to the line the signal handler writes on stderr.
    public static let cancelRecordPrefix = "cancelling: the run received signal "

    static func word(_ outcome: Outcome) -> String {
        switch outcome {
        case .success: "succeeded"
        case .failure: "failed"
        default: outcome.rawValue
        }
    }

    static func format(_ duration: Duration) -> String {
        // Digits by hand (every job's line has one): String(format:) boxes its arguments.
        let components = duration.components
        let seconds = Int(components.seconds)
        if seconds < 60 {
            let hundredths = Int((Double(components.attoseconds) / 1e16).rounded())
            let whole = seconds + hundredths / 100, fraction = hundredths % 100
            if whole < 60 { return "\(whole).\(fraction < 10 ? "0" : "")\(fraction)s" }
        }
        let rest = seconds % 60
        return "\(seconds / 60)m\(rest < 10 ? "0" : "")\(rest)s"
    }

    /// The summary table, its rows in the order given, then a line of totals: how many jobs
    /// ended each way and the run's duration.
    static func table(_ rows: [JobRow], total: Duration? = nil) -> String {
        let header = ["JOB", "STATUS", "DURATION", "FAILED STEP"]
        let body = rows.map { row -> [String] in
            var step = ""
            if let failure = row.failure, row.outcome != .skipped {
                let code = failure.stepTimeLimit.map { " (timed out after \(DurationParser.format($0)))" } ?? failure.exitCode.map { " (exit code \($0))" } ?? ""
                // One line per job: a long message (a build log) is in the job's log and above.
                let firstLine = failure.message.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? ""
                step = DisplayText.escaped(failure.stepName.map { "'\($0)'" } ?? firstLine) + code
            }
            // A success with a failure is a failure allowed by continue-on-error.
            let status = row.outcome == .success && row.failure != nil ? "success (failure allowed)" : row.outcome.rawValue
            return [row.name, status, row.outcome == .skipped || row.duration == .zero ? "-" : row.duration.map(format) ?? "-", step]
        }
        // In terminal columns: a name in Chinese or with an emoji takes two per character.
        let widths = header.indices.map { column in ([header] + body).map { DisplayText.width($0[column]) }.max() ?? 0 }
        // Plain Swift: Foundation's padding bridges each cell to NSString, for every row of a table
        // made twice per run (the console's and the log folder's summary).
        func line(_ cells: [String]) -> String {
            var text = ""
            for (column, cell) in cells.enumerated() {
                if column > 0 { text += "  " }
                text += cell
                if column < cells.count - 1 { text += String(repeating: " ", count: max(0, widths[column] - DisplayText.width(cell))) }
            }
            func blank(_ character: Character) -> Bool { character.isWhitespace && !character.isNewline }
            while let last = text.last, blank(last) { text.removeLast() }
            return String(text.drop(while: blank)) + "\n"
        }
        var totals = ""
        if let total {
            let counts = [Outcome.success, .failure, .cancelled, .skipped].compactMap { outcome -> String? in
                let count = rows.filter { $0.outcome == outcome }.count
                return count == 0 ? nil : "\(count) \(outcome == .success ? "succeeded" : outcome == .failure ? "failed" : outcome.rawValue)"
            }
            totals = "\n\(rows.count) job\(rows.count == 1 ? "" : "s"): " + (counts.isEmpty ? "none ran" : counts.joined(separator: ", ")) + " in \(format(total))\n"
        }
        return "\n" + line(header) + body.map(line).joined() + totals + "\n"
    }
}
