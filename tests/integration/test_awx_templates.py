"""AWX job templates as code (awx/config.yml, applied by awx/apply.yml), checked against the playbooks they run.

No controller runs here, so every check is static: each template's playbook exists; a survey asks only for variables
the playbook documents in its header comment and does not set itself; every confirmation the playbook asserts on is a
required question that does not confirm by default; a question's default is the playbook's own; an optional question
only where the playbook reads an empty answer as "not given"; the credential type injects exactly the secrets the
roles read (roles/platform/meta/argument_specs.yml, entry point "values"); the job template task applies what the
README promises; and ansible-playbook accepts awx/apply.yml.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
AWX_DIR = REPO_ROOT / "awx"
PLAYBOOKS = REPO_ROOT / "playbooks"
ROLES = REPO_ROOT / "roles"

# The runbook's procedures, each of which must have a job template (issue 15, part 6).
RUNBOOK_PROCEDURES = {
    "deploy": "platform_up.yml",
    "health": "health_check.yml",
    "backup": "backup.yml",
    "verify": "backup_verify.yml",
    "restore": "restore.yml",
    "emergency outage": "emergency_outage.yml",
    "emergency restore": "emergency_restore.yml",
    "troubleshoot 1, MLflow unavailable": "troubleshoot_mlflow_unavailable.yml",
    "troubleshoot 2, database connection": "troubleshoot_database_connection.yml",
    "troubleshoot 3, artifact storage": "troubleshoot_artifact_storage.yml",
    "troubleshoot 4, database usage": "troubleshoot_database_usage.yml",
    "retention": "retention.yml",
    "purge": "purge.yml",
    "archive": "archive.yml",
    "rotate credentials": "rotate_credentials.yml",
    "access control": "access_control.yml",
    "vertical scaling": "scale_vertical.yml",
    "rolling restart": "rolling_restart.yml",
    "artifact store migration": "migrate_artifact_store.yml",
    "database switchover": "switchover.yml",
    "upgrade": "upgrade_mlflow.yml",
}

# What Ansible's `bool` filter reads as true: an answer that confirms.
TRUTHY = {"y", "yes", "on", "1", "true", "t"}
SURVEY_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
# Task keys whose text is shown, not evaluated: a variable there is not read.
SHOWN_KEYS = {"name", "msg", "fail_msg", "success_msg"}
IDENTIFIER = r"[A-Za-z_][A-Za-z0-9_]*"
LITERAL = r"true|false|True|False|-?\d+|'[^']*'|\"[^\"]*\""


# ---------------------------------------------------------------------------------------------------- YAML as Ansible


class Unsafe(str):
    """A !unsafe string: Ansible passes it on as it is, without templating it."""

    __slots__ = ()


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!unsafe", lambda loader, node: Unsafe(loader.construct_scalar(node)))
_Loader.add_constructor("!vault", lambda loader, node: loader.construct_scalar(node))


def load_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # _Loader is a SafeLoader


def config() -> dict[str, Any]:
    return load_yaml(AWX_DIR / "config.yml")


def templates() -> list[dict[str, Any]]:
    return config()["awx_job_templates"]


def template_id(template: dict[str, Any]) -> str:
    return template["playbook"]


def questions(template: dict[str, Any]) -> list[dict[str, Any]]:
    return template.get("survey_spec", {}).get("spec", [])


def as_bool(value: Any) -> bool:
    return str(value).strip().lower() in TRUTHY


# ----------------------------------------------------------------------------------------------- what a playbook runs


def header(path: Path) -> str:
    """The comment block at the top of a playbook (after ---): where it documents its variables."""
    lines = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() == "---" and not lines:
            continue
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines)


def _module(task: dict[str, Any], *names: str) -> Any:
    for name in names:
        for key in (name, f"ansible.builtin.{name}", f"ansible.legacy.{name}"):
            if key in task:
                return task[key]
    return None


def _role_dir(name: Any) -> Path | None:
    if not isinstance(name, str) or "{{" in name:
        return None
    short = name.removeprefix("birtha.mlflow.")
    path = ROLES / short
    return path if "." not in short and path.is_dir() else None


@dataclass
class Closure:
    """Everything running a playbook reads: its plays, the playbooks it imports, the roles and task files it includes.

    texts: (key, string) of every string value, with the mapping key it is the value of (defaults/<name> for a role
    default's value);
    set_vars: variables the playbook or a role sets (vars, vars_files, set_fact, role vars) - an extra variable, which
    is what a survey answer is, would override them;
    role_defaults: the defaults/main.yml values of the roles it uses;
    asserts: the `that` conditions of its assert tasks;
    localhost / single_host: whether a play targets the controller, or one indexed host of a group.
    """

    playbooks: list[Path] = field(default_factory=list)
    texts: list[tuple[str, str]] = field(default_factory=list)
    set_vars: set[str] = field(default_factory=set)
    role_defaults: dict[str, Any] = field(default_factory=dict)
    asserts: list[str] = field(default_factory=list)
    host_patterns: list[str] = field(default_factory=list)
    # A role variable a playbook's own variable is copied to (set_fact "<prefix>{{ item }}" over a list of names):
    # the role's name -> the playbook's, which is what a survey asks for.
    aliases: dict[str, str] = field(default_factory=dict)
    _seen: set[Path] = field(default_factory=set)

    def add_strings(self, data: Any, key: str = "") -> None:
        if isinstance(data, str):
            self.texts.append((key, data))
        elif isinstance(data, dict):
            for sub_key, value in data.items():
                self.add_strings(value, str(sub_key))
        elif isinstance(data, list):
            for value in data:
                self.add_strings(value, key)

    def add_vars_file(self, path: Path) -> None:
        if path.is_file() and path not in self._seen:
            self._seen.add(path)
            data = load_yaml(path) or {}
            self.set_vars.update(data)
            self.add_strings(data)

    def add_role(self, role: Path, tasks_from: Any = "main") -> None:
        if role not in self._seen:
            self._seen.add(role)
            defaults = role / "defaults" / "main.yml"
            if defaults.is_file():
                data = load_yaml(defaults) or {}
                self.role_defaults.update(data)
                for name, value in data.items():
                    self.add_strings(value, f"defaults/{name}")
            self.add_vars_file(role / "vars" / "main.yml")
            meta = role / "meta" / "main.yml"
            for dependency in ((load_yaml(meta) or {}).get("dependencies") or []) if meta.is_file() else []:
                dep = _role_dir(dependency.get("role") if isinstance(dependency, dict) else dependency)
                if dep:
                    self.add_role(dep)
        if isinstance(tasks_from, str) and "{{" not in tasks_from:
            self.add_task_file(role / "tasks" / (tasks_from if tasks_from.endswith(".yml") else f"{tasks_from}.yml"))

    def add_task_file(self, path: Path) -> None:
        if path.is_file() and path not in self._seen:
            self._seen.add(path)
            self.add_tasks(load_yaml(path) or [], path.parent)

    def add_tasks(self, tasks: list[dict[str, Any]], base: Path) -> None:
        for task in tasks or []:
            self.add_task(task, base)

    def add_task(self, task: dict[str, Any], base: Path) -> None:
        facts = _module(task, "set_fact")
        copies = isinstance(facts, dict) and self.add_aliases(facts, task.get("loop"))
        for key, value in task.items():
            # A copying set_fact's loop holds names, not expressions that read them.
            if key not in SHOWN_KEYS and key not in ("block", "rescue", "always") and not (copies and key == "loop"):
                self.add_strings(value, key)
        self.set_vars.update(task.get("vars") or {})
        for part in ("block", "rescue", "always"):
            self.add_tasks(task.get(part) or [], base)
        if isinstance(facts, dict):
            self.set_vars.update(name for name in facts if name != "cacheable")
        checked = _module(task, "assert")
        if isinstance(checked, dict):
            that = checked.get("that")
            self.asserts.extend([that] if isinstance(that, str) else list(that or []))
        included = _module(task, "include_tasks", "import_tasks")
        if isinstance(included, dict):
            included = included.get("file")
        if isinstance(included, str) and "{{" not in included:
            self.add_task_file(base / included)
        role_args = _module(task, "include_role", "import_role")
        if isinstance(role_args, dict):
            role = _role_dir(role_args.get("name"))
            if role:
                self.add_role(role, role_args.get("tasks_from", "main"))

    def add_aliases(self, facts: dict[str, Any], loop: Any) -> bool:
        """Record what a set_fact of "<prefix>{{ item }}" over a list of names copies; whether it is one."""
        copies = False
        for key in facts:
            prefix = re.fullmatch(r"(\w+)\{\{\s*item\s*\}\}", str(key))
            if prefix and isinstance(loop, list):
                self.aliases.update({prefix.group(1) + name: name for name in loop if isinstance(name, str)})
                copies = True
        return copies

    def names_of(self, variable: str) -> list[str]:
        """The variable and the role variables it is copied to."""
        return [variable, *(role_name for role_name, name in self.aliases.items() if name == variable)]

    def add_playbook(self, path: Path) -> None:
        if path in self._seen:
            return
        self._seen.add(path)
        self.playbooks.append(path)
        for play in load_yaml(path) or []:
            imported = _module(play, "import_playbook")
            if imported is not None:
                self.set_vars.update(play.get("vars") or {})
                self.add_strings(play.get("vars") or {})
                self.add_playbook(path.parent / imported)
                continue
            self.host_patterns.append(str(play.get("hosts", "")))
            self.set_vars.update(play.get("vars") or {})
            self.add_strings(play.get("vars") or {})
            for vars_file in play.get("vars_files") or []:
                if isinstance(vars_file, str) and "{{" not in vars_file:
                    self.add_vars_file(path.parent / vars_file)
            for entry in play.get("roles") or []:
                role = _role_dir(entry.get("role") or entry.get("name") if isinstance(entry, dict) else entry)
                if role:
                    self.add_role(role)
                if isinstance(entry, dict):
                    self.set_vars.update(entry.get("vars") or {})
            for part in ("pre_tasks", "tasks", "post_tasks", "handlers"):
                self.add_tasks(play.get(part) or [], path.parent)

    @property
    def evaluated(self) -> list[tuple[str, str]]:
        return [(key, text) for key, text in self.texts if key not in SHOWN_KEYS]

    def reads(self, variable: str) -> Iterator[tuple[str, int, str]]:
        """Each place the variable, or a role variable it is copied to, is read: (the string, where in it the name
        starts, the name)."""
        for name in self.names_of(variable):
            pattern = re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)")
            for key, text in self.evaluated:
                if key == f"defaults/{name}":
                    continue  # its role default, not a read
                for match in pattern.finditer(text):
                    yield text, match.start(), name

    def literal_defaults(self, variable: str) -> set[Any]:
        """The defaults the playbook gives the variable inline (`var | default(<literal>)`, messages included: the
        variable may only be shown), and its role's default."""
        found = set()
        for name in self.names_of(variable):
            pattern = re.compile(rf"(?<![\w.]){re.escape(name)}\s*\|\s*default\(\s*({LITERAL})\s*(?:,\s*\w+\s*)?\)")
            found |= {yaml.safe_load(match.group(1)) for _key, text in self.texts for match in pattern.finditer(text)}
            if name in self.role_defaults:
                found.add(self.role_defaults[name])
        return found

    def confirmations(self) -> set[str]:
        """The confirmation variables the playbook asserts on."""
        names = set()
        for condition in self.asserts:
            for name in re.findall(rf"(?<![\w.])({IDENTIFIER})", str(condition)):
                if "confirm" in name and "_" in name and not name.startswith("_"):
                    names.add(self.aliases.get(name, name))
        return names

    def documents(self, variable: str) -> bool:
        pattern = re.compile(rf"(?<![\w.]){re.escape(variable)}(?!\w)")
        return any(pattern.search(header(path)) for path in self.playbooks)


@cache
def closure(playbook: str) -> Closure:
    result = Closure()
    result.add_playbook(REPO_ROOT / playbook)
    return result


def _call_arguments(text: str, start: int) -> str | None:
    """The text between the parenthesis at text[start] and the one that closes it."""
    depth = 0
    for index in range(start, len(text)):
        if text[index] == "(":
            depth += 1
        elif text[index] == ")":
            depth -= 1
            if depth == 0:
                return text[start + 1 : index]
    return None


def blank_safe(text: str, start: int, variable: str) -> bool:
    """Whether this read takes an empty answer ("" or null) as "not given": default(..., true), `or`, `if var else`,
    or an expression that tests for both itself (`var | default('') in [none, '']`, where 0 or false is an answer)."""
    guard = rf"\b{re.escape(variable)}\s*\|\s*default\(\s*''\s*\)\s+in\s+\[\s*none\s*,\s*''\s*\]"
    if re.search(guard, text):
        return True
    after = text[start + len(variable) :]
    default_call = re.match(r"\s*\|\s*default\s*(?=\()", after)
    if default_call:
        arguments = _call_arguments(after, default_call.end())
        return arguments is not None and re.search(r",\s*(true|True)\s*$", arguments) is not None
    if re.match(r"\s+or\b", after):
        return True
    return re.search(r"\bif\s+$", text[:start]) is not None and re.match(r"\s+else\b", after) is not None


# ------------------------------------------------------------------------------------------------- the credential type


@cache
def platform_values() -> dict[str, Any]:
    specs = load_yaml(ROLES / "platform" / "meta" / "argument_specs.yml")
    return specs["argument_specs"]["values"]["options"]


def roles_read() -> set[str]:
    return set(platform_values())


def roles_secrets() -> set[str]:
    """The values the roles keep out of logs (no_log): the secrets a job needs from the credential. A no_log value
    whose default is a template (platform_s3_admin_secret_key) is derived from those, not supplied."""
    return {
        name
        for name, spec in platform_values().items()
        if (spec or {}).get("no_log") and "{{" not in str(spec.get("default", ""))
    }


def test_a_derived_secret_comes_from_a_supplied_one():
    """Each templated no_log default reads only secrets the credential injects, so no secret escapes the check."""
    derived = {
        name: str(spec["default"])
        for name, spec in platform_values().items()
        if (spec or {}).get("no_log") and "{{" in str(spec.get("default", ""))
    }
    assert derived, "no derived secret: roles_secrets() needs no exception"
    for name, default in derived.items():
        read = {secret for secret in roles_secrets() if secret in default}
        assert read and read <= set(injected()), (name, default)


def platform_state_variables() -> set[str]:
    """The variables role platform_state reads a supplied secret or CA from (roles/platform_state/vars/main.yml)."""
    state_vars = load_yaml(ROLES / "platform_state" / "vars" / "main.yml")
    return {item["var"] for item in state_vars["__platform_state_secrets"] + state_vars["__platform_state_ca"]}


def credential_type() -> dict[str, Any]:
    return config()["awx_platform_credential_type"]


def injected() -> dict[str, Any]:
    return credential_type()["injectors"]["extra_vars"]


def fields() -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in credential_type()["inputs"]["fields"]}


