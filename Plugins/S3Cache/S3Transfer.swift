import CZlib
import Foundation
import NIOCore
import NixActionsCacheKit
import NixActionsPluginMessages
import Synchronization

/// Save side: the thread reading the archive compresses it into parts and hands them to the
/// uploading task. At most `inFlight` parts wait or travel at once (the reading thread blocks
/// for room), so memory stays at a few parts whatever the entry's size.
final class PartPipe: @unchecked Sendable {
    enum Message: Sendable {
        /// The whole entry, one PutObject.
        case single(UploadBody)
        /// Part `number` (from 1) of a multipart upload.
        case part(Int, UploadBody)
    }

    let messages: AsyncStream<Message>
    private let continuation: AsyncStream<Message>.Continuation
    private let room: DispatchSemaphore
    private let inFlight: Int
    private let failedFlag = Atomic<Bool>(false)

    init(inFlight: Int) {
        self.inFlight = inFlight
        room = DispatchSemaphore(value: inFlight)
        (messages, continuation) = AsyncStream.makeStream(of: Message.self)
    }

    var failed: Bool { failedFlag.load(ordering: .acquiring) }

    /// Blocks (a thread of its own, never the cooperative pool) until a part may go; false when
    /// the upload failed or was cancelled.
    func send(_ message: Message) -> Bool {
        guard !failed else { return false }
        room.wait()
        guard !failed else { return false }
        continuation.yield(message)
        return true
    }

    /// The uploader finished with a part.
    func done() { room.signal() }

    /// Stop: the upload failed or the save was cancelled; wakes a blocked `send`.
    func fail() {
        guard !failedFlag.exchange(true, ordering: .acquiringAndReleasing) else { return }
        for _ in 0..<inFlight + 1 { room.signal() }
    }

    /// No more parts.
    func close() { continuation.finish() }
}

/// A body on its way up with its CRC32, sent as `x-amz-checksum-crc32` so that the store checks
/// the bytes it received before it keeps them (a mismatch is refused, `BadDigest`, and retried);
/// nil with the option `checksums: false`.
struct UploadBody: Sendable {
    var buffer: ByteBuffer
    var crc32: UInt32?

    /// The header's value: the checksum's four bytes, big-endian, in base64.
    var crc32Header: String? { crc32.map(S3Checksum.header) }
}

enum S3Checksum {
    /// CRC32 (zlib's, the one S3 calls CRC32) of `bytes`, continuing `crc`.
    static func crc32(_ crc: UInt32, _ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return crc }
        return UInt32(truncatingIfNeeded: crc32_z(UInt(crc), base.assumingMemoryBound(to: Bytef.self), bytes.count))
    }

    static func header(_ crc: UInt32) -> String {
        Data([UInt8(crc >> 24), UInt8((crc >> 16) & 0xff), UInt8((crc >> 8) & 0xff), UInt8(crc & 0xff)]).base64EncodedString()
    }
}

/// The reading thread's state: the compressor and the part being filled. Used by one thread at
/// a time (the archive reader, then the thread that finishes).
final class SaveSink: @unchecked Sendable {
    private let compressor: ZstdCompressor
    private let partSize: Int
    private let checksums: Bool
    private let pipe: PartPipe
    private var filling: ByteBuffer
    /// The CRC32 of `filling`, computed as its bytes arrive (they are in the cache then).
    private var fillingCRC: UInt32 = 0
    /// The first full part, held back until more follows: an entry of one part goes as one
    /// PutObject. Later parts go as soon as they are full (then at most the part being filled
    /// and two in flight are in memory).
    private var pending: UploadBody?
    private var partsSent = 0
    private(set) var storedBytes = 0
    var archiveBytes: Int { compressor.bytesIn }

    init(level: Int32, threads: Int32, partSize: Int, checksums: Bool, pipe: PartPipe) throws {
        compressor = try ZstdCompressor(level: level, workers: threads)
        self.partSize = partSize
        self.checksums = checksums
        self.pipe = pipe
        filling = ByteBufferAllocator().buffer(capacity: 0)
    }

    struct Stopped: Error {}

    /// Compress a chunk of the archive; false once the upload stopped.
    func take(_ chunk: UnsafeRawBufferPointer) throws -> Bool {
        try compressor.compress(chunk, emit: emit)
        return !pipe.failed
    }

