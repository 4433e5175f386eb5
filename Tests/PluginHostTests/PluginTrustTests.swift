import Foundation
import NixActionsEngine
import NixActionsPluginHost
import NixActionsPluginMessages
import Testing
import TestSupport

/// The user id of `nobody`, another user than the one running the tests (root here).
private let otherUser: uid_t = 65534

private func refusal(_ result: Result<LoadedPlugin, RefusedPlugin>) -> String? {
    if case .failure(let refused) = result { return refused.reason }
    return nil
}

/// Copy the local executor to `folder/libnixactions-plugin-NAME.so`, cut to `keep` bytes.
private func truncatedCopy(in folder: String, name: String, keep: (Int) -> Int) throws -> String {
    let path = folder + "/libnixactions-plugin-\(name).so"
    let bytes = try Data(contentsOf: library("nixactions-plugin-local"))
    try bytes.prefix(keep(bytes.count)).write(to: URL(fileURLWithPath: path))
    chmod(path, 0o755)
    return path
}

/// `/proc/self/maps`, read with plain reads until the end (procfs files report size 0).
private func readMaps() -> String {
    let fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return "" }
    defer { close(fd) }
    var data = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0 && errno == EINTR { continue }
        if count <= 0 { break }
        data += buffer[0..<count]
    }
    return String(decoding: data, as: UTF8.self)
}

/// Whether this process has `path` mapped (`/proc/self/maps` names the real file).
private func isMapped(_ path: String) -> Bool {
    let maps = readMaps()
    return maps.split(separator: "\n").contains { $0.hasSuffix(" " + path) }
}

/// Whether a file with `path`'s inode is mapped: the dynamic linker knows a library by device and
/// inode, and in a long test process a deleted copy loaded earlier may have had the same inode
/// number (then the linker hands out that copy, mapped under its old name).
private func isMappedByInode(_ path: String) -> Bool {
    var info = stat()
    guard stat(path, &info) == 0 else { return false }
    let maps = readMaps()
    return maps.split(separator: "\n").contains { line in
        let fields = line.split(separator: " ", omittingEmptySubsequences: true)
        return fields.count >= 6 && fields[4] == "\(info.st_ino)" && fields[5].contains("libnixactions-plugin-")
    }
}

@Suite("Plugin files and folders other users could have written are refused before dlopen")
struct PluginOwnershipTests {
    @Test("a plugin file owned by another user is refused, even in the user's own folder")
    func fileOwnedByOtherUser() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["local": "nixactions-plugin-local"])
        let path = folder + "/libnixactions-plugin-local.so"
        #expect(chown(path, otherUser, otherUser) == 0)
        #expect(refusal(PluginLoader.load(path)) == "refused: the file is owned by user 'nobody' (uid 65534), not by root or you")
        #expect(!isMapped(path))
    }

    @Test("a plugin in a folder owned by another user is refused, and so is a search folder owned by one")
    func folderOwnedByOtherUser() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["local": "nixactions-plugin-local"])
        #expect(chown(folder, otherUser, otherUser) == 0)
        #expect(refusal(PluginLoader.load(folder + "/libnixactions-plugin-local.so"))
            == "refused: its folder '\(folder)' is owned by user 'nobody' (uid 65534), not by root or you")
        let (loaded, refused) = PluginLoader.discover(in: [folder])
        #expect(loaded.isEmpty)
        #expect(refused.count == 1)
        #expect(refused.first?.path == folder)
        #expect(refused.first?.reason == "folder skipped: '\(folder)' is owned by user 'nobody' (uid 65534), not by root or you")
    }

    @Test("every folder up to / is checked: a group-writable or foreign-owned ancestor refuses the plugin")
    func ancestors() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["local": "nixactions-plugin-local"], in: "shared/plugins")
        let shared = temp.path + "/shared"
        let path = folder + "/libnixactions-plugin-local.so"
        #expect(chmod(shared, 0o775) == 0)
        #expect(refusal(PluginLoader.load(path)) == "refused: the folder '\(shared)' is writable by its group (chmod go-w '\(shared)')")
        #expect(chmod(shared, 0o755) == 0)
        #expect(chown(shared, otherUser, otherUser) == 0)
        #expect(refusal(PluginLoader.load(path)) == "refused: the folder '\(shared)' is owned by user 'nobody' (uid 65534), not by root or you")
        #expect(chown(shared, 0, 0) == 0)
        #expect((try? PluginLoader.load(path).get())?.id == "local")
    }

    @Test("a sticky world-writable ancestor (like /tmp) is accepted only above a folder that is the user's and closed")
    func stickyAncestor() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["local": "nixactions-plugin-local"], in: "sticky/mine/plugins")
        let sticky = temp.path + "/sticky", mine = sticky + "/mine"
        #expect(chmod(sticky, 0o1777) == 0)
        #expect((try? PluginLoader.load(folder + "/libnixactions-plugin-local.so").get())?.id == "local")
        // A second sticky, world-writable folder right inside it: others could have made it.
        #expect(chmod(mine, 0o1777) == 0)
        #expect(refusal(PluginLoader.load(folder + "/libnixactions-plugin-local.so"))
            == "refused: the folder '\(mine)' is writable by other users and sits in the sticky folder '\(sticky)' (chmod go-w '\(mine)')")
    }

    @Test("a symbolic link is judged by its target's folder, not by the link's")
    func symlinkTarget() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let open = try temp.pluginFolder(["local": "nixactions-plugin-local"], in: "open")
        let safe = temp.path + "/safe"
        try FileManager.default.createDirectory(atPath: safe, withIntermediateDirectories: true)
        #expect(chmod(open, 0o777) == 0)
        let link = safe + "/libnixactions-plugin-local.so"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: open + "/libnixactions-plugin-local.so")
        #expect(refusal(PluginLoader.load(link)) == "refused: its folder '\(open)' is writable by every user (chmod go-w '\(open)')")
        let (loaded, refused) = PluginLoader.discover(in: [safe])
        #expect(loaded.isEmpty)
        #expect(refused.map(\.path) == [link])
    }

    @Test("a run needing an executor from a skipped folder is told why the folder was not searched")
    func skippedFolderHint() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["double": "nixactions-testplugin-double"])
        #expect(chmod(folder, 0o777) == 0)
        let (loaded, refused) = PluginLoader.discover(in: [folder])
        let registry = PluginRegistry(loaded: loaded, refused: refused, searchPath: [folder])
        let configuration = ExecutorConfiguration(runID: "t", runDirectory: temp.path + "/run", projectDirectory: temp.path, options: [:])
        #expect {
            _ = try registry.makeExecutor(pluginID: "test-double", configuration: configuration)
        } throws: { error in
            (error as? EngineError)?.hint
                == "the plugin folder \(folder) was not searched: folder skipped: '\(folder)' is writable by every user (chmod go-w '\(folder)')"
        }
    }

    @Test("NIXACTIONS_PLUGIN_PATH folders go through the same rules: a group-writable one is skipped whole")
    func searchFolderSkipped() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["double": "nixactions-testplugin-double"])
        #expect(chmod(folder, 0o770) == 0)
        let (loaded, refused) = PluginLoader.discover(in: PluginLoader.searchPath(environment: ["NIXACTIONS_PLUGIN_PATH": folder]))
        #expect(!loaded.contains { $0.id == "test-double" })
        #expect(loaded.contains { $0.id == "local" }, "the executable's folder is still searched")
        #expect(refused.contains { $0.path == folder && $0.reason == "folder skipped: '\(folder)' is writable by its group (chmod go-w '\(folder)')" })
    }
}

