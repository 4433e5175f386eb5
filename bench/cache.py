"""The `cache` benchmark of bench/bench.py (issue 11): a job-level `cache:` saved and restored
through the local and s3 backends, against GNU tar with zstd and `aws s3 cp`.

A tree of 20,000 files (~300 MB: source-like text, partly compressible object-like files, some
random binaries, nested folders, a few symlinks) is generated once, on the same disk as the
cache (never tmpfs), under the benchmark's temporary folder. Every round runs, in this order:

- baseline: `nixactions run` of a one-job workflow (one `true` step) without `cache:`;
- save: the same workflow with `cache: { paths: [TREE], key: FRESH }` (local backend): the whole
  run, and the baseline's median subtracted to show the cache's share;
- `tar --zstd -cf OUT.tar.zst -C PARENT tree` (GNU tar, the zstd CLI at its default level 3);
- restore: the tree deleted (untimed), then the workflow again, restoring the key just saved;
- `tar --zstd -xf OUT.tar.zst -C PARENT` into the emptied parent;
- s3 (a moto server on 127.0.0.1), the whole operation: the workflow saving a fresh key of the
  tree through the s3 backend, against `tar --zstd -cf - … | aws s3 cp - s3://BUCKET/y.tar.zst`
  (pack, compress and upload, what a save does); the tree deleted, the workflow restoring that
  key, against `aws s3 cp s3://BUCKET/y.tar.zst - | tar --zstd -xf -` (download and unpack);
- s3, the transfer of the same archive (the issue's S3 goal): a cache whose one path is this
  round's OUT.tar.zst (hard-linked into a folder of its own), saved and restored through the s3
  backend, against `aws s3 cp OUT.tar.zst s3://BUCKET/x.tar.zst` and `aws s3 cp` of it back down
  to a file. The nixactions runs still pack and compress (one file of zstd data: little work), so
  the comparison is conservative.

The two sides of each pair (save and `tar -c`, restore and `tar -x`, and the transfer pairs) take
turns going first, round by round (nixactions first in odd rounds: with an odd number of rounds it
goes first once more than its peer), and every command starts after a `sync` (untimed), so that no
command pays for writing back the previous one's files.

Every restore is checked against the generated tree (paths, types, sizes, executable bits,
symlink targets, a hash of each file's content) and the nixactions runs' output must say
"saved" / "restored"; a mismatch fails the benchmark instead of publishing its time.
The moto server's own CPU time per command is read from /proc (its utime+stime before and after).
"Deleting" the tree before a restore moves it aside (a rename); the copies are removed at the end
(see remove_tree for why).
"""
import hashlib, os, random, shutil, signal, socket, stat, subprocess, sys, tempfile, time, urllib.request
from common import Failed, fmt_mib, fmt_s, heading, load_line, med, run_once, read_cpu_s, table, write

NOWS = "    workspace: { copy-project: false }"
AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
           "AWS_DEFAULT_REGION": "us-east-1"}
BUCKET = "nxa-bench"


# ---------------------------------------------------------------- the tree

WORDS = ("let var func return if else for while in guard self struct class enum case switch import "
         "public private static init throws try await async value result error count index path name "
         "data buffer offset length string array map filter reduce options config").split()


def text_pool(rng, count=200_000):
    """Distinct source-like lines; files are random sequences of them (lines repeat across a tree,
    sequences do not)."""
    lines = []
    for i in range(count):
        indent = " " * (4 * rng.randint(0, 4))
        kind = rng.random()
        a, b, c = rng.choice(WORDS), rng.choice(WORDS), rng.choice(WORDS)
        if kind < 0.3:
            line = f"{indent}let {a}{i % 977} = {b}.{c}({rng.randint(0, 99999)})"
        elif kind < 0.5:
            line = f"{indent}// {a} {b} {c} {rng.choice(WORDS)} {rng.choice(WORDS)} #{rng.randint(0, 9999)}"
        elif kind < 0.7:
            line = f"{indent}if {a} == {rng.randint(0, 4096)} {{ return {b}[{c}] }}"
        elif kind < 0.85:
            line = f"{indent}func {a}{b.capitalize()}_{i % 313}(_ {c}: Int) -> String {{"
        else:
            line = f'{indent}"{a}_{b}": "{os.urandom(6).hex()}",'
        lines.append(line + "\n")
    return lines


