"""`ansible-galaxy collection build` gives a tarball that installs and works away from the checkout, with ansible-core
and the collections galaxy.yml declares: nothing else is visible to it, as on a machine without the `ansible` package.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tarfile
import tomllib
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import ansible
import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

REPO_ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
# Where the `ansible` package (requirements-dev.txt) put the collections it bundles, beside ansible-core.
BUNDLED = Path(ansible.__file__).resolve().parent.parent / "ansible_collections"
# sha256 of the Apache Software Foundation's LICENSE-2.0.txt.
APACHE_2_0_SHA256 = "cfc7749b96f63bd31c3c42b5c471bf756814053e847c10f3eb003417bc523d30"
# What the tarball holds at its top level; anything else is a decision to make in galaxy.yml's build_ignore.
TOP_LEVEL = {
    "CHANGELOG.md",
    "FILES.json",
    "LICENSE",
    "MANIFEST.json",
    "README.md",
    "bindep.txt",
    "requirements.txt",
    "inventories",
    "meta",
    "playbooks",
    "plugins",
    "roles",
}


def run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False)


def isolated_env(collections: Path, home: Path) -> dict[str, str]:
    """Only `collections` holds collections: the ansible package's bundled ones are out of sight, and no
    ansible.cfg or ANSIBLE_* setting of the checkout applies."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(
        ANSIBLE_COLLECTIONS_PATH=str(collections),
        ANSIBLE_COLLECTIONS_SCAN_SYS_PATH="false",
        HOME=str(home),
        XDG_DATA_HOME="",
    )
    return env


def install(tarball: Path, collections: Path, home: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run(
        [
            str(BIN / "ansible-galaxy"),
            "collection",
            "install",
            "--offline",
            *extra,
            "-p",
            str(collections),
            str(tarball),
        ],
        home,
        isolated_env(collections, home),
    )


def copy_bundled(names: list[str], collections: Path) -> dict[str, str]:
    """Copy collections out of the ansible package into `collections`; name -> the version copied."""
    versions = {}
    for fqcn in names:
        namespace, name = fqcn.split(".")
        shutil.copytree(BUNDLED / namespace / name, collections / "ansible_collections" / namespace / name)
        manifest = json.loads((BUNDLED / namespace / name / "MANIFEST.json").read_text())
        versions[fqcn] = manifest["collection_info"]["version"]
    return versions


def free_ports(count: int) -> list[int]:
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _socket in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Path, list[str]]:
    """The tarball, and the names of its members."""
    out = tmp_path_factory.mktemp("dist")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    result = run(
        [str(BIN / "ansible-galaxy"), "collection", "build", "--output-path", str(out), str(REPO_ROOT)], out, env
    )
    assert result.returncode == 0, result.stderr
    tarball = next(out.glob("birtha-mlflow-*.tar.gz"))
    with tarfile.open(tarball) as archive:
        return tarball, archive.getnames()


@pytest.fixture(scope="module")
def manifest(built) -> dict:
    with tarfile.open(built[0]) as archive:
        return json.load(archive.extractfile("MANIFEST.json"))["collection_info"]


@pytest.fixture(scope="module")
def installed(built, manifest, tmp_path_factory) -> Iterator[tuple[Path, Path, subprocess.CompletedProcess[str]]]:
    """(collections path, home, the install's result): the tarball installed offline beside copies of the collections
    it declares, and nothing else."""
    root = tmp_path_factory.mktemp("installed")
    collections, home = root / "collections", root / "home"
    home.mkdir()
    copy_bundled(sorted(manifest["dependencies"]), collections)
    result = install(built[0], collections, home)
    assert result.returncode == 0, result.stdout + result.stderr
    yield collections, home, result


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


def playbooks(names: list[str]) -> list[str]:
    found = sorted(Path(n).stem for n in names if re.fullmatch(r"playbooks/[a-z0-9_]+\.yml", n))
    assert len(found) >= 20, found
    return found


def test_tarball_holds_what_users_run_and_none_of_the_repositorys_tooling(built):
    _tarball, names = built
    assert {name.split("/")[0] for name in names} == TOP_LEVEL
    assert "roles/mlflow_server/meta/argument_specs.yml" in names
    assert "plugins/modules/mlflow_platform_probe.py" in names
    # README tells users to copy the example inventory; the sandbox's is a local podman container's.
    assert "inventories/example/hosts.yml" in names
    assert {n.split("/")[1] for n in names if n.startswith("inventories/")} == {"example"}
    assert not any(".credentials" in name or name.endswith(".tar.gz") for name in names)


