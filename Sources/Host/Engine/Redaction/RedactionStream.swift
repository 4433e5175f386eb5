/// Redacts one byte stream (a step's stdout, say) for `Redactor.makeStream(emit:)`.
///
/// Redacted bytes go to `emit` as soon as they can no longer begin a match: the stream holds back
/// only the bytes inside the automaton state's window (at most three times the longest pattern,
/// line breaks inside wrapped base64 included), and releases them on the first byte that cannot
/// continue a match. `emit` receives slices of the written buffer when nothing is masked (no copy),
/// so it must not keep the pointer.
///
/// - `write(_:)` checks the redactor's version (one atomic load); when secrets were added, it takes
///   the new automaton and re-feeds the held-back bytes to it, so new values apply from there on.
/// - `flushIdle()` (idle timeout) emits held bytes that are already masked, never those that may
///   still begin a secret: a secret written slowly (its first bytes, a pause, the rest) is masked
///   whole, however long the pause. They wait for the byte that rules them out, or the end.
/// - `flush()` (before an annotation) emits everything held, keeping the automaton state: if the
///   rest of a secret follows, the rest is masked.
/// - `finish()` (end of stream) emits what is held and resets the stream.
///
/// Single writer: not thread-safe, no locks.
public final class RedactionStream {
    private let redactor: Redactor
    private let emit: (UnsafeRawBufferPointer) -> Void
    private var automatons: RedactionAutomatons
    private var version: Int
    /// The scan states of `automatons.base` and `automatons.recent`.
    private var state = ScanState()
    private var recentState = ScanState()
    /// Bytes read with two automatons since this stream took them (`mergeAfter`).
    private var scannedWithTwo = 0
    /// After this much output read with two automatons, the redactor is asked to fold them into one.
    static let mergeAfter = 1 << 20
    /// Bytes written so far.
    private var position = 0
    /// Output has been produced for every byte before this position.
    private var emitted = 0
    /// Held-back bytes: positions `heldStart..<heldStart+heldCount` (`heldStart == emitted` between writes).
    private var held: UnsafeMutablePointer<UInt8>
    private var heldCapacity: Int
    private var heldCount = 0
    private var heldStart = 0
    /// Masked intervals not yet fully emitted (sorted, disjoint, not touching); from `pendingHead`.
    private var pending: [Range<Int>] = []
    private var pendingHead = 0
    /// The last byte emitted was part of a `***` run.
    private var inMaskRun = false
    private let maskBuffer: UnsafeMutablePointer<UInt8>
    private let maskCapacity = 4096
    private var maskCount = 0
    /// The buffer being written, during `write`.
    private var chunk: UnsafePointer<UInt8>?
    private var chunkStart = 0
    /// The last bytes emitted, as written (before masking): the first `historyCount` bytes of a
    /// buffer of `2 * historyLimit`, of which the last `historyLimit` at most are used. When a
    /// value is added, the new automaton reads them again before the held bytes, so a value
    /// whose beginning was already shown (as itself, or masked as a shorter value) has the rest
    /// masked, as GitHub's runner masks a line with the values known when the line ends.
    private var history: UnsafeMutablePointer<UInt8>
    private var historyLimit: Int
    private var historyCount = 0

    init(redactor: Redactor, emit: @escaping (UnsafeRawBufferPointer) -> Void) {
        self.redactor = redactor
        self.emit = emit
        (automatons, version) = redactor.isEmpty ? (RedactionAutomatons.empty, 0) : redactor.current()
        heldCapacity = max(64, automatons.maxLength * 3 + 16)
        held = .allocate(capacity: heldCapacity)
        historyLimit = max(Self.minimumHistory, automatons.maxLength * 3 + 16)
        history = .allocate(capacity: 2 * historyLimit)
        maskBuffer = .allocate(capacity: maskCapacity)
        pending.reserveCapacity(16)
    }

    deinit {
        held.deallocate()
        history.deallocate()
        maskBuffer.deallocate()
    }

    /// Bytes shown are remembered for values added later (at least this many, or three times the
    /// longest value known): a value that began further back is masked only from where it is
    /// seen again.
    static let minimumHistory = 256

    /// Redacts `buffer` and emits what can no longer be part of a match.
    public func write(_ buffer: UnsafeRawBufferPointer) {
        if redactor.version != version { refresh() }
        guard let base = buffer.baseAddress, buffer.count > 0 else { return }
        if automatons.isEmpty && heldCount == 0 {
            emit(buffer)
            remember(base.assumingMemoryBound(to: UInt8.self), count: buffer.count)
            position += buffer.count
            emitted = position
            heldStart = position
            return
        }
        process(base.assumingMemoryBound(to: UInt8.self), count: buffer.count)
    }

