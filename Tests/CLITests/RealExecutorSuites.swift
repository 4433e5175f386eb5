import Testing

/// The suites that drive real podman containers and sshd servers run one after another: each
/// starts engines, servers and namespaces, and several at once on a 2-core machine slowed the
/// timing checks of other suites (the chaos suite's second Ctrl-C, cancellation deadlines).
@Suite("Executors on real podman and sshd, one suite at a time", .serialized)
struct RealExecutorSuites {}
