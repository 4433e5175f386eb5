import Foundation

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
            // Every property, not just the message: `title=` and `file=` come from the step too.
            annotation.message = r(annotation.message)
            annotation.title = annotation.title.map(r)
            annotation.file = annotation.file.map(r)
            // A line number that is a secret's value (a short numeric secret) is left out.
            if let line = annotation.line, r(String(line)) != String(line) { annotation.line = nil }
            annotation.job = r(annotation.job)
            wrapped.report(.annotation(annotation))
        case .jobSummary(let job, let markdown):
            wrapped.report(.jobSummary(job: job, markdown: r(markdown)))
        case .workflowStarted, .workflowFinished, .planned, .callStarted, .matrixExpanded:
            wrapped.report(event)
        }
    }
}