def test_credential_type_injects_exactly_what_platform_state_reads():
    """Every secret the platform keeps can be supplied by the credential, and nothing else is injected."""
    assert set(injected()) == platform_state_variables()


def test_credential_type_injects_only_what_the_roles_read():
    unknown = set(injected()) - roles_read()
    assert not unknown, f"injected, but no role reads them (roles/platform/meta/argument_specs.yml): {sorted(unknown)}"


def test_credential_type_injects_every_secret_the_roles_need():
    missing = roles_secrets() - set(injected())
    assert not missing, f"secrets the roles read that the credential type does not inject: {sorted(missing)}"


def test_each_field_is_injected_as_itself_unrendered():
    """One field per injected name, injected under its own name; !unsafe, or apply.yml would render the template."""
    assert set(injected()) == set(fields())
    for name, template in injected().items():
        assert template == "{{ " + name + " }}", name
        assert isinstance(template, Unsafe), f"{name}: the injector template must be tagged !unsafe"


def test_secret_fields_are_secret():
    for name, item in fields().items():
        if name in roles_secrets():
            assert item.get("secret") is True, f"{name} is a secret (no_log) and must be secret: true"
        assert item.get("type", "string") == "string"
        assert item.get("label")
    assert set(credential_type()["inputs"].get("required", [])) <= set(fields())


