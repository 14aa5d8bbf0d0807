"""Run named commands in interleaved rounds and compare each with its peer.

A shared machine drifts: a figure taken a minute after another is not
comparable to it. So every command runs once per round, the order rotated each
round (A B C, B C A, C A B, ...), after a few warm-up runs, and what is
reported is the median of the per-round ratios (and differences) against a
peer measured in the same round, beside each command's own medians.

Each timed run is one fork and exec (no shell unless the command is one); the
harness times it with a monotonic clock and takes the child's CPU time (user +
system, the child and the descendants it waited for) from os.wait4.

The peak RSS comes from the warm-up runs, made through GNU time
(/usr/bin/time -f %M): Linux keeps the peak RSS of the address space a process
had before its exec in its ru_maxrss, so a child forked from this Python
process would report at least the harness's own 10-16 MB. GNU time forks from a
small process, as a container runtime does. Like wait4's, its figure is the
largest single process of the tree (the child or a descendant it waited for).

    python3 interleave.py [-n ROUNDS] [-w WARMUP] [--json OUT]
        --cmd NAME 'COMMAND' [--cmd NAME 'COMMAND' ...]
        [--peer NAME] [--vs NAME PEER] [--env NAME K=V] [--cwd NAME DIR]
        [--setup NAME 'SHELL'] [--stdout NAME null|drain|PATH] [--exit NAME CODE]
        [--clean-env]

COMMAND is split as a shell would split words (shlex) and executed directly;
write `bash -c '...'` for pipes and redirections. NAME '*' in --env, --cwd,
--setup and --stdout applies to every command. --setup runs with `sh -c`
before each run of NAME, untimed (e.g. to delete an output file). --stdout
drain reads the output through a pipe in the harness; a PATH is truncated and
written by the child. A run that exits with another code than --exit's (0 by
default) stops everything, showing its stderr. --clean-env runs every command
with only PATH, HOME and TMPDIR of the harness's environment (plus its --env),
as a container's process starts: a big environment costs every exec, and
variables such as PYTHONDONTWRITEBYTECODE change what is measured.

Python 3 standard library only.
"""

import argparse
import fcntl
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time

F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
GNU_TIME = "/usr/bin/time"
CLEAN_ENV = False


class Command:
    def __init__(self, name, line):
        self.name = name
        self.line = line
        self.argv = shlex.split(line)
        if not self.argv:
            sys.exit("interleave: command %r is empty" % name)
        self.env = {}
        self.cwd = None
        self.setup = None
        self.stdout = "null"
        self.exit = 0
        self.peer = None
        self.wall = []
        self.cpu = []
        self.rss = []


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="interleave.py",
        description="Interleaved rounds of named commands; medians and per-round ratios against a peer.",
    )
    p.add_argument("-n", "--rounds", type=int, default=10, help="timed rounds (default 10)")
    p.add_argument("-w", "--warmup", type=int, default=2,
                   help="untimed runs of each command first, which also measure its peak RSS (default 2, at least 1)")
    p.add_argument("--cmd", nargs=2, action="append", metavar=("NAME", "COMMAND"), required=True)
    p.add_argument("--peer", help="the peer of every command without --vs (default: the first command)")
    p.add_argument("--vs", nargs=2, action="append", default=[], metavar=("NAME", "PEER"))
    p.add_argument("--env", nargs=2, action="append", default=[], metavar=("NAME", "K=V"))
    p.add_argument("--cwd", nargs=2, action="append", default=[], metavar=("NAME", "DIR"))
    p.add_argument("--setup", nargs=2, action="append", default=[], metavar=("NAME", "SHELL"))
    p.add_argument("--stdout", nargs=2, action="append", default=[], metavar=("NAME", "null|drain|PATH"))
    p.add_argument("--exit", nargs=2, action="append", default=[], metavar=("NAME", "CODE"))
    p.add_argument("--clean-env", action="store_true",
                   help="only PATH, HOME and TMPDIR from this environment, plus --env")
    p.add_argument("--title", default="", help="a heading printed above the table")
    p.add_argument("--json", help="write every sample and summary here")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress on stderr")
    return p.parse_args(argv)


