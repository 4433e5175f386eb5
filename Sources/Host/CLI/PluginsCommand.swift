import ArgumentParser
import Foundation
import NixActionsPluginHost

struct PluginsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plugins",
        abstract: "Inspect the plugins this nixactions can load.",
        subcommands: [ListPlugins.self]
    )

    struct ListPlugins: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "list",
            abstract: "List the plugins found (id, kind, version, ABI, path) and the files refused, with why."
        )

        @Flag(help: "Print JSON.")
        var json = false

        func run() async throws {
            let registry = PluginRegistry.discover()
            if json {
                print(try Self.json(registry))
            } else {
                print(Self.text(registry), terminator: "")
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
        }

        static func json(_ registry: PluginRegistry) throws -> String {
            let listing = Listing(
                searchPath: registry.searchPath,
                plugins: registry.loaded.map {
                    .init(id: $0.id, name: $0.name, version: $0.version, description: $0.description,
                          abi: "\($0.abiMajor).\($0.abiMinor)", toolchain: $0.toolchain, path: $0.path,
                          kinds: $0.kinds, interfaces: $0.interfaces)
                },
                refused: registry.refused.map { .init(path: $0.path, reason: $0.reason) },
                functions: registry.functions.listing.map { .init(name: $0.name, signature: $0.signature, description: $0.description) },
                refusedFunctions: registry.functions.refused)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            return String(decoding: try encoder.encode(listing), as: UTF8.self)
        }

        static func text(_ registry: PluginRegistry) -> String {
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
            text += "searched: \(registry.searchPath.joined(separator: ":"))\n"
            return text
        }
    }
}
