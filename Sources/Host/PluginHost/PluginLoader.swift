import CNixActionsPlugin
import Foundation
import Synchronization
import NixActionsPluginMessages
import NixActionsProcessKit

#if canImport(Glibc)
    import Glibc
#endif

/// A plugin that loaded and passed the handshake.
public struct LoadedPlugin: @unchecked Sendable {
    public let id: String
    public let name: String
    public let version: String
    public let description: String
    public let abiMajor: UInt32
    public let abiMinor: UInt32
    public let toolchain: String
    public let kinds: [String]
    public let interfaces: [String]
    public let path: String
    let descriptor: UnsafePointer<nxa_plugin>
    /// Its services table's `host_data`, as a number: the operations it starts are its own
    /// (`HostRuntime.OperationOptions.owner`).
    var owner: UInt = 0

    /// The same plugin found at another path (its image is shared).
    func at(_ path: String) -> LoadedPlugin {
        LoadedPlugin(id: id, name: name, version: version, description: description, abiMajor: abiMajor, abiMinor: abiMinor,
                     toolchain: toolchain, kinds: kinds, interfaces: interfaces, path: path, descriptor: descriptor, owner: owner)
    }

    /// The interface struct for `id`, or nil.
    func interface(_ id: String) -> UnsafeRawPointer? {
        guard let getInterface = descriptor.pointee.get_interface else { return nil }
        return PluginCallWatch.during(self.id, "its get_interface call") { id.withCString { getInterface(descriptor, $0) } }
    }
}

/// A file that was looked at and not accepted, with the reason.
public struct RefusedPlugin: Error, Sendable, Hashable {
    public let path: String
    public let reason: String
    /// The system's error number, when a call on the file failed (a shortage of descriptors says so).
    public let errno: Int32?

    public init(path: String, reason: String, errno: Int32? = nil) {
        self.path = path
        self.reason = reason
        self.errno = errno
    }
}

/// Finds and loads plugin libraries.
///
/// Search order: each folder of `$NIXACTIONS_PLUGIN_PATH` (colon-separated), the folder of the
/// `nixactions` executable (its real path, from `/proc/self/exe`) and its `../lib/nixactions/plugins`,
/// then `~/.local/lib/nixactions/plugins`. A plugin is a file named `libnixactions-plugin-*.so`.
/// When two files declare the same id, a file named for it (`libnixactions-plugin-ID.so`) wins
/// over one named otherwise, else the first found; the other is refused.
///
/// Every folder searched, and every plugin file with its folders, must pass `PluginTrust`'s
/// rules (owner root or you, not writable by group or others, complete ELF) before `dlopen`.
public enum PluginLoader {
    public static let filePrefix = "libnixactions-plugin-"
    public static let fileSuffix = ".so"
    static let hostVersion = "0.1.0"

    /// `/proc/self/fd/N` names given to `dlopen` so far (each is used once per process).
    static let usedNames = Mutex<Set<String>>([])
    /// The plugins loaded, by their library's `dlopen` handle (one image per file, whatever the path).
    static let loadedImages = Mutex<[UInt: LoadedPlugin]>([:])
    /// Images whose entry function did not return in time, with why: never called again.
    static let stuckImages = Mutex<[UInt: String]>([:])

    /// How long a plugin's entry function may take (`NIXACTIONS_PLUGIN_ENTRY_TIMEOUT` seconds,
    /// default 10): it only fills in a descriptor, and one that never returned held every command
    /// that loads plugins for ever (audit 50).
    /// 0.001 to 86400 (`1e300` or `inf` trapped: audit 61 input H3).
    static let entryDeadline: Duration = EnvironmentSeconds.read("NIXACTIONS_PLUGIN_ENTRY_TIMEOUT", allowed: 0.001...86_400) ?? .seconds(10)

    /// The entry function's answer, called on a thread of its own and waited for at most
    /// `entryDeadline`; nil when it did not return by then (the thread is left to it).
    static func callEntry(_ entry: nxa_plugin_entry_fn, info: UnsafePointer<nxa_host_info>)
        -> (status: nxa_status, descriptor: UnsafePointer<nxa_plugin>?, message: String)?
    {
        final class Call: @unchecked Sendable {
            var status = NXA_STATUS_FAILED
            var descriptor: UnsafePointer<nxa_plugin>?
            var message = ""
            let done = DispatchSemaphore(value: 0)
        }
        let call = Call()
        let address = UInt(bitPattern: info)
        let thread = Thread {
            var descriptor: UnsafePointer<nxa_plugin>?
            let (status, message) = PluginExecutor.callWithError { error in
                entry(UnsafePointer(bitPattern: address), &descriptor, error)
            }
            call.status = status
            call.descriptor = descriptor
            call.message = message
            call.done.signal()
        }
        thread.stackSize = 1 << 20
        thread.start()
        let seconds = Double(entryDeadline.components.seconds) + Double(entryDeadline.components.attoseconds) / 1e18
        guard call.done.wait(timeout: .now() + seconds) == .success else { return nil }
        return (call.status, call.descriptor, call.message)
    }

