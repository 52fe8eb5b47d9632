# One Dockerfile, two kinds of image, built from the repository root:
#   --target platform                                   dagster-webserver and dagster-daemon; no user code
#   --target location --build-arg LOCATION=<name>       one code location's gRPC server and its run workers
# Works with BuildKit and with the classic builder (docker-compose 1.29): no BuildKit-only syntax.
ARG PYTHON_BASE=python:3.11-slim-bookworm

FROM ${PYTHON_BASE} AS base
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_NO_CACHE=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    DAGSTER_HOME=/opt/dagster/home
RUN groupadd --system --gid 10001 dagster \
 && useradd --system --uid 10001 --gid dagster --home-dir /opt/dagster --create-home dagster \
 && mkdir -p /opt/dagster/home /opt/dagster/app
WORKDIR /opt/dagster/app
# Every install step below runs uv through this script, which leaves no uv in the image.
COPY deploy/image/uv-sync /usr/local/bin/uv-sync
# The workspace's lock and every member's manifest: enough to install locked dependencies.
COPY pyproject.toml uv.lock ./
COPY code_locations/lake/pyproject.toml code_locations/lake/
COPY code_locations/ingest/pyproject.toml code_locations/ingest/
COPY code_locations/transforms/pyproject.toml code_locations/transforms/
COPY code_locations/reporting/pyproject.toml code_locations/reporting/
COPY deploy/platform/pyproject.toml deploy/platform/
COPY deploy/launcher/pyproject.toml deploy/launcher/

FROM base AS platform
# Locked third-party dependencies first, then the run launcher dagster.yaml names.
RUN uv-sync --frozen --no-dev --package dagster-platform --no-install-workspace
COPY deploy/launcher deploy/launcher
RUN uv-sync --frozen --no-dev --package dagster-platform \
 && python -c "import dataplatform_launcher.run_launcher"
# `dagster-daemon` is Dagster's, started through the launcher's wrapper: the backfill daemon
# starts an iteration every 5 s, not every 30 (dataplatform_launcher/daemon.py says why). Compose
# and the Helm chart both run `dagster-daemon run`.
RUN printf '#!/opt/venv/bin/python\nfrom dataplatform_launcher.daemon import main\nmain()\n' > /opt/venv/bin/dagster-daemon \
 && dagster-daemon --help > /dev/null
# The instance configuration every container shares (services, code servers, run workers), copied
# after the installs in both kinds of image: a change to it rebuilds no dependency layer.
COPY dagster.yaml workspace.yaml /opt/dagster/home/
# The webserver and the daemon talk to the Docker socket to launch and terminate runs, and the
# socket's group id differs from host to host. The entrypoint starts as root only to read that id,
# then runs the service as `dagster` with that group (deploy/platform/entrypoint.sh).
COPY deploy/platform/entrypoint.sh /usr/local/bin/dataplatform-entrypoint
# The daemon's health check, without importing dagster (docker-compose.yml says why).
COPY deploy/platform/daemon_health.py /opt/dagster/daemon_health.py
ENTRYPOINT ["dataplatform-entrypoint"]
EXPOSE 3000
# The webserver keeps one pooled Postgres connection. After a Postgres restart that connection is
# dead and the first query on it fails; a connection older than 5 s is replaced before use instead,
# so no restart of 5 s or more reaches a user (a new connection is a few milliseconds).
CMD ["dagster-webserver", "-h", "0.0.0.0", "-p", "3000", "-w", "/opt/dagster/home/workspace.yaml", "--db-pool-recycle", "5"]

# The third-party dependencies every location shares, in one layer that the three location images
# have in common (built, pushed and pulled once): ingest's set, which is also transforms' set, and
# reporting's set less DuckDB and matplotlib. No LOCATION argument is declared above this layer, so
# its cache key is the same for every location. Reused until uv.lock changes.
# Built in a stage of its own, with binutils, to strip the symbol tables from the native libraries
# (strip --strip-unneeded keeps what the dynamic linker needs, as Debian's packages ship them): the
# polars runtime and pyarrow carry about 90 MB of them. Only the environment is copied on.
# Left out as well, because no location imports them: the packages' own test suites, pyarrow's C++
# headers (for compiling extensions against it) and Arrow Flight, pyarrow's gRPC transport (about
# 25 MB; only pyarrow.flight loads it, checked with readelf: no other library of pyarrow links it).
# pyarrow itself stays: dagster-polars imports pyarrow.dataset with its package. The last line
# proves the parts the locations use still load.
FROM base AS location-deps-build
RUN apt-get update \
 && apt-get install --yes --no-install-recommends binutils \
 && rm -rf /var/lib/apt/lists/*
RUN uv-sync --frozen --no-dev --package ingest --no-install-workspace \
 && find /opt/venv -type f \( -name "*.so" -o -name "*.so.[0-9]*" \) -exec strip --strip-unneeded {} + \
 && site=$(python -c "import sysconfig; print(sysconfig.get_paths()['purelib'])") \
 && find "$site" -mindepth 2 -maxdepth 2 -type d -name tests -exec rm -rf {} + \
 && rm -rf "$site"/pyarrow/include "$site"/pyarrow/src "$site"/pyarrow/_pyarrow_cpp_tests.*.so \
      "$site"/pyarrow/flight.py "$site"/pyarrow/_flight.*.so "$site"/pyarrow/libarrow_flight.so* \
      "$site"/pyarrow/libarrow_python_flight.so* \
 && python -c "import pyarrow.dataset, pyarrow.parquet, pyarrow.compute, polars, dagster_polars, s3fs, grpc"

FROM base AS location-deps
COPY --from=location-deps-build /opt/venv /opt/venv

FROM location-deps AS location
ARG LOCATION
RUN case "$LOCATION" in ingest|transforms|reporting) ;; \
      *) echo "build arg LOCATION must be ingest, transforms or reporting, got '$LOCATION'" >&2; exit 1;; \
    esac
# What only this location needs on top (reporting: DuckDB, matplotlib; the others: nothing).
RUN uv-sync --frozen --no-dev --package "$LOCATION" --no-install-workspace
COPY deploy/launcher deploy/launcher
COPY code_locations/lake code_locations/lake
COPY code_locations/${LOCATION} code_locations/${LOCATION}
RUN uv-sync --frozen --no-dev --package "$LOCATION" \
 && python -c "import ${LOCATION}.definitions"
COPY dagster.yaml /opt/dagster/home/dagster.yaml
ENV DAGSTER_LOCATION=${LOCATION} \
    MPLCONFIGDIR=/tmp/matplotlib
USER dagster
EXPOSE 4000
# One process serves the location's definitions. `dagster code-server start` would add a proxy
# process (about 100 MB) only to reload code in place; an image's code never changes in place (a
# redeploy starts a new container). --lazy-load-user-code: a location whose definitions fail to
# load keeps serving, and the UI and `ops.py status` show its error.
CMD ["sh", "-c", "exec dagster api grpc -h 0.0.0.0 -p 4000 -m \"$DAGSTER_LOCATION.definitions\" --location-name \"$DAGSTER_LOCATION\" --lazy-load-user-code"]
