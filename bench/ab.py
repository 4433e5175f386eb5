#!/usr/bin/env python3
"""Two or more builds (or any commands) run interleaved on the same workload (docs/benchmarks.md, round 16).

Each round runs every command once, in turn, alternating the order from round to round; one warm-up
round is discarded. Prints each command's wall median and minimum, its CPU median (the whole process
tree: user + system, from wait4) and its ratio to the first command. Output goes to /dev/null.

    python3 bench/ab.py --rounds 21 --cwd DIR \\
        old='/tmp/old/nixactions validate big.yml' new='.build/release/nixactions validate big.yml'

`--validate-workflow` writes the `validate` benchmark's 2,000-job workflow (`big.yml`, and its GitHub
variant in `.github/workflows/big.yml`) into `--cwd` first.
"""
import argparse, os, shlex, statistics, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import load_line  # noqa: E402
from suites import big_workflow  # noqa: E402


def run(argv):
    started = time.monotonic()
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=[(os.POSIX_SPAWN_DUP2, devnull, 1)])
        _, status, usage = os.wait4(pid, 0)
    finally:
        os.close(devnull)
    if status != 0:
        raise SystemExit(f"{shlex.join(argv)} failed (wait status {status})")
    return time.monotonic() - started, usage.ru_utime + usage.ru_stime


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--cwd", default=None)
    parser.add_argument("--validate-workflow", action="store_true")
    parser.add_argument("commands", nargs="+", metavar="LABEL=COMMAND")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    cases = []
    for item in args.commands:
        label, _, command = item.partition("=")
        if not command:
            parser.error(f"expected LABEL=COMMAND, got {item!r}")
        if any(label == seen for seen, _ in cases):
            parser.error(f"label {label!r} is given twice")
        argv = shlex.split(command)
        # A relative program path names a file from where ab.py was started, not from --cwd.
        if "/" in argv[0] and not os.path.isabs(argv[0]):
            argv[0] = os.path.abspath(argv[0])
        cases.append((label, argv))
    if args.cwd:
        os.makedirs(args.cwd, exist_ok=True)
        os.chdir(args.cwd)
    if args.validate_workflow:
        os.makedirs(os.path.join(".github", "workflows"), exist_ok=True)
        with open("big.yml", "w") as out:
            out.write(big_workflow(2000))
        with open(os.path.join(".github", "workflows", "big.yml"), "w") as out:
            out.write(big_workflow(2000, github=True))
    print(f"before: {load_line()}")
    walls = {label: [] for label, _ in cases}
    cpus = {label: [] for label, _ in cases}
    for round_number in range(args.rounds + 1):
        order = cases if round_number % 2 == 0 else list(reversed(cases))
        for label, argv in order:
            wall, cpu = run(argv)
            if round_number > 0:
                walls[label].append(wall)
                cpus[label].append(cpu)
    first = statistics.median(walls[cases[0][0]])
    print(f"after: {load_line()}; {args.rounds} rounds\n")
    print("| command | wall median | min | CPU median | ratio to the first |")
    print("|---|---|---|---|---|")
    for label, _ in cases:
        median = statistics.median(walls[label])
        print(f"| {label} | {median * 1000:.1f} ms | {min(walls[label]) * 1000:.1f} ms | "
              f"{statistics.median(cpus[label]) * 1000:.1f} ms | {median / first:.2f}x |")


if __name__ == "__main__":
    main()
