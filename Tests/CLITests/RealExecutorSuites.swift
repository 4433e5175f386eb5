import Testing

/// Suites that must not overlap run one after another: those that drive real podman containers
/// and sshd servers (engines, servers, namespaces), and those with timing checks (the chaos
/// suite's second Ctrl-C under 2 s, the linear-time bounds on 20,000 jobs). Several of them at
/// once on a 2-core machine made the timing checks fail in clean-clone runs.
@Suite("Heavy and timing-sensitive suites, one at a time", .serialized)
struct RealExecutorSuites {}

extension RealExecutorSuites {
    /// A job (YAML under `jobs:`) on `executor` whose first step leaves a member of its process
    /// group that ignores SIGTERM and times out; its cleanup step says whether that member is
    /// gone (`[ignorer] the ignorer is gone`) when it starts (audit 66 remote M1).
    static func ignorerJob(executor: String) -> String {
        """
          ignorer:
            executor: \(executor)
            steps:
              - run: |
                  ( trap '' TERM; while :; do sleep 0.2; done ) &
                  echo $! > "$RUNNER_TEMP/ignorer"
                  sleep 300
                timeout: 2s
              - if: always()
                run: |
                  pid=$(cat "$RUNNER_TEMP/ignorer")
                  state=$(cut -d' ' -f3 /proc/$pid/stat 2>/dev/null) || state=
                  case "$state" in ''|Z) echo "the ignorer is gone" ;; *) echo "the ignorer still runs ($state)" ;; esac
        """
    }
}
