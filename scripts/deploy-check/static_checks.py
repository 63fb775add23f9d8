"""Checks of the deployment kit's files that need no running server (scripts/deploy-check.sh).

Each `check_*` function raises CheckFailed (or AssertionError) with a reason; deploy-check.sh
runs one per process: `python3 static_checks.py NAME [ARGS]`.

There is no Docker engine where CI runs, so the Dockerfile, .dockerignore and compose files
are read here: compose files are validated by the compose client (`docker compose config` or
Debian's `docker-compose config`, both offline) and then their structure is checked against
the files they mount and the configs they must agree with.
"""
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import tomllib

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOCKERFILE = os.path.join(ROOT, "Dockerfile")
MONITORING = os.path.join(ROOT, "deploy", "monitoring")
APP_SERVER = os.path.join(ROOT, "deploy", "app-server")
LOKID_CONFIG = os.path.join(MONITORING, "lokid", "config.yaml")
DEPLOY_DOC = os.path.join(ROOT, "docs", "deploy.md")

# What debian:bookworm-slim (the runtime stage) has of the shared libraries a binary may need:
# libc6 and libgcc-s1 are of required priority, libstdc++6 comes with apt.
RUNTIME_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6"}


class CheckFailed(Exception):
    pass


def ensure(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def rel(path):
    return os.path.relpath(path, ROOT)


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def load_yaml(path):
    return yaml.safe_load(read(path))


# --- Dockerfile --------------------------------------------------------------------------

def parse_dockerfile(text):
    """[(stage index, INSTRUCTION, arguments)] with continuation lines joined, comments dropped."""
    instructions, stage, current = [], -1, ""
    for raw in text.splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if current and line.startswith("#"):
            continue  # a comment inside a continued instruction
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        word, _, args = current.strip().partition(" ")
        word = word.upper()
        if word == "FROM":
            stage += 1
        instructions.append((stage, word, args.strip()))
        current = ""
    return instructions


def exec_form(args):
    ensure(args.startswith("["), f"not in exec (JSON) form: {args}")
    return json.loads(args)


def dockerfile_model():
    inst = parse_dockerfile(read(DOCKERFILE))
    froms = [a for _, w, a in inst if w == "FROM"]
    final = len(froms) - 1
    model = {"instructions": inst, "froms": froms, "final": final}
    for word in ("ENTRYPOINT", "CMD", "USER", "EXPOSE", "VOLUME", "HEALTHCHECK", "WORKDIR"):
        found = [a for s, w, a in inst if w == word and s == final]
        model[word] = found[-1] if found else None
    entry = exec_form(model["ENTRYPOINT"]) if model["ENTRYPOINT"] else []
    cmd = exec_form(model["CMD"]) if model["CMD"] else []
    model["command"] = entry + cmd
    return model


def documented_commands():
    """The container command as README.md and docs/deploy.md state it: `lokid -config.file=...`."""
    out = {}
    for path in (os.path.join(ROOT, "README.md"), DEPLOY_DOC):
        out[rel(path)] = set(re.findall(r"`(lokid -config\.file=/[^`\s]+)`", read(path)))
    return out


def check_dockerfile():
    m = dockerfile_model()
    inst, final = m["instructions"], m["final"]
    ensure(len(m["froms"]) >= 2, "the Dockerfile is not multi-stage")
    build_stages = {}
    for s, w, a in inst:
        if w == "FROM":
            parts = a.split()
            if len(parts) == 3 and parts[1].upper() == "AS":
                build_stages[parts[2]] = s
    runs = [a for s, w, a in inst if w == "RUN" and s < final]
    ensure(any(re.search(r"cargo build\b.*--release\b", r) and "--locked" in r and "--bin lokid" in r for r in runs),
           "no `cargo build --release --locked --bin lokid` in a build stage")
    copies_from = [a for s, w, a in inst if w == "COPY" and s == final and a.startswith("--from=")]
    ensure(copies_from and all(c.split()[0][len("--from="):] in build_stages for c in copies_from),
           f"the runtime stage must copy the binary from a named build stage: {copies_from}")

    # Same Debian release in both stages: the binary links against the build stage's glibc.
    codenames = [re.search(r"(bookworm|trixie|bullseye)", f) for f in m["froms"]]
    ensure(all(codenames), f"every FROM should name its Debian release: {m['froms']}")
    ensure(len({c.group(1) for c in codenames}) == 1, f"build and runtime Debian releases differ: {m['froms']}")
    ensure(not any(f.split()[0].endswith(":latest") or ":" not in f.split()[0] for f in m["froms"]),
           f"unpinned base image: {m['froms']}")

    user = m["USER"]
    ensure(user, "the runtime stage sets no USER")
    name = user.split(":")[0]
    ensure(name not in ("root", "0"), f"the runtime stage runs as {user}")
    ensure(any(w == "RUN" and s == final and re.search(rf"useradd\b.*\b{re.escape(name)}\s*($|&&)", a)
               for s, w, a in inst), f"user {name} is not created in the runtime stage")

    # The command: ENTRYPOINT + CMD is what README.md and docs/deploy.md document.
    cmd = m["command"]
    ensure(len(cmd) == 2 and cmd[0] == "lokid" and cmd[1].startswith("-config.file="),
           f"the container command is {cmd}, expected lokid -config.file=<file>")
    command_text = " ".join(cmd)
    for doc, found in documented_commands().items():
        ensure(command_text in found, f"{doc} does not document the image's command `{command_text}` (it has {sorted(found)})")
    config_in_image = cmd[1].split("=", 1)[1]
    config_copies = [a.split() for s, w, a in inst if w == "COPY" and s == final and not a.startswith("--")]
    ensure([rel(LOKID_CONFIG), config_in_image] in config_copies,
           f"the runtime stage must COPY {rel(LOKID_CONFIG)} to {config_in_image}")

    config = load_yaml(LOKID_CONFIG)
    port = config["server"]["http_listen_port"]
    ensure(m["EXPOSE"] and str(port) in m["EXPOSE"].split(), f"EXPOSE {m['EXPOSE']} does not include {port}")
    volumes = exec_form(m["VOLUME"]) if m["VOLUME"] and m["VOLUME"].startswith("[") else (m["VOLUME"] or "").split()
    ensure(config["common"]["path_prefix"] in volumes,
           f"the data directory {config['common']['path_prefix']} is not a VOLUME ({volumes})")
    hc = m["HEALTHCHECK"] or ""
    ensure("/ready" in hc and f"/{port}" in hc, f"HEALTHCHECK does not probe /ready on port {port}: {hc}")
    print(f"Dockerfile: {len(m['froms'])} stages ({', '.join(f.split()[0] for f in m['froms'])}), "
          f"USER {user}, EXPOSE {m['EXPOSE']}, VOLUME {volumes}, command `{command_text}`")


def healthcheck_command(port):
    """The HEALTHCHECK's CMD (exec form) with the port replaced, for running it against a test lokid."""
    hc = dockerfile_model()["HEALTHCHECK"]
    args = hc[hc.index("CMD") + 3:].strip()
    cmd = exec_form(args)
    port_in_image = str(load_yaml(LOKID_CONFIG)["server"]["http_listen_port"])
    return [c.replace(f"/{port_in_image}", f"/{port}") for c in cmd]


# --- build context (.dockerignore) -------------------------------------------------------

def _pattern_regex(pattern):
    """moby/patternmatcher: * and ? stay within a path element, ** spans elements."""
    out, i = "^", 0
    while i < len(pattern):
        c = pattern[i]
        if c == "*":
            if pattern[i:i + 2] == "**":
                i += 2
                if pattern[i:i + 1] == "/":
                    out += "(.*/)?"
                    i += 1
                else:
                    out += ".*"
                continue
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[":
            end = pattern.find("]", i)
            out += pattern[i:end + 1]
            i = end
        elif c == "\\":
            i += 1
            out += re.escape(pattern[i])
        else:
            out += re.escape(c)
        i += 1
    return re.compile(out + "$")


def dockerignore_rules(path):
    rules = []
    for line in read(path).splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        exclusion = line.startswith("!")
        pat = os.path.normpath(line[1:].strip() if exclusion else line).lstrip("/")
        rules.append((_pattern_regex(pat), exclusion))
    return rules


def ignored(path, rules):
    """True when `path` (relative, /-separated) is left out; the last matching rule wins and a
    rule also matches every file below a directory it matches."""
    parts = path.split("/")
    result = False
    for regex, exclusion in rules:
        hit = bool(regex.match(path)) or any(regex.match("/".join(parts[:n])) for n in range(1, len(parts)))
        if hit:
            result = not exclusion
    return result


def build_context(rules):
    files = []
    for dirpath, dirnames, filenames in os.walk(ROOT):
        dirnames[:] = [d for d in dirnames if d != ".git" or not ignored(rel(os.path.join(dirpath, d)), rules)]
        for fn in filenames:
            p = rel(os.path.join(dirpath, fn)).replace(os.sep, "/")
            if not ignored(p, rules):
                files.append(p)
    return sorted(files)


def git_files(*prefixes):
    out = subprocess.run(["git", "-C", ROOT, "ls-files", "--", *prefixes], check=True,
                         capture_output=True, text=True).stdout
    return [l for l in out.splitlines() if l]


def cargo_target_paths():
    manifest = tomllib.loads(read(os.path.join(ROOT, "Cargo.toml")))
    paths = ["Cargo.toml", "Cargo.lock"]
    for kind, default_dir in (("bin", None), ("bench", "benches"), ("test", "tests"), ("example", "examples")):
        for t in manifest.get(kind, []):
            if "path" in t:
                paths.append(t["path"])
            elif default_dir:
                paths.append(f"{default_dir}/{t['name']}.rs")
    lib = manifest.get("lib", {}).get("path", "src/lib.rs")
    if os.path.exists(os.path.join(ROOT, lib)):
        paths.append(lib)
    return paths


def check_context():
    rules = dockerignore_rules(os.path.join(ROOT, ".dockerignore"))
    ctx = build_context(rules)
    ctx_set = set(ctx)
    # Cargo's targets must be there (a declared bench that is missing fails the build); of
    # the committed sources, those that still exist in the work tree.
    needed = set(cargo_target_paths())
    needed |= {p for p in git_files("src", "benches", "proto") if os.path.exists(os.path.join(ROOT, p))}
    m = dockerfile_model()
    for s, w, a in m["instructions"]:
        if w in ("COPY", "ADD") and not a.startswith("--from"):
            srcs = [x for x in a.split()[:-1] if not x.startswith("--")]
            for src in srcs:
                if src != ".":
                    needed.add(src)
    missing = sorted(p for p in needed if p not in ctx_set)
    ensure(not missing, f"the build context lacks files the image build needs: {missing[:20]}")
    unwanted = [p for p in ctx if re.match(r"(target|data|\.git|node_modules)(/|$)", p) or "/node_modules/" in p
                or p.startswith(("examples/", "tests/", ".ci/"))]
    ensure(not unwanted, f"the build context includes what it should not: {unwanted[:20]}")
    size = sum(os.path.getsize(os.path.join(ROOT, p)) for p in ctx)
    ensure(size < 20 * 2**20, f"the build context is {size} bytes")

    # `cargo build --locked` in the image: Cargo.lock as the context has it must satisfy
    # Cargo.toml as the context has it. Resolve in a copy of the context, offline.
    with tempfile.TemporaryDirectory() as tmp:
        for p in ctx:
            os.makedirs(os.path.dirname(os.path.join(tmp, p)), exist_ok=True)
            with open(os.path.join(ROOT, p), "rb") as src, open(os.path.join(tmp, p), "wb") as dst:
                dst.write(src.read())
        r = subprocess.run(["cargo", "tree", "--locked", "--offline", "--target", "x86_64-unknown-linux-gnu",
                            "-e", "normal,build", "--prefix", "none"], cwd=tmp, capture_output=True, text=True,
                           timeout=120)
        ensure(r.returncode == 0, f"cargo tree --locked in a copy of the build context failed:\n{r.stderr[-2000:]}")
    print(f"build context: {len(ctx)} files, {size} bytes; Cargo.lock satisfies Cargo.toml (--locked)")


# --- runtime shared libraries --------------------------------------------------------------

def check_runtime_libs(binary):
    out = subprocess.run(["ldd", binary], check=True, capture_output=True, text=True).stdout
    owners = {}
    for line in out.splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if not m or "linux-vdso" in line:
            continue
        path = m.group(1)
        pkg = None
        for candidate in (path, os.path.realpath(path), path.replace("/usr/lib/", "/lib/"), path.replace("/lib/", "/usr/lib/", 1)):
            r = subprocess.run(["dpkg", "-S", candidate], capture_output=True, text=True)
            if r.returncode == 0:
                pkg = r.stdout.split(":")[0]
                break
        owners[path] = pkg
    ensure(owners, f"ldd found no libraries: {out}")
    foreign = {p: pkg for p, pkg in owners.items() if pkg not in RUNTIME_PACKAGES}
    ensure(not foreign, f"the binary needs libraries debian:bookworm-slim lacks: {foreign}")
    print("runtime libraries: " + ", ".join(f"{os.path.basename(p)} ({pkg})" for p, pkg in sorted(owners.items())))


# --- compose files ---------------------------------------------------------------------------

def compose_client():
    """`docker compose` when the plugin is there, else Debian's docker-compose (both parse offline)."""
    r = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if r.returncode == 0:
        return ["docker", "compose"]
    return ["docker-compose"]


def compose_config(files, env_file, cwd):
    cmd = compose_client()
    args = cmd + (["--env-file", env_file] if env_file else []) + sum((["-f", f] for f in files), []) + ["config"]
    env = {k: v for k, v in os.environ.items() if not re.match(r"^(LOKI_URL|HOST_LABEL|GRAFANA_|LOKID_BIND)", k)}
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=60, env=env)


def check_required(files, example_env, cwd, names):
    """Each of `names` must be a required variable (${NAME:?...}): the compose client refuses
    the files when .env.example without that one line is the only environment."""
    client = " ".join(compose_client())
    env = env_file(example_env)
    for name in names:
        with tempfile.NamedTemporaryFile("w", suffix=".env", delete=False) as f:
            f.write("".join(f"{k}={v}\n" for k, v in env.items() if k != name))
        try:
            r = compose_config(files, f.name, cwd)
        finally:
            os.unlink(f.name)
        ensure(r.returncode != 0, f"`{client} config` accepts {[rel(x) for x in files]} without {name}")


_COMPOSE_VAR = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])((?:[^{}]|\{[^{}]*\})*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def compose_interpolate(value, env):
    """Compose's ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?err}, ${VAR?err} and $$."""
    if isinstance(value, dict):
        return {k: compose_interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [compose_interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def sub(m):
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(5)
        colon, op, arg = m.group(2), m.group(3), m.group(4)
        val = env.get(name)
        unset = val is None or (colon and val == "")
        if op == "-" and unset:
            return compose_interpolate(arg, env)
        if op == "?" and unset:
            raise CheckFailed(f"required variable {name} is unset: {arg}")
        return val or ""

    return _COMPOSE_VAR.sub(sub, value)


def env_file(path):
    env = {}
    for line in read(path).splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            k, _, v = line.partition("=")
            env[k.strip()] = v.strip()
    return env


def short_volumes(service, base):
    """[(source resolved against the compose file's directory or a volume name, target, options)]"""
    out = []
    for v in service.get("volumes", []):
        parts = v.split(":")
        src, dst = parts[0], parts[1]
        opts = parts[2] if len(parts) > 2 else ""
        if src.startswith((".", "/")):
            src = os.path.normpath(os.path.join(base, src))
        out.append((src, dst, opts))
    return out


def ports(service):
    """[(host ip, host port, container port)] from short syntax."""
    out = []
    for p in service.get("ports", []):
        parts = str(p).split(":")
        if len(parts) == 3:
            out.append((parts[0], parts[1], parts[2]))
        elif len(parts) == 2:
            out.append(("", parts[0], parts[1]))
        else:
            out.append(("", "", parts[0]))
    return out


def monitoring_compose():
    path = os.path.join(MONITORING, "docker-compose.yml")
    env = env_file(os.path.join(MONITORING, ".env.example"))
    return compose_interpolate(load_yaml(path), env), path


def check_compose_monitoring():
    path = os.path.join(MONITORING, "docker-compose.yml")
    example_env = os.path.join(MONITORING, ".env.example")
    client = " ".join(compose_client())
    r = compose_config([path], example_env, MONITORING)
    ensure(r.returncode == 0, f"`{client} config` rejected {rel(path)} with .env.example:\n{r.stderr}")
    check_required([path], example_env, MONITORING, ["GRAFANA_ROOT_URL", "GRAFANA_ADMIN_PASSWORD"])

    doc, _ = monitoring_compose()
    svc = doc["services"]
    ensure(set(svc) >= {"lokid", "grafana"}, f"services are {sorted(svc)}")
    lokid, grafana = svc["lokid"], svc["grafana"]
    m = dockerfile_model()
    config = load_yaml(LOKID_CONFIG)
    port = str(config["server"]["http_listen_port"])

    build = lokid["build"]
    context = os.path.normpath(os.path.join(MONITORING, build["context"]))
    ensure(context == ROOT and os.path.isfile(os.path.join(context, build.get("dockerfile", "Dockerfile"))),
           f"lokid's build context {context} is not the repository root with its Dockerfile")
    vols = short_volumes(lokid, MONITORING)
    config_path = m["command"][1].split("=", 1)[1]
    ensure((LOKID_CONFIG, config_path, "ro") in vols, f"lokid does not mount {rel(LOKID_CONFIG)} at {config_path}: {vols}")
    data_dir = config["common"]["path_prefix"]
    ensure(any(dst == data_dir and not src.startswith("/") for src, dst, _ in vols),
           f"lokid's data directory {data_dir} is not on a named volume: {vols}")
    ensure(any(c == port for _, _, c in ports(lokid)), f"lokid does not publish {port}: {lokid.get('ports')}")
    ensure(lokid.get("stop_grace_period"), "lokid has no stop_grace_period to flush on SIGTERM")

    gports = ports(grafana)
    ensure(any(h == "3004" and c == "3000" for _, h, c in gports), f"Grafana is not published on 3004: {gports}")
    image = grafana["image"]
    ensure(re.match(r"^grafana/grafana(-oss)?:\d+\.\d+\.\d+$", image), f"Grafana's image is not pinned: {image}")
    gvols = short_volumes(grafana, MONITORING)
    prov = [(s, d) for s, d, _ in gvols if d == "/etc/grafana/provisioning"]
    ensure(prov and os.path.isfile(os.path.join(prov[0][0], "datasources", "datasources.yaml")),
           f"Grafana's provisioning mount is missing or has no datasources/datasources.yaml: {gvols}")
    providers = load_yaml(os.path.join(prov[0][0], "dashboards", "dashboards.yaml"))["providers"]
    for p in providers:
        target = p["options"]["path"]
        srcs = [s for s, d, _ in gvols if d == target]
        ensure(srcs and os.path.isdir(srcs[0]) and any(f.endswith(".json") for f in os.listdir(srcs[0])),
               f"dashboard provider path {target} is not mounted from a folder with dashboards: {gvols}")
    ensure(any(d == "/var/lib/grafana" and not s.startswith("/") for s, d, _ in gvols),
           "Grafana's /var/lib/grafana is not on a named volume")
    env = grafana.get("environment", {})
    ensure(env.get("GF_SERVER_ROOT_URL", "").startswith("https://"), "GF_SERVER_ROOT_URL is not set to the https URL")
    ensure(grafana.get("depends_on"), "Grafana does not depend on lokid")

    ds = load_yaml(os.path.join(prov[0][0], "datasources", "datasources.yaml"))["datasources"][0]
    ensure(ds["url"] == f"http://lokid:{port}", f"the data source URL {ds['url']} is not the lokid service on {port}")
    print(f"{client} config: ok; lokid builds from {rel(context) or '.'}, mounts its config at {config_path}, "
          f"publishes {port}; Grafana publishes 3004 ({image})")


def check_compose_app_server():
    fragment = os.path.join(APP_SERVER, "docker-compose.promtail.yml")
    promtail_cfg = os.path.join(APP_SERVER, "promtail-config.yaml")
    example_env = os.path.join(APP_SERVER, ".env.example")
    client = " ".join(compose_client())
    r = compose_config([fragment], example_env, APP_SERVER)
    ensure(r.returncode == 0, f"`{client} config` rejected {rel(fragment)}:\n{r.stderr}")
    check_required([fragment], example_env, APP_SERVER, ["LOKI_URL", "HOST_LABEL"])

    # As docs/deploy.md says: both files beside the app server's own docker-compose.yml.
    with tempfile.TemporaryDirectory() as tmp:
        for f in (fragment, promtail_cfg, example_env):
            with open(f, "rb") as src, open(os.path.join(tmp, os.path.basename(f)), "wb") as dst:
                dst.write(src.read())
        with open(os.path.join(tmp, "docker-compose.yml"), "w") as f:
            f.write("services:\n"
                    "  api-server:\n    image: example/api-server:1.0.0\n    container_name: api-server\n"
                    "    environment:\n      NODE_ENV: production\n"
                    "  ticket-server:\n    image: example/ticket-server:1.0.0\n    container_name: ticket-server\n")
        r = compose_config(["docker-compose.yml", os.path.basename(fragment)], ".env.example", tmp)
        ensure(r.returncode == 0, f"`{client} config` rejected an app compose file plus the fragment:\n{r.stderr}")
        merged = yaml.safe_load(r.stdout)
        ensure(set(merged["services"]) == {"api-server", "ticket-server", "promtail"},
               f"merged services: {sorted(merged['services'])}")

    env = env_file(example_env)
    doc = compose_interpolate(load_yaml(fragment), env)
    p = doc["services"]["promtail"]
    ensure(set(p.get("environment", {})) >= {"LOKI_URL", "HOST_LABEL"}, "Promtail's environment lacks LOKI_URL or HOST_LABEL")
    ensure(str(p.get("user")) in ("root", "0"), f"Promtail's user is {p.get('user')}, it needs root for the Docker socket")
    ensure(re.match(r"^grafana/promtail:\d+\.\d+\.\d+$", p["image"]), f"Promtail's image is not pinned: {p['image']}")
    cmd = p["command"] if isinstance(p["command"], list) else shlex.split(p["command"])
    ensure("-config.expand-env=true" in cmd, f"Promtail runs without -config.expand-env=true: {cmd}")
    cfg_args = [c.split("=", 1)[1] for c in cmd if c.startswith("-config.file=")]
    vols = short_volumes(p, APP_SERVER)
    ensure(cfg_args and (promtail_cfg, cfg_args[0], "ro") in vols,
           f"promtail-config.yaml is not mounted at the -config.file path {cfg_args}: {vols}")
    ensure(any(s == "/var/run/docker.sock" and d == "/var/run/docker.sock" for s, d, _ in vols),
           f"the Docker socket is not mounted: {vols}")

    text = read(promtail_cfg)
    cfg = load_yaml(promtail_cfg)
    ensure(cfg["clients"][0]["url"] == "${LOKI_URL}", f"clients.url is {cfg['clients'][0]['url']!r}, not ${{LOKI_URL}}")
    sd = [sc for sc in cfg["scrape_configs"] if sc.get("docker_sd_configs")]
    ensure(sd and sd[0]["docker_sd_configs"][0]["host"] == "unix:///var/run/docker.sock",
           "no docker_sd_configs on unix:///var/run/docker.sock")
    positions_dir = os.path.dirname(cfg["positions"]["filename"])
    ensure(any(d == positions_dir and not s.startswith("/") for s, d, _ in vols),
           f"the positions file's directory {positions_dir} is not on a volume")
    ensure("${HOST_LABEL}" in text, "the host label is not taken from HOST_LABEL")

    sys.path.insert(0, os.path.dirname(__file__))
    import promtail
    ensure(promtail.relabel({"__meta_docker_container_name": "/" + p["container_name"]}, sd[0]["relabel_configs"]) is None,
           f"Promtail would ship its own log (container {p['container_name']})")
    print(f"{client} config: fragment alone and merged with an app compose file; Promtail {p['image']} as root "
          f"with the Docker socket, {' '.join(cmd)}")


def check_app_server_agents():
    """Alloy and the OTel Collector: neither can run here (no Docker engine, and neither is
    packaged by Debian), so their compose fragments go through `compose config` and their
    configs must keep the settings they share with Promtail's."""
    example_env = os.path.join(APP_SERVER, ".env.example")
    env = env_file(example_env)
    client = " ".join(compose_client())
    promtail_cfg = load_yaml(os.path.join(APP_SERVER, "promtail-config.yaml"))
    promtail_stages = promtail_cfg["scrape_configs"][0]["pipeline_stages"]
    json_keys = next(st["json"]["expressions"] for st in promtail_stages if "json" in st)
    label_names = set(next(st["labels"] for st in promtail_stages if "labels" in st))
    ts_format = next(st["timestamp"]["format"] for st in promtail_stages if "timestamp" in st)

    for name, fragment, cfg_file, cfg_path, required in (
        ("alloy", "docker-compose.alloy.yml", "alloy-config.alloy", "/etc/alloy/config.alloy", ["LOKI_URL", "HOST_LABEL"]),
        ("otelcol", "docker-compose.otelcol.yml", "otelcol-config.yaml", "/etc/otelcol-contrib/config.yaml",
         ["LOKI_OTLP_URL", "HOST_LABEL"]),
    ):
        frag = os.path.join(APP_SERVER, fragment)
        r = compose_config([frag], example_env, APP_SERVER)
        ensure(r.returncode == 0, f"`{client} config` rejected {rel(frag)}:\n{r.stderr}")
        check_required([frag], example_env, APP_SERVER, required)
        svc = compose_interpolate(load_yaml(frag), env)["services"][name]
        ensure(re.match(r"^[a-z/-]+:v?\d+\.\d+\.\d+$", svc["image"]), f"{name}'s image is not pinned: {svc['image']}")
        ensure(set(svc.get("environment", {})) >= set(required), f"{name}'s environment lacks one of {required}")
        vols = short_volumes(svc, APP_SERVER)
        ensure((os.path.join(APP_SERVER, cfg_file), cfg_path, "ro") in vols, f"{cfg_file} is not mounted at {cfg_path}: {vols}")
        cmd = " ".join(svc["command"])
        ensure(cfg_path in cmd, f"{name} does not run {cfg_path}: {cmd}")
        if name == "alloy":
            ensure(str(svc.get("user")) in ("root", "0"), "Alloy needs root for the Docker socket")
            ensure(any(s == "/var/run/docker.sock" for s, _, _ in vols), f"the Docker socket is not mounted into Alloy: {vols}")
            ensure(any(d.startswith("/var/lib/alloy") and not s.startswith("/") for s, d, _ in vols), "Alloy's storage is not on a volume")

    # Alloy keeps Promtail's settings.
    text = read(os.path.join(APP_SERVER, "alloy-config.alloy"))
    for needle, what in (
        ('host             = "unix:///var/run/docker.sock"', "Docker discovery on the socket"),
        ('url = sys.env("LOKI_URL")', "the push to LOKI_URL"),
        ('replacement  = sys.env("HOST_LABEL")', "the host label from HOST_LABEL"),
        ('replacement  = "docker"', 'job="docker"'),
        ('regex         = "/(.*)"', "the container label without the slash"),
        (f'format = "{ts_format}"', f"the {ts_format} timestamp"),
    ):
        ensure(needle in text, f"alloy-config.alloy lacks {what} ({needle})")
    m = re.search(r"stage\.json\s*\{\s*expressions\s*=\s*\{([^}]*)\}", text)
    ensure(m, "alloy-config.alloy has no stage.json")
    alloy_keys = dict(re.findall(r'(\w+)\s*=\s*"([^"]*)"', m.group(1)))
    ensure(alloy_keys == json_keys, f"Alloy parses {alloy_keys}, Promtail {json_keys}")
    m = re.search(r"stage\.labels\s*\{\s*values\s*=\s*\{([^}]*)\}", text)
    ensure(m and set(re.findall(r"(\w+)\s*=", m.group(1))) == label_names, f"Alloy's labels differ from Promtail's {label_names}")

    # The Collector exports to lokid's OTLP endpoint and sets the host.
    otel = load_yaml(os.path.join(APP_SERVER, "otelcol-config.yaml"))
    exp = otel["exporters"]["otlphttp/lokid"]
    ensure(exp["endpoint"] == "${env:LOKI_OTLP_URL}", f"the exporter's endpoint is {exp['endpoint']!r}")
    ensure(env["LOKI_OTLP_URL"].endswith(":3100/otlp"), f".env.example's LOKI_OTLP_URL is {env['LOKI_OTLP_URL']!r}")
    attrs = otel["processors"]["resource"]["attributes"]
    ensure({"key": "host.name", "value": "${env:HOST_LABEL}", "action": "upsert"} in attrs, "host.name is not set from HOST_LABEL")
    ensure(otel["service"]["pipelines"]["logs"]["exporters"] == ["otlphttp/lokid"], "the logs pipeline does not export to lokid")
    print(f"{client} config: Alloy and OTel Collector fragments; Alloy keeps Promtail's socket, labels, JSON keys "
          f"{sorted(json_keys)} and {ts_format} timestamps; the Collector exports to ${{LOKI_OTLP_URL}}")


# --- Grafana provisioning ----------------------------------------------------------------------

def dashboard_files():
    d = os.path.join(MONITORING, "grafana", "dashboards")
    return [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith(".json")]


def check_provisioning():
    prov = os.path.join(MONITORING, "grafana", "provisioning")
    dsdoc = load_yaml(os.path.join(prov, "datasources", "datasources.yaml"))
    ensure(dsdoc.get("apiVersion") == 1, "datasources.yaml: apiVersion is not 1")
    sources = dsdoc["datasources"]
    defaults = [d for d in sources if d.get("isDefault")]
    ensure(len(defaults) == 1, f"datasources.yaml: {len(defaults)} default data sources")
    ds = defaults[0]
    ensure(ds["type"] == "loki" and ds.get("access", "proxy") == "proxy" and ds.get("uid"),
           f"the default data source is not a proxied Loki data source with a uid: {ds}")
    for key in ("name", "url"):
        ensure(isinstance(ds.get(key), str) and ds[key], f"data source {key} missing")
    ensure(isinstance(ds.get("jsonData", {}).get("maxLines", 1000), int), "jsonData.maxLines is not an integer")

    pdoc = load_yaml(os.path.join(prov, "dashboards", "dashboards.yaml"))
    ensure(pdoc.get("apiVersion") == 1 and pdoc.get("providers"), "dashboards.yaml: apiVersion 1 with providers")
    for p in pdoc["providers"]:
        ensure(p.get("type", "file") == "file" and p.get("options", {}).get("path"), f"provider {p.get('name')}: no file path")

    files = dashboard_files()
    ensure(files, "no dashboard JSON files")
    uids = set()
    for path in files:
        dash = json.loads(read(path))
        name = os.path.basename(path)
        ensure(dash.get("uid") and dash.get("title") and isinstance(dash.get("schemaVersion"), int),
               f"{name}: uid, title and schemaVersion are required")
        ensure(dash["uid"] not in uids, f"{name}: duplicate uid")
        uids.add(dash["uid"])
        ensure("id" not in dash or dash["id"] is None, f"{name}: a provisioned dashboard must not carry a database id")
        variables = {v["name"]: v for v in dash.get("templating", {}).get("list", [])}
        for v in variables.values():
            if v["type"] == "query":
                ensure(v["datasource"] == {"type": "loki", "uid": ds["uid"]}, f"{name}: variable {v['name']} has another data source")
                ensure(v["query"].get("type") == 1 and v["query"].get("label") == v["name"],
                       f"{name}: variable {v['name']} is not a Loki label-values query for its own label")
        panels = dash.get("panels", [])
        ensure(panels, f"{name}: no panels")
        ids = [p["id"] for p in panels]
        ensure(len(ids) == len(set(ids)), f"{name}: duplicate panel ids")
        for p in panels:
            ensure(p.get("datasource") == {"type": "loki", "uid": ds["uid"]}, f"{name}: panel {p['title']!r} data source")
            ensure(p.get("targets"), f"{name}: panel {p['title']!r} has no query")
            for t in p["targets"]:
                ensure(t.get("expr") and t.get("refId"), f"{name}: panel {p['title']!r} target without expr/refId")
                used = set(re.findall(r"\$(\w+)", t["expr"])) - {"__auto", "__interval", "__range"}
                ensure(used <= set(variables), f"{name}: panel {p['title']!r} uses undefined variables {used - set(variables)}")
            gp = p.get("gridPos", {})
            ensure(all(isinstance(gp.get(k), int) for k in "hwxy") and gp["x"] + gp["w"] <= 24,
                   f"{name}: panel {p['title']!r} gridPos {gp}")

        # The plan's questions.
        exprs = {p["title"]: " ".join(t["expr"] for t in p["targets"]) for p in panels}
        types = {p["title"]: p["type"] for p in panels}
        ensure(any("by (service, level)" in e for e in exprs.values()), f"{name}: no lines per service and level panel")
        ensure(any('level="error"' in e and ("rate(" in e or "/" in e) for e in exprs.values()),
               f"{name}: no error rate panel")
        ensure(any("13:00" in t for t in exprs), f"{name}: no panel for the 13:00 opening burst")
        ensure(any(types[t] == "logs" and "$service" in e and "$host" in e for t, e in exprs.items()),
               f"{name}: no logs panel filtered by $service and $host")
        ensure({"service", "host"} <= set(variables), f"{name}: $service and $host variables are required")
    print(f"provisioning: default data source {ds['name']!r} (uid {ds['uid']}, {ds['url']}); dashboards: "
          + ", ".join(f"{os.path.basename(f)}" for f in files))


# --- docs --------------------------------------------------------------------------------------

def check_docs():
    text = read(DEPLOY_DOC)
    named = set(re.findall(r"`((?:deploy|examples|scripts|docs)/[^`\s]*|Dockerfile|\.dockerignore)`", text))
    named |= set(re.findall(r"\]\(\.\./((?:deploy|examples|scripts|docs)/[^)\s#]*)", text))
    missing = sorted(n for n in named if not os.path.exists(os.path.join(ROOT, n.rstrip("/"))))
    ensure(not missing, f"docs/deploy.md names files that do not exist: {missing}")
    # Every file of the kit, committed or not (the check also runs before a commit).
    kit = [f for f in ("Dockerfile", ".dockerignore") if os.path.exists(os.path.join(ROOT, f))]
    for base in ("deploy", os.path.join("examples", "nestjs-logger")):
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, base)):
            dirnames[:] = [d for d in dirnames if d not in ("node_modules", "dist")]
            kit += [rel(os.path.join(dirpath, fn)) for fn in filenames
                    if fn not in ("package-lock.json", ".gitignore")]
    covered = lambda f: f in named or any(f.startswith(n.rstrip("/") + "/") for n in named if n.endswith("/"))
    unnamed = sorted(f for f in kit if not covered(f))
    ensure(not unnamed, f"docs/deploy.md does not mention these files of the kit: {unnamed}")
    for word in ("3100", "3004", "LOKI_URL", ".env", "backup", "monitor."):
        ensure(word in text, f"docs/deploy.md never mentions {word}")
    readme = read(os.path.join(ROOT, "README.md"))
    ensure("docs/deploy.md" in readme, "README.md has no pointer to docs/deploy.md")
    print(f"docs/deploy.md names {len(named)} paths, all present; it covers all {len(kit)} files of the kit")


CHECKS = {
    "dockerfile": check_dockerfile,
    "context": check_context,
    "runtime-libs": check_runtime_libs,
    "compose-monitoring": check_compose_monitoring,
    "compose-app-server": check_compose_app_server,
    "app-server-agents": check_app_server_agents,
    "provisioning": check_provisioning,
    "docs": check_docs,
}

if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "healthcheck-command":
        print(json.dumps(healthcheck_command(sys.argv[2])))
        sys.exit(0)
    try:
        CHECKS[sys.argv[1]](*sys.argv[2:])
    except (CheckFailed, AssertionError) as e:
        print(f"FAILED: {e}")
        sys.exit(1)
