import CNixActionsPlugin
import NixActionsPluginMessages
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The writer's side of an `nxa_stream` someone else made (nixactions/stream.h): the host's
/// stream a files `get` writes its archive into.
///
/// Rules (stream.h): call `write` and `close` from a thread that may block (a process's output
/// thread, a thread of your own), never from a task of Swift's cooperative pool; calls never
/// overlap; `close` exactly once, after which nothing is called. `close` here is idempotent
/// (the kit closes a stream the plugin left open when its operation ends).
public final class StreamWriter: @unchecked Sendable {
    private let raw: UnsafePointer<nxa_stream>
    private let closed = Atomic<Bool>(false)
    /// The first status other than OK a write returned: the consumer gave up.
    private let refused = Atomic<Int32>(NXA_STATUS_OK)
    private let written = Atomic<Int>(0)

    init(_ raw: UnsafePointer<nxa_stream>) { self.raw = raw }

    /// Append bytes; blocks while the consumer has no room. Returns NXA_STATUS_OK or the status
    /// that says to stop (then write no more, and close).
    @discardableResult
    public func write(_ bytes: UnsafeRawBufferPointer) -> nxa_status {
        guard !closed.load(ordering: .acquiring) else { return NXA_STATUS_INVALID_ARGUMENT }
        let previous = refused.load(ordering: .relaxed)
        guard previous == NXA_STATUS_OK else { return previous }
        guard bytes.count > 0 else { return NXA_STATUS_OK }
        let status = raw.pointee.write(raw.pointee.ctx, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), bytes.count)
        if status != NXA_STATUS_OK {
            refused.store(status, ordering: .relaxed)
        } else {
            written.add(bytes.count, ordering: .relaxed)
        }
        return status
    }

    /// The status that made writing stop, or NXA_STATUS_OK.
    public var stopStatus: nxa_status { refused.load(ordering: .relaxed) }

    /// Bytes the consumer took.
    public var bytesWritten: Int { written.load(ordering: .relaxed) }

    public var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// Abort after `error` ended the producing: cancelled or failed, with the error as people
    /// read it. Nothing when the stream is closed already.
    public func close(after error: any Error) {
        close(error is CancellationError ? NXA_STATUS_CANCELLED : NXA_STATUS_FAILED, message: OperationFailure.describe(error))
    }

    /// End the stream: `NXA_STATUS_OK` when everything was written, another status to abort
    /// with `message` (shown to people; never a secret). Only the first call does anything.
    public func close(_ status: nxa_status = NXA_STATUS_OK, message: String = "") {
        guard closed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        var message = message
        message.withUTF8 { text in
            text.withMemoryRebound(to: CChar.self) { raw.pointee.close(raw.pointee.ctx, status, $0.baseAddress, $0.count) }
        }
    }
}

/// The consumer's side of a stream this plugin makes for a files `put`: the host writes a tar
/// archive into it; the executor reads it from `readDescriptor` (a socket, so a child process can
/// take it as its standard input).
///
/// Every byte passes a `TarGuard` before it goes on: the first name that is absolute, has a ".."
/// component or passes through a link of the archive makes `write` fail, so the extracting
/// process never sees it. `write` blocks while the reader has no room (back-pressure), at most
/// until the operation is cancelled or its deadline passes. After `close` the executor learns
/// whether the archive came complete and valid from `outcome()`.
///
/// A consumer in this process (a cache backend compressing the archive) makes the source
/// `inline`: there is no socket, and `consume(_:)`'s body runs on the writer's own thread, inside
/// `write` (stream.h rule 5: the creator consumes the bytes before returning), so the archive is
/// not copied through the kernel twice more. Back-pressure is the body taking its time.
public final class PutSource: @unchecked Sendable {
    /// What the host ended the stream with, and what the guard found.
    public struct Outcome: Sendable {
        /// Nil when the archive came complete, valid, and was closed with OK.
        public var failure: String?
        /// What the guard refused in the archive, if anything (then also in `failure`).
        public var violation: String?
        /// Whether a write failed because the reader was gone (the extracting process ended).
        public var readerGone: Bool
        public var status: nxa_status
        public var files: Int
        public var bytes: Int
        /// The named roots the archive holds a folder entry of (TarGuard.rootFolders).
        public var rootFolders: Set<String> = []
    }

