#!/usr/bin/env python3
"""Benchmark backscope-authd beside Knot DNS, NSD and the zero-work limit responder.

One command, Python 3 stdlib only.  Uses the anchor rig (Knot/NSD start scripts,
zone and query generator, the `limit` responder and the `gen` load generator) in
place from a private copy, so nothing of the rig lives in this tree:

  1. copies the rig (--rig, default ../shared/bench beside the repository) into a
     work folder, moves Knot's and NSD's ports to free ones, generates the zones
     and query files (gen_zone.py), compiles limit/limit.c and limit/gen.c;
  2. starts every server pinned to --server-cpu (Knot and NSD through the rig's
     anchors.sh; backscope-authd and limit directly), 1 UDP worker each.
     `backscope` is backscope-authd as deployed (capture on: event log and LMDB
     store in WORK/db); `backscope-nocap` is the same binary with the same flags
     plus `-c WORK/backscope-nocap.conf`, a file holding `[capture] enabled = no`
     (events only counted) -- the baseline of the capture's cost;
  3. for --runs rounds, for every query mix (ptr-all, mix, ip6) and every load
     (gen = open-loop generator that saturates the server's core; dnsperf), runs
     the load pinned to --load-cpu against each server in turn (round-robin,
     the first server rotating every round, so that drift hits all alike);
  4. logging phase: Knot with mod-dnstap and NSD with dnstap (rig mode `log`)
     beside backscope (capture on, the same process as in the main phase), under
     each of --log-loads (gen and dnsperf) on --log-mixes; counts the queries
     each recorded against the queries sent;
  5. stops everything (backscope with SIGTERM: its final stats line gives the
     capture event count), prints a Markdown table and PASS/FAIL lines for the
     targets, and writes all raw runs to a JSON file.

Busy share of the server's core = (user+nice+system+irq+softirq+steal)/total of
/proc/stat for --server-cpu over the load window only; replies per busy core =
replies/s / busy share.  With gen the window is the inner part of the run,
between its first and last per-second report (replies counted over the same
span); with dnsperf it is the whole dnsperf process (pass -t 1).

For every backscope run the CPU time of each thread group over the same window
(/proc/PID/task/TID/schedstat, else utime+stime of .../stat; groups by the name
in .../comm: `bsc-writer`, `bsc-flusher`, the main thread, the UDP workers) is
divided by the replies of the window: microseconds of CPU per reply, so the
capture's own cost (writer + flusher, and what the hand-off adds to the workers)
shows beside the capture-off figures.  Softirq work of the loopback path charged
to no thread is not in these figures (it is in the busy share).

The capture target of issue 3 in one invocation: backscope with capture on,
backscope with capture off, Knot DNS (plain, then with mod-dnstap in the logging
phase) and the limit responder, all on the same core in turn:

  tools/bench/run.py --build /tmp/build-bench --cmake \\
      --servers backscope,backscope-nocap,knot,limit --mixes ptr-all --loads gen,dnsperf \\
      --log-mixes ptr-all --log-loads gen,dnsperf --runs 5 --duration 15

Examples:
  tools/bench/run.py --build /tmp/build-bench --cmake            # full: 5 x 15 s
  tools/bench/run.py --servers knot,nsd,limit --runs 1 --duration 5   # quick
  tools/bench/run.py --build /tmp/build-drv --servers backscope,backscope-nocap,limit \\
      --mixes ptr-all --loads gen --runs 1 --duration 4   # capture on vs off, quick
"""
import argparse
import importlib.util
import json
import os
import platform
import re
import select
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_RIG = os.path.normpath(os.path.join(REPO, "..", "shared", "bench"))
MIXES = {"ptr-all": "queries-ptr-all.txt", "mix": "queries-mix.txt", "ip6": "queries-ip6.txt"}
ZONES = ["10.in-addr.arpa.zone", "8.b.d.0.1.0.0.2.ip6.arpa.zone"]
ALL_SERVERS = ["backscope", "backscope-nocap", "knot", "nsd", "limit"]
BACKSCOPE_KEYS = ("backscope", "backscope-nocap")
DEFAULT_PORTS = {"backscope": 5330, "knot": 5331, "nsd": 5332, "limit": 5333,
                 "backscope-nocap": 5334}
RIG_PORTS = {"knot": 5301, "nsd": 5302}   # what the rig's anchors.sh and conf/ use
LABEL = {"backscope": "backscope-authd", "backscope-nocap": "backscope-authd (capture off)",
         "knot": "Knot DNS", "nsd": "NSD", "limit": "limit",
         "knot-log": "Knot DNS + mod-dnstap", "nsd-log": "NSD + dnstap",
         "backscope-log": "backscope-authd (capture)"}


class BenchError(Exception):
    pass


class Interrupted(Exception):
    pass


class RunFailed(Exception):
    """One load run gave no usable figure (it is repeated)."""


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def cmdstr(argv):
    return " ".join(shlex.quote(str(a)) for a in argv)


# ------------------------------------------------------------------ /proc helpers

def cpu_jiffies(cpu):
    """(busy, total, irq+softirq) jiffies of one CPU;
    busy = user+nice+system+irq+softirq+steal."""
    tag = f"cpu{cpu} "
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(tag):
                v = list(map(int, line.split()[1:9]))
                return sum(v) - v[3] - v[4], sum(v), v[5] + v[6]
    raise BenchError(f"/proc/stat has no line for cpu{cpu}")


def share(a, b, field=0):
    tot = b[1] - a[1]
    return (b[field] - a[field]) / tot if tot > 0 else 0.0


def tree_pids(root):
    """root and all its descendants (by PPid in /proc/*/stat)."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                st = f.read()
        except OSError:
            continue
        kids.setdefault(int(st[st.rindex(")") + 2:].split()[1]), []).append(int(d))
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def proc_ticks(pids):
    """utime+stime (all threads) of the given processes, in clock ticks."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/stat") as f:
                st = f.read()
            fl = st[st.rindex(")") + 2:].split()
            total += int(fl[11]) + int(fl[12])
        except OSError:
            pass
    return total


CLK = os.sysconf("SC_CLK_TCK")

# backscope-authd's named threads (pthread_setname_np): comm -> group
THREAD_GROUPS = {"bsc-writer": "writer", "bsc-flusher": "flusher"}
THREAD_ORDER = ["workers", "writer", "flusher", "main"]


