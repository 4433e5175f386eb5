# Conditions in the original NixActions style. A condition is one of success() (the default),
# failure(), always(), cancelled(), or a bash test: it runs in the job's (or the action's)
# environment when the job (or action) would start; exit 0 runs it, anything else skips it.
# conditions.yml is the same workflow in YAML. This run fails on purpose (exit status 1):
# `integration` and `lint` fail.
# (A job whose bash test is false is skipped too; this example keeps its job tests true,
# because the runner's message for such a job names the test, which YAML cannot say.)
{ pkgs, nixactions, executor ? nixactions.executors.local }:

nixactions.mkWorkflow {
  name = "conditions";

  env = { BRANCH = "main"; };

  jobs = {
    test = {
      inherit executor;
      actions = [
        {
          name = "unit";
          bash = ''
            echo "unit tests pass"
            echo "TESTS_PASSED=yes" >> "$JOB_ENV"
          '';
        }
        {
          name = "on-main";
          condition = ''[ "$BRANCH" = main ]'';          # true: runs
          bash = ''echo "on branch $BRANCH"'';
        }
        {
          name = "on-release-branch";
          condition = ''[ "$BRANCH" = release ]'';       # false: skipped
          bash = ''echo "never printed"'';
        }
        {
          name = "after-passing-tests";
          # A bash test sees what earlier actions wrote to $JOB_ENV.
          condition = ''[ "''${TESTS_PASSED:-}" = yes ]'';
          bash = ''echo "tests passed, so this runs"'';
        }
        {
          name = "cleanup";
          condition = "always()";
          bash = ''echo "test cleanup"'';
        }
      ];
    };

    integration = {
      inherit executor;
      actions = [
        { name = "integration"; bash = ''echo "integration tests fail"; exit 1''; }
        { name = "not-after-a-failure"; bash = ''echo "never printed"''; }   # success(): skipped
        { name = "report-failure"; condition = "failure()"; bash = ''echo "reporting the failure"''; }
        { name = "cleanup"; condition = "always()"; bash = ''echo "integration cleanup"''; }
      ];
    };

    # An action's bash test alone decides whether it runs, after a failed action too (as in the
    # original). The job's continueOnError changes nothing here: jobs that do not need this one
    # go on anyway, and the job still fails.
    lint = {
      inherit executor;
      continueOnError = true;
      actions = [
        { name = "style"; bash = ''echo "style check fails"; exit 1''; }
        { name = "spelling"; bash = ''echo "never printed"''; }   # success(): skipped
        { name = "style-report"; condition = ''[ -n "$BRANCH" ]''; bash = ''echo "style report for $BRANCH"''; }
      ];
    };

    # A job's bash test runs before its first action, in the job's environment.
    publish = {
      needs = [ "test" ];
      inherit executor;
      condition = ''[ "$GITHUB_EVENT_NAME" = push ]'';      # the event is push: runs
      actions = [ { name = "publish"; bash = ''echo "publishing from $BRANCH"''; } ];
    };

    # A job whose condition is false is skipped, and the jobs that need it are skipped in turn.
    fix-tests = {
      needs = [ "test" ];
      condition = "failure()";                              # test succeeded: skipped
      inherit executor;
      actions = [ { name = "fix"; bash = ''echo "never printed"''; } ];
    };

    retest = {
      needs = [ "fix-tests" ];
      inherit executor;
      actions = [ { name = "retest"; bash = ''echo "never printed"''; } ];
    };

    rollback = {
      needs = [ "integration" ];
      condition = "failure()";                              # integration failed: runs
      inherit executor;
      actions = [ { name = "rollback"; bash = ''echo "rolling back"''; } ];
    };

    notify = {
      needs = [ "publish" "retest" "rollback" "lint" ];
      condition = "always()";
      inherit executor;
      actions = [ { name = "notify"; bash = ''echo "notify: always runs"''; } ];
    };
  };
}
