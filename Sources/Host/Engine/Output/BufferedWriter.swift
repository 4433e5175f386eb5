import Foundation
import NixActionsProcessKit
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Bytes to one file descriptor, gathered in a buffer and written in large pieces: when the
/// buffer fills, on `flush()`, and every `OutputFlusher.interval` from the flusher thread.
///
/// Each writer has its own lock, held only to copy bytes in or out (callers format outside it).
/// A write error (a full disk, a closed pipe) is reported once through `onFailure`: the run goes
/// on, it never crashes or blocks on a dead output. What happens next is the writer's `Recovery`:
/// a console drops what follows; a log file tries again each second (a disk that was full for a
/// moment loses that moment's bytes, not the rest of the run: audit 61 M1), keeping its offsets
/// (a job log) or its lines whole (`events.jsonl`, which also keeps room ahead for its last events).
///
/// A writer may also start without a descriptor (`init(opening:)`): its file is made by the first
/// write-out, usually on the flusher thread, so whoever writes waits for the file system to make
/// the file only when its buffer fills first, or when it writes while the flusher is making it.
/// `closeSoon()` leaves the last write-out and the close to the flusher too.
public final class BufferedWriter: Sendable {
    /// After a failed write.
    public enum Recovery: Sendable {
        /// Later bytes are dropped (a console: a reader that went away does not come back).
        case none
        /// A file whose offsets others hold (a job log, which events reference by offset): tried
        /// again each second; the bytes lost leave their place as a hole, so every later byte is
        /// at the offset `write` returned for it.
        case offsets
        /// A file of whole lines (`events.jsonl`): a write that failed part-way is cut back, so no
        /// line is left half-written; tried again each second. It keeps room on the file system
        /// ahead of its end (1 MiB, less on a small one; `fallocate`, the file's size unchanged),
        /// so its last lines, a run's end, are written even when a job's log filled the disk;
        /// given back at close.
        case records
    }

    struct State {
        var buffer: [UInt8]
        /// -1 until a lazily opened writer's file is made.
        var fd: Int32
        var failed = false
        /// When a failed writer tries again (nil: never).
        var retryAt: ContinuousClock.Instant?
        /// How long the file is, as this writer left it.
        var written: UInt64 = 0
        /// Where the room kept ahead of the file's end ends (`Recovery.records`).
        var reserved: UInt64 = 0
        /// When room may be asked for again after the file system refused it (no support, full).
        var reserveAgainAt: ContinuousClock.Instant?
        /// How much room the last reservation kept (renewed once half of it is used).
        var reserveLength: UInt64 = 0
        /// The file system said it is full when room was asked for: sheddable records are dropped
        /// (`writeRecord`) so that the room left goes to the others, a run's end among them.
        var roomShort = false
        /// Sheddable records dropped since `takeShed`.
        var shed = 0
        var closed = false
        /// `closeSoon()` was called: the flusher's next pass writes out and closes.
        var closing = false
        /// Called once, after the close (`closeSoon`'s `then`).
        var onClosed: (@Sendable () -> Void)?
        /// Bytes handed to this writer so far (the offset of the next byte in the file).
        var offset: UInt64 = 0
    }

    private let ownsDescriptor: Bool
    private let recovery: Recovery
    private let capacity: Int
    private let state: Mutex<State>
    private let onFailure: @Sendable (Int32) -> Void
    /// Makes the file of a lazily opened writer: a descriptor, or -errno.
    private let opener: (@Sendable () -> Int32)?

    /// - Parameters:
    ///   - ownsDescriptor: close `fd` on `close()`.
    ///   - onFailure: called once with the errno of the first failed write.
    ///   - startOffset: where the file's end is now (for the offsets `write` returns).
    public init(fd: Int32, ownsDescriptor: Bool, capacity: Int = 128 << 10, startOffset: UInt64 = 0, recovery: Recovery = .none,
                onFailure: @escaping @Sendable (Int32) -> Void = { _ in }) {
        self.ownsDescriptor = ownsDescriptor
        self.recovery = recovery
        self.capacity = capacity
        var buffer: [UInt8] = []
        buffer.reserveCapacity(capacity)
        var initial = State(buffer: buffer, fd: fd, offset: startOffset)
        initial.written = startOffset
        if recovery == .records { Self.reserveAhead(fd, &initial) }
        state = Mutex(initial)
        self.onFailure = onFailure
        opener = nil
        OutputFlusher.shared.register(self)
    }

    /// A writer of a new, empty file that `open` makes on the first write-out (returning its
    /// descriptor, which the writer owns, or -errno, reported through `onFailure`). Offsets start at 0.
    public init(opening open: @escaping @Sendable () -> Int32, capacity: Int = 128 << 10, recovery: Recovery = .offsets,
                onFailure: @escaping @Sendable (Int32) -> Void = { _ in }) {
        ownsDescriptor = true
        self.recovery = recovery
        self.capacity = capacity
        state = Mutex(State(buffer: [], fd: -1))
        self.onFailure = onFailure
        opener = open
        OutputFlusher.shared.register(self)
    }

