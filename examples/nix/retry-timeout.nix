# Retry and timeout at three levels (workflow > job > action; the nearest wins, field by
# field for retry), in the original NixActions style. Timeouts are strings ("30s", "5m",
# "1h") or integers (seconds); null switches an inherited setting off.
{ pkgs, nixactions, executor ? nixactions.executors.local }:

nixactions.mkWorkflow {
  name = "retry-timeout";

  # Workflow level: the default for every action of every job.
  timeout = "10m";
  retry = {
    max_attempts = 2;
    backoff = "exponential";
    min_time = 1;
    max_time = 30;
  };

  jobs = {
    flaky = {
      inherit executor;
      # Job level: overrides the workflow's for this job's actions.
      timeout = 300;
      retry = { max_attempts = 3; backoff = "linear"; min_time = 2; max_time = 10; };
      actions = [
        {
          name = "fail-twice-then-succeed";
          bash = ''
            STATE="$PWD/.attempts"
            n=$(( $(cat "$STATE" 2>/dev/null || echo 0) + 1 ))
            echo "$n" > "$STATE"
            echo "attempt $n"
            [ "$n" -ge 3 ]
          '';
        }
        {
          name = "constant-backoff";
          # Action level: the nearest setting wins.
          retry = { max_attempts = 4; backoff = "constant"; min_time = 1; };
          timeout = "30s";
          bash = "true";
        }
      ];
    };

    slow = {
      needs = [ "flaky" ];
      inherit executor;
      continueOnError = true;          # the job may fail without failing the workflow
      actions = [
        {
          name = "times-out";
          timeout = "2s";
          retry = null;                # no retry for this action
          bash = "sleep 100";
        }
        {
          name = "after-the-timeout";
          continueOnError = true;
          bash = "echo 'runs: the job continues on error'";
        }
      ];
    };

    unlimited = {
      needs = [ "slow" ];
      inherit executor;
      timeout = null;                  # no timeout for this job's actions
      retry = null;                    # and no retry
      actions = [ { name = "long"; bash = "sleep 1"; timeout = "1h"; } ];
    };
  };
}
