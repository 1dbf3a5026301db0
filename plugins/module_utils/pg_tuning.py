# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""What the PostgreSQL tuning (role postgres_tuning) asks and does: settings as pg_settings knows them, values
checked the way PostgreSQL would check them, a reload that is waited for, and indexes - which existing index
already serves a requested one, creation without blocking writes (CREATE INDEX CONCURRENTLY), stale statistics.

The functions take a psycopg2 cursor of a connection in autocommit mode (CREATE/DROP INDEX CONCURRENTLY cannot
run in a transaction block); the pure ones (units, coverage) need no database and are unit-tested.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

try:
    from psycopg2 import sql
except ImportError:  # the modules report the missing library through postgres.PostgresModule
    sql = None  # type: ignore[assignment]

# Units PostgreSQL accepts in values (case-sensitive, as in postgresql.conf), per kind, in bytes or milliseconds.
MEMORY_UNITS = {"B": 1, "kB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
TIME_UNITS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
BOOL_WORDS = {"on": True, "off": False, "true": True, "false": False, "yes": True, "no": False, "1": True, "0": False}
BOOL_WORDS.update({"t": True, "f": False, "y": True, "n": False})
QUANTITY = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z]*)\s*$")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
# Longest identifier PostgreSQL keeps (NAMEDATALEN - 1); a longer index name would be silently truncated.
MAX_IDENTIFIER = 63
# What pg_file_settings says about a postmaster setting that is valid but changed: it waits for a restart.
NOT_APPLIED = "setting could not be applied"
# A maximum at or above this is no limit a person needs to hear about (PostgreSQL's DBL_MAX, INT_MAX).
UNBOUNDED = 2147483647


# Settings.


@dataclass(frozen=True)
class Setting:
    """One row of pg_settings, plus the value as SHOW prints it."""

    name: str
    setting: str
    unit: str | None
    vartype: str
    enumvals: tuple[str, ...]
    min_val: str | None
    max_val: str | None
    context: str
    pending_restart: bool
    source: str
    sourcefile: str | None
    sourceline: int | None
    shown: str

    @property
    def needs_restart(self) -> bool:
        """A change takes effect only when the server restarts."""
        return self.context == "postmaster"


def read_settings(cursor: Any, names: list[str]) -> dict[str, Setting]:
    """The named settings that exist on this server (an unknown name is simply absent)."""
    cursor.execute(
        "SELECT name, setting, unit, vartype, enumvals, min_val, max_val, context, pending_restart, source, "
        "sourcefile, sourceline, current_setting(name) FROM pg_settings WHERE name = ANY(%s) ORDER BY name",
        (list(names),),
    )
    return {
        row[0]: Setting(
            name=row[0],
            setting=row[1],
            unit=row[2],
            vartype=row[3],
            enumvals=tuple(row[4] or ()),
            min_val=row[5],
            max_val=row[6],
            context=row[7],
            pending_restart=bool(row[8]),
            source=row[9],
            sourcefile=row[10],
            sourceline=row[11],
            shown=row[12],
        )
        for row in cursor.fetchall()
    }


def unit_scale(unit: str | None) -> tuple[str, float]:
    """The kind ('memory', 'time' or '') of a pg_settings unit such as '8kB', 'MB', 'ms', 'min', and the size of one
    unit in bytes or milliseconds."""
    if not unit:
        return "", 1.0
    match = re.match(r"^(\d*)\s*([A-Za-z]+)$", unit)
    if not match:
        raise ValueError(f"unknown unit {unit!r}")
    count = float(match.group(1) or 1)
    if match.group(2) in MEMORY_UNITS:
        return "memory", count * MEMORY_UNITS[match.group(2)]
    if match.group(2) in TIME_UNITS:
        return "time", count * TIME_UNITS[match.group(2)]
    raise ValueError(f"unknown unit {unit!r}")


