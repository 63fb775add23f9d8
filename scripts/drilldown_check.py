#!/usr/bin/env python3
"""drilldown_check.py URL ANSWERS IDS_FILE: checks lokid's answers to Logs Drilldown
endpoints against Loki 3.7.6's recorded ones (tests/conformance/drilldown-loki-3.7.6.json)
for the ids listed in IDS_FILE. Loki lists detected labels and fields in Go map order
(random) and estimates cardinalities with a sketch: lists are compared as sets, and the
data set is small enough that Loki's estimates are exact. Prints PASS/FAIL per id and a
summary line `N passed, M failed`; exits 1 when any failed."""
import json
import sys
import urllib.error
import urllib.parse
import urllib.request


def fetch(base, q):
    url = base + q["path"] + "?" + urllib.parse.urlencode(q.get("params") or {})
    try:
        with urllib.request.urlopen(url, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def normalise(doc):
    """Lists of objects become sorted lists of their JSON text (order-free)."""
    if isinstance(doc, dict):
        return {k: normalise(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return sorted(json.dumps(normalise(v), sort_keys=True) for v in doc)
    return doc


def main():
    base, answers, ids_file = sys.argv[1:4]
    recorded = {q["id"]: q for q in json.load(open(answers, encoding="utf-8"))}
    ids = [l.strip() for l in open(ids_file, encoding="utf-8") if l.strip() and not l.startswith("#")]
    passed = failed = 0
    for i in ids:
        q = recorded[i]
        status, body = fetch(base, q)
        if status != q["status"]:
            print(f"FAIL {i}: status {status}, Loki {q['status']}: {body[:200]}")
            failed += 1
            continue
        got, want = normalise(json.loads(body)), normalise(json.loads(q["answer"]))
        if got != want:
            print(f"FAIL {i}:\n  lokid {body.strip()[:400]}\n  Loki  {q['answer'].strip()[:400]}")
            failed += 1
        else:
            print(f"PASS {i}")
            passed += 1
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
