"""Checks of the deployment kit against a running lokid (and nginx), for scripts/deploy-check.sh.

    python3 live_checks.py NAME ARGS...

Every request goes to loopback addresses that deploy-check.sh gave, with a timeout; each check
prints what it verified, or `FAILED: reason` and exits 1.
"""
import hashlib
import http.client
import json
import os
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import promtail  # noqa: E402
from static_checks import APP_SERVER, CheckFailed, ROOT, dashboard_files, ensure  # noqa: E402

PROMTAIL_CONFIG = os.path.join(APP_SERVER, "promtail-config.yaml")
SERVER_NAME = "monitor.example.com"  # deploy/nginx/monitor.conf's server_name
TIMEOUT = 10

# The plan's machines and containers (container name = compose service name).
CONTAINERS = [("backend-instance", "api-server"), ("backend-instance", "ticket-server"), ("queue-instance", "queue-backend")]

# The plan's queries and which pushed entries each must find.
PLAN_QUERIES = [
    ('{host="backend-instance"}', lambda e: e["labels"]["host"] == "backend-instance"),
    ('{container="api-server"}', lambda e: e["labels"]["container"] == "api-server"),
    ('{service="ticket-server"} |= "error"', lambda e: e["labels"].get("service") == "ticket-server" and "error" in e["line"]),
    ('{job="docker"} |= "user_id_123"', lambda e: e["labels"]["job"] == "docker" and "user_id_123" in e["line"]),
    ('{level="error"}', lambda e: e["labels"].get("level") == "error"),
]


def get(url, params=None, headers=None):
    if params:
        url += "?" + urllib.parse.urlencode(params)
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def post_json(url, body):
    req = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def query_range(base, query, start, end, limit=1000, step=None, headers=None):
    params = {"query": query, "start": str(start), "end": str(end), "limit": str(limit), "direction": "backward"}
    if step:
        params["step"] = step
    status, body = get(base + "/loki/api/v1/query_range", params, headers)
    ensure(status == 200, f"query_range {query!r}: HTTP {status}: {body[:500]}")
    doc = json.loads(body)
    ensure(doc.get("status") == "success", f"query_range {query!r}: {body[:500]}")
    return doc["data"]


def entries(data):
    return [(s["stream"], v[0], v[1]) for s in data["result"] for v in s["values"]]


def state(outdir):
    with open(os.path.join(outdir, "pushed.json")) as f:
        return json.load(f)


# --- lokid with the monitoring config ------------------------------------------------------

def check_lokid_config(base):
    status, body = get(base + "/config")
    ensure(status == 200, f"/config: HTTP {status}")
    cfg = yaml.safe_load(body)
    lim = cfg["limits_config"]
    ensure(lim["reject_old_samples"] is False, f"reject_old_samples is {lim['reject_old_samples']}")
    ensure(str(lim["retention_period"]) in ("2w", "14d", "336h"), f"retention_period is {lim['retention_period']}")
    ensure(cfg["compactor"]["retention_enabled"] is True, "compactor.retention_enabled is not true")
    ensure(cfg["auth_enabled"] is False, "auth_enabled is not false")
    print(f"lokid runs deploy/monitoring/lokid/config.yaml: retention_period {lim['retention_period']}, "
          f"reject_old_samples false, retention enabled")


# --- the NestJS logger example --------------------------------------------------------------

def run_sample(example, service, node_env):
    env = dict(os.environ, NODE_ENV=node_env)
    r = subprocess.run(["node", "dist/emit-sample.js", service], cwd=example, env=env,
                       capture_output=True, text=True, timeout=60)
    ensure(r.returncode == 0, f"emit-sample {service} ({node_env}) exited {r.returncode}: {r.stderr[-1000:]}")
    lines = r.stdout.splitlines()
    ensure(lines, f"emit-sample {service} printed nothing")
    return lines


def check_nestjs_sample(example, outdir):
    os.makedirs(outdir, exist_ok=True)
    for node_env in ("production", "development"):
        for _, service in CONTAINERS:
            lines = run_sample(example, service, node_env)
            levels = []
            for line in lines:
                rec = json.loads(line)  # one JSON object a line, nothing else on stdout
                ensure(isinstance(rec, dict), f"not a JSON object: {line}")
                for key in ("timestamp", "ms", "label", "level", "message", "context"):
                    ensure(key in rec, f"{service}: no {key!r} in {line}")
                ensure(rec["label"] == service, f"label {rec['label']!r} is not the service {service!r}")
                promtail.parse_rfc3339_ns(rec["timestamp"])  # RFC 3339, as the timestamp stage expects
                ensure(rec["timestamp"].endswith("Z"), f"timestamp not in UTC: {rec['timestamp']}")
                ensure(rec["ms"].startswith("+"), f"ms is {rec['ms']!r}, not winston's +<duration>")
                levels.append(rec["level"])
            ensure({"info", "warn", "error"} <= set(levels), f"{service} ({node_env}) printed levels {levels}")
            if node_env == "production":
                ensure("debug" not in levels, f"debug lines in production: {levels}")
                with open(os.path.join(outdir, f"{service}.log"), "w") as f:
                    f.write("\n".join(lines) + "\n")
            else:
                ensure("debug" in levels, f"no debug lines outside production: {levels}")
    print(f"examples/nestjs-logger: {len(CONTAINERS)} services print one JSON object a line with timestamp, ms, "
          "label, level, message and context; debug only outside production")


