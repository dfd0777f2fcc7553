"""dnswire.py — a small stdlib-only DNS message codec and client for the
integration tests: builds queries (also deliberately broken ones), sends them
over UDP or TCP to a loopback server, and parses answers into plain data with
RRs rendered as presentation text, so that two servers' answers compare as
strings.  Used by differential.py, badinput.py and inline test snippets."""

import ipaddress
import random
import socket
import struct

TYPES = {
    "A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "NULL": 10, "PTR": 12, "HINFO": 13, "MX": 15,
    "TXT": 16, "RP": 17, "AAAA": 28, "LOC": 29, "SRV": 33, "NAPTR": 35, "DNAME": 39,
    "OPT": 41, "DS": 43, "SSHFP": 44, "RRSIG": 46, "NSEC": 47, "DNSKEY": 48, "NSEC3": 50,
    "NSEC3PARAM": 51, "CDS": 59, "SVCB": 64, "HTTPS": 65, "CAA": 257, "IXFR": 251,
    "AXFR": 252, "MAILB": 253, "ANY": 255,
}
TYPE_NAMES = {v: k for k, v in TYPES.items()}
CLASSES = {"IN": 1, "CH": 3, "HS": 4, "NONE": 254, "ANY": 255}
CLASS_NAMES = {v: k for k, v in CLASSES.items()}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP",
          5: "REFUSED", 6: "YXDOMAIN", 7: "YXRRSET", 8: "NXRRSET", 9: "NOTAUTH",
          10: "NOTZONE", 16: "BADVERS", 23: "BADCOOKIE"}
FLAG_BITS = (("qr", 15), ("aa", 10), ("tc", 9), ("rd", 8), ("ra", 7), ("z", 6), ("ad", 5),
             ("cd", 4))


class Malformed(Exception):
    """The message cannot be parsed; the text says where and why."""


def type_code(t):
    if isinstance(t, int):
        return t
    t = t.upper()
    if t in TYPES:
        return TYPES[t]
    if t.startswith("TYPE"):
        return int(t[4:])
    raise ValueError("unknown type " + t)


def type_text(code):
    return TYPE_NAMES.get(code, "TYPE%d" % code)


def class_code(c):
    if isinstance(c, int):
        return c
    c = c.upper()
    if c in CLASSES:
        return CLASSES[c]
    if c.startswith("CLASS"):
        return int(c[5:])
    raise ValueError("unknown class " + c)


def rcode_text(code):
    return RCODES.get(code, "RCODE%d" % code)


def encode_name(name):
    """Text name (absolute or not; "." is the root) to uncompressed wire."""
    out = bytearray()
    name = name.rstrip(".")
    if name:
        for label in name.split("."):
            raw = label.encode("ascii")
            if not 0 < len(raw) <= 63:
                raise ValueError("bad label in " + name)
            out.append(len(raw))
            out += raw
    out.append(0)
    return bytes(out)


def opt_rr(payload=1232, version=0, do=False, ext_rcode=0, options=()):
    """An OPT pseudo-RR; options are (code, bytes) pairs."""
    rdata = b"".join(struct.pack("!HH", c, len(v)) + v for c, v in options)
    ttl = (ext_rcode << 24) | (version << 16) | (0x8000 if do else 0)
    return b"\x00" + struct.pack("!HHIH", 41, payload, ttl, len(rdata)) + rdata


def build_query(qname, qtype="PTR", qclass="IN", qid=None, rd=False, opcode=0, edns=True,
                payload=1232, version=0, do=False, options=(), cd=False, ad=False, qr=False):
    """A query as wire bytes.  edns=False sends no OPT."""
    if qid is None:
        qid = random.randrange(0x10000)
    flags = (opcode & 0xF) << 11
    flags |= 0x8000 if qr else 0
    flags |= 0x0100 if rd else 0
    flags |= 0x0020 if ad else 0
    flags |= 0x0010 if cd else 0
    ar = opt_rr(payload, version, do, options=options) if edns else b""
    head = struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 1 if edns else 0)
    q = encode_name(qname) + struct.pack("!HH", type_code(qtype), class_code(qclass))
    return head + q + ar


