#!/usr/bin/env python3
"""Does removing a run's logs right after it slow the next run? (docs/benchmarks.md, round 14)

Runs 1,000 independent no-op jobs N times keeping each run's logs, then N times removing them right
after each run, in a folder of TMPDIR's file system, and prints the host CPU of each run (the
nixactions process alone: its utime + stime, read after it exits and before it is reaped). On an
ext4 without a journal, a file's creation checks every inode freed in the last minute (six while
its inode-table block is dirty), so the second series grows with the logs freed before it.

    python3 bench/log-deletion.py [--binary B] [--runs 8] [--pause 390]

`--pause` waits that many seconds first, so that earlier deletions no longer count.
"""
import argparse, os, shutil, statistics, subprocess, sys, tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import load_line, read_cpu_s  # noqa: E402
from suites import graph, workflow_text  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/nixactions"))
    parser.add_argument("--runs", type=int, default=8)
    parser.add_argument("--pause", type=int, default=0)
    args = parser.parse_args()
    print(load_line(), flush=True)
    with tempfile.TemporaryDirectory(prefix="nxa-logdel-") as folder:
        workflow = os.path.join(folder, "g.yml")
        with open(workflow, "w") as f:
            f.write(workflow_text(graph("independent", 1000)))
        logs, kept = os.path.join(folder, "logs"), os.path.join(folder, "kept")
        os.makedirs(kept)
        if args.pause:
            time.sleep(args.pause)
        results = {}
        for mode in ["keep", "remove"]:
            series = []
            for index in range(args.runs):
                started = time.monotonic()
                process = subprocess.Popen([args.binary, "run", workflow, "-j", "2", "--log-format", "plain",
                                            "--log-dir", logs], stdout=subprocess.DEVNULL, cwd=folder)
                os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOWAIT)
                cpu = read_cpu_s(process.pid)
                process.wait()
                series.append((time.monotonic() - started, cpu))
                if mode == "remove":
                    shutil.rmtree(logs)
                else:
                    os.rename(logs, os.path.join(kept, str(index)))
            results[mode] = series
            print(f"{mode:6s} host CPU per run (s): " + ", ".join(f"{cpu:.2f}" for _, cpu in series)
                  + f"; median wall {statistics.median(w for w, _ in series):.2f} s", flush=True)
    print(load_line())


if __name__ == "__main__":
    main()
