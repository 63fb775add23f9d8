#!/usr/bin/env python3
"""Side-by-side load and query figures for any Loki-API server on this machine.

  bench_api.py URL PID [--scale N] [--workers W]

Pushes dataset.py's data (scale N, timestamps ending now) as JSON batches from W
threads, then times a fixed set of queries (median of 3). Reports lines/s,
server CPU seconds (from /proc/PID/stat), peak and current RSS, and query
times. Run it against Loki and against lokid with the same arguments; compare
ratios, not absolute times.
"""
import argparse
import concurrent.futures as cf
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    f = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / TICK


def mem_kb(pid, key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def post(url, body):
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return r.status


def get(url):
    with urllib.request.urlopen(url, timeout=600) as r:
        return r.read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("pid", type=int)
    ap.add_argument("--scale", type=int, default=20)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--flush", action="store_true", help="POST /flush after the push and wait, so queries read the store (Loki)")
    a = ap.parse_args()

    base = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 2 * 3600 - 60))
    out = subprocess.run([sys.executable, os.path.join(HERE, "..", "..", "tests", "conformance", "dataset.py"), "--scale", str(a.scale), "--base", base, "--seed", "11"],
                         check=True, capture_output=True).stdout.decode().splitlines()
    lines = sum(len(s["values"]) for b in out for s in json.loads(b)["streams"])
    raw = sum(len(v[1].encode()) for b in out for s in json.loads(b)["streams"] for v in s["values"])
    rss0 = mem_kb(a.pid, "VmRSS")
    c0, t0 = cpu_s(a.pid), time.time()
    with cf.ThreadPoolExecutor(a.workers) as ex:
        codes = list(ex.map(lambda b: post(a.url + "/loki/api/v1/push", b.encode()), out))
    t1, c1 = time.time(), cpu_s(a.pid)
    bad = [c for c in codes if c not in (200, 204)]
    print(f"push: {lines} lines {raw/1e6:.1f} MB raw in {t1-t0:.2f} s = {lines/(t1-t0):.0f} lines/s; "
          f"server cpu {c1-c0:.2f} s = {lines/max(c1-c0,1e-9):.0f} lines per cpu-s; failed batches {len(bad)}")
    if a.flush:
        urllib.request.urlopen(urllib.request.Request(a.url + "/flush", data=b"", method="POST"), timeout=600)
        time.sleep(30)
    time.sleep(2)
    print(f"rss: idle-before {rss0/1024:.0f} MiB, after push {mem_kb(a.pid,'VmRSS')/1024:.0f} MiB, peak {mem_kb(a.pid,'VmHWM')/1024:.0f} MiB")

    end = time.time()
    start = end - 2 * 3600 - 120
    qs = [
        ("needle", "query_range", {"query": '{job="docker"} |= "user_id_123\\""', "limit": "1000"}),
        ("rare-miss", "query_range", {"query": '{job="docker"} |= "never-appears-anywhere"', "limit": "1000"}),
        ("regex-ci", "query_range", {"query": '{job=~".+"} |~ "(?i)timeout|reset"', "limit": "1000"}),
        ("json-filter", "query_range", {"query": '{job="docker"} | json | status >= 500', "limit": "1000"}),
        ("volume-by-level", "query_range", {"query": 'sum by (level) (count_over_time({job="docker"}[1m]))', "step": "60"}),
        ("rate-by-service", "query_range", {"query": 'sum by (service) (rate({job="docker"} |= "error" [5m]))', "step": "60"}),
        ("unwrap-p99", "query_range", {"query": 'quantile_over_time(0.99, {job="docker"} | json | unwrap latency_ms [5m]) by (service)', "step": "300"}),
        ("labels", "labels", {}),
        ("tail-100", "query_range", {"query": '{host="backend-instance"}', "limit": "100"}),
    ]
    for name, ep, p in qs:
        p = dict(p, start=str(int(start * 1e9)), end=str(int(end * 1e9)))
        url = f"{a.url}/loki/api/v1/{ep}?" + urllib.parse.urlencode(p)
        ts = []
        size = 0
        c0 = cpu_s(a.pid)
        for _ in range(3):
            t = time.time()
            try:
                size = len(get(url))
            except Exception as e:  # noqa: BLE001 - report, go on
                size = f"error {e}"
            ts.append(time.time() - t)
        c1 = cpu_s(a.pid)
        med = statistics.median(ts)
        print(f"query {name:16s} median {med*1000:8.1f} ms  cpu/run {(c1-c0)/3*1000:8.1f} ms  "
              f"scan-rate {raw/1e6/med:8.1f} MB/s  resp {size}")
    print(f"rss after queries: {mem_kb(a.pid,'VmRSS')/1024:.0f} MiB, peak {mem_kb(a.pid,'VmHWM')/1024:.0f} MiB")


if __name__ == "__main__":
    main()
