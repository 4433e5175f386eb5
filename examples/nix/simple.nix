# A simple workflow in the original NixActions style: one job of three actions, then a job
# that needs it. Run it with `nixactions run examples/nix/simple.nix`; simple.yml is the same
# workflow in YAML.
{ pkgs, nixactions, executor ? nixactions.executors.local }:

nixactions.mkWorkflow {
  name = "simple";

  env = {
    GREETING = "hello";
  };

  jobs = {
    build = {
      inherit executor;
      actions = [
        {
          name = "greet";
          bash = ''echo "$GREETING from build"'';
        }
        {
          name = "make-dist";
          # deps: the tools must be on PATH (the runner checks; it builds nothing).
          deps = [ pkgs.coreutils ];
          bash = ''
            mkdir -p dist
            echo "app v1" > dist/app.txt
          '';
        }
        {
          name = "inside-dist";
          workdir = "dist";          # working-directory: must exist when the action starts
          bash = ''echo "$(basename "$PWD") holds $(cat app.txt)"'';
        }
      ];
    };

    test = {
      needs = [ "build" ];
      inherit executor;
      actions = [
        { name = "test"; bash = ''echo "$GREETING from test, after build"''; }
      ];
    };
  };
}
