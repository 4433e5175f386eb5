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
{ file, root ? null, executor ? null }:

let
  nixactions = import ./default.nix { inherit root; };
  pkgs = import ./pkgs.nix { source = builtins.readFile file; };
  f = import file;
  available = {
    inherit pkgs nixactions;
    inherit (pkgs) lib;
  } // (if executor == null then { }
       else { executor = nixactions.executors.${executor}
               or (throw "nixactions: no executor named '${executor}' (local, oci, ssh, k8s)"); });
  wanted = builtins.functionArgs f;
  result =
    if !(builtins.isFunction f) then f
    else if wanted == { } then f available
    else f (builtins.intersectAttrs wanted available);
in
if builtins.isAttrs result && (result.__format or null) == nixactions.version
then result
else throw "nixactions: ${toString file} must evaluate to nixactions.mkWorkflow { ... } (a function of { pkgs, nixactions, ... } returning it, or the workflow itself)"