def test_no_survey_asks_for_a_secret():
    for template in templates():
        for question in questions(template):
            assert question["variable"] not in injected(), f"{template_id(template)}: {question['variable']}"
            assert question["type"] != "password", f"{template_id(template)}: secrets come from the credential"


# --------------------------------------------------------------------------------------------------- the job templates


def test_every_runbook_procedure_has_a_template():
    playbooks = {template["playbook"] for template in templates()}
    missing = {
        procedure: playbook
        for procedure, playbook in RUNBOOK_PROCEDURES.items()
        if f"playbooks/{playbook}" not in playbooks
    }
    assert not missing, f"runbook procedures without a job template: {missing}"


def test_templates_are_unique_and_their_playbooks_exist():
    names = [template["name"] for template in templates()]
    assert len(names) == len(set(names))
    for template in templates():
        playbook = REPO_ROOT / template["playbook"]
        assert template["playbook"].startswith("playbooks/"), template["playbook"]
        assert playbook.is_file(), f"{template['name']}: {template['playbook']} does not exist"
        assert template.get("description"), template["name"]


@pytest.mark.parametrize("template", templates(), ids=template_id)
def test_survey_is_one_awx_accepts(template):
    """The checks AWX's survey_spec endpoint makes, so apply.yml is not refused by the controller."""
    if "survey_spec" not in template:
        return
    spec = template["survey_spec"]
    assert isinstance(spec.get("name"), str) and isinstance(spec.get("description"), str)
    assert spec.get("spec"), "an empty survey: leave survey_spec out"
    variables = [question["variable"] for question in spec["spec"]]
    assert len(variables) == len(set(variables)), "a variable asked twice"
    for question in spec["spec"]:
        where = f"{template_id(template)}: {question.get('variable')}"
        assert isinstance(question.get("question_name"), str), where
        assert re.fullmatch(IDENTIFIER, question["variable"]), where
        assert question.get("type") in SURVEY_TYPES, where
        assert isinstance(question.get("required"), bool), where
        for text in (question["question_name"], question.get("question_description", "")):
            assert "{{" not in text and "{%" not in text, f"{where}: apply.yml would template it"
        if question["type"] in ("multiplechoice", "multiselect"):
            choices = question.get("choices")
            assert isinstance(choices, list) and all(isinstance(choice, str) for choice in choices), where
            if "default" in question:
                assert isinstance(question["default"], str), where
                assert all(item in choices for item in question["default"].splitlines()), where
        if question["type"] in ("integer", "float") and "default" in question:
            assert isinstance(question["default"], int | float) and not isinstance(question["default"], bool), where
            assert question.get("min", question["default"]) <= question["default"] <= question.get("max", 10**12)
        if question["type"] in ("text", "textarea") and "default" in question:
            assert isinstance(question["default"], str), where
            assert question.get("min", 0) <= len(question["default"]) <= question.get("max", 1024), where


