"""Dagster's Postgres storage with its connections kept open, as dagster-webserver keeps its own.

DagsterPostgresStorage opens a new connection for every query (SQLAlchemy's NullPool) in every
process but the webserver. Measured on the compose stack (2 cores): at idle, the daemon, code
servers and run workers opened about 12 connections a second, each 13 ms of connect and
authentication (4 ms of the client's CPU, plus a Postgres backend started and ended); a run writes
each of its events on a connection of its own.

Here each of the three storages (runs, event log, schedules) keeps one connection open per process
(`pool_size=1`); concurrent use beyond it (the daemon's threads) opens more for the moment, as
before (`max_overflow`). A kept connection is checked with a round trip before each use
(`pool_pre_ping`): one that a Postgres restart broke is replaced then, never handed to a query.
"""

from collections.abc import Mapping
from typing import Any

from dagster._serdes import ConfigurableClassData
from dagster_postgres import DagsterPostgresStorage
from dagster_postgres.utils import create_pg_engine, get_token_provider_from_config, pg_url_from_config

POOL = {"pool_size": 1, "max_overflow": 20, "pool_pre_ping": True, "pool_recycle": 3600}


class PooledPostgresStorage(DagsterPostgresStorage):
    def __init__(self, postgres_url: str, should_autocreate_tables: bool = True,
                 inst_data: ConfigurableClassData | None = None, token_provider: Any = None):
        super().__init__(postgres_url, should_autocreate_tables, inst_data, token_provider)
        # Each storage queries through its `_engine` (dagster_postgres' own optimize_for_webserver
        # replaces it the same way).
        for storage in (self._run_storage, self._event_log_storage, self._schedule_storage):
            storage._engine.dispose()
            storage._engine = create_pg_engine(postgres_url, token_provider, isolation_level="AUTOCOMMIT", **POOL)

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value: Mapping[str, Any]):
        return cls(
            pg_url_from_config(config_value),
            config_value.get("should_autocreate_tables", True),
            inst_data,
            get_token_provider_from_config(config_value),
        )