    /// The folders searched, in order.
    public static func searchPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> [String] {
        var folders: [String] = []
        if let path = environment["NIXACTIONS_PLUGIN_PATH"] {
            folders += path.split(separator: ":").map(String.init).filter { !$0.isEmpty }
        }
        let executable = (try? PluginTrust.realPath("/proc/self/exe").get())
            ?? URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path
        let folder = standardized(executable + "/..")
        folders.append(folder)
        folders.append(standardized(folder + "/../lib/nixactions/plugins"))
        if let home = environment["HOME"] {
            folders.append(home + "/.local/lib/nixactions/plugins")
        }
        var seen: Set<String> = []
        return folders.filter { seen.insert(standardized($0)).inserted }
    }

    /// `path` made absolute (against the working directory) with `.`, `..` and doubled slashes
    /// folded away as text, without building URLs (a third of the plugin search's cost at every
    /// start). For an absolute path it gives what `URL.standardized` gives.
    static func standardized(_ path: String) -> String {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var parts: [Substring] = []
        for part in absolute.split(separator: "/", omittingEmptySubsequences: true) {
            if part == "." { continue }
            if part == ".." {
                if !parts.isEmpty { parts.removeLast() }
                continue
            }
            parts.append(part)
        }
        return "/" + parts.joined(separator: "/")
    }

    /// A plugin file found by `scan`, not loaded yet.
    public struct Candidate: Sendable {
        public let path: String
        /// The file's name (`libnixactions-plugin-ID.so`).
        public let name: String
        let manifest: PluginManifest?
    }

    /// The plugin files of `folders` in search order (folders in order, names sorted), without
    /// loading any. A folder that does not exist is passed over; a folder that fails the trust
    /// rules (its own or an ancestor's owner or mode) is skipped whole and listed as refused, with
    /// `RefusedPlugin.path` the folder and a reason starting with "folder skipped:".
    public static func scan(_ folders: [String]) -> (candidates: [Candidate], skipped: [RefusedPlugin]) {
        var candidates: [Candidate] = []
        var skipped: [RefusedPlugin] = []
        for folder in folders {
            // Names compared as bytes before any string is made (FastFiles.names): run from its build
            // folder, nixactions sits among some 180 entries, listed at every start.
            guard let names = FastFiles.names(in: folder, prefix: filePrefix) else { continue }
            if !folder.hasPrefix("/") {
                // Taken from the working folder, a relative entry would load what the project's
                // repository holds there, ahead of the installed plugins (audit 64 users L1).
                if names.contains(where: { $0.hasSuffix(fileSuffix) }) {
                    skipped.append(RefusedPlugin(path: folder, reason: "folder skipped: '\(folder)' is a relative path (NIXACTIONS_PLUGIN_PATH), "
                                                 + "which would load the plugins of whatever folder a run starts in; give it as an absolute path"))
                }
                continue
            }
            guard case .success(let real) = PluginTrust.realPath(folder) else { continue }
            if let problem = PluginTrust.folderProblem(real) {
                skipped.append(RefusedPlugin(path: folder, reason: "folder skipped: '\(problem.folder)' \(problem.problem)"))
                continue
            }
            let manifest = PluginManifest.read(in: folder)
            var base = folder
            while base.count > 1 && base.hasSuffix("/") { base.removeLast() }
            for name in names.sorted() where name.hasSuffix(fileSuffix) {
                candidates.append(Candidate(path: (base == "/" ? "" : base) + "/" + name, name: name, manifest: manifest))
            }
        }
        return (candidates, skipped)
    }

    /// Load every plugin file in `folders` (see `scan`). When two files declare the same id, the
    /// one `resolve` picks wins and the other is refused.
    public static func discover(in folders: [String]) -> (loaded: [LoadedPlugin], refused: [RefusedPlugin]) {
        let (candidates, skipped) = scan(folders)
        let (loaded, refused) = resolve(candidates) { load($0.path, manifest: $0.manifest) }
        return (loaded, skipped + refused)
    }

    /// Whether `name` is the file name of plugin `id` (`libnixactions-plugin-ID.so`).
    static func isNamed(_ name: String, for id: String) -> Bool { name == filePrefix + id + fileSuffix }

