import Foundation
import NixActionsProcessKit
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Where one step's output goes, as bytes from end to end:
///
///     executor ─► workflow commands ─► redactor ─► line assembler ─► reporters
///
/// - Workflow commands (`::add-mask::`, `::error::`, …) are found on the raw bytes of stdout and
///   stderr alike (GitHub's runner reads both): only a line that starts with `::` (after spaces or
///   tabs), or the part of a line from an older-form `##[` on, is copied and decoded; every other
///   byte goes straight on. A command is handled before the bytes after it are redacted, so a value
///   masked with `::add-mask::` is masked from the next line on.
/// - The redactor works on each stream's bytes, whatever the chunking.
/// - The assembler hands reporters runs of whole lines (`OutputChunk`), borrowed from the
///   executor's buffer where it can; a partial line waits for its newline (or a second of quiet:
///   then it goes on as a piece), and a line longer than `OutputChunk.maxLine` goes on in pieces
///   of that size.
///
/// One lock per step, taken once per write; reporters format outside any shared lock.
public final class StepOutputPipeline: StepOutputSink, @unchecked Sendable {
    private let lock = Mutex<Void>(())
    private let job: String
    private let step: Int
    private let reporter: any RunReporter
    private let processor: WorkflowCommandProcessor
    /// The job's annotations so far, against GitHub's limits.
    private let annotations: AnnotationBudget
    private var streams: [StreamState] = []
    /// What the step's commands set (`::set-output`, …), read when the step has ended.
    private var results = StepCommandResults()

    final class StreamState {
        let assembler: LineAssembler
        /// Flush ticks the assembler has held the same line without its newline (`flushIdle`), and
        /// which line that is (`LineAssembler.partialSerial`).
        var partialTicks = 0
        var partialSerial = 0
        var redactor: RedactionStream!
        /// Command scanning: at the start of a line; bytes of a line that may be a command.
        var atLineStart = true
        var candidate: [UInt8] = []
        var candidateIsCommand = false
        /// The candidate holds GitHub's older form, `##[`, at `legacyAt` (what is before it on the
        /// line and not shown yet is in the candidate too: the line is hidden whole if it is a command).
        var candidateIsLegacy = false
        var legacyAt = 0
        /// The candidate's command name is one GitHub's runner registers (checked once it is read).
        var nameKnown = false
        /// The candidate's last byte is a CR that ended a write: a line end unless an LF follows.
        var candidateEndsWithCR = false
        /// Whether the last byte passed on ended a line.
        var passedNewline = true
        /// `#` bytes that ended the last write inside an ordinary line (0…2), held back: `##[` may go on.
        var hashRun = 0
        /// The rest of a command line longer than `commandLimit` is dropped up to its newline.
        var droppingCommand = false
        init(assembler: LineAssembler) { self.assembler = assembler }
    }

    /// The longest workflow command line (1 MiB): `::add-mask::` of a large key or certificate
    /// in base64 is longer than an output line (`OutputChunk.maxLine`). A longer command line is
    /// dropped with a warning, never shown: its value may be a secret being masked.
    public static let commandLimit = 1 << 20

    /// - Parameter idleFlush: let the redactor release held masked bytes when a stream has been
    ///   quiet for two flush intervals (tests that need determinism turn it off).
    /// - Parameter environment: the step's environment, for what it allows (`ACTIONS_ALLOW_UNSECURE_COMMANDS`).
    /// - Parameter workspace: the job's workspace: an annotation's `file=` under it is shown relative to it.
    /// - Parameter debug: show `::debug::` lines (the run debugs: `runner.debug`; audit 53: never shown).
    public init(job: String, step: Int, reporter: any RunReporter, redactor: Redactor, environment: [String: String] = [:],
                workspace: String? = nil, debug: Bool = false, idleFlush: Bool = true, annotations: AnnotationBudget = AnnotationBudget()) {
        self.annotations = annotations
        self.job = job
        self.step = step
        self.reporter = reporter
        self.processor = WorkflowCommandProcessor(redactor: redactor, debug: debug,
                                                  permissions: .init(environment: environment), workspace: workspace)
        for stream: Int32 in [1, 2] {
            let assembler = LineAssembler(job: job, step: step, stream: stream, reporter: reporter)
            let state = StreamState(assembler: assembler)
            state.redactor = redactor.makeStream { bytes in assembler.append(bytes) }
            streams.append(state)
        }
        if idleFlush { OutputFlusher.shared.register(self) { [weak self] in self?.flushIdle() } }
    }

