# NixActions' Nix library: the constructors of the original Nix API as PLAIN DATA.
#
#   nixactions = import ./nix { };            # or { root = "/abs/project"; }
#   nixactions.mkWorkflow { name = "ci"; jobs = { ... }; }
#
# Nothing here builds anything: no derivations, no store paths, no builtins.exec.
# mkWorkflow returns an attribute set that `nix-instantiate --eval --strict --json`
# prints as JSON (format "nixactions.nix/1", see docs/nix.md); the
# Swift host maps that JSON onto the same workflow model as YAML and does all
# validation beyond "this is well-formed data".
#
# What mkWorkflow does to the user's attribute sets (and nothing more):
#   - applies `extensions` (functions workflow -> workflow), then drops the key;
#   - keeps every key as written (unknown keys are the host's to report), null kept as null;
#   - path values (./secrets.yaml) become strings: absolute, or relative to `root` when given;
#   - packages (pkgs.jq from nix/pkgs.nix) become { package = "jq"; };
#   - a real nixpkgs derivation becomes { derivation = "name"; } (the host refuses it), except
#     as a step: a package or written script there is a bash step running its program;
#   - `__functor` is dropped (so `nixactions.executors.local` works bare or called);
#   - any other function is an error naming where it is;
#   - adds `__pos` (file, line, column and each key's line/column) to the workflow,
#     every job and every step, from builtins.unsafeGetAttrPos.
{ root ? null, realStore ? false, pkgs ? null, ... }:

