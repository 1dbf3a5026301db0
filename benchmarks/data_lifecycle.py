"""Data retention, purge, search after tuning, and an idempotent platform run: ours against the reference, on the
same generated data in the same run, end states compared.

    .venv/bin/python benchmarks/data_lifecycle.py [inventory] [--scale S]   (default: inventories/sandbox, 1.0)

1. Retention of 10,000 runs older than 90 days: the runbook's loop (mlflow.search_runs, then mlflow.delete_run per
   run, through the tracking server) on one experiment, playbooks/retention.yml on an identical one.
2. Purge of 2,000 deleted runs with metric history and artifacts: mlflow gc's run purge on one experiment,
   playbooks/purge.yml on an identical one.
3. search_runs (newest first, filtered by a metric, 100 results) on an experiment with 100,000 runs, through the
   tracking server: the median of repeated calls before and after playbooks/db_optimize.yml (postgres_tuning).
4. An idempotent re-run of playbooks/platform_up.yml on the host: with SSH pipelining and fact caching off, then on.

Each pair runs on the same data; the end states (every run's stage, row counts, objects; the search's run ids)
must be identical or the benchmark fails. Generated experiments are removed at the end. Writes the section
"Data lifecycle" of benchmarks/RESULTS.md and prints it.
"""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import Any

from common import ROOT, Played, inventory_path, provenance, run, write_section

SECTION = "## Data lifecycle"
DATA = ROOT / "benchmarks" / "playbooks" / "platform_data.yml"
UNTUNE = ROOT / "benchmarks" / "playbooks" / "untune.yml"
SOFT_DELETE = "Soft-delete the runs older than the retention cutoff (as MLflow's delete_run does)"
HARD_DELETE = "Permanently delete runs deleted long enough ago, with their artifacts (as mlflow gc does)"


class Bench:
    def __init__(self, inventory: str, scale: float) -> None:
        self.inventory = inventory
        self.scale = scale
        self.tag = uuid.uuid4().hex[:6]
        self.experiments: list[str] = []
        self.rows: list[str] = []

    def data(self, *args: Any) -> Any:
        return run(DATA, self.inventory, {"data_args": [str(a) for a in args]}).stat("platform_data")

    def generate(self, kind: str, runs: int, *options: Any) -> tuple[str, str]:
        """Two experiments generated alike: (reference's, ours)."""
        names = (f"bench-{kind}-ref-{self.tag}", f"bench-{kind}-ours-{self.tag}")
        for name in names:
            self.experiments.append(name)
            self.data("generate", "--experiment", name, "--runs", runs, *options)
        return names

    def same_state(self, names: tuple[str, str], what: str) -> dict[str, Any]:
        state = self.data("state", "--experiment", names[0], "--experiment", names[1])
        if state[names[0]] != state[names[1]]:
            sys.exit(f"{what}: the reference and ours left different states")
        return state[names[1]]

    def playbook(self, name: str, extravars: dict[str, Any], **kwargs: Any) -> Played:
        return run(ROOT / "playbooks" / name, self.inventory, extravars, **kwargs)

    def row(self, what: str, data: str, reference: float, work: float, whole: float) -> None:
        self.rows.append(
            f"| {what} | {data} | {reference:.2f} s | {work:.2f} s | **{reference / work:.0f}x** | {whole:.1f} s |"
        )

    def cleanup(self) -> None:
        """Drop what the comparison generated, so the next one starts from the same platform."""
        if self.experiments:
            self.data("drop", *[arg for name in self.experiments for arg in ("--experiment", name)])
            self.experiments = []

    def retention(self) -> None:
        runs = int(10_000 * self.scale)
        names = self.generate("retention", runs, "--days-ago", 120, "--params", 3, "--metrics", 2)
        reference = self.data("runbook-retention", "--experiment", names[0], "--days", 90)
        ours = self.playbook("retention.yml", {"mlflow_retention_experiment_names": [names[1]]})
        count = ours.result(SOFT_DELETE)["count"]
        if count != reference["count"] or count != runs:
            sys.exit(f"retention: ours deleted {count}, the runbook {reference['count']}, of {runs}")
        self.same_state(names, "retention")
        self.row(
            "retention (soft delete)",
            f"{runs:,} runs",
            reference["seconds"],
            ours.task_seconds((SOFT_DELETE,)),
            ours.seconds,
        )

    def purge(self) -> None:
        runs = int(2_000 * self.scale)
        names = self.generate(
            "purge",
            runs,
            "--deleted-days-ago",
            40,
            "--metrics",
            5,
            "--history",
            20,
            "--artifacts",
            3,
            "--artifact-bytes",
            4096,
        )
        before = self.same_state(names, "purge (before)")
        reference = self.data("runbook-gc", "--experiment", names[0])
        ours = self.playbook(
            "purge.yml",
            {
                "mlflow_retention_experiment_names": [names[1]],
                "mlflow_retention_purge_older_than_days": 30,
                "mlflow_retention_confirm_purge": True,
            },
        )
        purged = ours.result(HARD_DELETE)
        after = self.same_state(names, "purge")
        if purged["rows"].get("runs") != runs or after["runs"] or after["objects"] or purged["not_purged"]:
            sys.exit(f"purge: {purged['rows']} rows, {len(after['runs'])} runs and {after['objects']} objects left")
        metric_rows = sum(row[3] for row in before["runs"].values())
        self.row(
            f"purge (hard delete; objects by {purged['delete_mode']})",
            f"{runs:,} runs, {metric_rows:,} metric rows, {before['objects']:,} objects",
            reference["seconds"],
            ours.task_seconds((HARD_DELETE,)),
            ours.seconds,
        )

    def search(self) -> None:
        runs = int(100_000 * self.scale)
        name = f"bench-search-{self.tag}"
        self.experiments.append(name)
        run(UNTUNE, self.inventory)
        self.data("generate", "--experiment", name, "--runs", runs, "--metrics", 2, "--params", 2)
        repeat = 15
        before = self.data("search", "--experiment", name, "--repeat", repeat)
        tuned = self.playbook("db_optimize.yml", {})
        after = self.data("search", "--experiment", name, "--repeat", repeat)
        if before["api"]["run_ids"] != after["api"]["run_ids"] or not after["api"]["run_ids"]:
            sys.exit("search: the runs found after tuning differ from those before")
        data = f"{runs:,} runs, `metrics.m1 > 0.9`, newest 100"
        for side, label in (("store", "MLflow's SQL store"), ("api", "through the server")):
            old, new = before[side]["median"], after[side]["median"]
            self.rows.append(
                f"| search_runs, {label} (median of {repeat}) | {data} | {old * 1000:.0f} ms (untuned) | "
                f"{new * 1000:.0f} ms (tuned) | **{old / new:.1f}x** | {tuned.seconds:.1f} s (db_optimize.yml) |"
            )

    def idempotent_platform(self) -> None:
        limit = "mlflow_db[0],localhost"
        off = {"ANSIBLE_PIPELINING": "False", "ANSIBLE_GATHERING": "implicit", "ANSIBLE_CACHE_PLUGIN": "memory"}
        self.playbook("platform_up.yml", {}, limit=limit)  # converge first: both timed runs are re-runs
        plain = self.playbook("platform_up.yml", {}, envvars=off, limit=limit)
        fast = self.playbook("platform_up.yml", {}, limit=limit)
        if plain.changed() or fast.changed():
            sys.exit(f"platform_up.yml re-run changed {plain.changed()} / {fast.changed()} tasks")
        self.rows.append(
            f"| platform_up.yml re-run, one host, changed=0 | the whole platform | {plain.seconds:.1f} s "
            f"(no pipelining, no fact cache) | {fast.seconds:.1f} s (both on) | **{plain.seconds / fast.seconds:.1f}x** | |"
        )


