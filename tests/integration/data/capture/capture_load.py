#!/usr/bin/env python3
"""capture_load.py — query traffic for test_capture.sh (stdlib only).

  exact  N queries from S distinct loopback sources (127.1.x.y), at most W
         in flight, each sent once; writes a JSON truth file: what was sent and
         answered, and per originator {querier: PTR queries}.  Exit 1 when a
         query went unanswered (the truth would then be unknown).
  load   the same kind of traffic until SIGTERM/SIGINT (or --duration); writes
         "sent N answered M" to --out on exit.  For the crash test.
  flood  N PTR queries for random full ip6.arpa names under 2001:db8::/32 from
         S sources, as fast as possible, replies read and ignored.

Only loopback addresses are used.  The DNS messages are built here (header,
one question, optional EDNS) so the sender stays fast."""

import argparse
import ipaddress
import json
import random
import select
import signal
import socket
import struct
import sys
import time

V4 = "20.10.in-addr.arpa"
V6 = "8.b.d.0.1.0.0.2.ip6.arpa"
PTR, A, NS, TXT, SOA = 12, 1, 2, 16, 6


def wire_name(name):
    out = bytearray()
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii")
        out.append(len(raw))
        out += raw
    out.append(0)
    return bytes(out)


def message(qid, name, qtype, edns):
    flags = 0  # RD clear: an authoritative server is asked
    arcount = 1 if edns else 0
    msg = struct.pack("!HHHHHH", qid, flags, 1, 0, 0, arcount) + wire_name(name)
    msg += struct.pack("!HH", qtype, 1)
    if edns:
        msg += b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
    return msg


