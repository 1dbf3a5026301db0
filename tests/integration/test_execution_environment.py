"""execution-environment.yml agrees with the files it stands beside: the same pins as the controller, the base
image build-image.sh makes, and the external collections inside the pinned `ansible` package. `make ee` builds it
(scripts/build-ee.sh); these checks catch drift without a build."""

from __future__ import annotations

import hashlib
import json
import re
import shlex
from pathlib import Path
from typing import Any

import ansible
import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFINITION = REPO_ROOT / "execution-environment.yml"


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    return yaml.safe_load(DEFINITION.read_text())


def pins(path: Path) -> dict[str, str]:
    """name -> version of every `name==version` line."""
    found = {}
    for line in path.read_text().splitlines():
        if match := re.match(r"\s*([A-Za-z0-9_.\[\]-]+)==([^\s#;]+)", line):
            found[match.group(1).split("[")[0].lower()] = match.group(2)
    return found


def test_ansible_core_runner_and_ansible_pinned_as_on_the_controller(definition):
    dev = pins(REPO_ROOT / "requirements-dev.txt")
    deps = definition["dependencies"]
    assert deps["ansible_core"]["package_pip"] == f"ansible-core=={dev['ansible-core']}"
    assert deps["ansible_runner"]["package_pip"] == f"ansible-runner=={dev['ansible-runner']}"
    steps = " ".join(definition["additional_build_steps"]["append_base"])
    assert f"ansible=={dev['ansible']}" in shlex.split(steps)


def test_runtime_requirements_are_the_collections_own(definition):
    assert definition["dependencies"]["python"] == "requirements.txt"
    assert definition["dependencies"]["system"] == "bindep.txt"


def test_base_image_is_the_one_build_image_sh_makes(definition):
    """build-image.sh tags its base image with a hash of itself (the test hosts' layer on it is tagged otherwise);
    editing that script means naming the new tag here."""
    script = REPO_ROOT / "scripts" / "build-image.sh"
    tag = hashlib.sha256(script.read_bytes()).hexdigest()[:12]
    lib = (REPO_ROOT / "scripts" / "lib.sh").read_text()
    repository = re.search(r'HOST_IMAGE="\$\{HOST_IMAGE:-([^:}]+):', lib).group(1)
    assert definition["images"]["base_image"]["name"] == f"{repository}:{tag}"


def test_no_floating_tag(definition):
    assert "latest" not in DEFINITION.read_text()


def test_collection_tarball_comes_from_where_build_ee_sh_builds_it(definition):
    """The tarball lies under .cache/, which galaxy.yml's build_ignore keeps out of the collection itself."""
    sources = [entry["src"] for entry in definition["additional_build_files"]]
    tarball = next(src for src in sources if src.endswith(".tar.gz"))
    assert tarball.startswith(".cache/ee/")
    assert 'dist="$REPO_ROOT/.cache/ee"' in (REPO_ROOT / "scripts" / "build-ee.sh").read_text()
    assert ".cache" in yaml.safe_load((REPO_ROOT / "galaxy.yml").read_text())["build_ignore"]


def test_external_collections_ship_in_the_pinned_ansible_package():
    """Galaxy is unreachable: each collection collections/requirements.yml names must be inside `ansible`."""
    installed = Path(ansible.__file__).resolve().parent.parent / "ansible_collections"
    requirements = yaml.safe_load((REPO_ROOT / "collections" / "requirements.yml").read_text())["collections"]
    assert requirements
    for requirement in requirements:
        namespace, name = requirement["name"].split(".")
        manifest = installed / namespace / name / "MANIFEST.json"
        assert manifest.is_file(), f"{requirement['name']} is not in the ansible package"
        version = json.loads(manifest.read_text())["collection_info"]["version"]
        wanted = requirement.get("version", "*")
        assert wanted == "*" or Version(version) in SpecifierSet(wanted), (requirement["name"], version, wanted)