COMPARISONS = ("retention", "purge", "search", "idempotent_platform")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inventory", nargs="?", default="inventories/sandbox")
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the issue's data sizes")
    parser.add_argument("--only", action="append", choices=COMPARISONS, help="run just these comparisons")
    args = parser.parse_args()
    bench = Bench(inventory_path([sys.argv[0], args.inventory]), args.scale)
    try:
        for name in args.only or COMPARISONS:
            getattr(bench, name)()
            bench.cleanup()
    finally:
        bench.cleanup()
    text = "\n".join(
        [
            SECTION,
            "",
            provenance("benchmarks/data_lifecycle.py") + f", scale {args.scale}, one run each.",
            "",
            "| | data | reference | ours (work) | ratio | ours (whole playbook) |",
            "| --- | --- | ---: | ---: | ---: | ---: |",
            *bench.rows,
            "",
            NOTES,
        ]
    )
    if args.only or args.scale != 1.0:
        print(text)  # a partial or scaled run is a try-out, not the record
        return
    write_section(SECTION, text)
    print(text)


NOTES = """The references: the runbook's retention snippet as written (scoped to the experiment), run on the tracking
host against the authenticated server; `mlflow gc`'s own run purge (`mlflow.cli._gc_tracking_resources`, what
`mlflow gc --run-ids` runs: get_run, delete the artifacts through the tracking server, `_hard_delete_run`, one
run at a time); search_runs before `playbooks/db_optimize.yml`. Ours: `playbooks/retention.yml` and
`playbooks/purge.yml` (modules mlflow_retention and mlflow_purge: batches of runs per statement and transaction;
objects deleted a run directory per request on MinIO, "directory", or 1000 keys per request elsewhere, "keys");
search_runs after the tuning role's settings and indexes (both sides on freshly ANALYZEd tables). "Work" is the module
task's duration; "whole playbook" adds Ansible's start-up and connection. Each comparison fails unless both
sides end in the same state (for search: the same runs in the same order)."""


if __name__ == "__main__":
    main()
