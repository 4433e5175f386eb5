import Foundation
@testable import NixActionsPluginHost
import NixActionsPluginMessages
import Testing
import TestSupport

@Suite("Plugin loading through dlopen and the ABI handshake")
struct PluginLoaderTests {
    @Test("the local executor loads with its metadata")
    func localExecutorMetadata() throws {
        let plugin = try PluginLoader.load(library("nixactions-plugin-local").path).get()
        #expect(plugin.id == "local")
        #expect(plugin.kinds == ["executor"])
        #expect(plugin.version == "0.1.0")
        #expect(plugin.abiMajor == 1)
        #expect(plugin.interfaces == [executorInterfaceV1, executorFilesInterfaceV1, optionsInterfaceV1])
        #expect(plugin.toolchain.hasPrefix("swift-6."))
        #expect(plugin.path.hasSuffix("libnixactions-plugin-local.so"))
    }

    @Test("each shipped executor, secret provider and cache backend describes its options (options.h): the names its own check accepts, for its kind only")
    func shippedOptionNames() throws {
        let expected: [(String, String, OptionsSchema)] = [
            ("nixactions-plugin-local", "local", OptionsSchema(executor: .init(["engine", "grace-seconds", "inherit-env", "services"]))),
            ("nixactions-plugin-oci", "oci", OptionsSchema(executor: .init(["credentials", "engine", "env", "grace-seconds", "home", "image", "network",
                                                                             "options", "ports", "services", "user", "volumes"]))),
            ("nixactions-plugin-ssh", "ssh", OptionsSchema(executor: .init(["grace-seconds", "host", "hosts", "identity-file", "known-hosts", "port",
                                                                             "ssh-options", "user", "workdir"]))),
            ("nixactions-plugin-env", "env", OptionsSchema(secrets: .init(["names", "ref"]))),
            ("nixactions-plugin-file", "file", OptionsSchema(secrets: .init(["file", "format", "keys", "ref"]))),
            ("nixactions-plugin-sops", "sops", OptionsSchema(secrets: .init(["age-key-file", "extract", "file", "format", "keys", "ref", "sops"]))),
            ("nixactions-plugin-vault", "vault", OptionsSchema(secrets: .init(["address", "approle-mount", "auth", "ca-file", "keys", "mount",
                                                                               "namespace", "path", "ref", "role-id", "role-id-file",
                                                                               "secret-id-file", "token-file", "version"]))),
            ("nixactions-plugin-cache-local", "cache-local", OptionsSchema(cache: .init(["compression-level", "compression-threads", "directory",
                                                                                         "max-age", "max-size"]))),
            ("nixactions-plugin-cache-s3", "cache-s3", OptionsSchema(cache: .init(["bucket", "checksums", "compression-level", "compression-threads",
                                                                                   "endpoint", "part-size", "path-style", "prefix", "region",
                                                                                   "retries", "timeout"]))),
        ]
        for (product, id, schema) in expected {
            let plugin = try PluginLoader.load(library(product).path).get()
            #expect(plugin.id == id)
            #expect(plugin.interfaces.contains(optionsInterfaceV1), "\(id)")
            #expect(try plugin.optionsSchema() == schema, "\(id)")
        }
        // A plugin without the interface describes nothing (an older plugin: nothing is checked early).
        let double = try PluginLoader.load(library("nixactions-testplugin-double").path).get()
        #expect(try double.optionsSchema() == nil)
    }