@pytest.mark.parametrize("template", templates(), ids=template_id)
def test_survey_asks_only_for_documented_variables(template):
    """A question's variable is named in the header comment of the playbook or of a playbook it imports."""
    runs = closure(template["playbook"])
    undocumented = [q["variable"] for q in questions(template) if not runs.documents(q["variable"])]
    assert not undocumented, f"{template['playbook']} does not document {undocumented}"


@pytest.mark.parametrize("template", templates(), ids=template_id)
def test_survey_does_not_override_what_the_playbook_sets(template):
    """A survey answer is an extra variable: it would beat the playbook's own vars, set_fact and role vars."""
    runs = closure(template["playbook"])
    overriding = [q["variable"] for q in questions(template) if q["variable"] in runs.set_vars]
    assert not overriding, f"{template['playbook']} sets {overriding} itself"


@pytest.mark.parametrize("template", templates(), ids=template_id)
def test_confirmations_are_required_questions_that_do_not_confirm_by_default(template):
    runs = closure(template["playbook"])
    asked = {question["variable"]: question for question in questions(template)}
    for name in sorted(runs.confirmations()):
        assert name in asked, f"{template['playbook']} asserts on {name}: the survey must ask for it"
        question = asked[name]
        assert question["required"] is True, f"{name} must be a required question"
        assert not as_bool(question.get("default", "")), f"{name} must not confirm by default"
        assert question["type"] in ("multiplechoice", "text"), name
        if question["type"] == "multiplechoice":
            assert any(as_bool(choice) for choice in question["choices"]), f"{name}: no answer confirms"


