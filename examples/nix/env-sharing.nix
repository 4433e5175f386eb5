# Environment in the original NixActions style: env at three levels, envFrom providers,
# variables passed between actions through $JOB_ENV, and files between jobs as artifacts
# (outputs/inputs).
{ pkgs, nixactions, executor ? nixactions.executors.local }:

nixactions.mkWorkflow {
  name = "env-sharing";

  env = {
    APP_NAME = "demo";
    LOG_LEVEL = "info";
  };

  # Loaded in order before any job; a variable of the runner's own environment wins.
  envFrom = [
    (nixactions.envProviders.static { CI = "true"; })
    (nixactions.envProviders.file { path = ".env"; required = false; })
    (nixactions.envProviders.required [ "APP_NAME" "CI" ])
  ];

  jobs = {
    build = {
      inherit executor;
      env = { TARGET = "x86_64-linux"; };

      actions = [
        {
          name = "generate-version";
          bash = ''
            VERSION="1.2.3-$(date +%Y%m%d)"
            # Each action is its own process: share variables through $JOB_ENV.
            echo "VERSION=$VERSION" >> "$JOB_ENV"
            echo "export BUILD_TARGET=$TARGET" >> "$JOB_ENV"
          '';
        }
        {
          name = "build";
          env = { LOG_LEVEL = "debug"; };   # the action's env wins over the job's and the workflow's
          bash = ''
            echo "building $APP_NAME $VERSION for $BUILD_TARGET (log level $LOG_LEVEL)"
            mkdir -p dist
            echo "{\"version\": \"$VERSION\"}" > dist/build-info.json
          '';
        }
      ];

      # Artifacts: name -> path, saved when the job ends.
      outputs = { build-info = "dist/"; };
    };

    test = {
      needs = [ "build" ];
      inherit executor;
      # A string restores at "."; the long form chooses the path.
      inputs = [ "build-info" ];
      envFrom = [ (nixactions.envProviders.required [ "APP_NAME" ]) ];
      actions = [
        {
          name = "read-artifact";
          deps = [ pkgs.jq ];
          bash = ''
            VERSION=$(jq -r .version dist/build-info.json)
            echo "PARSED_VERSION=$VERSION" >> "$JOB_ENV"
          '';
        }
        {
          name = "use-it";
          bash = ''echo "tested $APP_NAME $PARSED_VERSION at log level $LOG_LEVEL"'';
        }
      ];
    };

    report = {
      needs = [ "test" ];
      inherit executor;
      inputs = [ { name = "build-info"; path = "artifacts/"; } ];
      actions = [ { bash = "cat artifacts/dist/build-info.json"; } ];
    };
  };
}