def thread_cpu(pid):
    """CPU time of one process's threads by group: {group: [ns, utime ticks,
    stime ticks, threads]}.  ns from /proc/PID/task/TID/schedstat (exact run
    time), or utime+stime ticks of .../stat when schedstat is missing.  Groups:
    `writer`/`flusher` by their comm, `main` (TID == PID: signals, TCP, stats),
    `workers` (the other, unnamed threads: the UDP workers), any other comm as is."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for t in tids:
        base = f"/proc/{pid}/task/{t}"
        try:
            with open(f"{base}/stat") as f:
                st = f.read()
            with open(f"{base}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue            # the thread ended
        fl = st[st.rindex(")") + 2:].split()
        ut, stt = int(fl[11]), int(fl[12])
        try:
            with open(f"{base}/schedstat") as f:
                ns = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            ns = (ut + stt) * 1_000_000_000 // CLK
        if int(t) == pid:
            g = "main"
        elif comm in THREAD_GROUPS:
            g = THREAD_GROUPS[comm]
        elif comm.startswith("bsc-"):
            g = comm[4:]
        else:
            g = "workers"
        v = out.setdefault(g, [0, 0, 0, 0])
        v[0] += ns
        v[1] += ut
        v[2] += stt
        v[3] += 1
    return out


def thread_delta(a, b, replies, secs):
    """Per group between two thread_cpu() snapshots: CPU seconds, µs per reply,
    share of a core, user and system ticks, threads."""
    res = {}
    for g in sorted(set(a) | set(b), key=lambda x: (THREAD_ORDER + [x]).index(x)):
        x, y = a.get(g, [0, 0, 0, 0]), b.get(g, [0, 0, 0, 0])
        ns = max(0, y[0] - x[0])
        ut, stt = max(0, y[1] - x[1]), max(0, y[2] - x[2])
        res[g] = {"cpu_s": ns / 1e9, "us_per_reply": ns / 1e3 / replies if replies else None,
                  "core_share": ns / 1e9 / secs if secs > 0 else None,
                  "user_ticks": ut, "sys_ticks": stt, "threads": y[3]}
    return res


def port_free(port):
    """Nothing bound to UDP or TCP `port` on 127.0.0.1 or ::1."""
    for fam, addr in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        for typ in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
            s = socket.socket(fam, typ)
            try:
                s.bind((addr, port))
            except OSError:
                return False
            finally:
                s.close()
    return True


def run_out(argv, **kw):
    try:
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30, **kw)
        return (r.stdout + r.stderr).strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"({e})"


def first_line_matching(text, rx):
    for line in text.splitlines():
        if re.search(rx, line):
            return line.strip()
    return text.splitlines()[0].strip() if text else ""


# ------------------------------------------------------------------ counters parsing

def parse_counters(text):
    """Counters of a stats line.  Every `key=N` of the head (keys lower-cased:
    queries, replies, dropped, events, noerror, refused, ...); from backscope's
    sections `capture: N events (full N, ...), dropped N`, `store: N events
    flushed ..., N failed (N events lost), N not aggregated` and `event log: N
    written, N lost, N segments`: capture_events, capture_dropped, capture_full...,
    store_flushed, store_failed, store_lost, store_not_aggregated, evlog_written,
    evlog_lost, evlog_segments; from its closing line `capture: closed: N events
    flushed, N dropped (...), event log N written`: closed_flushed,
    closed_dropped, closed_evlog_written."""
    d = {}
    m = re.search(r"capture: closed: (\d+) events flushed, (\d+) dropped", text)
    if m:
        d["closed_flushed"], d["closed_dropped"] = int(m.group(1)), int(m.group(2))
        m = re.search(r"capture: closed:.*event log (\d+) written", text)
        if m:
            d["closed_evlog_written"] = int(m.group(1))
        text = "\n".join(ln for ln in text.splitlines() if "capture: closed:" not in ln)
    parts = text.split("; ")
    for k, v in re.findall(r"([A-Za-z][\w-]*)=(\d+)\b", parts[0]):
        d[k.lower()] = int(v)
    pats = {
        "capture:": [(r"^capture:\s*(\d+) events", "capture_events"),
                     (r"\bdropped (\d+)", "capture_dropped")],
        "store:": [(r"(\d+) events flushed", "store_flushed"), (r"(\d+) failed", "store_failed"),
                   (r"\((\d+) events lost\)", "store_lost"),
                   (r"(\d+) not aggregated", "store_not_aggregated")],
        "event log:": [(r"(\d+) written", "evlog_written"), (r"(\d+) lost", "evlog_lost"),
                       (r"(\d+) segments", "evlog_segments")],
    }
    for part in parts[1:]:
        part = part.strip()
        for head, pl in pats.items():
            if part.startswith(head):
                for rx, key in pl:
                    m = re.search(rx, part)
                    if m:
                        d[key] = int(m.group(1))
                if head == "capture:":
                    inner = re.search(r"\(([^)]*)\)", part)
                    for k, v in re.findall(r"([a-z]+) (\d+)", inner.group(1) if inner else ""):
                        d[f"capture_{k}"] = int(v)
    return d


# ------------------------------------------------------------------ servers

class Server:
    key = ""
    thread_groups = False       # report CPU time per thread group (backscope)

    def __init__(self, ctx, port):
        self.ctx = ctx
        self.port = port
        self.pid = None

    def start(self):
        raise NotImplementedError

    def stop(self):
        return None

    def stats(self):
        return None

    def alive(self):
        if self.pid is None:
            return False
        try:
            os.kill(self.pid, 0)
            return True
        except OSError:
            return False

    def pids(self):
        return tree_pids(self.pid) if self.pid else []


class AnchorServer(Server):
    """Knot DNS or NSD, started and stopped by the rig's anchors.sh (which pins them)."""

    def __init__(self, ctx, port, name, mode):
        super().__init__(ctx, port)
        self.name, self.mode = name, mode
        self.key = name if mode == "plain" else f"{name}-log"

    def anchors(self, *a):
        argv = [os.path.join(self.ctx.rig, "anchors.sh"), *map(str, a)]
        env = dict(os.environ, CPUS=str(self.ctx.args.server_cpu))
        env.pop("LOG_RESPONSES", None)
        self.ctx.record(f"CPUS={self.ctx.args.server_cpu} {cmdstr(argv)}")
        r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise BenchError(f"{cmdstr(argv)} failed ({r.returncode}): {(r.stdout + r.stderr).strip()}")
        return r.stdout.strip()

    def start(self):
        log("  " + self.anchors("start", self.name, self.mode, self.ctx.args.workers))
        with open(os.path.join(self.ctx.rig, "run", self.name, "server.launch.pid")) as f:
            self.pid = int(f.read().strip())

    def collector_pid(self):
        try:
            with open(os.path.join(self.ctx.rig, "run", self.name, "collector.launch.pid")) as f:
                return int(f.read().strip())
        except OSError:
            return None

    def pids(self):
        p = super().pids()
        c = self.collector_pid()
        return p + (tree_pids(c) if c else [])

    def stop(self):
        if self.pid is not None:
            self.anchors("stop", self.name)
            self.pid = None
        return None


class ProcServer(Server):
    """A server process run directly by this driver (limit, backscope-authd)."""
    stats_sig = signal.SIGUSR1

    def __init__(self, ctx, port):
        super().__init__(ctx, port)
        self.proc = None
        self.outpath = None

    def _read(self):
        with open(self.outpath, errors="replace") as f:
            return f.read()

    def is_stats_line(self, line):
        raise NotImplementedError

    def stats(self):
        """Ask for a stats line with SIGUSR1 and wait (poll) until it appears."""
        if not self.alive():
            raise BenchError(f"{self.key} is not running; output: {self.tail()}")
        before = sum(1 for ln in self._read().splitlines() if self.is_stats_line(ln))
        os.kill(self.pid, self.stats_sig)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            lines = [ln for ln in self._read().splitlines() if self.is_stats_line(ln)]
            if len(lines) > before:
                c = parse_counters(lines[-1])
                c["_line"] = lines[-1]
                c["_t"] = time.monotonic()
                return c
            time.sleep(0.02)
        raise BenchError(f"{self.key}: no stats line within 10 s after SIGUSR1; output: {self.tail()}")

    def tail(self, n=15):
        try:
            return "\n".join(self._read().splitlines()[-n:])
        except OSError:
            return "(no output)"

    def stop(self):
        if self.proc is None:
            return None
        off = len(self._read())
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                log(f"  {self.key} did not stop within 60 s of SIGTERM: SIGKILL")
                self.proc.kill()
                self.proc.wait()
        rc = self.proc.returncode
        self.proc, self.pid = None, None
        text = self._read()[off:]
        fl = [ln for ln in text.splitlines() if "stats" in ln]
        cl = [ln for ln in text.splitlines() if "capture: closed:" in ln]
        final = parse_counters("\n".join(fl[-1:] + cl[-1:]) if fl else text)
        final["_text"] = text.strip()
        final["_exit"] = rc
        return final


class LimitServer(ProcServer):
    key = "limit"

    def is_stats_line(self, line):
        return line.startswith("counters ")

    def start(self):
        c = self.ctx
        self.outpath = os.path.join(c.out, "limit.out")
        argv = ["taskset", "-c", str(c.args.server_cpu), c.limit_bin, "-a", "127.0.0.1",
                "-p", str(self.port)]
        c.record(cmdstr(argv))
        self.proc = subprocess.Popen(argv, stdout=open(self.outpath, "w"), stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        self.pid = self.proc.pid
        deadline = time.monotonic() + 10
        while "ready " not in self._read():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise BenchError(f"limit did not start: {self.tail()}")
            time.sleep(0.02)
        log(f"  limit started: pid {self.pid} port {self.port} cpus {c.args.server_cpu}")

    def stats(self):
        s = super().stats()
        s["replies"] = s.get("tx", 0)
        s["queries"] = s.get("rx", 0)
        return s


class BackscopeServer(ProcServer):
    """backscope-authd; capture=False: the same flags plus `-c FILE`, a config
    file with `[capture] enabled = no` (flags override the file, so only the
    capture differs)."""
    thread_groups = True

    def __init__(self, ctx, port, capture=True):
        super().__init__(ctx, port)
        self.capture = capture
        self.key = "backscope" if capture else "backscope-nocap"
        self.db = os.path.join(ctx.work, "db" if capture else "db-nocap")

    def is_stats_line(self, line):
        # the answer to SIGUSR1 (notice), not the periodic one (info) nor the final one
        return (" stats: " in line and "replies=" in line and "final stats" not in line
                and not re.search(r"Z info ", line))

    def start(self):
        c = self.ctx
        self.outpath = os.path.join(c.out, "backscope-authd.log" if self.capture
                                    else "backscope-authd-nocap.log")
        argv = ["taskset", "-c", str(c.args.server_cpu), c.authd]
        if not self.capture:
            conf = os.path.join(c.work, "backscope-nocap.conf")
            with open(conf, "w") as f:
                f.write("# backscope-authd without capture (tools/bench/run.py)\n"
                        "[capture]\nenabled = no\n")
            argv += ["-c", conf]
        argv += ["-l", f"127.0.0.1@{self.port}"]
        for z in ZONES:
            argv += ["-z", os.path.join(c.rig, "data", z)]
        rfd, wfd = os.pipe()
        argv += ["-w", str(c.args.workers), "--db", self.db, "--ready-fd", str(wfd)]
        c.record(cmdstr(argv))
        out = open(self.outpath, "w")
        try:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, pass_fds=(wfd,))
        finally:
            os.close(wfd)
            out.close()
        self.pid = self.proc.pid
        buf = b""
        deadline = time.monotonic() + c.args.start_timeout
        try:
            while b"\n" not in buf:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BenchError(f"backscope-authd wrote no ready line within "
                                     f"{c.args.start_timeout} s; output: {self.tail()}")
                r, _, _ = select.select([rfd], [], [], min(left, 0.5))
                if r:
                    chunk = os.read(rfd, 4096)
                    if not chunk:
                        break
                    buf += chunk
                elif self.proc.poll() is not None:
                    break
        finally:
            os.close(rfd)
        if not buf.startswith(b"ready"):
            rc = self.proc.poll()
            raise BenchError(f"backscope-authd did not become ready (exit {rc}, ready fd said "
                             f"{buf[:200]!r}); output:\n{self.tail()}")
        self.ready_line = buf.decode(errors="replace").strip()
        # like anchors.sh does for knotd: re-apply the pinning to every thread
        for p in self.pids():
            subprocess.run(["taskset", "-a", "-p", "-c", str(c.args.server_cpu), str(p)],
                           capture_output=True)
        log(f"  backscope-authd (capture {'on' if self.capture else 'off'}) started: pid "
            f"{self.pid} port {self.port} cpus {c.args.server_cpu} ({self.ready_line})")