def sources(n):
    """n distinct loopback addresses 127.1.x.y (y in 1..250)."""
    return ["127.1.%d.%d" % (i // 250, i % 250 + 1) for i in range(n)]


class Plan:
    """Deterministic traffic: mostly PTR queries for full names of a skewed
    set of originators, some ip6, partial names (zone cuts, QNAME
    minimisation probes) and other qtypes for full names."""

    def __init__(self, seed, norig):
        self.rnd = random.Random(seed)
        self.v4 = ["10.20.%d.%d" % (self.rnd.choice((1, 2, 5, 16)), self.rnd.randint(1, 250))
                   for _ in range(norig)]
        self.v6 = [str(ipaddress.ip_address("2001:db8:%x::%x" % (self.rnd.randint(0, 3),
                                                                 self.rnd.randint(1, 4000))))
                   for _ in range(max(2, norig // 10))]

    @staticmethod
    def rev(addr):
        ip = ipaddress.ip_address(addr)
        return ip.reverse_pointer

    def pick(self):
        """(qname, qtype, originator or None, kind)."""
        r = self.rnd.random()
        if r < 0.78:
            # skewed: low indexes much more often (many queriers each)
            o = self.v4[min(int(self.rnd.expovariate(1.0 / (len(self.v4) / 6))), len(self.v4) - 1)]
            return self.rev(o), PTR, o, "ptr"
        if r < 0.86:
            o = self.rnd.choice(self.v6)
            return self.rev(o), PTR, o, "ptr"
        if r < 0.93:
            o = self.rnd.choice(self.v4)
            labels = o.split(".")
            cut = self.rnd.choice((2, 3))  # 20.10.in-addr.arpa / x.20.10.in-addr.arpa
            name = ".".join(reversed(labels[:cut])) + ".in-addr.arpa"
            return name, self.rnd.choice((NS, A, SOA)), None, "partial"
        o = self.rnd.choice(self.v4)
        return self.rev(o), self.rnd.choice((A, TXT)), None, "other_qtype"


class Sender:
    def __init__(self, server, port, nsrc, window, timeout):
        fam = socket.AF_INET6 if ":" in server else socket.AF_INET
        self.dest = (server, port)
        self.window = window
        self.timeout = timeout
        self.socks = []
        for a in sources(nsrc):
            s = socket.socket(fam, socket.SOCK_DGRAM)
            s.bind((a, 0))
            s.setblocking(False)
            self.socks.append(s)
        self.by_fd = {s.fileno(): i for i, s in enumerate(self.socks)}
        self.poll = select.epoll()
        for s in self.socks:
            self.poll.register(s.fileno(), select.EPOLLIN)
        self.inflight = {}  # (sock index, id) -> (send time, payload)
        self.sent = 0
        self.answered = 0
        self.next_id = [0] * nsrc

    def send(self, si, name, qtype, edns=False):
        qid = self.next_id[si]
        self.next_id[si] = (qid + 1) & 0xFFFF
        self.socks[si].sendto(message(qid, name, qtype, edns), self.dest)
        self.inflight[(si, qid)] = time.monotonic()
        self.sent += 1

    def reap(self, wait):
        for fd, _ in self.poll.poll(wait):
            si = self.by_fd[fd]
            s = self.socks[si]
            while True:
                try:
                    data = s.recv(4096)
                except BlockingIOError:
                    break
                if len(data) < 2:
                    continue
                qid = struct.unpack("!H", data[:2])[0]
                if self.inflight.pop((si, qid), None) is not None:
                    self.answered += 1

    def room(self):
        while len(self.inflight) >= self.window:
            self.reap(0.5)
            now = time.monotonic()
            stale = [k for k, t in self.inflight.items() if now - t > self.timeout]
            for k in stale:  # unanswered: reported, never re-sent
                del self.inflight[k]

    def drain(self):
        end = time.monotonic() + self.timeout
        while self.inflight and time.monotonic() < end:
            self.reap(0.2)


def run_exact(a):
    plan = Plan(a.seed, a.originators)
    snd = Sender(a.server, a.port, a.sources, a.window, 5.0)
    rnd = random.Random(a.seed + 1)
    truth = {"ptr": 0, "partial": 0, "other_qtype": 0, "expected": {}}
    for i in range(a.n):
        name, qtype, orig, kind = plan.pick()
        si = rnd.randrange(a.sources)
        snd.room()
        snd.send(si, name, qtype, edns=(i % 3 == 0))
        truth[kind] += 1
        if orig:
            q = snd.socks[si].getsockname()[0]
            e = truth["expected"].setdefault(orig, {})
            e[q] = e.get(q, 0) + 1
    snd.drain()
    truth["sent"] = snd.sent
    truth["answered"] = snd.answered
    truth["unanswered"] = len(snd.inflight)
    with open(a.truth, "w") as f:
        json.dump(truth, f, indent=1, sort_keys=True)
    print("sent %d answered %d" % (snd.sent, snd.answered))
    return 0 if snd.answered == snd.sent else 1


def run_load(a):
    plan = Plan(a.seed, a.originators)
    snd = Sender(a.server, a.port, a.sources, a.window, 2.0)
    rnd = random.Random(a.seed + 1)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    end = time.monotonic() + a.duration if a.duration else None
    if a.ready:
        open(a.ready, "w").write("started\n")
    while not stop and (end is None or time.monotonic() < end):
        name, qtype, _, _ = plan.pick()
        snd.room()
        try:
            snd.send(rnd.randrange(a.sources), name, qtype)
        except OSError:
            snd.reap(0.1)  # the server is gone (kill -9): keep counting what went out
            continue
    with open(a.out, "w") as f:
        f.write("sent %d answered %d\n" % (snd.sent, snd.answered))
    return 0


def run_flood(a):
    rnd = random.Random(a.seed)
    fam = socket.AF_INET
    socks = []
    for src in sources(a.sources):
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.bind((src, 0))
        s.setblocking(False)
        socks.append(s)
    dest = (a.server, a.port)
    prefix = "8.b.d.0.1.0.0.2.ip6.arpa"
    sent = 0
    qid = 0
    t0 = time.monotonic()
    while sent < a.n:
        for _ in range(256):
            if sent >= a.n:
                break
            nib = "%024x" % rnd.getrandbits(96)
            name = ".".join(reversed(nib)) + "." + prefix
            qid = (qid + 1) & 0xFFFF
            s = socks[sent % len(socks)]
            try:
                s.sendto(message(qid, name, PTR, False), dest)
                sent += 1
            except BlockingIOError:
                break
        for s in socks:  # read and drop the replies
            while True:
                try:
                    s.recv(4096)
                except BlockingIOError:
                    break
        # keep the server's socket buffer from overflowing: at most ~50k/s
        ahead = sent / 50000.0 - (time.monotonic() - t0)
        if ahead > 0:
            time.sleep(ahead)
    print("sent %d in %.1f s" % (sent, time.monotonic() - t0))
    return 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=("exact", "load", "flood"))
    p.add_argument("--server", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--sources", type=int, default=500)
    p.add_argument("--originators", type=int, default=150)
    p.add_argument("--window", type=int, default=64)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--truth")
    p.add_argument("--out")
    p.add_argument("--ready")
    p.add_argument("--duration", type=float, default=0)
    a = p.parse_args()
    return {"exact": run_exact, "load": run_load, "flood": run_flood}[a.mode](a)


if __name__ == "__main__":
    sys.exit(main())
