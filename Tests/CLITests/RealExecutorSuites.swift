import Testing

/// Suites that must not overlap run one after another: those that drive real podman containers
/// and sshd servers (engines, servers, namespaces), and those with timing checks (the chaos
/// suite's second Ctrl-C under 2 s, the linear-time bounds on 20,000 jobs). Several of them at
/// once on a 2-core machine made the timing checks fail in clean-clone runs.
@Suite("Heavy and timing-sensitive suites, one at a time", .serialized)
struct RealExecutorSuites {}

extension RealExecutorSuites {
    /// Whether what a member of the ignorer's timed-out step printed in its grace is that step's
    /// output, shown before the step's end and not with the cleanup step (audit 67 remote N5: ssh
    /// showed it with the next step, oci dropped it).
    static func saidInGrace(_ stdout: String) -> Bool {
        guard let said = stdout.range(of: "[ignorer] said in the grace\n"), let ended = stdout.range(of: "[ignorer] ✗ ") else { return false }
        return said.lowerBound < ended.lowerBound
    }

    /// A job (YAML under `jobs:`) on `executor` whose first step leaves a member of its process
    /// group that ignores SIGTERM and times out; its cleanup step says whether that member is
    /// gone (`[ignorer] the ignorer is gone`) when it starts (audit 66 remote M1). Another member
    /// traps SIGTERM and prints `said in the grace` (`saidInGrace`).
    static func ignorerJob(executor: String) -> String {
        """
          ignorer:
            executor: \(executor)
            steps:
              - run: |
                  ( trap '' TERM; while :; do sleep 0.2; done ) &
                  echo $! > "$RUNNER_TEMP/ignorer"
                  ( trap 'sleep 0.3; echo "said in the grace"; exit 0' TERM; while :; do sleep 0.1; done ) &
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
