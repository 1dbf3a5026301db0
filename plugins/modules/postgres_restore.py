#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Restore a postgres_dump file into a new database, verify it, and optionally swap it into place."""

from __future__ import annotations

DOCUMENTATION = r"""
module: postgres_restore
short_description: Restore a postgres_dump file into a new database, verify it against the manifest, swap it in
version_added: 0.3.0
description:
  - Decrypts and decompresses a dump written by M(birtha.mlflow.postgres_dump) into a scratch file, creates
    O(database) and restores into it with C(pg_restore -j) (parallel).
  - Compares every table's row count and checksum with O(expected) (the manifest's). Any difference fails the task,
    the restored database is dropped and nothing is swapped.
  - With O(swap_into), the verified database then takes that name. The database that had it is renamed to
    C(<swap_into>_before_restore_<timestamp>) and kept, so the restore can be rolled back by renaming back.
    Connections to it are terminated first (stop MLflow before).
  - With O(drop_after), the restored database is dropped once verified (the rehearsal of
    C(playbooks/backup_verify.yml)).
extends_documentation_fragment:
  - birtha.mlflow.mlflow.backup_encoding
  - birtha.mlflow.postgres
  - birtha.mlflow.mlflow.attributes
options:
  src:
    description: Path of the dump file on the database host. Required unless O(restore=false).
    type: path
  database:
    description: Name of the database to create and restore into. It must not exist.
    required: true
  owner:
    description: Owner of the new database.
    type: str
    default: postgres
  jobs:
    description: Parallel C(pg_restore) jobs.
    type: int
    default: 2
  workdir:
    description: Directory for the decoded scratch copy of the dump (removed afterwards).
    type: path
    default: /var/tmp
  expected:
    description: The manifest's tables (name to C(rows) and C(checksum)). Without it nothing is compared.
    type: dict
  roles_src:
    description:
      - A roles file from M(birtha.mlflow.postgres_dump), applied first but only when O(owner) does not exist (a
        restore onto a new server). On a server that has the roles they are left alone, so a restore never
        puts back an old password.
    type: path
  swap_into:
    description: Rename the verified database to this name, keeping the current one under a rollback name.
    type: str
  restore:
    description:
      - V(false) skips the restore and only swaps O(database), restored and verified by an earlier call, into
        O(swap_into). Restoring every database first and swapping them all afterwards keeps a failed verification
        from leaving some databases swapped and others not.
    type: bool
    default: true
  src_sha256:
    description: The manifest's sha256 of O(src). A file that differs fails the task before anything is restored.
    type: str
  drop_after:
    description: Drop the restored database after it was verified.
    type: bool
    default: false
attributes:
  check_mode:
    support: full
    details: Checks that O(src) exists and matches O(src_sha256) and that O(database) does not exist yet (with
      O(restore=false), that it exists); restores, verifies, swaps and drops nothing, and reports C(changed).
  diff_mode:
    support: none
requirements:
  - pg_restore and psql on the database host
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Restore the MLflow database from a set and swap it into place
  birtha.mlflow.postgres_restore:
    src: /var/backups/mlflow/sets/20261128T101500Z/postgres/mlflow_db.dump.zst.gpg
    database: mlflow_db_restore_20261128T101500Z
    owner: mlflow
    passphrase: "{{ vault_backup_passphrase }}"
    expected: "{{ manifest.postgres.databases.mlflow_db.tables }}"
    swap_into: mlflow_db
  become: true
  become_user: postgres
"""

RETURN = r"""
database:
  description: The database restored into (its final name after O(swap_into)).
  returned: always
  type: str
previous_database:
  description: Where the database that had the name O(swap_into) was kept (rename it back to roll back).
  returned: when O(swap_into) and a database had that name (also on a failure after the first rename)
  type: str
tables:
  description: Rows and checksum of every table after the restore.
  returned: success and not in check mode
  type: dict
roles_applied:
  description: Whether O(roles_src) was applied (only when O(owner) did not exist).
  returned: when it was applied
  type: bool
problems:
  description: Differences from O(expected), in words.
  returned: always
  type: list
  elements: str
"""