@pytest.mark.parametrize("template", templates(), ids=template_id)
def test_survey_defaults_are_the_playbooks_own(template):
    """Launching without changing an answer runs what `ansible-playbook` without -e runs."""
    runs = closure(template["playbook"])
    for question in questions(template):
        if "default" not in question:
            assert not question["required"] or question["variable"] in runs.confirmations(), (
                f"{question['variable']}: a required question without a default (only confirmations have none)"
            )
            continue
        answer = question["default"]
        if question["type"] == "multiplechoice" and set(question["choices"]) == {"true", "false"}:
            answer = as_bool(answer)
        expected = runs.literal_defaults(question["variable"])
        assert expected == {answer}, (
            f"{template['playbook']}: {question['variable']} defaults to {sorted(map(repr, expected))} there, "
            f"the survey to {answer!r}"
        )


@pytest.mark.parametrize("template", templates(), ids=template_id)
def test_optional_questions_only_where_an_empty_answer_means_not_given(template):
    """AWX sends an optional question left empty as "" or null, depending on its version; both are defined."""
    runs = closure(template["playbook"])
    for question in questions(template):
        if question["required"]:
            continue
        assert "default" not in question, question["variable"]
        reads = list(runs.reads(question["variable"]))
        assert reads, f"{question['variable']}: not read by {template['playbook']}"
        unsafe = [text.strip() for text, start, name in reads if not blank_safe(text, start, name)]
        assert not unsafe, f"{question['variable']} is read where an empty answer counts as given: {unsafe}"


