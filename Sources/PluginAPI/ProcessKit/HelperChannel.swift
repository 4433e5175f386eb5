import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Steps run by a helper process that lives somewhere this process cannot spawn into directly
/// (inside a container), talking over named pipes in a folder both sides see.
///
/// The helper holds `requests` open for reading and writing, reads one step number per line,
/// runs that step with its standard output and error on the pipes `out-N` and `err-N`, and when
/// the step's process has exited writes its exit status to `status-N`. This side creates the
/// three pipes before asking, and opens them for reading *and* writing, so that opening never
/// blocks and no end of file arrives early. When the status arrives, everything the step wrote
/// is already in the pipes (its writes completed before it exited), so reading them until they
/// are empty gives the whole output: exact, with no drain time. What a background process of the
/// step writes afterwards is read and dropped (the local executor keeps 200 ms of it), but for a
/// cancelled step's group in its grace, which is still the step's.
///
/// Starting a step costs a few system calls here and a fork in the helper, where an engine's
/// `exec` costs a new process in the container runtime (about 0.2 s with podman and runc).
public struct HelperChannel: Sendable {
    /// The folder holding `requests` and the steps' pipes.
    public let folder: String
    /// The user the helper runs as when it is not root: the pipes are made theirs (still 0600).
    public let owner: FileOwner?

    public init(folder: String, owner: FileOwner? = nil) {
        self.folder = folder
        self.owner = owner
    }

    public enum Outcome: Sendable, Equatable {
        /// The helper reported the step's exit status (128+N for a signal, as a shell does).
        case exited(Int32)
        /// Nobody reads the requests: the helper (its container) is gone.
        case helperGone
        /// Cancelled, and no status came within the time given after the cancel.
        case abandoned
    }

    /// Make the requests pipe (before the helper starts).
    public func prepare() -> Int32? {
        guard mkfifo(folder + "/requests", 0o600) == 0 || errno == EEXIST else { return errno }
        return owner?.apply(to: folder + "/requests")
    }

