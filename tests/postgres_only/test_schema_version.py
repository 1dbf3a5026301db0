"""A schema a newer MLflow wrote (molecule/postgres): MLflow's tracking schema at a revision this MLflow's migrations
do not know, as after an upgrade whose servers were then pinned back. The role refuses it before anything stops or
changes, naming the way back (restore a set taken before the upgrade), and leaves the schema as it was."""

from __future__ import annotations

from pathlib import Path

from runbook_harness import REPO_ROOT

REVISION = Path(__file__).resolve().parent / "playbooks" / "schema_revision.yml"
CONVERGE = REPO_ROOT / "molecule" / "postgres" / "converge.yml"
# No MLflow release has this revision.
NEWER = "ffffffffffff"


def revision(run_playbook, **extravars) -> str:
    read = run_playbook(REVISION, extravars)
    assert read.rc == 0, read.stdout[-4000:]
    return read.task_results("Revision")[0]["msg"]


def test_a_schema_a_newer_mlflow_wrote_is_refused_and_left_alone(run_playbook):
    ours = revision(run_playbook)
    try:
        assert revision(run_playbook, revision=NEWER) == NEWER
        refused = run_playbook(CONVERGE)
        assert refused.rc != 0
        said = " ".join(refused.stdout.split())
        assert "were written by a newer MLflow" in said and "playbooks/restore.yml" in said, refused.stdout[-4000:]
        assert revision(run_playbook) == NEWER
    finally:
        revision(run_playbook, revision=ours)
    # With the revision back, the same run passes and changes nothing.
    again = run_playbook(CONVERGE)
    assert again.rc == 0, again.stdout[-4000:]
    assert again.stats.get("changed", {}) == {}, again.stats
