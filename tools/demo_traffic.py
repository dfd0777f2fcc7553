#!/usr/bin/env python3
"""DNS backscatter for the demo: the reverse lookups a scanner, a spammer and
ordinary hosts cause, sent to backscope-authd on loopback.

Each querier is a distinct loopback source address (127.A.B.C), as the
resolvers of the hosts an originator touched would be.  Every query waits for
its answer (resent up to 3 times), so the counts printed at the end are what
the server received and answered.

  demo_traffic.py PORT [--seed N]
"""
import argparse
import ipaddress
import random
import socket
import struct
import sys


def qname_v4(addr):
    return ipaddress.IPv4Address(addr).reverse_pointer + "."


def qname_v6(addr):
    return ipaddress.IPv6Address(addr).reverse_pointer + "."


def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(sock, port, qname, qtype, qid):
    msg = struct.pack("!HHHHHH", qid, 0, 1, 0, 0, 0) + encode_name(qname) + struct.pack("!HH", qtype, 1)
    for _ in range(3):
        sock.sendto(msg, ("127.0.0.1", port))
        try:
            while True:
                data = sock.recv(4096)
                if len(data) >= 4 and struct.unpack("!H", data[:2])[0] == qid:
                    return data[3] & 0x0F
        except socket.timeout:
            continue
    return None


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("port", type=int)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    rng = random.Random(args.seed)

    def querier():
        return "127.%d.%d.%d" % (rng.randrange(1, 255), rng.randrange(0, 256), rng.randrange(1, 255))

    plan = []  # (source, qname, qtype)
    # A scanner: one lookup each from the firewalls of 400 unrelated networks.
    for _ in range(400):
        plan.append((querier(), qname_v4("10.20.3.7"), 12))
    # A QNAME-minimising resolver's probes: partial names, never originators.
    for _ in range(20):
        plan.append((querier(), "3.20.10.in-addr.arpa.", 2))
    # A spammer: 60 mail servers, each looking it up two or three times.
    for _ in range(60):
        src = querier()
        for _ in range(rng.choice((2, 3))):
            plan.append((src, qname_v4("10.20.16.25"), 12))
    # Ordinary hosts: looked up now and then by a few resolvers.
    for i in range(30):
        host = "10.20.%d.%d" % (rng.choice((1, 2, 17)), rng.randrange(1, 255))
        for _ in range(rng.randrange(1, 4)):
            plan.append((querier(), qname_v4(host), 12))
    # An IPv6 scanner in 2001:db8::/32.
    for _ in range(120):
        plan.append((querier(), qname_v6("2001:db8::1"), 12))
    rng.shuffle(plan)

    socks = {}
    answered = lost = 0
    for qid, (src, qname, qtype) in enumerate(plan):
        s = socks.get(src)
        if s is None:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind((src, 0))
            s.settimeout(2.0)
            socks[src] = s
        if query(s, args.port, qname, qtype, qid & 0xFFFF) is None:
            lost += 1
        else:
            answered += 1
    for s in socks.values():
        s.close()
    print("sent %d queries from %d distinct queriers: %d answered, %d unanswered"
          % (len(plan), len(socks), answered, lost))
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
