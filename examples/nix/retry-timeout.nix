# Retry and timeout at three levels in the original NixActions style: the workflow's and a
# job's `retry` and `timeout` are defaults for each action; the nearest level wins, field by
# field for retry. Timeouts are integers (seconds) or "30s", "5m", "1h"; null switches an
# inherited setting off. Retry waits are in seconds. retry-timeout.yml is the same workflow
# in YAML. It runs in about 4 seconds and succeeds.
{ pkgs, nixactions, executor ? nixactions.executors.local }:

nixactions.mkWorkflow {
  name = "retry-timeout";

  # Workflow level: every action of every job.
  timeout = "30s";
  retry = {
    max_attempts = 2;
    backoff = "constant";
    min_time = 1;
    max_time = 10;
  };

  jobs = {
    # Only the workflow's settings: 2 attempts, 1 second apart.
    inherits = {
      inherit executor;
      actions = [
        {
          name = "fails-once";
          bash = ''
            # The workspace stays between attempts: count them in a file there.
            n=$(( $(cat .attempts 2>/dev/null || echo 0) + 1 ))
            echo "$n" > .attempts
            echo "fails-once: attempt $n"
            [ "$n" -ge 2 ]
          '';
        }
      ];
    };

    # Job level: 3 attempts; backoff and min_time still come from the workflow (field by field).
    flaky = {
      inherit executor;
      retry = { max_attempts = 3; };
      actions = [
        {
          name = "fails-twice";
          bash = ''
            n=$(( $(cat .attempts 2>/dev/null || echo 0) + 1 ))
            echo "$n" > .attempts
            echo "fails-twice: attempt $n"
            [ "$n" -ge 3 ]
          '';
        }
        {
          name = "no-retry";
          retry = null;                  # action level: no retry for this action
          bash = ''echo "no-retry: one attempt is enough"'';
        }
      ];
    };

    # Job level timeout: each action gets 1 second unless it says otherwise.
    timeouts = {
      inherit executor;
      timeout = 1;
      actions = [
        {
          name = "too-slow";
          continueOnError = true;       # the timeout fails this action; the job goes on
          bash = ''
            echo "too-slow: starting"
            sleep 5
            echo "never printed"
          '';
        }
        {
          name = "own-timeout";
          timeout = "10s";              # action level: the nearest wins
          bash = ''
            sleep 1.5
            echo "own-timeout: finished within its own 10s"
          '';
        }
      ];
    };
  };
}
