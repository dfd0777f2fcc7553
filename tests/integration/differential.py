"""differential.py — send one query set to two DNS servers serving the same
zones and compare their answers field by field: rcode, header flags, the
question echo, EDNS (OPT payload, version, DO, options) and each section as
sorted RR text, TTLs included.  Every difference is a failure unless a rule
of the allow file (glob over the case id, field, reason) names it.

  differential.py --a backscope=127.0.0.1@PORT --b knot=127.0.0.1@PORT \\
                  [--allow FILE] [--verbose]

Case ids read category/qname/qtype/variant, e.g. "nxdomain/1.6.20.10.in-addr.arpa/PTR/udp".
The query set is built from the sample zones' layout (zones/README.md) and is
the same on every run.  Exit status 0 when every difference is allowed."""

import argparse
import fnmatch
import random
import sys
import time

import dnswire

Z4 = "20.10.in-addr.arpa"
Z6 = "8.b.d.0.1.0.0.2.ip6.arpa"
FIELDS = ("rcode", "flags", "question", "opt", "answer", "authority", "additional")


def v4(a, b, c=None):
    """Name of 10.20.a.b (c: an extra leading label)."""
    return ("%s." % c if c is not None else "") + "%s.%s.%s" % (b, a, Z4)


def v6(addr):
    import ipaddress
    return ipaddress.IPv6Address(addr).reverse_pointer