# ------------------------------------------------------------------ loads

def parse_kv(line):
    return {k: (float(v) if re.search(r"[.]", v) else int(v))
            for k, v in re.findall(r"(\w+)=([\d.]+)", line)}


def run_gen(ctx, srv, mix):
    """Open-loop gen; busy share and replies over the inner window between its
    first and last per-second report."""
    a = ctx.args
    argv = ["taskset", "-c", str(a.load_cpu), ctx.gen_bin, "-s", "127.0.0.1", "-p", str(srv.port),
            "-d", os.path.join(ctx.rig, "data", MIXES[mix]), "-l", str(a.duration),
            *shlex.split(a.gen_args), "-S"]
    pids = srv.pids()
    tpid = srv.pid if srv.thread_groups else None
    # (gen t, reply_pps, send_pps, server cpu jiffies, load cpu jiffies, proc ticks, mono,
    #  thread groups)
    ticks = []
    t0 = time.monotonic()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         stdin=subprocess.DEVNULL)
    try:
        for line in p.stderr:
            if line.startswith("gen t="):
                snap = (cpu_jiffies(a.server_cpu), cpu_jiffies(a.load_cpu), proc_ticks(pids),
                        time.monotonic(), thread_cpu(tpid) if tpid else None)
                kv = parse_kv(line)
                ticks.append((kv["t"], kv["reply_pps"], kv["send_pps"]) + snap)
        out = p.stdout.read()
        p.wait(timeout=a.duration + 60)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    wall = time.monotonic() - t0
    summ = next((ln for ln in out.splitlines() if ln.startswith("gen ")), "")
    if p.returncode != 0 or not summ:
        raise RunFailed(f"gen failed ({p.returncode}): {cmdstr(argv)}\n{out}")
    if len(ticks) < 2:
        raise RunFailed(f"gen gave {len(ticks)} per-second reports in {wall:.1f} s (2 needed)")
    first, last = ticks[0], ticks[-1]
    span = last[0] - first[0]
    replies = sum(ticks[i][1] * (ticks[i][0] - ticks[i - 1][0]) for i in range(1, len(ticks)))
    sent = sum(ticks[i][2] * (ticks[i][0] - ticks[i - 1][0]) for i in range(1, len(ticks)))
    mono = last[6] - first[6]
    gsum = parse_kv(summ)
    res = {
        "cmd": cmdstr(argv),
        "replies_per_s": replies / span,
        "offered_per_s": sent / span,
        "busy": share(first[3], last[3]),
        "irq_share": share(first[3], last[3], 2),
        "load_busy": share(first[4], last[4]),
        "proc_share": (last[5] - first[5]) / CLK / mono if mono > 0 else 0.0,
        "window_s": span,
        "wall_s": wall,
        "gen": gsum,
        "sent": gsum.get("sent", 0),         # every query sent (the logging phase counts them)
        "completed": gsum.get("recv", 0),
        "per_second": [{"t": t[0], "reply_pps": t[1], "send_pps": t[2]} for t in ticks],
    }
    if tpid:
        res["threads"] = thread_delta(first[7], last[7], replies, mono)
    return res


def run_dnsperf(ctx, srv, mix):
    """dnsperf; busy share over the whole dnsperf process."""
    a = ctx.args
    argv = ["taskset", "-c", str(a.load_cpu), "dnsperf", "-s", "127.0.0.1", "-p", str(srv.port),
            "-d", os.path.join(ctx.rig, "data", MIXES[mix]), "-l", str(a.duration),
            *shlex.split(a.dnsperf_args)]
    pids = srv.pids()
    tpid = srv.pid if srv.thread_groups else None
    th0 = thread_cpu(tpid) if tpid else None
    s0, l0, k0, t0 = cpu_jiffies(a.server_cpu), cpu_jiffies(a.load_cpu), proc_ticks(pids), time.monotonic()
    r = subprocess.run(argv, capture_output=True, text=True, timeout=a.duration + 120,
                       stdin=subprocess.DEVNULL)
    s1, l1, k1, t1 = cpu_jiffies(a.server_cpu), cpu_jiffies(a.load_cpu), proc_ticks(pids), time.monotonic()
    th1 = thread_cpu(tpid) if tpid else None
    out = r.stdout + r.stderr
    pr = ctx.rigmod.parse_dnsperf(out)
    if r.returncode != 0 or not pr["qps"]:
        raise RunFailed(f"dnsperf failed ({r.returncode}): {cmdstr(argv)}\n{out[-2000:]}")
    m = re.search(r"Run time \(s\):\s+([\d.]+)", out)
    res = {
        "cmd": cmdstr(argv),
        "replies_per_s": pr["qps"],
        "busy": share(s0, s1),
        "irq_share": share(s0, s1, 2),
        "load_busy": share(l0, l1),
        "proc_share": (k1 - k0) / CLK / (t1 - t0),
        "window_s": t1 - t0,
        "wall_s": t1 - t0,
        "run_time_s": float(m.group(1)) if m else None,
        "sent": pr["sent"], "completed": pr["completed"], "lost": pr["lost"],
        "avg_lat_ms": pr["avg_lat_ms"], "rcodes": pr["rcodes"],
    }
    if tpid:
        res["threads"] = thread_delta(th0, th1, res["completed"], t1 - t0)
    return res


# ------------------------------------------------------------------ the run

class Ctx:
    def __init__(self, args):
        self.args = args
        self.samples = []
        self.commands = []

    def record(self, cmd):
        self.commands.append(cmd)


def setup(ctx):
    a = ctx.args
    if not os.path.isfile(os.path.join(a.rig, "anchors.sh")):
        raise BenchError(f"{a.rig}: not the anchor rig (no anchors.sh); pass --rig DIR")
    ctx.work = os.path.abspath(a.work or tempfile.mkdtemp(prefix="backscope-bench-", dir="/tmp"))
    os.makedirs(ctx.work, exist_ok=True)
    ctx.rig = os.path.join(ctx.work, "rig")
    if os.path.exists(ctx.rig):
        for s in ("knot", "nsd"):
            pf = os.path.join(ctx.rig, "run", s, "server.launch.pid")
            if os.path.exists(pf):
                raise BenchError(f"{pf} exists: a previous run may still be running there; "
                                 f"stop it ({ctx.rig}/anchors.sh stop all) or use another --work")
        shutil.rmtree(ctx.rig)
    shutil.copytree(a.rig, ctx.rig, ignore=shutil.ignore_patterns("run", "results", "__pycache__"))
    for root, dirs, files in os.walk(ctx.rig):
        for n in dirs + files:
            p = os.path.join(root, n)
            os.chmod(p, os.stat(p).st_mode | 0o200)
    os.chmod(ctx.rig, os.stat(ctx.rig).st_mode | 0o200)
    # move Knot's and NSD's ports (the rig's defaults may be in use by someone else)
    for rel in ("anchors.sh", "conf/knot.conf.in", "conf/nsd.conf.in"):
        path = os.path.join(ctx.rig, rel)
        with open(path) as f:
            text = f.read()
        n = 0
        for srv, old in RIG_PORTS.items():
            text, k = re.subn(rf"\b{old}\b", str(ctx.ports[srv]), text)
            n += k
        if n == 0:
            raise BenchError(f"{path}: found none of the ports {list(RIG_PORTS.values())} to move")
        with open(path, "w") as f:
            f.write(text)
    for d in ("db", "db-nocap"):                         # backscope's store of an earlier run
        if os.path.isdir(os.path.join(ctx.work, d)):
            shutil.rmtree(os.path.join(ctx.work, d))
    ctx.out = os.path.abspath(a.out or os.path.join(ctx.work, "results"))
    os.makedirs(ctx.out, exist_ok=True)
    log(f"work folder {ctx.work}, results in {ctx.out}")
    argv = [sys.executable, os.path.join(ctx.rig, "gen_zone.py")]
    ctx.record(cmdstr(argv))
    r = subprocess.run(argv, capture_output=True, text=True)
    if r.returncode != 0:
        raise BenchError(f"gen_zone.py failed: {r.stderr}")
    with open(os.path.join(ctx.rig, "data", "manifest.json")) as f:
        ctx.manifest = json.load(f)
    bindir = os.path.join(ctx.work, "bin")
    os.makedirs(bindir, exist_ok=True)
    ctx.limit_bin = os.path.join(bindir, "limit")
    ctx.gen_bin = os.path.join(bindir, "gen")
    for src, dst in (("limit.c", ctx.limit_bin), ("gen.c", ctx.gen_bin)):
        argv = ["gcc", "-O2", "-o", dst, os.path.join(ctx.rig, "limit", src)]
        ctx.record(cmdstr(argv))
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode != 0:
            raise BenchError(f"{cmdstr(argv)} failed:\n{r.stderr}")
    spec = importlib.util.spec_from_file_location("rig_bench", os.path.join(ctx.rig, "bench.py"))
    ctx.rigmod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ctx.rigmod)