    /// Idle timeout: emits the held bytes that are masked (a value matched whole that a longer
    /// one could still extend), up to the first that may begin a secret: those stay until the
    /// bytes after them show whether they do, or the stream ends. No byte of a secret goes out
    /// early, so a pause in the middle of one never leaks its beginning. What waits is at most a
    /// few times the longest value, and it is the end of a line that the line assembler would
    /// hold anyway until its newline (only a value that spans lines can keep a whole line back).
    public func flushIdle() {
        if redactor.version != version { refresh() }
        var limit = emitted
        var index = pendingHead
        while index < pending.count, pending[index].lowerBound <= limit {
            limit = max(limit, pending[index].upperBound)
            index += 1
        }
        if limit > emitted { release(upTo: min(limit, position)) }
    }

    /// Whether bytes it was given are still held back (they may begin a secret).
    public var isHolding: Bool { position > emitted }

    /// Emits every held-back byte (output that must go before something else, an annotation).
    /// The automaton state is kept, so the rest of a secret that arrives later is still masked.
    public func flush() {
        if redactor.version != version { refresh() }
        release(upTo: position)
    }

    /// End of stream: emits every held-back byte and resets the stream (it can be reused).
    public func finish() {
        if redactor.version != version { refresh() }
        release(upTo: position)
        state = ScanState()
        recentState = ScanState()
        pending.removeAll(keepingCapacity: true)
        pendingHead = 0
        inMaskRun = false
        historyCount = 0
    }

    // MARK: Internals

    private func release(upTo limit: Int) {
        chunk = nil
        chunkStart = position
        emit(upTo: limit)
        compactHeld(chunkCount: 0)
    }

