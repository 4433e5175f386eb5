import Foundation
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

    @Test("a line left without its newline goes on as a piece after a second of quiet; a whole line whose end the redactor holds is never split (audit 54 M4)")
    func quietPartialLine() {
        let collect = Collect()
        let redactor = Redactor()
        let secret = "correct horse battery staple, and more words to make it long enough"
        #expect(redactor.add(secret))
        let pipeline = StepOutputPipeline(job: "j", step: 0, reporter: collect, redactor: redactor, idleFlush: false)
        feed(pipeline, "prompt> ")
        for _ in 0..<StepOutputPipeline.partialLineTicks { pipeline.flushIdle() }
        #expect(collect.chunks.withLock { $0.map(\.lines) } == [0], "the partial line went on as a piece")
        #expect(collect.text(1) == "prompt> ")
        // A line ending in the start of the secret's base64 (which wraps across lines): the
        // redactor holds its end, so the line stays whole through the quiet.
        let base64 = String(Data(secret.utf8).base64EncodedString().prefix(8))
        feed(pipeline, "answer\nvalue=" + base64 + "\n")
        for _ in 0..<(2 * StepOutputPipeline.partialLineTicks) { pipeline.flushIdle() }
        pipeline.finish()
        #expect(collect.lines == ["1:prompt> ", "1:answer", "1:value=" + base64], "\(collect.lines)")
    }

    @Test("a partial line ending in # (a progress bar) goes on after a second of quiet, but for the last two #, which may begin ##[; a ##[ command after the pause is still one (audit 61 L2)")
    func quietPartialLineWithHashes() {
        let collect = Collect()
        let pipeline = StepOutputPipeline(job: "j", step: 0, reporter: collect, redactor: Redactor(), idleFlush: false)
        feed(pipeline, "compiling [#####")
        for _ in 0..<StepOutputPipeline.partialLineTicks { pipeline.flushIdle() }
        #expect(collect.text(1) == "compiling [###", "\(collect.text(1).debugDescription)")
        feed(pipeline, "] done\nx ##")
        for _ in 0..<StepOutputPipeline.partialLineTicks { pipeline.flushIdle() }
        feed(pipeline, "[warning]careful\n")
        pipeline.finish()
        #expect(collect.text(1) == "compiling [#####] done\nx \n", "\(collect.text(1).debugDescription)")
        let annotations = collect.events.withLock { $0.compactMap { event -> String? in
            if case .annotation(let annotation) = event { return annotation.message } else { return nil }
        } }
        #expect(annotations == ["careful"], "\(annotations)")
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

    @Test("a long line that ends inside one write goes in pieces too, among whole lines; a piece never cuts a UTF-8 character, nor does a quiet flush (audit 66 output L1, L2)")
    func longLinesInOneWrite() {
        let collect = Collect()
        let pipeline = StepOutputPipeline(job: "j", step: 0, reporter: collect, redactor: Redactor(), idleFlush: false)
        // One write: short lines, a 200,000-byte line, short lines; then a line whose piece ends in "é".
        let long = String(repeating: "b", count: 200_000)
        let accented = String(repeating: "a", count: OutputChunk.maxLine - 1) + "é" + "tail"
        let text = "one\ntwo\n" + long + "\nthree\n" + accented + "\n"
        Array(text.utf8).withUnsafeBytes { pipeline.write(stream: 1, $0) }
        // A character whose bytes come a second apart: the quiet flush keeps its first byte back.
        feed(pipeline, "x")
        [UInt8(0xC3)].withUnsafeBytes { pipeline.write(stream: 1, $0) }
        for _ in 0..<StepOutputPipeline.partialLineTicks { pipeline.flushIdle() }
        [UInt8(0xA9), UInt8(ascii: "y"), UInt8(ascii: "\n")].withUnsafeBytes { pipeline.write(stream: 1, $0) }
        pipeline.finish()
        let chunks = collect.chunks.withLock { $0 }
        #expect(collect.text(1) == text + "xéy\n", "no byte lost or added")
        #expect(chunks.allSatisfy { $0.bytes.count <= OutputChunk.maxLine + 1 }, "\(chunks.map(\.bytes.count))")
        // Every piece is valid UTF-8 on its own.
        #expect(chunks.allSatisfy { String(validating: $0.bytes, as: UTF8.self) != nil }, "\(chunks.map { $0.bytes.suffix(3) })")
        #expect(chunks.first?.bytes == Array("one\ntwo\n".utf8) && chunks.first?.lines == 2, "the short lines before it stay one chunk")
        #expect(collect.lines.contains("1:three") && collect.lines.filter { $0.hasPrefix("1:b") }.count == 4, "\(collect.lines.map { $0.prefix(8) })")
    }

    @Test("annotations within GitHub's limits (10 of a kind per step, 50 per job) are recorded; the rest are output lines, said once per step (audit 66 hardening M2)")
    func annotationLimits() {
        let collect = Collect()
        let budget = AnnotationBudget()
        let first = StepOutputPipeline(job: "j", step: 0, reporter: collect, redactor: Redactor(), idleFlush: false, annotations: budget)
        feed(first, (1...15).map { "::warning title=T::w\($0)\n" }.joined() + (1...3).map { "::error::e\($0)\n" }.joined(), sizes: 1...200)
        first.finish()
        func annotations() -> [String] {
            collect.events.withLock { $0.compactMap { if case .annotation(let a) = $0 { return "\(a.step):\(a.kind.rawValue):\(a.message)" } else { return nil } } }
        }
        func warnings() -> [String] {
            collect.events.withLock { $0.compactMap { if case .message(_, .warning, let text) = $0 { return text } else { return nil } } }
        }
        #expect(annotations() == (1...10).map { "0:warning:w\($0)" } + (1...3).map { "0:error:e\($0)" }, "\(annotations())")
        #expect(collect.text(1) == (11...15).map { "warning: T: w\($0)\n" }.joined(), "\(collect.text(1).debugDescription)")
        #expect(warnings() == ["more than 10 warning annotations in this step, or 50 in the job: the rest are output lines, as GitHub keeps at most that many"])
        // Later steps of the job: 37 more at most (50 in all).
        for step in 1...5 {
            let pipeline = StepOutputPipeline(job: "j", step: step, reporter: collect, redactor: Redactor(), idleFlush: false, annotations: budget)
            feed(pipeline, (1...10).map { "::notice::n\($0)\n" }.joined(), sizes: 1...200)
            pipeline.finish()
        }
        #expect(annotations().count == 50, "\(annotations().count)")
        // Once for each step that went over: the first (warnings), the fifth (the job's 50th) and the sixth.
        #expect(warnings().count == 3, "\(warnings())")
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

    @Test("GitHub's older ##[NAME]DATA form is a command anywhere in a line and names are matched without case: a value masked from the next line, whatever the write boundaries (500 random splits)")
    func legacyCommands() {
        let text = "progress 50% ##[add-mask]legacy-secret-1\nshown legacy-secret-1 and zzSecretUpper2\n::ADD-MASK::zzSecretUpper2\n"
            + "  ##[Warning file=a.c;line=4]care%3Bful\nplain ## not [a command\n##[notacommand]x\n#\n##\n####[add-mask]hashes-secret3\nzzSecretUpper2 legacy-secret-1 hashes-secret3\n"
        for seed in 0..<500 {
            let collect = Collect()
            let pipeline = StepOutputPipeline(job: "j", step: 0, reporter: collect, redactor: Redactor(), idleFlush: false)
            feed(pipeline, text, sizes: seed < 20 ? 1...1 : 1...11, seed: UInt64(seed))
            pipeline.finish()
            // A command line is hidden whole, as GitHub hides it; what of it an earlier write
            // brought was shown already (then its line ends there). Nothing of a value leaks.
            let text = collect.text(1)
            for part in ["shown *** and zzSecretUpper2\n", "\nplain ## not [a command\n##[notacommand]x\n#\n##\n"] {
                #expect(text.contains(part), "seed \(seed): \(text.debugDescription)")
            }
            #expect(text.hasSuffix("\n*** *** ***\n"), "seed \(seed): \(text.debugDescription)")
            for never in ["legacy-secret-1", "hashes-secret3", "add-mask", "ADD-MASK", "Warning", "care"] {
                #expect(!text.contains(never), "seed \(seed): \(text.debugDescription)")
            }
            let annotations = collect.events.withLock { $0.compactMap { event -> String? in
                if case .annotation(let annotation) = event { return "\(annotation.kind) \(annotation.file ?? "-"):\(annotation.line ?? 0) \(annotation.message)" }
                return nil
            } }
            #expect(annotations == ["warning a.c:4 care;ful"], "seed \(seed)")
        }
        // Written at once, each command line is hidden whole (GitHub hides the line).
        let collect = Collect()
        let pipeline = StepOutputPipeline(job: "j", step: 0, reporter: collect, redactor: Redactor(), idleFlush: false)
        feed(pipeline, text, sizes: 100_000...100_000)
        pipeline.finish()
        #expect(collect.text(1) == "shown *** and zzSecretUpper2\nplain ## not [a command\n##[notacommand]x\n#\n##\n*** *** ***\n")
    }

    @Test("::set-output, ::save-state, ::set-env, ::add-path and ::echo as GitHub's runner has them: results for the step, the disabled ones failures unless the step's env allows them")
    func olderCommands() {
        let text = "::set-output name=version::1.2%0A3\n::save-state name=pid::42\n::set-env name=FOO::bar\n::add-path::/opt/x\n"
            + "::set-output::no name\n::echo::on\n::set-output name=b::2\n::add-mask::hushhush\n::add-mask::  \n::debug::d\n::echo::off\n"
            + "::add-mask::quietly\n::echo::maybe\n::stop-commands::\n"
        let collect = Collect()
        let pipeline = StepOutputPipeline(job: "j", step: 0, reporter: collect, redactor: Redactor(), idleFlush: false)
        feed(pipeline, text, sizes: 1...1000)
        pipeline.finish()
        let results = pipeline.commandResults
        #expect(results.outputs.map { "\($0.0)=\($0.1)" } == ["version=1.2\n3", "b=2"])
        #expect(results.state.map { "\($0.0)=\($0.1)" } == ["pid=42"])
        #expect(results.env.isEmpty && results.path.isEmpty)
        #expect(results.failures.count == 5, "\(results.failures)")
        #expect(results.failures.first?.contains("The `set-env` command is disabled") == true)
        #expect(results.failures.contains { $0.contains("Invalid echo command value") })
        #expect(results.failures.last?.contains("You cannot use a endToken that is an empty string") == true)
        // add-mask shows as GitHub's runner shows it (its value masked; nothing for a blank one).
        #expect(collect.text(1) == "::set-output name=b::2\n::add-mask::***\n::echo::off\n", "echo on shows command lines")
        let warnings = collect.events.withLock { $0.compactMap { event -> String? in
            if case .message(_, .warning, let text) = event { return text } else { return nil }
        } }
        #expect(warnings.filter { $0.contains("deprecated") }.count == 2, "one warning per command: \(warnings)")

        let allowed = StepOutputPipeline(job: "j", step: 0, reporter: Collect(), redactor: Redactor(),
                                         environment: ["ACTIONS_ALLOW_UNSECURE_COMMANDS": "true"], idleFlush: false)
        feed(allowed, "::set-env name=FOO::bar\n##[add-path]/opt/y\n", sizes: 1...1000)
        allowed.finish()
        #expect(allowed.commandResults.env.map { "\($0.0)=\($0.1)" } == ["FOO=bar"])
        #expect(allowed.commandResults.path == ["/opt/y"])
        #expect(allowed.commandResults.failures.isEmpty)
    }

    @Test("a line that only looks like a command (##[ or :: with a name GitHub does not register) is shown whole, however long; a CR starts a new line for commands (a progress bar before ::add-mask::)")
    func notCommands() {
        let long = String(repeating: "d", count: 3 * (1 << 20))
        let text = "data ##[notacommand " + long + "\n::nope::" + long + "\nprogress 10%\rprogress 99%\r::add-mask::CrSecret10\nusing CrSecret10\n"
        for sizes in [1000...70_000, 65_536...65_536] {
            let collect = Collect()
            let pipeline = StepOutputPipeline(job: "j", step: 0, reporter: collect, redactor: Redactor(), idleFlush: false)
            feed(pipeline, text, sizes: sizes)
            pipeline.finish()
            #expect(collect.text(1) == "data ##[notacommand " + long + "\n::nope::" + long + "\nprogress 10%\rprogress 99%\r\nusing ***\n")
            let warnings = collect.events.withLock { $0.filter { if case .message(_, .warning, _) = $0 { true } else { false } } }
            #expect(warnings.isEmpty, "\(warnings)")
        }
    }

    @Test("a CR ends a line for commands as in GitHub's runner: at a write's end, inside a line that starts with spaces, after a command (the rest is a line of its own)")
    func carriageReturns() {
        let cases: [([String], String)] = [
            (["progress 50%\r", "::add-mask::SecretCR01\nA: SecretCR01\n"], "progress 50%\r\nA: ***\n"),
            (["  50%\r::add-mask::SecretCR02\nB: SecretCR02\n"], "  50%\r\nB: ***\n"),
            (["::add-mask::SecretCR03\rmore\nC: SecretCR03\n"], "more\nC: ***\n"),
            (["  5%\r", "::add-mask::SecretCR04\nD: SecretCR04\n"], "  5%\r\nD: ***\n"),
            (["::add-mask::SecretCR05\r", "\nE: SecretCR05\n"], "E: ***\n"),
            (["::add-mask::SecretCR06\r", "F: SecretCR06\n"], "F: ***\n"),
            (["plain\r\nline\r\n", "  x\r\n"], "plain\r\nline\r\n  x\r\n"),
            // `##[` earlier in the line: a lone CR after it still ends the line (audit 61 H1).
            (["progress ##[x] 10%\r::add-mask::SecretCR07\r\nG: SecretCR07\n"], "progress ##[x] 10%\r\nG: ***\n"),
            (["a ##[b\r::add-mask::SecretCR08\nH: SecretCR08\n"], "a ##[b\r\nH: ***\n"),
            (["##[warning]careful\r::add-mask::SecretCR09\nI: SecretCR09\n"], "I: ***\n"),
            (["x ##[y\r", "::add-mask::SecretCR10\nJ: SecretCR10\n"], "x ##[y\r\nJ: ***\n"),
            (["x ##[y\r", "\nK ##[z\r\n"], "x ##[y\r\nK ##[z\r\n"),
        ]
        for (writes, expected) in cases {
            let collect = Collect()
            let pipeline = StepOutputPipeline(job: "j", step: 0, reporter: collect, redactor: Redactor(), idleFlush: false)
            for write in writes { Array(write.utf8).withUnsafeBytes { pipeline.write(stream: 1, $0) } }
            pipeline.finish()
            #expect(collect.text(1) == expected, "\(writes): \(collect.text(1).debugDescription)")
        }
        // The annotation of `##[warning]…\r…` is the text before the CR; what follows is a line of its own.
        let collect = Collect()
        let pipeline = StepOutputPipeline(job: "j", step: 0, reporter: collect, redactor: Redactor(), idleFlush: false)
        feed(pipeline, "##[warning]careful\r::error::after the CR\n", sizes: 1...5)
        pipeline.finish()
        let annotations = collect.events.withLock { $0.compactMap { event -> String? in
            if case .annotation(let annotation) = event { return annotation.message } else { return nil }
        } }
        #expect(annotations == ["careful", "after the CR"], "\(annotations)")
    }
}
