# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""What differs between MLflow's live database and a copy of it as it was at an earlier time (a point-in-time
recovery), told per MLflow object - experiment, run, registered model - with the times MLflow recorded.

Two passes keep it cheap on a large metrics table: an order-independent digest of each owner's rows (a run's
params, an experiment's tags, ...) on both sides, then the rows of only the owners whose digests differ.
Tables this module does not know (a newer MLflow's) are still compared, whole, so nothing that changed goes
unreported. Connections come from postgres.py.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.birtha.mlflow.plugins.module_utils.pg_state import (
    alembic_revision,
    table_exists,
    table_state,
    user_tables,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.postgres import sql

KINDS = ("experiment", "run", "registered_model")


@dataclass(frozen=True)
class TableSpec:
    """One MLflow table: the object its rows belong to (owner_kind, named by the owner column) and the columns that
    name a row within that object (none for the object's own row). split: columns the digests also group by, so
    that only the differing groups' rows are read (a run that logged one metric more is not read whole)."""

    table: str
    owner_kind: str
    owner: str
    key: tuple[str, ...]
    label: str
    split: tuple[str, ...] = ()


SPECS: tuple[TableSpec, ...] = (
    TableSpec("experiments", "experiment", "experiment_id", (), "experiment"),
    TableSpec("experiment_tags", "experiment", "experiment_id", ("key",), "experiment tag"),
    TableSpec("runs", "run", "run_uuid", (), "run"),
    TableSpec("params", "run", "run_uuid", ("key",), "param"),
    TableSpec("tags", "run", "run_uuid", ("key",), "tag"),
    TableSpec("metrics", "run", "run_uuid", ("key", "step", "timestamp"), "metric", split=("key",)),
    TableSpec("latest_metrics", "run", "run_uuid", ("key",), "latest metric"),
    TableSpec("registered_models", "registered_model", "name", (), "registered model"),
    TableSpec("registered_model_tags", "registered_model", "name", ("key",), "model tag"),
    TableSpec("model_versions", "registered_model", "name", ("version",), "version"),
    TableSpec("model_version_tags", "registered_model", "name", ("version", "key"), "version tag"),
    TableSpec("registered_model_aliases", "registered_model", "name", ("alias",), "alias"),
)
MAIN_TABLES = {"experiment": "experiments", "run": "runs", "registered_model": "registered_models"}
# Times MLflow records on an object's own row (milliseconds since the epoch), reported with it.
TIME_COLUMNS = {
    "experiment": ("creation_time", "last_update_time"),
    "run": ("start_time", "end_time"),
    "registered_model": ("creation_time", "last_updated_time"),
}
NAME_COLUMNS = {"experiment": "name", "run": "name", "registered_model": "name"}
SKIPPED_TABLES = {"alembic_version"}
# Objects named one by one in the summary (all of them are in the result).
SUMMARY_OBJECTS = 50

# (owner, *split values) -> (rows, checksum)
Digests = dict[tuple[str, ...], tuple[int, str]]
Rows = dict[tuple[str, tuple[str, ...]], list[dict[str, Any]]]


@dataclass
class ObjectReport:
    """What changed in one experiment, run or registered model."""

    kind: str
    id: str
    change: str = "changed"
    name: str = ""
    experiment_id: str = ""
    times: dict[str, str] = field(default_factory=dict)
    details: list[str] = field(default_factory=list)

    def as_dict(self, max_details: int) -> dict[str, Any]:
        shown = self.details[:max_details]
        if len(self.details) > max_details:
            shown.append(f"... and {len(self.details) - max_details} more")
        result: dict[str, Any] = {"object": self.kind, "id": self.id, "change": self.change, "name": self.name}
        if self.kind == "run":
            result["experiment_id"] = self.experiment_id
        result.update(times=self.times, details=shown)
        return result


def table_columns(cursor: Any, table: str) -> set[str]:
    cursor.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = %s",
        (table,),
    )
    return {row[0] for row in cursor.fetchall()}


def group_columns(spec: TableSpec) -> Any:
    """The owner and split columns as text, for SELECT and GROUP BY."""
    return sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in (spec.owner, *spec.split))


