import Foundation

/// How a job or step ended.
public enum Outcome: String, Sendable, Hashable, Codable {
    case success, failure, cancelled, skipped
}

/// What the plan knows of a job instance, for a report to group instances under their job and show
/// their matrix values (keys are made from them, lower-cased and shortened, and cannot be parsed back).
public struct JobDescription: Sendable, Hashable {
    public struct MatrixValue: Sendable, Hashable {
        public var name: String
        /// The value as text: a string as it is, anything else as JSON.
        public var value: String
    }
    public var key: String
    /// The job's id in its workflow (a called workflow's job: `CALLER/JOB`'s own id).
    public var id: String
    public var name: String
    /// The ids of the jobs it needs.
    public var needs: [String]
    public var matrix: [MatrixValue]

    public init(_ instance: PlannedJob, needs: [String]) {
        key = instance.key
        id = instance.jobID
        name = instance.displayName
        self.needs = needs
        matrix = instance.matrix.map { entry in
            if case .string(let text) = entry.value { return MatrixValue(name: entry.key, value: text) }
            return MatrixValue(name: entry.key, value: entry.value.toJSON(pretty: false))
        }
    }
}

/// What a reporter is told as a run goes on. Reporters must be thread-safe.
public enum RunEvent: Sendable {
    case workflowStarted(workflow: String, runID: String)
    /// The job instances the run will decide on, by key, in plan order (dependency order, then
    /// file order; a matrix's instances together): the order of the summary table.
    case planned(jobs: [String], details: [JobDescription] = [])
    case jobStarted(job: String, name: String)
    /// A job whose matrix reads `needs` was expanded when they finished: its one planned key
    /// (never started) stands for these instances' keys from now on.
    case matrixExpanded(job: String, jobs: [String], details: [JobDescription] = [])
    /// A started job instance calls a reusable workflow (`uses`, as written): the keys of the
    /// called jobs' instances, in plan order (each has its own `jobStarted` when it starts). The
    /// summary table lists them after the caller.
    /// `details` describe them as `planned`'s do (`id` and `needs` as in the called file).
    case callStarted(job: String, uses: String, jobs: [String], details: [JobDescription] = [])
    /// `id`: the step's `id:`, when it has one (`steps.ID` in expressions).
    case stepStarted(job: String, step: Int, name: String, id: String? = nil)
    /// One line of step output (without its newline), already redacted.
    case output(job: String, step: Int, stream: Int32, line: String)
    /// `conclusion`: GitHub's, when it is not the outcome (a failure `continue-on-error` allows
    /// concludes `success`).
    /// `outputs`: what a step with an `id` set (`steps.ID.outputs`).
    /// `attempts`: how many times it ran (more than 1 only with `retry`).
    /// `timeLimit`: the step failed because it ran past this limit (its `timeout-minutes`).
    /// `signal`: its (last) process was killed by this signal from outside the run (then `exitCode` is nil).
    case stepFinished(job: String, step: Int, name: String, outcome: Outcome, exitCode: Int32?, duration: Duration,
                      id: String? = nil, conclusion: Outcome? = nil, outputs: [String: String] = [:], attempts: Int = 1,
                      timeLimit: Duration? = nil, signal: Int32? = nil)
    /// A step's attempt `attempt` (counted from 1) of at most `of` failed, and the step runs again
    /// after `wait` (its `retry` policy). Its output goes on under the same step index.
    /// `signal`: the attempt was killed by that signal (then `exitCode` is nil).
    case stepRetrying(job: String, step: Int, name: String, attempt: Int, of: Int, exitCode: Int32?, wait: Duration, signal: Int32? = nil)
    /// `outputs`: the job's outputs as `needs.JOB.outputs` sees them (one holding a secret left out).
    /// `reason`: why a job decided without starting was skipped or cancelled (a failure says it in `failure`).
    case jobFinished(job: String, name: String, outcome: Outcome, duration: Duration, failure: JobFailure?, outputs: [String: String] = [:],
                     reason: String? = nil)
    /// `exitStatus`: what `nixactions run` exits with (nil when not known here: the supervisor's record).
    /// `message`: why the run ended as it did, when that was not its jobs' doing (a second signal).
    case workflowFinished(workflow: String, outcome: Outcome, duration: Duration, exitStatus: Int32? = nil, message: String? = nil)
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
    /// The job failed because it ran past this limit (its `timeout-minutes`).
    public var timeLimit: Duration?
    /// The failed step ran past this limit of its own (the table says so: audit 58 examples L2).
    public var stepTimeLimit: Duration?

    public init(stepIndex: Int? = nil, stepName: String? = nil, exitCode: Int32? = nil, message: String, timeLimit: Duration? = nil,
                stepTimeLimit: Duration? = nil) {
        self.stepIndex = stepIndex
        self.stepName = stepName
        self.exitCode = exitCode
        self.message = message
        self.timeLimit = timeLimit
        self.stepTimeLimit = stepTimeLimit
    }
}

/// Receives run events.
public protocol RunReporter: Sendable {
    func report(_ event: RunEvent)
    /// A batch of step output, already redacted. The default splits it into `.output` events.
    func output(_ chunk: OutputChunk)
}

extension RunReporter {
    public func output(_ chunk: OutputChunk) {
        chunk.forEachLine { line in
            report(.output(job: chunk.job, step: chunk.step, stream: chunk.stream, line: String(decoding: line, as: UTF8.self)))
        }
    }
}

/// A batch of one step's output on one stream, already redacted, as bytes: whole lines, each
/// ending in a newline, or (`lines == 0`) one piece of a line longer than
/// `OutputChunk.maxLine`. The bytes are borrowed for the duration of the call.
public struct OutputChunk {
    /// A line longer than this many bytes reaches the sinks in pieces of this size (no byte lost).
    public static let maxLine = 64 << 10

    public let job: String
    public let step: Int
    public let stream: Int32
    public let bytes: UnsafeRawBufferPointer
    /// How many newlines `bytes` holds (0 for a piece of a long line).
    public let lines: Int

    /// Each line without its newline (and without a carriage return before it).
    public func forEachLine(_ body: (UnsafeRawBufferPointer) -> Void) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        var start = 0
        while start < bytes.count {
            let rest = bytes.count - start
            let found = memchr(base + start, 0x0A, rest)
            let end = found.map { UnsafeRawPointer($0) - base } ?? bytes.count
            var stop = end
            if stop > start && bytes[stop - 1] == 0x0D { stop -= 1 }
            body(UnsafeRawBufferPointer(rebasing: bytes[start..<stop]))
            start = end + 1
        }
    }
}

/// Sends each event to several reporters.
public struct FanOutReporter: RunReporter {
    public let reporters: [any RunReporter]
    public init(_ reporters: [any RunReporter]) { self.reporters = reporters }
    public func report(_ event: RunEvent) { for reporter in reporters { reporter.report(event) } }
    public func output(_ chunk: OutputChunk) { for reporter in reporters { reporter.output(chunk) } }
}
