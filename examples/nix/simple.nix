# A simple workflow in the original NixActions style: three jobs that run in parallel,
# then one that needs them all.
{ pkgs, nixactions, executor ? nixactions.executors.local }:

nixactions.mkWorkflow {
  name = "simple";

  env = {
    GREETING = "hello";
  };

  jobs = {
    # Level 0: these three start together.
    lint = {
      inherit executor;
      actions = [
        nixactions.actions.checkout
        {
          name = "shellcheck";
          deps = [ pkgs.findutils ];
          bash = ''
            echo "$GREETING from lint"
            find . -name '*.sh' -type f | head -5
          '';
        }
      ];
    };

    test = {
      inherit executor;
      actions = [
        {
          name = "unit";
          deps = [ pkgs.coreutils ];
          bash = ''
            echo "$GREETING from test"
            uname -a
          '';
        }
      ];
    };

    info = {
      executor = nixactions.executors.local { copyRepo = false; };
      actions = [
        {
          name = "versions";
          # A package interpolates as a placeholder the runner resolves on PATH.
          bash = ''
            ${pkgs.jq}/bin/jq --version
            ${pkgs.lib.getExe pkgs.git} --version
          '';
        }
      ];
    };

    # Level 1: after all three.
    package = {
      needs = [ "lint" "test" "info" ];
      inherit executor;
      actions = [
        { name = "package"; bash = "echo packaging"; workdir = "dist"; }
      ];
    };
  };
}