def build(args):
    cmds = []
    by_name = {}
    for name, line in args.cmd:
        if name in by_name or name == "*":
            sys.exit("interleave: command name %r is used twice (or is '*')" % name)
        c = Command(name, line)
        cmds.append(c)
        by_name[name] = c

    def targets(name, option):
        if name == "*":
            return cmds
        if name not in by_name:
            sys.exit("interleave: %s names %r, which is no --cmd" % (option, name))
        return [by_name[name]]

    for name, kv in args.env:
        if "=" not in kv:
            sys.exit("interleave: --env %s %r is not K=V" % (name, kv))
        k, v = kv.split("=", 1)
        for c in targets(name, "--env"):
            c.env[k] = v
    for name, d in args.cwd:
        for c in targets(name, "--cwd"):
            c.cwd = d
    for name, s in args.setup:
        for c in targets(name, "--setup"):
            c.setup = s
    for name, s in args.stdout:
        for c in targets(name, "--stdout"):
            c.stdout = s
    for name, code in args.exit:
        for c in targets(name, "--exit"):
            c.exit = int(code)
    peer = args.peer or cmds[0].name
    targets(peer, "--peer")
    for c in cmds:
        c.peer = peer if c.name != peer else None
    for name, p in args.vs:
        targets(p, "--vs")
        for c in targets(name, "--vs"):
            c.peer = p if p != c.name else None
    return cmds, by_name


KEPT = ("PATH", "HOME", "TMPDIR")


def run_once(c, errfile, rssfile=None):
    """One run: (wall seconds, CPU seconds, peak RSS KiB or None). With
    rssfile, the run goes through GNU time for its peak RSS (and its wall
    and CPU time include GNU time's)."""
    env = {k: v for k, v in os.environ.items() if k in KEPT} if CLEAN_ENV else dict(os.environ)
    env.update(c.env)
    if c.setup:
        subprocess.run(["sh", "-c", c.setup], env=env, cwd=c.cwd, check=True)
    errfile.seek(0)
    errfile.truncate()
    out = None
    if c.stdout == "null":
        stdout = subprocess.DEVNULL
    elif c.stdout == "drain":
        stdout = subprocess.PIPE
    else:
        out = open(c.stdout, "wb")
        stdout = out
    argv = c.argv
    if rssfile is not None:
        argv = [GNU_TIME, "-f", "%M", "-o", rssfile] + argv
    t0 = time.perf_counter()
    try:
        proc = subprocess.Popen(argv, env=env, cwd=c.cwd, stdin=subprocess.DEVNULL,
                                stdout=stdout, stderr=errfile, close_fds=True)
    except OSError as e:
        sys.exit("interleave: %s: cannot start %r: %s" % (c.name, c.argv[0], e))
    if out is not None:
        out.close()
    if proc.stdout is not None:
        fd = proc.stdout.fileno()
        try:
            fcntl.fcntl(fd, F_SETPIPE_SZ, 1 << 20)
        except OSError:
            pass
        while os.read(fd, 1 << 20):
            pass
        proc.stdout.close()
    _, status, ru = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != c.exit:
        errfile.seek(0)
        err = errfile.read().decode("utf-8", "replace")[-4000:]
        sys.exit("interleave: %s exited %d (expected %d): %s\n%s"
                 % (c.name, proc.returncode, c.exit, c.line, err))
    rss = None
    if rssfile is not None:
        with open(rssfile) as f:
            # "Command exited with non-zero status N" comes first when it did.
            rss = int(f.read().split()[-1])
    return wall, ru.ru_utime + ru.ru_stime, rss


def check_gnu_time():
    try:
        v = subprocess.run([GNU_TIME, "--version"], capture_output=True, text=True)
    except OSError:
        v = None
    if v is None or "GNU" not in v.stdout + v.stderr:
        sys.exit("interleave: GNU time is needed at %s for the peak RSS (apt-get install time)" % GNU_TIME)


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def quartiles(xs):
    if len(xs) < 4:
        return min(xs), max(xs)
    q = statistics.quantiles(xs, n=4)
    return q[0], q[2]


