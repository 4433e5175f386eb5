import CNixActionsPlugin
import Foundation
import NixActionsPluginHost
import NixActionsPluginMessages
import Synchronization
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
        #expect(outcome.1 == "plugin 'local' speaks ABI 1.5, host speaks 2.0")
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

/// Which completion service a plugin called, by the `host_data` of the table it was given.
private enum CompletionLog {
    static let calls = Mutex<[String]>([])
}

@Suite("complete_here (ABI 1.3) and older hosts")
struct CompleteHereTests {
    /// Loads a copy of the local executor plugin with a services table of `size` bytes, makes an
    /// executor and starts a job on it (the local executor completes a job's start at once).
    private func startJob(servicesSize: Int, label: String, temp: TemporaryDirectory) throws -> String? {
        let path = temp.path + "/libnixactions-plugin-\(label).so"
        try FileManager.default.copyItem(at: library("nixactions-plugin-local"), to: URL(fileURLWithPath: path))
        let handle = try #require(dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE))
        let entry = unsafeBitCast(try #require(dlsym(handle, NXA_ENTRY_SYMBOL)), to: nxa_plugin_entry_fn.self)
        // Lives for the process: the plugin keeps the pointer.
        let services = UnsafeMutablePointer<nxa_host_services>.allocate(capacity: 1)
        services.initialize(to: nxa_host_services())
        services.pointee.struct_size = UInt32(servicesSize)
        services.pointee.host_data = UnsafeMutableRawPointer(mutating: strdup(label))
        services.pointee.log = { _, _, _, _ in }
        services.pointee.write_output = { _, _, _, _, _ in }
        services.pointee.register_secret = { _, _, _ in }
        services.pointee.is_cancelled = { _, _ in false }
        services.pointee.complete = { data, _, status, _, _ in
            CompletionLog.calls.withLock { $0.append("\(String(cString: data!.assumingMemoryBound(to: CChar.self))): complete \(status)") }
        }
        services.pointee.op_deadline = { _, _ in 0 }
        services.pointee.secret_value = { _, _, _, _, _, _ in NXA_STATUS_INVALID_ARGUMENT }
        services.pointee.log_op = { _, _, _, _, _ in }
        services.pointee.progress = { _, _, _, _, _, _ in }
        services.pointee.complete_here = { data, _, status, _, _ in
            CompletionLog.calls.withLock { $0.append("\(String(cString: data!.assumingMemoryBound(to: CChar.self))): complete_here \(status)") }
        }
        let info = UnsafeMutablePointer<nxa_host_info>.allocate(capacity: 1)
        info.initialize(to: nxa_host_info(
            struct_size: UInt32(MemoryLayout<nxa_host_info>.size), abi_major: NXA_ABI_MAJOR,
            abi_minor: servicesSize == MemoryLayout<nxa_host_services>.size ? NXA_ABI_MINOR : 2,
            host_version: nil, toolchain: nil, services: services))
        var plugin: UnsafePointer<nxa_plugin>?
        var buffer = [CChar](repeating: 0, count: 512)
        try buffer.withUnsafeMutableBufferPointer { chars in
            var error = nxa_error(data: chars.baseAddress, capacity: chars.count, length: 0)
            #expect(entry(info, &plugin, &error) == NXA_STATUS_OK)
            let descriptor = try #require(plugin)
            let raw = try #require(descriptor.pointee.get_interface(descriptor, NXA_EXECUTOR_INTERFACE_V1))
            let executor = raw.assumingMemoryBound(to: nxa_executor_v1.self)
            let configuration = try MessageCoding.encode(ExecutorConfiguration(
                runID: "t", runDirectory: temp.path + "/run-\(label)", projectDirectory: temp.path, options: [:]))
            var instance: UnsafeMutableRawPointer?
            let made = configuration.withUnsafeBufferPointer { executor.pointee.create(descriptor, $0.baseAddress, $0.count, &instance, &error) }
            #expect(made == NXA_STATUS_OK)
            let job = try MessageCoding.encode(JobSpec(jobKey: "j", displayName: "j"))
            let started = job.withUnsafeBufferPointer { executor.pointee.start_job(instance, 7, $0.baseAddress, $0.count, &error) }
            #expect(started == NXA_STATUS_OK)
            // Nothing left behind: the job's folder, and the instance's own folder in /dev/shm.
            _ = job.withUnsafeBufferPointer { executor.pointee.finish_job(instance, 8, $0.baseAddress, $0.count, &error) }
            executor.pointee.destroy(instance)
        }
        return CompletionLog.calls.withLock { calls in calls.first { $0.hasPrefix(label + ":") } }
    }

    @Test("a plugin completes with complete_here in a 1.3 host, and with complete in a 1.2 host, whose table ends before it")
    func bothHosts() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let current = try startJob(servicesSize: MemoryLayout<nxa_host_services>.size, label: "current", temp: temp)
        #expect(current == "current: complete_here \(NXA_STATUS_OK)")
        let older = try startJob(servicesSize: MemoryLayout<nxa_host_services>.offset(of: \.complete_here)!, label: "older", temp: temp)
        #expect(older == "older: complete \(NXA_STATUS_OK)")
    }
}
