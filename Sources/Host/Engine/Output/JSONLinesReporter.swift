import Foundation
import Synchronization
import NixActionsProcessKit

/// Writes one JSON object per event per line: `ts`, `event`, `job`, `step`, and `text` for output,
/// `status`, `exit_code` and `duration_ms` where something finished.
public final class JSONLinesReporter: RunReporter {
    private let write: @Sendable (String) -> Void
    private let writeBytes: @Sendable (UnsafeRawBufferPointer) -> Void

    /// - Parameters:
    ///   - write: receives whole lines; callers make it thread-safe (a `BufferedWriter` is).
    public init(write: @escaping @Sendable (String) -> Void,
                writeBytes: (@Sendable (UnsafeRawBufferPointer) -> Void)? = nil) {
        self.write = write
        self.writeBytes = writeBytes ?? { write(String(decoding: $0, as: UTF8.self)) }
    }

    /// One `output` object per line, formatted outside any lock and written in one piece.
    public func output(_ chunk: OutputChunk) {
        var head: [UInt8] = []
        head.append(contentsOf: "{\"ts\":\"\(Timestamp.now())\",\"event\":\"output\",\"job\":".utf8)
        JSONBytes.appendString(chunk.job, to: &head)
        head.append(contentsOf: ",\"step\":\(chunk.step),\"stream\":\"\(chunk.stream == 2 ? "stderr" : "stdout")\",\"text\":".utf8)
        var buffer: [UInt8] = []
        buffer.reserveCapacity(chunk.bytes.count + max(1, chunk.lines) * (head.count + 20))
        chunk.forEachLine { line in
            buffer.append(contentsOf: head)
            JSONBytes.appendString(line, to: &buffer)
            // A piece of a line (one longer than `OutputChunk.maxLine`, or a last line without
            // a newline): said, as events.jsonl's `"lines":0` says it (audit 51).
            if chunk.lines == 0 { buffer.append(contentsOf: ",\"partial\":true".utf8) }
            buffer.append(contentsOf: [0x7D, 0x0A])
        }
        buffer.withUnsafeBytes { writeBytes($0) }
    }

    /// The stream of a run that stopped before it started (a workflow that does not load, a
    /// `runs-on` label no executor takes, a usage error found after the arguments were read, a
    /// signal before the run folder existed): `workflow_started` with `run_id` null (the run
    /// never got one), a `message` of level `error` (`warning` for a cancel) with what standard
    /// error said, and `workflow_finished` with `status` `failure` (`cancelled` for 130),
    /// `duration_ms` 0 and the exit status (audit 58 examples L7: the stream was empty).
    public static func runNotStarted(workflow: String, message: String, exitStatus: Int32) -> String {
        let cancelled = exitStatus == 130
        var started = JSONObjectWriter()
        started.add("ts", Timestamp.now()); started.add("event", "workflow_started")
        started.add("format", LogDirectoryReporter.eventsFormat); started.add("workflow", workflow); started.add("run_id", nil as String?)
        var said = JSONObjectWriter()
        said.add("ts", Timestamp.now()); said.add("event", "message"); said.add("job", nil as String?)
        said.add("level", cancelled ? MessageLevel.warning.rawValue : MessageLevel.error.rawValue)
        said.add("text", message.isEmpty ? (cancelled ? "cancelled before the run started" : "the run did not start") : message)
        var finished = JSONObjectWriter()
        finished.add("ts", Timestamp.now()); finished.add("event", "workflow_finished"); finished.add("workflow", workflow)
        finished.add("status", cancelled ? "cancelled" : "failure"); finished.add("duration_ms", 0); finished.add("exit_status", Int(exitStatus))
        return started.finish() + "\n" + said.finish() + "\n" + finished.finish() + "\n"
    }