class Reader:
    def __init__(self, msg):
        self.msg = msg
        self.pos = 0

    def take(self, n, what):
        if self.pos + n > len(self.msg):
            raise Malformed("%s at offset %d: message ends at %d" % (what, self.pos,
                                                                      len(self.msg)))
        b = self.msg[self.pos:self.pos + n]
        self.pos += n
        return b

    def u8(self, what):
        return self.take(1, what)[0]

    def u16(self, what):
        return struct.unpack("!H", self.take(2, what))[0]

    def u32(self, what):
        return struct.unpack("!I", self.take(4, what))[0]

    def name(self, what="name"):
        labels, end, pos, hops, total = [], None, self.pos, 0, 1
        while True:
            if pos >= len(self.msg):
                raise Malformed("%s runs past the end (offset %d)" % (what, pos))
            n = self.msg[pos]
            if n & 0xC0 == 0xC0:
                if pos + 1 >= len(self.msg):
                    raise Malformed("%s: truncated pointer at %d" % (what, pos))
                target = ((n & 0x3F) << 8) | self.msg[pos + 1]
                if end is None:
                    end = pos + 2
                hops += 1
                if hops > 64 or target >= pos:
                    raise Malformed("%s: bad compression pointer at %d" % (what, pos))
                pos = target
                continue
            if n & 0xC0:
                raise Malformed("%s: bad label type 0x%02x at %d" % (what, n, pos))
            pos += 1
            if n == 0:
                break
            if pos + n > len(self.msg):
                raise Malformed("%s: label runs past the end at %d" % (what, pos))
            labels.append(self.msg[pos:pos + n])
            total += n + 1
            if total > 255:
                raise Malformed("%s: longer than 255 octets" % what)
            pos += n
        self.pos = end if end is not None else pos
        return name_text(labels)


def label_text(raw):
    out = []
    for c in raw:
        ch = chr(c)
        if ch in ".\\\"()$;@ ":
            out.append("\\" + ch)
        elif 0x21 <= c <= 0x7E:
            out.append(ch)
        else:
            out.append("\\%03d" % c)
    return "".join(out)


def name_text(labels):
    return "".join(label_text(l) + "." for l in labels) or "."


def char_strings(data):
    out, pos = [], 0
    while pos < len(data):
        n = data[pos]
        chunk = data[pos + 1:pos + 1 + n]
        if len(chunk) != n:
            raise Malformed("character-string runs past its RDATA")
        s = "".join("\\" + chr(c) if chr(c) in '"\\' else chr(c) if 0x20 <= c <= 0x7E
                    else "\\%03d" % c for c in chunk)
        out.append('"%s"' % s)
        pos += 1 + n
    return " ".join(out)


def rdata_text(rd, rtype, start, rdlen):
    """RDATA at rd.pos..+rdlen as presentation text; names are decompressed."""
    end = start + rdlen
    data = rd.msg[start:end]
    if rtype in (2, 5, 12, 39):
        t = rd.name("rdata name")
    elif rtype == 6:
        mname = rd.name("SOA mname")
        rname = rd.name("SOA rname")
        nums = struct.unpack("!IIIII", rd.take(20, "SOA numbers"))
        t = "%s %s %s" % (mname, rname, " ".join(str(n) for n in nums))
    elif rtype == 15:
        pref = rd.u16("MX preference")
        t = "%d %s" % (pref, rd.name("MX exchange"))
    elif rtype == 1 and rdlen == 4:
        t = str(ipaddress.IPv4Address(data))
    elif rtype == 28 and rdlen == 16:
        t = str(ipaddress.IPv6Address(data))
    elif rtype in (13, 16):
        t = char_strings(data)
    elif rtype in (43, 59) and rdlen >= 4:
        tag, alg, dt = struct.unpack("!HBB", data[:4])
        t = "%d %d %d %s" % (tag, alg, dt, data[4:].hex().upper())
    else:
        t = "\\# %d %s" % (rdlen, data.hex().upper()) if rdlen else "\\# 0"
    if rd.pos > end:
        raise Malformed("RDATA of type %d overruns its length" % rtype)
    rd.pos = end
    return t


