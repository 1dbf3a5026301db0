"""`ansible-galaxy collection build` gives a tarball that installs and works away from the checkout."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


def documented_plugins(names: list[str]) -> list[tuple[str, str]]:
    """(plugin type, name) of every module, lookup, filter and test plugin in the tarball."""
    kinds = {"modules": "module", "lookup": "lookup", "filter": "filter", "test": "test"}
    found = []
    for name in names:
        parts = Path(name).parts
        if len(parts) == 3 and parts[0] == "plugins" and parts[1] in kinds and parts[2].endswith(".py"):
            stem = parts[2][:-3]
            if parts[1] == "test":  # one file may hold several Jinja tests, each documented in a .yml
                found += [("test", Path(n).stem) for n in names if n.startswith("plugins/test/") and n.endswith(".yml")]
            elif stem != "__init__":
                found.append((kinds[parts[1]], stem))
    assert len(found) >= 10, found
    return sorted(set(found))


def test_built_collection_installs_and_resolves_by_fqcn(tmp_path):
    # Away from the checkout: no ansible.cfg, so only the installed copy can resolve birtha.mlflow.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env["ANSIBLE_COLLECTIONS_PATH"] = str(tmp_path / "collections")
    built = run(
        [str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), str(REPO_ROOT)],
        tmp_path,
        env,
    )
    assert built.returncode == 0, built.stderr
    tarball = next(tmp_path.glob("birtha-mlflow-*.tar.gz"))
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    assert "roles/mlflow_server/meta/argument_specs.yml" in names
    assert "plugins/modules/mlflow_platform_probe.py" in names
    assert not any(name.startswith(("molecule/", ".venv/", "tests/")) or ".credentials" in name for name in names)

    installed = run(
        [str(BIN / "ansible-galaxy"), "collection", "install", "-p", str(tmp_path / "collections"), str(tarball)],
        tmp_path,
        env,
    )
    assert installed.returncode == 0, installed.stderr

    # ansible-doc is the manual: every plugin's documentation must render from the installed copy.
    for plugin_type, name in documented_plugins(names):
        doc = run([str(BIN / "ansible-doc"), "-t", plugin_type, f"birtha.mlflow.{name}"], tmp_path, env)
        assert doc.returncode == 0 and "[ERROR]" not in doc.stderr, f"{plugin_type} {name}: {doc.stderr}"
        assert "EXAMPLES" in doc.stdout, f"{plugin_type} {name} has no examples"
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  children:\n    mlflow_db: {hosts: {h1: {}}}\n"
        "    mlflow_artifacts: {hosts: {h1: {}}}\n    mlflow_tracking: {hosts: {h1: {}}}\n"
    )
    for playbook in ("platform_up", "experiments", "model_registry"):
        syntax = run(
            [str(BIN / "ansible-playbook"), "-i", str(inventory), "--syntax-check", f"birtha.mlflow.{playbook}"],
            tmp_path,
            env,
        )
        assert syntax.returncode == 0, syntax.stdout + syntax.stderr

    # An installed collection never writes into itself: the report goes to the controller's data directory.
    home = tmp_path / "home"
    home.mkdir()
    empty = tmp_path / "empty.yml"
    empty.write_text("all:\n  hosts: {}\n")
    health = run(
        [str(BIN / "ansible-playbook"), "-i", str(empty), "birtha.mlflow.health_check"],
        tmp_path,
        dict(env, HOME=str(home), XDG_DATA_HOME=""),
    )
    assert health.returncode == 2, health.stdout[-3000:]  # no tier in this inventory: unhealthy
    assert "mlflow_db" in health.stdout
    reports = list((home / ".local/share/birtha-mlflow/reports").glob("health-*.json"))
    assert len(reports) == 1, health.stdout[-3000:]
    assert oct(reports[0].stat().st_mode & 0o777) == "0o600"
    collection = tmp_path / "collections" / "ansible_collections" / "birtha" / "mlflow"
    assert not [p for p in collection.rglob("*") if p.name.startswith("health-")]
