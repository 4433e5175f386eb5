import Foundation

/// A run's state rebuilt from its `events.jsonl` alone (format `nixactions.events/1`): what a live
/// view or a report shows. Output is not copied into the state; each step keeps the ranges of its
/// job log that hold its output.
public struct RunState: Sendable, Equatable {
    public struct OutputRange: Sendable, Equatable {
        public var stream: String
        public var offset: Int
        public var length: Int
        public var lines: Int
    }

    public struct StepState: Sendable, Equatable {
        public var index: Int
        public var name: String
        public var status: String?
        public var exitCode: Int?
        public var durationMilliseconds: Int?
        public var output: [OutputRange] = []
        /// The step's `id:`, and GitHub's conclusion (`success` for a failure `continue-on-error`
        /// allows; otherwise its status).
        public var id: String?
        public var conclusion: String?
        /// What a step with an `id` set as its outputs (masked).
        public var outputs: [String: String] = [:]
        /// The attempt it is on or ended with (more than 1 only after a `retry`).
        public var attempts: Int = 1
        /// It failed by running past this time limit (`timed_out_after_ms`).
        public var timedOutAfterMilliseconds: Int?
        /// Its (last) process was killed by this signal from outside the run.
        public var signal: Int?
    }

    public struct JobState: Sendable, Equatable {
        public var key: String
        public var name: String
        public var status: String?
        public var durationMilliseconds: Int?
        public var failedStep: String?
        /// The failed step's index (`failed_step` is its name, which two steps may share).
        public var failedStepIndex: Int?
        /// Why it did not succeed, when the job (or the run's supervisor, for a run whose host died) said.
        public var message: String?
        /// It failed by running past this time limit (`timed_out_after_ms`).
        public var timedOutAfterMilliseconds: Int?
        public var steps: [StepState] = []
        public var annotations: [String] = []
        public var summary: String?
        /// From the plan (`planned`, `matrix_expanded`): the job's id in its workflow, the ids it
        /// needs, and its matrix values (a string as it is, anything else as JSON).
        public var id: String?
        /// The job's outputs (masked; one holding a secret is left out, as `needs` does).
        public var outputs: [String: String] = [:]
        public var needs: [String] = []
        public var matrix: [String: String] = [:]
        /// For a job that calls a reusable workflow: the file, and the keys of the jobs it called.
        public var uses: String?
        public var calls: [String] = []
    }

    public var format: String?
    public var workflow: String?
    public var runID: String?
    public var status: String?
    public var durationMilliseconds: Int?
    /// Why the run ended as it did, when that is not its jobs' doing: a host that died, or was
    /// stopped at once by a second signal (written by the run's supervisor, `UnfinishedRunEvents`).
    public var message: String?
    /// A signal reached the run (a `message` of the run's own, "…the run received signal N…",
    /// also one after `workflow_finished`): a run that succeeded then exits 130.
    public var signalled = false
    /// `workflow_finished`'s `exit_status` (since it was added; a record the supervisor closed has none).
    public var recordedExitStatus: Int?
    /// The exit status the run's command had, as its record tells it: `success` 0 (130 when a
    /// signal came), `cancelled` 130, `failure` 1, or 2 when it failed before any job started
    /// (a secret it could not read); nil while it runs.
    public var exitStatus: Int? {
        guard let status else { return nil }
        if let recordedExitStatus { return recordedExitStatus == 0 && signalled ? 130 : recordedExitStatus }
        switch status {
        case "success": return signalled ? 130 : 0
        case "cancelled": return 130
        default: return jobs.isEmpty ? 2 : 1
        }
    }
    /// Jobs in the order they started (or were decided without starting).
    public var jobs: [JobState] = []
    /// The keys of the run's jobs in the order of its plan (the console's table order), from
    /// `planned`, with a calling job's called jobs after it and a matrix stand-in replaced by its
    /// instances: jobs not in `jobs` yet are still to come.
    public var order: [String] = []

    public init() {}

    public enum ReplayError: Error, Equatable {
        case notJSON(line: Int)
        case unknownFormat(String)
    }