def text_bytes(rng, pool, size):
    out, total = [], 0
    while total < size:
        chunk = rng.choices(pool, k=64)
        out.extend(chunk)
        total += sum(len(x) for x in chunk)
    return "".join(out).encode()[:size]


def object_bytes(rng, pool, size):
    """Object-file-like: random blocks, zero runs, tables of small integers and strings."""
    parts, total = [], 0
    while total < size:
        kind = rng.random()
        n = rng.choice([256, 512, 1024, 4096])
        if kind < 0.45:
            part = os.urandom(n)
        elif kind < 0.65:
            part = bytes(n)
        elif kind < 0.85:
            part = bytes(rng.randrange(16) for _ in range(n // 8)) * 8
        else:
            part = text_bytes(rng, pool, n)
        parts.append(part)
        total += len(part)
    return b"".join(parts)[:size]


def scaled_sizes(rng, count, budget, mu, sigma, lo, hi):
    raw = [min(max(rng.lognormvariate(mu, sigma), lo), hi) for _ in range(count)]
    factor = budget / sum(raw)
    return [max(1, int(x * factor)) for x in raw]


def make_tree(root, files=20000, total=300 << 20, seed=11):
    """Returns the tree's manifest (see manifest())."""
    rng = random.Random(seed)
    pool = text_pool(rng)
    folders = [""]
    for i in range(max(20, files // 25)):
        parent = rng.choice(folders)
        if parent.count("/") >= 6:
            parent = ""
        folders.append(os.path.join(parent, rng.choice(["src", "lib", "pkg", "dist", "obj", "test", "gen", "m"]) + str(i)))
    for folder in folders:
        os.makedirs(os.path.join(root, folder), exist_ok=True)
    large = max(1, files // 200)          # 100: half random binaries, half big text (logs, bundles)
    objects = max(1, files // 10 - large)  # 1,900 object-like files
    small = files - large - objects        # 18,000 source-like files
    plan = ([("text", s) for s in scaled_sizes(rng, small, total * 35 // 100, 8.0, 1.0, 64, 256 << 10)] +
            [("object", s) for s in scaled_sizes(rng, objects, total * 25 // 100, 10.8, 0.8, 2 << 10, 2 << 20)] +
            [(rng.choice(["random", "text"]), s) for s in scaled_sizes(rng, large, total * 40 // 100, 14.0, 0.6, 256 << 10, 16 << 20)])
    rng.shuffle(plan)
    names = []
    for i, (kind, size) in enumerate(plan):
        ext = {"text": rng.choice([".swift", ".js", ".json", ".c", ".h", ".txt"]), "object": rng.choice([".o", ".a", ".bin"]),
               "random": rng.choice([".gz", ".png", ".jar"])}[kind]
        path = os.path.join(root, rng.choice(folders), f"f{i}{ext}")
        data = (text_bytes(rng, pool, size) if kind == "text" else
                object_bytes(rng, pool, size) if kind == "object" else os.urandom(size))
        with open(path, "wb") as f:
            f.write(data)
        if rng.random() < 0.02:
            os.chmod(path, 0o755)
        names.append(path)
    for i in range(20):  # relative symlinks to files, a few to folders, one dangling
        target = rng.choice(names) if i % 5 else os.path.join(root, rng.choice(folders[1:]))
        link = os.path.join(root, rng.choice(folders), f"link{i}")
        os.symlink(os.path.relpath(target, os.path.dirname(link)), link)
    os.symlink("does-not-exist", os.path.join(root, "dangling-link"))
    return manifest(root)


def manifest(root):
    """{relative path: (kind, size, executable, content hash or link target)} of a tree."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", 0, False, os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", 0, False, "")
            else:
                with open(path, "rb") as f:
                    digest = hashlib.file_digest(f, "sha1").hexdigest()
                out[rel] = ("file", st.st_size, bool(st.st_mode & 0o100), digest)
    return out


def file_sha1(path):
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha1").hexdigest()


def check_tree(root, expected, what):
    if not os.path.isdir(root):
        raise Failed(f"{what}: the tree was not restored ({root} does not exist)")
    got = manifest(root)
    if got != expected:
        missing = sorted(set(expected) - set(got))[:5]
        extra = sorted(set(got) - set(expected))[:5]
        differ = sorted(k for k in set(got) & set(expected) if got[k] != expected[k])[:5]
        raise Failed(f"{what}: the restored tree differs from the original: {len(got)} entries for {len(expected)}; "
                     f"missing {missing}, extra {extra}, different {[(k, expected[k], got[k]) for k in differ]}")


# ---------------------------------------------------------------- moto


def moto_binary():
    found = shutil.which("moto_server")
    if found:
        return found
    candidate = os.path.expanduser("~/.cache/nixactions-ci/venv/bin/moto_server")
    return candidate if os.access(candidate, os.X_OK) else None


class Moto:
    def __init__(self, binary, folder):
        sock = socket.socket(); sock.bind(("127.0.0.1", 0)); self.port = sock.getsockname()[1]; sock.close()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(folder, "moto.log"), "wb")
        self.proc = subprocess.Popen([binary, "-H", "127.0.0.1", "-p", str(self.port)], stdout=self.log, stderr=self.log,
                                     start_new_session=True)
        for _ in range(300):
            try:
                urllib.request.urlopen(self.url + "/moto-api/", timeout=1)
                break
            except Exception:
                if self.proc.poll() is not None:
                    raise Failed("moto_server exited at start (see moto.log)")
                time.sleep(0.1)
        else:
            self.stop()
            raise Failed("moto_server did not answer within 30 s")
        # moto's shim (pyenv) execs python in the same process, so this pid is the server.
        subprocess.run(["curl", "-sf", "-X", "PUT", f"{self.url}/{BUCKET}"], check=True, stdout=subprocess.DEVNULL)

    def cpu(self):
        return read_cpu_s(self.proc.pid)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


# ---------------------------------------------------------------- the benchmark


def bench_cache(ctx):
    args = ctx.args
    rounds = args.rounds or 3
    files, total = args.cache_files, args.cache_size
    folder = ctx.folder("cache")
    parent = os.path.join(folder, "data")
    tree = os.path.join(parent, "tree")
    store = os.path.join(folder, "store")
    archive = os.path.join(folder, "OUT.tar.zst")
    down = os.path.join(folder, "down.tar.zst")
    single = os.path.join(folder, "single")
    os.makedirs(parent, exist_ok=True)
    started = time.perf_counter()
    print(f"  [generating {files:,} files, {total >> 20} MiB under {tree}]", file=sys.stderr, flush=True)
    expected = make_tree(tree, files, total)
    made = sum(v[1] for v in expected.values())
    nfiles = sum(1 for v in expected.values() if v[0] == "file")
    links = sum(1 for v in expected.values() if v[0] == "link")
    dirs = sum(1 for v in expected.values() if v[0] == "dir")
    print(f"  [tree made in {time.perf_counter() - started:.0f} s]", file=sys.stderr, flush=True)
    compressed = subprocess.run(f"tar -cf - -C {parent} tree | zstd -3 -c | wc -c", shell=True, capture_output=True, text=True).stdout.strip()

    moto_bin, aws = moto_binary(), shutil.which("aws")
    moto = Moto(moto_bin, folder) if moto_bin else None
    notes = []
    if not moto:
        notes.append("s3 left out: moto_server is not installed (PATH or ~/.cache/nixactions-ci/venv/bin)")
    if moto and not aws:
        notes.append("`aws s3 cp` left out: the aws CLI is not installed")
    s3 = f'    s3: {{ bucket: {BUCKET}, endpoint: "{moto.url}", prefix: "bench/" }}\n' if moto else ""
    write(os.path.join(folder, ".nixactions", "config.yml"),
          f"cache:\n  backend: local\n  backends:\n    local: {{ directory: {store}, max-size: 100G }}\n{s3}")
    env = dict(os.environ, **AWS_ENV)
    logs = os.path.join(folder, "logs")

    def workflow(name, cache):
        write(os.path.join(folder, f"{name}.yml"),
              f"name: {name}\njobs:\n  job:\n{NOWS}\n" + (f"    cache: {cache}\n" if cache else "") + "    steps:\n      - run: \"true\"\n")
        return [ctx.binary, "run", f"{name}.yml", "--log-format", "plain", "--log-dir", logs]

    # A restored tree is moved aside, never deleted, until the end: on ext4, creating files within
    # 60-300 s of deleting many makes the inode allocator skip every recently deleted inode
    # (`recently_deleted` in ext4's ialloc.c); after `rm -rf` of the tree, `tar -xf` of it took
    # 14-16 s of system time instead of 2-4 s, for nixactions and tar alike.
    aside = os.path.join(folder, "aside")
    os.makedirs(aside, exist_ok=True)

    def remove_tree():
        if os.path.lexists(tree):
            os.rename(tree, os.path.join(aside, str(len(os.listdir(aside)))))

    def run(argv, expect=None, shell=False, before=None, after=None, server=False):
        if before:
            before()
        # Untimed: the previous command's dirty pages (hundreds of MiB) are written back now,
        # not throttling whichever command comes next.
        os.sync()
        out = os.path.join(folder, "stdout.txt")
        moto_before = moto.cpu() if server and moto else None
        with open(out, "wb") as stdout:
            sample = run_once(["bash", "-c", argv] if shell else argv, folder, env=env, stdout=stdout,
                              sample_host=not shell and os.path.basename(argv[0]) == "nixactions")
        if moto_before is not None:
            sample["server_cpu"] = moto.cpu() - moto_before
        shutil.rmtree(logs, ignore_errors=True)
        text = open(out, errors="replace").read() + sample["stderr"].decode(errors="replace")
        if expect and expect not in text:
            raise Failed(f"expected {expect!r} in the output of {argv if not shell else argv!r}:\n{text[-3000:]}")
        if after:
            after()
        return sample

    names = ["baseline (no cache)", "nixactions save (local)", "tar --zstd -cf", "nixactions restore (local)",
             "tar --zstd -xf"]
    if moto:
        names += ["nixactions save (s3)"] + (["tar --zstd -cf - | aws s3 cp -"] if aws else []) + ["nixactions restore (s3)"]
        names += ["aws s3 cp down | tar --zstd -xf -"] if aws else []
        names += ["nixactions save (s3, the archive)"] + (["aws s3 cp up"] if aws else [])
        names += ["nixactions restore (s3, the archive)"] + (["aws s3 cp down"] if aws else [])
    samples = {name: [] for name in names}
    q = lambda p: "'" + p + "'"
    try:
        for round_index in range(rounds + 1):
            key = f"k-{os.getpid()}-{round_index}"
            got = {}
            got["baseline (no cache)"] = run(workflow("baseline", None))
            save = workflow("local", f"{{ paths: [{tree}], key: {key} }}")
            # Each pair takes turns going first, round by round (as the s3 transfer pairs below).
            turn = (lambda pair: pair) if round_index % 2 == 1 else (lambda pair: pair[::-1])
            for name, action in turn([
                ("nixactions save (local)", lambda: run(save, expect=f"saved '{key}'")),
                ("tar --zstd -cf", lambda: run(f"tar --zstd -cf {q(archive)} -C {q(parent)} tree", shell=True,
                                               before=lambda: os.path.exists(archive) and os.unlink(archive))),
            ]):
                got[name] = action()
            for name, action in turn([
                ("nixactions restore (local)", lambda: run(save, expect=f"restored '{key}'", before=remove_tree,
                                                           after=lambda: check_tree(tree, expected, "nixactions restore (local)"))),
                ("tar --zstd -xf", lambda: run(f"tar --zstd -xf {q(archive)} -C {q(parent)}", shell=True, before=remove_tree,
                                               after=lambda: check_tree(tree, expected, "tar --zstd -xf"))),
            ]):
                got[name] = action()
            if moto:
                s3save = workflow("s3", f"{{ paths: [{tree}], key: {key}, backend: s3 }}")
                got["nixactions save (s3)"] = run(s3save, expect=f"saved '{key}'", server=True)
                aws_cp = f"aws --endpoint-url {moto.url} s3 cp --only-show-errors"
                if aws:
                    got["tar --zstd -cf - | aws s3 cp -"] = run(
                        f"set -o pipefail; tar --zstd -cf - -C {q(parent)} tree | {aws_cp} - s3://{BUCKET}/y.tar.zst",
                        shell=True, server=True)
                got["nixactions restore (s3)"] = run(s3save, expect=f"restored '{key}'", before=remove_tree, server=True,
                                                    after=lambda: check_tree(tree, expected, "nixactions restore (s3)"))
                if aws:
                    got["aws s3 cp down | tar --zstd -xf -"] = run(
                        f"set -o pipefail; {aws_cp} s3://{BUCKET}/y.tar.zst - | tar --zstd -xf - -C {q(parent)}", shell=True,
                        server=True, before=remove_tree, after=lambda: check_tree(tree, expected, "aws s3 cp down | tar -x"))
                # The transfer of the same archive both ways: a cache whose one path is tar's
                # archive of this round (hard-linked into a folder of its own) against `aws s3 cp`
                # of that file. The two go in turns, nixactions first in odd rounds, aws first in
                # even ones (moto's CPU for an upload depended on what ran before it).
                if os.path.lexists(single):
                    shutil.rmtree(single)
                os.makedirs(single)
                os.link(archive, os.path.join(single, "OUT.tar.zst"))
                single_key = f"{key}-archive"
                one = workflow("s3one", f"{{ paths: [{single}], key: {single_key}, backend: s3 }}")

                def check_single():
                    if file_sha1(os.path.join(single, "OUT.tar.zst")) != file_sha1(archive):
                        raise Failed("nixactions restore (s3, the archive): the archive came back different")

                def check_down():
                    if file_sha1(down) != file_sha1(archive):
                        raise Failed("aws s3 cp down: the archive came back different")
                ours_up = lambda: run(one, expect=f"saved '{single_key}'", server=True)
                aws_up = lambda: run(f"{aws_cp} {q(archive)} s3://{BUCKET}/x.tar.zst", shell=True, server=True)
                ours_down = lambda: run(one, expect=f"restored '{single_key}'", server=True,
                                        before=lambda: shutil.rmtree(single), after=check_single)
                aws_down = lambda: run(f"{aws_cp} s3://{BUCKET}/x.tar.zst {q(down)}", shell=True, server=True,
                                       before=lambda: os.path.exists(down) and os.unlink(down), after=check_down)
                pairs = [("nixactions save (s3, the archive)", ours_up), ("aws s3 cp up", aws_up)] if aws else \
                    [("nixactions save (s3, the archive)", ours_up)]
                for name, action in turn(pairs):
                    got[name] = action()
                pairs = [("nixactions restore (s3, the archive)", ours_down), ("aws s3 cp down", aws_down)] if aws else \
                    [("nixactions restore (s3, the archive)", ours_down)]
                for name, action in turn(pairs):
                    got[name] = action()
                # Drop this round's objects so moto's memory does not grow round by round.
                subprocess.run(["aws", "--endpoint-url", moto.url, "s3", "rm", "--recursive", "--only-show-errors",
                                f"s3://{BUCKET}/bench/"], env=env, check=False) if aws else None
            if round_index >= 1:
                for name in names:
                    samples[name].append(got[name])
            label = "warm-up" if round_index == 0 else f"round {round_index}/{rounds}"
            print(f"  [{label} done, load {os.getloadavg()[0]:.2f}]", file=sys.stderr, flush=True)
    finally:
        if moto:
            moto.stop()
        stored = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(store) for f in fs) if os.path.isdir(store) else 0
        shutil.rmtree(folder, ignore_errors=True)

    heading(f"cache: a tree of {nfiles:,} files, {made / (1 << 20):.0f} MiB ({dirs:,} folders, {links} symlinks; "
            f"`tar | zstd -3` {int(compressed) / (1 << 20):.0f} MiB), {rounds} rounds after one warm-up ({load_line()} at the end)")
    for note in notes:
        print(f"- {note}")
    if notes:
        print()
    base = med(samples[names[0]])
    peers = {"nixactions save (local)": "tar --zstd -cf", "nixactions restore (local)": "tar --zstd -xf",
             "nixactions save (s3)": "tar --zstd -cf - | aws s3 cp -", "nixactions restore (s3)": "aws s3 cp down | tar --zstd -xf -",
             "nixactions save (s3, the archive)": "aws s3 cp up", "nixactions restore (s3, the archive)": "aws s3 cp down"}
    rows = []
    for name in names:
        s = samples[name]
        nx = name.startswith("nixactions")
        peer = peers.get(name)
        rows.append([name, fmt_s(med(s)), fmt_s(min(x["wall"] for x in s)), fmt_s(max(x["wall"] for x in s)),
                     fmt_s(med(s) - base) if nx else "", fmt_s(med(s, "cpu")),
                     f"{fmt_s(med(s, 'user'))} / {fmt_s(med(s, 'sys'))}",
                     fmt_s(med(s, "server_cpu")) if med(s, "server_cpu") is not None else "",
                     fmt_mib(med(s, "maxrss_kib")), fmt_mib(med(s, "hwm_kib")) if nx or name.startswith("baseline") else "",
                     f"{med(s) / med(samples[peer]):.2f}x" if peer in samples else ""])
    table(["command", "wall median", "min", "max", "beyond the baseline run", "CPU (user+sys, tree)", "user / sys",
           "moto CPU", "peak RSS (largest process)", "nixactions VmHWM (sampled)", "ratio to peer"], rows)
    print(f"\nLocal store after the run: {stored / (1 << 20):.0f} MiB for {rounds + 1} saved keys.")
    checks = []
    worst_rss = max(med(samples[n], "maxrss_kib") for n in names if n.startswith("nixactions"))
    for name, peer, goal in [("nixactions save (local)", "tar --zstd -cf", 1.1), ("nixactions restore (local)", "tar --zstd -xf", 1.1),
                             ("nixactions save (s3, the archive)", "aws s3 cp up", 1.0),
                             ("nixactions restore (s3, the archive)", "aws s3 cp down", 1.0)]:
        if name in samples and peer in samples:
            r = med(samples[name]) / med(samples[peer])
            ok = r <= goal if goal > 1 else r < 1
            checks.append(f"{name} / {peer}: {r:.2f}x (goal {'≤ 1.1x' if goal > 1 else '< 1x'}) → {'**met**' if ok else '**missed**'}")
    if "tar --zstd -cf - | aws s3 cp -" in samples:
        r = med(samples["nixactions save (s3)"]) / med(samples["tar --zstd -cf - | aws s3 cp -"])
        checks.append(f"nixactions save (s3) / `tar --zstd -cf - | aws s3 cp -` (pack and upload, no goal): {r:.2f}x")
    if "aws s3 cp up" in samples:
        r = med(samples["nixactions save (s3)"]) / med(samples["aws s3 cp up"])
        checks.append(f"nixactions save (s3) / `aws s3 cp` up of the ready archive (packing and compressing against "
                      f"none, no goal): {r:.2f}x")
    if "aws s3 cp down | tar --zstd -xf -" in samples:
        r = med(samples["nixactions restore (s3)"]) / med(samples["aws s3 cp down | tar --zstd -xf -"])
        checks.append(f"nixactions restore (s3) / `aws s3 cp - | tar --zstd -xf -` (download and unpack, no goal): {r:.2f}x")
    checks.append(f"peak RSS of nixactions (largest of its runs' medians): {fmt_mib(worst_rss)} (goal < 128 MiB) → "
                  f"{'**met**' if worst_rss < 128 * 1024 else '**missed**'}")
    print("\n" + ";\n".join(checks) + ".")
