# A few nixpkgs `lib` functions, written with builtins, for workflow files that use
# `pkgs.lib` or take `lib`. Not the whole of nixpkgs' lib: a missing one is Nix's
# "attribute '...' missing" error at the caller's FILE:LINE.
let
  inherit (builtins) concatStringsSep filter attrNames listToAttrs length substring
    stringLength replaceStrings elem isString;
in
rec {
  id = x: x;
  const = x: _: x;
  optional = c: x: if c then [ x ] else [ ];
  optionals = c: xs: if c then xs else [ ];
  optionalString = c: s: if c then s else "";
  optionalAttrs = c: a: if c then a else { };
  concatStringsSep = builtins.concatStringsSep;
  concatMapStringsSep = sep: f: xs: concatStringsSep sep (map f xs);
  concatMap = builtins.concatMap;
  flatten = x: if builtins.isList x then builtins.concatMap flatten x else [ x ];
  mapAttrs = builtins.mapAttrs;
  mapAttrsToList = f: a: map (n: f n a.${n}) (attrNames a);
  filterAttrs = p: a: listToAttrs (map (n: { name = n; value = a.${n}; }) (filter (n: p n a.${n}) (attrNames a)));
  genAttrs = names: f: listToAttrs (map (n: { name = n; value = f n; }) names);
  attrNames = builtins.attrNames;
  attrValues = builtins.attrValues;
  hasPrefix = p: s: substring 0 (stringLength p) s == p;
  hasSuffix = p: s:
    let n = stringLength s; m = stringLength p; in n >= m && substring (n - m) m s == p;
  removePrefix = p: s: if hasPrefix p s then substring (stringLength p) (stringLength s) s else s;
  removeSuffix = p: s: if hasSuffix p s then substring 0 (stringLength s - stringLength p) s else s;
  toUpper = replaceStrings
    (builtins.genList (i: builtins.substring i 1 "abcdefghijklmnopqrstuvwxyz") 26)
    (builtins.genList (i: builtins.substring i 1 "ABCDEFGHIJKLMNOPQRSTUVWXYZ") 26);
  toLower = replaceStrings
    (builtins.genList (i: builtins.substring i 1 "ABCDEFGHIJKLMNOPQRSTUVWXYZ") 26)
    (builtins.genList (i: builtins.substring i 1 "abcdefghijklmnopqrstuvwxyz") 26);
  escapeShellArg = s: "'" + replaceStrings [ "'" ] [ "'\\''" ] (toString s) + "'";
  escapeShellArgs = xs: concatStringsSep " " (map escapeShellArg xs);
  getExe = p: "${p}/bin/${p.meta.mainProgram or p.pname or p.name}";
  getExe' = p: bin: "${p}/bin/${bin}";
  makeBinPath = ps: concatStringsSep ":" (map (p: "${p}/bin") ps);
  assertMsg = c: msg: c || throw msg;
  pipe = builtins.foldl' (x: f: f x);
  range = a: b: if a > b then [ ] else builtins.genList (i: a + i) (b - a + 1);
  unique = builtins.foldl' (acc: x: if elem x acc then acc else acc ++ [ x ]) [ ];
  recursiveUpdate = a: b: a // builtins.mapAttrs (n: v:
    if builtins.isAttrs v && builtins.isAttrs (a.${n} or null) then recursiveUpdate a.${n} v else v) b;
}
