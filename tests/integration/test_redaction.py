"""Every secret the platform keeps is masked in what leaves a host (collected logs, the health report's excerpts).

Static: reads role platform_state's table of secrets, the task that gives them to the roles under their names, and
playbooks/vars/redact.yml; runs nothing. A secret added to the table without a redaction entry would reach a log
archive in clear the first time a service echoes it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
STATE_ROLE = REPO_ROOT / "roles" / "platform_state"
REDACT_VARS = REPO_ROOT / "playbooks" / "vars" / "redact.yml"
GIVE_TASK = "Give every host and the controller the platform's secrets"


def state_secrets() -> list[str]:
    table = yaml.safe_load((STATE_ROLE / "vars" / "main.yml").read_text(encoding="utf-8"))
    return [entry["name"] for entry in table["__platform_state_secrets"]]


def find_task(tasks: list[dict[str, Any]], name: str) -> dict[str, Any] | None:
    """The task called name, looked for in blocks too."""
    for task in tasks:
        if task.get("name") == name:
            return task
        for key in ("block", "rescue", "always"):
            found = find_task(task.get(key) or [], name)
            if found:
                return found
    return None


def variables_of(secret: str) -> set[str]:
    """The variables platform_state sets from the secret's kept value."""
    tasks = yaml.safe_load((STATE_ROLE / "tasks" / "main.yml").read_text(encoding="utf-8"))
    task = find_task(tasks, GIVE_TASK)
    assert task, f"roles/platform_state/tasks/main.yml has no task {GIVE_TASK!r}"
    given = task["ansible.builtin.set_fact"]
    source = re.compile(rf"__v\.{re.escape(secret)}\b")
    return {name for name, value in given.items() if isinstance(value, str) and source.search(value)}


def redacted_variables() -> set[str]:
    entries = yaml.safe_load(REDACT_VARS.read_text(encoding="utf-8"))["platform_redact_values"]
    return {match for entry in entries for match in re.findall(r"\{\{\s*(\w+)", entry)}


def test_every_kept_secret_is_masked_in_collected_logs() -> None:
    redacted = redacted_variables()
    unmasked = {}
    for secret in state_secrets():
        given = variables_of(secret)
        assert given, f"platform_state keeps {secret} but gives it to no variable"
        if not given & redacted:
            unmasked[secret] = sorted(given)
    assert not unmasked, f"add one of these variables to playbooks/vars/redact.yml: {unmasked}"


def test_patronis_derived_etcd_login_is_masked_too() -> None:
    derived = yaml.safe_load(
        (REPO_ROOT / "roles" / "postgres_server" / "vars" / "main.yml").read_text(encoding="utf-8")
    )["__postgres_server_etcd_patroni_password"]
    # The expression inside {{ }}: redact.yml must derive the same value.
    expression = re.fullmatch(r"\{\{\s*(.*?)\s*\}\}", derived.strip()).group(1)
    entries = yaml.safe_load(REDACT_VARS.read_text(encoding="utf-8"))["platform_redact_values"]
    assert any(expression in entry for entry in entries), f"playbooks/vars/redact.yml lacks {expression}"
