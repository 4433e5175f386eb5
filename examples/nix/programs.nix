# Programs as steps, in the original NixActions' style ("actions as derivations"): a package or a
# written script in a job's actions runs its program. Run it with
# `nixactions run examples/nix/programs.nix`; programs.yml is the same workflow in YAML.
# With a nixpkgs on NIX_PATH these are real derivations, built when the job starts; without one,
# the written scripts go to a private folder of the run and a package is the tool on PATH.
{ pkgs, nixactions, ... }:

let
  lint = pkgs.writeShellScriptBin "lint" ''
    echo "linting $(ls | wc -l) files"
  '';
  greet = pkgs.writeShellScript "greet" ''
    echo "hello from a written script"
  '';
in
nixactions.mkWorkflow {
  name = "programs";

  jobs = {
    check = {
      actions = [
        lint                                   # runs lint/bin/lint
        greet                                  # runs the script itself
        { name = "by path"; bash = "${lint}/bin/lint --again"; }
      ];
    };
  };
}
