import CNixActionsPlugin
import Foundation
import NixActionsPluginHost
import Testing
import TestSupport

@Suite("The version handshake works both ways")
struct HandshakeTests {
    @Test("a plugin that refuses this host is listed as refused with its own message")
    func pluginRefusesHost() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["refuses": "nixactions-testplugin-refuses"])
        guard case .failure(let refusal) = PluginLoader.load(folder + "/libnixactions-plugin-refuses.so") else {
            Issue.record("a plugin that refused the host was accepted")
            return
        }
        #expect(refusal.reason == "the plugin refused this host (status 4): needs a host speaking ABI 1.9 or newer")
    }

    @Test("a real Swift plugin refuses a host of another ABI major, with a message")
    func swiftPluginRefusesOtherMajor() throws {
        let handle = try #require(dlopen(library("nixactions-plugin-local").path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE))
        let symbol = try #require(dlsym(handle, NXA_ENTRY_SYMBOL))
        let entry = unsafeBitCast(symbol, to: nxa_plugin_entry_fn.self)
        var services = nxa_host_services()
        services.struct_size = UInt32(MemoryLayout<nxa_host_services>.size)
        var outcome: (nxa_status, String) = (0, "")
        withUnsafePointer(to: &services) { servicesPointer in
            var info = nxa_host_info(
                struct_size: UInt32(MemoryLayout<nxa_host_info>.size), abi_major: NXA_ABI_MAJOR + 1, abi_minor: 0,
                host_version: nil, toolchain: nil, services: servicesPointer)
            var plugin: UnsafePointer<nxa_plugin>?
            var buffer = [CChar](repeating: 0, count: 256)
            buffer.withUnsafeMutableBufferPointer { chars in
                var error = nxa_error(data: chars.baseAddress, capacity: chars.count, length: 0)
                let status = entry(&info, &plugin, &error)
                let text = String(decoding: UnsafeRawBufferPointer(start: chars.baseAddress, count: error.length), as: UTF8.self)
                outcome = (status, text)
            }
            #expect(plugin == nil)
        }
        #expect(outcome.0 == NXA_STATUS_INCOMPATIBLE)
        #expect(outcome.1 == "plugin 'local' speaks ABI 1.2, host speaks 2.0")
    }

    @Test("a host info struct smaller than the plugin needs is refused, not read past its end")
    func tooSmallHostInfo() throws {
        let handle = try #require(dlopen(library("nixactions-plugin-local").path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE))
        let entry = unsafeBitCast(try #require(dlsym(handle, NXA_ENTRY_SYMBOL)), to: nxa_plugin_entry_fn.self)
        var info = nxa_host_info()
        info.struct_size = 8
        info.abi_major = NXA_ABI_MAJOR
        var plugin: UnsafePointer<nxa_plugin>?
        var buffer = [CChar](repeating: 0, count: 256)
        let status = buffer.withUnsafeMutableBufferPointer { chars -> nxa_status in
            var error = nxa_error(data: chars.baseAddress, capacity: chars.count, length: 0)
            return entry(&info, &plugin, &error)
        }
        #expect(status == NXA_STATUS_INCOMPATIBLE)
    }
}

@Suite("Plugins built by another Swift compiler")
struct ToolchainTests {
    @Test("a plugin whose toolchain tag differs from the host's is refused (the Swift ABI is not stable on Linux)")
    func otherCompiler() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        var bytes = try Data(contentsOf: library("nixactions-plugin-text"))
        let mine = try PluginLoader.load(library("nixactions-plugin-text").path).get().toolchain
        // Patch the tag in the library (same length, so nothing else moves).
        let other = String(mine.dropLast()) + (mine.hasSuffix("9") ? "8" : "9")
        let range = try #require(bytes.range(of: Data((mine + "\0").utf8)))
        bytes.replaceSubrange(range, with: Data((other + "\0").utf8))
        let path = temp.path + "/libnixactions-plugin-other.so"
        try bytes.write(to: URL(fileURLWithPath: path))
        chmod(path, 0o644)
        guard case .failure(let refusal) = PluginLoader.load(path) else {
            Issue.record("a plugin from another compiler was accepted")
            return
        }
        #expect(refusal.reason.hasPrefix("built with \(other), but this host was built with \(mine)"))
    }
}
