#!/usr/bin/env bash
# Entrypoint for the dataplatform-standin/postgres image; a condensed version of
# the official postgres image's docker-entrypoint.sh with the same environment
# contract:
#   POSTGRES_PASSWORD (required unless POSTGRES_HOST_AUTH_METHOD=trust)
#   POSTGRES_USER (default postgres), POSTGRES_DB (default $POSTGRES_USER)
#   PGDATA (default /var/lib/postgresql/data), POSTGRES_INITDB_ARGS,
#   POSTGRES_HOST_AUTH_METHOD (default scram-sha-256), *_FILE variants,
#   /docker-entrypoint-initdb.d/*.sh|*.sql|*.sql.gz on first start.
# Initialisation only happens when $PGDATA has no PG_VERSION; afterwards the
# server is simply started (exec, in the foreground, as user postgres).
set -Eeo pipefail

# file_env VAR [DEFAULT]: allow VAR_FILE (docker secrets) as an alternative to VAR
file_env() {
	local var="$1" fileVar="${1}_FILE" def="${2:-}"
	if [ "${!var:-}" ] && [ "${!fileVar:-}" ]; then
		printf >&2 'error: both %s and %s are set (but are exclusive)\n' "$var" "$fileVar"
		exit 1
	fi
	local val="$def"
	if [ "${!var:-}" ]; then
		val="${!var}"
	elif [ "${!fileVar:-}" ]; then
		val="$(< "${!fileVar}")"
	fi
	export "$var"="$val"
	unset "$fileVar"
}

docker_setup_env() {
	file_env 'POSTGRES_PASSWORD'
	file_env 'POSTGRES_USER' 'postgres'
	file_env 'POSTGRES_DB' "$POSTGRES_USER"
	file_env 'POSTGRES_INITDB_ARGS'
	: "${PGDATA:=/var/lib/postgresql/data}"
	export PGDATA
	: "${POSTGRES_HOST_AUTH_METHOD:=}"
	declare -g DATABASE_ALREADY_EXISTS=
	if [ -s "$PGDATA/PG_VERSION" ]; then
		DATABASE_ALREADY_EXISTS='true'
	fi
}

docker_create_db_directories() {
	local user; user="$(id -u)"
	mkdir -p "$PGDATA"
	chmod 00700 "$PGDATA" || :
	mkdir -p /var/run/postgresql || :
	chmod 03775 /var/run/postgresql || :
	if [ "$user" = '0' ]; then
		find "$PGDATA" \! -user postgres -exec chown postgres '{}' +
		find /var/run/postgresql \! -user postgres -exec chown postgres '{}' +
	fi
}

docker_verify_minimum_env() {
	if [ -z "$POSTGRES_PASSWORD" ] && [ 'trust' != "$POSTGRES_HOST_AUTH_METHOD" ]; then
		cat >&2 <<-'EOE'
			Error: Database is uninitialized and superuser password is not specified.
			       You must specify POSTGRES_PASSWORD to a non-empty value for the
			       superuser. For example, "-e POSTGRES_PASSWORD=password" on "docker run".

			       You may also use "POSTGRES_HOST_AUTH_METHOD=trust" to allow all
			       connections without a password. This is *not* recommended.
		EOE
		exit 1
	fi
}

docker_init_database_dir() {
	# initdb: superuser $POSTGRES_USER with $POSTGRES_PASSWORD; local (socket and
	# loopback) connections use initdb's default "trust", like the official image.
	eval 'initdb --username="$POSTGRES_USER" --pwfile=<(printf "%s\n" "$POSTGRES_PASSWORD") '"$POSTGRES_INITDB_ARGS"' "$@"'
}

pg_setup_hba_conf() {
	if [ "${1:-}" = 'postgres' ]; then shift; fi
	if [ -z "$POSTGRES_HOST_AUTH_METHOD" ]; then
		# PostgreSQL >= 14 defaults password_encryption to scram-sha-256
		POSTGRES_HOST_AUTH_METHOD="$(postgres -C password_encryption "$@" 2>/dev/null || echo scram-sha-256)"
		if [ "$POSTGRES_HOST_AUTH_METHOD" = on ]; then POSTGRES_HOST_AUTH_METHOD=md5; fi
	fi
	{
		printf '\n'
		if [ 'trust' = "$POSTGRES_HOST_AUTH_METHOD" ]; then
			printf '# warning trust is enabled for all connections\n'
		fi
		printf 'host all all all %s\n' "$POSTGRES_HOST_AUTH_METHOD"
	} >> "$PGDATA/pg_hba.conf"
}

