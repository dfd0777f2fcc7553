"""badinput.py — malformed DNS messages over UDP and TCP against one server.

  badinput.py HOST PORT

Each UDP case sends one bad datagram and then a good probe query on the same
socket; the replies that arrive before the probe's answer are the server's
reaction to the bad one (loopback keeps datagrams of one socket in order, and
the server reads a socket in order), so "no reply" is observed, not guessed
from a timeout.  Each case states what it accepts: "drop" (no reply),
"FORMERR" (with the query's ID) or "any" (anything, as long as the server
lives).  TCP cases send broken framing and close.  Prints one line per case,
"ok NAME" or "FAIL NAME: why"; exit status 1 when any failed."""

import random
import socket
import struct
import sys

import dnswire

HOST, PORT = sys.argv[1], int(sys.argv[2])
GOOD = "1.0.20.10.in-addr.arpa"
QID = 0xB00B


def hdr(qd=1, an=0, ns=0, ar=0, flags=0, qid=QID):
    return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def q(name=GOOD, qtype=12):
    return dnswire.encode_name(name) + struct.pack("!HH", qtype, 1)


def opt(rdata=b"", owner=b"\x00", payload=1232):
    return owner + struct.pack("!HHIH", 41, payload, 0, len(rdata)) + rdata


def udp_cases():
    long_label = bytes([63]) + b"a" * 63
    name_300 = long_label * 4 + bytes([40]) + b"b" * 40 + b"\x00"  # 297 octets
    yield "empty datagram", b"", "drop"
    for n in (1, 2, 11):
        yield "header of %d bytes" % n, hdr()[:n], "drop"
    yield "QR set (a response)", hdr(flags=0x8000) + q(), "drop"
    yield "QR set with NXDOMAIN", hdr(flags=0x8003) + q(), "drop"
    yield "QR set, garbage after the header", hdr(flags=0x8000) + b"\xff" * 40, "drop"
    yield "QDCOUNT 1 without a question", hdr(), "FORMERR"
    yield "qname cut in a label", hdr() + b"\x01\x30\x02\x32", "FORMERR"
    yield "qname without its root label", hdr() + b"\x01\x31\x01\x30", "FORMERR"
    yield "question without QTYPE/QCLASS", hdr() + dnswire.encode_name(GOOD), "FORMERR"
    yield "question with QTYPE only", hdr() + dnswire.encode_name(GOOD) + b"\x00\x0c", "FORMERR"
    yield "compression loop in the qname", hdr() + b"\xc0\x0c" + b"\x00\x0c\x00\x01", "FORMERR"
    yield "compression pointer after a label loops", hdr() + b"\x01\x31\xc0\x0c\x00\x0c\x00\x01", \
        "FORMERR"
    yield "compression pointer forward", hdr() + b"\xc0\x20" + b"\x00\x0c\x00\x01" + b"\x00" * 30, \
        "FORMERR"
    yield "compression pointer into the header", hdr() + b"\xc0\x02\x00\x0c\x00\x01", "FORMERR"
    yield "label length 64 (type 01)", hdr() + bytes([64]) + b"a" * 64 + b"\x00\x00\x0c\x00\x01", \
        "FORMERR"
    yield "label type 10", hdr() + b"\x80\x00\x00\x0c\x00\x01", "FORMERR"
    yield "name of 297 octets", hdr() + name_300 + b"\x00\x0c\x00\x01", "FORMERR"
    yield "OPT cut after its type", hdr(ar=1) + q() + b"\x00\x00\x29\x04", "FORMERR"
    yield "OPT RDLENGTH past the end", hdr(ar=1) + q() + opt()[:-2] + b"\x00\x10", "FORMERR"
    yield "EDNS option longer than the OPT", hdr(ar=1) + q() + opt(b"\x00\x03\x00\x20ab"), \
        "FORMERR"
    yield "two OPT RRs", hdr(ar=2) + q() + opt() + opt(), "FORMERR"
    yield "OPT owner not the root", hdr(ar=1) + q() + opt(owner=b"\x01a\x00"), "FORMERR"
    yield "ARCOUNT 1, no additional", hdr(ar=1) + q(), "FORMERR"
    yield "ARCOUNT 65535", hdr(ar=65535) + q() + opt(), "FORMERR"
    yield "QDCOUNT 65535", hdr(qd=65535) + q(), "FORMERR"
    yield "ANCOUNT 1 in a query, RR missing", hdr(an=1) + q(), "any"
    yield "trailing garbage after the question", hdr() + q() + b"\xde\xad\xbe\xef", "any"
    yield "all 0xff, 512 bytes", b"\xff" * 512, "any"
    yield "all zero, 512 bytes", b"\x00" * 512, "any"
    rnd = random.Random(0xBAD)
    for i in range(300):
        n = rnd.choice((rnd.randrange(0, 16), rnd.randrange(12, 80), rnd.randrange(12, 1500)))
        data = bytes(rnd.randrange(256) for _ in range(n))
        yield "random %d bytes #%d" % (n, i), data, "any"
    # mutations of a valid query with EDNS
    base = dnswire.build_query(GOOD, "PTR", qid=QID, options=((3, b""),))
    for i in range(300):
        m = bytearray(base)
        for _ in range(rnd.randrange(1, 4)):
            m[rnd.randrange(2, len(m))] = rnd.randrange(256)
        if rnd.random() < 0.3:
            m = m[:rnd.randrange(12, len(m))]
        yield "mutated query #%d" % i, bytes(m), "any"