def owner_digests(cursor: Any, spec: TableSpec, extra: list[str]) -> Digests:
    """Rows and an order-independent checksum (as pg_state's) per owner (and split values) of the table's rows,
    without the columns only this side has (extra: a copy from before an MLflow upgrade lacks those it added)."""
    width = 1 + len(spec.split)
    cursor.execute(
        sql.SQL(
            "SELECT {groups}, count(*), "
            "sum(('x' || left(md5((to_jsonb(t) - %s::text[])::text), 16))::bit(64)::bigint::numeric)::text "
            "FROM {table} AS t GROUP BY {positions}"
        ).format(
            groups=group_columns(spec),
            table=sql.Identifier(spec.table),
            positions=sql.SQL(", ").join(sql.Literal(n) for n in range(1, width + 1)),
        ),
        (extra,),
    )
    return {tuple(row[:width]): (row[width], row[width + 1]) for row in cursor.fetchall()}


def differing_owners(live: Digests, reference: Digests) -> set[tuple[str, ...]]:
    """Owners (with split values) whose rows are not the same on both sides (present on one side only included)."""
    return {group for group in live.keys() | reference.keys() if live.get(group) != reference.get(group)}


def owner_rows(cursor: Any, spec: TableSpec, groups: Iterable[tuple[str, ...]], extra: list[str]) -> Rows:
    """The table's rows of these owners (tuples of owner and split values), without the extra columns, grouped by
    (owner, row key); each group sorted so equal groups compare equal (a metric may hold two values at one step and
    time)."""
    chosen = sorted(groups)
    columns = [[group[n] for group in chosen] for n in range(1 + len(spec.split))]
    cursor.execute(
        sql.SQL(
            "SELECT to_jsonb(t) - %s::text[] FROM {table} AS t WHERE ({groups}) IN (SELECT * FROM unnest({arrays}))"
        ).format(
            table=sql.Identifier(spec.table),
            groups=group_columns(spec),
            arrays=sql.SQL(", ").join(sql.SQL("%s::text[]") for _column in columns),
        ),
        (extra, *columns),
    )
    grouped: Rows = {}
    for (row,) in cursor.fetchall():
        key = (str(row[spec.owner]), tuple(str(row.get(column)) for column in spec.key))
        grouped.setdefault(key, []).append(row)
    for rows in grouped.values():
        rows.sort(key=lambda row: json.dumps(row, sort_keys=True, default=str))
    return grouped


