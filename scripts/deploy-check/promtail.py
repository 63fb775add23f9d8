"""Apply a Promtail config's docker_sd relabelling and pipeline to log lines, as Promtail would.

scripts/deploy-check.sh has no Docker engine and no Promtail binary, so it reads
deploy/app-server/promtail-config.yaml itself and does what Promtail's Docker target does with
each line it gets from the Docker API: relabel the target's discovered labels (Prometheus
relabelling), drop the `__` labels, then run the pipeline stages over the line. The result is
a Loki JSON push body. Only the stages and relabel actions the shipped config can use are
implemented; anything else is an error, so the config cannot drift into something this
emulation silently ignores.

Semantics follow Promtail 3.x (behaviour only, no code): relabel regexes are fully anchored,
`replacement` expands `$1`/`${1}`/`${name}`, an empty replace result removes the label; the
json stage evaluates JMESPath expressions and keeps strings as they are and other values as
JSON; the labels stage copies extracted values into labels; the timestamp stage replaces the
entry time when its source parses (on failure the entry keeps its time).
"""
import calendar
import json
import re

import jmespath
import yaml

_ENV_REF = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-((?:[^{}]|\{[^{}]*\})*))?\}")


def expand_env(text, env):
    """-config.expand-env=true: ${VAR}, ${VAR:-default} and $$ (drone/envsubst's common forms).

    The whole text is expanded, comments included, and a `${` that does not start a valid
    reference makes Promtail refuse the file ("bad substitution"), so it is an error here too.
    """
    for i in (m.start() for m in re.finditer(r"(?<!\$)\$\{", text)):
        if not _ENV_REF.match(text, i):
            line = text.count("\n", 0, i) + 1
            raise ValueError(f"bad substitution at line {line}: {text[i:i + 20]!r}")

    def sub(m):
        if m.group(0) == "$$":
            return "$"
        value = env.get(m.group(1), "")
        if value == "" and m.group(2) is not None:
            return expand_env(m.group(2), env)
        return value

    return _ENV_REF.sub(sub, text)


def load_config(path, env):
    with open(path, encoding="utf-8") as f:
        return yaml.safe_load(expand_env(f.read(), env))


def docker_scrape_config(config):
    jobs = [sc for sc in config.get("scrape_configs") or [] if sc.get("docker_sd_configs")]
    if len(jobs) != 1:
        raise ValueError(f"expected one scrape config with docker_sd_configs, found {len(jobs)}")
    return jobs[0]


# --- relabelling ------------------------------------------------------------------------

