#!/usr/bin/env python3
"""bench_drilldown.py URL PID: times the requests Logs Drilldown sends (volume, volume_range,
detected_labels, detected_fields, detected_field values, patterns) against a server that
bench_api.py has just filled (same two-hour window), 3 runs each, median wall time and the
server's CPU per run. Run by scripts/bench-api.sh after bench_api.py."""
import os
import statistics
import sys
import time
import urllib.parse
import urllib.request

HEADERS = {"X-Query-Tags": "Source=grafana-lokiexplore-app"}


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def rfc3339(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000Z"


def main():
    url, pid = sys.argv[1], int(sys.argv[2])
    end = time.time()
    start = end - 2 * 3600 - 120
    rng = {"start": rfc3339(start), "end": rfc3339(end)}
    qs = [
        ("dd-volume", "index/volume", {"query": '{service_name=~".+"}', "limit": "5000"}),
        ("dd-volume-labels", "index/volume", {"query": "{}", "aggregateBy": "labels"}),
        ("dd-volume-range", "index/volume_range", {"query": '{service_name="api-server", level=~".+"}', "step": "60s", "targetLabels": "level"}),
        ("dd-detected-labels", "detected_labels", {"query": ""}),
        ("dd-detected-fields", "detected_fields", {"query": '{service_name="api-server"}'}),
        ("dd-field-values", "detected_field/status/values", {"query": '{service_name="api-server"}', "limit": "1000"}),
        ("dd-patterns", "patterns", {"query": '{service_name="api-server"}', "step": "60s"}),
        ("dd-patterns-all-docker", "patterns", {"query": '{job="docker"}', "step": "60s"}),
    ]
    for name, ep, p in qs:
        full = f"{url}/loki/api/v1/{ep}?" + urllib.parse.urlencode(dict(p, **rng))
        ts, size = [], 0
        c0 = cpu_s(pid)
        for _ in range(3):
            t = time.time()
            try:
                with urllib.request.urlopen(urllib.request.Request(full, headers=HEADERS), timeout=300) as r:
                    size = len(r.read())
            except Exception as e:  # noqa: BLE001 - report, go on
                size = f"error {e}"
            ts.append(time.time() - t)
        c1 = cpu_s(pid)
        print(f"query {name:22s} median {statistics.median(ts)*1000:8.1f} ms  cpu/run {(c1-c0)/3*1000:8.1f} ms  resp {size}")


if __name__ == "__main__":
    main()