    /// Append `bytes`; returns the offset they start at in the file.
    @discardableResult
    public func write(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        state.withLock { state in
            let start = state.offset
            // Counted once the buffer before them is written out (`drain` places the buffer by it).
            defer { state.offset = start + UInt64(bytes.count) }
            guard !state.closed, !state.failed || state.retryAt != nil else { return start }
            if state.buffer.count + bytes.count > capacity {
                drain(&state)
                if !state.buffer.isEmpty {
                    // Kept while the file is failing: what does not fit now is lost (a job log's
                    // offsets stay, as a hole; events lose whole lines, the oldest first).
                    state.buffer.removeAll(keepingCapacity: true)
                }
                if bytes.count >= capacity {
                    put(bytes, at: start, &state)
                    return start
                }
            }
            state.buffer.append(contentsOf: bytes)
            return start
        }
    }

    /// Append one record (a whole line) of a `.records` file; a `sheddable` one is dropped, and
    /// counted (`takeShed`), while the file system is full or the file failing: the room kept ahead
    /// is then for the records that are not (audit 64 events H1: `output` events used all of it,
    /// and the run's end was never written). Returns whether it was taken.
    @discardableResult
    public func writeRecord(_ bytes: [UInt8], sheddable: Bool) -> Bool {
        if sheddable {
            let shed = state.withLock { state -> Bool in
                guard recovery == .records else { return false }
                // Room is asked for again once its wait is over, whatever is written meanwhile
                // (review 64 M3: only a written record asked, so a step that only printed kept
                // losing its events after the disk had room again).
                if state.roomShort, let again = state.reserveAgainAt, ContinuousClock.now >= again { Self.reserveAhead(state.fd, &state) }
                guard state.roomShort || (state.failed && state.retryAt != nil) else { return false }
                state.shed += 1
                return true
            }
            if shed { return false }
        }
        bytes.withUnsafeBytes { _ = write($0) }
        return true
    }

    /// How many sheddable records were dropped since the last call.
    public func takeShed() -> Int {
        state.withLock { state in
            defer { state.shed = 0 }
            return state.shed
        }
    }

    @discardableResult
    public func write(_ text: String) -> UInt64 {
        var text = text
        return text.withUTF8 { write(UnsafeRawBufferPointer($0)) }
    }

    @discardableResult
    public func write(_ bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { write($0) }
    }

    /// Write out what is buffered (and, after `closeSoon()`, close).
    public func flush() {
        let closing = state.withLock { state -> Bool in
            drain(&state)
            return state.closing && !state.closed
        }
        if closing { close() }
    }

    /// Flush, then stop accepting bytes (and close the descriptor if this writer owns it).
    /// A lazily opened writer that never had a byte makes no file.
    public func close() {
        let (owned, done) = state.withLock { state -> (Int32?, (@Sendable () -> Void)?) in
            // A last try, however soon after a failure (a run's last events, once there is room).
            if state.failed, state.retryAt != nil { state.retryAt = .now }
            drain(&state)
            if recovery == .offsets, state.fd >= 0, state.written < state.offset {
                // Bytes lost at the end: the file still reaches every offset handed out (a hole
                // needs no room, so this holds on a full disk too).
                if ftruncate(state.fd, off_t(state.offset)) == 0 { state.written = state.offset }
            }
            if state.reserved > state.written, state.fd >= 0 {
                // The room kept ahead goes back to the file system.
                Self.release(state.fd, from: state.written, length: state.reserved - state.written)
                state.reserved = 0
            }
            let first = !state.closed
            state.closed = true
            defer { state.onClosed = nil }
            return (first && ownsDescriptor && state.fd >= 0 ? state.fd : nil, state.onClosed)
        }
        OutputFlusher.shared.unregister(self)
        if let owned { Glibc.close(owned) }
        done?()
    }

    /// The caller is done writing: the flusher thread's next pass (every `OutputFlusher.interval`)
    /// writes out what is buffered and closes, then calls `then` (on its thread). A later `close()`
    /// does it at once. Bytes written after the close are dropped, as after `close()`.
    public func closeSoon(then: (@Sendable () -> Void)? = nil) {
        state.withLock { state in
            state.closing = true
            state.onClosed = then
        }
    }

    /// The descriptor, made now for a lazily opened writer; nil (reported) if it cannot be made.
    private func descriptor(_ state: inout State) -> Int32? {
        if state.fd >= 0 { return state.fd }
        guard let opener else { return nil }
        let made = opener()
        guard made >= 0 else {
            fail(&state, -made)
            return nil
        }
        state.fd = made
        if recovery == .records { Self.reserveAhead(made, &state) }
        return made
    }

