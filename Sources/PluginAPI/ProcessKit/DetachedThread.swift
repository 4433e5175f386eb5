#if canImport(Glibc)
    import Glibc
#endif

/// A detached thread made with `pthread_create`, whose failure is seen: Foundation's
/// `Thread.start()` ignores one (audit 57 H1: a step's waiter was never made, and the step never
/// ended). The host's signal reader, its deadline thread and the process waiters start theirs here.
public enum DetachedThread {
    /// Start `body` on a new detached thread with a stack of `stackSize` bytes; 0, or the errno of
    /// `pthread_create` (EAGAIN: a limit of processes, threads or memory is reached).
    public static func start(stackSize: Int, _ body: @escaping () -> Void) -> Int32 {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, stackSize)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        let box = Unmanaged.passRetained(Body(body))
        var thread = pthread_t()
        let made = pthread_create(&thread, &attributes, { raw in
            Unmanaged<Body>.fromOpaque(raw!).takeRetainedValue().run()
            return nil
        }, box.toOpaque())
        if made != 0 { box.release() }
        return made
    }

    /// The body, kept alive across `pthread_create`.
    private final class Body {
        let run: () -> Void
        init(_ run: @escaping () -> Void) { self.run = run }
    }
}