let
  inherit (builtins)
    attrNames isAttrs isList isFunction isPath isString length elemAt
    mapAttrs listToAttrs genList substring stringLength concatStringsSep
    unsafeGetAttrPos removeAttrs hasAttr typeOf foldl' toJSON;

  format = "nixactions.nix/1";
  programs = import ./programs.nix;

  # ---------- positions ----------

  rootPrefix = if root == null then null else toString root + "/";

  relative = s:
    let n = stringLength rootPrefix; in
    if rootPrefix != null && substring 0 n s == rootPrefix
    then substring n (stringLength s - n) s
    else s;

  # Position of the attribute set `set`: the file most of it comes from (that of the first of
  # name/bash/actions/steps/... that has a position), its first key there, and every key's
  # [line column] ([line column file] for a key from another file, e.g. added by a library
  # function or an extension). null when Nix knows no position at all.
  posOf = set:
    let
      keyPos = k: unsafeGetAttrPos k set;
      named = builtins.filter (k: keyPos k != null) (attrNames set);
      preferred = builtins.filter (k: builtins.elem k named)
        ([ "name" "bash" "actions" "steps" "executor" "needs" "jobs" ] ++ named);
      file = if preferred == [ ] then null else (keyPos (builtins.head preferred)).file;
      keys = listToAttrs (map (k:
        let p = keyPos k; in
        { name = k; value = [ p.line p.column ] ++ (if p.file == file then [ ] else [ (relative p.file) ]); }) named);
      first = foldl' (best: k:
        let p = keyPos k; in
        if p.file != file then best
        else if best == null || p.line < best.line || (p.line == best.line && p.column < best.column)
        then p else best) null named;
    in
    if first == null then null
    else { file = relative first.file; inherit (first) line column; inherit keys; };

  # Position of the attribute named `name` inside `set` (a job inside `jobs`).
  posOfAttr = name: set:
    let p = unsafeGetAttrPos name set; in
    if p == null then null else { file = relative p.file; inherit (p) line column; };

  withPos = pos: value: if pos == null then value else value // { __pos = pos; };

  # ---------- turning anything into JSON-able data ----------

  # `where` is a human-readable path ("jobs.build.steps[1].deps[0]") for error messages,
  # `at` the nearest known source position ("ci.nix:12:7") or null.
  posText = p: "${relative p.file}:${toString p.line}:${toString p.column}";
  toData' = where: at: v:
    if isFunction v then
      throw ("nixactions: ${if at == null then "" else at + ": "}${where} is a function, which a workflow cannot contain"
        + " (did you forget to call it, e.g. `nixactions.executors.ssh { host = \"…\"; }` or `nixactions.envProviders.required [ \"NAME\" ]`?)")
    else if isPath v then relative (toString v)
    else if isList v then genList (i: toData' "${where}[${toString i}]" at (elemAt v i)) (length v)
    else if isAttrs v then
      if v ? __nixactionsFile then v.outPath
      else if v ? __nixactionsPackage then
        { package = v.__nixactionsPackage; program = v.meta.mainProgram or (programs.${v.__nixactionsPackage} or v.__nixactionsPackage); }
      else if (v.type or null) == "derivation" then
        { derivation = v.name or "unknown"; } // (if realStore then { inherit (v) drvPath; } else { })
      else mapAttrs (k: x:
        let p = unsafeGetAttrPos k v; in
        toData' "${where}.${k}" (if p == null then at else posText p) x) (removeAttrs v [ "__functor" ])
    else v; # string, int, float, bool, null
  toData = where: toData' where null;

  # The derivations a value needs (with a real store only): those in it (`deps = [ pkgs.jq ]`)
  # and those its strings refer to ("${pkgs.jq}/bin/jq"), as .drv paths the runner builds.
  derivationsOf = v:
    if builtins.isString v then builtins.filter (p: builtins.match ".*[.]drv" p != null) (attrNames (builtins.getContext v))
    else if isList v then builtins.concatMap derivationsOf v
    else if isAttrs v then
      (if (v.type or null) == "derivation" then [ v.drvPath ]
       else builtins.concatMap (k: derivationsOf v.${k}) (attrNames (removeAttrs v [ "__functor" ])))
    else [ ];

  # ---------- small helpers ----------

  # A value usable bare (default options) and as a function of options, like the
  # original's makeConfigurable: `executors.local` and `executors.local { copyRepo = false; }`.
  configurable = make: make { } // { __functor = _: opts: make opts; };

  checkAttrs = what: v:
    if isAttrs v then v
    else throw "nixactions: ${what} must be an attribute set, got a ${typeOf v}";

  # ---------- executors ----------

  mkExecutor = type: opts:
    { inherit type; } // removeAttrs (checkAttrs "the options of executors.${type}" opts) [ "type" ];

  executors = {
    # { copyRepo ? true, name ? null }
    local = configurable (mkExecutor "local");
    # { name, mode ? "shared" | "isolated", copyRepo, extraPackages, extraMounts, containerEnv,
    #   image (this runner's addition: the original built images from Nix) }
    oci = configurable (mkExecutor "oci");
    # Not in the original (only planned there); options as this runner's ssh executor:
    # { host | hosts, identity-file, known-hosts, workdir, copyRepo, name }
    ssh = opts: mkExecutor "ssh" opts;
    # As in the original, always called: { namespace, registry = { url; usernameEnv; passwordEnv; }, ... }
    k8s = opts: mkExecutor "k8s" opts;
  };

  # ---------- environment providers (envFrom = [ ... ]) ----------

  envProviders = {
    # { path, required ? false, secrets ? false }
    file = opts: { provider = "file"; } // checkAttrs "envProviders.file's argument" opts;
    # { file, format ? "yaml", required ? true }  -- every value is a secret
    sops = opts: { provider = "sops"; } // checkAttrs "envProviders.sops's argument" opts;
    # { NAME = "value"; ... }
    static = values: { provider = "static"; values = checkAttrs "envProviders.static's argument" values; };
    # [ "NAME" ... ]
    required = names:
      if isList names && builtins.all isString names then { provider = "required"; inherit names; }
      else throw "nixactions: envProviders.required takes a list of variable names";
  };

  # ---------- secrets = [ ... ] entries (this runner's providers; names as in docs/secrets.md) ----------

  secretEntry = provider: opts: { inherit provider; } // checkAttrs "secrets.${provider}'s argument" opts;
  secrets = {
    env = names: { provider = "env"; inherit names; };   # [ "NAME" ... ]
    file = secretEntry "file";                          # { file, format?, keys? }
    sops = secretEntry "sops";                          # { file, format?, keys?, extract?, age-key-file? }
    vault = secretEntry "vault";                        # { path, keys?, mount?, version?, address? }
    # A declared name with options: { name, required ? false }
    name = n: opts: { name = n; } // opts;
  };

  # ---------- standard actions (steps) ----------

  actions = {
    # The original's checkout only said so and listed the workspace: a job of a .nix workflow
    # gets the project's working tree already (a `uses: actions/checkout` would replace it with
    # the last commit).
    checkout = {
      __nixactionsAction = "checkout";
      name = "checkout";
      bash = ''
        echo "→ Checking out code"
        ls -la
      '';
    };
    # nixShell [ "curl" "jq" ]: the original built these packages from <nixpkgs> and put them on
    # PATH for the rest of the job. With a real nixpkgs they are that nixpkgs' packages, which
    # the runner builds when the job starts and puts on the job's PATH (as `deps`); without one
    # the step checks that each tool is on PATH and fails, saying which, when one is not
    # (Nix audit 58 H2: it passed, and the next step failed with "command not found").
    nixShell = packages:
      let
        attrOf = p: foldl' (set: key:
          set.${key} or (throw "nixactions: actions.nixShell: nixpkgs has no package '${p}'"))
          pkgs (builtins.filter isString (builtins.split "[.]" p));
        programOf = p: programs.${p} or p;
        check = p: let program = programOf p; in
          if program == "" then "" else
          ''command -v ${program} >/dev/null 2>&1 || { echo "nix-shell: ${p} is not on PATH ('${program}' not found), and there is no nixpkgs to build it from (NIX_PATH)" >&2; exit 127; }'';
      in {
        __nixactionsAction = "nixShell";
        name = "nix-shell";
      } // (if realStore && pkgs != null then {
        deps = map attrOf packages;
        bash = "true";
      } else {
        deps = map (p: { __nixactionsPackage = p; }) packages;
        bash = concatStringsSep "\n" ([ "true" ] ++ map check packages);
      });
    requireEnv = names:
      let bad = builtins.filter (n: builtins.match "[A-Za-z_][A-Za-z0-9_]*" n == null) names; in
      if bad != [ ] then throw "nixactions: actions.requireEnv: '${builtins.head bad}' is not a variable name" else {
      __nixactionsAction = "requireEnv";
      name = "require-env";
      bash = concatStringsSep "\n" (map (n: ''[ -n "''${${n}+x}" ] || { echo "required variable ${n} is not set" >&2; exit 1; }'') names);
    };
  };

  # ---------- matrix (the original's mkMatrixJobs: expanded here, in Nix) ----------

  mkMatrixJobs = { name, matrix, jobTemplate }:
    let
      dims = builtins.sort builtins.lessThan (attrNames matrix);
      combos = foldl' (acc: d:
        builtins.concatMap (c: map (v: c // { ${d} = v; }) matrix.${d}) acc) [ { } ] dims;
      # Job ids allow letters, digits, '-' and '_': a value such as "3.11" becomes "3_11".
      idPart = v: builtins.replaceStrings [ "." " " "/" ":" ] [ "_" "_" "_" "_" ] (toString v);
      jobName = c: "${name}-" + concatStringsSep "-" (map (d: "${idPart d}-${idPart c.${d}}") dims);
    in
    listToAttrs (map (c: { name = jobName c; value = jobTemplate c // { __matrix = c; }; }) combos);

  # ---------- mkWorkflow ----------

  # A package or a written script as a step (the original's actions as derivations:
  # `steps = [ (pkgs.writeShellScriptBin "lint" "…") ]`, which it ran as DRV/bin/NAME): a bash
  # step named after it that runs its program, DRV/bin/PROGRAM (meta.mainProgram, else pname,
  # else name, as lib.getExe chooses), or the file itself when it is one (writeShellScript).
  isProgram = s: isAttrs s && ((s.type or null) == "derivation" || s ? __nixactionsFile || s ? __nixactionsPackage);
  quoted = text: "'" + builtins.replaceStrings [ "'" ] [ "'\\''" ] text + "'";
  programStep = s:
    let
      program = s.meta.mainProgram or s.pname or s.name or "unknown";
      # A derivation's programs are in its `bin` output where it has one (lib.getBin).
      built = if (s.type or null) == "derivation" then (s.bin or s) else s;
      # A written script's placeholder carries its text, which the runner writes to a file and
      # replaces with that file's path: it is not shell-quoted here (its `'` would be changed in
      # the text written; review 60 H1), the path it becomes holds none.
      path = if s ? __nixactionsFile then "\"${built}\"" else quoted "${built}";
    in
    {
      __nixactionsAction = "program";
      name = s.name or program;
      bash = "p=${path}; if [ -d \"$p\" ]; then \"$p\"/bin/${quoted program}; else \"$p\"; fi";
    };

  # A step from nixactions.actions carries __nixactionsAction: its own position is in this
  # library, so the position given is the job's steps list (with the index).
  stepData = jobName: listPos: i: step:
    let
      where = "jobs.${jobName}.steps[${toString i}]";
      s = if isProgram step then programStep step else checkAttrs where step;
      pos = if s ? __nixactionsAction
        then (if listPos == null then null else listPos // { action = s.__nixactionsAction; })
        else posOf s;
    in
    withPos (if pos == null then null else pos // { index = i; })
      (toData where (removeAttrs s [ "__nixactionsAction" ]));

  # `written`: the jobs as the file wrote them, before `extensions`. A job an extension rebuilt
  # (`mapAttrs (n: j: j // { timeout = 20; })`) keeps the place it was written at, not the
  # extension's (Nix audit 65 L1: every job was placed at the extension's line, out of order).
  jobData = written: jobs: jobName:
    let
      job = checkAttrs "jobs.${jobName}" jobs.${jobName};
      stepsKey = if job ? steps then "steps" else "actions";
      steps = job.${stepsKey} or null;
      data = toData "jobs.${jobName}" (removeAttrs job [ stepsKey ]);
      wasWritten = let t = builtins.tryEval (isAttrs written && written ? ${jobName} && isAttrs written.${jobName}); in t.success && t.value;
      before = if wasWritten then posOf written.${jobName} else null;
      after = posOf job;
      jobPos = if after == null then before
        else if before == null || before.file != after.file then after
        else after // { inherit (before) line column; };
      declared = if wasWritten then posOfAttr jobName written else posOfAttr jobName jobs;
      listPos = posOfAttr stepsKey job;
    in
    withPos (if jobPos == null then declared
             else if declared == null then jobPos
             else jobPos // { inherit declared; })
      (data // (if realStore then { __derivations = builtins.sort builtins.lessThan (derivationsOf job); } else { })
        // (if isList steps
        then { ${stepsKey} = genList (i: stepData jobName listPos i (elemAt steps i)) (length steps); }
        else if steps == null then { }
        else { ${stepsKey} = toData "jobs.${jobName}.${stepsKey}" steps; }));

  mkWorkflow = config:
    let
      raw = checkAttrs "mkWorkflow's argument" config;
      extensions = raw.extensions or [ ];
      applied = foldl' (w: f: f w) (removeAttrs raw [ "extensions" ]) extensions;
      jobs = applied.jobs or null;
      rest = toData "workflow" (removeAttrs applied [ "jobs" ]);
    in
    withPos (posOf raw) (
      { __format = format; }
      // rest
      // (if isAttrs jobs
          then { jobs = listToAttrs (map (n: { name = n; value = jobData (raw.jobs or null) jobs n; }) (attrNames jobs)); }
          else if jobs == null then { }
          else { jobs = toData "jobs" jobs; }));

in
{
  inherit mkWorkflow mkMatrixJobs executors envProviders secrets actions toData;
  # The original's mkExecutor (custom bash hooks) cannot be data: it is refused here.
  mkExecutor = _: throw "nixactions: mkExecutor (executors written as bash hooks in Nix) is not supported; use executors.local/oci/ssh/k8s or an executor plugin";
  version = format;
}
