import ArgumentParser
import Foundation
import NixActionsEngine

struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the project's workflows (.nixactions/workflows, .github/workflows) and their jobs."
    )

    @Argument(help: "Only this workflow (a file or a name).", completion: .file())
    var workflow: String?

    @Flag(help: "Print JSON.")
    var json = false

    @Option(name: .customLong("config"), help: "The project's configuration file (default: .nixactions/config.yml, if present).", completion: .file(extensions: ["yml", "yaml"]))
    var config: String?

    struct Listing: Encodable {
        struct JobEntry: Encodable {
            var id: String
            var name: String
            var needs: [String]
            var executor: String
            var matrix: Bool
        }
        var name: String
        var file: String
        var jobs: [JobEntry]?
        var errors: [String]?
    }

    func run() async throws {
        let directory = FileManager.default.currentDirectoryPath
        var files: [String] = []
        if let workflow {
            switch WorkflowLocator.locate(workflow) {
            case .success(let path): files = [path]
            case .failure(let diagnostic):
                standardError(diagnostic.description + "\n")
                throw ExitCode(ExitStatus.usage)
            }
        } else {
            for folder in WorkflowLocator.folders {
                let path = directory + "/" + folder
                let names = ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
                    .filter(WorkflowLocator.isWorkflowFile)
                // A name that is not UTF-8 reads back with U+FFFD and cannot be opened by it: said,
                // and left out (audit 51: it failed the whole listing as "no such file").
                let unreadable = Set(names.filter { WorkflowLocator.isNotUTF8(name: $0, in: path) })
                for name in names where unreadable.contains(name) {
                    standardError("warning: \(folder)/\(DisplayText.escaped(name)) is left out: its name is not UTF-8 text\n  hint: rename the file\n")
                }
                files += names.filter { !unreadable.contains($0) }.map { folder + "/" + $0 }
            }
        }
        let runners = try RunnerOptions.loadConfig(config).runners
        var listings: [Listing] = []
        var loaded: [Workflow] = []
        for file in files {
            let result = NixEvaluation.load(file: file, functionArities: nil)
            guard let workflow = result.workflow, !result.hasErrors else {
                if let partial = result.workflow { loaded.append(partial) }
                let errors = result.diagnostics.filter { $0.severity == .error }.map(\.description)
                // Named as validate's messages name it (`in workflow 'ci'`), not by its file name (audit 64 cli L16).
                let name = result.workflow?.name ?? ((file as NSString).lastPathComponent as NSString).deletingPathExtension
                listings.append(Listing(name: name, file: file, jobs: nil, errors: errors))
                continue
            }
            loaded.append(workflow)
            listings.append(Listing(name: workflow.name, file: file, jobs: workflow.jobs.map {
                .init(id: $0.id, name: $0.displayName, needs: $0.needs.map(\.value),
                      executor: Self.executors(of: $0, in: workflow, runners: runners), matrix: $0.strategy?.matrix != nil)
            }, errors: nil))
        }
        // Masked as a dry run masks: a declared secret's value the environment holds, written
        // into a name (audit 58 secrets L1).
        let mask = WorkflowInput.masker(loaded)
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(mask(String(decoding: try encoder.encode(listings), as: UTF8.self)))
        } else if listings.isEmpty {
            print("no workflows in .nixactions/workflows/ or .github/workflows/")
        } else {
            var text = ""
            for listing in listings {
                text += "\(DisplayText.escaped(listing.name)) (\(DisplayText.escaped(listing.file)))\n"
                for error in listing.errors ?? [] {
                    // One line: the diagnostic's first paragraph (a Nix error's quoted code and
                    // caret lines, after a blank line, are left out: Nix audit 58 L6).
                    let paragraph = error.split(separator: "\n", omittingEmptySubsequences: false).prefix { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
                    text += "  invalid: " + paragraph.map { $0.trimmingCharacters(in: .whitespaces) }.joined(separator: " ") + "\n"
                }
                for job in listing.jobs ?? [] {
                    let needs = job.needs.isEmpty ? "" : "  needs: \(job.needs.joined(separator: ", "))"
                    text += "  \(job.id)\(job.matrix ? " (matrix)" : "")  executor: \(job.executor)\(needs)\n"
                }
            }
            print(mask(text), terminator: "")
        }
        if listings.contains(where: { $0.errors != nil }) { throw ExitCode(ExitStatus.usage) }
    }

    /// Which executor runs `job` (each different one of its matrix instances, in order).
    static func executors(of job: Job, in workflow: Workflow, runners: RunnerMap) -> String {
        if let call = job.call { return "calls \(call.uses.value)" }
        let instances = (try? Planner.expand(job, workflow: workflow, contexts: Planner.staticContexts(workflow)).get()) ?? []
        if instances.isEmpty { return RunnerMap.describe(nil) }
        var seen: [String] = []
        for instance in instances {
            let text = RunnerMap.describe(runners.plannedChoice(for: job, instance: instance, workflow: workflow))
            if !seen.contains(text) { seen.append(text) }
        }
        return seen.joined(separator: "; ")
    }
}