def loadavg():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def summarize(cmds, by_name):
    rows = []
    for c in cmds:
        s = {
            "name": c.name, "command": c.line, "rounds": len(c.wall),
            "wall_ms": median(c.wall) * 1e3,
            "wall_ms_iqr": [q * 1e3 for q in quartiles(c.wall)],
            "cpu_ms": median(c.cpu) * 1e3,
            "rss_mb": max(c.rss) / 1024,
            "peer": c.peer, "ratio": None, "delta_ms": None, "cpu_delta_ms": None,
        }
        if c.peer:
            p = by_name[c.peer]
            s["ratio"] = median([a / b for a, b in zip(c.wall, p.wall)])
            s["delta_ms"] = median([(a - b) * 1e3 for a, b in zip(c.wall, p.wall)])
            s["cpu_delta_ms"] = median([(a - b) * 1e3 for a, b in zip(c.cpu, p.cpu)])
        rows.append(s)
    return rows


def fmt_ms(ms):
    return "%.0f" % ms if ms >= 1000 else "%.2f" % ms if ms < 10 else "%.1f" % ms


def cell(text):
    """A markdown table cell: a | would end it, even inside backticks."""
    return text.replace("|", "\\|")


def markdown(rows):
    lines = ["| command | wall ms (median) | p25-p75 | CPU ms | peak RSS MB | vs | ratio | over the peer ms |",
             "|---|---:|---:|---:|---:|---|---:|---:|"]
    for s in rows:
        lo, hi = s["wall_ms_iqr"]
        lines.append("| %s | %s | %s-%s | %s | %.1f | %s | %s | %s |" % (
            cell(s["name"]), fmt_ms(s["wall_ms"]), fmt_ms(lo), fmt_ms(hi), fmt_ms(s["cpu_ms"]), s["rss_mb"],
            cell(s["peer"] or ""), "%.2f" % s["ratio"] if s["peer"] else "",
            "%+.2f" % s["delta_ms"] if s["peer"] else ""))
    return "\n".join(lines)


def main(argv):
    global CLEAN_ENV
    args = parse_args(argv)
    CLEAN_ENV = args.clean_env
    cmds, by_name = build(args)
    if args.rounds < 1:
        sys.exit("interleave: --rounds must be at least 1")
    load_before = loadavg()
    started = time.time()
    check_gnu_time()
    with tempfile.TemporaryFile() as errfile, tempfile.NamedTemporaryFile() as rssfile:
        for c in cmds:
            for _ in range(max(args.warmup, 1)):
                c.rss.append(run_once(c, errfile, rssfile.name)[2])
        n = len(cmds)
        for r in range(args.rounds):
            if not args.quiet:
                print("\r%sround %d/%d" % (args.title + ": " if args.title else "", r + 1, args.rounds),
                      end="", file=sys.stderr, flush=True)
            for c in cmds[r % n:] + cmds[:r % n]:
                wall, cpu, _ = run_once(c, errfile)
                c.wall.append(wall)
                c.cpu.append(cpu)
        if not args.quiet:
            print(file=sys.stderr)
    rows = summarize(cmds, by_name)
    meta = {"rounds": args.rounds, "warmup": args.warmup, "clean_env": args.clean_env, "load_before": load_before,
            "load_after": loadavg(), "started": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)),
            "seconds": round(time.time() - started, 1), "cpus": os.cpu_count()}
    if args.title:
        print("### " + args.title)
        print()
    print(markdown(rows))
    print()
    print("%d rounds (order rotated) after %d warm-up runs each; load average %s before, %s after; %.0f s"
          % (args.rounds, args.warmup, meta["load_before"], meta["load_after"], meta["seconds"]))
    print()
    if args.json:
        samples = {c.name: {"wall_s": c.wall, "cpu_s": c.cpu, "rss_kib": c.rss,
                            "env": c.env, "cwd": c.cwd, "setup": c.setup, "stdout": c.stdout, "exit": c.exit}
                   for c in cmds}
        with open(args.json, "w") as f:
            json.dump({"meta": meta, "title": args.title, "summary": rows, "samples": samples}, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1:])
