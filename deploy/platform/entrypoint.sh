#!/bin/sh
# The webserver and the daemon start here as root for one reason: to join the group that owns the
# Docker socket, whose id differs from host to host. Then they drop to the unprivileged `dagster`
# user (uid 10001) with that one extra group, and exec the service: no service process runs as root.
#
# They need the socket because the daemon launches and monitors each run's container and the
# webserver terminates runs from the UI. Access to the socket is as good as root on the host (a
# container started through it can mount /), so no other service mounts it.
#
# DOCKER_GID (in .env) overrides the group id read from the socket.
set -eu
socket=/var/run/docker.sock
if [ "$(id -u)" != 0 ]; then
  exec "$@"  # already unprivileged (e.g. `docker run --user`): nothing to drop
fi
gid="${DOCKER_GID:-}"
if [ -z "$gid" ] && [ -S "$socket" ]; then
  gid="$(stat -c %g "$socket")"
fi
exec setpriv --reuid=dagster --regid=dagster --groups="${gid:-dagster}" --inh-caps=-all -- "$@"