    /// Ask the helper to run step `number` and stream its output to `onOutput` (fd 1 or 2) until
    /// it reports the exit status. On cancel, `onCancel` runs (it should end the step there);
    /// the wait then ends when the status comes or `abandonAfter` has passed. `onSecret` is as
    /// `ChildProcess.wait`'s. A cancelled step whose status came is still the step while
    /// `stepEnded` says false (its group's members in their grace): what they write goes to
    /// `onOutput` too, until it says true or `abandonAfter` has passed since the cancel (audit 67
    /// remote N5: it was dropped).
    public func run(
        _ number: Int, abandonAfter: Duration, startTimeout: Duration = .seconds(10),
        onCancel: @escaping @Sendable () -> Void,
        stepEnded: (@Sendable () -> Bool)? = nil,
        onSecret: (@Sendable ([UInt8]) -> Void)? = nil,
        onOutput: @escaping @Sendable (Int32, UnsafeRawBufferPointer) -> Void
    ) async throws(SpawnError) -> Outcome {
        let names = ["out-\(number)", "err-\(number)", "status-\(number)"].map { folder + "/" + $0 }
        var fds: [Int32] = []
        defer {
            // What a background process of the step writes later is read and dropped until it
            // ends (`LeftoverOutput`, as the local executor does): with no reader left, its next
            // line killed it with SIGPIPE, a server started with `&` among them (audit 67 remote
            // N3). Opened while this side's ends still write, so that the pipe reports its end
            // once the last writer goes.
            let leftovers = names.prefix(2).map { open($0, O_RDONLY | O_NONBLOCK | O_CLOEXEC) }.filter { $0 >= 0 }
            // Unlinked first: a helper that opens one of them late must not find it without a reader.
            for name in names { unlink(name) }
            for fd in fds { close(fd) }
            LeftoverOutput.shared.drain(leftovers)
        }
        for name in names {
            guard mkfifo(name, 0o600) == 0 || errno == EEXIST else { throw SpawnError(command: "mkfifo " + name, errno: errno) }
            if let error = owner?.apply(to: name) { throw SpawnError(command: "chown " + name, errno: error) }
            let fd = open(name, O_RDWR | O_NONBLOCK | O_CLOEXEC)
            guard fd >= 0 else { throw SpawnError(command: "open " + name, errno: errno) }
            fds.append(fd)
        }
        let cancelled = CancelFlag()
        let descriptors = fds
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Outcome, Never>) in
                // Blocking waits: on a thread of its own, never on Swift's cooperative pool.
                WaiterPool.shared.run {
                    continuation.resume(returning: self.exchange(number, fds: descriptors, startTimeout: startTimeout, abandonAfter: abandonAfter,
                                                                 cancelled: cancelled, stepEnded: stepEnded, onSecret: onSecret, onOutput: onOutput))
                }
            }
        } onCancel: {
            cancelled.value.store(true, ordering: .releasing)
            onCancel()
        }
    }

    final class CancelFlag: Sendable {
        let value = Atomic<Bool>(false)
    }

    /// Whether the helper reads its requests (it holds the pipe open while it lives).
    func helperAlive() -> Bool {
        let fd = open(folder + "/requests", O_WRONLY | O_NONBLOCK | O_CLOEXEC)
        if fd >= 0 { close(fd) }
        return fd >= 0
    }

    private func exchange(
        _ number: Int, fds: [Int32], startTimeout: Duration, abandonAfter: Duration, cancelled: CancelFlag,
        stepEnded: (() -> Bool)?, onSecret: (([UInt8]) -> Void)?, onOutput: (Int32, UnsafeRawBufferPointer) -> Void
    ) -> Outcome {
        let clock = ContinuousClock()
        // The request. The helper may not have opened the pipe yet right after its container started.
        let startBy = clock.now + startTimeout
        var request: Int32 = -1
        while true {
            request = open(folder + "/requests", O_WRONLY | O_NONBLOCK | O_CLOEXEC)
            if request >= 0 || errno != ENXIO || clock.now >= startBy || cancelled.value.load(ordering: .acquiring) { break }
            usleep(5_000)
        }
        guard request >= 0 else { return .helperGone }
        let line = Array("\(number)\n".utf8)
        let written = line.withUnsafeBytes { write(request, $0.baseAddress, $0.count) }
        close(request)
        guard written == line.count else { return .helperGone }

        var buffer = [UInt8](repeating: 0, count: 65536)
        var status: [UInt8] = []
        var abandonAt: ContinuousClock.Instant?
        var order = TwoPipeOutput(stdout: fds[0], stderr: fds[1], onSecret: onSecret)
        /// Read what is in the ready pipes now, each chunk delivered as `TwoPipeOutput` orders it
        /// (it reads the other pipe as it needs).
        func pass(_ ready: [Int32]) {
            for (index, fd) in fds.prefix(2).enumerated() where ready.contains(fd) {
                while true {
                    let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if count > 0 {
                        buffer.withUnsafeBytes {
                            _ = order.deliver(UnsafeRawBufferPointer(rebasing: $0[0..<count]), from: index, otherOpen: true, onOutput: onOutput)
                        }
                        if count < buffer.count { break }
                    } else if count < 0 && errno == EINTR {
                        continue
                    } else {
                        break
                    }
                }
            }
        }
        while true {
            var polled = fds.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&polled, nfds_t(polled.count), 250)
            if ready < 0 && errno != EINTR { return .helperGone }
            if cancelled.value.load(ordering: .acquiring) {
                if abandonAt == nil { abandonAt = clock.now + abandonAfter }
                if let abandonAt, clock.now >= abandonAt { return .abandoned }
            }
            if ready > 0 {
                pass(zip(fds, polled).filter { $0.1.revents != 0 }.map(\.0))
                if polled[2].revents != 0 {
                    let count = buffer.withUnsafeMutableBytes { read(fds[2], $0.baseAddress, $0.count) }
                    if count > 0 { status += buffer[0..<count] }
                    if status.last == UInt8(ascii: "\n") {
                        // Everything the step wrote is in the pipes now.
                        pass([fds[0], fds[1]])
                        // Cancelled: its group's members may still write in their grace.
                        if let stepEnded, cancelled.value.load(ordering: .acquiring) {
                            // `abandonAt` is the cancel's time plus `abandonAfter` already (review 68 L5).
                            let until = abandonAt ?? clock.now + abandonAfter
                            while !stepEnded() && clock.now < until {
                                var outputs = fds.prefix(2).map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
                                if poll(&outputs, nfds_t(outputs.count), 50) > 0 {
                                    pass(zip(fds, outputs).filter { $0.1.revents != 0 }.map(\.0))
                                }
                            }
                            pass([fds[0], fds[1]])
                        }
                        let text = String(decoding: status.dropLast(), as: UTF8.self)
                        return .exited(Int32(text.trimmingCharacters(in: .whitespaces)) ?? 255)
                    }
                }
                continue
            }
            if !helperAlive() {
                pass([fds[0], fds[1]])
                return .helperGone
            }
        }
    }
}
