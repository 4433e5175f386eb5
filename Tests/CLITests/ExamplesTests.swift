import Foundation
import Testing
import TestSupport

@Suite("Every example in examples/ runs as documented")
struct ExamplesTests {
    @Test("examples/01-basic: lint and test, then package")
    func basic() throws {
        let result = try nixactions(["run", "examples/01-basic/workflow.yml"], in: packageDirectory.path)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains("[lint] hello from lint\n"))
        #expect(result.stdout.contains("[test] running tests in workspace\n"))
        #expect(result.stdout.contains("[test] tests said ok\n"))
        #expect(result.stdout.contains("[package] packaging app.tar after lint and test\n"))
        #expect(result.stdout.contains("==> workflow 'basic' succeeded in "))
        #expect(result.stdout.hasSuffix("\n") && result.stdout.contains("\nlogs: .nixactions/runs/"))
    }
}
