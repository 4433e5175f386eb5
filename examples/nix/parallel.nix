# Independent jobs run in parallel, then a job that needs them all (a join), in the original
# NixActions style. parallel.yml is the same workflow in YAML.
{ pkgs, nixactions, executor ? nixactions.executors.local }:

nixactions.mkWorkflow {
  name = "parallel";

  env = {
    GREETING = "hello";
  };

  jobs = {
    # Level 0: these three have no needs and start together.
    lint = {
      inherit executor;
      actions = [
        {
          name = "lint";
          deps = [ pkgs.bash ];
          bash = ''
            echo "$GREETING from lint"
            printf 'echo ok\n' > check.sh
            bash -n check.sh && echo "check.sh: syntax ok"
          '';
        }
      ];
    };

    test = {
      inherit executor;
      actions = [
        {
          name = "unit";
          bash = ''
            echo "$GREETING from test"
            echo "UNIT=passed" >> "$JOB_ENV"
          '';
        }
        { name = "report"; bash = ''echo "unit tests $UNIT"''; }
      ];
    };

    info = {
      # An empty workspace: the project is not copied in.
      executor = nixactions.executors.local { copyRepo = false; };
      actions = [
        {
          name = "versions";
          # A package interpolates as a placeholder that the runner replaces with the tool's
          # path on PATH: this runs the machine's jq and git.
          bash = ''
            ${pkgs.jq}/bin/jq -n '"jq works"'
            ${pkgs.lib.getExe pkgs.git} --version | grep -q '^git version' && echo "git works"
            echo "workspace entries: $(ls -A | wc -l)"
          '';
        }
      ];
    };

    # Level 1: the join, after all three.
    package = {
      needs = [ "lint" "test" "info" ];
      inherit executor;
      actions = [
        { name = "prepare"; bash = "mkdir -p dist"; }
        { name = "package"; workdir = "dist"; bash = ''echo "packaging in $(basename "$PWD") after lint, test and info"''; }
      ];
    };
  };
}