    /// Replay the events of a run; unknown events and fields are ignored (the format only grows),
    /// and so is a last line without its newline that is not whole JSON (the host was writing it).
    public static func replay(_ text: String) throws -> RunState {
        var state = RunState()
        var jobIndex: [String: Int] = [:]
        // What the plan said of each job, given to its state when the job first shows up.
        var described: [String: [String: Any]] = [:]
        func job(_ key: String) -> Int {
            if let index = jobIndex[key] { return index }
            var made = JobState(key: key, name: key)
            if let detail = described[key] {
                made.name = detail["name"] as? String ?? key
                made.id = detail["id"] as? String
                made.needs = detail["needs"] as? [String] ?? []
                made.matrix = detail["matrix"] as? [String: String] ?? [:]
            }
            state.jobs.append(made)
            jobIndex[key] = state.jobs.count - 1
            return state.jobs.count - 1
        }
        func describe(_ object: [String: Any]) {
            for case let detail as [String: Any] in object["details"] as? [Any] ?? [] {
                if let key = detail["job"] as? String { described[key] = detail }
            }
        }
        func step(_ job: Int, _ index: Int) -> Int {
            if let found = state.jobs[job].steps.firstIndex(where: { $0.index == index }) { return found }
            state.jobs[job].steps.append(StepState(index: index, name: ""))
            return state.jobs[job].steps.count - 1
        }
        let lines = text.split(separator: "\n")
        for (number, line) in lines.enumerated() {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                // The last line of a file still being written (a live view's) may be unfinished.
                if number == lines.count - 1 && !text.hasSuffix("\n") { break }
                throw ReplayError.notJSON(line: number + 1)
            }
            let string = { (key: String) in object[key] as? String }
            let int = { (key: String) in object[key] as? Int }
            switch string("event") {
            case "workflow_started":
                state.format = string("format")
                if let format = state.format, format != LogDirectoryReporter.eventsFormat { throw ReplayError.unknownFormat(format) }
                state.workflow = string("workflow")
                state.runID = string("run_id")
            case "planned":
                state.order = object["jobs"] as? [String] ?? []
                describe(object)
            case "job_started":
                guard let key = string("job") else { continue }
                state.jobs[job(key)].name = string("name") ?? key
            case "call_started":
                guard let key = string("job") else { continue }
                describe(object)
                let j = job(key)
                state.jobs[j].uses = string("uses")
                state.jobs[j].calls = object["jobs"] as? [String] ?? []
                if let index = state.order.firstIndex(of: key) {
                    state.order.insert(contentsOf: state.jobs[j].calls, at: index + 1)
                } else {
                    state.order += [key] + state.jobs[j].calls
                }
            case "matrix_expanded":
                // A stand-in a call listed is its instances from now on.
                guard let key = string("job"), let jobs = object["jobs"] as? [String] else { continue }
                describe(object)
                if let at = state.order.firstIndex(of: key) { state.order.replaceSubrange(at...at, with: jobs) }
                for index in state.jobs.indices {
                    if let at = state.jobs[index].calls.firstIndex(of: key) { state.jobs[index].calls.replaceSubrange(at...at, with: jobs) }
                }
            case "step_started":
                guard let key = string("job"), let index = int("step") else { continue }
                let j = job(key)
                let s = step(j, index)
                state.jobs[j].steps[s].name = string("name") ?? ""
                state.jobs[j].steps[s].id = string("id")
            case "output":
                guard let key = string("job"), let index = int("step"), let offset = int("offset"), let length = int("length") else { continue }
                let j = job(key)
                state.jobs[j].steps[step(j, index)].output.append(
                    OutputRange(stream: string("stream") ?? "stdout", offset: offset, length: length, lines: int("lines") ?? 0))
            case "step_finished":
                guard let key = string("job"), let index = int("step") else { continue }
                let j = job(key), s = step(j, index)
                state.jobs[j].steps[s].name = string("name") ?? state.jobs[j].steps[s].name
                state.jobs[j].steps[s].status = string("status")
                state.jobs[j].steps[s].exitCode = int("exit_code")
                state.jobs[j].steps[s].durationMilliseconds = int("duration_ms")
                state.jobs[j].steps[s].id = string("id") ?? state.jobs[j].steps[s].id
                state.jobs[j].steps[s].conclusion = string("conclusion") ?? string("status")
                state.jobs[j].steps[s].outputs = object["outputs"] as? [String: String] ?? [:]
                state.jobs[j].steps[s].attempts = int("attempts") ?? max(1, state.jobs[j].steps[s].attempts)
                state.jobs[j].steps[s].timedOutAfterMilliseconds = int("timed_out_after_ms")
                state.jobs[j].steps[s].signal = int("signal")
            case "step_retrying":
                guard let key = string("job"), let index = int("step"), let attempt = int("attempt") else { continue }
                let j = job(key), s = step(j, index)
                state.jobs[j].steps[s].attempts = attempt + 1
            case "annotation":
                guard let key = string("job") else { continue }
                state.jobs[job(key)].annotations.append("\(string("level") ?? ""): \(string("text") ?? "")")
            case "job_summary":
                guard let key = string("job") else { continue }
                state.jobs[job(key)].summary = (state.jobs[job(key)].summary ?? "") + (string("text") ?? "")
            case "job_finished":
                guard let key = string("job") else { continue }
                let j = job(key)
                state.jobs[j].name = string("name") ?? state.jobs[j].name
                state.jobs[j].status = string("status")
                state.jobs[j].durationMilliseconds = int("duration_ms")
                state.jobs[j].failedStep = string("failed_step")
                state.jobs[j].failedStepIndex = int("failed_step_index")
                state.jobs[j].outputs = object["outputs"] as? [String: String] ?? [:]
                state.jobs[j].message = string("message")
                state.jobs[j].timedOutAfterMilliseconds = int("timed_out_after_ms")
            case "message":
                if object["job"] == nil || object["job"] is NSNull, string("text")?.contains("the run received signal ") == true {
                    state.signalled = true
                }
            case "workflow_finished":
                state.status = string("status")
                state.recordedExitStatus = int("exit_status")
                state.durationMilliseconds = int("duration_ms")
                state.message = string("message")
            default:
                continue
            }
        }
        return state
    }
}