# --- Promtail pipeline -> lokid -> the plan's queries -----------------------------------------

def check_promtail(base, outdir):
    pushed = []
    for host in sorted({h for h, _ in CONTAINERS}):
        env = {"LOKI_URL": base + "/loki/api/v1/push", "HOST_LABEL": host}
        cfg = promtail.load_config(PROMTAIL_CONFIG, env)
        job = promtail.docker_scrape_config(cfg)
        containers = []
        for h, name in CONTAINERS:
            if h != host:
                continue
            with open(os.path.join(outdir, f"{name}.log")) as f:
                lines = f.read().splitlines()
            # What Promtail's Docker target knows about the container, and Docker's receive time.
            meta = {
                "__meta_docker_container_id": hashlib.sha256(name.encode()).hexdigest(),
                "__meta_docker_container_name": "/" + name,
                "__meta_docker_container_network_mode": "bridge",
                "__meta_docker_container_label_com_docker_compose_service": name,
                "__meta_docker_container_log_stream": "stdout",
            }
            received = time.time_ns()
            containers.append((meta, [(received + i, line) for i, line in enumerate(lines)]))
        # Promtail's own container is discovered too and must not be shipped.
        containers.append(({"__meta_docker_container_name": "/promtail", "__meta_docker_container_log_stream": "stderr"},
                           [(time.time_ns(), 'level=info ts=2026-01-01T00:00:00Z msg="Starting Promtail"')]))
        body = promtail.docker_target_push(job, containers)
        url = cfg["clients"][0]["url"]  # ${LOKI_URL}, expanded as Promtail does
        status, text = post_json(url, body)
        ensure(status == 204, f"push to {url}: HTTP {status}: {text}")
        for s in body["streams"]:
            for ts, line in s["values"]:
                pushed.append({"labels": s["stream"], "ts": ts, "line": line})

    for e in pushed:
        labels = e["labels"]
        ensure(set(labels) == {"job", "host", "container", "service", "level"},
               f"the pipeline made labels {labels} (expected job, host, container, service, level)")
        rec = json.loads(e["line"])
        ensure(labels["service"] == rec["label"] and labels["level"] == rec["level"], f"labels {labels} for {e['line']}")
        ensure(int(e["ts"]) == promtail.parse_rfc3339_ns(rec["timestamp"]), f"entry time {e['ts']} is not {rec['timestamp']}")
    ensure(not any(e["labels"]["container"] == "promtail" for e in pushed), "Promtail's own log was shipped")

    tss = [int(e["ts"]) for e in pushed]
    start, end = min(tss) - 60 * 10**9, max(tss) + 60 * 10**9
    with open(os.path.join(outdir, "pushed.json"), "w") as f:
        json.dump({"start": start, "end": end, "entries": pushed}, f)

    report = []
    for query, wanted in PLAN_QUERIES:
        got = entries(query_range(base, query, start, end))
        expect = sorted((e["ts"], e["line"]) for e in pushed if wanted(e))
        ensure(expect, f"nothing pushed that {query} should find")
        found = sorted((ts, line) for _, ts, line in got)
        ensure(found == expect, f"{query}: lokid returned {len(found)} entries, expected {len(expect)}")
        for labels, ts, line in got:
            rec = json.loads(line)
            ensure(labels.get("service") == rec["label"] and labels.get("level") == rec["level"],
                   f"{query}: entry with labels {labels}")
        report.append(f"{query} -> {len(found)}")
    print("pushed " + str(len(pushed)) + " entries through promtail-config.yaml's pipeline; " + "; ".join(report))


# --- the dashboard's queries ----------------------------------------------------------------

VARIABLE_SETS = [
    # Grafana's "All" (allValue .+), one value each, and several values ((a|b), as Grafana
    # formats a multi-value variable for a Loki regex matcher).
    {"host": ".+", "service": ".+", "search": ""},
    {"host": "backend-instance", "service": "ticket-server", "search": "error"},
    {"host": "(backend-instance|queue-instance)", "service": "(api-server|queue-backend)", "search": "user_id_123"},
]
GRAFANA_MACROS = {"$__auto": "1m", "$__interval": "1m", "$__range": "15m"}