def as_text(value: Any) -> str:
    """A value as postgresql.conf holds it (booleans as on/off)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value).strip()


def normalize(value: Any, setting: Setting) -> bool | int | float | str:
    """value in the setting's own terms - a number in the unit of pg_settings.setting, a boolean, an enum label -
    checked as PostgreSQL checks a value in postgresql.conf. Raises ValueError saying what is wrong."""
    text = as_text(value)
    if setting.vartype == "bool":
        word = text.lower()
        if word not in BOOL_WORDS:
            raise ValueError("expects a boolean (on or off)")
        return BOOL_WORDS[word]
    if setting.vartype == "enum":
        if text.lower() not in {label.lower() for label in setting.enumvals}:
            raise ValueError(f"expects one of {', '.join(setting.enumvals)}")
        return text.lower()
    if setting.vartype == "string":
        return text
    number = _number(text, setting)
    low = float(setting.min_val) if setting.min_val not in (None, "") else -math.inf
    high = float(setting.max_val) if setting.max_val not in (None, "") else math.inf
    if not low <= number <= high:
        if high >= UNBOUNDED:
            raise ValueError(f"must be at least {human(low, setting)}")
        raise ValueError(f"must be between {human(low, setting)} and {human(high, setting)}")
    return number


def human(value: float, setting: Setting) -> str:
    """A value in the setting's unit as a person writes it: 8TB rather than 1073741823 x 8kB."""
    kind, scale = unit_scale(setting.unit)
    units = MEMORY_UNITS if kind == "memory" else TIME_UNITS if kind == "time" else {}
    amount = value * scale
    for unit, size in sorted(units.items(), key=lambda item: -item[1]):
        if abs(amount) >= size:
            return f"{amount / size:.4g}{unit}"
    return f"{value:g}"


def _number(text: str, setting: Setting) -> int | float:
    match = QUANTITY.match(text)
    if not match:
        raise ValueError(
            "expects a number" + (f" with an optional unit ({_units_hint(setting)})" if setting.unit else "")
        )
    number, unit = float(match.group(1)), match.group(2)
    kind, scale = unit_scale(setting.unit)
    if unit:
        units = MEMORY_UNITS if kind == "memory" else TIME_UNITS if kind == "time" else {}
        if unit not in units:
            hint = f"valid units: {_units_hint(setting)}" if units else "it takes no unit"
            raise ValueError(f"has an invalid unit {unit!r} ({hint})")
        number = number * units[unit] / scale
    if setting.vartype == "integer":
        # PostgreSQL rounds a fractional value (or one in a smaller unit) to the nearest integer.
        return round(number)
    return number


def _units_hint(setting: Setting) -> str:
    kind = unit_scale(setting.unit)[0]
    return ", ".join(MEMORY_UNITS if kind == "memory" else TIME_UNITS if kind == "time" else [])


def current_value(setting: Setting) -> bool | int | float | str:
    """The live value in the same terms as normalize()."""
    if setting.vartype in ("integer", "real"):
        number = float(setting.setting)
        return round(number) if setting.vartype == "integer" else number
    return normalize(setting.setting, setting)


def same_value(left: Any, right: Any) -> bool:
    if isinstance(left, float) or isinstance(right, float):
        return math.isclose(float(left), float(right), rel_tol=1e-9, abs_tol=1e-12)
    return left == right


def memory_bytes(value: Any, setting: Setting) -> float:
    """A memory setting's value in bytes."""
    kind, scale = unit_scale(setting.unit)
    if kind != "memory":
        raise ValueError(f"{setting.name} is not a memory setting")
    return float(_number(as_text(value), setting)) * scale


def file_errors(cursor: Any) -> list[dict[str, Any]]:
    """Every entry of the configuration files PostgreSQL refuses, as it reads them now (pg_file_settings parses the
    files on each query, before any reload). PostgreSQL also reports there what only waits for a restart: a valid
    but changed postmaster setting (as NOT_APPLIED, like an invalid value: pending_restart tells them apart once
    reloaded), and a postmaster setting removed from the files (a row without file: restart_notice)."""
    cursor.execute(
        "SELECT f.sourcefile, f.sourceline, f.name, f.setting, f.error, coalesce(s.pending_restart, false) "
        "FROM pg_file_settings f LEFT JOIN pg_settings s ON s.name = f.name WHERE f.error IS NOT NULL "
        "ORDER BY f.sourcefile, f.sourceline"
    )
    return [
        {
            "file": row[0],
            "line": row[1],
            "name": row[2],
            "value": row[3],
            "error": row[4],
            "pending_restart": bool(row[5]),
            "restart_notice": row[0] is None,
        }
        for row in cursor.fetchall()
    ]


def file_entries(cursor: Any, path: str) -> dict[str, dict[str, Any]]:
    """The settings a configuration file sets, as PostgreSQL reads it: value and whether it wins (a later file or
    postgresql.auto.conf can override it)."""
    cursor.execute(
        "SELECT name, setting, applied, sourceline FROM pg_file_settings WHERE sourcefile = %s ORDER BY sourceline",
        (path,),
    )
    return {row[0]: {"value": row[1], "applied": bool(row[2]), "line": row[3]} for row in cursor.fetchall()}


