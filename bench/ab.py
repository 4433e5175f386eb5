#!/usr/bin/env python3
"""Two or more builds (or any commands) run interleaved on the same workload (docs/benchmarks.md, round 16).

Each round runs every command once, in turn, alternating the order from round to round; one warm-up
round is discarded (`common.interleave`). Prints each command's wall median and minimum, its CPU
median (the whole process tree: user + system, from wait4) and its ratio to the first command.
Output goes to /dev/null.

    python3 bench/ab.py --rounds 21 --cwd DIR \\
        old='/tmp/old/nixactions validate big.yml' new='.build/release/nixactions validate big.yml'

`--validate-workflow` writes the `validate` benchmark's 2,000-job workflow (`big.yml`, and its GitHub
variant in `.github/workflows/big.yml`) into `--cwd` first.
"""
import argparse, os, shlex, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Case, fmt_s, interleave, load_line, med, table, write  # noqa: E402
from suites import big_workflow  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=21)
    parser.add_argument("--cwd", default=os.getcwd())
    parser.add_argument("--validate-workflow", action="store_true")
    parser.add_argument("commands", nargs="+", metavar="LABEL=COMMAND")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    folder = os.path.abspath(args.cwd)
    cases = []
    for item in args.commands:
        label, _, command = item.partition("=")
        if not command:
            parser.error(f"expected LABEL=COMMAND, got {item!r}")
        if any(label == case.name for case in cases):
            parser.error(f"label {label!r} is given twice")
        argv = shlex.split(command)
        # A relative program path names a file from where ab.py was started, not from --cwd.
        if "/" in argv[0] and not os.path.isabs(argv[0]):
            argv[0] = os.path.abspath(argv[0])
        cases.append(Case(label, argv, folder, sample_host=False))
    os.makedirs(folder, exist_ok=True)
    if args.validate_workflow:
        write(os.path.join(folder, "big.yml"), big_workflow(2000))
        write(os.path.join(folder, ".github", "workflows", "big.yml"), big_workflow(2000, github=True))
    print(f"before: {load_line()}")
    samples = interleave(cases, args.rounds, alternate=True, progress=False)
    print(f"after: {load_line()}; {args.rounds} rounds\n")
    first = med(samples[cases[0].name])
    table(["command", "wall median", "min", "CPU median", "ratio to the first"],
          [[case.name, fmt_s(med(samples[case.name])), fmt_s(min(s["wall"] for s in samples[case.name])),
            fmt_s(med(samples[case.name], "cpu")), f"{med(samples[case.name]) / first:.2f}x"] for case in cases])


if __name__ == "__main__":
    main()
