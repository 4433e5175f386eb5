import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Where one step's output goes, as bytes from end to end:
///
///     executor ─► workflow commands ─► redactor ─► line assembler ─► reporters
///
/// - Workflow commands (`::add-mask::`, `::error::`, …) are found on the raw bytes of stdout and
///   stderr alike (GitHub's runner reads both): only a
///   line that starts with `::` (after spaces or tabs) is copied and decoded; every other byte
///   goes straight on. A command is handled before the bytes after it are redacted, so a value
///   masked with `::add-mask::` is masked from the next line on.
/// - The redactor works on each stream's bytes, whatever the chunking.
/// - The assembler hands reporters runs of whole lines (`OutputChunk`), borrowed from the
///   executor's buffer where it can; a partial line waits for its newline, and a line longer
///   than `OutputChunk.maxLine` goes on in pieces of that size.
///
/// One lock per step, taken once per write; reporters format outside any shared lock.
public final class StepOutputPipeline: StepOutputSink, @unchecked Sendable {
    private let lock = Mutex<Void>(())
    private let job: String
    private let step: Int
    private let reporter: any RunReporter
    private let processor: WorkflowCommandProcessor
    private var streams: [StreamState] = []

    final class StreamState {
        let assembler: LineAssembler
        var redactor: RedactionStream!
        /// Command scanning: at the start of a line; bytes of a line that may be a command.
        var atLineStart = true
        var candidate: [UInt8] = []
        var candidateIsCommand = false
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
    public init(job: String, step: Int, reporter: any RunReporter, redactor: Redactor, idleFlush: Bool = true) {
        self.job = job
        self.step = step
        self.reporter = reporter
        self.processor = WorkflowCommandProcessor(redactor: redactor)
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
    func flushIdle() {
        lock.withLock { _ in
            quietTicks += 1
            guard quietTicks == 2 else { return }
            for state in streams { state.redactor.flushIdle() }
        }
    }

    /// The step ended: everything held goes on (a last line without a newline too).
    public func finish() {
        OutputFlusher.shared.unregister(self)
        lock.withLock { _ in
            for state in streams where !state.candidate.isEmpty { endCandidateLine(state, terminated: false) }
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
                continue
            }
            if state.atLineStart || !state.candidate.isEmpty {
                // Deciding whether this line is a command: gather its first bytes.
                if state.candidate.isEmpty {
                    let first = bytes[position]
                    if first != 0x3A && first != 0x20 && first != 0x09 {  // not ':', ' ', '\t'
                        state.atLineStart = false
                        continue
                    }
                    // Bytes before this line go on first.
                    if position > passFrom { state.redactor.write(UnsafeRawBufferPointer(rebasing: bytes[passFrom..<position])) }
                }
                let newline = memchr(base + position, 0x0A, count - position).map { UnsafeRawPointer($0) - base }
                let end = newline ?? count
                state.candidate.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[position..<end]))
                position = end
                state.atLineStart = false
                if !state.candidateIsCommand, let verdict = Self.isCommand(state.candidate) {
                    if verdict {
                        state.candidateIsCommand = true
                    } else {
                        // Not a command: what was gathered goes on, the rest of the line too.
                        state.candidate.withUnsafeBytes { state.redactor.write($0) }
                        state.candidate.removeAll(keepingCapacity: true)
                        passFrom = position
                        continue
                    }
                }
                if newline != nil {
                    position += 1  // the newline
                    endCandidateLine(state)
                    passFrom = position
                    state.atLineStart = true
                } else if state.candidateIsCommand && state.candidate.count > Self.commandLimit {
                    // Too long to handle, and never shown: dropped to its newline, with a warning.
                    reporter.report(.message(job: job, level: .warning, text: Self.droppedCommandWarning(state.candidate)))
                    state.candidate.removeAll(keepingCapacity: true)
                    state.candidateIsCommand = false
                    state.droppingCommand = true
                    passFrom = position
                } else if !state.candidateIsCommand && state.candidate.count > OutputChunk.maxLine {
                    // Undecided this long (spaces): not a command.
                    state.candidate.withUnsafeBytes { state.redactor.write($0) }
                    state.candidate.removeAll(keepingCapacity: true)
                    passFrom = position
                } else {
                    passFrom = position
                }
                continue
            }
            // Inside an ordinary line: skip to the next line start.
            guard let found = memchr(base + position, 0x0A, count - position) else {
                position = count
                break
            }
            position = UnsafeRawPointer(found) - base + 1
            state.atLineStart = true
        }
        if passFrom < count && state.candidate.isEmpty {
            state.redactor.write(UnsafeRawBufferPointer(rebasing: bytes[passFrom..<count]))
        }
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

    /// A gathered line ended (at its newline, or without one at the end of the stream): handle it
    /// as a command, or pass its bytes on unchanged.
    private func endCandidateLine(_ state: StreamState, terminated: Bool = true) {
        defer {
            state.candidate.removeAll(keepingCapacity: true)
            state.candidateIsCommand = false
        }
        let passOn = {
            if terminated { state.candidate.append(0x0A) }
            state.candidate.withUnsafeBytes { state.redactor.write($0) }
        }
        guard state.candidateIsCommand else { return passOn() }
        var text = String(decoding: state.candidate, as: UTF8.self)
        if text.hasSuffix("\r") { text.removeLast() }
        switch processor.process(text) {
        case .show(let shown) where shown == text:
            passOn()  // not a command after all (or commands are stopped): the bytes as they were
        case .show(let shown):
            var line = shown + (terminated ? "\n" : "")
            line.withUTF8 { state.redactor.write(UnsafeRawBufferPointer($0)) }
        case .hide:
            break
        case .warn(let text):
            reporter.report(.message(job: job, level: .warning, text: text))
        case .annotation(let kind, let message, let file, let line, let title):
            // What came before goes first; nothing can continue a secret across a command line.
            state.redactor.flush()
            reporter.report(.annotation(Annotation(kind: kind, job: job, step: step, message: message, file: file, line: line, title: title)))
        }
    }
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
        if !partial.isEmpty {
            // Complete the held line first.
            guard let found = memchr(base, 0x0A, bytes.count) else {
                partial.append(contentsOf: bytes)
                emitLongPieces()
                return
            }
            let end = UnsafeRawPointer(found) - base + 1
            partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[0..<end]))
            var from = 0
            while partial.count - from > OutputChunk.maxLine {  // still too long: pieces, then its end
                partial.withUnsafeBytes { deliver(UnsafeRawBufferPointer(rebasing: $0[from..<(from + OutputChunk.maxLine)]), lines: 0) }
                from += OutputChunk.maxLine
            }
            partial.withUnsafeBytes { deliver(UnsafeRawBufferPointer(rebasing: $0[from...]), lines: 1) }
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
        let whole = UnsafeRawBufferPointer(rebasing: rest[0..<end])
        deliver(whole, lines: Self.countNewlines(whole))
        if end < rest.count {
            partial.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[end...]))
            emitLongPieces()
        }
    }

    /// A last line without a newline goes on as it is (a piece: sinks that show lines end it).
    func finish() {
        guard !partial.isEmpty else { return }
        partial.withUnsafeBytes { deliver($0, lines: 0) }
        partial.removeAll()
    }

    private func emitLongPieces() {
        while partial.count >= OutputChunk.maxLine {
            partial.withUnsafeBytes { deliver(UnsafeRawBufferPointer(rebasing: $0[0..<OutputChunk.maxLine]), lines: 0) }
            partial.removeFirst(OutputChunk.maxLine)
        }
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
