import ArgumentParser
import Foundation
import NixActionsEngine

struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check workflows and report every problem with its file:line:column."
    )

    @Argument(help: "Workflow files or names.")
    var workflows: [String]

    func run() async throws {
        var failed = false
        for reference in workflows {
            switch WorkflowLocator.locate(reference) {
            case .failure(let diagnostic):
                standardError(diagnostic.description + "\n")
                failed = true
            case .success(let path):
                let result = WorkflowLoader.load(file: path)
                for diagnostic in result.diagnostics { standardError(diagnostic.description + "\n") }
                for item in result.workflow?.unsupported ?? [] {
                    let at = item.location.map { "\($0): " } ?? ""
                    standardError("\(at)warning: \(item.value) is not supported by this version of nixactions yet; 'run' will refuse it\n")
                }
                if result.hasErrors {
                    failed = true
                } else {
                    print("\(path): valid")
                }
            }
        }
        if failed { throw ExitCode(ExitStatus.usage) }
    }
}
