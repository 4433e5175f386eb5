import Foundation
import Synchronization

/// Passes every event through the redactor before the wrapped reporter sees it.
///
/// A job's key is masked too when it holds a secret's value (a matrix value that is one makes the
/// instance's key): the same masked key in every event, the console's prefix and the log file's
/// name, decided the first time the key is seen (a value masked later does not split a job in two),
/// and made unique (`m-env-***`, `m-env-***-2`) so that two such jobs stay two.
public struct RedactingReporter: RunReporter {
    public let redactor: Redactor
    public let wrapped: any RunReporter
    private let keys = JobKeys()

    public init(redactor: Redactor, wrapping wrapped: any RunReporter) {
        self.redactor = redactor
        self.wrapped = wrapped
    }

    /// Output reaches the reporters already redacted (by the step's stream redactor).
    public func output(_ chunk: OutputChunk) {
        let job = key(chunk.job)
        if job == chunk.job { return wrapped.output(chunk) }
        wrapped.output(OutputChunk(job: job, step: chunk.step, stream: chunk.stream, bytes: chunk.bytes, lines: chunk.lines))
    }

    /// A job's description with its key as shown, its name and matrix values masked.
    func masked(_ description: JobDescription) -> JobDescription {
        var description = description
        description.key = key(description.key)
        description.name = redactor.redact(description.name)
        for index in description.matrix.indices {
            description.matrix[index].name = redactor.redact(description.matrix[index].name)
            description.matrix[index].value = redactor.redact(description.matrix[index].value)
        }
        return description
    }

    /// Outputs with their values and their names masked (a step can name an output after a
    /// secret: `printf '%s=v' "$TOKEN" >> "$GITHUB_OUTPUT"`); two names masked alike stay two
    /// (`***`, `***-2`, in the order of the names).
    func masked(_ outputs: [String: String]) -> [String: String] {
        var renamed: [(name: String, masked: String)] = []
        for name in outputs.keys {
            let masked = redactor.redact(name)
            if masked != name { renamed.append((name, masked)) }
        }
        guard !renamed.isEmpty else { return outputs.mapValues(redactor.redact) }
        var shown: [String: String] = [:]
        for (name, value) in outputs where !renamed.contains(where: { $0.name == name }) { shown[name] = redactor.redact(value) }
        for (name, masked) in renamed.sorted(by: { $0.name < $1.name }) {
            var unique = masked, number = 2
            while shown[unique] != nil || outputs[unique] != nil {
                unique = "\(masked)-\(number)"
                number += 1
            }
            shown[unique] = redactor.redact(outputs[name] ?? "")
        }
        return shown
    }

    /// What reporters see of a job's key (see the type's comment).
    func key(_ job: String) -> String {
        keys.shown.withLock { state in
            if let known = state.keys[job] { return known }
            var masked = redactor.redact(job)
            // A key is cut (`Planner.safeKey` at 120 characters, `Planner.fileKey` at 100 with a
            // hash after): one cut inside a secret's key form (a long token as a matrix value) ends,
            // before its suffixes (the hash, `-2` from `uniqueKey`), in a start of that form, which
            // is masked from there. Looked for in the key itself (masking would hide it). Executors
            // get the key as shown (`JobRunner.executorKey`), so no folder or command line holds
            // that start either.
            if !redactor.isEmpty, job.utf8.count >= Planner.fileKeyPrefix {
                var bytes = Array(job.utf8)
                var suffix: [UInt8] = []
                func strip(_ isPart: (UInt8) -> Bool, count: ClosedRange<Int>) {
                    var index = bytes.count
                    while index > 0, isPart(bytes[index - 1]) { index -= 1 }
                    let part = bytes.count - index
                    guard count.contains(part), index > 0, bytes[index - 1] == UInt8(ascii: "-") else { return }
                    suffix = Array(bytes[(index - 1)...]) + suffix
                    bytes.removeSubrange((index - 1)...)
                }
                strip({ $0 >= 0x30 && $0 <= 0x39 }, count: 1...9)  // uniqueKey's -N
                strip({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }, count: 16...16)  // fileKey's hash
                var cut = bytes.count
                if bytes.count >= Planner.fileKeyPrefix {
                    for form in redactor.maskedValues().map(RedactionForms.keyForm) where form.count >= Redactor.minimumLength {
                        // The earliest place from which the rest of the key begins the form (at
                        // least `minimumLength` bytes of it, as masking needs).
                        for start in 0...(bytes.count - Redactor.minimumLength) where start < cut && bytes[start] == form[0] {
                            let rest = bytes.count - start
                            if rest <= form.count, bytes[start...].elementsEqual(form.prefix(rest)) {
                                cut = start
                                break
                            }
                        }
                    }
                }
                if cut < bytes.count {
                    masked = redactor.redact(String(decoding: bytes[..<cut], as: UTF8.self)) + Redactor.mask
                        + String(decoding: suffix, as: UTF8.self)
                }
            }
            var shown = masked
            if masked != job {
                var number = 2
                while state.used.contains(shown) {
                    shown = "\(masked)-\(number)"
                    number += 1
                }
            }
            state.keys[job] = shown
            state.used.insert(shown)
            return shown
        }
    }

