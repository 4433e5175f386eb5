import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Bytes to one file descriptor, gathered in a buffer and written in large pieces: when the
/// buffer fills, on `flush()`, and every `OutputFlusher.interval` from the flusher thread.
///
/// Each writer has its own lock, held only to copy bytes in or out (callers format outside it).
/// A write error (a full disk, a closed pipe) is reported once through `onFailure` and later
/// bytes are dropped: the run goes on, it never crashes or blocks on a dead output.
///
/// A writer may also start without a descriptor (`init(opening:)`): its file is made by the first
/// write-out, usually on the flusher thread, so whoever writes waits for the file system to make
/// the file only when its buffer fills first, or when it writes while the flusher is making it.
/// `closeSoon()` leaves the last write-out and the close to the flusher too.
public final class BufferedWriter: Sendable {
    struct State {
        var buffer: [UInt8]
        /// -1 until a lazily opened writer's file is made.
        var fd: Int32
        var failed = false
        var closed = false
        /// `closeSoon()` was called: the flusher's next pass writes out and closes.
        var closing = false
        /// Called once, after the close (`closeSoon`'s `then`).
        var onClosed: (@Sendable () -> Void)?
        /// Bytes handed to this writer so far (the offset of the next byte in the file).
        var offset: UInt64 = 0
    }

    private let ownsDescriptor: Bool
    private let capacity: Int
    private let state: Mutex<State>
    private let onFailure: @Sendable (Int32) -> Void
    /// Makes the file of a lazily opened writer: a descriptor, or -errno.
    private let opener: (@Sendable () -> Int32)?

    /// - Parameters:
    ///   - ownsDescriptor: close `fd` on `close()`.
    ///   - onFailure: called once with the errno of the first failed write.
    ///   - startOffset: where the file's end is now (for the offsets `write` returns).
    public init(fd: Int32, ownsDescriptor: Bool, capacity: Int = 128 << 10, startOffset: UInt64 = 0,
                onFailure: @escaping @Sendable (Int32) -> Void = { _ in }) {
        self.ownsDescriptor = ownsDescriptor
        self.capacity = capacity
        var buffer: [UInt8] = []
        buffer.reserveCapacity(capacity)
        state = Mutex(State(buffer: buffer, fd: fd, offset: startOffset))
        self.onFailure = onFailure
        opener = nil
        OutputFlusher.shared.register(self)
    }

    /// A writer of a new, empty file that `open` makes on the first write-out (returning its
    /// descriptor, which the writer owns, or -errno, reported through `onFailure`). Offsets start at 0.
    public init(opening open: @escaping @Sendable () -> Int32, capacity: Int = 128 << 10,
                onFailure: @escaping @Sendable (Int32) -> Void = { _ in }) {
        ownsDescriptor = true
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
            state.offset += UInt64(bytes.count)
            guard !state.failed, !state.closed else { return start }
            if state.buffer.count + bytes.count > capacity {
                drain(&state)
                if bytes.count >= capacity {
                    if !state.failed, let fd = descriptor(&state), let error = StandardStreams.write(bytes, to: fd) { fail(&state, error) }
                    return start
                }
            }
            state.buffer.append(contentsOf: bytes)
            return start
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
            drain(&state)
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
        return made
    }

    private func drain(_ state: inout State) {
        guard !state.buffer.isEmpty else { return }
        if !state.failed, let fd = descriptor(&state), let error = state.buffer.withUnsafeBytes({ StandardStreams.write($0, to: fd) }) {
            fail(&state, error)
        }
        state.buffer.removeAll(keepingCapacity: !state.closed && !state.closing)
    }

    private func fail(_ state: inout State, _ error: Int32) {
        state.failed = true
        onFailure(error)
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
