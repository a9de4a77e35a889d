# syntax=docker/dockerfile:1
# The etcd-monitor image: the five binaries on Debian 12, run as a non-root user.
#   docker build -t etcd-monitor:latest .      (from the repository root, as in the quickstart)
#   docker run -d --name etcd-monitor -p 8080:8080 \
#     -e ENDPOINTS=etcd1:2379,etcd2:2379,etcd3:2379 etcd-monitor:latest
# Without arguments it runs the all-in-one monitor; docker-compose-full.yml runs the same image
# as collector, aggregator, alerter and gateway through --entrypoint.

# ---- build: the same Debian packages as a developer machine (scripts/setup.sh) ----
FROM debian:bookworm AS build
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src
COPY scripts/setup.sh scripts/setup.sh
# The npm packages setup.sh installs, pinned by their lock files: the web console's charting
# library, compiled into the gateway (and the browser test's driver, unused here).
COPY gateway/web/package.json gateway/web/package-lock.json gateway/web/
COPY tests/browser/package.json tests/browser/package-lock.json tests/browser/
# One package list for every build: setup.sh's (it also installs etcd and Prometheus for the
# tests; this stage is thrown away, so only the runtime stage's size matters).
RUN bash scripts/setup.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DETCDMON_BUILD_TESTS=OFF \
      -DETCDMON_BUILD_BENCH=OFF \
 && ninja -C /build etcd-monitor etcd-monitor-collector etcd-monitor-aggregator \
      etcd-monitor-alerter etcd-monitor-gateway \
 && install -m 0755 -s /build/cli/etcd-monitor /build/collector/etcd-monitor-collector \
      /build/aggregator/etcd-monitor-aggregator /build/alerter/etcd-monitor-alerter \
      /build/gateway/etcd-monitor-gateway /usr/local/bin/

# ---- runtime: only the shared libraries the binaries load (checked with ldd) ----
FROM debian:bookworm-slim
ENV DEBIAN_FRONTEND=noninteractive
# curl: the HEALTHCHECK; iputils-ping: the quickstart's `docker exec -it etcd-monitor ping etcd1`.
RUN apt-get update -qq \
 && apt-get install -y -qq --no-install-recommends \
      libgrpc++1.51 libgrpc29 libprotobuf32 libabsl20220623 libre2-9 libc-ares2 \
      libzmq5 libsodium23 libpistache0 libprometheus-cpp-core1.0 libsqlite3-0 \
      libspdlog1.10 libfmt9 libyaml-cpp0.7 libcpp-httplib0.11 libcurl4 libssl3 libsnappy1v5 \
      ca-certificates curl iputils-ping \
 && rm -rf /var/lib/apt/lists/*
# /keys: where the compose stack's `etcd-monitor keygen --out /keys` writes a CURVE pair;
# /server-key, /shared, /allow-list, /grpc-tls, /https-tls, /gateway-secrets (the gateway's
# /secrets): the other key volumes its keygen services write (a named volume mounted there
# starts with this owner).
RUN groupadd --system --gid 10001 etcdmon \
 && useradd --system --uid 10001 --gid etcdmon --home-dir /var/lib/etcd-monitor \
      --shell /usr/sbin/nologin etcdmon \
 && install -d -o etcdmon -g etcdmon -m 0750 /var/lib/etcd-monitor \
 && install -d -o etcdmon -g etcdmon -m 0700 /keys /server-key /shared /allow-list /grpc-tls \
      /https-tls /gateway-secrets /secrets
COPY --from=build /usr/local/bin/etcd-monitor /usr/local/bin/etcd-monitor-collector \
     /usr/local/bin/etcd-monitor-aggregator /usr/local/bin/etcd-monitor-alerter \
     /usr/local/bin/etcd-monitor-gateway /usr/local/bin/

USER etcdmon
WORKDIR /var/lib/etcd-monitor
# History (history.db), alert state (alerts.db) and, for collectors, the sequence file.
VOLUME ["/var/lib/etcd-monitor"]
# Set the port with API_PORT (not --api-port) so that the health check follows it.
ENV API_HOST=0.0.0.0 API_PORT=8080
EXPOSE 8080
# /health answers 200 once the monitor has fresh data, 503 while a dependency is down.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD curl -fsS "http://127.0.0.1:${API_PORT}/health" >/dev/null || exit 1
# Every binary handles SIGTERM itself (an orderly stop), also as PID 1.
ENTRYPOINT ["etcd-monitor"]
CMD ["--data-dir=/var/lib/etcd-monitor"]