    public func report(_ event: RunEvent) {
        // Keys go through `key` even before any secret is known: one seen then stays as it was.
        let r = redactor.redact
        let k = key
        switch event {
        case .output(let job, let step, let stream, let line):
            wrapped.report(.output(job: k(job), step: step, stream: stream, line: r(line)))
        case .message(let job, let level, let text):
            wrapped.report(.message(job: job.map(k), level: level, text: r(text)))
        case .stepStarted(let job, let step, let name, let id):
            wrapped.report(.stepStarted(job: k(job), step: step, name: r(name), id: id))
        case .stepFinished(let job, let step, let name, let outcome, let exitCode, let duration, let id, let conclusion, let outputs, let attempts,
                           let timeLimit, let signal):
            wrapped.report(.stepFinished(job: k(job), step: step, name: r(name), outcome: outcome, exitCode: exitCode, duration: duration,
                                         id: id, conclusion: conclusion, outputs: masked(outputs), attempts: attempts,
                                         timeLimit: timeLimit, signal: signal))
        case .stepRetrying(let job, let step, let name, let attempt, let of, let exitCode, let wait, let signal):
            wrapped.report(.stepRetrying(job: k(job), step: step, name: r(name), attempt: attempt, of: of, exitCode: exitCode, wait: wait, signal: signal))
        case .jobFinished(let job, let name, let outcome, let duration, let original, let outputs, let reason):
            var failure = original
            if let original {
                failure?.message = r(original.message)
                failure?.stepName = original.stepName.map(r)
            }
            wrapped.report(.jobFinished(job: k(job), name: r(name), outcome: outcome, duration: duration, failure: failure, outputs: masked(outputs),
                                        reason: reason.map(r)))
        case .jobStarted(let job, let name):
            wrapped.report(.jobStarted(job: k(job), name: r(name)))
        case .annotation(var annotation):
            // Every property, not just the message: `title=` and `file=` come from the step too.
            annotation.message = r(annotation.message)
            annotation.title = annotation.title.map(r)
            annotation.file = annotation.file.map(r)
            // A line number that is a secret's value (a short numeric secret) is left out.
            if let line = annotation.line, r(String(line)) != String(line) { annotation.line = nil }
            annotation.job = k(annotation.job)
            wrapped.report(.annotation(annotation))
        case .jobSummary(let job, let markdown):
            wrapped.report(.jobSummary(job: k(job), markdown: r(markdown)))
        case .planned(let jobs, let details):
            wrapped.report(.planned(jobs: jobs.map(k), details: details.map { masked($0) }))
        case .callStarted(let job, let uses, let jobs, let details):
            wrapped.report(.callStarted(job: k(job), uses: r(uses), jobs: jobs.map(k), details: details.map { masked($0) }))
        case .matrixExpanded(let job, let jobs, let details):
            wrapped.report(.matrixExpanded(job: k(job), jobs: jobs.map(k), details: details.map { masked($0) }))
        // The workflow's name too (audit 51: a value written in it showed in the console, the
        // summary and the events).
        case .workflowStarted(let workflow, let runID):
            wrapped.report(.workflowStarted(workflow: r(workflow), runID: runID))
        case .workflowFinished(let workflow, let outcome, let duration, let exitStatus, let message):
            wrapped.report(.workflowFinished(workflow: r(workflow), outcome: outcome, duration: duration, exitStatus: exitStatus, message: message.map(r)))
        }
    }
}

/// The keys `RedactingReporter` has shown, and what as.
private final class JobKeys: Sendable {
    struct State {
        var keys: [String: String] = [:]
        var used: Set<String> = []
    }
    let shown = Mutex(State())
}
