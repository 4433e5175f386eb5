import CProcessSupport
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// How a child process ended.
public enum Termination: Sendable, Hashable {
    case exited(Int32)
    case signaled(Int32)
}

/// Why a process could not be started.
public struct SpawnError: Error, Sendable, CustomStringConvertible {
    public let command: String
    public let errno: Int32
    public var description: String {
        "cannot start '\(command)': \(String(cString: strerror(errno)))"
    }
}

/// A spawned child process that leads its own process group.
///
/// The whole tree started by the child shares the group (unless a descendant makes its own
/// session), so `signalGroup` and `terminate` reach grandchildren too.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    private let stdoutFD: Int32
    private let stderrFD: Int32
    private let pidFD: Int32
    private let finished = Atomic<Bool>(false)

    /// Spawn `arguments[0]` (looked up in PATH) with exactly `environment`.
    public init(arguments: [String], environment: [String: String], directory: String?) throws(SpawnError) {
        var pid: pid_t = 0
        var out: Int32 = -1
        var err: Int32 = -1
        var pidFD: Int32 = -1
        let envStrings = environment.map { "\($0.key)=\($0.value)" }
        let rc = withCStringArray(arguments) { argv in
            withCStringArray(envStrings) { envp in
                if let directory {
                    return directory.withCString { nxa_spawn(argv, envp, $0, &pid, &out, &err, &pidFD) }
                }
                return nxa_spawn(argv, envp, nil, &pid, &out, &err, &pidFD)
            }
        }
        guard rc == 0 else { throw SpawnError(command: arguments.first ?? "", errno: rc) }
        self.pid = pid
        self.stdoutFD = out
        self.stderrFD = err
        self.pidFD = pidFD
    }

    /// Send `signal` to the child's process group.
    public func signalGroup(_ signal: Int32) {
        guard !finished.load(ordering: .acquiring) else { return }
        _ = nxa_kill_group(pid, signal)
    }

    /// SIGKILL whatever is left in the child's process group, even after the leader exited and was
    /// reaped (background processes a step started). For job cleanup.
    public func killLeftovers() {
        _ = nxa_kill_group(pid, SIGKILL)
    }

    /// End the process tree: SIGTERM to the group, then SIGKILL after `grace` if still running.
    public func terminate(grace: Duration) {
        signalGroup(SIGTERM)
        let pid = self.pid
        let seconds = Double(grace.components.seconds) + Double(grace.components.attoseconds) / 1e18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
            // Kill the group even if the leader has exited: its children may linger.
            _ = nxa_kill_group(pid, SIGKILL)
            _ = self
        }
    }

    /// Block until the child exits, passing output chunks (fd 1 or 2) to `onOutput` in order.
    ///
    /// After the child exits, output still buffered in the pipes is delivered; a background
    /// process that keeps a pipe open does not hold the step: reading stops `drainAfterExit`
    /// after the exit once the pipes go quiet.
    public func wait(
        drainAfterExit: Duration = .milliseconds(100),
        onOutput: (Int32, UnsafeRawBufferPointer) -> Void
    ) -> Termination {
        var open: [(fd: Int32, stream: Int32)] = [(stdoutFD, 1), (stderrFD, 2)]
        var buffer = [UInt8](repeating: 0, count: 65536)
        var termination: Termination?
        let drainMillis = Int32(drainAfterExit.components.seconds * 1000 + drainAfterExit.components.attoseconds / 1_000_000_000_000_000)

        while !open.isEmpty {
            var fds = open.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
            let watchingExit = termination == nil && pidFD >= 0
            if watchingExit { fds.append(pollfd(fd: pidFD, events: Int16(POLLIN), revents: 0)) }
            let timeout: Int32 = termination != nil ? drainMillis : (pidFD >= 0 ? -1 : 50)
            let ready = poll(&fds, nfds_t(fds.count), timeout)
            if ready < 0 {
                if errno == EINTR { continue }
                break
            }
            if ready == 0 {
                if termination != nil { break }  // exited and the pipes went quiet
                if pidFD < 0, let status = reap(blocking: false) { termination = status }
                continue
            }
            var closed: [Int32] = []
            for index in 0..<open.count where fds[index].revents != 0 {
                let count = buffer.withUnsafeMutableBytes { read(open[index].fd, $0.baseAddress, $0.count) }
                if count > 0 {
                    buffer.withUnsafeBytes { onOutput(open[index].stream, UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    closed.append(open[index].fd)
                }
            }
            for fd in closed {
                close(fd)
                open.removeAll { $0.fd == fd }
            }
            if watchingExit, let last = fds.last, last.revents != 0, termination == nil {
                termination = reap(blocking: true)
            }
        }
        for entry in open { close(entry.fd) }
        let result = termination ?? reap(blocking: true) ?? .exited(-1)
        if pidFD >= 0 { close(pidFD) }
        finished.store(true, ordering: .releasing)
        return result
    }

    private func reap(blocking: Bool) -> Termination? {
        var status: Int32 = 0
        while true {
            let rc = waitpid(pid, &status, blocking ? 0 : WNOHANG)
            if rc == pid { break }
            if rc == 0 { return nil }
            if rc < 0 && errno == EINTR { continue }
            return .exited(-1)
        }
        let signal = status & 0x7f
        if signal == 0 { return .exited((status >> 8) & 0xff) }
        return .signaled(signal)
    }
}

/// Call `body` with a NULL-terminated C array of the strings.
func withCStringArray<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>) -> R) -> R {
    let pointers = strings.map { strdup($0) }
    defer { pointers.forEach { free($0) } }
    var array: [UnsafePointer<CChar>?] = pointers.map { UnsafePointer($0) }
    array.append(nil)
    return array.withUnsafeBufferPointer { body($0.baseAddress!) }
}