    @Test("an options check told the options are complete may refuse a required one's absence (ssh's host, oci's image); one not told (an older host) checks what is there; the message's new field is optional and a field a plugin does not know is ignored")
    func completeOptionsCheck() throws {
        let ssh = try PluginLoader.load(library("nixactions-plugin-ssh").path).get()
        #expect(try ssh.checkOptions(.executor, ["user": .string("ci")], complete: false) == .accepted)
        guard case .refused(let message, _) = try ssh.checkOptions(.executor, ["user": .string("ci")], complete: true) else {
            Issue.record("ssh accepted options without a host as complete")
            return
        }
        #expect(message == "the ssh executor needs a 'host' (or 'hosts')", "\(message)")
        #expect(try ssh.checkOptions(.executor, ["host": .string("h")], complete: true) == .accepted)
        let oci = try PluginLoader.load(library("nixactions-plugin-oci").path).get()
        #expect(try oci.checkOptions(.executor, [:], complete: false) == .accepted)
        guard case .refused(let missing, _) = try oci.checkOptions(.executor, ["network": .string("none")], complete: true) else {
            Issue.record("oci accepted options without an image as complete")
            return
        }
        #expect(missing == "the oci executor needs an 'image'", "\(missing)")
        // The message as an older host writes it, and with a field of a newer one.
        let older = try MessageCoding.decode(OptionsCheck.self, from: Array(#"{"kind":"executor","options":{"host":"h"}}"#.utf8))
        #expect(older.complete == nil && older.options["host"] == .string("h"))
        let newer = try MessageCoding.decode(OptionsCheck.self, from: Array(#"{"kind":"executor","options":{},"complete":true,"later":1}"#.utf8))
        #expect(newer.complete == true)
    }

    @Test("loading the same library twice returns the same plugin")
    func loadTwice() throws {
        let first = try PluginLoader.load(library("nixactions-plugin-local").path).get()
        let second = try PluginLoader.load(library("nixactions-plugin-local").path).get()
        #expect(first.id == second.id)
    }

    @Test("one library reached through two paths (a link) is one image: its entry runs once, both paths share its owner (review 50)")
    func oneImageOneEntry() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let real = try temp.pluginFolder(["misbehaving": "nixactions-testplugin-misbehaving"], in: "real")
        let links = temp.path + "/links"
        try FileManager.default.createDirectory(atPath: links, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: links + "/libnixactions-plugin-misbehaving.so",
                                                   withDestinationPath: real + "/libnixactions-plugin-misbehaving.so")
        let first = try PluginLoader.load(links + "/libnixactions-plugin-misbehaving.so").get()
        let second = try PluginLoader.load(real + "/libnixactions-plugin-misbehaving.so").get()
        #expect(first.owner == second.owner && first.owner != 0, "the operations of either are the plugin's own")
        #expect(second.path == real + "/libnixactions-plugin-misbehaving.so")
        let handle = try #require(dlopen(real + "/libnixactions-plugin-misbehaving.so", RTLD_NOW | RTLD_NOLOAD))
        let symbol = try #require(dlsym(handle, "misbehaving_entry_calls"))
        let calls = unsafeBitCast(symbol, to: (@convention(c) () -> Int32).self)()
        #expect(calls == 1, "plugin.h: the entry is called once; it was called \(calls) times")
    }

    @Test("a plugin built for another ABI major is refused, not called")
    func wrongABI() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["wrongabi": "nixactions-testplugin-wrongabi"])
        let result = PluginLoader.load(folder + "/libnixactions-plugin-wrongabi.so")
        guard case .failure(let refusal) = result else {
            Issue.record("a plugin with ABI 99 was accepted")
            return
        }
        #expect(refusal.reason == "built for plugin ABI 99.0; this host speaks ABI 1.5")
    }

    @Test("a library without the entry symbol is refused with the symbol's name")
    func missingEntry() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["noentry": "nixactions-testplugin-noentry"])
        let result = PluginLoader.load(folder + "/libnixactions-plugin-noentry.so")
        guard case .failure(let refusal) = result else {
            Issue.record("a library without an entry was accepted")
            return
        }
        #expect(refusal.reason == "not a NixActions plugin: it does not export 'nixactions_plugin_entry'")
    }

    @Test("a plain system library is refused")
    func plainLibrary() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let candidates = ["/lib/x86_64-linux-gnu/libz.so.1", "/usr/lib/x86_64-linux-gnu/libz.so.1", "/lib/x86_64-linux-gnu/libm.so.6"]
        let source = try #require(candidates.first { FileManager.default.fileExists(atPath: $0) })
        let path = temp.path + "/libnixactions-plugin-plain.so"
        try FileManager.default.copyItem(atPath: URL(fileURLWithPath: source).resolvingSymlinksInPath().path, toPath: path)
        guard case .failure(let refusal) = PluginLoader.load(path) else {
            Issue.record("a plain library was accepted")
            return
        }
        #expect(refusal.reason.contains("does not export 'nixactions_plugin_entry'"))
    }

    @Test("a file that is not a library at all is refused with dlopen's reason")
    func notALibrary() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let path = try temp.write("libnixactions-plugin-text.so", "this is not ELF\n")
        guard case .failure(let refusal) = PluginLoader.load(path) else {
            Issue.record("a text file was accepted")
            return
        }
        #expect(refusal.reason.hasPrefix("not a loadable library:"))
        #expect(refusal.reason.contains("invalid ELF header") || refusal.reason.contains("too short"))
    }

    @Test("a plugin file cut short (a copy that did not finish) is refused before dlopen maps it, saying why")
    func truncatedLibrary() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["text": "nixactions-testplugin-cfunctions"])
        let path = folder + "/libnixactions-plugin-text.so"
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int)
        // The section headers are at the file's end: half of it leaves them out.
        #expect(truncate(path, off_t(size / 2)) == 0)
        guard case .failure(let refusal) = PluginLoader.load(path) else {
            Issue.record("a truncated library was loaded")
            return
        }
        #expect(refusal.reason == "not a loadable library: truncated or damaged ELF file: its section headers end past the end of the file (\(size / 2) bytes)",
                "\(refusal.reason)")
    }

    @Test("a plugin file writable by other users is refused before it is loaded")
    func worldWritable() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["local": "nixactions-plugin-local"])
        let path = folder + "/libnixactions-plugin-local.so"
        #expect(chmod(path, 0o777) == 0)
        guard case .failure(let refusal) = PluginLoader.load(path) else {
            Issue.record("a world-writable plugin was accepted")
            return
        }
        #expect(refusal.reason.contains("writable by other users"))
    }

    @Test("a plugin in a folder every user can write to is refused, sticky or not")
    func worldWritableFolder() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["local": "nixactions-plugin-local"])
        #expect(chmod(folder, 0o777) == 0)
        guard case .failure(let refusal) = PluginLoader.load(folder + "/libnixactions-plugin-local.so") else {
            Issue.record("a plugin in a world-writable folder was accepted")
            return
        }
        #expect(refusal.reason == "refused: its folder '\(folder)' is writable by every user (chmod go-w '\(folder)')")
        // Sticky protects entries from being replaced, but others can still add files next to the plugin.
        #expect(chmod(folder, 0o1777) == 0)
        guard case .failure(let sticky) = PluginLoader.load(folder + "/libnixactions-plugin-local.so") else {
            Issue.record("a plugin in a sticky world-writable folder was accepted")
            return
        }
        #expect(sticky.reason == "refused: its folder '\(folder)' is writable by every user (it is sticky, but others can still add files to it)")
        #expect(chmod(folder, 0o755) == 0)
        #expect((try? PluginLoader.load(folder + "/libnixactions-plugin-local.so").get())?.id == "local")
    }

    @Test("discovery lists good plugins and refuses the rest, first id wins")
    func discovery() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let first = try temp.pluginFolder([
            "local": "nixactions-plugin-local", "double": "nixactions-testplugin-double",
            "wrongabi": "nixactions-testplugin-wrongabi", "noentry": "nixactions-testplugin-noentry",
        ], in: "a")
        let second = try temp.pluginFolder(["local-again": "nixactions-plugin-local"], in: "b")
        try temp.write("a/README.txt", "not a plugin name, never opened\n")
        let (loaded, refused) = PluginLoader.discover(in: [first, second, temp.path + "/missing"])
        #expect(loaded.map(\.id).sorted() == ["local", "test-double"])
        #expect(refused.count == 3)
        #expect(refused.contains { $0.path.hasSuffix("wrongabi.so") && $0.reason.contains("ABI 99") })
        #expect(refused.contains { $0.path.hasSuffix("noentry.so") && $0.reason.contains("does not export") })
        #expect(refused.contains { $0.path.hasSuffix("b/libnixactions-plugin-local-again.so") && $0.reason.contains("already provided by") })
    }

    @Test("NIXACTIONS_PLUGIN_PATH comes first, then the executable's folder, then the user's folder")
    func searchOrder() {
        let path = PluginLoader.searchPath(environment: ["NIXACTIONS_PLUGIN_PATH": "/x:/y", "HOME": "/home/u"])
        #expect(Array(path.prefix(2)) == ["/x", "/y"])
        #expect(path.last == "/home/u/.local/lib/nixactions/plugins")
        #expect(path.count == 5)
    }

    @Test("every plugin library exports exactly one symbol: the entry", arguments: [
        "nixactions-plugin-local", "nixactions-plugin-text", "nixactions-testplugin-double",
    ])
    func onlyEntryExported(product: String) async throws {
        let nm = try await runCommand(URL(fileURLWithPath: "/usr/bin/nm"), ["-D", "--defined-only", library(product).path])
        #expect(nm.status == 0)
        // Global symbols are the upper-case types; `A` is the version node of the version script.
        let globals = nm.stdout.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ")
            guard fields.count == 3, let type = fields[1].first, type.isUppercase, type != "A" else { return nil }
            return String(fields[2])
        }
        #expect(globals == ["nixactions_plugin_entry@@NIXACTIONS_PLUGIN_1"])
    }
}