def reload_config(cursor: Any, timeout: float = 10.0) -> bool:
    """pg_reload_conf(), then wait until this session has re-read the files (pg_conf_load_time moves on). False when
    that did not happen within timeout seconds."""
    cursor.execute("SELECT pg_conf_load_time()")
    before = cursor.fetchone()[0]
    cursor.execute("SELECT pg_reload_conf()")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(0.1)
        cursor.execute("SELECT pg_conf_load_time()")
        if cursor.fetchone()[0] > before:
            return True
    return False


# Indexes.


@dataclass(frozen=True)
class IndexSpec:
    """A requested index: key columns in order, each ascending or descending."""

    name: str
    table: str
    columns: tuple[str, ...]
    descending: tuple[bool, ...]

    @classmethod
    def parse(cls, name: str, table: str, columns: list[str]) -> IndexSpec:
        """From the role's form: columns like 'start_time DESC'. Raises ValueError saying what is wrong."""
        if not columns:
            raise ValueError(f"index {name!r}: columns is empty")
        for identifier, what in ((name, "index name"), (table, "table name")):
            if not IDENTIFIER.match(identifier or "") or len(identifier) > MAX_IDENTIFIER:
                raise ValueError(
                    f"{what} {identifier!r} is not a plain identifier of at most {MAX_IDENTIFIER} characters"
                )
        names, descending = [], []
        for column in columns:
            parts = str(column).split()
            direction = parts[1].upper() if len(parts) == 2 else "ASC"
            if len(parts) not in (1, 2) or direction not in ("ASC", "DESC") or not IDENTIFIER.match(parts[0]):
                raise ValueError(
                    f"index {name!r}: column {column!r} must be a column name, optionally with ASC or DESC"
                )
            names.append(parts[0])
            descending.append(direction == "DESC")
        return cls(name, table, tuple(names), tuple(descending))

    def describe(self) -> str:
        keys = ", ".join(f"{c}{' DESC' if d else ''}" for c, d in zip(self.columns, self.descending, strict=True))
        return f"{self.table}({keys})"


@dataclass(frozen=True)
class ExistingIndex:
    """An index as the catalog describes it: key columns (an expression's text for an expression), directions."""

    name: str
    table: str
    columns: tuple[str, ...]
    descending: tuple[bool, ...]
    valid: bool
    partial: bool
    method: str
    definition: str = field(default="", compare=False)


def table_columns(cursor: Any, schema: str, table: str) -> list[str] | None:
    """The table's column names, or None when there is no such table."""
    cursor.execute("SELECT to_regclass(%s)", (f"{_quote(schema)}.{_quote(table)}",))
    if cursor.fetchone()[0] is None:
        return None
    cursor.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped "
        "ORDER BY attnum",
        (f"{_quote(schema)}.{_quote(table)}",),
    )
    return [row[0] for row in cursor.fetchall()]


def relation_kind(cursor: Any, schema: str, name: str) -> tuple[str, str] | None:
    """(relkind, table of the index or '') of the relation called name in schema, or None when there is none."""
    cursor.execute(
        "SELECT c.relkind, coalesce(t.relname, '') FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_index i ON i.indexrelid = c.oid LEFT JOIN pg_class t ON t.oid = i.indrelid "
        "WHERE n.nspname = %s AND c.relname = %s",
        (schema, name),
    )
    row = cursor.fetchone()
    return (row[0], row[1]) if row else None


def table_indexes(cursor: Any, schema: str, table: str) -> list[ExistingIndex]:
    """Every index of the table, valid or not, by name."""
    cursor.execute(
        "SELECT i.relname, ix.indisvalid AND ix.indisready, ix.indpred IS NOT NULL, am.amname, "
        "ARRAY(SELECT pg_get_indexdef(ix.indexrelid, k, true) FROM generate_series(1, ix.indnkeyatts) AS k "
        "      ORDER BY k), "
        "ARRAY(SELECT (ix.indoption[k - 1] & 1) = 1 FROM generate_series(1, ix.indnkeyatts) AS k ORDER BY k), "
        "pg_get_indexdef(ix.indexrelid) "
        "FROM pg_index ix JOIN pg_class i ON i.oid = ix.indexrelid JOIN pg_class t ON t.oid = ix.indrelid "
        "JOIN pg_namespace n ON n.oid = t.relnamespace JOIN pg_am am ON am.oid = i.relam "
        "WHERE n.nspname = %s AND t.relname = %s ORDER BY i.relname",
        (schema, table),
    )
    return [
        ExistingIndex(
            name=row[0],
            table=table,
            columns=tuple(_unquote(column) for column in row[4]),
            descending=tuple(bool(d) for d in row[5]),
            valid=bool(row[1]),
            partial=bool(row[2]),
            method=row[3],
            definition=row[6],
        )
        for row in cursor.fetchall()
    ]