    public func report(_ event: RunEvent) {
        var object = JSONObjectWriter()
        object.add("ts", Timestamp.now())
        // Rounded up: 0 only for what took no time at all (a job decided without starting), so
        // that a step of 0.3 ms is not mistaken for one that never ran.
        func milliseconds(_ value: Duration) -> Int {
            Int(value.components.seconds * 1000 + (value.components.attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
        }
        switch event {
        case .planned(let jobs, let details):
            object.add("event", "planned"); object.add("jobs", jobs); object.add("details", details)
        case .workflowStarted(let workflow, let runID):
            object.add("event", "workflow_started"); object.add("format", LogDirectoryReporter.eventsFormat)
            object.add("workflow", workflow); object.add("run_id", runID)
        case .jobStarted(let job, let name):
            object.add("event", "job_started"); object.add("job", job); object.add("name", name)
        case .callStarted(let job, let uses, let jobs, let details):
            object.add("event", "call_started"); object.add("job", job); object.add("uses", uses); object.add("jobs", jobs)
            if !details.isEmpty { object.add("details", details) }
        case .matrixExpanded(let job, let jobs, let details):
            object.add("event", "matrix_expanded"); object.add("job", job); object.add("jobs", jobs); object.add("details", details)
        case .stepStarted(let job, let step, let name, let id):
            object.add("event", "step_started"); object.add("job", job); object.add("step", step); object.add("name", name)
            if let id { object.add("id", id) }
        case .output(let job, let step, let stream, let line):
            object.add("event", "output"); object.add("job", job); object.add("step", step)
            object.add("stream", stream == 2 ? "stderr" : "stdout"); object.add("text", line)
        case .stepFinished(let job, let step, let name, let outcome, let exitCode, let time, let id, let conclusion, let outputs, let attempts,
                           let timeLimit, let signal):
            object.add("event", "step_finished"); object.add("job", job); object.add("step", step); object.add("name", name)
            object.add("status", outcome.rawValue); object.add("exit_code", exitCode.map(Int.init)); object.add("duration_ms", milliseconds(time))
            if let id { object.add("id", id) }
            if let conclusion, conclusion != outcome { object.add("conclusion", conclusion.rawValue) }
            if !outputs.isEmpty { object.add("outputs", outputs) }
            if attempts > 1 { object.add("attempts", attempts) }
            if let timeLimit { object.add("timed_out_after_ms", milliseconds(timeLimit)) }
            if let signal { object.add("signal", Int(signal)) }
        case .stepRetrying(let job, let step, let name, let attempt, let of, let exitCode, let wait, let signal):
            object.add("event", "step_retrying"); object.add("job", job); object.add("step", step); object.add("name", name)
            object.add("attempt", attempt); object.add("max_attempts", of); object.add("exit_code", exitCode.map(Int.init))
            if let signal { object.add("signal", Int(signal)) }
            object.add("wait_ms", milliseconds(wait))
        case .jobFinished(let job, let name, let outcome, let time, let failure, let outputs, let reason):
            object.add("event", "job_finished"); object.add("job", job); object.add("name", name); object.add("status", outcome.rawValue)
            object.add("duration_ms", milliseconds(time))
            if let failure {
                object.add("failed_step", failure.stepName)
                // Null with failed_step when no step failed (a job's time limit; audit 48: left out).
                object.add("failed_step_index", failure.stepIndex)
                object.add("exit_code", failure.exitCode.map(Int.init))
                object.add("message", failure.message)
                if let limit = failure.timeLimit { object.add("timed_out_after_ms", milliseconds(limit)) }
            } else if let reason {
                object.add("message", reason)
            }
            if !outputs.isEmpty { object.add("outputs", outputs) }
        case .workflowFinished(let workflow, let outcome, let time, let exitStatus, let message):
            object.add("event", "workflow_finished"); object.add("workflow", workflow); object.add("status", outcome.rawValue)
            object.add("duration_ms", milliseconds(time))
            if let exitStatus { object.add("exit_status", Int(exitStatus)) }
            if let message { object.add("message", message) }
        case .message(let job, let level, let text):
            object.add("event", "message"); object.add("job", job); object.add("level", level.rawValue); object.add("text", text)
        case .annotation(let annotation):
            object.add("event", "annotation"); object.add("job", annotation.job); object.add("step", annotation.step)
            object.add("level", annotation.kind.rawValue); object.add("text", annotation.message)
            object.add("file", annotation.file); object.add("line", annotation.line)
            if let title = annotation.title { object.add("title", title) }
        case .jobSummary(let job, let markdown):
            object.add("event", "job_summary"); object.add("job", job); object.add("text", markdown)
        }
        write(object.finish() + "\n")
    }
}

/// Keeps a run's logs in a folder: one `<job>.log` per job, `events.jsonl`, and `summary.md`.
///
/// - `<job>.log` holds the job's output bytes exactly as redacted, with a line per step start and
///   end (`TIMESTAMP > NAME`, `TIMESTAMP step 'NAME' OUTCOME`) and for engine messages between them.
/// - `events.jsonl` (format `nixactions.events/1`, [architecture.md](../../docs/architecture.md))
///   has one object per event; output is not copied there but referenced: an `output` event per
///   batch says which bytes of the job log (`offset`, `length`) a step wrote on which stream,
///   how many lines, and when.
///
/// The folder is made fresh (never an existing one) with mode 0700, its files with 0600. Each file
/// is a `BufferedWriter`. A job's log file is made by its first write-out and closed after the job
/// finishes, both on the flusher thread (`BufferedWriter.init(opening:)`, `closeSoon`): a job's own
/// thread makes or closes its log only when it writes while the flusher is making the file (it
/// waits for that open), or when a line comes after the job's end (the earlier log is closed first). A write that fails (a full disk, no
/// descriptor left) is reported once per file on standard error and the run goes on.
public final class LogDirectoryReporter: RunReporter {
    public let directory: String
    private let jobs = Mutex<[String: BufferedWriter]>([:])
    /// Logs of finished jobs that the flusher has yet to write out and close.
    private let closing = Mutex<[String: BufferedWriter]>([:])
    /// Jobs that have had a log (a later one appends to it).
    private let logged = Mutex<Set<String>>([])
    /// Jobs whose log ends in the middle of a line (output without a final newline).
    private let midLine = Mutex<Set<String>>([])
    private let eventsWriter: BufferedWriter
    /// Whether `workflow_started` has been written (only the first is).
    private let startedWritten = Mutex(false)
    /// Whether `workflow_finished` has been written: the events file is closed.
    private let finished = Mutex(false)
    private let events: JSONLinesReporter
    private let summary: ConsoleReporter
    private let onFailure: @Sendable (String) -> Void

    public static let eventsFormat = "nixactions.events/1"

    /// How many log files (job logs, events, summary) could not be written in full: the run's
    /// end says so beside its `logs:` line (audit 57 L1: the warnings came early, among the output).
    public var failedFiles: Int { failures.count.load(ordering: .relaxed) }
    private let failures = FailureCount()

    final class FailureCount: Sendable {
        let count = Atomic<Int>(0)
    }

    public init(directory: String, onFailure: @escaping @Sendable (String) -> Void = { StandardStreams.writeError("warning: \($0)\n") }) throws {
        self.directory = directory
        let failures = self.failures
        let onFailure: @Sendable (String) -> Void = { message in
            failures.count.add(1, ordering: .relaxed)
            onFailure(message)
        }
        self.onFailure = onFailure
        let parent = PathText.parent(directory)
        if !parent.isEmpty, access(parent, F_OK) != 0 {
            // Made by hand, not by FileManager: its error for a file in the way says nothing.
            if let failure = FastFiles.makeFolders(parent) { throw POSIXError(POSIXErrorCode(rawValue: failure) ?? .EIO) }
            // A log root made here holds one folder per run: each is placed by the file system away
            // from those of earlier runs (FastFiles.spreadSubfolders). One it did not make is left as it is.
            FastFiles.spreadSubfolders(parent)
        }
        guard mkdir(directory, 0o700) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        let eventsWriter = try Self.open(directory + "/events.jsonl", exclusive: true, recovery: .records, onFailure: onFailure)
        self.eventsWriter = eventsWriter
        events = JSONLinesReporter(write: { eventsWriter.write($0) }, writeBytes: { eventsWriter.write($0) })
        let buffer = TextBuffer()
        summary = ConsoleReporter(style: .plain) { line in buffer.text.withLock { $0 += line } }
        summaryBuffer = buffer
        // The events file's own writer is flushed here too: at exit (`flushAll`) the pending
        // events must reach it before it writes out (review 64 L6).
        OutputFlusher.shared.register(self) { [weak self] in
            self?.flushPendingOutput()
            self?.eventsWriter.flush()
        }
    }

    private let summaryBuffer: TextBuffer

    final class TextBuffer: Sendable {
        let text = Mutex<String>("")
    }

    static func open(_ path: String, exclusive: Bool, recovery: BufferedWriter.Recovery = .offsets,
                     onFailure: @escaping @Sendable (String) -> Void) throws -> BufferedWriter {
        let fd = descriptor(path, exclusive: exclusive)
        guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: -fd) ?? .EIO) }
        var info = stat()
        let size = fstat(fd, &info) == 0 ? UInt64(info.st_size) : 0
        return BufferedWriter(fd: fd, ownsDescriptor: true, startOffset: size, recovery: recovery, onFailure: failure(path, onFailure))
    }

    /// A log file opened for appending (made with mode 0600, links not followed): a descriptor, or -errno.
    static func descriptor(_ path: String, exclusive: Bool) -> Int32 {
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | (exclusive ? O_EXCL : 0), 0o600)
        return fd >= 0 ? fd : -errno
    }

    /// A log file's failed write (or creation), reported once through `onFailure`.
    static func failure(_ path: String, _ onFailure: @escaping @Sendable (String) -> Void) -> @Sendable (Int32) -> Void {
        { error in
            onFailure("cannot write the log file \(path): \(String(cString: strerror(error))); the run goes on, and what cannot be written "
                      + "is lost (the file is tried again each second)")
        }
    }

    /// The job's log: on first use a writer whose file the flusher makes; again (appending, its
    /// earlier writer closed first) if something comes after the job's end.
    func jobLog(_ job: String) -> BufferedWriter? {
        jobs.withLock { jobs in
            if let writer = jobs[job] { return writer }
            let path = directory + "/" + job + ".log"
            if let finished = closing.withLock({ $0.removeValue(forKey: job) }) {
                finished.close()  // its bytes first
            } else if logged.withLock({ $0.insert(job).inserted }) {
                let writer = BufferedWriter(opening: { Self.descriptor(path, exclusive: true) }, onFailure: Self.failure(path, onFailure))
                jobs[job] = writer
                return writer
            }
            do {
                let writer = try Self.open(path, exclusive: false, onFailure: onFailure)
                jobs[job] = writer
                return writer
            } catch {
                onFailure("cannot create the log file \(directory)/\(job).log: \(error)")
                return nil
            }
        }
    }

    func append(_ job: String, _ line: String) {
        // A host line starts on a line of its own, even after output without a final newline.
        let newline = midLine.withLock { $0.remove(job) != nil } ? "\n" : ""
        jobLog(job)?.write(newline + Timestamp.now() + " " + line + "\n")
    }

    /// A step's output not yet in `events.jsonl`: the pieces of one job, step and stream that lie
    /// one after the other in the job's log, since the flusher's last pass.
    struct PendingOutput {
        var job: String
        var step: Int
        var stream: Int32
        var offset: UInt64
        var length: Int
        var lines: Int
        var ts: String
        /// When it began, among all pending events: their order in the job's log.
        var sequence: UInt64
    }

    /// Per job, step and stream; written at the flusher's next pass (every 50 ms), before any
    /// other event, and when a piece does not follow the last one.
    private let pendingOutput = Mutex<[String: PendingOutput]>([:])
    private let outputSequence = Atomic<UInt64>(0)

    public func output(_ chunk: OutputChunk) {
        guard let log = jobLog(chunk.job) else { return }
        let offset = log.write(chunk.bytes)
        let endsMidLine = chunk.bytes.last.map { $0 != 0x0A } ?? false
        midLine.withLock { jobs in
            if endsMidLine { jobs.insert(chunk.job) } else { jobs.remove(chunk.job) }
        }
        // One event for the pieces that follow each other within a pass: a program that writes a
        // line at a time made an event per line, the record larger than the output (audit 64
        // events M2: 0.8x to 13x).
        // Written under the lock: a pass of the flusher must not write this piece's event before
        // the one it replaces.
        let key = "\(chunk.job)\u{0}\(chunk.step)\u{0}\(chunk.stream)"
        pendingOutput.withLock { all in
            if var open = all[key], open.offset + UInt64(open.length) == offset {
                open.length += chunk.bytes.count
                open.lines += chunk.lines
                all[key] = open
                return
            }
            if let previous = all[key] { writeOutputEvent(previous) }
            all[key] = PendingOutput(job: chunk.job, step: chunk.step, stream: chunk.stream, offset: offset, length: chunk.bytes.count,
                                     lines: chunk.lines, ts: Timestamp.now(), sequence: outputSequence.add(1, ordering: .relaxed).newValue)
        }
    }

    /// Write every pending `output` event, oldest first.
    func flushPendingOutput() {
        pendingOutput.withLock { all in
            guard !all.isEmpty else { return }
            // In the order they began (review 64 M2: by their millisecond timestamps, ties came out
            // in the dictionary's order, stderr before the stdout written first).
            for event in all.values.sorted(by: { $0.sequence < $1.sequence }) { writeOutputEvent(event) }
            all.removeAll(keepingCapacity: true)
        }
    }

    private func writeOutputEvent(_ pending: PendingOutput) {
        var line: [UInt8] = []
        line.reserveCapacity(160)
        line.append(contentsOf: "{\"ts\":\"\(pending.ts)\",\"event\":\"output\",\"job\":".utf8)
        JSONBytes.appendString(pending.job, to: &line)
        line.append(contentsOf: ",\"step\":\(pending.step),\"stream\":\"\(pending.stream == 2 ? "stderr" : "stdout")\",\"offset\":\(pending.offset),\"length\":\(pending.length),\"lines\":\(pending.lines)}\n".utf8)
        // Dropped while the disk is full, so the run's state events still fit (the next one says
        // how many went).
        eventsWriter.writeRecord(line, sheddable: true)
    }

    /// Before a state event: how many `output` events the full disk took, said as a warning of
    /// the run (the record's mark of its gap).
    private func sayShed() {
        let shed = eventsWriter.takeShed()
        guard shed > 0 else { return }
        events.report(.message(job: nil, level: .warning, text: "\(shed) output event\(shed == 1 ? " was" : "s were") not recorded in events.jsonl: "
                               + "the log folder's disk was full (the job logs keep what room they had)"))
    }

    /// Whether the run's `workflow_finished` has been written.
    public var isFinished: Bool { finished.withLock { $0 } }

    /// Write out what `events.jsonl` holds now (its first line: a host that dies within its first
    /// 50 ms, before the flusher's first pass, left a supervisor's `workflow_finished` alone in the
    /// file, the workflow unnamed; review 62).
    public func flushEvents() {
        flushPendingOutput()
        eventsWriter.flush()
    }

    public func report(_ event: RunEvent) {
        if case .message(nil, _, _) = event, finished.withLock({ $0 }) {
            // The run's own message after its end (a signal while the summary was printed: it
            // decides the exit status, so the record says so). The file was closed: appended.
            let line = Mutex("")
            JSONLinesReporter(write: { text in line.withLock { $0 += text } }).report(event)
            let fd = Glibc.open(directory + "/events.jsonl", O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW)
            if fd >= 0 {
                var text = line.withLock { $0 }
                _ = text.withUTF8 { Glibc.write(fd, $0.baseAddress, $0.count) }
                close(fd)
            }
            return
        }
        if case .output(let job, let step, let stream, let line) = event {
            // A line the host prints for a step (a built-in action's): kept as the step's output
            // is, its bytes in the job log and an `output` event with their range.
            var bytes = Array(line.utf8)
            bytes.append(0x0A)
            bytes.withUnsafeBytes { output(OutputChunk(job: job, step: step, stream: stream, bytes: $0, lines: 1)) }
            return
        }
        if case .workflowStarted = event {
            // The run's command writes it as soon as the folder exists (before the secrets are
            // read); the runner's own comes later and is not written twice.
            guard startedWritten.withLock({ written in defer { written = true }; return !written }) else { return }
        }
        flushPendingOutput()
        sayShed()
        events.report(event)
        switch event {
        case .stepStarted(let job, _, let name, _): append(job, "> \(name)")
        case .stepFinished(let job, _, let name, let outcome, let exitCode, _, _, _, _, _, _, _):
            append(job, "step '\(name)' \(outcome.rawValue)\(exitCode.flatMap { outcome == .failure && $0 == 0 ? nil : " (exit code \($0))" } ?? "")")
        case .stepRetrying(let job, _, let name, let attempt, let of, let exitCode, let wait, let signal):
            append(job, "warning: " + ConsoleReporter.retryText(name: name, attempt: attempt, of: of, exitCode: exitCode, wait: wait, signal: signal))
        case .message(let job?, let level, let text): append(job, "\(level.rawValue): \(text)")
        case .annotation(let annotation): append(annotation.job, ConsoleReporter.describe(annotation))
        case .jobFinished(let job, _, let outcome, _, _, _, _):
            append(job, "job \(outcome.rawValue)")
            // A job's log closes with the job, on the flusher's next pass.
            // Out of `jobs` and into `closing` in one step: a line for the job from another thread
            // finds the writer in one of them (and closes it first).
            let finished = jobs.withLock { jobs -> BufferedWriter? in
                guard let writer = jobs.removeValue(forKey: job) else { return nil }
                closing.withLock { $0[job] = writer }
                return writer
            }
            if let writer = finished {
                writer.closeSoon { [weak self, weak writer] in
                    self?.closing.withLock { all in
                        if let writer, all[job] === writer { all.removeValue(forKey: job) }
                    }
                }
            }
        default: break
        }
        switch event {
        case .workflowFinished:
            // summary.md is what the run's end writes (the table and what follows): what came
            // before it is left out here, not found by searching the text, which a step's own
            // words could imitate (audit 66 output M1).
            summaryBuffer.text.withLock { $0 = "" }
            summary.report(event)
        case .planned, .callStarted, .matrixExpanded, .jobFinished, .annotation, .jobSummary: summary.report(event)
        default: break
        }
        if case .workflowFinished = event {
            let text = summaryBuffer.text.withLock { $0 }
            // Only the table and what follows it belong in the summary file.
            let table = text.range(of: "\nJOB ").map { String(text[$0.lowerBound...]) } ?? text
            if let file = try? Self.open(directory + "/summary.md", exclusive: true, onFailure: onFailure) {
                file.write("```\n" + table.trimmingCharacters(in: .newlines) + "\n```\n")
                file.close()
            }
            OutputFlusher.shared.unregister(self)
            for writer in jobs.withLock({ jobs in defer { jobs.removeAll() }; return Array(jobs.values) }) { writer.close() }
            for writer in closing.withLock({ all in defer { all.removeAll() }; return Array(all.values) }) { writer.close() }
            eventsWriter.close()
            finished.withLock { $0 = true }
        }
    }
}
