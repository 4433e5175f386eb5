import Synchronization

/// Values a one-shot command leaves to the kernel instead of freeing them one by one: the process
/// ends right after, and the kernel takes all of its memory back at once. Freeing the YAML tree of
/// a 2,000-job workflow, then its `Workflow`, cost `validate` about 10 ms of its 140
/// (docs/benchmarks.md, round 16). The same idea as clang's `-disable-free`.
///
/// Off unless a command turns it on (`validate`, `list`, `graph`): a long-lived process, such as the
/// test runner, frees everything as usual.
public enum FreeAtExit {
    private static let enabled = Atomic<Bool>(false)
    /// Only held, never read: any value will do, Sendable or not (a Yams node is not).
    private struct Held: @unchecked Sendable { let value: Any }
    private static let kept = Mutex<[Held]>([])

    /// From now on, `keep` holds what it is given until the process exits. For the executable's
    /// entry point only (`CommandLineTool.main(_:exitsAfter:)`): there is no way back, and a long-lived
    /// process would keep every tree it loads. Each file's tree is kept, so `validate a.yml b.yml …`
    /// holds all of them at its end.
    package static func enable() { enabled.store(true, ordering: .relaxed) }

    /// Hold `value` until exit when enabled; otherwise do nothing (it is freed as usual).
    package static func keep(_ value: Any) {
        guard enabled.load(ordering: .relaxed) else { return }
        kept.withLock { $0.append(Held(value: value)) }
    }
}