def covers(index: ExistingIndex, spec: IndexSpec) -> bool:
    """Whether the index serves what spec asks for: a valid, non-partial btree whose leading key columns are exactly
    spec's columns, in spec's directions or all reversed (a btree scans backwards as well)."""
    if not index.valid or index.partial or index.method != "btree" or index.table != spec.table:
        return False
    width = len(spec.columns)
    if index.columns[:width] != spec.columns:
        return False
    directions = index.descending[:width]
    return directions == spec.descending or directions == tuple(not d for d in spec.descending)


def covering_index(indexes: list[ExistingIndex], spec: IndexSpec) -> ExistingIndex | None:
    """The index that serves spec: the one of spec's name when it does, else the first (by name) that does."""
    serving = [index for index in indexes if covers(index, spec)]
    own = [index for index in serving if index.name == spec.name]
    return (own or serving or [None])[0]


def as_existing(spec: IndexSpec) -> ExistingIndex:
    """The index spec would create (for planning: a later request it covers is then not created)."""
    return ExistingIndex(spec.name, spec.table, spec.columns, spec.descending, True, False, "btree")


def create_index(cursor: Any, schema: str, spec: IndexSpec) -> None:
    """CREATE INDEX CONCURRENTLY: writes to the table go on while it builds. Needs autocommit. A failure leaves an
    INVALID index behind; drop_index() removes it."""
    keys = sql.SQL(", ").join(
        sql.SQL("{}{}").format(sql.Identifier(column), sql.SQL(" DESC" if desc else ""))
        for column, desc in zip(spec.columns, spec.descending, strict=True)
    )
    cursor.execute(
        sql.SQL("CREATE INDEX CONCURRENTLY {name} ON {schema}.{table} ({keys})").format(
            name=sql.Identifier(spec.name), schema=sql.Identifier(schema), table=sql.Identifier(spec.table), keys=keys
        )
    )


def drop_index(cursor: Any, schema: str, name: str) -> None:
    cursor.execute(
        sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {schema}.{name}").format(
            schema=sql.Identifier(schema), name=sql.Identifier(name)
        )
    )


def set_lock_timeout(cursor: Any, seconds: int) -> None:
    """How long a DDL statement of this session waits for a lock (0: no limit)."""
    cursor.execute("SELECT set_config('lock_timeout', %s, false)", (f"{int(seconds)}s",))


# Statistics.


def analyze_state(cursor: Any, schema: str, tables: list[str]) -> dict[str, dict[str, Any]]:
    """Per table: rows changed since its last ANALYZE, its row estimate, and whether it was ever analysed."""
    cursor.execute(
        "SELECT s.relname, s.n_mod_since_analyze, greatest(c.reltuples, 0), "
        "(s.last_analyze IS NOT NULL OR s.last_autoanalyze IS NOT NULL) "
        "FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid WHERE s.schemaname = %s AND s.relname = ANY(%s)",
        (schema, list(tables)),
    )
    return {
        row[0]: {"modified": int(row[1] or 0), "rows": float(row[2] or 0), "analyzed_before": bool(row[3])}
        for row in cursor.fetchall()
    }


def is_stale(state: dict[str, Any] | None, scale_factor: float, threshold: int) -> bool:
    """Autovacuum's own rule: never analysed, or more rows changed since than threshold + scale_factor x rows."""
    if not state or not state["analyzed_before"]:
        return True
    return state["modified"] > threshold + scale_factor * state["rows"]


def analyze(cursor: Any, schema: str, table: str) -> None:
    cursor.execute(sql.SQL("ANALYZE {}.{}").format(sql.Identifier(schema), sql.Identifier(table)))


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _unquote(identifier: str) -> str:
    """A column as pg_get_indexdef prints it: "Quoted" names unquoted; expressions stay as they are."""
    if len(identifier) > 1 and identifier[0] == identifier[-1] == '"':
        return identifier[1:-1].replace('""', '"')
    return identifier
