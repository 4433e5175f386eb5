// The executable is thin: everything lives in the NixActionsCLI library, testable in process.
import CProcessSupport
import Foundation
import NIOCore
import NIOPosix
import NixActionsCLI
import NixActionsEngine
import NixActionsPluginHost

// malloc takes 16 MiB more than asked each time a heap grows: a thread's arena otherwise grows one
// mprotect call at a time (2,357 calls in a `validate` of a 2,000-job file, about a tenth of its
// CPU; 38 with this). Pages of the pad cost memory only once used; freed memory up to the pad is
// kept for reuse. Peak RSS: +1 MiB on a run printing 160 MB, +3 MiB on that validate
// (docs/benchmarks.md, round 23).
_ = nxa_malloc_top_pad(16 << 20)
// The open-files limit is raised and room checked before anything opens a descriptor: libdispatch's
// threads and SwiftNIO's event loops (`run`, below) stop the process when they cannot make theirs.
// Too few free is an error that says so.
if let problem = OpenFilesRoom.check(run: CommandLine.arguments.dropFirst().first == "run") {
    FileHandle.standardError.write(Data("error: \(problem)\n".utf8))
    exit(2)
}
// A crash of the host (or of a plugin in it) says the signal and the return addresses, never
// memory: Swift's backtracer prints 16 bytes at each register, which may be a secret the output
// pipeline was masking (audit 63 secrets M2). No core file of a process that holds secrets: the
// soft core limit is 0 (steps start with it, as on GitHub's runners; `ulimit -c` raises it to the
// hard limit). Not PR_SET_DUMPABLE: it hides /proc/PID/environ from processes of the same user,
// where a run without cgroup v2 finds a nested nixactions to end it (review 63 M1).
// SWIFT_BACKTRACE in the environment asks for Swift's backtrace: both as before.
let swiftBacktrace = getenv("SWIFT_BACKTRACE") != nil
nxa_crash_install(swiftBacktrace ? 1 : 0)
if !swiftBacktrace { _ = nxa_no_core_dumps() }
// TMPDIR names the folder it resolves to from here on: a symbolic link on its way that another
// user owns cannot be repointed under the run (audit 64 users H1).
TemporaryFolderSetting.resolve()
// SIGINT, SIGTERM and SIGHUP go to one thread of ours (blocked here, before any thread exists).
SignalHub.start()
// A closed output pipe must not kill the run before it cleans up: writes then fail with EPIPE.
signal(SIGPIPE, SIG_IGN)
// A file-size limit (`ulimit -f`) must not kill it either: writes then fail with EFBIG, said as
// for a full disk (audit 61 L1). Steps start with default dispositions (ProcessKit).
signal(SIGXFSZ, SIG_IGN)
// `run`: Swift's tasks go to SwiftNIO's event loops (one thread per core) instead of libdispatch's
// cooperative pool. A task resumed on a loop thread stays on it (on the pool it goes to a shared
// queue and a sleeping thread is woken to take it), and a run of short jobs is a chain of such
// resumptions: about 10% faster (docs/architecture.md, "Threads"; docs/benchmarks.md, round 11).
// Nothing blocks a task's thread (blocking waits have threads of their own: ProcessKit's
// WaiterPool), which either pool requires. Before any task is enqueued;
// NIXACTIONS_TASK_POOL=dispatch keeps libdispatch's pool.
if CommandLine.arguments.dropFirst().first == "run", getenv("NIXACTIONS_TASK_POOL").map({ String(cString: $0) }) != "dispatch" {
    if NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor() {
        // The run's tasks that prefer HandOffExecutor and may not go on where they are resumed go
        // to the same loops (Swift's `globalConcurrentExecutor` would take them to libdispatch's pool).
        let loops = NIOSingletons.posixEventLoopGroup
        HandOffExecutor.pool = { job in
            loops.next().execute { job.runSynchronously(on: HandOffExecutor.shared.asUnownedTaskExecutor()) }
        }
    }
}
// A plugin that calls exit() is told from the host's own exit (PluginExitGuard).
PluginExitGuard.enable()
let status = await CommandLineTool.main(Array(CommandLine.arguments.dropFirst()), exitsAfter: true)
PluginExitGuard.hostExits()
exit(status)