def substitute(expr, variables):
    for macro, value in GRAFANA_MACROS.items():
        expr = expr.replace(macro, value)
    for name in sorted(variables, key=len, reverse=True):
        expr = expr.replace("$" + name, variables[name])
    ensure("$" not in expr, f"unsubstituted variable in {expr}")
    return expr


def check_dashboard(base, outdir):
    st = state(outdir)
    start, end = st["start"], st["end"]
    headers = {"X-Loki-Response-Encoding-Flags": "categorize-labels", "X-Query-Tags": "Source=grafana"}
    runs = 0
    for path in dashboard_files():
        dash = json.load(open(path))
        variables = {v["name"]: v for v in dash["templating"]["list"]}
        # The variables' own queries: label values for a stream selector (Grafana's resource call).
        host_vals = get(base + "/loki/api/v1/label/host/values",
                        {"query": substitute(variables["host"]["query"]["stream"], {}), "start": start, "end": end})
        ensure(host_vals[0] == 200, f"$host values: HTTP {host_vals[0]}")
        ensure({"backend-instance", "queue-instance"} <= set(json.loads(host_vals[1])["data"]),
               f"$host offers {host_vals[1]}")
        svc_stream = substitute(variables["service"]["query"]["stream"], {"host": "backend-instance"})
        svc_vals = get(base + "/loki/api/v1/label/service/values", {"query": svc_stream, "start": start, "end": end})
        ensure(svc_vals[0] == 200 and sorted(json.loads(svc_vals[1])["data"]) == ["api-server", "ticket-server"],
               f"$service for host backend-instance offers {svc_vals}")

        for panel in dash["panels"]:
            for target in panel["targets"]:
                for i, variables_set in enumerate(VARIABLE_SETS):
                    q = substitute(target["expr"], variables_set)
                    data = query_range(base, q, start, end, step="60000ms", headers=headers)
                    runs += 1
                    if panel["type"] == "logs":
                        ensure(data["resultType"] == "streams", f"{panel['title']}: {data['resultType']}")
                        got = entries(data)
                        ensure(got, f"{panel['title']}: {q} found nothing")
                        if i == 1:
                            ensure(all(l["service"] == "ticket-server" and l["host"] == "backend-instance" and "error" in line
                                       for l, _, line in got), f"{panel['title']}: {q} returned other lines")
                    else:
                        ensure(data["resultType"] == "matrix", f"{panel['title']}: {data['resultType']}")
                        ensure(data["result"], f"{panel['title']}: {q} returned no series")
                        if i == 1:
                            ensure(all(s["metric"].get("service") == "ticket-server" for s in data["result"]),
                                   f"{panel['title']}: {q} returned other services")
    print(f"{runs} panel queries (every target x {len(VARIABLE_SETS)} variable settings) answered 200 with data; "
          "$host and $service variable queries offer the pushed hosts and services")


# --- nginx in front ----------------------------------------------------------------------------

def adapt_nginx(tmp, lokid_port, http_port, https_port, cert, key):
    """deploy/nginx/monitor.conf on loopback ports with a test certificate, lokid standing in for
    Grafana; everything else as shipped. Each replaced line must be there exactly once."""
    text = open(os.path.join(ROOT, "deploy", "nginx", "monitor.conf")).read()
    for old, new in [
        ("server 127.0.0.1:3004;", f"server 127.0.0.1:{lokid_port};"),
        ("listen 80;", f"listen 127.0.0.1:{http_port};"),
        ("listen [::]:80;", ""),
        ("listen 443 ssl http2;", f"listen 127.0.0.1:{https_port} ssl http2;"),
        ("listen [::]:443 ssl http2;", ""),
        (f"/etc/letsencrypt/live/{SERVER_NAME}/fullchain.pem", cert),
        (f"/etc/letsencrypt/live/{SERVER_NAME}/privkey.pem", key),
        ("root /var/www/html;", f"root {tmp}/www;"),
    ]:
        ensure(text.count(old) == 1, f"monitor.conf should contain {old!r} once (found {text.count(old)})")
        text = text.replace(old, new)
    with open(os.path.join(tmp, "monitor.conf"), "w") as f:
        f.write(text)
    temp = os.path.join(tmp, "temp")
    with open(os.path.join(tmp, "nginx.conf"), "w") as f:
        f.write(f"""worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    include {tmp}/monitor.conf;
}}
""")
    print(f"{tmp}/nginx.conf")


def tls_context(cert):
    ctx = ssl.create_default_context(cafile=cert)
    ctx.check_hostname = True
    return ctx


