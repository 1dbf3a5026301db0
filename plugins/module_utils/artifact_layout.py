# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Which MLflow object, if any, a key of the artifact bucket belongs to (storage cleanup), from what the tracking
database says exists. Pure logic: no database, no S3.

MLflow 3 (SqlAlchemyStore) lays an experiment's artifacts out under its artifact location:
  <experiment location>/<run id: 32 hex digits>/artifacts/...   a run's artifacts (runs.artifact_uri)
  <experiment location>/models/<model id>/artifacts/...         a logged model's (logged_models)
  <experiment location>/traces/<trace id>/artifacts/...          a trace's (trace_info)
and an experiment created without an artifact location gets <artifact root>/<experiment id>.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.birtha.mlflow.plugins.module_utils.s3_store import S3Location

RUN_ID = re.compile(r"^[0-9a-f]{32}$")
EXPERIMENT_ID = re.compile(r"^[0-9]+$")
# Folders MLflow itself manages under an experiment's location; never cleaned up here, whatever their rows say.
PROTECTED_FOLDERS = {"models": "MLflow logged models", "traces": "MLflow traces"}

LIVE = "live"
ORPHAN = "orphan"
PROTECTED = "protected"
UNRECOGNISED = "unrecognised"


@dataclass(frozen=True)
class Verdict:
    """What a key belongs to: kind (LIVE, ORPHAN, PROTECTED, UNRECOGNISED), the prefix that is reported (and, for
    an orphan, deleted as a whole), and why."""

    kind: str
    prefix: str
    reason: str
    run_id: str | None = None
    experiment_id: int | None = None
    gone: bool = False


@dataclass
class BucketIndex:
    """What the tracking database says owns keys in one bucket. root is where MLflow puts an experiment created
    without an artifact location (<root>/<experiment id>; '' for the bucket's top), None when not in this bucket."""

    root: str | None
    experiments: dict[str, int] = field(default_factory=dict)
    experiment_ids: set[int] = field(default_factory=set)
    run_ids: set[str] = field(default_factory=set)
    run_locations: set[str] = field(default_factory=set)


def ancestors(key: str) -> Iterator[str]:
    """'a', 'a/b', 'a/b/c' for 'a/b/c': the key and every directory above it."""
    parts = key.split("/")
    for end in range(1, len(parts) + 1):
        yield "/".join(parts[:end])


def join(*parts: str) -> str:
    return "/".join(part.strip("/") for part in parts if part.strip("/"))


def build_index(
    bucket: str,
    root: str | None,
    experiments: Iterable[tuple[int, S3Location | None]],
    runs: Iterable[tuple[str, int | None, S3Location | None]],
) -> BucketIndex:
    """The index of one bucket from every experiment (id, where its artifact location is in S3) and every run (id,
    experiment id, where its artifact URI is). A run's location is kept only when it is not the default
    <experiment location>/<run id>/artifacts, which the run id alone already covers (a large runs table stays small)."""
    index = BucketIndex(root=None if root is None else root.strip("/"))
    by_id: dict[int, str] = {}
    for experiment_id, location in experiments:
        index.experiment_ids.add(experiment_id)
        if location is not None and location.bucket == bucket:
            index.experiments[location.prefix.strip("/")] = experiment_id
            by_id[experiment_id] = location.prefix.strip("/")
    for run_id, experiment_id, location in runs:
        index.run_ids.add(run_id)
        if location is None or location.bucket != bucket:
            continue
        prefix = location.prefix.strip("/")
        home = by_id.get(experiment_id) if experiment_id is not None else None
        if home is None or prefix != join(home, run_id, "artifacts"):
            index.run_locations.add(prefix)
    return index


def below_root(key: str, index: BucketIndex) -> str | None:
    """The key relative to the root where MLflow puts experiments by id; None when it is not under it."""
    if index.root is None:
        return None
    if not index.root:
        return key
    return key[len(index.root) + 1 :] if key.startswith(index.root + "/") else None


def experiment_home(key: str, index: BucketIndex) -> tuple[str, int, bool] | None:
    """The experiment location the key lies under: (location, experiment id, whether the experiment is gone).
    The deepest existing experiment's location wins; otherwise <root>/<digits>/... is the default location of an
    experiment that is no longer in the table. None when the key is under neither."""
    found = None
    for ancestor in ancestors(key):
        if ancestor != key and ancestor in index.experiments:
            found = (ancestor, index.experiments[ancestor], False)
    if found:
        return found
    first, _slash, below = (below_root(key, index) or "").partition("/")
    if below and EXPERIMENT_ID.match(first) and int(first) not in index.experiment_ids:
        return join(index.root or "", first), int(first), True
    return None


