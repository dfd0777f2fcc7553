#!/usr/bin/env python3
"""A small darknet capture for the demo: what an unused /22 (198.18.0.0/22) and
an unused IPv6 /48 (2001:db8:d::/48) receive while the demo's scanner is at
work.  Written as a classic pcap (Ethernet), timestamps from now on, so that
its label window overlaps the DNS traffic of the demo.

  - 10.20.3.7, the demo's scanner: ZMap-style TCP SYNs to port 22 (IP ID
    54321) over 600 darknet addresses;
  - 203.0.113.9: Mirai-style TCP SYNs to port 23 (sequence number = the
    destination address) over 300 addresses;
  - 192.0.2.80: backscatter, SYN-ACKs from port 80 of a DDoS victim whose
    address was spoofed, to 200 addresses;
  - 10.20.17.40: a port scan of 150 ports on one darknet host;
  - 2001:db8::1, the demo's IPv6 scanner: an ICMPv6 echo sweep of 120
    addresses.

The tests use captures of the real tools (tests/integration/test_darknet.sh);
this file only feeds the demo.

  demo_darknet.py OUT.pcap [--seed N]
"""
import argparse
import ipaddress
import random
import struct
import sys
import time


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(src, dst, proto, payload, ident):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, 0x4000, 64, proto, 0,
                      ipaddress.IPv4Address(src).packed, ipaddress.IPv4Address(dst).packed)
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def tcp(src, dst, sport, dport, seq, ack, flags):
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0)
    pseudo = (ipaddress.IPv4Address(src).packed + ipaddress.IPv4Address(dst).packed
              + struct.pack("!BBH", 0, 6, len(seg)))
    return seg[:16] + struct.pack("!H", csum(pseudo + seg)) + seg[18:]


def ipv6_icmp_echo(src, dst, ident, seqno):
    body = struct.pack("!BBHHH", 128, 0, 0, ident, seqno) + b"backscope-demo"
    s, d = ipaddress.IPv6Address(src).packed, ipaddress.IPv6Address(dst).packed
    pseudo = s + d + struct.pack("!IxxxB", len(body), 58)
    body = body[:2] + struct.pack("!H", csum(pseudo + body)) + body[4:]
    return struct.pack("!IHBB16s16s", 6 << 28, len(body), 58, 64, s, d) + body


def ether(payload, v6=False):
    return (b"\x02\x00\x00\x00\x00\x01" + b"\x02\x00\x00\x00\x00\x02"
            + struct.pack("!H", 0x86DD if v6 else 0x0800) + payload)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    dark4 = list(ipaddress.IPv4Network("198.18.0.0/22").hosts())
    frames = []  # (offset_us, frame)

    def spread(n):
        return sorted(rng.randrange(0, 20_000_000) for _ in range(n))

    zsport = rng.randrange(32768, 61000)
    for t, dst in zip(spread(600), rng.sample(dark4, 600)):
        seg = tcp("10.20.3.7", str(dst), zsport, 22, rng.getrandbits(32), 0, 0x02)
        frames.append((t, ether(ipv4("10.20.3.7", str(dst), 6, seg, 54321))))
    for t, dst in zip(spread(300), rng.sample(dark4, 300)):
        seq = int(dst)
        seg = tcp("203.0.113.9", str(dst), rng.randrange(1024, 65535), 23, seq, 0, 0x02)
        frames.append((t, ether(ipv4("203.0.113.9", str(dst), 6, seg, rng.getrandbits(16)))))
    for t, dst in zip(spread(200), rng.sample(dark4, 200)):
        seg = tcp("192.0.2.80", str(dst), 80, rng.randrange(1024, 65535), rng.getrandbits(32),
                  rng.getrandbits(32), 0x12)
        frames.append((t, ether(ipv4("192.0.2.80", str(dst), 6, seg, rng.getrandbits(16)))))
    target = str(dark4[77])
    for t, port in zip(spread(150), rng.sample(range(1, 10000), 150)):
        seg = tcp("10.20.17.40", target, 41000, port, rng.getrandbits(32), 0, 0x02)
        frames.append((t, ether(ipv4("10.20.17.40", target, 6, seg, rng.getrandbits(16)))))
    for i, t in enumerate(spread(120)):
        dst = "2001:db8:d::%x" % (i + 1)
        frames.append((t, ether(ipv6_icmp_echo("2001:db8::1", dst, 0x4242, i), v6=True)))
    frames.sort(key=lambda f: f[0])

    t0 = int(time.time())
    with open(args.out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        for off, frame in frames:
            sec, usec = divmod(t0 * 1_000_000 + off, 1_000_000)
            f.write(struct.pack("<IIII", sec, usec, len(frame), len(frame)))
            f.write(frame)
    print("wrote %s: %d packets from 5 sources to 198.18.0.0/22 and 2001:db8:d::/48"
          % (args.out, len(frames)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
