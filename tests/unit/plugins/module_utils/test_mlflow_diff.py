"""Pure logic of mlflow_diff: which owners differ by their digests, and how rows that differ are told per object
(added, removed, changed values), counted and summed up into the impact."""

from __future__ import annotations

from ansible_collections.birtha.mlflow.plugins.module_utils import mlflow_diff as diff

RUNS = next(spec for spec in diff.SPECS if spec.table == "runs")
PARAMS = next(spec for spec in diff.SPECS if spec.table == "params")
METRICS = next(spec for spec in diff.SPECS if spec.table == "metrics")


def run_row(run: str, status: str = "FINISHED", experiment: int = 1) -> dict:
    return {"run_uuid": run, "name": f"r-{run}", "status": status, "experiment_id": experiment, "start_time": 0}


def test_only_owners_whose_rows_differ_or_exist_on_one_side_are_read():
    live = {("a", "loss"): (2, "10"), ("b", "loss"): (1, "20"), ("new", "acc"): (1, "5")}
    then = {("a", "loss"): (2, "10"), ("b", "loss"): (1, "21"), ("gone", "acc"): (3, "7")}
    assert diff.differing_owners(live, then) == {("b", "loss"), ("new", "acc"), ("gone", "acc")}


def test_a_changed_param_a_removed_one_and_an_added_one_are_named_with_their_values():
    objects = {("run", "r1"): diff.object_report("run", "r1", run_row("r1"), run_row("r1"))}
    live = {
        ("r1", ("lr",)): [{"key": "lr", "value": "bad", "run_uuid": "r1"}],
        ("r1", ("seed",)): [{"key": "seed", "value": "7", "run_uuid": "r1"}],
    }
    then = {
        ("r1", ("lr",)): [{"key": "lr", "value": "0.01", "run_uuid": "r1"}],
        ("r1", ("epochs",)): [{"key": "epochs", "value": "3", "run_uuid": "r1"}],
    }
    counts = diff.compare_table(PARAMS, live, then, objects)
    assert counts == {"added": 1, "removed": 1, "changed": 1}
    assert objects[("run", "r1")].details == [
        "param epochs removed (was '3')",
        "param lr value: '0.01' -> 'bad'",
        "param seed added = '7'",
    ]


def test_a_run_added_whole_is_one_entry_without_row_details():
    objects = {("run", "r2"): diff.object_report("run", "r2", run_row("r2", experiment=4), None)}
    counts = diff.compare_table(RUNS, {("r2", ()): [run_row("r2", experiment=4)]}, {}, objects)
    assert counts == {"added": 1, "removed": 0, "changed": 0}
    report = objects[("run", "r2")]
    assert (report.change, report.experiment_id, report.details) == ("added", "4", [])
    assert report.times == {"start_time": "1970-01-01T00:00:00.000Z"}


def test_a_changed_run_row_names_the_column_and_both_values():
    objects = {("run", "r1"): diff.object_report("run", "r1", run_row("r1", "FAILED"), run_row("r1"))}
    diff.compare_table(RUNS, {("r1", ()): [run_row("r1", "FAILED")]}, {("r1", ()): [run_row("r1")]}, objects)
    assert objects[("run", "r1")].details == ["run status: 'FINISHED' -> 'FAILED'"]


def test_a_metric_is_named_by_step_and_time_and_two_values_at_one_step_are_counted():
    key = ("loss", "3", "1796664600000")
    one = {"key": "loss", "value": 0.5, "step": 3, "timestamp": 1796664600000, "run_uuid": "r1", "is_nan": False}
    two = {**one, "value": 0.7}
    assert diff.row_details(METRICS, key, [one, two], [one]) == [
        "metric loss (step 3 at 2026-12-07T17:30:00.000Z): 1 rows then, 2 now"
    ]


def test_a_row_a_new_objects_table_has_creates_its_entry():
    objects: dict = {}
    diff.compare_table(PARAMS, {("r9", ("lr",)): [{"key": "lr", "value": "1", "run_uuid": "r9"}]}, {}, objects)
    assert objects[("run", "r9")].details == ["param lr added = '1'"]


def test_the_result_counts_objects_sums_the_impact_and_caps_details():
    changed = diff.object_report("run", "r1", run_row("r1", experiment=2), run_row("r1", experiment=2))
    changed.details = [f"param p{i} added = '1'" for i in range(5)]
    added = diff.object_report("experiment", "10", {"experiment_id": 10, "name": "late"}, None)
    model = diff.object_report("registered_model", "churn", {"name": "churn"}, {"name": "churn"})
    objects = {("run", "r1"): changed, ("experiment", "10"): added, ("registered_model", "churn"): model}
    result = diff.assemble(objects, {"params": {"added": 5, "removed": 0, "changed": 0}}, [], max_details=3)
    assert [o["id"] for o in result["objects"]] == ["10", "r1", "churn"]
    assert result["objects"][1]["details"][-1] == "... and 2 more"
    assert result["counts"]["run"] == {"added": 0, "removed": 0, "changed": 1}
    assert result["impact"] == {"experiments": ["2", "10"], "runs": 1, "registered_models": ["churn"]}
    assert result["differs"] is True
    assert "Impact: experiments 2, 10; 1 runs; registered models churn" in result["summary"]


def test_nothing_differs_says_so():
    result = diff.assemble({}, {}, [], max_details=20)
    assert result["differs"] is False
    assert result["summary"] == ["Nothing differs: the live database equals the copy."]
