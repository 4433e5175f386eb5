import ArgumentParser
import Foundation
import NixActionsEngine
import NixActionsPluginHost

struct PluginsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins",
        abstract: "Inspect the plugins this nixactions can load.",
        subcommands: [ListPlugins.self, InstallPlugins.self]
    )

    struct InstallPlugins: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "install",
            abstract: "Install plugin libraries into a plugin folder and record their SHA-256.",
            discussion: """
                Each file is loaded first (a file that is not a compatible plugin is refused), then copied to \
                FOLDER/libnixactions-plugin-ID.so and its hash recorded in FOLDER/nixactions-plugins.sha256. \
                In a folder with that record, a plugin that changed or is not listed is refused when loading.
                """
        )

        @Argument(help: "Plugin libraries (.so) to install.", completion: .file(extensions: ["so"]))
        var files: [String]

        @Option(name: .customLong("dir"), help: "The plugin folder (default: ~/.local/lib/nixactions/plugins).", completion: .directory)
        var directory: String?

        func run() async throws {
            let home = ProcessInfo.processInfo.environment["HOME"] ?? FileManager.default.homeDirectoryForCurrentUser.path
            let folder = directory ?? home + "/.local/lib/nixactions/plugins"
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
            // A folder the loader would refuse (others can write it or a folder above it) gets
            // nothing: its plugins would never load (audit 66 hardening L4: installed, then skipped).
            if let problem = TrustedCode.folderOnly(folder) {
                standardError("error: \(folder) is not a trusted plugin folder: \(problem); nothing installed\n"
                              + "  hint: use a folder only you (or root) can write, such as the default ~/.local/lib/nixactions/plugins\n")
                throw ExitCode(ExitStatus.usage)
            }
            var manifest = PluginManifest.read(in: folder) ?? PluginManifest()
            if let unreadable = manifest.unreadable {
                // Writing a new record would drop every plugin the old one lists.
                standardError("error: \(folder): \(unreadable)\n")
                throw ExitCode(ExitStatus.usage)
            }
            var failed = false
            for file in files {
                switch PluginLoader.load(file) {
                case .failure(let refusal):
                    standardError("error: \(file) is not installed: \(refusal.reason)\n")
                    failed = true
                case .success(let plugin):
                    let name = PluginLoader.filePrefix + plugin.id + PluginLoader.fileSuffix
                    let destination = folder + "/" + name
                    try? FileManager.default.removeItem(atPath: destination)
                    try FileManager.default.copyItem(atPath: file, toPath: destination)
                    try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: destination)
                    guard let hash = FileDigest.sha256Hex(of: destination) else {
                        standardError("error: cannot read \(destination) back\n")
                        failed = true
                        continue
                    }
                    manifest.entries[name] = hash
                    print("installed \(plugin.id) \(plugin.version) (ABI \(plugin.abiMajor).\(plugin.abiMinor)) as \(destination)\n  sha256 \(hash)")
                }
            }
            try manifest.write(in: folder)
            let unlisted = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter {
                $0.hasPrefix(PluginLoader.filePrefix) && $0.hasSuffix(PluginLoader.fileSuffix) && manifest.entries[$0] == nil
            }
            for name in unlisted.sorted() {
                standardError("warning: \(folder)/\(name) was not installed with 'nixactions plugins install' and will be refused\n")
            }
            if failed { throw ExitCode(ExitStatus.usage) }
        }
    }

    struct ListPlugins: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List the plugins found (id, kind, version, ABI, path) and the files refused, with why."
        )

        @Flag(help: "Print JSON.")
        var json = false

        @Option(name: .customLong("config"), help: "The project's configuration file (default: .nixactions/config.yml, if present).", completion: .file(extensions: ["yml", "yaml"]))
        var config: String?

        func run() async throws {
            let registry = PluginRegistry.discover()
            let runners = try RunnerOptions.loadConfig(config).runners
            if json {
                print(try Self.json(registry, runners: runners))
            } else {
                print(Self.text(registry, runners: runners), terminator: "")
            }
        }

        struct Listing: Encodable {
            struct Plugin: Encodable {
                var id, name, version, description, abi, toolchain, path: String
                var kinds, interfaces: [String]
            }
            struct Refused: Encodable { var path, reason: String }
            struct Function: Encodable { var name, signature, description: String }
            var searchPath: [String]
            var plugins: [Plugin]
            var refused: [Refused]
            var functions: [Function]
            var refusedFunctions: [String]
            struct Runner: Encodable { var label, executor, origin: String; var installed: Bool }
            var runners: [Runner]
        }

        /// The configured runner labels, each with its executor and whether that plugin was found.
        static func runnerRows(_ registry: PluginRegistry, _ runners: RunnerMap) -> [Listing.Runner] {
            runners.labels.compactMap { label in
                runners.entry(for: label).map {
                    .init(label: label, executor: $0.executor.pluginID, origin: $0.origin,
                          installed: registry.executorIDs.contains($0.executor.pluginID))
                }
            }
        }

        static func json(_ registry: PluginRegistry, runners: RunnerMap = RunnerMap()) throws -> String {
            let listing = Listing(
                searchPath: registry.searchPath,
                plugins: registry.loaded.map {
                    .init(id: $0.id, name: $0.name, version: $0.version, description: $0.description,
                          abi: "\($0.abiMajor).\($0.abiMinor)", toolchain: $0.toolchain, path: $0.path,
                          kinds: $0.kinds, interfaces: $0.interfaces)
                },
                refused: registry.refused.map { .init(path: $0.path, reason: $0.reason) },
                functions: registry.functions.listing.map { .init(name: $0.name, signature: $0.signature, description: $0.description) },
                refusedFunctions: registry.functions.refused,
                runners: runnerRows(registry, runners))
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            return String(decoding: try encoder.encode(listing), as: UTF8.self)
        }

        static func text(_ registry: PluginRegistry, runners: RunnerMap = RunnerMap()) -> String {
            var rows = [["ID", "KIND", "VERSION", "ABI", "PATH"]]
            for plugin in registry.loaded {
                rows.append([plugin.id, plugin.kinds.joined(separator: ","), plugin.version, "\(plugin.abiMajor).\(plugin.abiMinor)", plugin.path])
            }
            let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
            var text = rows.map { row in
                row.enumerated().map { $0.element.padding(toLength: widths[$0.offset], withPad: " ", startingAt: 0) }
                    .joined(separator: "  ").trimmingCharacters(in: .whitespaces)
            }.joined(separator: "\n") + "\n"
            if registry.loaded.isEmpty { text += "(no plugins found)\n" }
            for refused in registry.refused {
                text += "refused: \(refused.path): \(refused.reason)\n"
            }
            let functions = registry.functions
            if !functions.listing.isEmpty {
                text += "functions for expressions:\n"
                let width = functions.listing.map { $0.name.count + $0.signature.count + 1 }.max() ?? 0
                for function in functions.listing {
                    text += "  " + "\(function.name) \(function.signature)".padding(toLength: width, withPad: " ", startingAt: 0) + "  \(function.description)\n"
                }
            }
            for problem in functions.refused { text += "refused function: \(problem)\n" }
            let runnerRows = runnerRows(registry, runners)
            if !runnerRows.isEmpty {
                text += "runners (runs-on label → executor):\n"
                let width = runnerRows.map(\.label.count).max() ?? 0
                for row in runnerRows {
                    text += "  " + row.label.padding(toLength: width, withPad: " ", startingAt: 0) + "  \(row.executor)"
                        + (row.installed ? "" : " (not installed)") + "  from \(row.origin)\n"
                }
            }
            text += "searched: \(registry.searchPath.joined(separator: ":"))\n"
            return text
        }
    }
}