def test_tarball_carries_the_apache_license_its_files_point_to(built):
    with tarfile.open(built[0]) as archive:
        text = archive.extractfile("LICENSE").read().decode()
        module = archive.extractfile("plugins/modules/mlflow_experiment.py").read().decode()
    assert "Apache License 2.0 (see LICENSE)" in module
    assert text.split()[:5] == ["Apache", "License", "Version", "2.0,", "January"]
    assert "END OF TERMS AND CONDITIONS" in text and "APPENDIX: How to apply the Apache License" in text
    assert hashlib.sha256(text.encode()).hexdigest() == APACHE_2_0_SHA256


def test_version_and_metadata_have_one_source(manifest):
    galaxy = yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text())
    assert manifest["version"] == galaxy["version"]
    latest = re.search(r"^## (\S+)", (REPO_ROOT / "CHANGELOG.md").read_text(), re.MULTILINE).group(1)
    assert latest == manifest["version"], "CHANGELOG.md's newest entry is not galaxy.yml's version"
    assert "version" not in tomllib.loads((REPO_ROOT / "pyproject.toml").read_text()).get("project", {})
    urls = [manifest[key] for key in ("repository", "documentation", "homepage", "issues") if manifest.get(key)]
    assert not [url for url in urls if re.search(r"\.(invalid|example|test)\b|example\.(com|org)", url)], urls


def test_dependencies_declared_once_for_galaxy_and_the_execution_environment(manifest):
    """An execution environment built from collections/requirements.yml must get every collection the tarball needs,
    in a version its range accepts; the pinned ansible package must hold one."""
    declared = manifest["dependencies"]
    requirements = yaml.safe_load((REPO_ROOT / "collections" / "requirements.yml").read_text())["collections"]
    assert {r["name"]: r["version"] for r in requirements} == declared
    for fqcn, wanted in declared.items():
        namespace, name = fqcn.split(".")
        bundled = json.loads((BUNDLED / namespace / name / "MANIFEST.json").read_text())["collection_info"]["version"]
        spec = SpecifierSet(wanted)
        assert Version(bundled) in spec, (fqcn, bundled, wanted)
        assert any(s.operator == "<" for s in spec), f"{fqcn}: no upper bound, a new major release may break it"


def test_shipped_content_calls_only_declared_collections(built, manifest):
    """Every FQCN the roles, playbooks and plugins use belongs to ansible-core, this collection or a declared
    dependency (filters and lookups resolve only at run time, which a syntax check does not reach)."""
    known = {f"{ns.name}.{c.name}" for ns in BUNDLED.iterdir() if ns.is_dir() for c in ns.iterdir() if c.is_dir()}
    allowed = {"ansible.builtin", "birtha.mlflow", *manifest["dependencies"]}
    used: dict[str, set[str]] = {}
    with tarfile.open(built[0]) as archive:
        for member in archive.getmembers():
            if member.isfile() and member.name.startswith(("roles/", "playbooks/", "plugins/")):
                text = archive.extractfile(member).read().decode(errors="replace")
                for match in re.finditer(r"\b([a-z0-9_]+\.[a-z0-9_]+)\.[a-z0-9_]+", text):
                    if match.group(1) in known:
                        used.setdefault(match.group(1), set()).add(member.name)
    assert "community.postgresql" in used  # the scan sees what it should
    undeclared = {fqcn: sorted(files)[:3] for fqcn, files in used.items() if fqcn not in allowed}
    assert not undeclared, f"used but not in galaxy.yml's dependencies: {undeclared}"
    unused = set(manifest["dependencies"]) - set(used)
    assert not unused, f"declared in galaxy.yml but used nowhere: {unused}"


def test_install_without_its_dependencies_fails_naming_them(built, manifest, tmp_path):
    """With ansible-core alone, the install stops before anything is installed and says what is missing."""
    collections = tmp_path / "collections"
    result = install(built[0], collections, tmp_path)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "Could not satisfy the following requirements" in output
    assert any(f"{fqcn}:{wanted}" in output for fqcn, wanted in manifest["dependencies"].items()), output
    assert not (collections / "ansible_collections" / "birtha" / "mlflow").exists()


