import ArgumentParser
import Foundation
import NixActionsEngine
import NixActionsPluginHost

struct ValidateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check workflows and report every problem with its file:line:column.",
        discussion: "Exit status: 0 when every workflow is valid (warnings do not fail), 2 otherwise."
    )

    @Argument(help: "Workflow files or names.")
    var workflows: [String]

    func run() async throws {
        var failed = false
        // Plugins are loaded only if an expression calls a function that is not built in.
        let functions = FunctionArities { PluginRegistry.discoverWarning().functions.arities }
        for reference in workflows {
            do {
                // Unsupported constructs are warnings among the other diagnostics.
                let workflow = try WorkflowInput.load(reference, notes: true, functions: functions)
                // Left for the exit to free when the executable runs this command (`FreeAtExit`).
                FreeAtExit.keep(workflow)
                print("\(workflow.file): valid")
            } catch {
                failed = true
            }
        }
        if failed { throw ExitCode(ExitStatus.usage) }
    }
}
