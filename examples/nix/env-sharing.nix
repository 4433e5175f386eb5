# Environment in the original NixActions style: env at three levels, envFrom providers, and
# values passed from one action to the later ones of the same job through $JOB_ENV.
# env-sharing.yml is the same workflow in YAML.
{ pkgs, nixactions, executor ? nixactions.executors.local }:

nixactions.mkWorkflow {
  name = "env-sharing";

  env = {
    APP_NAME = "demo";
    LOG_LEVEL = "info";
  };

  # Loaded in order before any job: static values, then a check that names are set.
  envFrom = [
    (nixactions.envProviders.static { STAGE = "test"; })
    (nixactions.envProviders.required [ "APP_NAME" "STAGE" ])
  ];

  jobs = {
    build = {
      inherit executor;
      env = { TARGET = "x86_64-linux"; };

      actions = [
        {
          name = "generate-version";
          bash = ''
            # Each action is its own bash process: share variables through $JOB_ENV, a file
            # that is sourced (with set -a) before every later action of this job.
            echo "VERSION=1.2.3" >> "$JOB_ENV"
            echo "BUILD_TARGET=$TARGET" >> "$JOB_ENV"
          '';
        }
        {
          name = "add-tool";
          bash = ''
            mkdir -p bin
            printf '#!/bin/sh\necho "mytool says $1"\n' > bin/mytool
            chmod +x bin/mytool
            # Sourced, so shell syntax works: PATH for the later actions.
            echo 'export PATH="$PWD/bin:$PATH"' >> "$JOB_ENV"
          '';
        }
        {
          name = "build";
          env = { LOG_LEVEL = "debug"; };   # the action's env wins over the job's and the workflow's
          bash = ''
            echo "building $APP_NAME $VERSION for $BUILD_TARGET (stage $STAGE, log level $LOG_LEVEL)"
            mytool hello
          '';
        }
        {
          name = "after-build";
          bash = ''echo "log level is $LOG_LEVEL again; VERSION is still $VERSION"'';
        }
      ];
    };

    # $JOB_ENV belongs to one job: another job does not see it.
    other = {
      needs = [ "build" ];
      inherit executor;
      envFrom = [ (nixactions.envProviders.required [ "APP_NAME" ]) ];
      actions = [
        {
          name = "no-version-here";
          bash = ''echo "$APP_NAME in another job: VERSION is ''${VERSION:-unset}"'';
        }
      ];
    };
  };
}