    public func write(stream: Int32, _ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        lock.withLock { _ in
            quietTicks = 0
            // Commands are read on both streams, as GitHub's runner does (`echo "::add-mask::$X" >&2`).
            scan(streams[stream == 2 ? 1 : 0], bytes)
        }
    }

    /// Flush ticks since the last write.
    private var quietTicks = 0

    /// Once the step has been quiet for two flush intervals, held-back bytes that are already
    /// masked go on; bytes that may begin a secret wait for the next bytes or the step's end
    /// (`RedactionStream.flushIdle`), so a secret written with a pause in it is masked whole.
    ///
    /// Once the same line has waited a second without its newline (`partialLineTicks`), quiet or
    /// not, it goes on as a piece (as the end of a step sends one): a prompt, or a progress bar
    /// redrawn with `\r` every few tenths of a second, is seen while the step runs, and it is in
    /// the job log if the host is then killed (audit 54 M4, audit 64 events M1: held to its
    /// newline, and lost with a SIGKILL). Its rest follows as the next piece. A line completed and
    /// another begun in between starts the count again (review 64 M1: busy output had ordinary
    /// lines cut in two).
    func flushIdle() {
        lock.withLock { _ in
            quietTicks += 1
            if quietTicks == 2 {
                for state in streams { state.redactor.flushIdle() }
            }
            for state in streams {
                if !state.assembler.hasPartial {
                    state.partialTicks = 0
                } else if state.partialSerial == state.assembler.partialSerial {
                    state.partialTicks += 1
                } else {
                    state.partialSerial = state.assembler.partialSerial
                    state.partialTicks = 1
                }
                // Only a line the step itself left open: not one whose rest the redactor holds
                // (it may begin a secret) or the command scanner reads (it would be split in two).
                // A `#` or `##` held back at its end (`##[` may follow) stays held; what came
                // before it goes on (audit 61 L2: a progress bar `[#####` was never shown).
                if state.partialTicks >= Self.partialLineTicks, !state.redactor.isHolding, state.candidate.isEmpty {
                    state.assembler.flushPartial()
                    state.partialTicks = 0
                }
            }
        }
    }

    /// Flush intervals a line without its newline waits before it goes on as a piece (1 s at 50 ms).
    static let partialLineTicks = Int(Duration.seconds(1) / OutputFlusher.interval)

    /// What the step's commands set; complete once `finish` has returned.
    var commandResults: StepCommandResults { lock.withLock { _ in results } }

    /// The step ended: everything held goes on (a last line without a newline too).
    public func finish() {
        OutputFlusher.shared.unregister(self)
        lock.withLock { _ in
            for state in streams where !state.candidate.isEmpty { endCandidateLine(state, terminator: nil) }
            for state in streams where state.hashRun > 0 { passHeldHashes(state) }
            for state in streams {
                state.redactor.finish()
                state.assembler.finish()
            }
        }
    }

    // MARK: Workflow commands, on stdout and stderr