def run_udp(failures):
    family = socket.AF_INET6 if ":" in HOST else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.settimeout(5)
    s.connect((HOST, PORT))
    probe_id, before_fail = 0, len(failures)
    for name, data, want in udp_cases():
        probe_id = (probe_id + 1) & 0xFFFF
        if probe_id == QID:
            probe_id += 1
        s.send(data)
        s.send(dnswire.build_query(GOOD, "PTR", qid=probe_id))
        before = []
        try:
            while True:
                r = s.recv(65535)
                if len(r) >= 12 and struct.unpack("!H", r[:2])[0] == probe_id:
                    break
                before.append(r)
        except socket.timeout:
            failures.append("%s: no answer to the probe query after it (server gone?)" % name)
            print("FAIL %s: probe query unanswered" % name)
            return
        why = None
        if want == "drop" and before:
            why = "expected no reply, got %d byte(s)" % len(before[0])
        elif want == "FORMERR":
            if len(before) != 1:
                why = "expected one FORMERR reply, got %d replies" % len(before)
            else:
                try:
                    r = dnswire.parse(before[0])
                    if r["rcode"] != "FORMERR" or r["id"] != QID or "qr" not in r["flags"]:
                        why = "expected FORMERR with id %d, got %s id %d" % (QID, r["rcode"],
                                                                            r["id"])
                except dnswire.Malformed:
                    # A FORMERR may carry only the header (RFC 1035 lets it echo nothing).
                    h = before[0]
                    if len(h) < 12 or h[3] & 0xF != 1 or struct.unpack("!H", h[:2])[0] != QID:
                        why = "reply is not a FORMERR header: %s" % h[:16].hex()
        if why:
            failures.append("%s: %s" % (name, why))
            print("FAIL udp %s: %s" % (name, why))
    if len(failures) == before_fail:
        print("ok   udp: every malformed datagram dropped or answered as expected")


def run_tcp(failures):
    cases = [
        ("length 65535, 10 bytes, close", struct.pack("!H", 65535) + b"\x00" * 10),
        ("length 65535, nothing, close", struct.pack("!H", 65535)),
        ("one byte of the length, close", b"\x00"),
        ("length 0", struct.pack("!H", 0)),
        ("length 5, garbage", struct.pack("!H", 5) + b"\xff" * 5),
        ("length 11, short header", struct.pack("!H", 11) + hdr()[:11]),
        ("valid query then length 65535 and close",
         struct.pack("!H", len(hdr() + q())) + hdr() + q() + struct.pack("!H", 65535) + b"x"),
        ("connect, close", b""),
    ]
    before_fail = len(failures)
    for name, data in cases:
        try:
            with dnswire.tcp_connect(HOST, PORT, timeout=5) as s:
                if data:
                    s.sendall(data)
        except OSError as e:
            failures.append("tcp %s: %s" % (name, e))
            print("FAIL tcp %s: %s" % (name, e))
    # 50 connections at once, closed at once
    socks = []
    try:
        for _ in range(50):
            socks.append(dnswire.tcp_connect(HOST, PORT, timeout=5))
    except OSError as e:
        failures.append("tcp 50 connections: %s" % e)
        print("FAIL tcp 50 connections: %s" % e)
    for s in socks:
        s.close()
    # a FORMERR over TCP keeps the framing: the next query on the connection works
    try:
        with dnswire.tcp_connect(HOST, PORT, timeout=5) as s:
            bad = hdr(qd=0)
            good = dnswire.build_query(GOOD, "PTR", qid=0x7777)
            s.sendall(struct.pack("!H", len(bad)) + bad + struct.pack("!H", len(good)) + good)
            seen = []
            for _ in range(2):
                m = dnswire.tcp_read_msg(s)
                if m is None:
                    break
                seen.append(struct.unpack("!H", m[:2])[0])
            if 0x7777 not in seen:
                why = "query after a FORMERR on the same connection unanswered (ids %s)" % seen
                failures.append("tcp " + why)
                print("FAIL tcp %s" % why)
    except OSError as e:
        failures.append("tcp FORMERR then query: %s" % e)
        print("FAIL tcp FORMERR then query: %s" % e)
    if len(failures) == before_fail:
        print("ok   tcp: broken framing, 50 idle connections, FORMERR then a query")


def main():
    failures = []
    run_udp(failures)
    run_tcp(failures)
    for host_tcp in (False, True):
        r, _ = dnswire.query(HOST, PORT, GOOD, "PTR", tcp=host_tcp)
        if r is None or r["rcode"] != "NOERROR" or not r["answer"]:
            failures.append("normal query after the bad ones (%s): %s" % (
                "tcp" if host_tcp else "udp", dnswire.summary(r)))
            print("FAIL normal query over %s after the bad ones" % ("tcp" if host_tcp else "udp"))
    print("badinput: %d failure(s)" % len(failures))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
