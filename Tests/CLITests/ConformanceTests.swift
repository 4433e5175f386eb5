import Foundation
import Testing
import TestSupport

/// The project's own conformance files (Tests/Fixtures/conformance): together they use every key of
/// GitHub's workflow syntax that the runner supports. Each file says in its header whether it runs
/// here (`# conformance: run`) or is only validated, and what its output holds (`# expect: LINE`
/// in stdout, `# expect-stderr: TEXT` in what validate prints).
@Suite("Conformance files: every supported GitHub key validates, and runs where it can")
struct ConformanceTests {
    static let folder = packageDirectory.path + "/Tests/Fixtures/conformance/"
    static let files: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
        .filter { $0.hasSuffix(".yml") }.sorted()

    static func header(_ name: String, _ key: String) throws -> [String] {
        let text = try String(contentsOfFile: folder + name, encoding: .utf8)
        return text.split(separator: "\n").compactMap { line in
            line.hasPrefix("# \(key): ") ? String(line.dropFirst(key.count + 4)) : nil
        }
    }

    @Test("the set covers the workflow, job and step levels, the matrix, containers and reusable calls")
    func setIsComplete() {
        #expect(Self.files.count >= 6, "\(Self.files)")
    }

    @Test("validates with no error", arguments: files)
    func validates(_ name: String) async throws {
        let result = try await nixactions(["validate", name], in: Self.folder)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(!result.stderr.contains("error:"), "\(result.stderr)")
        for text in try Self.header(name, "expect-stderr") {
            #expect(result.stderr.contains(text), "missing '\(text)' in:\n\(result.stderr)")
        }
    }

    @Test("runs as GitHub would", arguments: files)
    func runs(_ name: String) async throws {
        guard try Self.header(name, "conformance").first == "run" else { return }
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let workflow = try temp.write(name, try String(contentsOfFile: Self.folder + name, encoding: .utf8))
        // The reusable workflows the files call.
        try FileManager.default.copyItem(atPath: Self.folder + ".github", toPath: temp.path + "/.github")
        let result = try await nixactions(["run", workflow], in: temp.path)
        #expect(result.status == Int32(try Self.header(name, "status").first ?? "0"), "\(result.stderr)\n\(result.stdout)")
        for line in try Self.header(name, "expect") {
            #expect(result.stdout.contains(line), "missing '\(line)' in:\n\(result.stdout)")
        }
        #expect(!result.stdout.contains("] NEVER_RAN\n"), "\(result.stdout)")
    }
}