def cases():
    """[(id, qname, qtype, qclass, options dict)] — deterministic."""
    rnd = random.Random(20261101)
    out = []

    def add(cat, name, qtype="PTR", qclass="IN", variant="udp", **kw):
        opts = {"tcp": False, "edns": True, "do": False, "payload": 1232, "version": 0,
                "rd": False, "cd": False, "ad": False, "options": ()}
        opts.update(kw)
        out.append(("%s/%s/%s%s/%s" % (cat, name, qtype, "" if qclass == "IN" else "/" + qclass,
                                       variant), name, qtype, qclass, opts))

    # hits: explicit records, $GENERATE pools, IPv6
    for b in (1, 2, 3, 10, 25, 53, 80):
        add("hit", v4(0, b))
    for a in (1, 2, 3, 16, 17, 18, 19, 20, 21, 22, 23):
        for b in rnd.sample(range(1, 255), 4):
            add("hit", v4(a, b))
    for b in rnd.sample(range(0, 255, 2), 6):
        add("hit", v4(4, b))
    for b in (65, 80, 100):
        add("hit", v4("64-127.7", b))
    add("hit", v4(8, 1))
    add("hit", v4(8, 2))
    for a in ("2001:db8::1", "2001:db8::53", "2001:db8::25", "2001:db8:0:1::1",
              "2001:db8:0:1::a", "2001:db8:0:1::20", "2001:db8:0:2:211:22ff:fe33:4401",
              "2001:db8:0:2:5054:ff:fe00:2"):
        add("hit6", v6(a))
    # NXDOMAIN: gaps, unused /24s, names below existing leaves
    for a, b in ((1, 0), (1, 255), (2, 0), (3, 255), (4, 1), (4, 3), (4, 255), (6, 1), (6, 0),
                 (15, 1), (24, 1), (255, 255), (0, 4), (0, 98), (0, 100), (8, 3), (10, 10)):
        add("nxdomain", v4(a, b))
    add("nxdomain", v4(0, 1, "extra"))
    add("nxdomain", v4(1, 5, 1))
    add("nxdomain", "6.%s" % Z4)
    add("nxdomain", "nonexistent.%s" % Z4, "A")
    for a in ("2001:db8::2", "2001:db8:0:1::21", "2001:db8:0:3::1", "2001:db8:ffff::1",
              "2001:db8:0:2:211:22ff:fe33:4403"):
        add("nxdomain6", v6(a))
    # NODATA at existing names
    for t in ("TXT", "A", "AAAA", "MX", "NS", "SOA", "DS", "HINFO", "CNAME", "SRV", "TYPE65280",
              "NULL", "CAA"):
        add("nodata", v4(0, 1), t)
    add("nodata", v4(0, 10), "A")
    add("nodata", v4(8, 1), "HINFO")
    add("nodata", v6("2001:db8::1"), "TXT")
    add("nodata", v4("64-127.7", 70), "TXT")
    # other types that exist
    add("type", v4(0, 10), "TXT")
    add("type", v4(8, 1), "TXT")
    add("type", v4(8, 2), "HINFO")
    add("type", v6("2001:db8::25"), "TXT")
    # empty non-terminals
    for n in ("0.%s" % Z4, "1.%s" % Z4, "4.%s" % Z4, "7.%s" % Z4, "9.%s" % Z4, "8.%s" % Z4,
              "64-127.7.%s" % Z4, "0.0.0.0.%s" % Z6, "0.0.0.0.0.0.0.0.%s" % Z6,
              "1.0.0.0.0.0.0.0.%s" % Z6, "0.%s" % Z6):
        for t in ("PTR", "NS", "SOA", "DS", "TXT"):
            add("ent", n, t)
    # apex
    for z in (Z4, Z6):
        for t in ("SOA", "NS", "ANY", "TXT", "DNSKEY", "DS", "PTR", "A", "CNAME"):
            add("apex", z, t)
    # referrals: delegated /24 with glue, ip6 /48, RFC 2317 /26
    for n, t in ((v4(5, 1), "PTR"), (v4(5, 200), "PTR"), ("5.%s" % Z4, "NS"),
                 ("5.%s" % Z4, "PTR"), ("5.%s" % Z4, "SOA"), ("5.%s" % Z4, "A"),
                 ("ns1.5.%s" % Z4, "A"), ("ns1.5.%s" % Z4, "AAAA"), ("ns2.5.%s" % Z4, "A"),
                 ("x.ns1.5.%s" % Z4, "A"), ("0-63.7.%s" % Z4, "NS"), ("0-63.7.%s" % Z4, "PTR"),
                 ("5.0-63.7.%s" % Z4, "PTR"), (v6("2001:db8:f::1"), "PTR"),
                 ("f.0.0.0.%s" % Z6, "NS"), ("ns1.f.0.0.0.%s" % Z6, "AAAA"),
                 ("0.f.0.0.0.%s" % Z6, "PTR")):
        add("referral", n, t)
    # DS at and around the cuts: the parent answers for the DS at a cut
    for n in ("5.%s" % Z4, "0-63.7.%s" % Z4, "f.0.0.0.%s" % Z6, v4(5, 1)):
        add("ds", n, "DS")
    # RFC 2317 CNAMEs
    for b in (0, 5, 63, 64, 70, 100, 101, 127, 128):
        add("cname", v4(7, b))
    for t in ("CNAME", "TXT", "ANY", "A"):
        add("cname", v4(7, 70), t)
        add("cname", v4(7, 5), t)
    # wildcard
    for n, t in ((v4(9, 77), "PTR"), (v4(9, 0), "PTR"), (v4(9, 255), "PTR"), (v4(9, 1), "PTR"),
                 (v4(9, 77), "TXT"), (v4(9, 77), "ANY"), (v4(9, 77), "CNAME"),
                 (v4(9, 77, 3), "PTR"), ("*.9.%s" % Z4, "PTR"), ("*.9.%s" % Z4, "TXT"),
                 (v4(9, 2), "DS"), (v4(9, 2), "NS")):
        add("wildcard", n, t)
    # truncation: the 60-PTR RRset
    add("tc", v4(0, 99))
    add("tc", v4(0, 99), variant="udp-noedns", edns=False)
    add("tc", v4(0, 99), variant="udp-4096", payload=4096)
    add("tc", v4(0, 99), variant="udp-512", payload=512)
    add("tc", v4(0, 99), variant="tcp", tcp=True)
    add("tc", v4(0, 99), variant="tcp-noedns", tcp=True, edns=False)
    add("tc", v4(0, 99), "ANY", variant="tcp", tcp=True)
    # ANY
    for n in (v4(0, 1), v4(0, 10), v4(0, 53), v6("2001:db8::25"), v4(6, 1)):
        add("any", n, "ANY")
        add("any", n, "ANY", variant="tcp", tcp=True)
    # out of our zones
    for n, t in (("example.com", "A"), (".", "SOA"), (".", "NS"), ("in-addr.arpa", "SOA"),
                 ("10.in-addr.arpa", "SOA"), ("10.in-addr.arpa", "NS"),
                 ("1.0.0.127.in-addr.arpa", "PTR"), ("1.1.10.10.in-addr.arpa", "PTR"),
                 ("ip6.arpa", "SOA"), ("d.0.1.0.0.2.ip6.arpa", "SOA"),
                 ("30.10.in-addr.arpa", "SOA"), ("120.10.in-addr.arpa", "SOA"),
                 ("x20.10.in-addr.arpa", "SOA"), ("20.10.in-addr.arpa.example", "SOA")):
        add("refused", n, t)
    # classes
    for n, t, c in ((v4(0, 1), "PTR", "CH"), (Z4, "SOA", "CH"), (v4(0, 1), "PTR", "HS"),
                    (v4(0, 1), "PTR", "ANY"), ("version.bind", "TXT", "CH"),
                    ("version.server", "TXT", "CH"), ("id.server", "TXT", "CH"),
                    ("hostname.bind", "TXT", "CH"), ("version.bind", "A", "CH"),
                    ("authors.bind", "TXT", "CH"), ("version.bind", "TXT", "IN")):
        add("class", n, t, c)
    # header and EDNS variants over a hit, a NXDOMAIN and a referral
    for cat, n in (("hit", v4(0, 1)), ("nxdomain", v4(6, 1)), ("referral", v4(5, 1)),
                   ("cname", v4(7, 70))):
        add("var-" + cat, n, variant="noedns", edns=False)
        add("var-" + cat, n, variant="do", do=True)
        add("var-" + cat, n, variant="rd", rd=True)
        add("var-" + cat, n, variant="cd", cd=True)
        add("var-" + cat, n, variant="ad", ad=True)
        add("var-" + cat, n, variant="payload-512", payload=512)
        add("var-" + cat, n, variant="payload-4096", payload=4096)
        add("var-" + cat, n, variant="edns1", version=1)
        add("var-" + cat, n, variant="nsid", options=((3, b""),))
        add("var-" + cat, n, variant="unknown-option", options=((65001, b"\xab\xcd"),))
        add("var-" + cat, n, variant="tcp", tcp=True)
        add("var-" + cat, n, variant="tcp-do", tcp=True, do=True)
        add("var-" + cat, n.upper(), variant="upper")
        add("var-" + cat, "".join(c.upper() if i % 2 else c for i, c in enumerate(n)),
            variant="0x20")
    return out


