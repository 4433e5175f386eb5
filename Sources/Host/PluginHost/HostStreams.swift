import CNixActionsPlugin
import Foundation
import NixActionsEngine
import NixActionsPluginMessages
import Synchronization

/// The host as the WRITER of a stream a plugin made (files `put`, nixactions/stream.h): used
/// from a thread of its own, never from Swift's cooperative pool.
final class HostStreamWriter: TreeWriter, @unchecked Sendable {
    struct Refused: Error, CustomStringConvertible {
        let status: nxa_status
        var description: String { "the executor stopped taking the archive (status \(status))" }
    }

    private let raw: UnsafePointer<nxa_stream>
    private var closed = false
    private(set) var refusal: nxa_status = NXA_STATUS_OK

    init(_ raw: UnsafePointer<nxa_stream>) { self.raw = raw }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        guard !closed, refusal == NXA_STATUS_OK else { throw Refused(status: refusal == NXA_STATUS_OK ? NXA_STATUS_FAILED : refusal) }
        // Chunks of at most 1 MiB (stream.h: chunks have no meaning; 64 KiB to 1 MiB is usual).
        var offset = 0
        while offset < bytes.count {
            let length = min(1 << 20, bytes.count - offset)
            let status = raw.pointee.write(raw.pointee.ctx, bytes.baseAddress!.assumingMemoryBound(to: UInt8.self) + offset, length)
            guard status == NXA_STATUS_OK else {
                refusal = status
                throw Refused(status: status)
            }
            offset += length
        }
    }

    /// Abort after `error` ended the writing: the reader's refusal if it refused, else cancelled
    /// or failed, with the error as people read it.
    func close(after error: any Error) {
        close(refusal != NXA_STATUS_OK ? refusal : error is CancellationError ? NXA_STATUS_CANCELLED : NXA_STATUS_FAILED,
              message: OperationFailure.describe(error))
    }

    /// Exactly once (later calls do nothing).
    func close(_ status: nxa_status, message: String = "") {
        guard !closed else { return }
        closed = true
        var message = message
        message.withUTF8 { text in
            text.withMemoryRebound(to: CChar.self) { raw.pointee.close(raw.pointee.ctx, status, $0.baseAddress, $0.count) }
        }
    }
}

/// The host as the CREATOR of a stream a plugin writes (files `get`): the bytes go to an engine
/// `TreeSink`. The struct and this object live until the writer's `close` (stream.h rule 9),
/// whatever happened to the operation.
final class HostStream: @unchecked Sendable {
    let sink: any TreeSink
    let stream: UnsafeMutablePointer<nxa_stream>
    /// The operation the stream belongs to; once it is no longer pending (abandoned), writes
    /// return NXA_STATUS_TIMED_OUT (host.h).
    let op = Atomic<UInt64>(0)
    let closed = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)
    /// The reference `ctx` holds was dropped (by the plugin's `close`, or for a stream not taken).
    let released = Atomic<Bool>(false)

    init(sink: any TreeSink) {
        self.sink = sink
        stream = UnsafeMutablePointer<nxa_stream>.allocate(capacity: 1)
        stream.initialize(to: nxa_stream(
            struct_size: UInt32(MemoryLayout<nxa_stream>.size), ctx: nil,
            write: { ctx, data, length in
                guard let ctx else { return NXA_STATUS_INVALID_ARGUMENT }
                let this = Unmanaged<HostStream>.fromOpaque(ctx).takeUnretainedValue()
                guard length >= 0 else { return NXA_STATUS_INVALID_ARGUMENT }  // above Int.max (audit 61 ABI H2)
                return this.take(UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : length))
            },
            close: { ctx, status, message, length in
                guard let ctx else { return }
                let unmanaged = Unmanaged<HostStream>.fromOpaque(ctx)
                let text = HostRuntime.text(message, length)
                let this = unmanaged.takeUnretainedValue()
                this.end(status, text)
                // The stream's own reference goes once: a second close (a plugin bug) while the
                // operation runs does not free it again (audit 61 ABI M4: a use after free).
                if !this.released.exchange(true, ordering: .acquiringAndReleasing) { unmanaged.release() }
            }))
        stream.pointee.ctx = Unmanaged.passRetained(self).toOpaque()
    }

    deinit {
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    private func take(_ bytes: UnsafeRawBufferPointer) -> nxa_status {
        if closed.load(ordering: .acquiring) || stopped.load(ordering: .relaxed) { return NXA_STATUS_FAILED }
        let op = self.op.load(ordering: .acquiring)
        if op != 0 {
            if !HostRuntime.shared.isPending(op) { return NXA_STATUS_TIMED_OUT }
            if HostRuntime.shared.isCancelled(op) { return NXA_STATUS_CANCELLED }
        }
        if bytes.isEmpty { return NXA_STATUS_OK }
        guard sink.write(bytes) else {
            stopped.store(true, ordering: .relaxed)
            return NXA_STATUS_FAILED
        }
        return NXA_STATUS_OK
    }

    /// The writer's close, or the host's own for a stream the plugin did not take.
    func end(_ status: nxa_status, _ message: String) {
        guard closed.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else { return }
        sink.close(complete: status == NXA_STATUS_OK && !stopped.load(ordering: .relaxed),
                   message: message.isEmpty && status != NXA_STATUS_OK ? "aborted (status \(status))" : message)
    }

    /// For a stream the plugin refused to take: end it and drop the stream's own reference.
    func abandonUntaken(_ reason: String) {
        end(NXA_STATUS_FAILED, reason)
        if let ctx = stream.pointee.ctx, !released.exchange(true, ordering: .acquiringAndReleasing) {
            stream.pointee.ctx = nil
            Unmanaged<HostStream>.fromOpaque(ctx).release()
        }
    }
}

/// Where a files `put` call stores the stream the plugin hands out.
final class StreamSlot: @unchecked Sendable {
    var stream: UnsafePointer<nxa_stream>?
}

/// Signalled once (later signals do nothing); `wait` returns after the first.
final class Completion: Sendable {
    private let state = Mutex<(done: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func signal() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard !state.done else { return [] }
            state.done = true
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let done = state.withLock { state -> Bool in
                if state.done { return true }
                state.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }
}