    /// The plugins of `candidates` in order, each loaded with `load`. When two files declare one
    /// id, a file named for that id wins over one named otherwise, else the first found; the
    /// other is refused. (So a registry that loads a plugin by its file name alone, `LazyPlugins`,
    /// picks the same file as loading them all.)
    static func resolve(
        _ candidates: [Candidate], load: (Candidate) -> Result<LoadedPlugin, RefusedPlugin>
    ) -> (loaded: [LoadedPlugin], refused: [RefusedPlugin]) {
        var loaded: [LoadedPlugin] = []
        var refused: [RefusedPlugin] = []
        for candidate in candidates {
            switch load(candidate) {
            case .success(let plugin):
                if let index = loaded.firstIndex(where: { $0.id == plugin.id }) {
                    let first = loaded[index]
                    let named = { (path: String) in isNamed((path as NSString).lastPathComponent, for: plugin.id) }
                    if named(candidate.path) && !named(first.path) {
                        loaded[index] = plugin
                        refused.append(RefusedPlugin(path: first.path, reason: "plugin id '\(plugin.id)' is already provided by \(candidate.path)"))
                    } else {
                        refused.append(RefusedPlugin(path: candidate.path, reason: "plugin id '\(plugin.id)' is already provided by \(first.path)"))
                    }
                } else {
                    loaded.append(plugin)
                }
            case .failure(let refusal):
                refused.append(refusal)
            }
        }
        return (loaded, refused)
    }

    /// Load one library, refusing anything unsafe, foreign or incompatible.
    public static func load(_ path: String) -> Result<LoadedPlugin, RefusedPlugin> {
        load(path, manifest: nil)
    }

