import CProcessSupport
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A plugin runs inside the host's process: one that calls `exit()` (or a library of its that
/// does) ends the run where it stands, with the plugin's status (0 looked like success), its
/// buffered logs and events lost and nothing said (audit 50). Once the executable `enable`s it,
/// an `atexit` handler registered as the first plugin loads tells such an exit from the host's
/// own (`hostExits`, called just before it): it names the plugin from the calling thread's
/// frames, runs the run's cleanup (`setCleanup`: record why, flush the logs) and ends the process
/// with status 1; the run's supervisor then ends its processes and closes its events, as after a
/// crash (a signal, which is not an exit and needs none of this).
public enum PluginExitGuard {
    struct State {
        var enabled = false
        var registered = false
        /// The dynamic linker's name of each plugin image ("/proc/self/fd/N") → how to name it.
        var images: [String: String] = [:]
        var cleanup: (@Sendable (String) -> Void)?
    }

    static let state = Mutex(State())
    /// Set by `hostExits`: the exit that follows is the host's own.
    static let expected = Atomic<Bool>(false)
    /// Only the first unexpected exit is handled (a cleanup that exits again is not).
    static let handling = Atomic<Bool>(false)
    /// The process the handler was registered in: a child a plugin forked inherits the handler,
    /// and its own exit() is none of the run's business (review 51: it wrote into the run's events).
    static let process = Atomic<Int32>(0)

    /// The process ends when the command returns (the executable, not a test calling it in
    /// process): a plugin's `exit` is caught from the first plugin load on.
    public static func enable() {
        state.withLock { $0.enabled = true }
    }

    /// The host is about to exit by itself: the handler lets it.
    public static func hostExits() {
        expected.store(true, ordering: .sequentiallyConsistent)
    }

    /// What the run does when a plugin ended the process: `body` gets the message (already
    /// printed); it records the message and flushes the logs.
    public static func setCleanup(_ body: (@Sendable (String) -> Void)?) {
        state.withLock { $0.cleanup = body }
    }

    /// A plugin image is about to run code (its entry function): `linkerName` is what dlopen was
    /// given, `shown` how messages name it.
    static func loading(linkerName: String, shown: String) {
        let (register, enabled) = state.withLock { state -> (Bool, Bool) in
            state.images[linkerName] = shown
            guard state.enabled, !state.registered else { return (false, state.enabled) }
            state.registered = true
            return (true, true)
        }
        // A crash in the image's code names it too (audit 61 ABI M3: only "Segmentation fault").
        if enabled { _ = nxa_crash_name_image(linkerName, shown) }
        if register {
            process.store(getpid(), ordering: .sequentiallyConsistent)
            atexit { PluginExitGuard.unexpectedExit() }
        }
    }

    /// The image's plugin id, once known.
    static func loaded(linkerName: String, id: String, path: String) {
        let shown = "plugin '\(id)' (\(path))"
        let enabled = state.withLock { state -> Bool in
            state.images[linkerName] = shown
            return state.enabled
        }
        if enabled { _ = nxa_crash_name_image(linkerName, shown) }
    }

    static func unexpectedExit() {
        guard getpid() == process.load(ordering: .sequentiallyConsistent), !expected.load(ordering: .sequentiallyConsistent),
            !handling.exchange(true, ordering: .sequentiallyConsistent)
        else { return }
        // A lock the exiting thread holds would never be released: then the plugin goes unnamed
        // and the cleanup is skipped, rather than the process hanging at its exit.
        // Another thread holds it only for a moment: tried for up to 100 ms.
        var snapshot: ([String: String], (@Sendable (String) -> Void)?)?
        for _ in 0..<100 {
            snapshot = state.withLockIfAvailable { ($0.images, $0.cleanup) }
            if snapshot != nil { break }
            usleep(1000)
        }
        let culprit = snapshot.flatMap { callerImage(in: $0.0) } ?? "a plugin (or a library one uses)"
        // Only a run sets a cleanup; another command (plugins, cache, validate) just stops.
        let running = snapshot?.1 != nil
        let message = "\(culprit) ended the process with exit() \(running ? "during the run: the run stops here" : "while nixactions ran"), "
            + "with status 1" + (running ? "; its processes are ended, and the jobs that had not finished have no result" : "")
        let line = "\nnixactions: error: " + message + "\n"
        _ = line.utf8CString.withUnsafeBufferPointer { write(STDERR_FILENO, $0.baseAddress, $0.count - 1) }
        snapshot?.1?(message)
        _ = nxa_flush_stdout()  // what `print` holds (_exit skips stdio's flush)
        _exit(1)
    }

    /// The first plugin image among the calling thread's frames, by its dynamic linker name.
    static func callerImage(in images: [String: String]) -> String? {
        var names = [UnsafePointer<CChar>?](repeating: nil, count: 64)
        let count = Int(names.withUnsafeMutableBufferPointer { nxa_frame_images($0.baseAddress, Int32($0.count)) })
        for name in names.prefix(max(0, count)) {
            if let name, let shown = images[String(cString: name)] { return shown }
        }
        return nil
    }
}