docker_temp_server_start() {
	# internal start, unix socket only, so nobody connects during init
	if [ "${1:-}" = 'postgres' ]; then shift; fi
	set -- "$@" -c listen_addresses='' -p "${PGPORT:-5432}"
	PGUSER="${PGUSER:-$POSTGRES_USER}" \
		pg_ctl -D "$PGDATA" -o "$(printf '%q ' "$@")" -w start
}

docker_temp_server_stop() {
	PGUSER="${PGUSER:-postgres}" pg_ctl -D "$PGDATA" -m fast -w stop
}

# docker_process_sql [psql args...]; SQL on stdin
docker_process_sql() {
	local query_runner=( psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc )
	if [ -n "$POSTGRES_DB" ]; then
		query_runner+=( --dbname "$POSTGRES_DB" )
	fi
	PGHOST= PGHOSTADDR= "${query_runner[@]}" "$@"
}

docker_setup_db() {
	local dbAlreadyExists
	dbAlreadyExists="$(
		POSTGRES_DB= docker_process_sql --dbname postgres --set db="$POSTGRES_DB" --tuples-only <<-'EOSQL'
			SELECT 1 FROM pg_database WHERE datname = :'db' ;
		EOSQL
	)"
	if [ -z "$dbAlreadyExists" ]; then
		POSTGRES_DB= docker_process_sql --dbname postgres --set db="$POSTGRES_DB" <<-'EOSQL'
			CREATE DATABASE :"db" ;
		EOSQL
		printf '\n'
	fi
}

docker_process_init_files() {
	printf '\n'
	local f
	for f; do
		case "$f" in
			*.sh)
				if [ -x "$f" ]; then
					printf '%s: running %s\n' "$0" "$f"; "$f"
				else
					printf '%s: sourcing %s\n' "$0" "$f"; . "$f"
				fi
				;;
			*.sql)    printf '%s: running %s\n' "$0" "$f"; docker_process_sql -f "$f"; printf '\n' ;;
			*.sql.gz) printf '%s: running %s\n' "$0" "$f"; gunzip -c "$f" | docker_process_sql; printf '\n' ;;
			*)        printf '%s: ignoring %s\n' "$0" "$f" ;;
		esac
		printf '\n'
	done
}

_pg_want_help() {
	local arg
	for arg; do
		case "$arg" in
			-'?'|--help|--describe-config|-V|--version) return 0 ;;
		esac
	done
	return 1
}

_main() {
	# `docker run IMAGE -c foo=bar` -> postgres -c foo=bar
	if [ "${1:0:1}" = '-' ]; then
		set -- postgres "$@"
	fi

	if [ "$1" = 'postgres' ] && ! _pg_want_help "$@"; then
		docker_setup_env
		docker_create_db_directories
		if [ "$(id -u)" = '0' ]; then
			# drop privileges and re-run this script as postgres
			exec setpriv --reuid=postgres --regid=postgres --init-groups "${BASH_SOURCE[0]}" "$@"
		fi

		if [ -z "$DATABASE_ALREADY_EXISTS" ]; then
			docker_verify_minimum_env
			ls /docker-entrypoint-initdb.d/ > /dev/null
			docker_init_database_dir
			pg_setup_hba_conf "$@"

			export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"
			docker_temp_server_start "$@"
			docker_setup_db
			docker_process_init_files /docker-entrypoint-initdb.d/*
			docker_temp_server_stop
			unset PGPASSWORD

			printf '\nPostgreSQL init process complete; ready for start up.\n\n'
		else
			printf '\nPostgreSQL Database directory appears to contain a database; Skipping initialization\n\n'
		fi
	fi

	exec "$@"
}

_main "$@"
