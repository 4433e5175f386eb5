import CNixActionsPlugin
import Foundation
import NixActionsEngine
@testable import NixActionsPluginHost
import Synchronization
import Testing
import TestSupport

/// The host's own side of nixactions/stream.h, driven through the C function pointers as a
/// plugin drives them.
@Suite("Host streams: the host as creator (get) and as writer (put)")
struct HostStreamTests {
    final class Sink: TreeSink {
        let state = Mutex<(bytes: [UInt8], closes: [(Bool, String)])>(([], []))
        let refuseAfter: Int?
        init(refuseAfter: Int? = nil) { self.refuseAfter = refuseAfter }
        func write(_ bytes: UnsafeRawBufferPointer) -> Bool {
            state.withLock { state in
                if let refuseAfter, state.bytes.count >= refuseAfter { return false }
                state.bytes += bytes
                return true
            }
        }
        func close(complete: Bool, message: String) { state.withLock { $0.closes.append((complete, message)) } }
    }

    @Test("is_cancelled of an operation that is over (never registered, completed or abandoned) is true for good: a plugin that polls stops (audit 61 ABI M2)")
    func overOperationsReadCancelled() {
        let op = HostRuntime.shared.makeOperation()
        #expect(HostRuntime.shared.isCancelled(op))
        #expect(HostRuntime.shared.isCancelled(op))
    }

    func write(_ stream: UnsafeMutablePointer<nxa_stream>, _ text: String) -> nxa_status {
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBufferPointer { stream.pointee.write(stream.pointee.ctx, $0.baseAddress, $0.count) }
    }

    func close(_ stream: UnsafeMutablePointer<nxa_stream>, _ status: nxa_status, _ message: String = "") {
        var message = message
        message.withUTF8 { text in
            text.withMemoryRebound(to: CChar.self) { stream.pointee.close(stream.pointee.ctx, status, $0.baseAddress, $0.count) }
        }
    }

    @Test("bytes reach the sink in order; close OK reports a complete stream once; length 0 does nothing")
    func complete() {
        let sink = Sink()
        let stream = HostStream(sink: sink).stream
        #expect(write(stream, "ab") == NXA_STATUS_OK)
        #expect(stream.pointee.write(stream.pointee.ctx, nil, 0) == NXA_STATUS_OK)
        #expect(write(stream, "cd") == NXA_STATUS_OK)
        close(stream, NXA_STATUS_OK)
        sink.state.withLock { state in
            #expect(String(decoding: state.bytes, as: UTF8.self) == "abcd")
            #expect(state.closes.count == 1 && state.closes[0].0)
        }
    }

    @Test("an aborted stream reaches the sink as incomplete, with the writer's message")
    func aborted() {
        let sink = Sink()
        let stream = HostStream(sink: sink).stream
        _ = write(stream, "partial")
        close(stream, NXA_STATUS_FAILED, "disk full on the host")
        sink.state.withLock { state in
            #expect(state.closes.count == 1 && !state.closes[0].0 && state.closes[0].1 == "disk full on the host")
        }
    }

    @Test("a sink that gives up makes this and every later write fail, and the close incomplete")
    func sinkGivesUp() {
        let sink = Sink(refuseAfter: 3)
        let stream = HostStream(sink: sink).stream
        #expect(write(stream, "abc") == NXA_STATUS_OK)
        #expect(write(stream, "d") == NXA_STATUS_FAILED)
        #expect(write(stream, "e") == NXA_STATUS_FAILED)
        close(stream, NXA_STATUS_OK)
        sink.state.withLock { #expect($0.closes.count == 1 && !$0.closes[0].0) }
    }

    @Test("writes for an operation that is no longer pending (abandoned) return TIMED_OUT")
    func abandoned() {
        let sink = Sink()
        let host = HostStream(sink: sink)
        host.op.store(HostRuntime.shared.makeOperation(), ordering: .relaxed)  // never registered
        #expect(write(host.stream, "late") == NXA_STATUS_TIMED_OUT)
        close(host.stream, NXA_STATUS_FAILED)
        sink.state.withLock { #expect($0.bytes.isEmpty) }
    }

    @Test("a stream the plugin did not take is closed by the host itself, once")
    func untaken() {
        let sink = Sink()
        let host = HostStream(sink: sink)
        host.abandonUntaken("refused")
        host.end(NXA_STATUS_OK, "")
        sink.state.withLock { #expect($0.closes.count == 1 && !$0.closes[0].0 && $0.closes[0].1 == "refused") }
    }

    /// A stream made the way a plugin makes one, recording what the host writer does.
    final class PluginSide: @unchecked Sendable {
        var bytes: [UInt8] = []
        var closes: [nxa_status] = []
        var refuseWith: nxa_status = NXA_STATUS_OK
        var stream = nxa_stream()
        init() {
            stream = nxa_stream(
                struct_size: UInt32(MemoryLayout<nxa_stream>.size), ctx: nil,
                write: { ctx, data, length in
                    let side = Unmanaged<PluginSide>.fromOpaque(ctx!).takeUnretainedValue()
                    if side.refuseWith != NXA_STATUS_OK { return side.refuseWith }
                    side.bytes += UnsafeBufferPointer(start: data, count: length)
                    return NXA_STATUS_OK
                },
                close: { ctx, status, _, _ in Unmanaged<PluginSide>.fromOpaque(ctx!).takeUnretainedValue().closes.append(status) })
            stream.ctx = Unmanaged.passUnretained(self).toOpaque()
        }
    }

    @Test("the host writer splits large writes into chunks of at most 1 MiB, stops at the first refusal and closes once")
    func writer() throws {
        let side = PluginSide()
        try withUnsafePointer(to: &side.stream) { pointer in
            let writer = HostStreamWriter(pointer)
            let big = [UInt8](repeating: 7, count: 3 << 20)
            try big.withUnsafeBytes { try writer.write($0) }
            #expect(side.bytes.count == 3 << 20)
            side.refuseWith = NXA_STATUS_CANCELLED
            #expect(throws: (any Error).self) { try [UInt8(1)].withUnsafeBytes { try writer.write($0) } }
            #expect(writer.refusal == NXA_STATUS_CANCELLED)
            writer.close(NXA_STATUS_CANCELLED)
            writer.close(NXA_STATUS_OK)
            #expect(side.closes == [NXA_STATUS_CANCELLED])
        }
    }
}
