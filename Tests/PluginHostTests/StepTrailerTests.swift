import Foundation
import NixActionsProcessKit
import Testing
import TestSupport

@Suite("StepTrailer: a step's output over ssh, then its files and status after a marker")
struct StepTrailerTests {
    static let key = "NIXACTIONS_0123abcd"

    /// Feed `text` in chunks of `size`, then finish.
    func split(_ text: String, chunk size: Int) -> (output: String, files: [String: String], status: Int32?) {
        var trailer = StepTrailer(key: Self.key)
        var output: [UInt8] = []
        let bytes = Array(text.utf8)
        var index = 0
        while index < bytes.count {
            let end = min(index + size, bytes.count)
            output += bytes[index..<end].withUnsafeBytes { trailer.feed($0) }
            index = end
        }
        let finished = trailer.finish()
        return (String(decoding: output + finished.output, as: UTF8.self), finished.files, finished.status)
    }

    @Test("output, files and status come apart exactly, however the stream is cut", arguments: [1, 2, 7, 64, 100_000])
    func apart(chunk: Int) {
        // Output that ends without a line break, holds a near-miss of the marker, and files with
        // line breaks (the content's own last line break is kept).
        let output = "line one\n\(Self.key.dropLast())X not a marker\nNIXACTIONS_ alone\nno newline at the end"
        let stream = output
            + "\(Self.key) file GITHUB_ENV\nA=1\nB=two words\n"
            + "\(Self.key) file GITHUB_OUTPUT\nvalue=42"
            + "\(Self.key) end 7\n"
        let result = split(stream, chunk: chunk)
        #expect(result.output == output)
        #expect(result.files == ["GITHUB_ENV": "A=1\nB=two words\n", "GITHUB_OUTPUT": "value=42"])
        #expect(result.status == 7)
    }

    @Test("a complete line is passed on at once, not held back for the marker")
    func linesAtOnce() {
        var trailer = StepTrailer(key: Self.key)
        let passed = Array("started\n".utf8).withUnsafeBytes { trailer.feed($0) }
        #expect(String(decoding: passed, as: UTF8.self) == "started\n")
        // Only an ending that may begin the key waits.
        let partial = Array("x NIXACTIONS_01".utf8).withUnsafeBytes { trailer.feed($0) }
        #expect(String(decoding: partial, as: UTF8.self) == "x ")
        let rest = Array("23 no\n".utf8).withUnsafeBytes { trailer.feed($0) }
        #expect(String(decoding: rest, as: UTF8.self) == "NIXACTIONS_0123 no\n")
    }

    @Test("without a trailer (the connection broke) everything is output and there is no status")
    func noTrailer() {
        let result = split("partial output\n\(Self.key.prefix(5))", chunk: 3)
        #expect(result.output == "partial output\n\(Self.key.prefix(5))")
        #expect(result.status == nil)
        #expect(result.files.isEmpty)
    }

    @Test("the wrapper's lines print a trailer that a real shell and StepTrailer agree on")
    func realShell() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("trailer-\(getpid())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "x=1\ny=it's\n".write(toFile: folder + "/out", atomically: true, encoding: .utf8)
        FileManager.default.createFile(atPath: folder + "/empty", contents: Data())
        let lines = ["echo 'step output'; code=3"]
            + StepTrailer.lines(key: Self.key, captures: [("GITHUB_OUTPUT", folder + "/out"), ("GITHUB_ENV", folder + "/empty"),
                                                          ("GITHUB_PATH", folder + "/missing")])
        let run = try runCommandBlocking(URL(fileURLWithPath: "/bin/sh"), ["-c", lines.joined(separator: "\n")])
        let result = split(run.stdout, chunk: 5)
        #expect(result.output == "step output\n")
        #expect(result.files == ["GITHUB_OUTPUT": "x=1\ny=it's\n"])  // empty and missing files are not sent
        #expect(result.status == 3)
    }

    @Test("a file over the size limit: the trailer carries at most the limit and one byte of it, so the host refuses it without taking it all in (audit 66 remote H2)")
    func largeFileCut() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("trailer-large-\(getpid())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try Data(repeating: UInt8(ascii: "a"), count: FastFiles.captureLimit + 5000).write(to: URL(fileURLWithPath: folder + "/env"))
        let lines = ["code=0"] + StepTrailer.lines(key: Self.key, captures: [("GITHUB_ENV", folder + "/env")])
        let run = try runCommandBlocking(URL(fileURLWithPath: "/bin/sh"), ["-c", lines.joined(separator: "\n")])
        let result = split(run.stdout, chunk: 65536)
        #expect(result.files["GITHUB_ENV"]?.utf8.count == FastFiles.captureLimit + 1)
        #expect(result.status == 0)
        #expect(!FileManager.default.fileExists(atPath: folder + "/env"))
    }

    @Test("a wrapper with a trailer outlives a cancel's SIGTERM to its group: the trailer reports the files, the status is the step's, and the shell says nothing about it on the step's stderr (review 51)")
    func cancelledWrapper() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("trailer-cancel-\(getpid())").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try "echo started >&2\necho 'id=42' >> \"$GITHUB_OUTPUT\"\nsleep 30\n".write(toFile: folder + "/step.sh", atomically: true, encoding: .utf8)
        let trailer = StepTrailer.lines(key: Self.key, captures: [("GITHUB_OUTPUT", folder + "/out")])
        let wrapper = StepWrapper.render(shell: ["sh", "-e", "{0}"], script: folder + "/step.sh", environment: ["GITHUB_OUTPUT": folder + "/out"],
                                         pathPrepend: [], pidFile: folder + "/pid", directory: folder, preamble: [": > '\(folder)/out'"],
                                         trailer: trailer)
        try wrapper.write(toFile: folder + "/wrapper.sh", atomically: true, encoding: .utf8)
        let out = try ChildPipe(), err = try ChildPipe()
        let process = try LaunchedProcess(["/usr/bin/setsid", "/bin/sh", folder + "/wrapper.sh"],
                                          environment: ProcessInfo.processInfo.environment, output: out.writing, errors: err.writing)
        out.closeChildEnd()
        err.closeChildEnd()
        var waited = 0
        while ((try? String(contentsOfFile: folder + "/out", encoding: .utf8)) ?? "").isEmpty && waited < 200 {
            usleep(20_000)
            waited += 1
        }
        let recorded = ((try? String(contentsOfFile: folder + "/pid", encoding: .utf8)) ?? "").split(whereSeparator: { $0 == " " || $0 == "\n" })
        let pid = try #require(Int32(recorded.first ?? ""))
        kill(-pid, SIGTERM)
        let data = out.reading.readDataToEndOfFile()
        let errors = String(decoding: err.reading.readDataToEndOfFile(), as: UTF8.self)
        process.wait()
        let result = split(String(decoding: data, as: UTF8.self), chunk: 7)
        #expect(result.files == ["GITHUB_OUTPUT": "id=42\n"], "\(result)")
        #expect(result.status == 143, "\(result)")
        #expect(errors == "started\n", "\(errors.debugDescription)")
    }
}
