"""Shared measurement helpers for bench/bench.py.

Every command is started with subprocess.Popen and reaped with os.wait4, so that besides the wall
clock we get the rusage of the whole process tree: on Linux a reaped child's rusage includes every
descendant it reaped in turn, so ru_utime + ru_stime is the CPU time of the tree and ru_nvcsw +
ru_nivcsw its context switches. The command runs under GNU `/usr/bin/time -f %M`: a child forked
from Python would report Python's own RSS (~17 MiB) as its ru_maxrss floor, a child forked from
`time` does not; %M is the peak RSS of the *largest single process* of the tree (not the sum).
(`time` adds one small fork+exec to every peer alike, and its own CPU, ~1 ms, to the tree.)
For the host's own peak RSS, `run_once(..., sample_host=True)` also polls VmHWM in
/proc/PID/status of the command while it runs (every 20 ms; VmHWM only grows, so the last sample
is the host process's peak up to the last 20 ms of its life), and the host process's own CPU time
(utime + stime in /proc/PID/stat, 10 ms ticks; again the last sample, so it can miss the last
20 ms): tree CPU minus host CPU is what the steps' processes used.
"""
import itertools, os, shutil, statistics, subprocess, sys, tempfile, threading, time


TIME = "/usr/bin/time"  # GNU time (Debian package `time`)


class Failed(Exception):
    pass


def read_hwm_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


TICK = os.sysconf("SC_CLK_TCK")


