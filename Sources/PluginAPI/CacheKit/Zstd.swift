import CZstd
import Foundation
import NixActionsPluginMessages

/// Streaming zstd compression for cache entries (libzstd). Frames carry a content checksum
/// (XXH64 of the uncompressed bytes), so a restore detects a corrupt entry; a frame that ends
/// early is a truncated entry. Memory stays flat: one input and one output buffer.
public final class ZstdCompressor {
    private let context: OpaquePointer
    private var output: [UInt8]
    public private(set) var bytesIn = 0
    public private(set) var bytesOut = 0

    /// `level`: 1 (fast) to 19; 3 is zstd's default. `workers`: threads compressing beside the
    /// caller (0: the caller's thread only).
    public init(level: Int32 = 3, workers: Int32 = 0) throws {
        guard let context = ZSTD_createCCtx() else { throw OperationFailure(message: "zstd: cannot make a compression context") }
        self.context = context
        output = [UInt8](repeating: 0, count: ZSTD_CStreamOutSize())
        try Self.check(ZSTD_CCtx_setParameter(context, ZSTD_c_compressionLevel, level), "level \(level)")
        try Self.check(ZSTD_CCtx_setParameter(context, ZSTD_c_checksumFlag, 1), "checksum")
        if workers > 0 {
            // Without multithreading in the library this fails: then compress on this thread.
            // Jobs of 2 MiB (zstd's default is 4 windows, 8 MiB at level 3) keep the buffers of
            // the workers small: memory stays flat whatever the entry's size.
            if ZSTD_isError(ZSTD_CCtx_setParameter(context, ZSTD_c_nbWorkers, workers)) == 0 {
                _ = ZSTD_CCtx_setParameter(context, ZSTD_c_jobSize, 2 << 20)
                // At the slow levels (10 and up) each job also reads an eighth of the window
                // before it (zstd's default there is the whole window, 8 MiB at level 19): a
                // cancel waits for the job the caller is blocked on, 1.75 s at level 19, 0.3 s
                // so; entries about 2% larger (docs/caching.md; audit 60 L5).
                if level >= 10 { _ = ZSTD_CCtx_setParameter(context, ZSTD_c_overlapLog, 6) }
                threaded = true
            }
        }
    }

    /// Whether the frame was ended (`finish` returned).
    private var finished = false
    /// Whether workers compress beside the caller.
    private var threaded = false

    deinit {
        // A frame left unfinished (a save cancelled or failed) with workers still compressing
        // jobs already handed to them: freeing the context waits for those, seconds at a high
        // level (audit 60 L5: Ctrl-C took 4.5 s at level 19). Nothing of them is wanted, and the
        // context is this object's alone: it is freed on a thread of its own.
        guard threaded, !finished else {
            ZSTD_freeCCtx(context)
            return
        }
        let abandoned = UncheckedContext(pointer: context)
        Thread.detachNewThread { ZSTD_freeCCtx(abandoned.pointer) }
    }

    private struct UncheckedContext: @unchecked Sendable { let pointer: OpaquePointer }

    static func check(_ code: Int, _ what: String) throws {
        if ZSTD_isError(code) != 0 {
            throw OperationFailure(message: "zstd (\(what)): \(String(cString: ZSTD_getErrorName(code)))")
        }
    }

    /// Compress `input`; `emit` receives compressed bytes (throw to stop).
    public func compress(_ input: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        bytesIn += input.count
        try run(input, end: false, emit: emit)
    }

    /// End the frame; `emit` receives the last compressed bytes.
    public func finish(emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        try run(UnsafeRawBufferPointer(start: nil, count: 0), end: true, emit: emit)
        finished = true
    }

    private func run(_ input: UnsafeRawBufferPointer, end: Bool, emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        let capacity = output.count
        try output.withUnsafeMutableBytes { out in
            while true {
                var outBuffer = ZSTD_outBuffer(dst: out.baseAddress, size: capacity, pos: 0)
                let remaining = ZSTD_compressStream2(context, &outBuffer, &inBuffer, end ? ZSTD_e_end : ZSTD_e_continue)
                try Self.check(remaining, "compress")
                if outBuffer.pos > 0 {
                    bytesOut += outBuffer.pos
                    try emit(UnsafeRawBufferPointer(start: out.baseAddress, count: outBuffer.pos))
                }
                if end ? remaining == 0 : inBuffer.pos == inBuffer.size { break }
            }
        }
    }
}

/// Streaming zstd decompression that verifies the frames' checksums and notices a truncated
/// entry at its end; with `checkArchive`, also the tar archive inside (`TarGuard`, any root
/// names): an entry whose zstd is sound but whose archive is malformed, incomplete or hostile
/// (written so by another program, or tampered with and recompressed) is as corrupt as one whose
/// checksum fails, and a backend removes it the same way instead of failing every restore of its
/// key and refusing every save (audit 48 L2).
public final class ZstdDecompressor {
    private let context: OpaquePointer
    private var output: [UInt8]
    /// zstd's hint after the last call: 0 when a frame ended exactly there.
    private var pending = 0
    private var sawInput = false
    private var archive: TarGuard?
    public private(set) var bytesIn = 0
    public private(set) var bytesOut = 0

    public init(checkArchive: Bool = false) throws {
        guard let context = ZSTD_createDCtx() else { throw OperationFailure(message: "zstd: cannot make a decompression context") }
        self.context = context
        output = [UInt8](repeating: 0, count: ZSTD_DStreamOutSize())
        if checkArchive { archive = TarGuard(rootNames: nil) }
    }

    private static func corrupt(_ why: String) -> OperationFailure {
        OperationFailure(message: "the entry is corrupt (\(why))")
    }

    deinit { ZSTD_freeDCtx(context) }

    /// Decompress `input`; `emit` receives the uncompressed bytes (throw to stop). A corrupt
    /// entry (bad data or checksum) throws.
    public func decompress(_ input: UnsafeRawBufferPointer, emit: (UnsafeRawBufferPointer) throws -> Void) throws {
        guard input.count > 0 else { return }
        sawInput = true
        bytesIn += input.count
        var inBuffer = ZSTD_inBuffer(src: input.baseAddress, size: input.count, pos: 0)
        let capacity = output.count
        try output.withUnsafeMutableBytes { out in
            while true {
                var outBuffer = ZSTD_outBuffer(dst: out.baseAddress, size: capacity, pos: 0)
                let hint = ZSTD_decompressStream(context, &outBuffer, &inBuffer)
                if ZSTD_isError(hint) != 0 {
                    throw OperationFailure(message: "the entry is corrupt (zstd: \(String(cString: ZSTD_getErrorName(hint))))")
                }
                pending = hint
                if outBuffer.pos > 0 {
                    bytesOut += outBuffer.pos
                    let bytes = UnsafeRawBufferPointer(start: out.baseAddress, count: outBuffer.pos)
                    // Checked before it goes on: nothing past the first bad header is sent.
                    if archive != nil, let problem = archive?.feed(bytes) { throw Self.corrupt(problem) }
                    try emit(bytes)
                }
                // Done with this input once it is consumed and the output buffer was not filled
                // (a full buffer may hold back more output).
                if inBuffer.pos == inBuffer.size && outBuffer.pos < capacity { break }
            }
        }
    }

    /// After the last input: throws if the entry ended in the middle of a frame (truncated).
    public func finish() throws {
        guard sawInput else { throw OperationFailure(message: "the entry is empty") }
        if pending != 0 { throw OperationFailure(message: "the entry is truncated (its compressed data ends early)") }
        if let problem = archive?.finish() { throw Self.corrupt(problem) }
    }
}
