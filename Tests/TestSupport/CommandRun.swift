import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// How long one command a test runs may take before it is killed: the suite never waits for ever
/// on a run that hangs (CI has a time limit for the whole suite; a hung command would use it up
/// and say nothing). Far above what any test's command takes (the slowest take about a minute on
/// a busy machine); `NIXACTIONS_TEST_COMMAND_SECONDS` changes it.
public let commandTimeLimit: Duration = .seconds(
    Int(ProcessInfo.processInfo.environment["NIXACTIONS_TEST_COMMAND_SECONDS"] ?? "") ?? 900)

/// How long the output of a command that has exited is read for when something it started still
/// holds its pipes open (a process the run left behind): then the reading stops and says who.
public let outputDrainAfterExit: Duration = .seconds(60)

/// Run `arguments` (the first an executable's path) to completion, blocking the calling thread:
/// both outputs read as they come (poll), `input` written to standard input (nil: /dev/null).
///
/// Not Foundation's `Process` (see `LaunchedProcess`: it lost the ends of children, and a test
/// then waited for ever). A command over `commandTimeLimit` is killed with its process group, and
/// output held open past `outputDrainAfterExit` after the exit is left unread; both are said at the
/// end of `stderr`, with the processes involved, so a hang is a failure that names its cause.
public func runToCompletion(_ arguments: [String], in directory: String? = nil, environment: [String: String], input: Data? = nil,
                            limit: Duration = commandTimeLimit, drain: Duration = outputDrainAfterExit) throws -> CommandResult {
    let out = try ChildPipe(), err = try ChildPipe()
    let inPipe = try input.map { _ in try ChildPipe(forInput: true) }
    let process = try LaunchedProcess(arguments, in: directory, environment: environment, input: inPipe?.reading,
                                      output: out.writing, errors: err.writing)
    let started = ContinuousClock.now
    out.closeChildEnd()
    err.closeChildEnd()
    inPipe?.closeChildEnd()
    if let inPipe, let input {
        Thread.detachNewThread {
            try? inPipe.writing.write(contentsOf: input)
            try? inPipe.writing.close()
        }
    }
    let outFD = out.reading.fileDescriptor, errFD = err.reading.fileDescriptor
    var collected: [Int32: [UInt8]] = [outFD: [], errFD: []]
    var open = [outFD, errFD]
    var exited: ContinuousClock.Instant?
    var notes: [String] = []
    var killed = false
    let deadline = started + limit
    func killIfLate() {
        guard !killed, ContinuousClock.now >= deadline else { return }
        killed = true
        notes.append("[test harness: killed after \(limit) (commandTimeLimit): \(arguments.joined(separator: " "))\n"
                     + processTree(process.processIdentifier) + "]")
        kill(-process.processIdentifier, SIGKILL)
        kill(process.processIdentifier, SIGKILL)
    }
    var buffer = [UInt8](repeating: 0, count: 65536)
    while !open.isEmpty {
        var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        let ready = poll(&fds, nfds_t(fds.count), 100)
        if ready > 0 {
            for entry in fds where entry.revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    collected[entry.fd, default: []] += buffer[0..<count]
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    open.removeAll { $0 == entry.fd }
                }
            }
        }
        if exited == nil, !process.isRunning { exited = ContinuousClock.now }
        if let exited, ContinuousClock.now - exited > drain {
            notes.append("[test harness: the output was still held open \(drain) after the command exited; left unread. "
                         + "Holders:\n" + pipeHolders(open) + "]")
            break
        }
        if exited == nil { killIfLate() }
    }
    // Both pipes closed (or given up on): wait for the exit, still within the limit.
    var pause: UInt32 = 200
    while exited == nil {
        if !process.isRunning { exited = ContinuousClock.now; break }
        killIfLate()
        usleep(pause)
        pause = min(pause * 2, 20_000)
    }
    let status = process.terminationStatus
    var errText = String(decoding: collected[errFD] ?? [], as: UTF8.self)
    if !notes.isEmpty { errText += (errText.isEmpty || errText.hasSuffix("\n") ? "" : "\n") + notes.joined(separator: "\n") + "\n" }
    let elapsed = (exited ?? ContinuousClock.now) - started
    return CommandResult(status: status, stdout: String(decoding: collected[outFD] ?? [], as: UTF8.self), stderr: errText,
                         seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}

/// The processes descended from `root` (by parent), a line each (`processReport`).
func processTree(_ root: pid_t) -> String {
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return "(no /proc)" }
    var parentOf: [pid_t: pid_t] = [:]
    for name in names {
        guard let pid = pid_t(name), let fields = statFields(pid), fields.count > 1, let parent = pid_t(fields[1]) else { continue }
        parentOf[pid] = parent
    }
    var tree: [pid_t] = [root]
    var index = 0
    while index < tree.count {
        let parent = tree[index]
        tree += parentOf.filter { $0.value == parent }.map(\.key).sorted()
        index += 1
    }
    return tree.map(processReport).joined(separator: "\n")
}

/// Processes holding the write end of the pipes whose read ends are `fds` (other than this one).
func pipeHolders(_ fds: [Int32]) -> String {
    var inodes: Set<String> = []
    for fd in fds {
        var info = stat()
        if fstat(fd, &info) == 0 { inodes.insert("pipe:[\(info.st_ino)]") }
    }
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return "(no /proc)" }
    var holders: [pid_t] = []
    for name in names {
        guard let pid = pid_t(name), pid != getpid(),
              let links = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(name)/fd") else { continue }
        if links.contains(where: { (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(name)/fd/\($0)")).map(inodes.contains) ?? false }) {
            holders.append(pid)
        }
    }
    return holders.isEmpty ? "(none found)" : holders.sorted().map(processReport).joined(separator: "\n")
}
