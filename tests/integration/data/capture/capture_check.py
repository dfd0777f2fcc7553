#!/usr/bin/env python3
"""capture_check.py — read stores through the `backscope` CLI for
test_capture.sh and compare them (stdlib only).  Prints the differences,
one per line (nothing when they agree); exit status 0 either way, 2 when the
CLI itself fails.

  truth CLI DB TRUTH.json   top --json and originator --json of every
                            originator equal the truth of capture_load.py
                            exact (or a plain {originator: {querier:
                            queries}}, as cli_lib.sh's check_aggregates
                            gives): queries and distinct queriers per
                            originator, queries per querier; the buckets
                            add up; an empty truth is a difference
  same CLI DB_A DB_B        the two stores hold the same aggregates: the
                            same originators with the same queries and
                            distinct queriers, the same queriers with the
                            same queries (times may differ: receive time vs
                            capture time)
  field CLI DB KEY          print one field of status --json"""

import json
import subprocess
import sys


def run(cli, db, *args):
    p = subprocess.run([cli, "--db", db, *args], capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write("%s --db %s %s: exit %d: %s\n" % (cli, db, " ".join(args),
                                                         p.returncode, p.stderr.strip()))
        sys.exit(2)
    return json.loads(p.stdout)


def top(cli, db):
    return {e["address"]: e for e in run(cli, db, "top", "--json", "--window", "all",
                                          "--limit", "0")}


def queriers(cli, db, orig):
    d = run(cli, db, "originator", orig, "--json", "--window", "all")
    return d, {x["address"]: x["queries"] for x in d["querier_list"]}


def cmd_truth(cli, db, truthf):
    truth = json.load(open(truthf))
    exp = truth["expected"] if "expected" in truth else truth
    got = top(cli, db)
    errs = []
    if not exp:
        errs.append("the truth is empty: nothing was checked")
    if set(got) != set(exp):
        errs.append("originators differ: missing %s, extra %s" %
                    (sorted(set(exp) - set(got))[:10], sorted(set(got) - set(exp))[:10]))
    for o, qs in sorted(exp.items()):
        e = got.get(o)
        if not e:
            continue
        if e["queries"] != sum(qs.values()) or e["queriers"] != len(qs):
            errs.append("%s: top says %d queries from %d queriers, sent %d from %d" %
                        (o, e["queries"], e["queriers"], sum(qs.values()), len(qs)))
        d, ql = queriers(cli, db, o)
        if ql != qs:
            diff = {q: (ql.get(q), qs.get(q)) for q in set(ql) | set(qs) if ql.get(q) != qs.get(q)}
            errs.append("%s: per querier (stored, sent) differ: %s" % (o, dict(list(diff.items())[:5])))
        if d["queries"] != sum(qs.values()) or d["queriers"] != len(qs):
            errs.append("%s: originator says %d/%d" % (o, d["queries"], d["queriers"]))
        if sum(b["queries"] for b in d["buckets"]) != d["queries"]:
            errs.append("%s: bucket queries do not add up" % o)
    print("\n".join(errs[:20]))


def cmd_same(cli, a, b):
    ta, tb = top(cli, a), top(cli, b)
    errs = []
    if set(ta) != set(tb):
        errs.append("originators differ: only in A %s, only in B %s" %
                    (sorted(set(ta) - set(tb))[:10], sorted(set(tb) - set(ta))[:10]))
    if not ta:
        errs.append("no originator at all")
    for o in sorted(set(ta) & set(tb)):
        ea, eb = ta[o], tb[o]
        for k in ("queries", "queriers", "nxdomain"):
            if ea[k] != eb[k]:
                errs.append("%s: %s %s vs %s" % (o, k, ea[k], eb[k]))
        _, qa = queriers(cli, a, o)
        _, qb = queriers(cli, b, o)
        if qa != qb:
            errs.append("%s: querier lists differ" % o)
    print("\n".join(errs[:20]))


def cmd_field(cli, db, key):
    print(run(cli, db, "status", "--json")[key])


def main():
    mode, cli = sys.argv[1], sys.argv[2]
    if mode == "truth":
        cmd_truth(cli, sys.argv[3], sys.argv[4])
    elif mode == "same":
        cmd_same(cli, sys.argv[3], sys.argv[4])
    elif mode == "field":
        cmd_field(cli, sys.argv[3], sys.argv[4])
    else:
        sys.exit("unknown mode " + mode)


if __name__ == "__main__":
    main()
