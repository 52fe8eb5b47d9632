#!/usr/bin/env bash
# Build local stand-in images for the official images used by the e2e tests.
#
# CI machines here cannot pull from a container registry, so the compose stack
# under test is pointed at these locally built stand-ins instead:
#
#   dataplatform-standin/python:3.11-slim  -> stands in for  python:3.11-slim
#   dataplatform-standin/postgres:17       -> stands in for  postgres:17  (runs Debian's PostgreSQL 15)
#   dataplatform-standin/minio:latest      -> stands in for  minio/minio  (moto S3 server on :9000)
#
# plus the intermediate base  dataplatform-standin/debian:bookworm  (debootstrap
# minbase rootfs, imported with `docker import`).
#
# Usage:
#   tests/e2e/standins/build.sh                 # build whatever is missing
#   tests/e2e/standins/build.sh python minio    # only these (base is built if needed)
#   FORCE=1 tests/e2e/standins/build.sh         # rebuild everything (incl. the base)
#   FORCE=1 tests/e2e/standins/build.sh postgres # rebuild just postgres (reuse base)
#   tests/e2e/standins/build.sh --list          # print the image mapping and exit
#
# Environment:
#   FORCE=1                 rebuild the named images (all, if none named) even if
#                           the tag exists; a full `FORCE=1 build.sh` also redoes
#                           the debootstrap base
#   FORCE_BASE=1            also redo the debootstrap base when rebuilding named images
#   DEBIAN_MIRROR           Debian mirror for debootstrap/apt (default: taken from
#                           the host's apt sources, else http://deb.debian.org/debian)
#   DEBIAN_SECURITY_MIRROR  default: from host apt sources, else http://deb.debian.org/debian-security
#   HOST_CA_BUNDLE          CA bundle copied into the images
#                           (default /etc/ssl/certs/ca-certificates.crt)
#   MOTO_VERSION            moto version for the minio stand-in (default 5.2.5)
#   STANDIN_PREFIX          image namespace (default dataplatform-standin)
#
# Needs: docker, and for the base image root + debootstrap.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
FORCE="${FORCE:-0}"
PREFIX="${STANDIN_PREFIX:-dataplatform-standin}"
SUITE=bookworm
MOTO_VERSION="${MOTO_VERSION:-5.2.5}"
HOST_CA_BUNDLE="${HOST_CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"

BASE_TAG="$PREFIX/debian:$SUITE"
PYTHON_TAG="$PREFIX/python:3.11-slim"
POSTGRES_TAG="$PREFIX/postgres:17"
MINIO_TAG="$PREFIX/minio:latest"

log() { printf '[standins] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

image_exists() { docker image inspect "$1" >/dev/null 2>&1; }

image_size() { docker image inspect -f '{{.Size}}' "$1" | awk '{printf "%.0f MB", $1/1000/1000}'; }

# needs_build TAG -> 0 if TAG must be (re)built
needs_build() { [ "$FORCE" = "1" ] || ! image_exists "$1"; }

# All URIs from the host's apt sources (deb822 *.sources and one-line *.list).
host_apt_uris() {
  {
    grep -hsE '^[[:space:]]*URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null \
      | sed -E 's/^[[:space:]]*URIs:[[:space:]]*//' | tr ' \t' '\n\n' || true
    grep -hsE '^[[:space:]]*deb[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null \
      | sed -E 's/^[[:space:]]*deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//' | awk '{print $1}' || true
  } | sed -E 's#/+$##' | grep -v '^$' || true
}

DEBIAN_MIRROR="${DEBIAN_MIRROR:-$(host_apt_uris | grep -E '/debian$' | head -n1 || true)}"
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBIAN_SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-$(host_apt_uris | grep -E '/debian-security$' | head -n1 || true)}"
DEBIAN_SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"

# Prefer the legacy builder unless the caller chose otherwise: it always sees
# locally built images in FROM (a docker-container buildx builder would try to
# pull them), and works with old engines without buildx.
export DOCKER_BUILDKIT="${DOCKER_BUILDKIT:-0}"

TIMINGS=()
timed() { # timed LABEL cmd...
  local label="$1"; shift
  local t0 t1
  t0=$(date +%s)
  "$@"
  t1=$(date +%s)
  TIMINGS+=("$label: $((t1 - t0))s")
}

ROOTFS=""
cleanup() {
  if [ -n "$ROOTFS" ] && [ -d "$ROOTFS" ]; then
    rm -rf --one-file-system "$ROOTFS"
  fi
}
trap cleanup EXIT

