# The runner's entry point. Evaluates a workflow file in the original's style
# ({ pkgs, nixactions, executor ? nixactions.executors.local }: nixactions.mkWorkflow { ... })
# into plain data:
#
#   HOME=$TMP XDG_CACHE_HOME=$TMP nix-instantiate --eval --strict --json --store dummy:// \
#     nix/eval.nix --argstr file /abs/path/ci.nix [--argstr root /abs/project] [--argstr executor oci]
#
# `file` (required): the workflow file, an absolute path (or a Nix path with --arg).
# `root`: positions and path values under it are written relative to it.
# `executor`: the name of one of nixactions.executors, passed as `executor` to a file
#   whose function takes that argument (the original's executor variants).
{ file, root ? null, executor ? null, nixpkgs ? false, instantiate ? false }:

let
  nixactions = import ./default.nix { inherit root; realStore = nixpkgs; pkgs = if nixpkgs then pkgs else null; };
  # `nixpkgs`: the runner found <nixpkgs> on the search path (and evaluates with a real store):
  # packages are real derivations, which the runner builds when the job starts.
  pkgs = if nixpkgs then import <nixpkgs> { } else import ./pkgs.nix { source = builtins.readFile file; };
  f = import file;
  available = {
    inherit pkgs nixactions;
    lib = pkgs.lib or (import ./lib.nix);
  } // (if executor == null then
         # The original's runner passed `executor` to files that take it without a default.
         (if builtins.isFunction f && !((builtins.functionArgs f).executor or true) then { executor = nixactions.executors.local; } else { })
       else { executor = nixactions.executors.${executor}
               or (throw "nixactions: no executor named '${executor}' (local, oci, ssh, k8s)"); });
  wanted = builtins.functionArgs f;
  result =
    if !(builtins.isFunction f) then f
    else if wanted == { } then f available
    else f (builtins.intersectAttrs wanted available);
  # `instantiate` (nix-instantiate without --eval, with a real nixpkgs): a derivation that is never
  # built, whose only use is that instantiating it writes the .drv of every package the workflow
  # refers to (the JSON keeps their string contexts), so that jobs can realise them.
  inputs = workflow: derivation {
    name = "nixactions-workflow-inputs";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" "exit 1" ];
    workflow = builtins.toJSON workflow;
  };
in
if builtins.isAttrs result && (result.__format or null) == nixactions.version
then (if instantiate then inputs result else result)
else throw "nixactions: ${toString file} must evaluate to nixactions.mkWorkflow { ... } (a function of { pkgs, nixactions, ... } returning it, or the workflow itself)"
