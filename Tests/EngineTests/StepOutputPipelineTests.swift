@testable import NixActionsEngine
import Synchronization
import Testing

@Suite("The step output pipeline: commands, redaction, lines, bytes")
struct StepOutputPipelineTests {
    /// Collects what reporters would see: output chunks (bytes and line counts) and events.
    final class Collect: RunReporter, Sendable {
        let chunks = Mutex<[(stream: Int32, bytes: [UInt8], lines: Int)]>([])
        let events = Mutex<[RunEvent]>([])
        func report(_ event: RunEvent) { events.withLock { $0.append(event) } }
        func output(_ chunk: OutputChunk) { chunks.withLock { $0.append((chunk.stream, Array(chunk.bytes), chunk.lines)) } }
        func bytes(_ stream: Int32) -> [UInt8] { chunks.withLock { $0.filter { $0.stream == stream }.flatMap(\.bytes) } }
        func text(_ stream: Int32) -> String { String(decoding: bytes(stream), as: UTF8.self) }
        var lines: [String] {
            chunks.withLock { chunks in
                chunks.flatMap { chunk -> [String] in
                    var lines: [String] = []
                    chunk.bytes.withUnsafeBytes { raw in
                        OutputChunk(job: "j", step: 0, stream: chunk.stream, bytes: raw, lines: chunk.lines)
                            .forEachLine { lines.append("\(chunk.stream):" + String(decoding: $0, as: UTF8.self)) }
                    }
                    return lines
                }
            }
        }
    }

    func feed(_ pipeline: StepOutputPipeline, _ text: String, stream: Int32 = 1, sizes: ClosedRange<Int> = 1...1, seed: UInt64 = 1) {
        let bytes = Array(text.utf8)
        var generator = ExprSplitMix64(seed: seed)
        var index = 0
        while index < bytes.count {
            let size = Int.random(in: sizes, using: &generator)
            Array(bytes[index..<min(bytes.count, index + size)]).withUnsafeBytes { pipeline.write(stream: stream, $0) }
            index += size
        }
    }

    @Test("chunks split anywhere, even inside a UTF-8 sequence, reach reporters as whole lines per stream")
    func wholeLines() {
        let collect = Collect()
        let pipeline = StepOutputPipeline(job: "j", step: 0, reporter: collect, redactor: Redactor())
        feed(pipeline, "héllo\nwörld\r\npartial")
        feed(pipeline, "err\n", stream: 2)
        #expect(collect.lines == ["1:héllo", "1:wörld", "2:err"])
        pipeline.finish()
        #expect(collect.lines == ["1:héllo", "1:wörld", "2:err", "1:partial"])
        // The bytes are exactly what was written (the carriage return too; no newline added).
        #expect(collect.text(1) == "héllo\nwörld\r\npartial")
    }

    @Test("a line longer than 64 KiB goes on in pieces of 64 KiB, losing no byte")
    func longLine() {
        let collect = Collect()
        let pipeline = StepOutputPipeline(job: "j", step: 0, reporter: collect, redactor: Redactor())
        let long = String(repeating: "x", count: 150_000)
        feed(pipeline, long + "\nnext\n", sizes: 1...40_000)
        pipeline.finish()
        let sizes = collect.chunks.withLock { $0.map(\.bytes.count) }
        #expect(sizes.prefix(2) == [OutputChunk.maxLine, OutputChunk.maxLine])
        #expect(collect.text(1) == long + "\nnext\n")
        #expect(sizes.allSatisfy { $0 <= OutputChunk.maxLine + 5 })
    }

    @Test("workflow commands: ::add-mask:: masks from the next line, even in the same write; others pass unchanged")
    func commands() {
        let collect = Collect()
        let pipeline = StepOutputPipeline(job: "j", step: 0, reporter: collect, redactor: Redactor())
        let text = "before hunter22x\n::add-mask::hunter22x\nafter hunter22x\n  indented\n::unknown::\u{FF}kept\n::error file=a.c::bad hunter22x\n"
        for sizes in [1...1, 1...7, 1000...1000] {
            let collect = Collect()
            let pipeline = StepOutputPipeline(job: "j", step: 0, reporter: collect, redactor: Redactor(), idleFlush: false)
            feed(pipeline, text, sizes: sizes)
            pipeline.finish()
            #expect(collect.text(1) == "before hunter22x\nafter ***\n  indented\n::unknown::\u{FF}kept\n", "sizes \(sizes)")
            let annotations = collect.events.withLock { $0.compactMap { event -> String? in
                if case .annotation(let annotation) = event { return annotation.message } else { return nil }
            } }
            #expect(annotations == ["bad hunter22x"])  // redacted by the RedactingReporter in front of the sinks
        }
        _ = pipeline
    }

    @Test("a secret split across any write boundary is masked (1,000 random splits)")
    func writeBoundaries() {
        let secret = "correct-horse-battery-staple"
        for seed in 0..<1_000 {
            let redactor = Redactor()
            redactor.add(secret)
            let collect = Collect()
            let pipeline = StepOutputPipeline(job: "j", step: 0, reporter: collect, redactor: redactor, idleFlush: false)
            feed(pipeline, "before \(secret) after\nnext \(secret)\n\(secret)", sizes: 1...9, seed: UInt64(seed))
            pipeline.finish()
            #expect(collect.text(1) == "before *** after\nnext ***\n***")
        }
    }
}
