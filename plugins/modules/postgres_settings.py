#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Check postgresql.conf settings against the running server, and reload it after a drop-in file changed."""

from __future__ import annotations

DOCUMENTATION = r"""
module: postgres_settings
short_description: Check PostgreSQL settings before they are written, reload them, and say which need a restart
version_added: 0.5.0
description:
  - Compares the wanted O(settings) with the running server (C(pg_settings)) - which differ, and which of those only
    take effect after a restart (context C(postmaster), such as C(shared_buffers), C(max_worker_processes),
    C(wal_buffers)).
  - Checks every wanted value the way PostgreSQL checks C(postgresql.conf) - the setting exists on this server, a
    boolean, one of an enum's labels, a number with a unit of the right kind, within the setting's range - and fails
    naming each bad one, before anything is written. With O(memory_mb), C(shared_buffers) must be below it.
  - With O(reload), after the drop-in O(file) was written - fails, without reloading, if PostgreSQL would refuse an
    entry of O(file) (C(pg_file_settings)) or does not read O(file) at all; otherwise reloads the configuration
    (the function C(pg_reload_conf)), waits until it was re-read, and reports each setting's value before and after
    and those waiting for a restart (C(pending_restart)). The module never restarts the server.
extends_documentation_fragment:
  - birtha.mlflow.postgres
  - birtha.mlflow.mlflow.attributes
options:
  database:
    description: The database to connect to; the settings are the whole server's.
    default: postgres
  settings:
    description: The wanted settings, name to value, as they are (to be) written in O(file).
    type: dict
    required: true
  origins:
    description:
      - Where each setting's value comes from (a variable name, say), named in error messages so the user knows
        what to fix. Settings not listed are named as they are.
    type: dict
    default: {}
  memory_mb:
    description: The host's memory; C(shared_buffers) at or above it is refused.
    type: int
  file:
    description:
      - The drop-in file holding O(settings). With O(reload), its entries are checked in C(pg_file_settings) before
        the reload; a setting whose live value comes from another file afterwards is reported in RV(overridden).
    type: path
  reload:
    description: Reload the server's configuration (after O(file) changed).
    type: bool
    default: false
  reload_timeout:
    description: Seconds to wait for the reloaded configuration to be in effect.
    type: int
    default: 10
attributes:
  check_mode:
    support: full
    details: Checks the values and compares them with the running server as usual; with O(reload), checks nothing in
      O(file) and does not reload, but reports C(changed) and which settings would wait for a restart.
  diff_mode:
    support: none
seealso:
  - module: birtha.mlflow.postgres_index
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Check the wanted settings (nothing is written yet)
  birtha.mlflow.postgres_settings:
    settings:
      shared_buffers: 2GB
      random_page_cost: 1.1
    memory_mb: "{{ ansible_facts['memtotal_mb'] }}"
  become: true
  become_user: postgres
  register: wanted

- name: Reload after the drop-in changed
  birtha.mlflow.postgres_settings:
    settings: {shared_buffers: 2GB, random_page_cost: 1.1}
    file: /etc/postgresql/15/main/conf.d/60-birtha-tuning.conf
    reload: true
  become: true
  become_user: postgres
  register: applied

- name: Restart when a setting waits for it
  ansible.builtin.systemd_service:
    name: postgresql@15-main
    state: restarted
  when: applied.pending_restart | length > 0
"""

RETURN = r"""
settings:
  description:
    - Per wanted setting - C(wanted) (as given), C(before) and C(after) (as C(SHOW) prints them; without a reload
      both are the live value), C(differs) (the live value before was not the wanted one), C(context),
      C(needs_restart) (a change takes effect only after a restart), C(pending_restart) (after this run).
  returned: always
  type: dict
  sample:
    shared_buffers: {wanted: 2048MB, before: 128MB, after: 128MB, differs: true, context: postmaster,
                     needs_restart: true, pending_restart: true}
changes:
  description: Settings whose live value was not the wanted one.
  returned: always
  type: list
  elements: str
pending_restart:
  description:
    - Wanted settings that wait for a restart (after the reload; in check mode, the ones that would).
  returned: always
  type: list
  elements: str
reloaded:
  description: Whether the configuration was reloaded (in check mode, whether it would be).
  returned: always
  type: bool
overridden:
  description: Settings whose live value is not the wanted one and comes from another file, with that file and line.
  returned: always
  type: dict
other_file_errors:
  description:
    - Entries of other configuration files PostgreSQL refuses (file, line, name, error). A restart with any of them
      would fail.
  returned: always
  type: list
  elements: dict
"""

from typing import Any

