import Foundation

/// How a job or step ended.
public enum Outcome: String, Sendable, Hashable, Codable {
    case success, failure, cancelled, skipped
}

/// What a reporter is told as a run goes on. Reporters must be thread-safe.
public enum RunEvent: Sendable {
    case workflowStarted(workflow: String, runID: String)
    case jobStarted(job: String, name: String)
    case stepStarted(job: String, step: Int, name: String)
    /// One line of step output (without its newline), already redacted.
    case output(job: String, step: Int, stream: Int32, line: String)
    case stepFinished(job: String, step: Int, name: String, outcome: Outcome, exitCode: Int32?, duration: Duration)
    case jobFinished(job: String, name: String, outcome: Outcome, duration: Duration, failure: JobFailure?)
    case workflowFinished(workflow: String, outcome: Outcome, duration: Duration)
    /// A message from the engine about a job (an error starting it, why it was skipped).
    case message(job: String?, level: MessageLevel, text: String)
    /// `::error`, `::warning` or `::notice` from a step.
    case annotation(Annotation)
    /// What a job's steps wrote to GITHUB_STEP_SUMMARY (Markdown).
    case jobSummary(job: String, markdown: String)
}

/// An `::error` / `::warning` / `::notice` workflow command, kept for the run's summary.
public struct Annotation: Sendable, Hashable {
    public enum Kind: String, Sendable { case error, warning, notice }
    public var kind: Kind
    public var job: String
    public var step: Int
    public var message: String
    public var file: String?
    public var line: Int?
    public var title: String?
}

public enum MessageLevel: String, Sendable {
    case info, warning, error
}

/// Why a job failed: the step and its exit code, or a machinery error.
public struct JobFailure: Sendable, Hashable {
    public var stepIndex: Int?
    public var stepName: String?
    public var exitCode: Int32?
    public var message: String

    public init(stepIndex: Int? = nil, stepName: String? = nil, exitCode: Int32? = nil, message: String) {
        self.stepIndex = stepIndex
        self.stepName = stepName
        self.exitCode = exitCode
        self.message = message
    }
}

/// Receives run events.
public protocol RunReporter: Sendable {
    func report(_ event: RunEvent)
}

/// Sends each event to several reporters.
public struct FanOutReporter: RunReporter {
    public let reporters: [any RunReporter]
    public init(_ reporters: [any RunReporter]) { self.reporters = reporters }
    public func report(_ event: RunEvent) { for reporter in reporters { reporter.report(event) } }
}