    private func scan(_ state: StreamState, _ bytes: UnsafeRawBufferPointer) {
        let base = bytes.baseAddress!
        var position = 0
        let count = bytes.count
        var passFrom = 0  // start of bytes that go straight to the redactor
        // The next `##[` and the next lone-or-not CR at or after `position` (count: none), looked
        // for once per write, not per line.
        var nextLegacy = -1
        var nextCR = -1
        /// Where the current line began in this write (nil: in an earlier one).
        var lineStart: Int? = state.atLineStart ? 0 : nil
        while position < count {
            if state.droppingCommand {
                guard let found = memchr(base + position, 0x0A, count - position) else {
                    position = count
                    passFrom = count
                    break
                }
                position = UnsafeRawPointer(found) - base + 1
                passFrom = position
                state.droppingCommand = false
                state.atLineStart = true
                lineStart = position
                continue
            }
            if state.atLineStart || !state.candidate.isEmpty {
                if state.candidateEndsWithCR {
                    // The last write ended the candidate with a CR: a line end of its own unless an LF follows.
                    state.candidateEndsWithCR = false
                    if bytes[position] != 0x0A {
                        state.candidate.removeLast()
                        endCandidateLine(state, terminator: 0x0D)
                        state.atLineStart = true
                        continue
                    }
                }
                // Deciding whether this line is a command: gather its first bytes.
                if state.candidate.isEmpty {
                    lineStart = position
                    let first = bytes[position]
                    if first != 0x3A && first != 0x20 && first != 0x09 {  // not ':', ' ', '\t'
                        state.atLineStart = false
                        continue
                    }
                    // Bytes before this line go on first.
                    if position > passFrom { pass(state, UnsafeRawBufferPointer(rebasing: bytes[passFrom..<position])) }
                }
                // The line ends at an LF, or at a lone CR, as GitHub's runner reads lines (a CR that
                // ends the write waits for the next byte: it may be a CRLF's).
                let newline = memchr(base + position, 0x0A, count - position).map { UnsafeRawPointer($0) - base }
                let (end, terminator) = Self.lineEnd(base, from: position, to: newline ?? count, newline: newline != nil, state)
                state.candidate.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[position..<end]))
                position = end
                passFrom = position
                state.atLineStart = false
                if !state.candidateIsCommand, let verdict = Self.isCommand(state.candidate) {
                    if verdict {
                        state.candidateIsCommand = true
                    } else if let legacy = state.candidate.withUnsafeBytes({ Self.legacyOffset($0) }) {
                        // Not a `::` line, but it holds `##[`: the whole line is the candidate.
                        state.candidateIsCommand = true
                        state.candidateIsLegacy = true
                        state.legacyAt = legacy
                    } else {
                        // Not a command: what was gathered goes on, the rest of the line too.
                        demote(state, lineEnded: terminator != nil)
                        continue
                    }
                }
                if state.candidateIsCommand && !state.nameKnown && !settleName(state, lineEnded: terminator != nil) { continue }
                if let terminator {
                    position += 1  // the line's end, written by `endCandidateLine` if the line is shown
                    endCandidateLine(state, terminator: terminator)
                    passFrom = position
                    state.atLineStart = true
                } else if state.candidateIsCommand && state.candidate.count > Self.commandLimit {
                    // Too long to handle, and never shown: dropped to its newline, with a warning.
                    reporter.report(.message(job: job, level: .warning, text: Self.droppedCommandWarning(state.candidate)))
                    if state.candidateIsLegacy && !state.passedNewline { passNewline(state) }
                    resetCandidate(state)
                    state.droppingCommand = true
                } else if !state.candidateIsCommand && state.candidate.count > OutputChunk.maxLine {
                    // Undecided this long (spaces): not a command.
                    state.candidate.withUnsafeBytes { pass(state, $0) }
                    state.candidate.removeAll(keepingCapacity: true)
                }
                continue
            }
            // Inside an ordinary line: find its end, and in it GitHub's older form of a command,
            // `##[NAME]DATA`, which may begin anywhere in a line (also with a `#` or `##` held
            // back at the end of the last write), and a CR, after which GitHub's runner reads a
            // new line (`::add-mask::` after a progress bar's `\r`).
            let found = memchr(base + position, 0x0A, count - position)
            let lineEnd = found.map { UnsafeRawPointer($0) - base } ?? count
            let held = position == 0 ? state.hashRun : 0
            var legacyAt: Int?
            if held > 0 {
                // The held `#` and this write's first bytes: `##[` across them?
                var leading = 0
                while leading < lineEnd && bytes[leading] == 0x23 { leading += 1 }
                if leading == lineEnd && found == nil {
                    // Only `#` still: the last two are held back.
                    let total = held + leading
                    state.hashRun = total - 2
                    passHeldHashes(state)
                    state.hashRun = 2
                    position = count
                    passFrom = count
                    break
                }
                if leading < 2 && leading < lineEnd && bytes[leading] == 0x5B && held + leading >= 2 {
                    let carried = 2 - leading
                    state.hashRun = held - carried
                    passHeldHashes(state)
                    state.hashRun = carried
                    legacyAt = 0
                } else {
                    passHeldHashes(state)
                }
            }
            if legacyAt == nil {
                if nextLegacy < position {
                    nextLegacy = Self.legacyOffset(UnsafeRawBufferPointer(rebasing: bytes[position..<count])).map { position + $0 } ?? count
                }
                if nextLegacy < lineEnd { legacyAt = nextLegacy }
            }
            if nextCR < position {
                nextCR = memchr(base + position, 0x0D, count - position).map { UnsafeRawPointer($0) - base } ?? count
            }
            if nextCR + 1 < lineEnd && (legacyAt.map { nextCR < $0 } ?? true) {
                // A CR inside the line: what follows it is read as a new line.
                position = nextCR + 1
                state.atLineStart = true
                continue
            }
            if let at = legacyAt {
                // The line from its first byte not shown yet is the candidate.
                let from = max(lineStart ?? passFrom, passFrom)
                if from > passFrom { pass(state, UnsafeRawBufferPointer(rebasing: bytes[passFrom..<from])) }
                if at == 0 && state.hashRun > 0 {
                    // `##[` began with the held `#`: they are its first bytes (at 0 of the candidate).
                    state.candidate.append(contentsOf: Self.legacyPrefix[0..<state.hashRun])
                    state.hashRun = 0
                }
                // It ends at the LF, or at a lone CR after `##[` (a CR before it started a new
                // line above): what follows that CR is a line of its own, commands included (audit
                // 61 H1: an `::add-mask::` after `##[x]…\r` was shown, its value unmasked).
                let (end, terminator) = Self.lineEnd(base, from: at, to: lineEnd, newline: found != nil, state)
                state.candidate.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[from..<end]))
                state.candidateIsCommand = true
                state.candidateIsLegacy = true
                state.legacyAt = at - from
                position = end
                passFrom = position
                guard settleName(state, lineEnded: terminator != nil) else { continue }
                if let terminator {
                    position += 1
                    endCandidateLine(state, terminator: terminator)
                    passFrom = position
                    state.atLineStart = true
                }
                continue
            }
            guard found != nil else {
                // The line goes on in the next write: a `#` or `##` at its end is held back, and
                // after a CR at its end the next write starts a line (a progress bar's `50%\r`).
                state.hashRun = Self.trailingHashes(UnsafeRawBufferPointer(rebasing: bytes[position..<count]))
                if passFrom < count - state.hashRun { pass(state, UnsafeRawBufferPointer(rebasing: bytes[passFrom..<(count - state.hashRun)])) }
                if bytes[count - 1] == 0x0D { state.atLineStart = true }
                position = count
                passFrom = count
                break
            }
            position = lineEnd + 1
            state.atLineStart = true
        }
        if passFrom < count && state.candidate.isEmpty {
            pass(state, UnsafeRawBufferPointer(rebasing: bytes[passFrom..<count]))
        }
    }

    /// Where a line that runs from `from` to `to` (its LF, when `newline`, else the write's end)
    /// ends for commands: at the LF, or at a lone CR before it (GitHub's runner reads a new line
    /// there). A CR that is the write's last byte may be a CRLF's: the candidate then notes it
    /// (`candidateEndsWithCR`) and the next write decides.
    private static func lineEnd(_ base: UnsafeRawPointer, from: Int, to: Int, newline: Bool, _ state: StreamState) -> (Int, UInt8?) {
        guard let cr = memchr(base + from, 0x0D, to - from).map({ UnsafeRawPointer($0) - base }) else { return (to, newline ? 0x0A : nil) }
        if cr + 1 < to { return (cr, 0x0D) }
        if !newline { state.candidateEndsWithCR = true }
        return (to, newline ? 0x0A : nil)
    }

    /// Whether the candidate's command name is one GitHub's runner registers, once it can be read
    /// (`::NAME` up to a space or `:`, `##[NAME` up to a space or `]`). A name it does not know
    /// makes the line an ordinary one (a `::` line is still looked at for `##[` further on, as
    /// GitHub's runner does); returns false then, and the caller goes on with the next bytes.
    private func settleName(_ state: StreamState, lineEnded: Bool) -> Bool {
        while true {
            let verdict = state.candidate.withUnsafeBytes {
                processor.registersName(in: $0, at: state.candidateIsLegacy ? state.legacyAt + 3 : nil, lineEnded: lineEnded)
            }
            switch verdict {
            case true?:
                state.nameKnown = true
                return true
            case nil:
                return true  // not read yet: the next bytes tell
            case false?:
                // A `::` line whose name is unknown may still hold `##[` (GitHub tries that form next).
                if !state.candidateIsLegacy, let legacy = state.candidate.withUnsafeBytes({ Self.legacyOffset($0) }) {
                    state.candidateIsLegacy = true
                    state.legacyAt = legacy
                    continue
                }
                demote(state, lineEnded: lineEnded)
                return false
            }
        }
    }

    /// The candidate is no command after all: its bytes go on as an ordinary line's (a `#` or
    /// `##` at the end of a line that goes on is held back: `##[` may follow).
    private func demote(_ state: StreamState, lineEnded: Bool) {
        state.hashRun = lineEnded ? 0 : state.candidate.withUnsafeBytes { Self.trailingHashes($0) }
        state.candidate.withUnsafeBytes { pass(state, UnsafeRawBufferPointer(rebasing: $0[0..<($0.count - state.hashRun)])) }
        // After a CR that ended the write, the next write starts a line.
        if !lineEnded && state.candidate.last == 0x0D { state.atLineStart = true }
        resetCandidate(state)
    }

    private func resetCandidate(_ state: StreamState) {
        state.candidateEndsWithCR = false
        state.candidate.removeAll(keepingCapacity: true)
        state.candidateIsCommand = false
        state.candidateIsLegacy = false
        state.nameKnown = false
    }

    /// The `#` bytes held back at the end of the last write go on after all.
    private func passHeldHashes(_ state: StreamState) {
        let held = [UInt8](repeating: 0x23, count: state.hashRun)
        state.hashRun = 0
        held.withUnsafeBytes { pass(state, $0) }
    }

    /// Bytes on to the redactor, noting whether they ended a line.
    private func pass(_ state: StreamState, _ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        state.redactor.write(bytes)
        state.passedNewline = bytes[bytes.count - 1] == 0x0A
    }

    static let legacyPrefix: [UInt8] = Array("##[".utf8)

    /// Where `##[` begins in `bytes`.
    static func legacyOffset(_ bytes: UnsafeRawBufferPointer) -> Int? {
        ByteSearch.firstOffset(of: legacyPrefix, in: bytes)
    }

    /// A line's end, on to the redactor.
    private func passNewline(_ state: StreamState) {
        withUnsafeBytes(of: UInt8(0x0A)) { pass(state, $0) }
    }

    /// How many `#` (at most 2) end `bytes`.
    static func trailingHashes(_ bytes: UnsafeRawBufferPointer) -> Int {
        var run = 0
        while run < 2 && run < bytes.count && bytes[bytes.count - 1 - run] == 0x23 { run += 1 }
        return run
    }

    /// What a dropped command line is called in its warning: its command's name only.
    static func droppedCommandWarning(_ line: [UInt8]) -> String {
        let text = String(decoding: line.prefix(64), as: UTF8.self).drop { $0 == " " || $0 == "\t" }.dropFirst(2)
        let name = String(text.prefix { $0.isLetter || $0 == "-" })
        let masked = name == "add-mask" ? "; its value is not masked" : ""
        return "a workflow command line longer than \(commandLimit >> 20) MiB (::\(name)::…) was dropped, neither run nor shown\(masked)"
    }

    /// nil while undecided; true when the gathered line starts (after spaces/tabs) with "::".
    static func isCommand(_ line: [UInt8]) -> Bool? {
        var index = 0
        while index < line.count && (line[index] == 0x20 || line[index] == 0x09) { index += 1 }
        if index + 2 > line.count {
            return index < line.count && line[index] != 0x3A ? false : nil
        }
        return line[index] == 0x3A && line[index + 1] == 0x3A
    }

    /// An `add-mask` value that is not UTF-8 was registered decoded (with U+FFFD), which its
    /// printed bytes never match (GitHub's runner decodes both the same way): its bytes are
    /// registered too. The line is read as Latin-1 (one character per byte), so the command's
    /// syntax and escapes are found as usual and each character of the value is one byte.
    private func registerUndecodedMask(_ line: [UInt8]) {
        guard String(validating: line, as: UTF8.self) == nil else { return }
        var bytes = line[...]
        if bytes.last == 13 { bytes.removeLast() }
        guard let command = WorkflowCommandLine.parse(TwoPipeOutput.latin1(bytes), isName: { $0 == "add-mask" }) else { return }
        processor.redactor.add(bytes: command.data.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) })
    }

    /// A gathered line ended (at its newline, or without one at the end of the stream): handle it
    /// as a command, or pass its bytes on unchanged.
    /// - Parameter terminator: the byte that ended the line (LF, or a lone CR), nil at the stream's end.
    private func endCandidateLine(_ state: StreamState, terminator: UInt8? = 0x0A) {
        defer { resetCandidate(state) }
        let passOn = {
            if let terminator { state.candidate.append(terminator) }
            state.candidate.withUnsafeBytes { self.pass(state, $0) }
        }
        guard state.candidateIsCommand else { return passOn() }
        var text = String(decoding: state.candidate, as: UTF8.self)
        if text.hasSuffix("\r") { text.removeLast() }
        let actions = processor.process(text)
        if actions == [.show(text)] { return passOn() }  // not a command (or commands are stopped): the bytes as they were
        if text.unicodeScalars.contains("\u{FFFD}") { registerUndecodedMask(state.candidate) }
        // A command in the middle of a line: the line's start, shown already, ends here.
        if !state.passedNewline { passNewline(state) }
        for action in actions {
            switch action {
            case .show(let line):
                var line = line + (terminator.map { String(UnicodeScalar($0)) } ?? "")
                line.withUTF8 { pass(state, UnsafeRawBufferPointer($0)) }
            case .warn(let text):
                reporter.report(.message(job: job, level: .warning, text: text))
            case .annotation(let kind, let message, let file, let line, let title):
                // What came before goes first; nothing can continue a secret across a command line.
                state.redactor.flush()
                let verdict = annotations.admit(step: step, kind: kind)
                if verdict.admitted {
                    reporter.report(.annotation(Annotation(kind: kind, job: job, step: step, message: message, file: file, line: line, title: title)))
                } else {
                    // Over GitHub's limits: its text is an output line, as GitHub's log keeps it
                    // (audit 66 hardening M2: 500,000 annotations took 3.6 GB).
                    if verdict.firstRefused {
                        reporter.report(.message(job: job, level: .warning, text: "more than \(AnnotationBudget.perKindPerStep) \(kind.rawValue) annotations in this step, "
                            + "or \(AnnotationBudget.perJob) in the job: the rest are output lines, as GitHub keeps at most that many"))
                    }
                    let place = file.map { " (\($0)\(line.map { ":\($0)" } ?? ""))" } ?? ""
                    var text = "\(kind.rawValue): " + (title.map { "\($0): " } ?? "") + message + place + "\n"
                    text.withUTF8 { pass(state, UnsafeRawBufferPointer($0)) }
                }
            case .setOutput(let name, let value): results.outputs.append((name, value))
            case .saveState(let name, let value): results.state.append((name, value))
            case .setEnv(let name, let value): results.env.append((name, value))
            case .addPath(let entry): results.path.append(entry)
            case .fail(let message):
                // Said where the command is, as GitHub's runner does; the step fails when it ends.
                state.redactor.flush()
                reporter.report(.message(job: job, level: .error, text: message))
                results.failures.append(message)
            }
        }
    }
}