    struct State {
        var guardian: TarGuard
        var outcome: Outcome?
        var readerGone = false
        var waiters: [CheckedContinuation<Outcome, Never>] = []
        /// Inline: the body `consume` registered, and the first error it threw.
        var consumer: (@Sendable (UnsafeRawBufferPointer) throws -> Bool)?
        var consumerError: (any Error)?
    }

    /// Whether the bytes go to a body in this process (`consume`) instead of a socket.
    public let inline: Bool

    private let state: Mutex<State>
    /// The plugin's end (non-blocking); the other end is `readDescriptor`.
    private let writeEnd: Int32
    private let readEnd = Mutex<Int32>(-1)
    let context: OperationContext
    /// The operation's deadline as read when the stream was made (CLOCK_MONOTONIC ns; 0: none):
    /// once the host abandoned the operation it no longer answers `op_deadline`, and a blocked
    /// write must still give up (stream.h rule 6).
    let firstDeadline: UInt64
    /// The `nxa_stream` handed to the host; freed after its `close` returned.
    let stream: UnsafeMutablePointer<nxa_stream>

    /// A stream whose entries must start with one of `rootNames` (nil: any); `inline`: read by
    /// `consume` in this process, with no socket.
    init(rootNames: Set<String>?, context: OperationContext, inline: Bool = false) throws {
        self.inline = inline
        if inline {
            writeEnd = -1
        } else {
            var pair: [Int32] = [-1, -1]
            guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
                throw OperationFailure(message: "cannot make a socket pair for the archive: \(String(cString: strerror(errno)))")
            }
            _ = fcntl(pair[0], F_SETFL, fcntl(pair[0], F_GETFL) | O_NONBLOCK)
            writeEnd = pair[0]
            readEnd.withLock { $0 = pair[1] }
        }
        self.context = context
        firstDeadline = context.host.deadline(context.id) ?? 0
        state = Mutex(State(guardian: TarGuard(rootNames: rootNames)))
        stream = UnsafeMutablePointer<nxa_stream>.allocate(capacity: 1)
        stream.initialize(to: nxa_stream(
            struct_size: UInt32(MemoryLayout<nxa_stream>.size),
            ctx: nil,
            write: { ctx, data, length in
                guard let ctx else { return NXA_STATUS_INVALID_ARGUMENT }
                let source = Unmanaged<PutSource>.fromOpaque(ctx).takeUnretainedValue()
                return source.take(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : length))
            },
            close: { ctx, status, message, length in
                guard let ctx else { return }
                let unmanaged = Unmanaged<PutSource>.fromOpaque(ctx)
                let text = message.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: length), as: UTF8.self) } ?? ""
                unmanaged.takeUnretainedValue().end(status, text)
                unmanaged.release()  // the stream's own reference (stream.h: freed after close)
            }))
        // The stream holds the source until its writer closes it, whatever the operation does.
        stream.pointee.ctx = Unmanaged.passRetained(self).toOpaque()
    }

    deinit {
        stream.deinitialize(count: 1)
        stream.deallocate()
        if writeEnd >= 0 { Glibc.close(writeEnd) }
        closeReader()
    }

    /// Undo the making of the stream when the call that made it fails before handing it out
    /// (stream.h: then there is nothing to close).
    func discard() {
        guard let ctx = stream.pointee.ctx else { return }
        stream.pointee.ctx = nil
        Unmanaged<PutSource>.fromOpaque(ctx).release()
    }

    /// The descriptor to read the archive from (a child process's standard input). Close it with
    /// `closeReader()` once the child has it.
    public var readDescriptor: Int32 { readEnd.withLock { $0 } }

    /// Close this process's copy of the read end (idempotent). Inline: the consumer is gone, so
    /// the writer's next `write` fails instead of waiting for a body that will not come.
    public func closeReader() {
        readEnd.withLock { fd in
            if fd >= 0 { Glibc.close(fd) }
            fd = -1
        }
        if inline { state.withLock { $0.readerGone = true } }
    }

    /// Inline: run `body` on every chunk the writer writes, on the writer's thread, until the
    /// writer closes the stream; `body` returns false or throws to stop (the writer's `write`
    /// fails). Returns how the writer ended the stream; rethrows the body's error.
    func consumeInline(_ body: @escaping @Sendable (UnsafeRawBufferPointer) throws -> Bool) async throws -> Outcome {
        state.withLock { $0.consumer = body }
        let outcome = await self.outcome()
        if let error = state.withLock({ $0.consumerError }) { throw error }
        return outcome
    }

    /// Inline: hand the bytes to the consumer, waiting (bounded, like a full socket) until
    /// `consume` registered it.
    private func takeInline(_ bytes: UnsafeRawBufferPointer) -> nxa_status {
        var body: (@Sendable (UnsafeRawBufferPointer) throws -> Bool)?
        while true {
            let (found, gone) = state.withLock { ($0.consumer, $0.readerGone || $0.consumerError != nil) }
            if gone { return NXA_STATUS_FAILED }
            if let found { body = found; break }
            if context.isCancelled { return NXA_STATUS_CANCELLED }
            if deadlinePassed() { return NXA_STATUS_TIMED_OUT }
            usleep(1000)
        }
        do {
            if try body!(bytes) { return NXA_STATUS_OK }
            state.withLock { $0.readerGone = true }
        } catch {
            state.withLock { $0.consumerError = $0.consumerError ?? error }
        }
        return NXA_STATUS_FAILED
    }

    /// Wait until the host closed the stream.
    public func outcome() async -> Outcome {
        await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Outcome? in
                if let outcome = state.outcome { return outcome }
                state.waiters.append(continuation)
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// The outcome if the stream is already closed.
    public var closedOutcome: Outcome? { state.withLock { $0.outcome } }

    private func take(_ bytes: UnsafeRawBufferPointer) -> nxa_status {
        if bytes.isEmpty { return NXA_STATUS_OK }
        let refused = state.withLock { state -> String? in
            state.outcome != nil ? "closed" : state.guardian.feed(bytes)
        }
        if refused != nil { return NXA_STATUS_FAILED }
        if inline { return takeInline(bytes) }
        var offset = 0
        while offset < bytes.count {
            let sent = send(writeEnd, bytes.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            if sent > 0 {
                offset += sent
                continue
            }
            if sent < 0 && errno == EINTR { continue }
            guard sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) else {
                state.withLock { $0.readerGone = true }
                return NXA_STATUS_FAILED  // the reader is gone (EPIPE): the extraction ended
            }
            // Back-pressure: wait for room, at most until a cancel or the deadline.
            if context.isCancelled { return NXA_STATUS_CANCELLED }
            if deadlinePassed() { return NXA_STATUS_TIMED_OUT }
            var descriptor = pollfd(fd: writeEnd, events: Int16(POLLOUT), revents: 0)
            _ = poll(&descriptor, 1, 100)
        }
        return NXA_STATUS_OK
    }

    /// Whether the operation's deadline (the earlier of the first one read and the current one,
    /// which a cancel may move earlier) has passed.
    private func deadlinePassed() -> Bool {
        let candidates = [firstDeadline, context.host.deadline(context.id) ?? 0].filter { $0 != 0 }
        guard let deadline = candidates.min() else { return false }
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec) >= deadline
    }

    private func end(_ status: nxa_status, _ message: String) {
        // EOF for the reader: the extraction sees the end of the archive.
        if writeEnd >= 0 { shutdown(writeEnd, Int32(SHUT_WR)) }
        let (outcome, waiters) = state.withLock { state -> (Outcome, [CheckedContinuation<Outcome, Never>]) in
            var failure: String?
            if let violation = state.guardian.violation {
                failure = violation
            } else if status != NXA_STATUS_OK {
                failure = message.isEmpty ? "the archive was aborted (status \(status))" : "the archive was aborted: \(message)"
            } else {
                failure = state.guardian.finish()
            }
            let outcome = Outcome(failure: failure, violation: state.guardian.violation, readerGone: state.readerGone, status: status,
                                  files: state.guardian.files, bytes: state.guardian.bytes, rootFolders: state.guardian.rootFolders)
            state.outcome = outcome
            let waiters = state.waiters
            state.waiters = []
            return (outcome, waiters)
        }
        for waiter in waiters { waiter.resume(returning: outcome) }
    }
}