@Suite("Truncated or damaged plugin files are refused before they are mapped")
struct PluginIntegrityTests {
    @Test("a plugin cut to half its size is refused with the reason, and the intact plugin with its id loads", arguments: [
        "half", "4k",
    ])
    func truncated(size: String) throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let cut = temp.path + "/cut"
        try FileManager.default.createDirectory(atPath: cut, withIntermediateDirectories: true)
        let path = try truncatedCopy(in: cut, name: "local-\(size)") { size == "half" ? $0 / 2 : 4096 }
        let intact = try temp.pluginFolder(["local-intact": "nixactions-plugin-local"], in: "intact")
        let reason = try #require(refusal(PluginLoader.load(path)))
        #expect(reason.hasPrefix("not a loadable library: truncated or damaged ELF file: "), "\(reason)")
        let length = try FileManager.default.attributesOfItem(atPath: path)[.size] as? Int
        #expect(reason.hasSuffix("past the end of the file (\(length ?? -1) bytes)"), "\(reason)")
        #expect(!isMapped(path), "a refused file is never mapped")

        let (loaded, refused) = PluginLoader.discover(in: [cut, intact])
        #expect(refused.map(\.path) == [path])
        let local = try #require(loaded.first { $0.id == "local" })
        #expect(local.path == intact + "/libnixactions-plugin-local-intact.so")
    }

    @Test("ELF files that are not 64-bit shared libraries for this CPU are refused before dlopen")
    func foreignELF() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        var bytes = [UInt8](try Data(contentsOf: library("nixactions-plugin-local")))
        func write(_ name: String, _ patch: (inout [UInt8]) -> Void) throws -> String {
            var copy = bytes
            patch(&copy)
            let path = temp.path + "/libnixactions-plugin-\(name).so"
            try Data(copy).write(to: URL(fileURLWithPath: path))
            return path
        }
        #expect(refusal(PluginLoader.load(try write("class32") { $0[4] = 1 })) == "not a loadable library: not a 64-bit ELF file (class 1)")
        #expect(refusal(PluginLoader.load(try write("exec") { $0[16] = 2 })) == "not a loadable library: not a shared library (ELF type 2)")
        // 65,535 program headers starting near the end of the file (whatever the plugin's size).
        let huge = try write("phnum") { bytes in
            bytes[56] = 0xFF
            bytes[57] = 0xFF
            let offset = UInt64(bytes.count - 64)
            for index in 0..<8 { bytes[32 + index] = UInt8(truncatingIfNeeded: offset >> (8 * UInt64(index))) }
        }
        #expect(refusal(PluginLoader.load(huge))?.hasPrefix("not a loadable library: truncated or damaged ELF file: its program headers end past the end of the file") == true)
        bytes[0] = 0
        #expect(refusal(PluginLoader.load(try write("magic") { _ in })) == "not a loadable library: invalid ELF header (the file does not start with \\x7fELF)")
    }

    @Test("the file checked is the file loaded: the path of a loaded plugin is the one given, its mapping the real file")
    func loadsCheckedFile() throws {
        let temp = try TemporaryDirectory()
        defer { temp.remove() }
        let folder = try temp.pluginFolder(["double": "nixactions-testplugin-double"])
        let real = folder + "/libnixactions-plugin-double.so"
        let link = temp.path + "/libnixactions-plugin-alias.so"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: real)
        // In this long-lived test process another test may have loaded (and deleted) a copy of the
        // same library; the dynamic linker then may hand that one out (same device and inode
        // number, or the same build). The mapping is only conclusive when nothing like it is mapped yet.
        let maps = readMaps()
        let loadedBefore = maps.isEmpty || maps.contains("libnixactions-")
        let plugin = try PluginLoader.load(link).get()
        #expect(plugin.id == "test-double")
        #expect(plugin.path == link)
        if !loadedBefore { #expect(isMapped(real) || isMappedByInode(real)) }
    }
}
