"""Fixtures of the bad-input tests (test_bad_input.py, test_bad_tls_input.py): this machine as a one-host inventory
in every tier, and stand-ins for the MinIO binaries."""

from __future__ import annotations

import json
import os
import shutil
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SANDBOX_VARS = REPO_ROOT / "inventories" / "sandbox" / "group_vars" / "all"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session", autouse=True)
def fact_cache_directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One fact cache per pytest process (each xdist worker has its own session), for run_validate."""
    directory = tmp_path_factory.mktemp("facts")
    os.environ["BIRTHA_TEST_FACT_CACHE"] = str(directory)
    yield directory
    os.environ.pop("BIRTHA_TEST_FACT_CACHE", None)


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-host inventory: this machine, local connection, in every tier, wired like the sandbox."""
    root = tmp_path_factory.mktemp("inventory") / "local"
    (root / "group_vars" / "all").mkdir(parents=True)
    for name in ("platform.yml", "secrets.yml"):
        shutil.copy(SANDBOX_VARS / name, root / "group_vars" / "all" / name)
    # These cases are MinIO's (its binaries are the stand-ins below); SeaweedFS's bad input is tests/seaweedfs's.
    # Read after platform.yml, this file wins over the sandbox's default store.
    (root / "group_vars" / "all" / "store.yml").write_text("platform_artifact_store: minio\n")
    groups = {group: {"hosts": {"localhost": {}}} for group in ("mlflow_db", "mlflow_artifacts", "mlflow_tracking")}
    hosts = {
        "all": {
            "hosts": {
                "localhost": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": sys.executable,
                    "ansible_become": False,
                }
            },
            "children": groups,
        }
    }
    (root / "hosts.yml").write_text(json.dumps(hosts))
    return root


@pytest.fixture(scope="module")
def fake_binaries(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Stand-ins for the MinIO binaries: validation only checks that they exist and their checksums."""
    directory = tmp_path_factory.mktemp("minio")
    for name in ("minio", "mc"):
        (directory / name).write_bytes(f"#!/bin/sh\necho {name}\n".encode())
        (directory / name).chmod(0o755)
    return directory


@pytest.fixture(scope="module")
def base_vars(fake_binaries: Path) -> dict[str, object]:
    return {
        "platform_db_port": free_port(),
        "platform_minio_port": free_port(),
        "minio_server_console_port": free_port(),
        "platform_mlflow_port": free_port(),
        "minio_server_binary_src": str(fake_binaries / "minio"),
        "minio_server_mc_src": str(fake_binaries / "mc"),
    }