def test_a_dependency_older_than_its_range_is_refused(built, manifest, tmp_path):
    collections = tmp_path / "collections"
    copy_bundled(sorted(manifest["dependencies"]), collections)
    info = collections / "ansible_collections" / "community" / "postgresql" / "MANIFEST.json"
    data = json.loads(info.read_text())
    data["collection_info"]["version"] = "3.9.0"
    info.write_text(json.dumps(data))
    result = install(built[0], collections, tmp_path)
    assert result.returncode != 0
    assert f"community.postgresql:{manifest['dependencies']['community.postgresql']}" in result.stdout + result.stderr


def test_without_the_dependency_collections_the_playbooks_break(built, manifest, tmp_path):
    """What a user got while galaxy.yml declared nothing (here: --no-deps): the deployment cannot even be parsed."""
    collections = tmp_path / "collections"
    assert install(built[0], collections, tmp_path, "--no-deps").returncode == 0
    syntax = run(
        [str(BIN / "ansible-playbook"), "--syntax-check", "birtha.mlflow.platform_up"],
        tmp_path,
        isolated_env(collections, tmp_path),
    )
    assert syntax.returncode != 0
    # The first module of a declared dependency the parser meets (which one depends on the playbooks' order).
    said = syntax.stdout + syntax.stderr
    assert any(f"couldn't resolve module/action '{name}." in said for name in manifest["dependencies"]), said[-2000:]


def test_install_resolves_the_dependencies_from_the_collections_path(installed, manifest):
    collections, home, result = installed
    for fqcn in manifest["dependencies"]:
        assert re.search(rf"'{re.escape(fqcn)}:[0-9.]+' is already installed", result.stdout), result.stdout
    listed = run(
        [str(BIN / "ansible-galaxy"), "collection", "list", "--format", "json"], home, isolated_env(collections, home)
    )
    assert listed.returncode == 0, listed.stderr
    # ansible-core's own (ansible._protomatter) aside, these are all a run can see.
    found = {fqcn for path in json.loads(listed.stdout).values() for fqcn in path if not fqcn.startswith("ansible.")}
    assert found == {"birtha.mlflow", *manifest["dependencies"]}


def test_every_playbook_resolves_by_fqcn(built, installed):
    collections, home, _log = installed
    names = playbooks(built[1])
    inventory = home / "hosts.yml"
    inventory.write_text(
        "all:\n  children:\n    mlflow_db: {hosts: {h1: {}}}\n"
        "    mlflow_artifacts: {hosts: {h1: {}}}\n    mlflow_tracking: {hosts: {h1: {}}}\n"
    )
    syntax = run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), "--syntax-check", *[f"birtha.mlflow.{n}" for n in names]],
        home,
        isolated_env(collections, home),
    )
    assert syntax.returncode == 0, syntax.stdout[-3000:] + syntax.stderr[-3000:]
    checked = re.findall(r"^playbook: .*/ansible_collections/birtha/mlflow/playbooks/(\w+)\.yml$", syntax.stdout, re.M)
    assert checked == names


TIERS = ("mlflow_db", "mlflow_artifacts", "mlflow_tracking")


def validate_inventory(path: Path, ports: dict[str, int]) -> Path:
    """One host holding every tier, on this machine (local connection), with values validate.yml accepts: strong
    secrets, a MinIO store (named: SeaweedFS is the default) with stand-in binaries and their checksums, the
    platform's state in a directory of the test's own."""
    binaries = {}
    for name in ("minio", "mc"):
        binary = path / name
        binary.write_bytes(secrets.token_bytes(64))
        binaries[name] = (str(binary), hashlib.sha256(binary.read_bytes()).hexdigest())
    values = {
        "platform_state_dir": str(path / "state"),
        "platform_artifact_store": "minio",
        "platform_db_password": secrets.token_hex(16),
        "platform_s3_root_password": secrets.token_hex(16),
        "platform_s3_secret_key": secrets.token_hex(16),
        "platform_mlflow_admin_password": secrets.token_hex(16),
        "platform_mlflow_flask_secret_key": secrets.token_hex(32),
        "platform_backup_passphrase": secrets.token_hex(16),
        "minio_server_binary_src": binaries["minio"][0],
        "minio_server_binary_sha256": binaries["minio"][1],
        "minio_server_mc_src": binaries["mc"][0],
        "minio_server_mc_sha256": binaries["mc"][1],
        **ports,
    }
    inventory = {
        "all": {
            "vars": values,
            "hosts": {"platform1": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}},
            "children": {group: {"hosts": {"platform1": {}}} for group in TIERS},
        }
    }
    hosts = path / "hosts.yml"
    hosts.write_text(yaml.safe_dump(inventory))
    return hosts