/// GitHub's limits on a job's annotations (actions/toolkit, problem-matchers.md): 10 of each kind
/// (error, warning, notice) per step and 50 per job. One budget per job instance, shared by its
/// steps' pipelines; what goes beyond is shown as an output line.
public final class AnnotationBudget: Sendable {
    public static let perKindPerStep = 10
    public static let perJob = 50
    private let counts = Mutex<(job: Int, perStep: [String: Int], refused: Set<Int>)>((0, [:], []))

    public init() {}

    /// Whether an annotation of `kind` from `step` is recorded, and whether it is the step's first refused.
    func admit(step: Int, kind: Annotation.Kind) -> (admitted: Bool, firstRefused: Bool) {
        counts.withLock { counts in
            let key = "\(step)-\(kind.rawValue)"
            if counts.job < Self.perJob, counts.perStep[key, default: 0] < Self.perKindPerStep {
                counts.job += 1
                counts.perStep[key, default: 0] += 1
                return (true, false)
            }
            return (false, counts.refused.insert(step).inserted)
        }
    }
}

/// What a step's workflow commands set, in the order written: GitHub's older commands for what
/// the files `GITHUB_OUTPUT`, `GITHUB_STATE`, `GITHUB_ENV` and `GITHUB_PATH` do now, and the
/// commands that failed (the step fails).
struct StepCommandResults: Sendable {
    var outputs: [(String, String)] = []
    var state: [(String, String)] = []
    var env: [(String, String)] = []
    var path: [String] = []
    var failures: [String] = []
}