def build_authd(a):
    argv1 = ["cmake", "-S", REPO, "-B", a.build, f"-DCMAKE_BUILD_TYPE={a.build_type}"]
    argv2 = ["cmake", "--build", a.build, "-j2", "--target", "backscope-authd"]
    for argv in (argv1, argv2):
        log("$ " + cmdstr(argv))
        r = subprocess.run(argv, capture_output=True, text=True)
        if r.returncode != 0:
            raise BenchError(f"{cmdstr(argv)} failed:\n{(r.stdout + r.stderr)[-3000:]}")


def environment(ctx):
    a = ctx.args
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    env = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "cpu_model": model,
        "cpus": os.cpu_count(),
        "kernel": platform.release(),
        "knot": first_line_matching(run_out(["knotd", "--version"]), r"\d"),
        "nsd": first_line_matching(run_out(["nsd", "-v"]), r"NSD"),
        "dnsperf": first_line_matching(run_out(["dnsperf", "-h"]), r"Version"),
        "gcc": first_line_matching(run_out(["gcc", "--version"]), r"gcc"),
        "python": platform.python_version(),
        "repo_head": run_out(["git", "-C", REPO, "rev-parse", "--short", "HEAD"]),
        "repo_dirty": bool(run_out(["git", "-C", REPO, "status", "--porcelain", "--untracked-files=no"])),
        "loadavg_start": open("/proc/loadavg").read().strip(),
    }
    if any(s in BACKSCOPE_KEYS for s in ctx.servers):
        env["backscope_authd"] = ctx.authd
        env["backscope_version"] = first_line_matching(run_out([ctx.authd, "-V"]), r"\d")
        env["backscope_authd_mtime"] = time.strftime(
            "%Y-%m-%d %H:%M:%S", time.localtime(os.path.getmtime(ctx.authd)))
        try:
            with open(os.path.join(a.build, "CMakeCache.txt")) as f:
                m = re.search(r"^CMAKE_BUILD_TYPE:\w+=(.*)$", f.read(), re.M)
                env["backscope_build_type"] = m.group(1) if m else ""
        except OSError:
            pass
    return env


def wait_quiet(ctx):
    """Settle (let the previous load's backlog drain), then, when something else
    keeps the server's core busy (a shared machine), wait until it has been
    quiet for 2 s in a row, up to --quiet-wait s.  Returns the busy share of the
    idle server core in the last look."""
    a = ctx.args
    b0 = cpu_jiffies(a.server_cpu)
    time.sleep(a.settle)
    idle = share(b0, cpu_jiffies(a.server_cpu))
    if idle <= a.max_idle_busy:
        return idle
    log(f"    server core {100 * idle:.0f} % busy while idle: waiting for quiet")
    deadline = time.monotonic() + a.quiet_wait
    quiet = 0
    while quiet < 4 and time.monotonic() < deadline:
        b0 = cpu_jiffies(a.server_cpu)
        time.sleep(0.5)
        idle = share(b0, cpu_jiffies(a.server_cpu))
        quiet = quiet + 1 if idle <= a.max_idle_busy else 0
    return idle


def measure(ctx, srv, mix, load, rnd, phase, key=None):
    """One run of a load against a server; repeated (up to --retries) while
    foreign processes took a share of the server's core during the window."""
    a = ctx.args
    for attempt in range(a.retries + 1):
        if not srv.alive():
            raise BenchError(f"{srv.key} died (pid {srv.pid}); see the logs in {ctx.out}")
        idle_busy = wait_quiet(ctx)
        c0 = srv.stats()
        try:
            res = run_gen(ctx, srv, mix) if load == "gen" else run_dnsperf(ctx, srv, mix)
        except RunFailed as e:
            log(f"  r{rnd} {key or srv.key:13} {mix:7} {load:7} FAILED: {e}")
            ctx.samples.append({"phase": phase, "round": rnd, "server": key or srv.key, "mix": mix,
                                "load": load, "attempt": attempt + 1, "failed": True,
                                "rejected": True, "error": str(e)})
            srv.stats()
            continue
        c1 = srv.stats()
        ctx.record(res["cmd"])
        row = {"phase": phase, "round": rnd, "server": key or srv.key, "mix": mix, "load": load,
               "attempt": attempt + 1, "idle_busy": idle_busy, **res}
        row["per_core"] = row["replies_per_s"] / row["busy"] if row["busy"] > 0 else 0.0
        # foreign share, lower bound: busy minus the server's own processes minus all
        # irq/softirq time (tick accounting may charge softirq to both)
        row["foreign"] = max(0.0, row["busy"] - row["proc_share"] - row["irq_share"])
        row["rejected"] = row["foreign"] > a.max_foreign and attempt < a.retries
        if c0 is not None and c1 is not None:
            row["counters_delta"] = {k: c1[k] - c0[k] for k in c1
                                     if not k.startswith("_") and k in c0}
            row["counters_window_s"] = c1["_t"] - c0["_t"]
        ctx.samples.append(row)
        extra = ""
        if load == "dnsperf":
            extra = f" lost={row['lost']}"
        if "counters_delta" in row:
            cd = row["counters_delta"]
            extra += "".join(f" {k}={cd[k]}" for k in ("queries", "replies", "events", "dropped")
                             if k in cd)
        if row.get("threads"):
            extra += " µs/reply " + " ".join(
                f"{g}={t['us_per_reply']:.3f}" for g, t in row["threads"].items()
                if t["us_per_reply"] is not None)
        flag = ""
        if row["rejected"]:
            flag = "  REJECTED (foreign load): again"
        elif row["foreign"] > a.max_foreign:
            flag = "  (foreign load; kept: retries used up)"
        log(f"  r{rnd} {row['server']:13} {mix:7} {load:7} replies/s={row['replies_per_s']:>9,.0f} "
            f"busy={100 * row['busy']:5.1f}% own={100 * row['proc_share']:5.1f}% "
            f"foreign={100 * row['foreign']:4.1f}% per-core={row['per_core']:>9,.0f} "
            f"load-core={100 * row['load_busy']:5.1f}%{extra}{flag}")
        if not row["rejected"]:
            return row
    return None


def warmup(ctx, srv):
    a = ctx.args
    if a.warmup <= 0:
        return
    argv = ["taskset", "-c", str(a.load_cpu), ctx.gen_bin, "-s", "127.0.0.1", "-p", str(srv.port),
            "-d", os.path.join(ctx.rig, "data", MIXES["mix"]), "-l", str(a.warmup), "-w", "200"]
    ctx.record(cmdstr(argv))
    subprocess.run(argv, capture_output=True, timeout=a.warmup + 60)


def rotate(lst, r):
    k = r % len(lst) if lst else 0
    return lst[k:] + lst[:k]


def main_phase(ctx, servers):
    a = ctx.args
    for rnd in range(1, a.runs + 1):
        for mix in ctx.mixes:
            for load in ctx.loads:
                for srv in rotate(servers, rnd - 1):
                    measure(ctx, srv, mix, load, rnd, "main")


