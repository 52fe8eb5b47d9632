#!/usr/bin/env bash
# Smoke-test the stand-in images built by build.sh. Uses only a throwaway
# user-defined Docker network and named volumes (removed afterwards); no
# ports are published and no host Python packages are needed.
#
#   tests/e2e/standins/smoke-test.sh            # python, postgres, minio
#   tests/e2e/standins/smoke-test.sh minio      # just one
set -euo pipefail

PREFIX="${STANDIN_PREFIX:-dataplatform-standin}"
PY="$PREFIX/python:3.11-slim"
PG="$PREFIX/postgres:17"
MINIO="$PREFIX/minio:latest"
ID="standin-smoke-$$"
NET="$ID-net"

log() { printf '[smoke] %s\n' "$*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

cleanup() {
  docker rm -f "$ID-pg" "$ID-minio" >/dev/null 2>&1 || true
  docker network rm "$NET" >/dev/null 2>&1 || true
  docker volume rm "$ID-pgdata" "$ID-miniodata" >/dev/null 2>&1 || true
}
trap cleanup EXIT

wait_for() { # wait_for SECONDS cmd...
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

test_python() {
  log "python: $PY (stand-in for python:3.11-slim)"
  docker run --rm "$PY" python -c 'import ssl, sys; assert sys.version_info[:2] == (3, 11); print(sys.version)'
  docker run --rm "$PY" sh -ec 'command -v useradd >/dev/null; command -v groupadd >/dev/null; python3 -m venv /tmp/v; /tmp/v/bin/python -c "import ssl"'
  docker run --rm "$PY" sh -ec 'pip install -q --no-cache-dir uv 2>/dev/null; uv --version'
}

test_postgres() {
  log "postgres: $PG (stand-in for postgres:17)"
  local env=(-e POSTGRES_USER=smoke -e POSTGRES_PASSWORD=smoke-pw -e POSTGRES_DB=smokedb)
  docker run -d --name "$ID-pg" --network "$NET" "${env[@]}" -v "$ID-pgdata:/var/lib/postgresql/data" "$PG" >/dev/null
  wait_for 60 docker exec "$ID-pg" sh -c 'pg_isready -U "$POSTGRES_USER" -d "$POSTGRES_DB"' || fail "pg_isready"
  local psql=(docker run --rm --network "$NET" -e PGPASSWORD=smoke-pw --entrypoint psql "$PG" -h "$ID-pg" -U smoke -d smokedb -v ON_ERROR_STOP=1 -tAc)
  wait_for 30 "${psql[@]}" 'select 1' || fail "psql over the network"
  "${psql[@]}" 'create table t(x int); insert into t values (42)' >/dev/null
  if docker run --rm --network "$NET" -e PGPASSWORD=wrong --entrypoint psql "$PG" -h "$ID-pg" -U smoke -d smokedb -c 'select 1' >/dev/null 2>&1; then
    fail "wrong password accepted"
  fi
  docker stop "$ID-pg" >/dev/null && docker rm "$ID-pg" >/dev/null
  docker run -d --name "$ID-pg" --network "$NET" "${env[@]}" -v "$ID-pgdata:/var/lib/postgresql/data" "$PG" >/dev/null
  wait_for 60 docker exec "$ID-pg" sh -c 'pg_isready -U "$POSTGRES_USER" -d "$POSTGRES_DB"' || fail "pg_isready after restart"
  wait_for 30 "${psql[@]}" 'select 1' || fail "psql after restart"
  [ "$("${psql[@]}" 'select x from t')" = 42 ] || fail "data not preserved across container re-creation"
  log "postgres: ok (auth, network connect, data survives re-creation)"
}

test_minio() {
  log "minio: $MINIO (stand-in for minio/minio)"
  docker run -d --name "$ID-minio" --network "$NET" -v "$ID-miniodata:/data" \
    -e MINIO_ROOT_USER=minioadmin -e MINIO_ROOT_PASSWORD=minioadmin \
    "$MINIO" server /data --console-address :9001 >/dev/null
  wait_for 30 docker exec "$ID-minio" mc ready local || fail "mc ready local"
  docker exec "$ID-minio" curl -fsS -o /dev/null http://localhost:9000/minio/health/live || fail "health/live"
  local client=(docker run --rm --network "$NET" --entrypoint /opt/moto/bin/python "$MINIO" -c)
  local prelude="import boto3; from botocore.config import Config; s3 = boto3.client('s3', endpoint_url='http://$ID-minio:9000', aws_access_key_id='minioadmin', aws_secret_access_key='minioadmin', region_name='us-east-1', config=Config(s3={'addressing_style': 'path'}))"
  "${client[@]}" "$prelude; s3.create_bucket(Bucket='lake'); s3.put_object(Bucket='lake', Key='a/b.txt', Body=b'lake-data'); print(s3.get_object(Bucket='lake', Key='a/b.txt')['Body'].read())"
  docker stop "$ID-minio" >/dev/null && docker rm "$ID-minio" >/dev/null   # like `compose down`
  docker run -d --name "$ID-minio" --network "$NET" -v "$ID-miniodata:/data" "$MINIO" server /data --console-address :9001 >/dev/null
  wait_for 30 docker exec "$ID-minio" mc ready local || fail "mc ready local after restart"
  "${client[@]}" "$prelude; assert s3.get_object(Bucket='lake', Key='a/b.txt')['Body'].read() == b'lake-data'" \
    || fail "S3 data not preserved across container re-creation"
  log "minio: ok (mc ready, health/live, boto3 path-style, data survives re-creation)"
}

want=("$@"); [ "${#want[@]}" -gt 0 ] || want=(python postgres minio)
docker network create "$NET" >/dev/null
for w in "${want[@]}"; do
  case "$w" in
    python) test_python ;;
    postgres) test_postgres ;;
    minio) test_minio ;;
    *) fail "unknown image '$w'" ;;
  esac
done
log "all ok: ${want[*]}"