def parse(msg):
    """Parse a whole message.  Returns a dict:
    id, opcode, rcode (text, extended by OPT), flags (set of names),
    question [(name, type, class)], answer/authority/additional [RR text],
    opt None or {payload, version, do, options: [(code, hex)]}, size."""
    rd = Reader(msg)
    qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", rd.take(12, "header"))
    res = {"id": qid, "opcode": (flags >> 11) & 0xF, "size": len(msg),
           "flags": {n for n, b in FLAG_BITS if flags & (1 << b)}, "question": [],
           "answer": [], "authority": [], "additional": [], "opt": None}
    for _ in range(qd):
        name = rd.name("question name")
        t, c = rd.u16("qtype"), rd.u16("qclass")
        res["question"].append((name, type_text(t), CLASS_NAMES.get(c, "CLASS%d" % c)))
    ext = 0
    for section, count in (("answer", an), ("authority", ns), ("additional", ar)):
        for _ in range(count):
            owner = rd.name(section + " owner")
            rtype, rclass, ttl, rdlen = struct.unpack("!HHIH", rd.take(10, section + " RR"))
            start = rd.pos
            if start + rdlen > len(msg):
                raise Malformed("%s RDATA runs past the end" % section)
            if rtype == 41:
                if res["opt"] is not None:
                    raise Malformed("two OPT RRs")
                opts, data, p = [], msg[start:start + rdlen], 0
                while p + 4 <= len(data):
                    code, olen = struct.unpack("!HH", data[p:p + 4])
                    opts.append((code, data[p + 4:p + 4 + olen].hex()))
                    p += 4 + olen
                ext = ttl >> 24
                res["opt"] = {"payload": rclass, "version": (ttl >> 16) & 0xFF,
                              "do": bool(ttl & 0x8000), "options": opts, "owner": owner}
                rd.pos = start + rdlen
                continue
            text = rdata_text(rd, rtype, start, rdlen)
            cls = CLASS_NAMES.get(rclass, "CLASS%d" % rclass)
            res[section].append("%s %d %s %s %s" % (owner, ttl, cls, type_text(rtype), text))
    res["trailing"] = len(msg) - rd.pos
    res["rcode"] = rcode_text((ext << 4) | (flags & 0xF))
    return res


def _sockaddr(host, port):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return family, (host, port)


def udp_exchange(host, port, wire, timeout=3.0, want_id=None, tries=3):
    """Send one datagram, resending it up to @tries times when no reply comes
    within @timeout (a loaded machine may be slow, never wrong); return the
    reply whose ID matches, or None when every try timed out."""
    family, addr = _sockaddr(host, port)
    if want_id is None and len(wire) >= 2:
        want_id = struct.unpack("!H", wire[:2])[0]
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        for _ in range(max(1, tries)):
            s.sendto(wire, addr)
            while True:
                try:
                    data = s.recv(65535)
                except socket.timeout:
                    break
                if len(data) >= 2 and struct.unpack("!H", data[:2])[0] == want_id:
                    return data
    return None


def tcp_read_msg(s):
    """Read one length-prefixed message; None when the peer closed first."""
    head = _recv_exact(s, 2)
    if head is None:
        return None
    n = struct.unpack("!H", head)[0]
    return _recv_exact(s, n)


def _recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def tcp_connect(host, port, timeout=20.0):
    family, addr = _sockaddr(host, port)
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(addr)
    return s


def tcp_exchange(host, port, wire, timeout=20.0):
    with tcp_connect(host, port, timeout) as s:
        s.sendall(struct.pack("!H", len(wire)) + wire)
        return tcp_read_msg(s)


def query(host, port, qname, qtype="PTR", tcp=False, timeout=3.0, **kw):
    """Build, send and parse one query.  Returns (parsed or None, wire)."""
    wire = build_query(qname, qtype, **kw)
    data = (tcp_exchange if tcp else udp_exchange)(host, port, wire, timeout)
    return (parse(data) if data is not None else None), wire


def summary(res):
    """A compact multi-line rendering, for failure messages."""
    if res is None:
        return "(no reply)"
    lines = ["rcode=%s flags=%s opcode=%d size=%d" % (res["rcode"], " ".join(
        sorted(res["flags"])), res["opcode"], res["size"])]
    if res["opt"]:
        o = res["opt"]
        lines.append("OPT payload=%d version=%d do=%s options=%s" % (
            o["payload"], o["version"], o["do"], o["options"]))
    for sec in ("answer", "authority", "additional"):
        for rr in res[sec]:
            lines.append("%s: %s" % (sec, rr))
    return "\n".join(lines)