def read_cpu_s(pid):
    """utime + stime of one process (not its children), from /proc/PID/stat, in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError, ValueError):
        return None


def run_once(argv, cwd, env=None, stdout=subprocess.DEVNULL, sample_host=False, check=True):
    """Runs argv, returns a dict: wall (s), cpu (s), user, sys, maxrss_kib, csw, rc, hwm_kib."""
    with tempfile.TemporaryFile() as err, tempfile.NamedTemporaryFile("r") as rss:
        start = time.perf_counter()
        proc = subprocess.Popen([TIME, "-f", "%M", "-o", rss.name, *argv], cwd=cwd, env=env,
                                stdout=stdout, stderr=err)
        hwm, host_cpu = [None], [None]
        stop = threading.Event()
        if sample_host:
            def poll():
                child = None
                while not stop.is_set():
                    if child is None:
                        try:
                            with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                                child = int(f.read().split()[0])
                        except (OSError, IndexError, ValueError):
                            stop.wait(0.002)
                            continue
                    value = read_hwm_kib(child)
                    if value is not None:
                        hwm[0] = value
                    value = read_cpu_s(child)
                    if value is not None:
                        host_cpu[0] = value
                    stop.wait(0.02)
            sampler = threading.Thread(target=poll, daemon=True)
            sampler.start()
        _, status, ru = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        stop.set()
        if sample_host:
            sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read()
        try:
            maxrss = int(rss.read().strip().splitlines()[-1])
        except (ValueError, IndexError):
            maxrss = None
    if check and proc.returncode != 0:
        raise Failed(f"benchmark command failed ({proc.returncode}): {' '.join(map(str, argv))}\n"
                     f"{stderr.decode(errors='replace')[-2000:]}")
    return {
        "wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "user": ru.ru_utime, "sys": ru.ru_stime,
        "maxrss_kib": maxrss, "csw": ru.ru_nvcsw + ru.ru_nivcsw, "nvcsw": ru.ru_nvcsw,
        "nivcsw": ru.ru_nivcsw, "rc": proc.returncode, "hwm_kib": hwm[0], "host_cpu": host_cpu[0], "stderr": stderr,
    }


class Case:
    """One peer of a benchmark. `after(sample)` may add fields to the sample and clean up."""

    def __init__(self, name, argv, cwd, after=None, sample_host=None, env=None):
        self.name, self.argv, self.cwd, self.after = name, argv, cwd, after
        if sample_host is None:  # sample the host process's VmHWM and CPU when it is nixactions itself
            sample_host = os.path.basename(str(argv[0])) == "nixactions"
        self.sample_host, self.env = sample_host, env


def interleave(cases, rounds, warmup=1, progress=True, alternate=False):
    """Runs the cases round by round (A B C, A B C, ...; with `alternate`, A B C, C B A, ...); the
    first `warmup` rounds are discarded. Returns {name: [sample, ...]}."""
    samples = {case.name: [] for case in cases}
    for round_index in range(rounds + warmup):
        for case in (cases[::-1] if alternate and round_index % 2 else cases):
            sample = run_once(case.argv, case.cwd, env=case.env, sample_host=case.sample_host)
            if case.after:
                case.after(sample)
            if round_index >= warmup:
                samples[case.name].append(sample)
        if progress:
            label = "warm-up" if round_index < warmup else f"round {round_index - warmup + 1}/{rounds}"
            print(f"  [{label} done, load {os.getloadavg()[0]:.2f}]", file=sys.stderr, flush=True)
    return samples


def med(samples, key="wall"):
    values = [s[key] for s in samples if s.get(key) is not None]
    return statistics.median(values) if values else None


def fmt_s(seconds):
    if seconds is None:
        return "n/a"
    if seconds >= 10:
        return f"{seconds:.1f} s"
    if seconds >= 1:
        return f"{seconds:.2f} s"
    return f"{seconds*1000:.0f} ms"


def fmt_ms(seconds, digits=2):
    return "n/a" if seconds is None else f"{seconds*1000:.{digits}f} ms"


def fmt_mib(kib):
    return "n/a" if kib is None else f"{kib/1024:.1f} MiB"


def table(header, rows):
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |")


def heading(title):
    print(f"\n### {title}\n", flush=True)


def load_line():
    return f"load {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}"


def tree_bytes(path):
    total = files = 0
    for root, _, names in os.walk(path):
        for name in names:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
                files += 1
            except OSError:
                pass
    return total, files


# The `.kept-logs` folders of `log_dir_measure`, removed when bench.py ends (`remove_kept`).
KEPT = []
# Names of the folders set aside, unique within the run of bench.py.
_kept_serial = itertools.count()
# `bench.py --delete-logs`: remove each run's logs right after it, as up to round 13.
DELETE_LOGS_AT_ONCE = False
# Larger log folders are removed at once: they hold few files, and what is below is per file.
KEEP_AT_MOST = 256 << 20


def log_dir_measure(logs):
    """An `after` hook: record the bytes and files nixactions wrote under --log-dir, then move the
    folder aside (into `.kept-logs/` beside it); `remove_kept` removes them when bench.py ends.

    Up to round 13 each run's logs were removed at once. On this machine's ext4 (no journal) that
    slowed the runs that came after: for a minute after an inode is freed (six while its block is
    dirty), ext4 without a journal does not reuse it and checks each such inode whenever it looks
    for a free one, so a run that creates a file per job after the harness freed thousands paid
    for each of them (docs/benchmarks.md, round 14, where the evidence is mixed). nixactions never
    removes a run's logs, so keeping them until the end is also what a user's machine sees."""
    def after(sample):
        sample["log_bytes"], sample["log_files"] = tree_bytes(logs)
        if not os.path.exists(logs):
            return
        if DELETE_LOGS_AT_ONCE or sample["log_bytes"] > KEEP_AT_MOST:
            shutil.rmtree(logs, ignore_errors=True)
            return
        kept = os.path.join(os.path.dirname(logs), ".kept-logs")
        os.makedirs(kept, exist_ok=True)
        if kept not in KEPT:
            KEPT.append(kept)
        try:
            os.rename(logs, os.path.join(kept, str(next(_kept_serial))))
        except OSError:  # a name left by an earlier, interrupted run of bench.py
            shutil.rmtree(logs, ignore_errors=True)
    return after


def remove_kept():
    """Remove the log folders `log_dir_measure` set aside (when bench.py ends)."""
    while KEPT:
        shutil.rmtree(KEPT.pop(), ignore_errors=True)


def remove_file(path):
    def after(sample):
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    return after


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