def log_phase(ctx, plain, backscope):
    """Knot (mod-dnstap) and NSD (dnstap) in the rig's log mode beside backscope's
    capture, all under dnsperf; then the queries recorded vs the queries sent."""
    a = ctx.args
    logsrv = []
    for s in plain:
        if s.key in ("knot", "nsd"):
            s.stop()
    ctx.rigmod.quiesce()
    for name in ("knot", "nsd"):
        if name in ctx.servers:
            s = AnchorServer(ctx, ctx.ports[name], name, "log")
            ctx.started.append(s)
            s.start()
            logsrv.append(s)
    sent = {s.key: 0 for s in logsrv}
    warm_done = {}
    # warm-up under dnsperf (its queries are in the dnstap files too: counted)
    for s in logsrv:
        argv = ["taskset", "-c", str(a.load_cpu), "dnsperf", "-s", "127.0.0.1", "-p", str(s.port),
                "-d", os.path.join(ctx.rig, "data", MIXES["mix"]), "-l", str(max(1, a.warmup)),
                *shlex.split(a.dnsperf_args)]
        ctx.record(cmdstr(argv))
        r = subprocess.run(argv, capture_output=True, text=True, timeout=a.warmup + 120)
        pr = ctx.rigmod.parse_dnsperf(r.stdout)
        sent[s.key] += pr["sent"]
        warm_done[s.key] = pr["completed"] or 0
    order = list(logsrv)
    bs_start = None
    if backscope is not None:
        order.append(backscope)
        bs_start = backscope.stats()
    for rnd in range(1, a.runs + 1):
        for mix in ctx.log_mixes:
            for load in ctx.log_loads:
                for srv in rotate(order, rnd - 1):
                    measure(ctx, srv, mix, load, rnd, "log",
                            "backscope-log" if srv is backscope else None)
    answered = {}
    for key in [s.key for s in logsrv] + ["backscope-log"]:
        answered[key] = warm_done.get(key, 0) + sum(r.get("completed", 0) for r in ctx.samples
                            if r["phase"] == "log" and r["server"] == key)
    for s in logsrv:      # every run sent queries into the log, rejected ones too
        sent[s.key] += sum(r.get("sent", 0) for r in ctx.samples
                           if r["phase"] == "log" and r["server"] == s.key)
    result = []
    for s in logsrv:
        s.stop()
        tap = os.path.join(ctx.rig, "run", s.name, "dnstap.tap")
        logged = ctx.rigmod.count_fstrm_frames(tap)
        size = os.path.getsize(tap) if os.path.exists(tap) else 0
        if not a.keep_logs and os.path.exists(tap):
            os.unlink(tap)
        result.append({"server": s.key, "sent": sent[s.key], "answered": answered[s.key],
                       "recorded": logged, "log_bytes": size, "what": "dnstap frames (queries)"})
        log(f"  log check {s.key}: sent {sent[s.key]:,}, dnstap frames {logged}, {size / 1e6:.1f} MB")
    if backscope is not None:
        time.sleep(a.settle)
        bs_end = backscope.stats()
        bsent = sum(r.get("sent", 0) for r in ctx.samples
                    if r["phase"] == "log" and r["server"] == "backscope-log")
        d = {k: bs_end[k] - bs_start[k] for k in bs_end if not k.startswith("_") and k in bs_start}
        rec = d.get("capture_events", d.get("events"))
        if rec is not None:
            rec -= d.get("capture_dropped", 0)
        result.append({"server": "backscope-log", "sent": bsent,
                       "answered": answered["backscope-log"], "recorded": rec,
                       "events": d.get("events"), "replies": d.get("replies"),
                       "queries": d.get("queries"), "dropped": d.get("dropped"),
                       "what": "capture events (stats delta)"})
        log(f"  log check backscope: sent {bsent:,}, capture events {rec}")
    ctx.rigmod.quiesce()
    return result


# ------------------------------------------------------------------ summary

def med(v):
    v = [x for x in v if x is not None]
    return statistics.median(v) if v else None


def kfmt(v):
    return "–" if v is None else f"{v / 1000:,.1f} k"


def pct(v):
    return "–" if v is None else f"{100 * v:.1f} %"


def ratio(v):
    return "–" if v is None else f"{v:.2f}"


def group_summary(rows):
    """Medians per (server, mix, load) of the kept runs, with the thread groups'
    CPU µs per reply where measured."""
    groups = {}
    for r in rows:
        groups.setdefault((r["server"], r["mix"], r["load"]), []).append(r)
    summary = {}
    for k, rs in groups.items():
        summary[k] = {
            "replies_per_s": med([r["replies_per_s"] for r in rs]),
            "busy": med([r["busy"] for r in rs]),
            "per_core": med([r["per_core"] for r in rs]),
            "per_core_min": min(r["per_core"] for r in rs),
            "per_core_max": max(r["per_core"] for r in rs),
            "n": len(rs),
        }
        th = [r["threads"] for r in rs if r.get("threads")]
        if th:
            names = sorted({g for t in th for g in t},
                           key=lambda x: (THREAD_ORDER + [x]).index(x))
            summary[k]["threads_us_per_reply"] = {
                g: med([t[g]["us_per_reply"] if g in t else 0.0 for t in th]) for g in names}
            summary[k]["threads_core_share"] = {
                g: med([t[g]["core_share"] if g in t else 0.0 for t in th]) for g in names}
            summary[k]["threads_us_per_reply_all"] = med(
                [sum(v["us_per_reply"] or 0.0 for v in t.values()) for t in th])
    return summary


