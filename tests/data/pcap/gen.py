#!/usr/bin/env python3
"""tests/data/pcap/gen.py — write a synthetic pcap of N PTR queries (and, with
--responses, the server's answer to each) for decoder speed runs:

    gen.py OUT.pcap [N] [--responses] [--server ADDR] [--port P]

Ethernet link type, microsecond timestamps 20 us apart.  Queriers are 65536
addresses in 198.18.0.0/15 (plus 1 in 16 over IPv6, 2001:db8:ffff::/48) with
varying ports; qnames are reverse names of pseudo-random addresses in 10/8;
1 in 8 queries carries EDNS with DO, 1 in 32 goes over TCP (one message per
segment; no handshake is written).  Responses: NXDOMAIN 1 in 4, else NOERROR
with one PTR.  Deterministic (fixed seed)."""
import random
import struct
import sys


def ip4(b):
    return bytes(b)


def csum_free_ipv4(src, dst, proto, payload):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0,
                      src, dst)
    return hdr + payload


def ipv6(src, dst, proto, payload):
    return struct.pack("!IHBB16s16s", 6 << 28, len(payload), proto, 64, src, dst) + payload


def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp(sport, dport, seq, payload):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, 1, 5 << 4, 0x18, 65535, 0, 0) + payload


def qname(a):
    return b"".join(bytes([len(x)]) + x for x in
                    (str(a[3]).encode(), str(a[2]).encode(), str(a[1]).encode(),
                     str(a[0]).encode(), b"in-addr", b"arpa")) + b"\0"


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    opts = sys.argv[1:]
    out = args[0]
    n = int(args[1]) if len(args) > 1 else 1000000
    responses = "--responses" in opts
    server = "192.0.2.53"
    port = 53
    for i, a in enumerate(opts):
        if a == "--server":
            server = opts[i + 1]
        if a == "--port":
            port = int(opts[i + 1])
    srv4 = bytes(int(x) for x in server.split("."))
    srv6 = bytes.fromhex("20010db8000000000000000000000053")
    rnd = random.Random(7)
    f = open(out, "wb")
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 262144, 1))
    eth4 = b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x08\x00"
    eth6 = b"\x02\0\0\0\0\x01\x02\0\0\0\0\x02\x86\xdd"
    t = 1700000000 * 1000000
    w = f.write
    pack = struct.pack
    for i in range(n):
        q = (rnd.getrandbits(32) | 0x0A000000) & 0x0AFFFFFF
        a = ((q >> 24) & 255, (q >> 16) & 255, (q >> 8) & 255, q & 255)
        name = qname(a)
        qid = i & 0xFFFF
        edns = i % 8 == 0
        msg = pack("!HHHHHH", qid, 0x0000, 1, 0, 0, 1 if edns else 0) + name + b"\0\x0c\0\x01"
        if edns:
            msg += b"\0\0\x29\x04\xd0\0\0\x80\0\0\0"
        c = i % 65536
        sport = 1024 + (i * 7919) % 60000
        v6 = i % 16 == 15
        over_tcp = i % 32 == 7
        if v6:
            cli = bytes.fromhex("20010db8ffff00000000000000") + pack("!BH", 0, c)
            mk = lambda s, d, p, pl: eth6 + ipv6(s, d, p, pl)
            srv = srv6
        else:
            cli = pack("!BBBB", 198, 18 + (c >> 15), (c >> 8) & 127, c & 255)
            mk = lambda s, d, p, pl: eth4 + csum_free_ipv4(s, d, p, pl)
            srv = srv4
        if over_tcp:
            pkt = mk(cli, srv, 6, tcp(sport, port, 1 + i, pack("!H", len(msg)) + msg))
        else:
            pkt = mk(cli, srv, 17, udp(sport, port, msg))
        w(pack("<IIII", t // 1000000, t % 1000000, len(pkt), len(pkt)) + pkt)
        t += 20
        if responses:
            nx = i % 4 == 0
            ans = b"" if nx else (b"\xc0\x0c\0\x0c\0\x01\0\0\x0e\x10\0\x10"
                                  b"\x04host\x07example\x03net\0")
            hdr = pack("!HHHHHH", qid, 0x8400 | (3 if nx else 0), 1, 0 if nx else 1, 0,
                       1 if edns else 0)
            r = hdr + name + b"\0\x0c\0\x01" + ans
            if edns:
                r += b"\0\0\x29\x04\xd0\0\0\x80\0\0\0"
            if over_tcp:
                pkt = mk(srv, cli, 6, tcp(port, sport, 1, pack("!H", len(r)) + r))
            else:
                pkt = mk(srv, cli, 17, udp(port, sport, r))
            w(pack("<IIII", t // 1000000, t % 1000000, len(pkt), len(pkt)) + pkt)
            t += 20
    f.close()


if __name__ == "__main__":
    main()