    /// A newer automaton is published: take it, and re-feed it from the root with the last bytes
    /// shown (`history`, as written) and then the held-back bytes. Matches are masked only from
    /// `emitted` on: what was shown stays shown, but a value that began there (`ab` shown, then
    /// `abcdef` added, then `cdef` written) has its rest masked. The masked intervals found so far
    /// stay (they are in absolute positions, and the held bytes keep theirs).
    private func refresh() {
        (automatons, version) = redactor.current()
        state = ScanState()
        recentState = ScanState()
        scannedWithTwo = 0
        let needed = automatons.maxLength * 3 + 16
        if needed > heldCapacity { grow(to: needed) }
        let shown = min(historyCount, historyLimit)
        let count = shown + heldCount
        if heldCount > 0 || (shown > 0 && !automatons.isEmpty) {
            let copy = UnsafeMutablePointer<UInt8>.allocate(capacity: count)
            copy.update(from: history + (historyCount - shown), count: shown)
            (copy + shown).update(from: held, count: heldCount)
            heldCount = 0
            position = emitted - shown
            heldStart = emitted - shown
            process(copy, count: count)
            copy.deallocate()
        }
        if needed > historyLimit {
            let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: 2 * needed)
            bigger.update(from: history, count: historyCount)
            history.deallocate()
            history = bigger
            historyLimit = needed
        }
    }

    /// Keeps the last `historyLimit` (at least) of the bytes shown.
    private func remember(_ p: UnsafePointer<UInt8>, count n: Int) {
        let limit = historyLimit
        if n >= limit {
            history.update(from: p + (n - limit), count: limit)
            historyCount = limit
            return
        }
        if historyCount + n > 2 * limit {
            let keep = limit - n
            history.update(from: history + (historyCount - keep), count: keep)
            historyCount = keep
        }
        (history + historyCount).update(from: p, count: n)
        historyCount += n
    }

    private func grow(to capacity: Int) {
        let bigger = UnsafeMutablePointer<UInt8>.allocate(capacity: capacity)
        bigger.update(from: held, count: heldCount)
        held.deallocate()
        held = bigger
        heldCapacity = capacity
    }

    private func process(_ p: UnsafePointer<UInt8>, count n: Int) {
        chunk = p
        chunkStart = position
        let floor = heldStart
        let held = self.held, heldStart = self.heldStart, chunkStart = self.chunkStart
        // A local function, passed as a non-escaping closure: no allocation per write.
        func byteAt(_ k: Int) -> UInt8 { k < chunkStart ? held[k - heldStart] : p[k - chunkStart] }
        var st = state
        let base = automatons.base, recent = automatons.recent
        // With one automaton, bytes go out as soon as no match can still cover them; with two,
        // only once both have read the write.
        let early = recent.isEmpty
        base.scan(p, count: n, base: chunkStart, state: &st, floor: floor, byteAt: byteAt) { start, end, now in
            self.matched(min(max(start, self.emitted), end)..<end, state: now, emitting: early, byteAt: byteAt)
        }
        state = st
        var window = Int.max
        if !recent.isEmpty {
            var rt = recentState
            recent.scan(p, count: n, base: chunkStart, state: &rt, floor: floor, byteAt: byteAt) { start, end, now in
                self.matched(min(max(start, self.emitted), end)..<end, state: now, emitting: false, byteAt: byteAt)
            }
            recentState = rt
            window = recent.windowStart(rt, end: chunkStart + n, floor: emitted, byteAt: byteAt)
            scannedWithTwo += n
            if scannedWithTwo >= Self.mergeAfter {
                scannedWithTwo = 0
                redactor.mergeRecent()
            }
        }
        position = chunkStart + n
        emit(upTo: min(window, base.windowStart(st, end: position, floor: emitted, byteAt: byteAt)))
        compactHeld(chunkCount: n)
        chunk = nil
    }

    private func matched(_ interval: Range<Int>, state now: ScanState, emitting: Bool, byteAt: (Int) -> UInt8) {
        // Re-reading the bytes shown (`refresh`), a match that ends among them masks nothing.
        guard !interval.isEmpty else { return }
        RedactionAutomaton.merge(interval, into: &pending, from: pendingHead)
        if emitting { emit(upTo: automatons.base.windowStart(now, end: interval.upperBound, floor: emitted, byteAt: byteAt)) }
    }

    /// Keeps `emitted..<position` in `held`.
    private func compactHeld(chunkCount n: Int) {
        let keep = position - emitted
        if keep > heldCapacity { grow(to: keep + 16) }
        var count = 0
        if emitted < chunkStart {
            count = chunkStart - emitted
            (held).update(from: held + (emitted - heldStart), count: count)
        }
        if let chunk, keep > count {
            (held + count).update(from: chunk + (n - (keep - count)), count: keep - count)
        }
        heldCount = keep
        heldStart = emitted
    }

    /// Emits the output for positions `emitted..<limit`, and remembers their bytes as written.
    private func emit(upTo limit: Int) {
        guard emitted < limit else { return }
        let from = emitted
        defer { rememberShown(from: from) }
        while emitted < limit {
            guard pendingHead < pending.count else {
                emitRaw(to: limit)
                break
            }
            let interval = pending[pendingHead]
            if interval.lowerBound >= limit {
                emitRaw(to: limit)
                break
            }
            if emitted < interval.lowerBound { emitRaw(to: interval.lowerBound) }
            let end = min(interval.upperBound, limit)
            emitMasked(to: end)
            if end == interval.upperBound { pendingHead += 1 }
        }
        if pendingHead > 0 && pendingHead == pending.count {
            pending.removeAll(keepingCapacity: true)
            pendingHead = 0
        }
    }

    /// `remember`s the bytes at `from..<emitted`, from `held` and the chunk being written.
    private func rememberShown(from: Int) {
        var k = max(from, emitted - historyLimit)
        if k < chunkStart {
            let stop = min(emitted, chunkStart)
            remember(held + (k - heldStart), count: stop - k)
            k = stop
        }
        if k < emitted, let chunk { remember(chunk + (k - chunkStart), count: emitted - k) }
    }

    private func emitRaw(to end: Int) {
        guard end > emitted else { return }
        if emitted < chunkStart {
            let stop = min(end, chunkStart)
            emit(UnsafeRawBufferPointer(start: held + (emitted - heldStart), count: stop - emitted))
            emitted = stop
        }
        if end > emitted, let chunk {
            emit(UnsafeRawBufferPointer(start: chunk + (emitted - chunkStart), count: end - emitted))
            emitted = end
        }
        inMaskRun = false
    }

    private func emitMasked(to end: Int) {
        while emitted < end {
            let b = emitted < chunkStart ? held[emitted - heldStart] : chunk![emitted - chunkStart]
            if maskCount + 3 > maskCapacity { flushMask() }
            if b == 10 || b == 13 {
                maskBuffer[maskCount] = b
                maskCount += 1
                inMaskRun = false
            } else if !inMaskRun {
                maskBuffer[maskCount] = 0x2A
                maskBuffer[maskCount + 1] = 0x2A
                maskBuffer[maskCount + 2] = 0x2A
                maskCount += 3
                inMaskRun = true
            }
            emitted += 1
        }
        flushMask()
    }

    private func flushMask() {
        guard maskCount > 0 else { return }
        emit(UnsafeRawBufferPointer(start: maskBuffer, count: maskCount))
        maskCount = 0
    }
}