def changed_columns(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Columns whose values differ, in name order."""
    return sorted(column for column in before.keys() | after.keys() if before.get(column) != after.get(column))


def shown_value(value: Any, chars: int = 60) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else f"'{value}'"
    return text if len(text) <= chars else text[: chars - 3] + "..."


def iso_ms(value: Any) -> str:
    """An MLflow time (milliseconds since the epoch) in ISO 8601 UTC; empty when unset."""
    if value is None or value == "":
        return ""
    moment = datetime.datetime.fromtimestamp(int(value) / 1000, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def row_name(spec: TableSpec, key: tuple[str, ...]) -> str:
    """How a row is named within its object: 'param lr', 'metric loss (step 3 at <time>)', 'version 2 tag x'."""
    if spec.table == "metrics":
        return f"metric {key[0]} (step {key[1]} at {iso_ms(key[2])})"
    if spec.table == "model_version_tags":
        return f"version {key[0]} tag {key[1]}"
    return f"{spec.label} {' '.join(key)}".strip()


def row_details(spec: TableSpec, key: tuple[str, ...], live: list[dict], reference: list[dict]) -> list[str]:
    """Lines naming how one row (or a row group) differs: added, removed, or its changed values."""
    name = row_name(spec, key)
    if not reference:
        return [f"{name} added" + (f" = {shown_value(live[0].get('value'))}" if "value" in live[0] else "")]
    if not live:
        return [
            f"{name} removed" + (f" (was {shown_value(reference[0].get('value'))})" if "value" in reference[0] else "")
        ]
    if len(live) != 1 or len(reference) != 1:
        return [f"{name}: {len(reference)} rows then, {len(live)} now"]
    before, after = reference[0], live[0]
    return [
        f"{name} {column}: {shown_value(before.get(column))} -> {shown_value(after.get(column))}"
        for column in changed_columns(before, after)
    ]


def object_report(kind: str, owner: str, live: dict | None, reference: dict | None) -> ObjectReport:
    """The object's own entry from its main row on each side (either may be missing)."""
    row = live or reference or {}
    report = ObjectReport(kind=kind, id=owner, name=str(row.get(NAME_COLUMNS[kind]) or ""))
    report.experiment_id = str(row.get("experiment_id") or "")
    report.change = "added" if reference is None and live is not None else "removed" if live is None else "changed"
    report.times = {column: iso_ms(row.get(column)) for column in TIME_COLUMNS[kind] if row.get(column) is not None}
    return report


def compare_table(
    spec: TableSpec, live: Rows, reference: Rows, objects: dict[tuple[str, str], ObjectReport]
) -> dict[str, int]:
    """Adds the table's differences to the objects' details; returns the table's rows added, removed, changed."""
    counts = {"added": 0, "removed": 0, "changed": 0}
    for key in sorted(live.keys() | reference.keys()):
        now, then = live.get(key, []), reference.get(key, [])
        if now == then:
            continue
        counts["added" if not then else "removed" if not now else "changed"] += 1
        if not spec.key and not (now and then):
            continue  # the object's own row added or removed: its entry's change says so
        owner = key[0]
        report = objects.get((spec.owner_kind, owner))
        if report is None:
            report = objects[(spec.owner_kind, owner)] = ObjectReport(kind=spec.owner_kind, id=owner)
        report.details.extend(row_details(spec, key[1], now, then))
    return counts


def other_tables(live_cursor: Any, reference_cursor: Any, compared: set[str]) -> list[dict[str, Any]]:
    """Tables not compared by object (a newer MLflow's, or one only one side has) whose content differs; a table
    missing on one side has None rows there."""
    known = compared | SKIPPED_TABLES
    tables = sorted((set(user_tables(live_cursor)) | set(user_tables(reference_cursor))) - known)
    found = []
    for table in tables:
        live = table_state(live_cursor, table) if table_exists(live_cursor, table) else None
        then = table_state(reference_cursor, table) if table_exists(reference_cursor, table) else None
        if live != then:
            found.append(
                {"table": table, "rows_now": live.rows if live else None, "rows_then": then.rows if then else None}
            )
    return found


def diff_databases(live_cursor: Any, reference_cursor: Any, max_details: int) -> dict[str, Any]:
    """Every difference between the live database and the reference copy, by object, with counts and impact."""
    specs = [
        spec for spec in SPECS if table_exists(live_cursor, spec.table) and table_exists(reference_cursor, spec.table)
    ]
    # Only the columns both sides have are compared; each side drops the ones only it has.
    extra: dict[str, tuple[list[str], list[str]]] = {}
    for spec in specs:
        now, then = table_columns(live_cursor, spec.table), table_columns(reference_cursor, spec.table)
        extra[spec.table] = (sorted(now - then), sorted(then - now))
    differing = {
        spec.table: differing_owners(
            owner_digests(live_cursor, spec, extra[spec.table][0]),
            owner_digests(reference_cursor, spec, extra[spec.table][1]),
        )
        for spec in specs
    }
    objects: dict[tuple[str, str], ObjectReport] = {}
    tables: dict[str, dict[str, int]] = {}
    for kind in KINDS:
        owners = {group[0] for spec in specs if spec.owner_kind == kind for group in differing[spec.table]}
        if not owners:
            continue
        main = next(spec for spec in specs if spec.table == MAIN_TABLES[kind])
        live_main = owner_rows(live_cursor, main, [(owner,) for owner in owners], extra[main.table][0])
        then_main = owner_rows(reference_cursor, main, [(owner,) for owner in owners], extra[main.table][1])
        for owner in sorted(owners):
            now, then = live_main.get((owner, ())), reference_main_row(then_main, owner)
            objects[(kind, owner)] = object_report(kind, owner, now[0] if now else None, then)
        for spec in specs:
            if spec.owner_kind != kind or not differing[spec.table]:
                continue
            if spec is main:
                rows_now, rows_then = live_main, then_main
            else:
                rows_now = owner_rows(live_cursor, spec, differing[spec.table], extra[spec.table][0])
                rows_then = owner_rows(reference_cursor, spec, differing[spec.table], extra[spec.table][1])
            tables[spec.table] = compare_table(spec, rows_now, rows_then, objects)
    result = assemble(
        objects, tables, other_tables(live_cursor, reference_cursor, {spec.table for spec in specs}), max_details
    )
    schema = {"now": alembic_revision(live_cursor), "then": alembic_revision(reference_cursor)}
    result["schema"] = schema
    if schema["now"] != schema["then"]:
        result["summary"].insert(
            0,
            f"MLflow's schema changed since (revision {schema['then']} then, {schema['now']} now): only the columns "
            "both have are compared.",
        )
    return result


def reference_main_row(rows: Rows, owner: str) -> dict | None:
    found = rows.get((owner, ()))
    return found[0] if found else None


def assemble(
    objects: dict[tuple[str, str], ObjectReport],
    tables: dict[str, dict[str, int]],
    others: list[dict[str, Any]],
    max_details: int,
) -> dict[str, Any]:
    """The module's result: objects, counts per kind and table, the impact, and a summary in words."""
    ordered = [objects[key] for key in sorted(objects, key=lambda k: (KINDS.index(k[0]), k[1]))]
    counts = {kind: {"added": 0, "removed": 0, "changed": 0} for kind in KINDS}
    for report in ordered:
        counts[report.kind][report.change] += 1
    experiments = sorted(
        {r.id for r in ordered if r.kind == "experiment"}
        | {r.experiment_id for r in ordered if r.kind == "run"} - {""},
        key=lambda value: (len(value), value),
    )
    impact = {
        "experiments": experiments,
        "runs": counts["run"]["added"] + counts["run"]["removed"] + counts["run"]["changed"],
        "registered_models": sorted(r.id for r in ordered if r.kind == "registered_model"),
    }
    return {
        "objects": [report.as_dict(max_details) for report in ordered],
        "counts": counts,
        "tables": tables,
        "other_tables": others,
        "impact": impact,
        "differs": bool(ordered or others),
        "summary": summary_lines(ordered, counts, others, impact, max_details),
    }


def summary_lines(
    objects: list[ObjectReport],
    counts: dict[str, dict[str, int]],
    others: list[dict[str, Any]],
    impact: dict,
    max_details: int,
) -> list[str]:
    if not objects and not others:
        return ["Nothing differs: the live database equals the copy."]
    lines = [
        f"{kind.replace('_', ' ')}s: {c['added']} added, {c['removed']} removed, {c['changed']} changed"
        for kind, c in counts.items()
        if any(c.values())
    ]
    lines.append(
        f"Impact: experiments {', '.join(impact['experiments']) or 'none'}; {impact['runs']} runs; "
        f"registered models {', '.join(impact['registered_models']) or 'none'}"
    )
    for report in objects[:SUMMARY_OBJECTS]:
        label = f"{report.kind.replace('_', ' ')} {report.id}" + (f" ({report.name})" if report.name else "")
        when = ", ".join(f"{column} {value}" for column, value in report.times.items())
        lines.append(f"{label} {report.change}" + (f" [{when}]" if when else "") + ":")
        lines.extend(f"  {detail}" for detail in report.details[:max_details])
        if len(report.details) > max_details:
            lines.append(f"  ... and {len(report.details) - max_details} more")
    if len(objects) > SUMMARY_OBJECTS:
        lines.append(f"... and {len(objects) - SUMMARY_OBJECTS} more objects (all of them in the result)")
    lines.extend(
        f"table {other['table']} differs ({other['rows_then']} rows then, {other['rows_now']} now)" for other in others
    )
    return lines