def unrecognised_prefix(key: str, index: BucketIndex) -> str:
    """What an unrecognised key is reported under: its first directory below the root (or the key itself)."""
    rest = below_root(key, index)
    base, rest = ("", key) if rest is None else (index.root or "", rest)
    first, slash, _below = rest.partition("/")
    return join(base, first) + "/" if slash else key


def classify(key: str, index: BucketIndex) -> Verdict:
    """What the key belongs to. Only a run-shaped directory (32 hex digits) directly under an experiment location,
    whose run id is in no row of the runs table, is an orphan; logged models, traces and anything of another shape
    are never one."""
    for ancestor in ancestors(key):
        if ancestor != key and ancestor in index.run_locations:
            return Verdict(LIVE, ancestor + "/", "a run's artifact directory")
    home = experiment_home(key, index)
    if home is None:
        return Verdict(UNRECOGNISED, unrecognised_prefix(key, index), "not under an experiment's artifact location")
    location, experiment_id, gone = home
    segment, slash, _below = key[len(location) + 1 :].partition("/")
    prefix = join(location, segment) + "/"
    if not slash:
        return Verdict(UNRECOGNISED, key, "an object directly in an experiment's location", None, experiment_id)
    if segment in PROTECTED_FOLDERS:
        return Verdict(PROTECTED, prefix, PROTECTED_FOLDERS[segment], None, experiment_id)
    if not RUN_ID.match(segment):
        return Verdict(UNRECOGNISED, prefix, "not shaped like a run's directory", None, experiment_id)
    if segment in index.run_ids:
        return Verdict(LIVE, prefix, "its run exists", segment, experiment_id)
    if gone:
        reason = f"experiment {experiment_id} no longer exists and run {segment} is not in the runs table"
    else:
        reason = f"run {segment} is not in the runs table (experiment {experiment_id})"
    return Verdict(ORPHAN, prefix, reason, segment, experiment_id, gone)


@dataclass
class PrefixTally:
    """The objects of one reported prefix; an orphan's keys are kept (they are what a cleanup deletes)."""

    verdict: Verdict
    keys: list[str] = field(default_factory=list)
    objects: int = 0
    bytes: int = 0
    newest_ms: int = 0

    def add(self, key: str, size: int, modified_ms: int) -> None:
        if self.verdict.kind == ORPHAN:
            self.keys.append(key)
        self.objects += 1
        self.bytes += size
        self.newest_ms = max(self.newest_ms, modified_ms)

    def as_dict(self, iso: Callable[[int | None], str | None]) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "prefix": self.verdict.prefix,
            "objects": self.objects,
            "bytes": self.bytes,
            "reason": self.verdict.reason,
            "newest": iso(self.newest_ms),
        }
        if self.verdict.run_id:
            shown["run_id"] = self.verdict.run_id
        if self.verdict.experiment_id is not None:
            shown["experiment_id"] = self.verdict.experiment_id
        return shown


@dataclass
class Tally:
    """A bucket's listing, classified: live objects only counted (one entry per run would not scale), every other
    kind by reported prefix."""

    live_objects: int = 0
    live_bytes: int = 0
    prefixes: dict[str, dict[str, PrefixTally]] = field(
        default_factory=lambda: {ORPHAN: {}, PROTECTED: {}, UNRECOGNISED: {}}
    )

    def add(self, item: dict[str, Any], index: BucketIndex) -> None:
        """One listed object: Key, Size, and LastModified in milliseconds since the epoch."""
        verdict = classify(item["Key"], index)
        if verdict.kind == LIVE:
            self.live_objects += 1
            self.live_bytes += int(item["Size"])
            return
        group = self.prefixes[verdict.kind]
        if verdict.prefix not in group:
            group[verdict.prefix] = PrefixTally(verdict)
        group[verdict.prefix].add(item["Key"], int(item["Size"]), int(item["LastModified"]))

    def of(self, kind: str) -> list[PrefixTally]:
        return sorted(self.prefixes[kind].values(), key=lambda found: found.verdict.prefix)


def split_by_age(orphans: Iterable[PrefixTally], cutoff_ms: int) -> tuple[list[PrefixTally], list[PrefixTally]]:
    """Orphans old enough to delete, and those with any object modified at or after the cutoff (an upload may be in
    flight before its run row commits): the whole prefix is left alone then."""
    old, young = [], []
    for orphan in orphans:
        (young if orphan.newest_ms >= cutoff_ms else old).append(orphan)
    return old, young