    /// End the frame and send what is left.
    func finish() throws {
        try compressor.finish(emit: emit)
        storedBytes = compressor.bytesOut
        let last = filled
        if let held = pending {
            pending = nil
            if filling.readableBytes == 0 {
                try send(.single(held))
            } else {
                try sendPart(held)
                try sendPart(last)
            }
        } else if partsSent == 0 {
            try send(.single(last))
        } else if filling.readableBytes > 0 {
            try sendPart(last)
        }
        filling = ByteBufferAllocator().buffer(capacity: 0)
        fillingCRC = 0
    }

    private func emit(_ bytes: UnsafeRawBufferPointer) throws {
        if filling.capacity == 0 { filling.reserveCapacity(partSize + (256 << 10)) }
        filling.writeBytes(bytes)
        if checksums { fillingCRC = S3Checksum.crc32(fillingCRC, bytes) }
        guard filling.readableBytes >= partSize else { return }
        let full = filled
        filling = ByteBufferAllocator().buffer(capacity: 0)
        fillingCRC = 0
        if partsSent == 0 && pending == nil {
            pending = full  // one part so far: maybe the whole entry
            return
        }
        if let held = pending {
            pending = nil
            try sendPart(held)
        }
        try sendPart(full)
    }

    /// The part being filled, with its CRC32 when checksums are on.
    private var filled: UploadBody { UploadBody(buffer: filling, crc32: checksums ? fillingCRC : nil) }

    private func sendPart(_ body: UploadBody) throws {
        partsSent += 1
        try send(.part(partsSent, body))
    }

    private func send(_ message: PartPipe.Message) throws {
        if !pipe.send(message) { throw Stopped() }
    }
}

/// Restore side: the task reading the HTTP body hands compressed chunks to a thread that
/// decompresses them and writes into the host's stream (whose `write` blocks). At most `limit`
/// bytes wait between them; the task waits (without blocking a thread) for room.
final class ChunkQueue: @unchecked Sendable {
    private let condition = NSCondition()
    private var chunks: [ByteBuffer] = []
    private var bytes = 0
    private var finished = false
    private var stopped = false
    private var waiter: CheckedContinuation<Void, Never>?
    private let limit: Int

    init(limit: Int) { self.limit = limit }

    /// Add a chunk; waits while the queue is full. False once the consumer stopped.
    func push(_ chunk: ByteBuffer) async -> Bool {
        switch append(chunk) {
        case .stopped: return false
        case .room: return true
        case .full: break
        }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in wait(continuation) }
        return !wasStopped
    }

    private enum Appended { case stopped, room, full }

    private func append(_ chunk: ByteBuffer) -> Appended {
        condition.lock()
        defer { condition.unlock() }
        if stopped { return .stopped }
        chunks.append(chunk)
        bytes += chunk.readableBytes
        condition.signal()
        return bytes <= limit ? .room : .full
    }

    /// Park the producer until `pop` made room (or resume it now if it already did).
    private func wait(_ continuation: CheckedContinuation<Void, Never>) {
        condition.lock()
        if stopped || bytes <= limit / 2 {
            condition.unlock()
            continuation.resume()
            return
        }
        waiter = continuation
        condition.unlock()
    }

    /// The producer is done (`complete`: the body arrived whole).
    func finish() {
        condition.lock()
        finished = true
        condition.signal()
        condition.unlock()
    }

    /// The consumer gives up (or the operation was cancelled): wakes both sides.
    func stop() {
        condition.lock()
        stopped = true
        let waiting = waiter
        waiter = nil
        condition.broadcast()
        condition.unlock()
        waiting?.resume()
    }

    /// The next chunk (blocking; consumer thread only), nil at the end or after `stop`.
    func pop() -> ByteBuffer? {
        condition.lock()
        while chunks.isEmpty && !finished && !stopped { condition.wait() }
        if stopped || chunks.isEmpty {
            condition.unlock()
            return nil
        }
        let chunk = chunks.removeFirst()
        bytes -= chunk.readableBytes
        var waiting: CheckedContinuation<Void, Never>?
        if bytes <= limit / 2 {
            waiting = waiter
            waiter = nil
        }
        condition.unlock()
        waiting?.resume()
        return chunk
    }

    var wasStopped: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopped
    }
}