@pytest.mark.parametrize("template", templates(), ids=template_id)
def test_limit_is_asked_only_where_a_limit_cannot_skip_the_procedure(template):
    """A limit drops localhost (reports, summaries, exit codes) and the host of a group[0] play: a job that succeeds
    having done nothing. Nor may a destructive procedure run partially."""
    if not template["ask_limit_on_launch"]:
        return
    runs = closure(template["playbook"])
    for pattern in runs.host_patterns:
        assert "localhost" not in pattern and "[" not in pattern and "{{" not in pattern, pattern
    assert not runs.confirmations()


def test_the_role_of_every_playbook_is_walked():
    """The checks above see through imports and included roles (else they would pass on an empty closure)."""
    assert closure("playbooks/purge.yml").confirmations() == {"mlflow_retention_confirm_purge"}
    assert closure("playbooks/emergency_restore.yml").confirmations() == {"confirm_restore"}
    assert "troubleshoot_issue" in closure("playbooks/troubleshoot_artifact_storage.yml").set_vars
    assert closure("playbooks/health_check.yml").literal_defaults("platform_health_fail_on_unhealthy") == {True}


# --------------------------------------------------------------------------------------------------------- apply.yml


def apply_task(module: str) -> dict[str, Any]:
    plays = load_yaml(AWX_DIR / "apply.yml")
    matches = [task[module] for play in plays for task in play.get("tasks", []) if module in task]
    assert len(matches) == 1, module
    return matches[0]


def test_job_templates_are_applied_as_promised():
    args = apply_task("awx.awx.job_template")
    assert args["become_enabled"] is False, "the playbooks set become themselves"
    assert args["execution_environment"] == "{{ awx_ee_name }}"
    assert args["project"] == "{{ awx_project_name }}"
    assert set(args["credentials"]) == {"{{ awx_machine_credential_name }}", "{{ awx_platform_credential_name }}"}
    assert args["ask_variables_on_launch"] is True, "lists and computed defaults are given as extra variables"
    assert args["ask_limit_on_launch"] == "{{ item.ask_limit_on_launch }}"
    assert args["playbook"] == "{{ item.playbook }}"
    assert args["survey_enabled"] == "{{ item.survey_spec is defined }}"
    assert args["survey_spec"] == "{{ item.survey_spec | default({}) }}"
    for template in templates():
        assert isinstance(template["ask_limit_on_launch"], bool), template["name"]


def test_credential_type_is_applied_from_the_config():
    args = apply_task("awx.awx.credential_type")
    assert args["inputs"] == "{{ awx_platform_credential_type.inputs }}"
    assert args["injectors"] == "{{ awx_platform_credential_type.injectors }}"
    assert config()["awx_platform_credential_type"]["kind"] == "cloud"


def test_tasks_that_pass_secrets_do_not_log():
    plays = load_yaml(AWX_DIR / "apply.yml")
    for task in (task for play in plays for task in play.get("tasks", [])):
        if "awx.awx.credential" in task:
            assert task.get("no_log") is True, task["name"]


def test_apply_playbook_gives_awx_modules_only_their_options():
    """Neither the syntax check nor ansible-lint (offline) catches a misspelt awx.awx option; ansible-doc knows them."""
    plays = load_yaml(AWX_DIR / "apply.yml")
    used = {
        module: args
        for play in plays
        for task in play.get("tasks", [])
        for module, args in task.items()
        if module.startswith("awx.awx.")
    }
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-doc"), "--json", *sorted(used)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    docs = {name: doc["doc"]["options"] for name, doc in json.loads(completed.stdout).items()}
    assert set(docs) == set(used)
    for module, args in used.items():
        known = {name for name, option in docs[module].items() for name in [name, *option.get("aliases", [])]}
        assert set(args) <= known, f"{module}: no option {sorted(set(args) - known)}"


def test_apply_playbook_passes_syntax_check():
    """ansible-playbook resolves every awx.awx module (the collection ships in the ansible package)."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(REPO_ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    completed = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "--syntax-check", "-i", "localhost,", "awx/apply.yml"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