def ask(server, qname, qtype, qclass, o, qid):
    host, port = server
    wire = dnswire.build_query(qname, qtype, qclass, qid=qid, rd=o["rd"], edns=o["edns"],
                               payload=o["payload"], version=o["version"], do=o["do"],
                               options=o["options"], cd=o["cd"], ad=o["ad"])
    for attempt in range(3):
        try:
            if o["tcp"]:
                data = dnswire.tcp_exchange(host, port, wire, timeout=3)
            else:
                data = dnswire.udp_exchange(host, port, wire, timeout=2)
        except OSError as e:
            data = None
            err = str(e)
        if data is not None:
            break
        time.sleep(0.05 * (attempt + 1))
    else:
        return {"error": "no reply" if "err" not in locals() else err}
    try:
        r = dnswire.parse(data)
    except dnswire.Malformed as e:
        return {"error": "malformed reply: %s" % e}
    if r["id"] != qid:
        return {"error": "reply id %d, query id %d" % (r["id"], qid)}
    return r


def normal(r):
    """Answer -> {field: comparable text}."""
    if "error" in r:
        return {f: r["error"] for f in FIELDS}
    opt = r["opt"]
    return {
        "rcode": r["rcode"],
        "flags": " ".join(sorted(r["flags"])),
        "question": " ".join("%s %s %s" % q for q in r["question"]),
        "opt": "none" if opt is None else "payload=%d version=%d do=%s options=%s" % (
            opt["payload"], opt["version"], opt["do"],
            ",".join("%d:%s" % o for o in sorted(opt["options"]))),
        "answer": "\n".join(sorted(r["answer"])),
        "authority": "\n".join(sorted(r["authority"])),
        "additional": "\n".join(sorted(r["additional"])),
    }