import datetime
import os
import subprocess
import tempfile
import traceback
from typing import Any

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.birtha.mlflow.plugins.module_utils.backup_stream import (
    Encoding,
    StreamError,
    copy_stream,
    decoded_reader,
    encoding_argument_spec,
    sha256_file,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.pg_state import compare_states, database_state
from ansible_collections.birtha.mlflow.plugins.module_utils.postgres import PostgresModule, connect, sql


def argument_spec() -> dict[str, Any]:
    return {
        "src": {"type": "path"},
        "restore": {"type": "bool", "default": True},
        "src_sha256": {"type": "str"},
        "owner": {"type": "str", "default": "postgres"},
        "jobs": {"type": "int", "default": 2},
        "workdir": {"type": "path", "default": "/var/tmp"},
        "expected": {"type": "dict"},
        "roles_src": {"type": "path"},
        "swap_into": {"type": "str"},
        "drop_after": {"type": "bool", "default": False},
        **encoding_argument_spec(),
    }


def run(command: list[str], stdin: Any = None) -> str:
    done = subprocess.run(command, stdin=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise StreamError(f"{command[0]} failed: {done.stderr.strip() or done.stdout.strip() or 'no message'}")
    return done.stderr


def database_exists(port: int, name: str) -> bool:
    with connect("postgres", port=port) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return cursor.fetchone() is not None


def role_exists(port: int, name: str) -> bool:
    with connect("postgres", port=port) as connection, connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
        return cursor.fetchone() is not None


def admin(port: int, statements: list[Any]) -> None:
    """Run statements that cannot run in a transaction (CREATE/DROP/ALTER DATABASE) one by one."""
    with connect("postgres", port=port) as connection:
        connection.autocommit = True
        with connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)


def terminate(name: str) -> Any:
    return sql.SQL(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = {} AND pid <> pg_backend_pid()"
    ).format(sql.Literal(name))


def apply_roles(params: dict[str, Any], encoding: Encoding) -> None:
    """Create the roles the dump's objects belong to. psql goes on past 'already exists'."""
    with decoded_reader(params["roles_src"], encoding) as stream:
        subprocess.run(
            ["psql", "-q", f"--port={params['port']}", "-d", "postgres"], stdin=stream, capture_output=True, check=False
        )


def restore(params: dict[str, Any], encoding: Encoding) -> None:
    name = params["database"]
    admin(
        params["port"],
        [sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(params["owner"]))],
    )
    with tempfile.NamedTemporaryFile(dir=params["workdir"], prefix="birtha-restore-", suffix=".dump") as scratch:
        with decoded_reader(params["src"], encoding) as stream:
            copy_stream(stream, scratch)
        scratch.flush()
        run(
            [
                "pg_restore",
                f"--port={params['port']}",
                f"--dbname={name}",
                f"--jobs={params['jobs']}",
                "--exit-on-error",
                scratch.name,
            ]
        )


def rename(name: str, new_name: str) -> list[Any]:
    return [
        terminate(name),
        sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(name), sql.Identifier(new_name)),
    ]


def swap(params: dict[str, Any], result: dict[str, Any]) -> None:
    """Give the restored database the name swap_into; keep the one that had it for rollback.

    The rollback name goes into result before anything is renamed, and if the second rename fails the first
    is undone, so the platform never ends up without a database under swap_into.
    """
    target, restored, port = params["swap_into"], params["database"], params["port"]
    if database_exists(port, target):
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        previous = f"{target}_before_restore_{stamp}"
        result["previous_database"] = previous
        admin(port, rename(target, previous))
        try:
            admin(port, rename(restored, target))
        except Exception:
            admin(port, rename(previous, target))
            del result["previous_database"]
            raise
    else:
        admin(port, rename(restored, target))
    result["database"] = target


def drop(port: int, name: str) -> None:
    admin(port, [terminate(name), sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(name))])


def restore_and_verify(module: AnsibleModule, encoding: Encoding, result: dict[str, Any]) -> None:
    params = module.params
    name = params["database"]
    if not params["src"] or not os.path.isfile(params["src"]):
        module.fail_json(msg=f"src: {params['src']} does not exist on this host.", **result)
    if params["src_sha256"] and sha256_file(params["src"]) != params["src_sha256"]:
        module.fail_json(
            msg=f"src: {params['src']} does not have the manifest's sha256: damaged or replaced.", **result
        )
    if database_exists(params["port"], name):
        module.fail_json(
            msg=f"database: {name} exists already; restore into a new name (nothing was changed).", **result
        )
    if module.check_mode:
        module.exit_json(changed=True, **result)
    if params["roles_src"] and not role_exists(params["port"], params["owner"]):
        apply_roles(params, encoding)
        result["roles_applied"] = True
    verified = False
    try:
        restore(params, encoding)
        with connect(name, port=params["port"]) as connection, connection.cursor() as cursor:
            result["tables"] = database_state(cursor, checksum=True)
        if params["expected"] is not None:
            result["problems"] = compare_states(params["expected"], result["tables"])
        verified = not result["problems"]
    finally:
        # A rehearsal leaves no scratch database behind, and neither does a failed restore, so the next
        # attempt can use the same name.
        if params["drop_after"] or not verified:
            drop(params["port"], name)
    if result["problems"]:
        module.fail_json(
            msg=f"The restored database {name} does not match the backup's manifest (dropped; nothing was swapped): "
            + "; ".join(result["problems"][:20]),
            **result,
        )


def main() -> None:
    module = PostgresModule(argument_spec(), supports_check_mode=True, mutually_exclusive=[("swap_into", "drop_after")])
    params = module.params
    encoding = Encoding.from_params(params)
    name = params["database"]
    result: dict[str, Any] = {"database": name, "problems": []}
    try:
        if params["restore"]:
            restore_and_verify(module, encoding, result)
        elif not database_exists(params["port"], name):
            module.fail_json(msg=f"database: {name} does not exist; restore it first (restore=true).", **result)
        if params["swap_into"] and not module.check_mode:
            swap(params, result)
    except StreamError as exc:
        module.fail_json(msg=f"Restore of {params['src']} into {name} failed: {exc}", **result)
    except Exception as exc:
        module.fail_json(
            msg=f"Restore of {params['src']} into {name} failed: {exc}", exception=traceback.format_exc(), **result
        )
    module.exit_json(changed=True, **result)


if __name__ == "__main__":
    main()
