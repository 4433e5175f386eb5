import Testing

/// Suites that must not overlap run one after another: those that drive real podman containers
/// and sshd servers (engines, servers, namespaces), and those with timing checks (the chaos
/// suite's second Ctrl-C under 2 s, the linear-time bounds on 20,000 jobs). Several of them at
/// once on a 2-core machine made the timing checks fail in clean-clone runs.
@Suite("Heavy and timing-sensitive suites, one at a time", .serialized)
struct RealExecutorSuites {}