    /// Load one library; when its folder keeps a `manifest`, the file must be listed with its hash.
    ///
    /// The trust checks, the hash and `dlopen` all use one open descriptor of the real file.
    static func load(_ path: String, manifest: PluginManifest?) -> Result<LoadedPlugin, RefusedPlugin> {
        func refuse(_ reason: String, errno: Int32? = nil) -> Result<LoadedPlugin, RefusedPlugin> {
            .failure(RefusedPlugin(path: path, reason: reason, errno: errno))
        }
        let real: String
        switch PluginTrust.realPath(path) {
        case .success(let resolved): real = resolved
        case .failure(let reason): return refuse("cannot read it: \(reason.text)", errno: reason.errno)
        }
        let folder = PathText.parent(real)
        if let problem = PluginTrust.folderProblem(folder.isEmpty ? "/" : folder) {
            let which = problem.folder == folder ? "its folder" : "the folder"
            return refuse("refused: \(which) '\(problem.folder)' \(problem.problem)")
        }
        var fd: Int32
        switch PluginTrust.open(real) {
        case .success(let opened): fd = opened
        case .failure(let reason): return refuse(reason.text, errno: reason.errno)
        }
        // The dynamic linker knows a loaded library by the name it was opened with and hands it
        // out again for that name: never reuse one, even if something closed our descriptor and
        // its number came back.
        while usedNames.withLock({ $0.contains("/proc/self/fd/\(fd)") }) {
            let other = fcntl(fd, F_DUPFD_CLOEXEC, fd + 1)
            let error = errno  // before close, which may change it
            close(fd)
            guard other >= 0 else { return refuse("cannot open it: \(String(cString: strerror(error)))", errno: error) }
            fd = other
        }
        let checked = "/proc/self/fd/\(fd)"
        // The record of the real file's folder too (a link from a folder without one must not
        // bypass it: docs/plugins.md, "the checks are on the real file and its real folders").
        let realFolder = folder.isEmpty ? "/" : folder
        let searchFolder = PathText.parent(path)
        let own = (try? PluginTrust.realPath(searchFolder.isEmpty ? "/" : searchFolder).get()) == realFolder
        let realManifest = own ? nil : PluginManifest.read(in: realFolder)
        if let problem = manifest?.problem(with: path, readingFrom: checked) ?? realManifest?.problem(with: real, readingFrom: checked) {
            close(fd)
            return refuse(problem)
        }
        usedNames.withLock { _ = $0.insert(checked) }
        guard let handle = dlopen(checked, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE) else {
            close(fd)
            let message = dlerror().map { String(cString: $0) } ?? "unknown error"
            return refuse("not a loadable library: \(message.replacingOccurrences(of: checked, with: path))")
        }
        // The descriptor stays open as long as the process: the dynamic linker now knows the library
        // by the name "/proc/self/fd/N" and would hand it out again for a later dlopen of that name,
        // so N must never be reused for another file.
        // Never dlclose: unloading Swift code crashes later conformance lookups.
        // The same file reached through another path (a link, a linked folder) is the same image:
        // its entry ran once already (plugin.h: "called once") and it keeps the services table it
        // got then, which owns its operations (review 50: a second table made every completion
        // of such a plugin ignored).
        if let known = loadedImages.withLock({ $0[UInt(bitPattern: handle)] }) { return .success(known.at(path)) }
        guard let symbol = dlsym(handle, NXA_ENTRY_SYMBOL) else {
            return refuse("not a NixActions plugin: it does not export '\(NXA_ENTRY_SYMBOL)'")
        }
        let entry = unsafeBitCast(symbol, to: nxa_plugin_entry_fn.self)
        let services = HostRuntime.shared.services(for: (path as NSString).lastPathComponent)
        let info = UnsafeMutablePointer<nxa_host_info>.allocate(capacity: 1)  // lives forever, like the plugin
        info.initialize(to: nxa_host_info(
            struct_size: UInt32(MemoryLayout<nxa_host_info>.size),
            abi_major: NXA_ABI_MAJOR, abi_minor: NXA_ABI_MINOR,
            host_version: UnsafePointer(strdup(hostVersion)),
            toolchain: UnsafePointer(strdup(hostToolchain)),
            services: services))

        if let stuck = stuckImages.withLock({ $0[UInt(bitPattern: handle)] }) { return refuse(stuck) }
        PluginExitGuard.loading(linkerName: checked, shown: "the plugin at \(path)")
        guard let (status, descriptorPointer, message) = callEntry(entry, info: UnsafePointer(info)) else {
            let problem = "its entry function did not return within \(entryDeadline) (it only fills in a descriptor); it is not used"
            stuckImages.withLock { $0[UInt(bitPattern: handle)] = problem }
            return refuse(problem)
        }
        if status != NXA_STATUS_OK {
            return refuse("the plugin refused this host (status \(status))\(message.isEmpty ? "" : ": \(message)")")
        }
        guard let descriptor = descriptorPointer else { return refuse("the entry function returned no descriptor") }
        let size = Int(descriptor.pointee.struct_size)
        guard size >= MemoryLayout<nxa_plugin>.size else {
            return refuse("its descriptor is \(size) bytes; ABI \(NXA_ABI_MAJOR) needs \(MemoryLayout<nxa_plugin>.size)")
        }
        let plugin = descriptor.pointee
        guard plugin.get_interface != nil else { return refuse("its descriptor has no get_interface function") }
        guard plugin.abi_major == NXA_ABI_MAJOR else {
            return refuse(
                "built for plugin ABI \(plugin.abi_major).\(plugin.abi_minor); this host speaks ABI \(NXA_ABI_MAJOR).\(NXA_ABI_MINOR)")
        }
        func text(_ pointer: UnsafePointer<CChar>?) -> String { pointer.map { String(cString: $0) } ?? "" }
        let toolchain = text(plugin.toolchain)
        if toolchain != "c" && toolchain != hostToolchain {
            return refuse("built with \(toolchain), but this host was built with \(hostToolchain) (the Swift ABI is not stable on Linux: rebuild the plugin)")
        }
        let id = text(plugin.id)
        guard !id.isEmpty, id.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" })
        else { return refuse("invalid plugin id '\(id)': use lowercase letters, digits and '-'") }
        var interfaces: [String] = []
        if var cursor = plugin.interfaces {
            while let name = cursor.pointee {
                interfaces.append(String(cString: name))
                cursor += 1
            }
        }
        var kinds: [String] = []
        if plugin.kinds & NXA_KIND_EXECUTOR != 0 { kinds.append("executor") }
        if plugin.kinds & NXA_KIND_SECRETS != 0 { kinds.append("secrets") }
        if plugin.kinds & NXA_KIND_CACHE != 0 { kinds.append("cache") }
        if plugin.kinds & NXA_KIND_FUNCTIONS != 0 { kinds.append("functions") }
        let loaded = LoadedPlugin(
            id: id, name: text(plugin.name), version: text(plugin.version), description: text(plugin.description),
            abiMajor: plugin.abi_major, abiMinor: plugin.abi_minor, toolchain: toolchain, kinds: kinds,
            interfaces: interfaces, path: path, descriptor: descriptor, owner: UInt(bitPattern: services.pointee.host_data))
        loadedImages.withLock { $0[UInt(bitPattern: handle)] = loaded }
        PluginExitGuard.loaded(linkerName: checked, id: id, path: path)
        return .success(loaded)
    }
}

/// The Swift toolchain this host was built with (plugins must match it).
let hostToolchain = toolchainTag