def run_validate(installed, tmp_path: Path, ports: dict[str, int]) -> subprocess.CompletedProcess[str]:
    collections, home, _log = installed
    inventory = validate_inventory(tmp_path, ports)
    return run(
        [str(BIN / "ansible-playbook"), "-i", str(inventory), "birtha.mlflow.validate"],
        tmp_path,
        isolated_env(collections, home),
    )


def platform_ports() -> dict[str, int]:
    names = ("platform_db_port", "platform_minio_port", "minio_server_console_port", "platform_mlflow_port")
    return dict(zip(names, free_ports(len(names)), strict=True))


def test_validate_accepts_a_valid_inventory_and_changes_nothing(installed, tmp_path):
    """The preflight runs for real from the installed copy: every role's checks, against community.general's port
    facts (read once for all of them), on this machine as the one host."""
    result = run_validate(installed, tmp_path, platform_ports())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    recap = re.search(r"^platform1\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=0\s+failed=0", result.stdout, re.M)
    assert recap, result.stdout[-2000:]
    assert int(recap.group(1)) >= 20 and recap.group(2) == "0"
    ran_ok = r"\] \**\nok: \[platform1\]"  # a task's header, then its result on the one host
    assert re.search(r"^TASK \[Find the listening ports, once for every role's check" + ran_ok, result.stdout, re.M)
    for role in ("postgres_server", "minio_server", "mlflow_server"):
        checked = rf"^TASK \[birtha\.mlflow\.{role} : Validate \| Check that [^\]]* free or ours" + ran_ok
        assert re.search(checked, result.stdout, re.M), role
    assert not (tmp_path / "state").exists()


def test_validate_stops_on_a_port_another_program_holds(installed, tmp_path):
    ports = platform_ports()
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        ports["platform_db_port"] = busy.getsockname()[1]
        result = run_validate(installed, tmp_path, ports)
    assert result.returncode == 2, result.stdout[-3000:]
    assert f"Port {ports['platform_db_port']} on platform1 is already in use by python" in result.stdout
    assert not (tmp_path / "state").exists()


def test_every_plugin_documents_itself_from_the_installed_copy(built, installed):
    """ansible-doc is the manual: every plugin's documentation must render from the installed copy (one ansible-doc
    per plugin type: a plugin whose documentation fails is missing from its JSON and named on stderr)."""
    collections, home, _log = installed
    by_type: dict[str, list[str]] = {}
    for plugin_type, name in documented_plugins(built[1]):
        by_type.setdefault(plugin_type, []).append(f"birtha.mlflow.{name}")
    assert by_type.get("module"), "no module found in the tarball"
    for plugin_type, names in sorted(by_type.items()):
        doc = run(
            [str(BIN / "ansible-doc"), "--json", "-t", plugin_type, *names], home, isolated_env(collections, home)
        )
        assert doc.returncode == 0 and "[ERROR]" not in doc.stderr, f"{plugin_type}: {doc.stderr}"
        rendered = json.loads(doc.stdout)
        assert sorted(rendered) == sorted(names), f"{plugin_type}: not rendered: {set(names) - set(rendered)}"
        for name, entry in rendered.items():
            assert entry.get("doc"), f"{plugin_type} {name} has no documentation"
            assert entry.get("examples"), f"{plugin_type} {name} has no examples"


def test_an_installed_collection_never_writes_into_itself(installed, tmp_path):
    """The health report goes to the controller's data directory."""
    collections, _home, _log = installed
    home = tmp_path / "home"
    home.mkdir()
    empty = tmp_path / "empty.yml"
    empty.write_text("all:\n  hosts: {}\n")
    health = run(
        [str(BIN / "ansible-playbook"), "-i", str(empty), "birtha.mlflow.health_check"],
        tmp_path,
        isolated_env(collections, home),
    )
    assert health.returncode == 2, health.stdout[-3000:]  # no tier in this inventory: unhealthy
    assert "mlflow_db" in health.stdout
    reports = list((home / ".local/share/birtha-mlflow/reports").glob("health-*.json"))
    assert len(reports) == 1, health.stdout[-3000:]
    assert oct(reports[0].stat().st_mode & 0o777) == "0o600"
    collection = collections / "ansible_collections" / "birtha" / "mlflow"
    assert not [p for p in collection.rglob("*") if p.name.startswith("health-")]