/// A registry from `PluginRegistry.discover` loads a plugin when it is first asked for.
@Suite("Plugins load on first use")
struct LazyPluginLoadingTests {
    /// A registry that searches only a folder of `temp` holding `products` (see `pluginFolder`),
    /// the path of its file `libnixactions-plugin-NAME.so`, and the files of that folder loaded so far.
    struct Discovered {
        let registry: PluginRegistry
        let folder: String
        func file(_ name: String) -> String { folder + "/libnixactions-plugin-\(name).so" }
        var tried: Set<String> { Set(registry.plugins.loadedPaths.filter { $0.hasPrefix(folder) }) }

        init(_ temp: TemporaryDirectory, _ products: [String: String]) throws {
            folder = try temp.pluginFolder(products)
            registry = PluginRegistry.discover(environment: ["NIXACTIONS_PLUGIN_PATH": folder, "HOME": temp.path])
        }
    }

    @Test("an executor loads its own file only; functions load the rest; a file named unlike its id is still found")
    func onFirstUse() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let found = try Discovered(temp, [
            "local": "nixactions-plugin-local", "text": "nixactions-plugin-text", "double": "nixactions-testplugin-double",
        ])
        let (registry, folder, file) = (found.registry, found.folder, found.file)
        let tried = { found.tried }
        #expect(tried().isEmpty, "nothing loads before it is asked for")
        let configuration = ExecutorConfiguration(runID: "t", runDirectory: temp.path + "/run", projectDirectory: temp.path)
        _ = try registry.makeExecutor(pluginID: "local", configuration: configuration)
        #expect(tried() == [file("local")], "the other plugins stay unloaded")
        #expect(registry.functions.arities["text.repeat"] == 2)
        #expect(tried() == [file("local"), file("text"), file("double")])
        // Its file is named 'double', its id is 'test-double': found among all.
        _ = try registry.makeExecutor(pluginID: "test-double", configuration: configuration)
        #expect(registry.loaded.filter { $0.path.hasPrefix(folder) }.map(\.id).sorted() == ["local", "test-double", "text"])
        #expect(throws: (any Error).self) { _ = try registry.makeExecutor(pluginID: "nope", configuration: configuration) }
    }

    @Test("a cache backend loads its cache-NAME file (and the NAME file it tries first), nothing else")
    func cacheBackend() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let found = try Discovered(temp, [
            "local": "nixactions-plugin-local", "cache-local": "nixactions-plugin-cache-local", "text": "nixactions-plugin-text",
        ])
        #expect(found.registry.cachePlugin("local")?.path == found.file("cache-local"))
        #expect(found.tried == [found.file("local"), found.file("cache-local")])
    }

    @Test("two files with one id: the one named for it wins, whether it is looked up alone or all are loaded")
    func namedFileWins() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let first = try temp.pluginFolder(["mylocal": "nixactions-plugin-local"], in: "first")
        let second = try temp.pluginFolder(["local": "nixactions-plugin-local"], in: "second")
        let environment = ["NIXACTIONS_PLUGIN_PATH": first + ":" + second, "HOME": temp.path]
        let configuration = ExecutorConfiguration(runID: "t", runDirectory: temp.path + "/run", projectDirectory: temp.path)
        let lazy = PluginRegistry.discover(environment: environment)
        _ = try lazy.makeExecutor(pluginID: "local", configuration: configuration)
        #expect(lazy.plugins.named("local")?.path == second + "/libnixactions-plugin-local.so")
        let eager = PluginRegistry.discover(environment: environment)
        let chosen = eager.loaded.filter { $0.id == "local" }.map(\.path)
        #expect(chosen == [second + "/libnixactions-plugin-local.so"])
        #expect(eager.refused.contains { $0.path == first + "/libnixactions-plugin-mylocal.so" && $0.reason.contains("already provided by \(second)") })
    }

    @Test("standardized folds . and .. and doubled slashes as text, and makes a relative path absolute")
    func standardizedPaths() {
        let cwd = FileManager.default.currentDirectoryPath
        let cases: [(String, String)] = [
            ("/a/b/../c", "/a/c"), ("/a/./b/", "/a/b"), ("/..", "/"), ("/a/b/c/../../d/./e/..", "/a/d"), ("/x//y", "/x/y"),
            ("/", "/"), ("rel/./p/..", PluginLoader.standardized(cwd + "/rel")), ("../up", PluginLoader.standardized(cwd + "/../up")),
        ]
        for (path, expected) in cases {
            #expect(PluginLoader.standardized(path) == expected, "\(path)")
        }
        // The folders of a real path agree with what URL gives.
        for path in ["/a/b/../c", "/a/./b/", "/a/b/c/../../d/./e/.."] {
            #expect(PluginLoader.standardized(path) == URL(fileURLWithPath: path).standardized.path, "\(path)")
        }
    }
}
