import Foundation
import Testing
import TestSupport

@Suite("nixactions plugins list")
struct PluginsCommandTests {
    @Test("lists plugins with id, kind, version, ABI and path, and refused files with the reason")
    func text() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["wrongabi": "nixactions-testplugin-wrongabi", "noentry": "nixactions-testplugin-noentry"])
        let result = try nixactions(["plugins", "list"], environment: ["NIXACTIONS_PLUGIN_PATH": folder])
        #expect(result.status == 0)
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first?.split(separator: " ", omittingEmptySubsequences: true) == ["ID", "KIND", "VERSION", "ABI", "PATH"])
        #expect(lines.contains { $0.hasPrefix("local ") && $0.contains("executor") && $0.contains("0.1.0") && $0.contains(" 1.1 ") && $0.hasSuffix("libnixactions-plugin-local.so") })
        #expect(lines.contains("refused: \(folder)/libnixactions-plugin-wrongabi.so: built for plugin ABI 99.0; this host speaks ABI 1.1"))
        #expect(lines.contains("refused: \(folder)/libnixactions-plugin-noentry.so: not a NixActions plugin: it does not export 'nixactions_plugin_entry'"))
        #expect(lines.last?.hasPrefix("searched: \(folder):") == true)
    }

    @Test("--json gives the same facts as JSON")
    func json() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["double": "nixactions-testplugin-double", "wrongabi": "nixactions-testplugin-wrongabi"])
        let result = try nixactions(["plugins", "list", "--json"], environment: ["NIXACTIONS_PLUGIN_PATH": folder])
        #expect(result.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
        let plugins = try #require(object["plugins"] as? [[String: Any]])
        #expect(plugins.compactMap { $0["id"] as? String } == ["test-double", "local", "text"])
        let double = try #require(plugins.first)
        #expect(double["abi"] as? String == "1.1")
        #expect(double["kinds"] as? [String] == ["executor"])
        #expect(double["interfaces"] as? [String] == ["nixactions.executor/1"])
        #expect(double["path"] as? String == folder + "/libnixactions-plugin-double.so")
        let refused = try #require(object["refused"] as? [[String: Any]])
        #expect(refused.count == 1)
        #expect((refused.first?["reason"] as? String)?.contains("ABI 99") == true)
    }
}