    private func drain(_ state: inout State) {
        guard !state.buffer.isEmpty else { return }
        if state.failed, let retryAt = state.retryAt, ContinuousClock.now < retryAt {
            return  // kept for the next try (until it no longer fits: `write`)
        }
        let start = state.offset - UInt64(state.buffer.count)
        // Taken out while it is written (no copy), and put back emptied, its capacity kept.
        var buffer: [UInt8] = []
        swap(&buffer, &state.buffer)
        buffer.withUnsafeBytes { put($0, at: start, &state) }
        buffer.removeAll(keepingCapacity: !state.closed && !state.closing)
        state.buffer = buffer
    }

    /// Write `bytes`, whose first byte is at offset `start` of what this writer was given.
    private func put(_ bytes: UnsafeRawBufferPointer, at start: UInt64, _ state: inout State) {
        if state.failed {
            // Dropped until it is time to try again (never, for a console).
            guard let retryAt = state.retryAt, ContinuousClock.now >= retryAt else { return }
        }
        guard let fd = descriptor(&state) else { return }
        if recovery == .offsets && state.written < start {
            // Bytes before these were lost: their place stays (a hole), so these land at their offset.
            guard ftruncate(fd, off_t(start)) == 0 else { return fail(&state, errno) }
            state.written = start
        }
        let before = state.written
        if let error = StandardStreams.write(bytes, to: fd) {
            switch recovery {
            case .records:
                _ = ftruncate(fd, off_t(before))  // no line left half-written
                state.reserved = min(state.reserved, before)  // the cut gave back what room was kept
            case .offsets: state.written = UInt64(max(0, lseek(fd, 0, SEEK_END)))
            case .none: break
            }
            return fail(&state, error)
        }
        state.written = before + UInt64(bytes.count)
        state.failed = false
        if recovery == .records { Self.reserveAhead(fd, &state) }
    }

    private func fail(_ state: inout State, _ error: Int32) {
        let first = !state.failed && state.retryAt == nil
        state.failed = true
        state.retryAt = recovery == .none ? nil : ContinuousClock.now + .seconds(1)
        if first { onFailure(error) }
    }

    /// Keep room ahead of the file's end: 1 MiB when there is, less on a small file system (128
    /// or 16 KiB), taken again once half of it is used. Where the file system refuses (no
    /// `fallocate`, or full), asked again a second later; a full one sheds sheddable records
    /// until then (`roomShort`), so the half left is for the others.
    private static func reserveAhead(_ fd: Int32, _ state: inout State) {
        guard fd >= 0, state.reserved < state.written + max(8 << 10, state.reserveLength / 2) else { return }
        if let again = state.reserveAgainAt, ContinuousClock.now < again { return }
        var full = false
        for length: UInt64 in [1 << 20, 128 << 10, 16 << 10] where state.reserveLength == 0 || length <= state.reserveLength {
            let error = FileRoom.keeping(fd, from: state.written, length: length)
            if error == 0 {
                state.reserved = state.written + length
                // The first reservation sets the size kept; a smaller one later means the disk is
                // filling: sheddable records go from then, while the half of it left is still
                // there for the others (a write that fails part-way gives the room back).
                if state.reserveLength == 0 { state.reserveLength = length }
                state.roomShort = length < state.reserveLength
                state.reserveAgainAt = state.roomShort ? .now + .seconds(1) : nil
                return
            }
            full = full || error == ENOSPC || error == EDQUOT
        }
        state.roomShort = full
        state.reserveAgainAt = .now + .seconds(1)
    }

    /// Give back room kept past a file's end, the file's size unchanged.
    public static func release(_ fd: Int32, from offset: UInt64, length: UInt64) {
        FileRoom.release(fd, from: offset, length: length)
    }
}

/// Flushes every open `BufferedWriter` (and idle output pipelines) a few times a second, so that
/// output shows up promptly even while a step prints slowly.
public final class OutputFlusher: Sendable {
    public static let shared = OutputFlusher()
    public static let interval: Duration = .milliseconds(50)

    private let writers = Mutex<[ObjectIdentifier: @Sendable () -> Void]>([:])
    private let started = Atomic<Bool>(false)

    /// Call `flush` every interval until `unregister`.
    public func register(_ object: AnyObject, _ flush: @escaping @Sendable () -> Void) {
        writers.withLock { $0[ObjectIdentifier(object)] = flush }
        if !started.exchange(true, ordering: .relaxed) {
            let thread = Thread { [self] in loop() }
            thread.stackSize = 128 * 1024
            thread.start()
        }
    }

    func register(_ writer: BufferedWriter) {
        register(writer) { [weak writer] in writer?.flush() }
    }

    public func unregister(_ object: AnyObject) {
        _ = writers.withLock { $0.removeValue(forKey: ObjectIdentifier(object)) }
    }

    /// Flush everything now (at exit).
    public func flushAll() {
        for flush in writers.withLock({ Array($0.values) }) { flush() }
    }

    private func loop() {
        let microseconds = UInt32(Self.interval.components.attoseconds / 1_000_000_000_000)
        while true {
            usleep(microseconds)
            flushAll()
        }
    }
}