/// Turns one stream's redacted bytes into `OutputChunk`s of whole lines.
final class LineAssembler {
    let job: String
    let step: Int
    let stream: Int32
    let reporter: any RunReporter
    private var partial: [UInt8] = []

    init(job: String, step: Int, stream: Int32, reporter: any RunReporter) {
        self.job = job
        self.step = step
        self.stream = stream
        self.reporter = reporter
    }

    func append(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return }
        var start = 0
        // Whether what is held after this is a line begun here (`partialSerial`).
        var begun = partial.isEmpty
        defer { if begun && !partial.isEmpty { partialSerial &+= 1 } }
        if !partial.isEmpty {
            // Complete the held line first.
            guard let found = memchr(base, 0x0A, bytes.count) else {
                partial.append(contentsOf: bytes)
                emitLongPieces()
                return
            }
            begun = true
            let end = UnsafeRawPointer(found) - base + 1
            partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0..<end]))
            partial.withUnsafeBytes { deliverLine($0) }
            partial.removeAll(keepingCapacity: true)
            start = end
        }
        guard start < bytes.count else { return }
        // Whole lines straight from the caller's buffer; the tail waits.
        let rest = UnsafeRawBufferPointer(rebasing: bytes[start...])
        guard let last = Self.lastNewline(rest) else {
            partial.append(contentsOf: rest)
            emitLongPieces()
            return
        }
        let end = last + 1
        deliverWhole(UnsafeRawBufferPointer(rebasing: rest[0..<end]))
        if end < rest.count {
            partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[end...]))
            emitLongPieces()
        }
    }

    /// Whether a line without its newline is held.
    var hasPartial: Bool { !partial.isEmpty }
    /// Counts the lines begun without their newline: it changes whenever the held line is another.
    private(set) var partialSerial = 0

    /// A line without its newline goes on as a piece now (the step has been quiet a while), but
    /// for the bytes of a character still being written (at most 3), which wait for the rest.
    func flushPartial() {
        guard !partial.isEmpty else { return }
        let cut = partial.withUnsafeBytes { Self.characterBoundary($0, before: $0.count) }
        guard cut > 0 else { return }
        partial.withUnsafeBytes { deliver(UnsafeRawBufferPointer(rebasing: $0[0..<cut]), lines: 0) }
        partial.removeFirst(cut)
    }

    /// A last line without a newline goes on as it is (a piece: sinks that show lines end it).
    func finish() {
        guard !partial.isEmpty else { return }
        partial.withUnsafeBytes { deliver($0, lines: 0) }
        partial.removeAll()
    }

    private func emitLongPieces() {
        while partial.count >= OutputChunk.maxLine {
            let cut = partial.withUnsafeBytes { Self.pieceEnd($0, from: 0) }
            partial.withUnsafeBytes { deliver(UnsafeRawBufferPointer(rebasing: $0[0..<cut]), lines: 0) }
            partial.removeFirst(cut)
        }
    }

    /// Whole lines, as one chunk while none is longer than `OutputChunk.maxLine` (the usual
    /// case: one pass of `memchr`); a longer one goes in pieces of that length, as a line still
    /// open at the end of a read does (audit 66 output L2: pieces of up to 1 MiB went whole).
    private func deliverWhole(_ whole: UnsafeRawBufferPointer) {
        guard let base = whole.baseAddress else { return }
        var chunkStart = 0, lineStart = 0, lines = 0
        while lineStart < whole.count, let found = memchr(base + lineStart, 0x0A, whole.count - lineStart) {
            let lineEnd = UnsafeRawPointer(found) - base + 1
            if lineEnd - lineStart > OutputChunk.maxLine + 1 {
                if lines > 0 { deliver(UnsafeRawBufferPointer(rebasing: whole[chunkStart..<lineStart]), lines: lines) }
                deliverLine(UnsafeRawBufferPointer(rebasing: whole[lineStart..<lineEnd]))
                chunkStart = lineEnd
                lines = 0
            } else {
                lines += 1
            }
            lineStart = lineEnd
        }
        if lines > 0 { deliver(UnsafeRawBufferPointer(rebasing: whole[chunkStart..<lineStart]), lines: lines) }
    }

    /// One line with its newline: in pieces of at most `OutputChunk.maxLine` bytes (its content;
    /// cut between characters), then its end.
    private func deliverLine(_ line: UnsafeRawBufferPointer) {
        var from = 0
        while line.count - from > OutputChunk.maxLine + 1 {
            let cut = Self.pieceEnd(line, from: from)
            deliver(UnsafeRawBufferPointer(rebasing: line[from..<cut]), lines: 0)
            from = cut
        }
        deliver(UnsafeRawBufferPointer(rebasing: line[from...]), lines: 1)
    }

    /// Where a piece that starts at `from` ends: `OutputChunk.maxLine` bytes on, moved back to the
    /// start of a character it would cut (valid UTF-8 is never split: audit 66 output L1).
    static func pieceEnd(_ bytes: UnsafeRawBufferPointer, from: Int) -> Int {
        let end = from + OutputChunk.maxLine
        let cut = characterBoundary(bytes, before: end)
        return cut > from ? cut : end
    }

    /// `end`, or the start of the UTF-8 character that begins before `end` and ends after it (a
    /// lead byte followed by fewer continuation bytes than it announces).
    static func characterBoundary(_ bytes: UnsafeRawBufferPointer, before end: Int) -> Int {
        var index = end - 1
        var continuation = 0
        while index >= 0, continuation < 3, bytes[index] & 0xC0 == 0x80 {
            continuation += 1
            index -= 1
        }
        guard index >= 0 else { return end }
        let lead = bytes[index]
        let length = lead >= 0xF0 && lead <= 0xF4 ? 4 : lead >= 0xE0 && lead < 0xF0 ? 3 : lead >= 0xC2 && lead < 0xE0 ? 2 : 1
        return length > continuation + 1 ? index : end
    }

    private func deliver(_ bytes: UnsafeRawBufferPointer, lines: Int) {
        reporter.output(OutputChunk(job: job, step: step, stream: stream, bytes: bytes, lines: lines))
    }

    /// The index of the last newline (lines are short: a backward scan ends soon).
    static func lastNewline(_ bytes: UnsafeRawBufferPointer) -> Int? {
        var index = bytes.count - 1
        while index >= 0 {
            if bytes[index] == 0x0A { return index }
            index -= 1
        }
        return nil
    }

    static func countNewlines(_ bytes: UnsafeRawBufferPointer) -> Int {
        guard let base = bytes.baseAddress else { return 0 }
        var count = 0
        var position = 0
        while position < bytes.count, let found = memchr(base + position, 0x0A, bytes.count - position) {
            count += 1
            position = UnsafeRawPointer(found) - base + 1
        }
        return count
    }
}
