# syntax=docker/dockerfile:1
#
# lokid: a single-binary log server with Grafana Loki's HTTP API (see docs/deploy.md).
#
#   docker build -t lokid:local .
#   docker run -d -p 3100:3100 -v lokid-data:/var/lib/lokid lokid:local
#
# The container runs `lokid -config.file=/etc/lokid/config.yaml`. The image carries
# deploy/monitoring/lokid/config.yaml there; mount your own file over it to change it.
# Data (RocksDB) lives in the volume /var/lib/lokid. The first build compiles RocksDB's C++
# and takes 15-20 minutes on two cores; later builds reuse BuildKit's cache mounts.

# --- build ----------------------------------------------------------------------------
# Build and runtime stages are both Debian bookworm, so the binary's glibc and libstdc++
# are the ones the runtime image has.
FROM rust:1.95-bookworm AS build

# bindgen (the rocksdb bindings) needs libclang at build time; RocksDB itself needs a C++
# compiler, which the rust image already has.
RUN apt-get update \
 && apt-get install -y --no-install-recommends clang libclang-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY . .

# --locked: build exactly the dependency versions in Cargo.lock.
# No debug info and no incremental state in the image build; the binary is stripped.
ENV CARGO_PROFILE_RELEASE_DEBUG=false \
    CARGO_PROFILE_RELEASE_INCREMENTAL=false \
    CARGO_PROFILE_RELEASE_STRIP=symbols
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin lokid \
 && install -D -m 0755 target/release/lokid /out/lokid

# --- runtime --------------------------------------------------------------------------
FROM debian:bookworm-slim

# The binary needs only libc, libgcc_s and libstdc++, which bookworm-slim already has
# (scripts/deploy-check.sh checks this with ldd). An unprivileged user owns the data.
RUN groupadd --system --gid 10001 lokid \
 && useradd --system --uid 10001 --gid lokid --home-dir /var/lib/lokid --no-create-home \
        --shell /usr/sbin/nologin lokid \
 && mkdir -p /var/lib/lokid /etc/lokid \
 && chown lokid:lokid /var/lib/lokid

COPY --from=build /out/lokid /usr/local/bin/lokid
COPY deploy/monitoring/lokid/config.yaml /etc/lokid/config.yaml

USER lokid:lokid
WORKDIR /var/lib/lokid
VOLUME ["/var/lib/lokid"]
EXPOSE 3100

# /ready answers 200 once lokid serves. bash's /dev/tcp keeps curl out of the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/3100 && printf 'GET /ready HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3 && head -n 1 <&3 | grep -q ' 200 '"]

# SIGTERM (docker stop) makes lokid drain and flush before it exits.
STOPSIGNAL SIGTERM
ENTRYPOINT ["lokid"]
CMD ["-config.file=/etc/lokid/config.yaml"]
