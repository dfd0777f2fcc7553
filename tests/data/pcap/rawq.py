#!/usr/bin/env python3
"""tests/data/pcap/rawq.py — DNS queries kdig cannot send, for the ingest
test captures: several messages in one TCP segment, a length prefix in its own
segment, a message split across segments, mixed-case names, a malformed query
and one without a question.  Prints one ground-truth line per query (the format
of truth.txt, see make.sh).  Loopback only; every socket has a timeout."""
import socket
import struct
import sys
import time

QTYPE = {"PTR": 12, "A": 1, "SOA": 6, "NS": 2, "TXT": 16}


def build(qid, name, qtype, rd=True, trailing=b"", qdcount=1):
    flags = 0x0100 if rd else 0
    msg = struct.pack("!HHHHHH", qid, flags, qdcount, 0, 0, 0)
    if qdcount:
        for label in name.rstrip(".").split("."):
            msg += bytes([len(label)]) + label.encode()
        msg += b"\0" + struct.pack("!HH", QTYPE[qtype], 1)
    return msg + trailing


def rcode_of(reply):
    return reply[3] & 0xF if len(reply) >= 4 else "-"


def truth(src, port, proto, qtype, name, flags, rcode, note):
    print(f"{src} {port} {proto} {QTYPE[qtype]} {name.lower()} {flags} {rcode} {note}")


def udp(server, sport, src, qid, name, qtype, note="-", **kw):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.bind((src, sport))
    s.sendto(build(qid, name, qtype, **kw), server)
    try:
        reply = s.recv(65535)
        rc = rcode_of(reply)
    except socket.timeout:
        rc = "-"
    s.close()
    return rc


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError("connection closed")
        b += c
    return b


def tcp_session(server, sport, src, chunks, nreplies):
    """Send @chunks as separate segments (TCP_NODELAY, a pause between them so
    each leaves as its own segment), then read @nreplies replies."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(3)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.bind((src, sport))
    s.connect(server)
    for i, c in enumerate(chunks):
        if i:
            time.sleep(0.05)
        s.sendall(c)
    replies = []
    for _ in range(nreplies):
        n = struct.unpack("!H", recv_exact(s, 2))[0]
        replies.append(recv_exact(s, n))
    s.close()
    return replies


def framed(msg):
    return struct.pack("!H", len(msg)) + msg


def main():
    port = int(sys.argv[1])
    base = int(sys.argv[2])
    server = ("127.0.0.1", port)
    src = "127.0.0.20"
    # three queries in one segment, twice
    for c in range(2):
        sport = base + c
        names = [f"{n}.1.20.10.in-addr.arpa." for n in (c * 3 + 1, c * 3 + 2, c * 3 + 3)]
        msgs = [build(0x100 + c * 3 + i, nm, "PTR") for i, nm in enumerate(names)]
        replies = tcp_session(server, sport, src, [b"".join(framed(m) for m in msgs)], 3)
        by_id = {struct.unpack("!H", r[:2])[0]: r for r in replies}
        for i, nm in enumerate(names):
            truth(src, sport, "tcp", "PTR", nm, "rd", rcode_of(by_id[0x100 + c * 3 + i]),
                  "pipelined")
    # the length prefix in its own segment, the message in the next
    sport = base + 2
    nm = "7.1.20.10.in-addr.arpa."
    m = build(0x200, nm, "PTR")
    r = tcp_session(server, sport, src, [struct.pack("!H", len(m)), m], 1)
    truth(src, sport, "tcp", "PTR", nm, "rd", rcode_of(r[0]), "prefix-apart")
    # one message split across two segments: not read from a capture
    sport = base + 3
    nm = "8.1.20.10.in-addr.arpa."
    m = framed(build(0x201, nm, "PTR"))
    r = tcp_session(server, sport, src, [m[:10], m[10:]], 1)
    truth(src, sport, "tcp", "PTR", nm, "rd", rcode_of(r[0]), "split")
    # mixed case
    sport = base + 4
    nm = "9.1.20.10.In-Addr.ARPA."
    truth(src, sport, "udp", "PTR", nm, "rd", udp(server, sport, src, 0x300, nm, "PTR"), "-")
    # malformed after the question (trailing bytes): the server answers FORMERR
    sport = base + 5
    nm = "10.1.20.10.in-addr.arpa."
    rc = udp(server, sport, src, 0x301, nm, "PTR", trailing=b"\1\2\3")
    truth(src, sport, "udp", "PTR", nm, "rd", rc, "formerr")
    # no question at all: no event
    sport = base + 6
    rc = udp(server, sport, src, 0x302, "", "PTR", qdcount=0)
    print(f"{src} {sport} udp 0 . - {rc} noquestion")


if __name__ == "__main__":
    main()
