"""Every role is documented the way Galaxy's importer and ``ansible-doc -t role`` expect.

Static: reads roles/*/README.md, meta/argument_specs.yml and defaults/main.yml; runs nothing.

- Each role has a README.md that names each entry point of its argument spec (``tasks_from: <name>`` for those with
  a tasks file of their own) and holds a YAML example play that uses the role by its FQCN, birtha.mlflow.<role>.
- Each option of an argument spec whose variable has a value in defaults/main.yml carries that value as
  ``default:`` (compared as parsed YAML, Jinja expressions included: a spec default is documentation only, since
  Ansible validates the role's variables after its defaults are set), so ansible-doc shows the real default.
  A ``required`` option carries no default; its defaults/main.yml value, if any, must be an empty placeholder.
- Each variable in defaults/main.yml is an option of some entry point, and no spec default claims a value that
  defaults/main.yml does not set.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(path for path in (REPO_ROOT / "roles").iterdir() if path.is_dir())
# What a defaults/main.yml gives a required variable only so that templates never meet an undefined one.
PLACEHOLDERS: tuple[Any, ...] = ("", [], {}, None)
FENCED_YAML = re.compile(r"^```ya?ml\n(.*?)^```", re.MULTILINE | re.DOTALL)
INCLUDE_ACTIONS = (
    "ansible.builtin.include_role",
    "ansible.builtin.import_role",
    "include_role",
    "import_role",
)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def entry_points(role: Path) -> dict[str, dict[str, Any]]:
    return load_yaml(role / "meta" / "argument_specs.yml")["argument_specs"]


def role_defaults(role: Path) -> dict[str, Any]:
    path = role / "defaults" / "main.yml"
    return (load_yaml(path) or {}) if path.exists() else {}


def readme(role: Path) -> str:
    path = role / "README.md"
    assert path.is_file(), f"roles/{role.name} has no README.md (Galaxy's importer rejects the collection)"
    return path.read_text(encoding="utf-8")


def code_spans(text: str) -> list[str]:
    return re.findall(r"`([^`\n]+)`", text)


def uses_role(node: Any, fqcn: str) -> bool:
    """Whether a parsed YAML example applies the role: `- role: <fqcn>` or include_role/import_role `name: <fqcn>`."""
    if isinstance(node, list):
        return any(uses_role(item, fqcn) for item in node)
    if not isinstance(node, dict):
        return False
    if node.get("role") == fqcn:
        return True
    for action in INCLUDE_ACTIONS:
        if isinstance(node.get(action), dict) and node[action].get("name") == fqcn:
            return True
    return any(uses_role(value, fqcn) for value in node.values())


def test_roles_found() -> None:
    assert ROLES, "no role directories under roles/"


@pytest.mark.parametrize("role", ROLES, ids=lambda path: path.name)
def test_readme_names_each_entry_point(role: Path) -> None:
    text = readme(role)
    spans = code_spans(text)
    missing = []
    for name in entry_points(role):
        if not any(re.search(rf"\b{re.escape(name)}\b", span) for span in spans):
            missing.append(f"`{name}`")
        elif name != "main" and (role / "tasks" / f"{name}.yml").exists() and f"tasks_from: {name}" not in text:
            missing.append(f"`tasks_from: {name}`")
    assert not missing, f"roles/{role.name}/README.md does not name the entry point(s) {', '.join(missing)}"


@pytest.mark.parametrize("role", ROLES, ids=lambda path: path.name)
def test_readme_has_an_example_play_with_the_fqcn(role: Path) -> None:
    fqcn = f"birtha.mlflow.{role.name}"
    examples = [yaml.safe_load(block) for block in FENCED_YAML.findall(readme(role))]
    plays = [
        example
        for example in examples
        if isinstance(example, list) and any(isinstance(play, dict) and "hosts" in play for play in example)
    ]
    assert any(uses_role(play, fqcn) for play in plays), (
        f"roles/{role.name}/README.md has no ```yaml example play that applies {fqcn} (as `role:` or the `name:` "
        "of include_role/import_role)"
    )


@pytest.mark.parametrize("role", ROLES, ids=lambda path: path.name)
def test_entry_points_have_their_tasks(role: Path) -> None:
    """An entry point documents a tasks file a play can run (roles/platform's `values` is documentation only)."""
    documentation_only = {"values"} if role.name == "platform" else set()
    missing = [
        name
        for name in entry_points(role)
        if name not in documentation_only and not (role / "tasks" / f"{name}.yml").is_file()
    ]
    assert not missing, f"roles/{role.name}: entry point(s) without tasks/<name>.yml: {missing}"


@pytest.mark.parametrize("role", ROLES, ids=lambda path: path.name)
def test_spec_defaults_are_the_role_defaults(role: Path) -> None:
    defaults = role_defaults(role)
    problems = []
    for entry_point, spec in entry_points(role).items():
        for name, option in (spec.get("options") or {}).items():
            where = f"{entry_point}: {name}"
            if name not in defaults:
                if "default" in option:
                    problems.append(
                        f"{where} has default {option['default']!r} in the spec, but defaults/main.yml does not set "
                        "it (a spec default is documentation only: Ansible never sets the variable from it)"
                    )
                continue
            value = defaults[name]
            if option.get("required"):
                if "default" in option:
                    problems.append(f"{where} is required and has a default in the spec: it has one or the other")
                if value not in PLACEHOLDERS:
                    problems.append(
                        f"{where} is required, but defaults/main.yml gives it {value!r}: it is not required, "
                        "document that value as its default instead"
                    )
                continue
            if "default" not in option:
                problems.append(f"{where} has no default in the spec; defaults/main.yml has {value!r}")
            elif option["default"] != value:
                problems.append(
                    f"{where}: the spec's default {option['default']!r} is not defaults/main.yml's {value!r}"
                )
    assert not problems, f"roles/{role.name}/meta/argument_specs.yml:\n" + "\n".join(problems)


@pytest.mark.parametrize("role", ROLES, ids=lambda path: path.name)
def test_every_default_is_documented(role: Path) -> None:
    documented = {name for spec in entry_points(role).values() for name in (spec.get("options") or {})}
    undocumented = sorted(set(role_defaults(role)) - documented)
    assert not undocumented, (
        f"roles/{role.name}: defaults/main.yml sets {undocumented}, which no entry point of "
        "meta/argument_specs.yml documents"
    )