def _expand_replacement(template, match):
    """Go regexp.Expand: $1, ${1}, $name, ${name}; a name runs as long as [A-Za-z0-9_] does."""

    def group(name):
        try:
            value = match.group(int(name)) if name.isdigit() else match.group(name)
        except IndexError:  # no such group: Go expands it to nothing
            return ""
        return value or ""

    out = []
    i = 0
    while i < len(template):
        c = template[i]
        if c != "$" or i + 1 == len(template):
            out.append(c)
            i += 1
            continue
        nxt = template[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "{":
            end = template.find("}", i + 2)
            if end < 0:
                out.append(template[i:])
                break
            out.append(group(template[i + 2:end]))
            i = end + 1
        else:
            m = re.match(r"[A-Za-z0-9_]+", template[i + 1:])
            if not m:
                out.append("$")
                i += 1
                continue
            out.append(group(m.group(0)))
            i += 1 + len(m.group(0))
    return "".join(out)


def relabel(labels, rules):
    """Prometheus relabelling; returns the new label dict, or None when the target is dropped."""
    labels = dict(labels)
    for rule in rules or []:
        action = rule.get("action", "replace").lower()
        regex = re.compile("^(?:" + str(rule.get("regex", "(.*)")) + ")$")
        sep = rule.get("separator", ";")
        value = sep.join(labels.get(name, "") for name in rule.get("source_labels") or [])
        if action == "replace":
            m = regex.match(value)
            if not m:
                continue
            target = _expand_replacement(str(rule["target_label"]), m)
            result = _expand_replacement(str(rule.get("replacement", "$1")), m)
            if result == "":
                labels.pop(target, None)
            else:
                labels[target] = result
        elif action == "keep":
            if not regex.match(value):
                return None
        elif action == "drop":
            if regex.match(value):
                return None
        elif action == "labeldrop":
            labels = {k: v for k, v in labels.items() if not regex.match(k)}
        elif action == "labelkeep":
            labels = {k: v for k, v in labels.items() if regex.match(k)}
        elif action == "labelmap":
            for k, v in list(labels.items()):
                m = regex.match(k)
                if m:
                    labels[_expand_replacement(str(rule.get("replacement", "$1")), m)] = v
        else:
            raise ValueError(f"relabel action {action!r} is not emulated")
    return labels


# --- pipeline stages --------------------------------------------------------------------

_RFC3339 = re.compile(r"^(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(\.\d+)?([Zz]|[+-]\d\d:\d\d)$")


def parse_rfc3339_ns(text):
    """Go's time.Parse with RFC3339 or RFC3339Nano (both accept a fraction of any length)."""
    m = _RFC3339.match(text)
    if not m:
        raise ValueError(f"not RFC3339: {text!r}")
    y, mo, d, h, mi, s = (int(g) for g in m.groups()[:6])
    secs = calendar.timegm((y, mo, d, h, mi, s, 0, 0, 0))
    frac = (m.group(7) or ".")[1:]
    ns = int((frac + "000000000")[:9])
    tz = m.group(8)
    if tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        secs -= sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    return secs * 1_000_000_000 + ns


def _as_string(value):
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"))


def _stage_json(cfg, entry):
    source = cfg.get("source")
    text = entry["line"] if not source else entry["extracted"].get(source)
    if text is None:
        return True
    try:
        data = json.loads(text)
    except ValueError:
        return not cfg.get("drop_malformed", False)
    for name, expr in (cfg.get("expressions") or {}).items():
        value = jmespath.search(expr or name, data)
        if value is not None:
            entry["extracted"][name] = _as_string(value)
    return True


def _stage_labels(cfg, entry):
    for name, source in (cfg or {}).items():
        value = entry["extracted"].get(source or name)
        if value is not None and value != "":
            entry["labels"][name] = value
    return True


def _stage_static_labels(cfg, entry):
    for name, value in (cfg or {}).items():
        if value is not None:
            entry["labels"][name] = str(value)
    return True


def _stage_timestamp(cfg, entry):
    value = entry["extracted"].get(cfg["source"])
    if value is None:
        return True
    for fmt in [cfg["format"]] + list(cfg.get("fallback_formats") or []):
        try:
            if fmt in ("RFC3339", "RFC3339Nano"):
                entry["ts"] = parse_rfc3339_ns(value)
            elif fmt in ("Unix", "UnixMs", "UnixUs", "UnixNs"):
                scale = {"Unix": 10**9, "UnixMs": 10**6, "UnixUs": 10**3, "UnixNs": 1}[fmt]
                entry["ts"] = int(float(value) * scale) if fmt == "Unix" else int(value) * scale
            else:
                raise ValueError(f"timestamp format {fmt!r} is not emulated")
            return True
        except ValueError as e:
            if "not emulated" in str(e):
                raise
    return True  # action_on_failure: the entry keeps its time


def _stage_output(cfg, entry):
    value = entry["extracted"].get(cfg["source"])
    if value is not None:
        entry["line"] = value
    return True


def _stage_docker(_cfg, entry):
    """Docker's json-file record: {"log": ..., "stream": ..., "time": ...}."""
    try:
        rec = json.loads(entry["line"])
    except ValueError:
        return True
    if not isinstance(rec, dict):
        return True
    if "stream" in rec:
        entry["labels"]["stream"] = rec["stream"]
    if "time" in rec:
        entry["ts"] = parse_rfc3339_ns(rec["time"])
    if "log" in rec:
        entry["line"] = rec["log"]
    return True


STAGES = {
    "json": _stage_json,
    "labels": _stage_labels,
    "static_labels": _stage_static_labels,
    "timestamp": _stage_timestamp,
    "output": _stage_output,
    "docker": _stage_docker,
}


def run_pipeline(stages, labels, line, ts_ns):
    """One entry through the stages; returns (labels, line, ts) or None when a stage drops it."""
    entry = {"labels": dict(labels), "line": line, "ts": ts_ns, "extracted": {}}
    for stage in stages or []:
        if len(stage) != 1:
            raise ValueError(f"a pipeline stage has one key, got {sorted(stage)}")
        (name, cfg), = stage.items()
        if name not in STAGES:
            raise ValueError(f"pipeline stage {name!r} is not emulated")
        if not STAGES[name](cfg or {}, entry):
            return None
    return entry["labels"], entry["line"], entry["ts"]


def docker_target_push(scrape_config, containers):
    """The push body Promtail's Docker target would send.

    containers: [(discovered meta labels, [(docker receive time ns, line), ...]), ...]
    """
    streams = {}
    for meta, lines in containers:
        for ts, line in lines:
            labels = relabel(meta, scrape_config.get("relabel_configs"))
            if labels is None:
                continue
            labels = {k: v for k, v in labels.items() if not k.startswith("__")}
            out = run_pipeline(scrape_config.get("pipeline_stages"), labels, line, ts)
            if out is None:
                continue
            out_labels, out_line, out_ts = out
            key = tuple(sorted(out_labels.items()))
            streams.setdefault(key, []).append([str(out_ts), out_line])
    return {"streams": [{"stream": dict(k), "values": v} for k, v in streams.items()]}