def load_allow(path):
    rules = []
    if not path:
        return rules
    with open(path) as f:
        for lineno, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 2)
            if len(parts) < 3 or (parts[1] not in FIELDS and parts[1] != "*"):
                sys.exit("%s:%d: want 'CASE-GLOB FIELD REASON', FIELD one of %s or *" % (
                    path, lineno, ", ".join(FIELDS)))
            rules.append({"glob": parts[0], "field": parts[1], "reason": parts[2],
                          "where": "%s:%d" % (path, lineno), "used": 0})
    return rules


def allowed(rules, cid, field):
    for r in rules:
        if fnmatch.fnmatchcase(cid, r["glob"]) and r["field"] in ("*", field):
            r["used"] += 1
            return r
    return None


def parse_server(text):
    name, _, hp = text.partition("=")
    host, _, port = hp.rpartition("@")
    return name, (host, int(port))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--a", required=True, help="NAME=HOST@PORT: the server under test")
    ap.add_argument("--b", required=True, help="NAME=HOST@PORT: the reference")
    ap.add_argument("--allow", help="allow file: CASE-GLOB FIELD REASON per line")
    ap.add_argument("--verbose", action="store_true", help="also print allowed differences")
    ap.add_argument("--list", action="store_true", help="print the case ids and exit")
    args = ap.parse_args()
    na, sa = parse_server(args.a)
    nb, sb = parse_server(args.b)
    rules = load_allow(args.allow)
    all_cases = cases()
    if args.list:
        print("\n".join(c[0] for c in all_cases))
        return 0
    same = allowed_n = failed = 0
    for i, (cid, qname, qtype, qclass, o) in enumerate(all_cases):
        qid = (i * 7919 + 1) & 0xFFFF
        ra = normal(ask(sa, qname, qtype, qclass, o, qid))
        rb = normal(ask(sb, qname, qtype, qclass, o, qid))
        diffs = [f for f in FIELDS if ra[f] != rb[f]]
        if not diffs:
            same += 1
            continue
        bad = []
        for f in diffs:
            rule = allowed(rules, cid, f)
            if rule is None:
                bad.append(f)
            elif args.verbose:
                print("allowed %s %s (%s: %s)" % (cid, f, rule["where"], rule["reason"]))
        if not bad:
            allowed_n += 1
            continue
        failed += 1
        print("DIFF %s" % cid)
        for f in bad:
            print("  %s:" % f)
            for name, r in ((na, ra), (nb, rb)):
                lines = r[f].split("\n") if r[f] else ["(empty)"]
                print("    %-10s %s" % (name, lines[0]))
                for line in lines[1:]:
                    print("    %-10s %s" % ("", line))
    for r in rules:
        if not r["used"]:
            print("note: allow rule %s matched nothing: %s %s" % (r["where"], r["glob"],
                                                                r["field"]))
    print("differential %s vs %s: %d cases, %d identical, %d with allowed differences, "
          "%d differing" % (na, nb, len(all_cases), same, allowed_n, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
