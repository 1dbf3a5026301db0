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

    doc = run([str(BIN / "ansible-doc"), "birtha.mlflow.mlflow_platform_probe"], tmp_path, env)
    assert doc.returncode == 0 and "tracking_uri" in doc.stdout, doc.stderr
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(
        "all:\n  children:\n    mlflow_db: {hosts: {h1: {}}}\n"
        "    mlflow_artifacts: {hosts: {h1: {}}}\n    mlflow_tracking: {hosts: {h1: {}}}\n"
    )
    syntax = run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), "--syntax-check", "birtha.mlflow.platform_up"],
        tmp_path,
        env,
    )
    assert syntax.returncode == 0, syntax.stdout + syntax.stderr