from ansible_collections.birtha.mlflow.plugins.module_utils.pg_tuning import (
    NOT_APPLIED,
    Setting,
    as_text,
    current_value,
    file_entries,
    file_errors,
    memory_bytes,
    normalize,
    read_settings,
    reload_config,
    same_value,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.postgres import PostgresError, PostgresModule


def argument_spec() -> dict[str, Any]:
    return {
        "settings": {"type": "dict", "required": True},
        "origins": {"type": "dict", "default": {}},
        "memory_mb": {"type": "int"},
        "file": {"type": "path"},
        "reload": {"type": "bool", "default": False},
        "reload_timeout": {"type": "int", "default": 10},
    }


def origin(name: str, origins: dict[str, Any]) -> str:
    return f" (set by {origins[name]})" if origins.get(name) else ""


def check_values(wanted: dict[str, Any], live: dict[str, Setting], params: dict[str, Any]) -> list[str]:
    """What PostgreSQL would refuse, one line per setting; empty when every value is fine."""
    origins = params["origins"]
    memory = params.get("memory_mb")
    problems = []
    for name, value in sorted(wanted.items()):
        if name not in live:
            problems.append(
                f"{name}{origin(name, origins)} is not a setting of this PostgreSQL server: fix its name or remove it"
            )
            continue
        try:
            if name == "shared_buffers" and memory and memory_bytes(value, live[name]) >= memory * 1024**2:
                raise ValueError(
                    f"is not below the host's memory ({memory} MB): PostgreSQL would not start, or the host would "
                    f"swap. Use about a quarter of it ({memory // 4}MB), or leave the computed default"
                )
            normalize(value, live[name])
        except ValueError as error:
            problems.append(f"{name} = {as_text(value)!r}{origin(name, origins)} {error}")
    return problems


def refused_here(errors: list[dict[str, Any]], path: str | None, restart_wait: set[str]) -> list[dict[str, Any]]:
    """Errors of pg_file_settings in path, leaving out a valid postmaster setting that only waits for a restart."""
    return [
        error
        for error in errors
        if error["file"] == path and not (error["error"] == NOT_APPLIED and error["name"] in restart_wait)
    ]


def refused_elsewhere(errors: list[dict[str, Any]], path: str | None, fatal_only: bool) -> list[dict[str, Any]]:
    """Errors of the other files: with fatal_only, those that stop PostgreSQL from applying anything on a reload (an
    unknown setting, a syntax error); else also invalid values (a restart would fail on them), leaving out settings
    that only wait for a restart."""
    return [
        error
        for error in errors
        if error["file"] != path
        and not error["restart_notice"]
        and (
            error["error"] != NOT_APPLIED
            if fatal_only
            else not (error["error"] == NOT_APPLIED and error["pending_restart"])
        )
    ]


def describe(errors: list[dict[str, Any]]) -> str:
    return "; ".join(
        f"{e['file']} line {e['line']}: {e['name']} = {e['value']!r}: {e['error']}"
        + (" (an invalid value; the server log says why)" if e["error"] == NOT_APPLIED else "")
        for e in errors
    )


def main() -> None:
    module = PostgresModule(argument_spec(), database="postgres", supports_check_mode=True)
    params = module.params
    wanted: dict[str, Any] = params["settings"]
    path = params["file"]
    predict = module.check_mode and params["reload"]
    reloaded = False
    try:
        with module.connection(autocommit=True) as connection, connection.cursor() as cursor:
            before = read_settings(cursor, list(wanted))
            problems = check_values(wanted, before, params)
            if problems:
                module.fail_json(
                    msg="PostgreSQL would refuse these settings: " + "; ".join(problems) + ". Nothing was changed.",
                    problems=problems,
                )
            differs = {
                name
                for name, value in wanted.items()
                if not same_value(normalize(value, before[name]), current_value(before[name]))
            }
            # What waits for a restart once the file is read: a changed postmaster setting. (One that is pending
            # now but already has the wanted value stops waiting when the file is reloaded.)
            restart_wait = {name for name in differs if before[name].needs_restart}
            if params["reload"] and not module.check_mode:
                errors = file_errors(cursor)
                if path and wanted and not file_entries(cursor, path):
                    module.fail_json(
                        msg=f"PostgreSQL does not read {path}: its postgresql.conf has no include_dir for that "
                        "directory (Debian's has include_dir = 'conf.d'); nothing was reloaded"
                    )
                refused = refused_here(errors, path, restart_wait)
                if refused:
                    module.fail_json(
                        msg=f"PostgreSQL refuses {path}; nothing was reloaded: {describe(refused)}",
                        file_errors=refused,
                    )
                elsewhere = refused_elsewhere(errors, path, fatal_only=True)
                if elsewhere:
                    module.fail_json(
                        msg="PostgreSQL refuses another configuration file, so a reload would apply nothing and a "
                        f"restart would fail; fix it first: {describe(elsewhere)}",
                        file_errors=elsewhere,
                    )
                if not reload_config(cursor, params["reload_timeout"]):
                    module.fail_json(
                        msg=f"PostgreSQL did not re-read its configuration within {params['reload_timeout']} s"
                    )
                reloaded = True
            after = read_settings(cursor, list(wanted)) if reloaded else before
            other_errors = refused_elsewhere(file_errors(cursor), path, fatal_only=False)
    except PostgresError as error:
        module.fail_postgres(error, "Nothing was reloaded.")

    pending = sorted(restart_wait) if predict else sorted(name for name in wanted if after[name].pending_restart)
    overridden = {
        name: f"{setting.sourcefile}:{setting.sourceline}" if setting.sourcefile else setting.source
        for name, setting in after.items()
        if path
        and not predict
        and name not in pending
        and not same_value(normalize(wanted[name], setting), current_value(setting))
        and (setting.sourcefile or "") != path
    }
    result = {
        name: {
            "wanted": as_text(value),
            "before": before[name].shown,
            "after": after[name].shown,
            "differs": name in differs,
            "context": before[name].context,
            "needs_restart": before[name].needs_restart,
            "pending_restart": name in pending,
        }
        for name, value in sorted(wanted.items())
    }
    module.exit_json(
        changed=reloaded or predict,
        settings=result,
        changes=sorted(differs),
        pending_restart=pending,
        reloaded=reloaded or predict,
        overridden=overridden,
        other_file_errors=other_errors,
    )


if __name__ == "__main__":
    main()