def summarise(ctx, logres, bs_final):
    rows = [r for r in ctx.samples if r["phase"] == "main" and not r["rejected"]]
    summary = group_summary(rows)
    for (srv, mix, load), s in summary.items():
        kn = summary.get(("knot", mix, load))
        li = summary.get(("limit", mix, load))
        off = summary.get(("backscope-nocap", mix, load))
        s["x_knot"] = s["per_core"] / kn["per_core"] if kn and kn["per_core"] else None
        s["x_limit"] = s["per_core"] / li["per_core"] if li and li["per_core"] else None
        s["x_nocap"] = (s["per_core"] / off["per_core"]
                        if srv == "backscope" and off and off["per_core"] else None)
    logrows = [r for r in ctx.samples if r["phase"] == "log" and not r["rejected"]]
    logsum = group_summary(logrows)
    for (srv, mix, load), s in logsum.items():
        # backscope without logging is backscope with capture off, when it ran
        base = summary.get((srv.replace("-log", ""), mix, load))
        if srv == "backscope-log" and ("backscope-nocap", mix, load) in summary:
            base = summary[("backscope-nocap", mix, load)]
        s["x_plain"] = s["per_core"] / base["per_core"] if base and base["per_core"] else None
    ctx.logsum = logsum

    a = ctx.args
    md = []
    md.append(f"Server on CPU {a.server_cpu}, load on CPU {a.load_cpu}, {a.workers} UDP worker(s); "
              f"medians of {a.runs} run(s) × {a.duration} s; gen `{a.gen_args}` (open loop), "
              f"dnsperf `{a.dnsperf_args}`.\n")
    has_off = any(k[0] == "backscope-nocap" for k in summary)
    md.append("| server | mix | load | replies/s | busy share | replies per busy core "
              "| min–max per core | × Knot | × limit |" + (" × capture off |" if has_off else ""))
    md.append("|---|---|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if has_off else ""))
    order = {s: i for i, s in enumerate(ALL_SERVERS)}
    for mix in ctx.mixes:
        for load in ctx.loads:
            for srv in sorted({k[0] for k in summary}, key=lambda x: order.get(x, 99)):
                s = summary.get((srv, mix, load))
                if not s:
                    continue
                md.append(f"| {LABEL.get(srv, srv)} | {mix} | {load} | {kfmt(s['replies_per_s'])} "
                          f"| {pct(s['busy'])} | {kfmt(s['per_core'])} "
                          f"| {kfmt(s['per_core_min'])}–{kfmt(s['per_core_max'])} "
                          f"| {ratio(s['x_knot'])} | {ratio(s['x_limit'])} |"
                          + (f" {ratio(s['x_nocap'])} |" if has_off else ""))

    kept = [r for r in ctx.samples if not r["rejected"] and r.get("foreign", 0) > a.max_foreign]
    failed = [r for r in ctx.samples if r.get("failed")]
    rej = [r for r in ctx.samples if r["rejected"] and not r.get("failed")]
    md.append(f"\n{len(rej)} run(s) repeated because other processes used the server's core; "
              f"{len(kept)} run(s) kept with such foreign load (figures unreliable); "
              f"{len(failed)} run(s) failed.")
    missing = [f"{k[0]}/{k[1]}/{k[2]}: {v['n']} of {a.runs}" for k, v in summary.items() if v["n"] < a.runs]
    if missing:
        md.append("Runs missing from the medians: " + "; ".join(missing) + ".")

    # rcode sanity: backscope vs Knot under dnsperf
    rc_notes = []
    for mix in ctx.mixes:
        b = [r["rcodes"] for r in rows if r["server"] == "backscope" and r["mix"] == mix and r["load"] == "dnsperf"]
        k = [r["rcodes"] for r in rows if r["server"] == "knot" and r["mix"] == mix and r["load"] == "dnsperf"]
        if b and k:
            rc_notes.append((mix, b[0], k[0]))
    if rc_notes:
        md.append("\nResponse codes under dnsperf (first run), backscope vs Knot:\n")
        md.append("| mix | backscope-authd | Knot DNS |")
        md.append("|---|---|---|")
        for mix, b, k in rc_notes:
            md.append(f"| {mix} | {b} | {k} |")

    # CPU time of backscope's thread groups per reply
    trows = [("main", k, v) for k, v in summary.items() if "threads_us_per_reply" in v]
    trows += [("log", k, v) for k, v in logsum.items() if "threads_us_per_reply" in v]
    if trows:
        gnames = sorted({g for _, _, v in trows for g in v["threads_us_per_reply"]},
                        key=lambda x: (THREAD_ORDER + [x]).index(x))
        gl = {"workers": "UDP workers", "writer": "bsc-writer", "flusher": "bsc-flusher",
              "main": "main thread"}
        md.append("\nbackscope-authd CPU time per reply by thread group, µs (run time of the "
                  "threads in /proc/PID/task over the load window ÷ replies in it; medians; "
                  "in brackets: share of a core). \"busy core\" is 1 ÷ replies per busy core: "
                  "it also holds the loopback softirq work charged to no thread:\n")
        md.append("| server | mix | load | " + " | ".join(gl.get(g, g) for g in gnames)
                  + " | all threads | busy core |")
        md.append("|---|---|---|" + "---:|" * (len(gnames) + 2))

        def us(v):
            return "–" if v is None else f"{v:.3f}"
        order = {s: i for i, s in enumerate(ALL_SERVERS + ["backscope-log"])}
        trows.sort(key=lambda x: (x[0] == "log", x[1][1], x[1][2], order.get(x[1][0], 99)))
        for phase, (srv, mix, load), v in trows:
            tu, tc = v["threads_us_per_reply"], v["threads_core_share"]
            cells = [f"{us(tu[g])} ({pct(tc[g])})" if g in tu else "–" for g in gnames]
            md.append(f"| {LABEL.get(srv, srv)}{', logging phase' if phase == 'log' else ''} "
                      f"| {mix} | {load} | " + " | ".join(cells)
                      + f" | {us(v['threads_us_per_reply_all'])} "
                      f"| {us(1e6 / v['per_core'] if v['per_core'] else None)} |")
            on = summary.get(("backscope", mix, load))
            if phase == "main" and srv == "backscope-nocap" and on and "threads_us_per_reply" in on:
                nu, ou = on["threads_us_per_reply"], tu
                diff = [us((nu.get(g) or 0.0) - (ou.get(g) or 0.0)) for g in gnames]
                pc_d = (1e6 / on["per_core"] - 1e6 / v["per_core"]
                        if v["per_core"] and on["per_core"] else None)
                md.append(f"| capture on − off | {mix} | {load} | " + " | ".join(diff)
                          + f" | {us(on['threads_us_per_reply_all'] - v['threads_us_per_reply_all'])}"
                          f" | {us(pc_d)} |")

    # capture hand-off: every query for a name in our zones is one event; the
    # queries outside them (REFUSED) and the unparsable ones (FORMERR, NOTIMP) are not
    cap = {}
    if bs_final is not None:
        cap = {k: bs_final.get(k) for k in (
            "queries", "replies", "dropped", "events", "capture_events", "capture_dropped",
            "refused", "formerr", "notimp", "closed_flushed", "closed_dropped",
            "closed_evlog_written", "store_failed", "store_lost", "evlog_lost")}
        cap["exit"], cap["text"] = bs_final.get("_exit"), bs_final.get("_text")
        cap["windows"] = []
        md.append("\nbackscope capture hand-off: events counted by the workers (`events=`) and by "
                  "the capture (`capture: N events`) against the replies sent; expected events = "
                  "replies + dropped − REFUSED − FORMERR − NOTIMP (REFUSED: names outside our zones):\n")
        md.append("| span | replies | dropped | REFUSED | FORMERR+NOTIMP | expected events "
                  "| worker events | capture events | equal | capture dropped (ring full) |")
        md.append("|---|---:|---:|---:|---:|---:|---:|---:|---|---:|")

        def cap_row(name, c):
            if c.get("replies") is None or c.get("events") is None:
                md.append(f"| {name} | – | – | – | – | – | – | – | no counters | – |")
                return None
            g = lambda k: c.get(k) or 0      # noqa: E731 (counters absent from a line are 0)
            exp = c["replies"] + g("dropped") - g("refused") - g("formerr") - g("notimp")
            ce = c.get("capture_events")
            ok = c["events"] == exp and (ce is None or ce == c["events"])
            cd = c.get("capture_dropped")
            md.append(f"| {name} | {c['replies']:,} | {g('dropped'):,} | {g('refused'):,} "
                      f"| {g('formerr') + g('notimp'):,} | {exp:,} | {c['events']:,} "
                      f"| {'–' if ce is None else format(ce, ',')} | {'yes' if ok else 'NO'} "
                      f"| {'–' if cd is None else format(cd, ',')} |")
            return ok
        for phase, srv, mixes, loads in (("main", "backscope", ctx.mixes, ctx.loads),
                                          ("log", "backscope-log", ctx.log_mixes, ctx.log_loads)):
            for mix in mixes:
                for load in loads:
                    wins = [r["counters_delta"] for r in ctx.samples
                            if r["server"] == srv and r["mix"] == mix and r["load"] == load
                            and "counters_delta" in r]
                    if not wins:
                        continue
                    tot = {}
                    for w in wins:
                        for k, v in w.items():
                            tot[k] = tot.get(k, 0) + v
                    what = "" if phase == "main" else "logging phase, "
                    ok = cap_row(f"{what}{mix}, {load}: {len(wins)} load window(s) "
                                 f"(SIGUSR1 deltas)", tot)
                    cap["windows"].append({"phase": phase, "mix": mix, "load": load, "n": len(wins),
                                           **tot, "equal": ok})
        cap["equal"] = cap_row("whole session (final stats at SIGTERM)", cap)
        cap["exact"] = (cap.get("events") is not None and cap.get("replies") is not None
                        and cap["events"] == cap["replies"])
        if cap.get("closed_flushed") is not None:
            md.append(f"\nAt SIGTERM the capture drained: {cap['closed_flushed']:,} events flushed to the "
                      f"store, {cap.get('closed_dropped') or 0:,} dropped, event log "
                      f"{cap.get('closed_evlog_written')} written (of {cap.get('capture_events')} "
                      f"capture events).")
        fin = [ln for ln in (cap["text"] or "").splitlines() if "final stats" in ln]
        md.append(f"\nbackscope exit status {cap['exit']}; final stats line: "
                  f"`{(fin[-1] if fin else '').split(' main: ')[-1]}`")

    if logres:
        md.append("\nQuery logging (" + ", ".join(ctx.log_mixes) + "; " + ", ".join(ctx.log_loads)
                  + "): Knot mod-dnstap to a file, NSD dnstap through fstrm_capture (pinned to the "
                  "server's core), backscope's capture (event log and store), in the same "
                  "invocation as the runs above:\n")
        md.append("| server | mix | load | replies/s | busy share | replies per busy core "
                  "| min–max per core | × same server without logging (backscope: capture off "
                  "if measured, else on) |")
        md.append("|---|---|---|---:|---:|---:|---:|---:|")
        lorder = {s: i for i, s in enumerate(["backscope-log", "knot-log", "nsd-log"])}
        for (srv, mix, load), v in sorted(logsum.items(),
                                          key=lambda x: (x[0][1], x[0][2], lorder.get(x[0][0], 9))):
            md.append(f"| {LABEL.get(srv, srv)} | {mix} | {load} | {kfmt(v['replies_per_s'])} "
                      f"| {pct(v['busy'])} | {kfmt(v['per_core'])} "
                      f"| {kfmt(v['per_core_min'])}–{kfmt(v['per_core_max'])} "
                      f"| {ratio(v['x_plain'])} |")
        md.append("\nQueries recorded over the whole logging phase (warm-up included; an open-loop "
                  "gen offers more than the server's core takes, so the kernel drops queries before "
                  "any server sees them: compare with the queries answered):\n")
        md.append("| server | queries sent | queries answered | recorded | recorded ÷ sent "
                  "| recorded ÷ answered |")
        md.append("|---|---:|---:|---:|---:|---:|")
        for lr in logres:
            rec = lr.get("recorded")
            frac = rec / lr["sent"] if rec is not None and lr["sent"] else None
            ans = lr.get("answered")
            fans = rec / ans if rec is not None and ans else None
            lr["fraction"], lr["fraction_answered"] = frac, fans
            md.append(f"| {LABEL.get(lr['server'], lr['server'])} | {lr['sent']:,} "
                      f"| {'–' if ans is None else format(ans, ',')} "
                      f"| {'–' if rec is None else format(rec, ',')} | {pct(frac)} | {pct(fans)} |")

    # targets
    targets = []

    def target(name, ok, detail, keys=()):
        dirty = [r for r in rows for k in keys
                 if (r["server"], r["mix"], r["load"]) == k and r.get("foreign", 0) > a.max_foreign]
        t = {"target": name, "result": ok, "detail": detail, "reliable": not dirty}
        if dirty:
            t["detail"] += (f" [unreliable: {len(dirty)} of the runs behind it had other processes "
                            f"on the server's core]")
        targets.append(t)

    s = summary.get(("backscope", "ptr-all", "gen"))
    if s is None or s["x_knot"] is None:
        target("backscope >= 1.3 x Knot replies per busy core (ptr-all, gen)", None,
               "not measured (needs backscope and knot with gen on ptr-all)")
    else:
        target("backscope >= 1.3 x Knot replies per busy core (ptr-all, gen)", s["x_knot"] >= 1.3,
               f"{s['x_knot']:.2f} x ({kfmt(s['per_core'])} vs {kfmt(summary[('knot', 'ptr-all', 'gen')]['per_core'])})",
               [("backscope", "ptr-all", "gen"), ("knot", "ptr-all", "gen")])
    any_limit = False
    for mix in ctx.mixes:
        s = summary.get(("backscope", mix, "gen"))
        if s is not None and s["x_limit"] is not None:
            any_limit = True
            target(f"backscope >= 90 % of limit's replies per busy core ({mix}, gen)",
                   s["x_limit"] >= 0.90,
                   f"{100 * s['x_limit']:.1f} % ({kfmt(s['per_core'])} vs "
                   f"{kfmt(summary[('limit', mix, 'gen')]['per_core'])})",
                   [("backscope", mix, "gen"), ("limit", mix, "gen")])
    if not any_limit:
        target("backscope >= 90 % of limit's replies per busy core (gen)", None,
               "not measured (needs backscope and limit with gen)")
    # The same two targets for the workers' hand-off alone: capture off still
    # hands every query to the capture interface, which counts it.
    s = summary.get(("backscope-nocap", "ptr-all", "gen"))
    if s is not None and s["x_knot"] is not None:
        target("backscope, capture off (hand-off counted) >= 1.3 x Knot replies per busy core "
               "(ptr-all, gen)", s["x_knot"] >= 1.3,
               f"{s['x_knot']:.2f} x ({kfmt(s['per_core'])} vs "
               f"{kfmt(summary[('knot', 'ptr-all', 'gen')]['per_core'])})",
               [("backscope-nocap", "ptr-all", "gen"), ("knot", "ptr-all", "gen")])
    for mix in ctx.mixes:
        s = summary.get(("backscope-nocap", mix, "gen"))
        if s is not None and s["x_limit"] is not None:
            target(f"backscope, capture off (hand-off counted) >= 90 % of limit's replies per "
                   f"busy core ({mix}, gen)", s["x_limit"] >= 0.90,
                   f"{100 * s['x_limit']:.1f} % ({kfmt(s['per_core'])} vs "
                   f"{kfmt(summary[('limit', mix, 'gen')]['per_core'])})",
                   [("backscope-nocap", mix, "gen"), ("limit", mix, "gen")])
    name = "backscope capture on >= 90 % of capture off, replies per busy core (ptr-all, gen)"
    on = summary.get(("backscope", "ptr-all", "gen"))
    off = summary.get(("backscope-nocap", "ptr-all", "gen"))
    if on is None or off is None or not off["per_core"]:
        target(name, None, "not measured (needs backscope and backscope-nocap with gen on ptr-all)")
    else:
        x = on["x_nocap"]
        kl = [(ld, logsum[("knot-log", m, ld)]) for m in ("ptr-all",) for ld in ("gen", "dnsperf")
              if ("knot-log", m, ld) in logsum]
        knot = "; ".join(f"{kfmt(v['per_core'])} per busy core under {ld}"
                         + (f" ({ratio(v['x_plain'])} × Knot without it)" if v["x_plain"] else "")
                         for ld, v in kl)
        cost = ""
        if "threads_us_per_reply" in on and "threads_us_per_reply" in off:
            tu = {g: v or 0.0 for g, v in on["threads_us_per_reply"].items()}
            tw = off["threads_us_per_reply"].get("workers") or 0.0
            ta, tb = on["threads_us_per_reply_all"], off["threads_us_per_reply_all"]
            cost = (f"; capture threads {tu.get('writer', 0) + tu.get('flusher', 0):.3f} µs/reply, "
                    f"UDP workers {tu.get('workers', 0):.3f} vs "
                    f"{tw:.3f} µs/reply"
                    + (f"; thread CPU alone {tb:.3f} vs {ta:.3f} µs/reply = {100 * tb / ta:.1f} % "
                       f"(a lower bound of the ratio: softirq work outside the threads costs "
                       f"both alike)" if ta else ""))
        target(name, x >= 0.90,
               f"{100 * x:.1f} % ({kfmt(on['per_core'])} vs {kfmt(off['per_core'])}; runs "
               f"{kfmt(on['per_core_min'])}–{kfmt(on['per_core_max'])} vs "
               f"{kfmt(off['per_core_min'])}–{kfmt(off['per_core_max'])}){cost}; "
               + (f"beside Knot DNS + mod-dnstap in this run: {knot}" if kl else
                  "Knot DNS + mod-dnstap not in this run (add knot to --servers, keep the "
                  "logging phase)"),
               [("backscope", "ptr-all", "gen"), ("backscope-nocap", "ptr-all", "gen")])
    if cap.get("equal") is None:
        target("backscope capture events == replies to names in our zones", None,
               "not measured" if bs_final is None else
               f"no events/replies counters in the final stats: {cap.get('text')!r}")
    else:
        target("backscope capture events == replies to names in our zones", cap["equal"],
               f"whole session: events {cap['events']:,}, capture {cap.get('capture_events')}, "
               f"replies {cap['replies']:,} (of which REFUSED {cap.get('refused') or 0:,}, "
               f"FORMERR {cap.get('formerr') or 0:,}), dropped {cap.get('dropped') or 0:,}")
        if cap.get("capture_events") is not None:
            ce = cap["capture_events"]
            cdr = cap.get("capture_dropped") or 0
            fl, ew = cap.get("closed_flushed"), cap.get("closed_evlog_written")
            ok = cdr == 0 and (fl is None or fl == ce) and (ew is None or ew == ce)
            target("backscope capture kept every event (no ring drops; all flushed to the store "
                   "and the event log by SIGTERM)", ok,
                   f"capture events {ce:,}, ring drops {cdr:,}, flushed "
                   f"{'–' if fl is None else format(fl, ',')}, event log "
                   f"{'–' if ew is None else format(ew, ',')}")
        pw = [w for w in cap["windows"] if w["mix"] in ("ptr-all", "ip6")]
        if pw:
            ok = all(w.get("events") == w.get("replies") for w in pw)
            target("backscope events == replies, literally, on the all-in-zone mixes (ptr-all, ip6)",
                   ok, ", ".join(f"{'logging phase ' if w['phase'] == 'log' else ''}"
                                 f"{w['mix']}/{w['load']}: {w.get('events', 0):,} vs "
                                 f"{w.get('replies', 0):,}" for w in pw))
    md.append("\nTargets:\n")
    md.append("```")
    for t in targets:
        word = {True: "PASS", False: "FAIL", None: "SKIP"}[t["result"]]
        md.append(f"{word}  {t['target']}: {t['detail']}")
    md.append("```")
    return summary, targets, cap, "\n".join(md) + "\n"


# ------------------------------------------------------------------ main

def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rig", default=DEFAULT_RIG, help="the anchor rig (default %(default)s); copied, never written")
    ap.add_argument("--build", default="/tmp/build-bench", help="backscope build folder (default %(default)s)")
    ap.add_argument("--authd", help="backscope-authd binary (default BUILD/authd/backscope-authd)")
    ap.add_argument("--cmake", action="store_true",
                    help="configure and build backscope-authd in --build first (--build-type)")
    ap.add_argument("--build-type", default="Release",
                    help="CMAKE_BUILD_TYPE of --cmake (default %(default)s)")
    ap.add_argument("--servers", default=",".join(ALL_SERVERS), help="subset of %(default)s")
    ap.add_argument("--mixes", default="ptr-all,mix,ip6")
    ap.add_argument("--loads", default="gen,dnsperf")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--duration", type=int, default=15, help="seconds of load per run")
    ap.add_argument("--warmup", type=int, default=2, help="seconds of unrecorded load after start")
    ap.add_argument("--settle", type=float, default=1.0, help="pause before each run, seconds")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--server-cpu", type=int, default=1)
    ap.add_argument("--load-cpu", type=int, default=0)
    ap.add_argument("--gen-args", default="-w 0", help="gen options (default open loop: %(default)s)")
    ap.add_argument("--dnsperf-args", default="-c 4 -T 1 -q 200 -t 1")
    ap.add_argument("--ports", default=",".join(f"{k}={v}" for k, v in DEFAULT_PORTS.items()),
                    help="SERVER=PORT,... (the ones not given keep their defaults: %(default)s)")
    ap.add_argument("--log-mixes", default="ptr-all", help="mixes of the logging phase")
    ap.add_argument("--log-loads", default="gen,dnsperf", help="loads of the logging phase")
    ap.add_argument("--no-log", action="store_true", help="skip the logging phase")
    ap.add_argument("--keep-logs", action="store_true",
                    help="keep the dnstap files and backscope's store (WORK/db)")
    ap.add_argument("--start-timeout", type=float, default=120, help="backscope-authd readiness, s")
    ap.add_argument("--max-idle-busy", type=float, default=0.05,
                    help="before a run, wait while the idle server core is busier than this share")
    ap.add_argument("--quiet-wait", type=float, default=120,
                    help="wait at most this long for a quiet server core, s")
    ap.add_argument("--max-foreign", type=float, default=0.03,
                    help="repeat a run when other processes took more than this share of the "
                         "server core")
    ap.add_argument("--retries", type=int, default=3, help="repeats of a run with foreign load")
    ap.add_argument("--work", help="work folder (default: a new /tmp/backscope-bench-*)")
    ap.add_argument("--out", help="results folder (default WORK/results)")
    ap.add_argument("--json", help="JSON file of all raw runs (default OUT/bench.json)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target fails")
    ap.add_argument("--report", metavar="JSON", help="only summarise a saved bench.json again")
    return ap.parse_args()


def report(raw, jpath, mdpath):
    """Summary of the raw runs: Markdown to stdout and mdpath, summary and targets
    added to the JSON file.  Also used by --report on a saved JSON file."""
    ctx = Ctx(argparse.Namespace(**raw["args"]))
    a = ctx.args
    ctx.samples = raw["runs"]
    ctx.mixes = [m for m in a.mixes.split(",") if m]
    ctx.loads = [l for l in a.loads.split(",") if l]
    ctx.log_mixes = [m for m in a.log_mixes.split(",") if m]
    ctx.log_loads = [l for l in getattr(a, "log_loads", "dnsperf").split(",") if l]
    env = raw["environment"]
    summary, targets, cap, md = summarise(ctx, raw["logging"], raw["backscope_final"])
    bsv = f"; {env['backscope_version']} ({env.get('backscope_build_type') or '?'} build)" \
        if env.get("backscope_version") else ""
    head = (f"## backscope benchmark {env['date']}\n\n"
            f"Command: `{raw['command']}`  \n"
            f"CPU: {env['cpu_model']} ({env['cpus']} CPUs), kernel {env['kernel']}; {env['knot']}; "
            f"{env['nsd']}; dnsperf {env['dnsperf']}{bsv}; repository {env['repo_head']}"
            f"{' (modified)' if env['repo_dirty'] else ''}; load average {env['loadavg_start']} → "
            f"{env.get('loadavg_end', '?')}; {env.get('elapsed_s', '?')} s\n\n")
    text = head + md
    print(text)
    if mdpath:
        with open(mdpath, "w") as f:
            f.write(text)
    raw = dict(raw, summary=[{"server": k[0], "mix": k[1], "load": k[2], **v} for k, v in summary.items()],
               logging_summary=[{"server": k[0], "mix": k[1], "load": k[2], **v}
                                for k, v in ctx.logsum.items()],
               capture=cap, targets=targets)
    with open(jpath, "w") as f:
        json.dump(raw, f, indent=1)
    log(f"results: {mdpath or '(stdout)'}, {jpath}")
    return targets


def main():
    a = parse_args()
    if a.report:
        with open(a.report) as f:
            raw = json.load(f)
        targets = report(raw, a.report, None)
        return 1 if a.strict and any(t["result"] is False for t in targets) else 0
    a.rig = os.path.abspath(a.rig)
    ctx = Ctx(a)
    ctx.servers = [s for s in a.servers.split(",") if s]
    bad = [s for s in ctx.servers if s not in ALL_SERVERS]
    ctx.mixes = [m for m in a.mixes.split(",") if m]
    ctx.loads = [l for l in a.loads.split(",") if l]
    ctx.log_mixes = [m for m in a.log_mixes.split(",") if m]
    ctx.log_loads = [l for l in a.log_loads.split(",") if l]
    if bad or any(m not in MIXES for m in ctx.mixes + ctx.log_mixes) or \
            any(l not in ("gen", "dnsperf") for l in ctx.loads + ctx.log_loads) or \
            len(set(ctx.servers)) != len(ctx.servers):
        raise BenchError(f"unknown or repeated server, mix or load in --servers/--mixes/--loads/"
                         f"--log-mixes/--log-loads (servers {ALL_SERVERS}, mixes {list(MIXES)}, "
                         f"loads gen,dnsperf)")
    if a.runs < 1 or a.duration < 3:
        raise BenchError("--runs must be >= 1 and --duration >= 3")
    ctx.ports = dict(DEFAULT_PORTS)
    for kv in a.ports.split(","):
        k, _, v = kv.partition("=")
        if k not in DEFAULT_PORTS or not v.isdigit() or not 0 < int(v) < 65536:
            raise BenchError(f"--ports: {kv!r} is not SERVER=PORT (servers {ALL_SERVERS})")
        ctx.ports[k] = int(v)
    used = [ctx.ports[s] for s in ctx.servers]
    if len(set(used)) != len(used):
        raise BenchError(f"--ports: two servers share a port: {ctx.ports}")
    for s in ctx.servers:
        if s not in ctx.ports:
            raise BenchError(f"--ports has no port for {s}")
        if not port_free(ctx.ports[s]):
            raise BenchError(f"port {ctx.ports[s]} ({s}) is in use on 127.0.0.1 or ::1: "
                             f"choose others with --ports")
    if any(s in BACKSCOPE_KEYS for s in ctx.servers):
        if a.cmake:
            build_authd(a)
        ctx.authd = os.path.abspath(a.authd or os.path.join(a.build, "authd", "backscope-authd"))
        if not os.access(ctx.authd, os.X_OK):
            raise BenchError(f"{ctx.authd}: no backscope-authd binary (build it, pass --cmake, "
                             f"or leave backscope out of --servers)")
    ncpu = os.cpu_count()
    if max(a.server_cpu, a.load_cpu) >= ncpu or a.server_cpu == a.load_cpu:
        raise BenchError(f"--server-cpu and --load-cpu must be two different CPUs below {ncpu}")

    n_main = a.runs * len(ctx.mixes) * len(ctx.loads) * len(ctx.servers)
    n_log = 0 if a.no_log else a.runs * len(ctx.log_mixes) * len(
        [s for s in ctx.servers if s in ("knot", "nsd", "backscope")]) * len(ctx.log_loads)
    est = (n_main + n_log) * (a.duration + a.settle + 1.5) + 20
    log(f"{n_main} main runs + {n_log} logging runs of {a.duration} s: about {est / 60:.0f} min")

    setup(ctx)
    os.sched_setaffinity(0, {a.load_cpu})     # keep this driver off the server's core
    env = environment(ctx)
    t_start = time.time()
    ctx.started = []
    servers, backscope, bs_final, logres, err = [], None, None, [], None
    nocap_final = None

    def on_term(signum, frame):
        raise Interrupted()
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        for name in ctx.servers:
            port = ctx.ports[name]
            if name in ("knot", "nsd"):
                s = AnchorServer(ctx, port, name, "plain")
            elif name == "limit":
                s = LimitServer(ctx, port)
            elif name == "backscope-nocap":
                s = BackscopeServer(ctx, port, capture=False)
            else:
                s = BackscopeServer(ctx, port)
                backscope = s
            ctx.started.append(s)
            s.start()
            servers.append(s)
        for s in servers:
            if isinstance(s, BackscopeServer):
                env[f"{s.key.replace('-', '_')}_ready"] = s.ready_line
        for s in servers:
            warmup(ctx, s)
        log("main phase")
        main_phase(ctx, servers)
        if not a.no_log and any(s.key in ("knot", "nsd", "backscope") for s in servers):
            log("logging phase")
            logres = log_phase(ctx, servers, backscope)
    except (BenchError, Interrupted) as e:
        err = e
        log("interrupted: stopping the servers" if isinstance(e, Interrupted) else f"error: {e}")
    finally:
        for s in reversed(ctx.started):
            try:
                fin = s.stop()
                if isinstance(s, BackscopeServer) and s is not backscope:
                    nocap_final = fin
                    if os.path.isdir(s.db):             # capture off creates no store
                        shutil.rmtree(s.db)
                if s is backscope:
                    bs_final = fin
                    db = s.db
                    if bs_final is not None and os.path.isdir(db):
                        bs_final["db_bytes"] = sum(os.path.getsize(os.path.join(r, f))
                                                   for r, _, fs in os.walk(db) for f in fs)
                        log(f"  backscope store and event log: {bs_final['db_bytes'] / 1e6:.1f} MB")
                        if not a.keep_logs:
                            shutil.rmtree(db)
            except Exception as e:      # keep stopping the others
                log(f"  stopping {s.key}: {e}")
    env["loadavg_end"] = open("/proc/loadavg").read().strip()
    env["elapsed_s"] = round(time.time() - t_start, 1)

    cmdline = cmdstr([os.path.relpath(sys.argv[0], REPO) if sys.argv[0].startswith(REPO) else sys.argv[0]]
                     + sys.argv[1:])
    raw = {"command": cmdline, "args": vars(a), "environment": env, "manifest": ctx.manifest,
           "ports": ctx.ports, "runs": ctx.samples, "logging": logres,
           "backscope_final": bs_final, "backscope_nocap_final": nocap_final,
           "commands": ctx.commands,
           "error": None if err is None else str(err) or type(err).__name__}
    jpath = os.path.abspath(a.json or os.path.join(ctx.out, "bench.json"))
    with open(jpath, "w") as f:          # the raw runs first, whatever happens in the summary
        json.dump(raw, f, indent=1)
    with open(os.path.join(ctx.out, "commands.txt"), "w") as f:
        f.write("\n".join(ctx.commands) + "\n")
    if err is not None:
        log(f"raw runs so far: {jpath}")
        raise err
    targets = report(raw, jpath, os.path.join(ctx.out, "summary.md"))
    if a.strict and any(t["result"] is False for t in targets):
        return 1
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchError as e:
        log(f"run.py: {e}")
        sys.exit(2)
    except Interrupted:
        sys.exit(130)