build_base() {
  log "==> building $BASE_TAG (debootstrap --variant=minbase $SUITE from $DEBIAN_MIRROR; intermediate base, no official counterpart)"
  [ "$(id -u)" = 0 ] || die "building $BASE_TAG needs root (debootstrap); re-run with sudo"
  command -v debootstrap >/dev/null || die "debootstrap not installed (apt-get install debootstrap)"
  [ -r "$HOST_CA_BUNDLE" ] || die "CA bundle $HOST_CA_BUNDLE not readable"

  ROOTFS="$(mktemp -d "${TMPDIR:-/var/tmp}/standin-rootfs.XXXXXX")"
  local keyring=()
  if [ -r /usr/share/keyrings/debian-archive-keyring.gpg ]; then
    keyring=(--keyring=/usr/share/keyrings/debian-archive-keyring.gpg)
  else
    log "WARNING: /usr/share/keyrings/debian-archive-keyring.gpg missing; Release signature cannot be checked"
  fi
  debootstrap --variant=minbase --components=main "${keyring[@]}" "$SUITE" "$ROOTFS" "$DEBIAN_MIRROR" >&2

  # apt sources: mirror + updates + security, like the official debian image.
  rm -f "$ROOTFS/etc/apt/sources.list"
  cat >"$ROOTFS/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $DEBIAN_MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $DEBIAN_SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES

  # Docker-style apt/dpkg tweaks (same idea as the official debian:*-slim images).
  cat >"$ROOTFS/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
  printf 'Acquire::Languages "none";\n' >"$ROOTFS/etc/apt/apt.conf.d/docker-no-languages"
  printf 'Acquire::GzipIndexes "true";\n' >"$ROOTFS/etc/apt/apt.conf.d/docker-gzip-indexes"
  printf 'APT::AutoRemove::SuggestsImportant "false";\n' >"$ROOTFS/etc/apt/apt.conf.d/docker-autoremove-suggests"
  cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/docker-slim" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
DPKG
  # Never start services from maintainer scripts inside image builds.
  printf '#!/bin/sh\nexit 101\n' >"$ROOTFS/usr/sbin/policy-rc.d"
  chmod 0755 "$ROOTFS/usr/sbin/policy-rc.d"

  # Host CA bundle (may contain a site/proxy CA). Also drop it into
  # /usr/local/share/ca-certificates so that installing the ca-certificates
  # package later (update-ca-certificates) keeps it in the bundle.
  mkdir -p "$ROOTFS/etc/ssl/certs" "$ROOTFS/usr/local/share/ca-certificates"
  cp "$HOST_CA_BUNDLE" "$ROOTFS/etc/ssl/certs/ca-certificates.crt"
  cp "$HOST_CA_BUNDLE" "$ROOTFS/usr/local/share/ca-certificates/standin-host-bundle.crt"

  # Slim down and drop host-specific files.
  find "$ROOTFS/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete 2>/dev/null || true
  find "$ROOTFS/usr/share/doc" -mindepth 1 -type d -empty -delete 2>/dev/null || true
  rm -rf "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/usr/share/lintian/* \
         "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/* "$ROOTFS"/var/cache/debconf/*-old \
         "$ROOTFS"/var/log/* "$ROOTFS"/tmp/* "$ROOTFS"/var/tmp/* \
         "$ROOTFS"/etc/resolv.conf "$ROOTFS"/etc/hostname
  find "$ROOTFS/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} + 2>/dev/null || true
  : >"$ROOTFS/etc/machine-id" 2>/dev/null || true

  tar --numeric-owner --xattrs -C "$ROOTFS" \
      --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -c . \
    | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
        --change 'CMD ["bash"]' \
        --message "debootstrap --variant=minbase $SUITE $DEBIAN_MIRROR" \
        - "$BASE_TAG" >/dev/null
  rm -rf --one-file-system "$ROOTFS"; ROOTFS=""
  log "    built $BASE_TAG ($(image_size "$BASE_TAG"))"
}

docker_build() { # docker_build TAG CONTEXT [build-args...]
  local tag="$1" ctx="$2"; shift 2
  local nocache=(); [ "$FORCE" = 1 ] && nocache=(--no-cache)
  docker build --force-rm "${nocache[@]}" -t "$tag" "$@" "$ctx" >&2
  log "    built $tag ($(image_size "$tag"))"
}

build_python() {
  log "==> building $PYTHON_TAG  (stand-in for official python:3.11-slim; Debian $SUITE python3.11 + pip)"
  docker_build "$PYTHON_TAG" "$HERE/python" --build-arg "BASE_IMAGE=$BASE_TAG"
}

build_postgres() {
  log "==> building $POSTGRES_TAG  (stand-in for official postgres:17; Debian $SUITE PostgreSQL 15 + official-style entrypoint)"
  docker_build "$POSTGRES_TAG" "$HERE/postgres" --build-arg "BASE_IMAGE=$BASE_TAG"
}

build_minio() {
  log "==> building $MINIO_TAG  (stand-in for official minio/minio; moto[server]==$MOTO_VERSION S3 API on :9000 + mc shim)"
  docker_build "$MINIO_TAG" "$HERE/minio" --build-arg "PYTHON_IMAGE=$PYTHON_TAG" --build-arg "MOTO_VERSION=$MOTO_VERSION"
}

print_mapping() {
  printf '%-40s %s\n' "stand-in image" "official image it replaces" \
    "$PYTHON_TAG" "python:3.11-slim" \
    "$POSTGRES_TAG" "postgres:17 (runs PostgreSQL 15 from Debian $SUITE)" \
    "$MINIO_TAG" "minio/minio (moto S3 server)" \
    "$BASE_TAG" "(intermediate base: debootstrap $SUITE minbase)"
}

main() {
  local want=()
  local arg
  for arg in "$@"; do
    case "$arg" in
      -h|--help) awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "${BASH_SOURCE[0]}"; exit 0 ;;
      --list) print_mapping; exit 0 ;;
      python|postgres|minio) want+=("$arg") ;;
      *) die "unknown argument '$arg' (expected: python postgres minio --list --help)" ;;
    esac
  done
  [ "${#want[@]}" -gt 0 ] || want=(python postgres minio)

  command -v docker >/dev/null || die "docker CLI not found"
  docker info >/dev/null 2>&1 || die "cannot talk to the Docker daemon"

  # "named": requested on the command line (or all, if none named) -> FORCE
  # applies to them. Parents that are only implied (python for minio, the
  # debian base) are built when missing; the base is force-rebuilt only on a
  # full FORCE=1 run (no image names) or with FORCE_BASE=1.
  local explicit=0; [ "$#" -gt 0 ] && explicit=1
  local do_python=0 do_postgres=0 do_minio=0 named_python=0
  for arg in "${want[@]}"; do
    case "$arg" in
      python) do_python=1; named_python=1 ;;
      postgres) do_postgres=1 ;;
      minio) do_minio=1; do_python=1 ;;  # minio stand-in is built FROM the python stand-in
    esac
  done

  local need_python=0 need_postgres=0 need_minio=0
  if [ "$named_python" = 1 ]; then
    needs_build "$PYTHON_TAG" && need_python=1
  elif [ "$do_python" = 1 ]; then
    image_exists "$PYTHON_TAG" || need_python=1
  fi
  if [ "$do_postgres" = 1 ] && needs_build "$POSTGRES_TAG"; then need_postgres=1; fi
  if [ "$do_minio" = 1 ] && needs_build "$MINIO_TAG"; then need_minio=1; fi

  local need_base=0
  if [ $((need_python + need_postgres)) -gt 0 ]; then
    if ! image_exists "$BASE_TAG" || [ "${FORCE_BASE:-0}" = 1 ] || { [ "$FORCE" = 1 ] && [ "$explicit" = 0 ]; }; then
      need_base=1
    fi
  fi

  [ "$need_base" = 1 ] && timed "$BASE_TAG" build_base
  if [ "$need_python" = 1 ]; then timed "$PYTHON_TAG" build_python
  elif [ "$do_python" = 1 ]; then log "skip $PYTHON_TAG (exists; stand-in for python:3.11-slim; FORCE=1 to rebuild)"; fi
  if [ "$need_postgres" = 1 ]; then timed "$POSTGRES_TAG" build_postgres
  elif [ "$do_postgres" = 1 ]; then log "skip $POSTGRES_TAG (exists; stand-in for postgres:17; FORCE=1 to rebuild)"; fi
  if [ "$need_minio" = 1 ]; then timed "$MINIO_TAG" build_minio
  elif [ "$do_minio" = 1 ]; then log "skip $MINIO_TAG (exists; stand-in for minio/minio; FORCE=1 to rebuild)"; fi

  if [ "${#TIMINGS[@]}" -gt 0 ]; then
    log "build times:"
    local t; for t in "${TIMINGS[@]}"; do log "    $t"; done
  fi
  log "stand-in images:"
  local tag
  for tag in "$BASE_TAG" "$PYTHON_TAG" "$POSTGRES_TAG" "$MINIO_TAG"; do
    if image_exists "$tag"; then log "    $tag  $(image_size "$tag")"; fi
  done
}

main "$@"
