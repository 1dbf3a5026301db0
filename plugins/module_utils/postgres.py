# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""The one way a module reaches PostgreSQL: the shared options, the driver check, connections and the wording
of a failure. The questions themselves live in mlflow_sql (MLflow's tables) and pg_tuning (settings, indexes).

Modules run on the database host as the postgres OS user and connect over the Unix socket (peer
authentication), so no password is needed or passed.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

PSYCOPG2_IMPORT_ERROR: str | None
try:
    import psycopg2
    from psycopg2 import sql  # pylint: disable=unused-import  # for pg_state, pg_stats, mlflow_sql
except ImportError:
    PSYCOPG2_IMPORT_ERROR = traceback.format_exc()
    psycopg2 = None  # type: ignore[assignment]
    sql = None  # type: ignore[assignment]  # the modules fail through PostgresModule before any query

    class PostgresError(Exception):  # type: ignore[no-redef]
        """Stands in for psycopg2.Error so that `except PostgresError` compiles; without the driver a module fails
        before any query."""

else:
    PSYCOPG2_IMPORT_ERROR = None
    PostgresError = psycopg2.Error

# Marks the database option as required (the module works in one database the user must name).
REQUIRED = object()

PEER_HINT = "Run this on the database host as the postgres user (become_user: postgres) and check database/port."


def postgres_argument_spec(database: object = REQUIRED) -> dict[str, dict[str, Any]]:
    """port, and database: required (REQUIRED), defaulting to a name (a str), or absent (None)."""
    spec: dict[str, dict[str, Any]] = {"port": {"type": "int", "default": 5432}}
    if database is REQUIRED:
        spec["database"] = {"type": "str", "required": True}
    elif isinstance(database, str):
        spec["database"] = {"type": "str", "default": database}
    return spec


@contextmanager
def connect(dbname: str, port: int = 5432, host: str | None = None, user: str | None = None) -> Iterator[Any]:
    """A connection to dbname; closed afterwards. Defaults reach the local server over its Unix socket."""
    connection = psycopg2.connect(dbname=dbname, port=port, host=host, user=user)
    try:
        yield connection
    finally:
        connection.close()


class PostgresModule(AnsibleModule):
    """AnsibleModule with the shared PostgreSQL options (doc fragment birtha.mlflow.postgres), the driver
    checked before anything runs, and one wording for a failed connection or query."""

    def __init__(self, argument_spec: dict[str, Any], database: object = REQUIRED, **kwargs: Any) -> None:
        spec = postgres_argument_spec(database)
        spec.update(argument_spec)
        super().__init__(argument_spec=spec, **kwargs)
        if PSYCOPG2_IMPORT_ERROR:
            self.fail_json(
                msg=missing_required_lib("psycopg2") + " On Debian: the package python3-psycopg2 (platform_up.yml "
                "installs it on the database hosts).",
                exception=PSYCOPG2_IMPORT_ERROR,
            )

    @contextmanager
    def connection(self, database: str | None = None, autocommit: bool = False) -> Iterator[Any]:
        """A connection to database (default: the database option) on the port option."""
        with connect(database or self.params["database"], port=self.params["port"]) as opened:
            opened.autocommit = autocommit
            yield opened

    def fail_postgres(
        self, exc: BaseException, consequence: str, database: str | None = None, **result: Any
    ) -> NoReturn:
        """fail_json naming the database, the port, PostgreSQL's message, the usual fix and what the failure left
        (consequence); result is returned with it."""
        name = database or self.params.get("database") or "postgres"
        self.fail_json(
            msg=f"Could not work in database {name} on port {self.params['port']}: {str(exc).strip().rstrip('.')}. "
            f"{PEER_HINT} {consequence}".rstrip(),
            exception=traceback.format_exc(),
            **result,
        )
        raise AssertionError("fail_json returned")  # pragma: no cover - fail_json exits