def https_get(port, cert, path):
    ctx = tls_context(cert)
    conn = http.client.HTTPSConnection(SERVER_NAME, port, timeout=TIMEOUT, context=ctx)
    conn.sock = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT), server_hostname=SERVER_NAME)
    conn.request("GET", path, headers={"Host": SERVER_NAME})
    r = conn.getresponse()
    body = r.read().decode()
    conn.close()
    return r.status, body


def check_nginx_proxy(base, http_port, https_port, cert, outdir):
    http_port, https_port = int(http_port), int(https_port)
    st = state(outdir)
    q = '{job="docker", service="ticket-server"} |= "error"'
    params = urllib.parse.urlencode({"query": q, "start": st["start"], "end": st["end"], "limit": 100})
    status, body = https_get(https_port, cert, "/loki/api/v1/query_range?" + params)
    ensure(status == 200, f"query_range through nginx: HTTP {status}: {body[:300]}")
    via_nginx = json.loads(body)["data"]["result"]
    direct = query_range(base, q, st["start"], st["end"], limit=100)["result"]
    ensure(via_nginx and sorted(map(json.dumps, via_nginx)) == sorted(map(json.dumps, direct)),
           "query_range through nginx differs from the direct answer")

    conn = http.client.HTTPConnection("127.0.0.1", http_port, timeout=TIMEOUT)
    conn.request("GET", "/loki/api/v1/labels", headers={"Host": SERVER_NAME})
    r = conn.getresponse()
    ensure(r.status == 301 and r.getheader("Location") == f"https://{SERVER_NAME}/loki/api/v1/labels",
           f"http:// answers {r.status} {r.getheader('Location')}, expected a 301 to https://")
    print(f"https://{SERVER_NAME} (nginx, TLS) -> lokid: query_range answers 200 with the direct answer "
          f"({sum(len(s['values']) for s in via_nginx)} entries); http:// redirects to https://")


def check_nginx_tail(base, https_port, cert, outdir):
    from websockets.sync.client import connect

    https_port = int(https_port)
    st = state(outdir)
    selector = '{job="docker", container="api-server"}'
    history = {e["line"] for e in st["entries"] if e["labels"]["container"] == "api-server"}
    # Grafana's Live tail sends only `query` (start defaults to an hour ago).
    uri = f"wss://{SERVER_NAME}:{https_port}/loki/api/v1/tail?" + urllib.parse.urlencode({"query": selector})
    sock = socket.create_connection(("127.0.0.1", https_port), timeout=TIMEOUT)
    marker = f"live line through nginx {time.time_ns()}"
    seen_history, seen_live = set(), False
    with connect(uri, sock=sock, ssl=tls_context(cert), server_hostname=SERVER_NAME, open_timeout=TIMEOUT,
                 close_timeout=2) as ws:
        deadline = time.monotonic() + 20
        pushed = False
        while time.monotonic() < deadline and not seen_live:
            if history <= seen_history and not pushed:
                now = time.time_ns()
                rec = {"context": "Tail", "label": "api-server", "level": "info", "message": marker, "ms": "+0ms",
                       "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now // 10**9)) + f".{now // 10**6 % 1000:03d}Z"}
                status, text = post_json(base + "/loki/api/v1/push", {"streams": [{
                    "stream": {"job": "docker", "host": "backend-instance", "container": "api-server",
                               "service": "api-server", "level": "info"},
                    "values": [[str(now), json.dumps(rec, separators=(",", ":"))]]}]})
                ensure(status == 204, f"push: HTTP {status} {text}")
                pushed = True
            try:
                frame = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
            except TimeoutError:
                break
            for s in frame.get("streams") or []:
                for _, line in s["values"]:
                    if marker in line:
                        seen_live = True
                    elif line in history:
                        seen_history.add(line)
    ensure(history <= seen_history, f"the tail through nginx sent {len(seen_history)} of {len(history)} history lines")
    ensure(seen_live, "a line pushed while tailing did not arrive through nginx within 20 s")
    print(f"wss://{SERVER_NAME}/loki/api/v1/tail through nginx: {len(seen_history)} history lines, then the live line")


CHECKS = {
    "lokid-config": check_lokid_config,
    "nestjs-sample": check_nestjs_sample,
    "promtail": check_promtail,
    "dashboard": check_dashboard,
    "nginx-adapt": adapt_nginx,
    "nginx-proxy": check_nginx_proxy,
    "nginx-tail": check_nginx_tail,
}

if __name__ == "__main__":
    try:
        CHECKS[sys.argv[1]](*sys.argv[2:])
    except (CheckFailed, AssertionError) as e:
        print(f"FAILED: {e}")
        sys.exit(1)
