# A stand-in for nixpkgs: no nixpkgs is reachable where NixActions runs, and nothing is built.
#
# Nix has no catch-all attribute (no __getattr): `pkgs.jq` on a set without `jq` is the
# error "attribute 'jq' missing". So this set is built from names:
#   - every `pkgs.NAME` / `pkgs.A.B` and `inherit (pkgs) A B;` found in the workflow file's text
#     (`source`), found by a regular expression here in Nix;
#   - a fixed list of common tools (`common` below);
#   - `pkgs "NAME"` (a __functor) for any other.
# `with pkgs; [ jq ]` is not seen by the scan: write `pkgs.jq` (or add it to `common`);
# a name nothing provides is Nix's own "attribute 'NAME' missing" error at FILE:LINE.
#
# A package is plain data: { __nixactionsPackage = "jq"; ... }, which mkWorkflow turns into
# { package = "jq"; }. It interpolates as a placeholder: "${pkgs.jq}/bin/jq" is
# "@nixactions-pkg:jq@/bin/jq"; the host replaces "@nixactions-pkg:NAME@/bin/TOOL" by TOOL's
# path on PATH, and a bare "@nixactions-pkg:NAME@" by the prefix above NAME's bin/ directory.
# Whether the tool exists is the host's to check (at validate time, with the step's place).
{ source ? "" }:

let
  inherit (builtins) split filter isList head elemAt length listToAttrs foldl' concatMap
    attrNames isAttrs hasAttr replaceStrings match;

  # The program a package is usually called by (nix/programs.nix).
  mainPrograms = import ./programs.nix;

  common = [
    "bash" "coreutils" "findutils" "gnused" "gnugrep" "gawk" "gnutar" "gzip" "xz" "zstd"
    "diffutils" "which" "git" "curl" "wget" "jq" "yq" "sops" "age" "openssh" "rsync"
    "nodejs" "python3" "python311" "go" "rustc" "cargo" "gnumake" "gcc" "shellcheck"
    "docker" "podman" "buildah" "skopeo" "kubectl" "procps" "util-linux" "hostname" "file"
  ];

  # Things of nixpkgs that build derivations: refused with a clear message.
  builders = [
    "writeText" "writeTextFile" "writeScript" "writeScriptBin" "writeShellScript"
    "writeShellScriptBin" "writeShellApplication" "writers" "runCommand" "runCommandLocal"
    "mkShell" "buildEnv" "symlinkJoin" "callPackage" "fetchurl" "fetchFromGitHub" "fetchgit"
    "dockerTools" "stdenv" "stdenvNoCC"
  ];

  mkPackage = name: {
    __nixactionsPackage = name;
    inherit name;
    pname = name;
    # "${pkgs.jq}" is "@nixactions-pkg:jq:jq@": the package and the program the runner looks for on PATH.
    outPath = "@nixactions-pkg:${name}:${mainPrograms.${name} or name}@";
    meta.mainProgram = mainPrograms.${name} or name;
  };

  # "pkgs.a.b" -> [ "a" "b" ]; from `inherit (pkgs) a b;` -> [ "a" ] [ "b" ]
  dotted = filter isList (split "pkgs\\.([A-Za-z_][A-Za-z0-9_'-]*(\\.[A-Za-z_][A-Za-z0-9_'-]*)*)" source);
  scanned = map (m: filter (x: builtins.isString x && x != "") (split "\\." (head m))) dotted;
  inherited = concatMap (m: map (n: [ n ]) (filter (x: x != "" && !(isList x)) (split "[ \t\n]+" (head m))))
    (filter isList (split "inherit[ \t\n]*\\(pkgs\\)([^;]*);" source));
  paths = scanned ++ inherited ++ map (n: [ n ]) common;

  # Build a nested set: [ "python311Packages" "pytest" ] -> { python311Packages = pkg // { pytest = pkg; }; }
  insert = set: path:
    let
      go = prefix: s: p:
        let
          n = head p;
          full = if prefix == "" then n else "${prefix}.${n}";
          rest = builtins.tail p;
          old = s.${n} or (mkPackage full);
        in
        s // { ${n} = if rest == [ ] then old else go full old rest; };
    in
    go "" set path;

  packages = foldl' insert { } (filter (p: p != [ ] && !(builtins.elem (head p) ([ "lib" ] ++ builders))) paths);

  refuse = n: throw "nixactions: pkgs.${n} builds a derivation; the stand-in pkgs of NixActions has no nixpkgs and builds nothing (use a step's bash instead)";

  lib = import ./lib.nix;

  # Files written from text (writeText and friends): no store, so the text travels in the
  # placeholder "@nixactions-file:NAME:MODE:TEXT@" ('%' and '@' escaped), which the runner
  # writes to a private folder of the run and replaces with that file's path. MODE: r a file,
  # x a script, b a program in a folder (writeShellScriptBin: the placeholder is the folder,
  # whose bin/NAME is the script, as the derivation's $out/bin/NAME).
  escape = builtins.replaceStrings [ "%" "@" ] [ "%25" "%40" ];
  escapeName = builtins.replaceStrings [ "%" "@" ":" ] [ "%25" "%40" "%3A" ];
  mkWritten = mode: name: text: {
    __nixactionsFile = name;
    inherit name text;
    outPath = "@nixactions-file:${escapeName name}:${mode}:${escape text}@";
  } // (if mode == "b" then { meta.mainProgram = name; } else { });
  mkFile = name: text: executable: mkWritten (if executable then "x" else "r") name text;
  files = {
    writeText = name: text: mkFile name text false;
    writeTextFile = { name, text, executable ? false, ... }: mkFile name text executable;
    writeScript = name: text: mkFile name text true;
    writeShellScript = name: text: mkFile name "#!/usr/bin/env bash\n${text}" true;
    writeScriptBin = name: text: mkWritten "b" name text;
    writeShellScriptBin = name: text: mkWritten "b" name "#!/usr/bin/env bash\n${text}";
  };
in
packages
// listToAttrs (map (n: { name = n; value = refuse n; }) builders)
// files
// {
  inherit lib;
  system = builtins.currentSystem or "x86_64-linux";
  __functor = _: name: mkPackage name;
}
