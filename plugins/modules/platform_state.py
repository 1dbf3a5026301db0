#!/usr/bin/python
# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Read, check and keep the platform's state: generated secrets, the CA and the certificates it issued."""

from __future__ import annotations

DOCUMENTATION = r"""
module: platform_state
short_description: Keep the platform's secrets and CA on the platform, never only on one controller
version_added: 0.7.0
description:
  - Keeps the state a platform needs to outlive any one job - generated secrets, the internal CA and the host
    certificates it issued - as files in one directory on a designated host (root-only, directory 0700, files
    0600), so that any controller (a colleague's laptop, an AWX job in a fresh container) reads the same values.
  - Compares the values a controller supplies (vault, an AWX credential) with
    the kept ones. When any differs, nothing is written and RV(mismatched) names them; the caller stops before any
    change. Only names matching O(replace) may overwrite a kept value (a renewed certificate, an explicit rotation).
  - Writes supplied values the platform does not keep yet, and generates the O(generate) values that are neither
    supplied nor kept - only while the platform is not deployed (none of O(deployed_paths) exists), and for names
    not in O(required) also when it keeps state already. A deployed platform's missing secret is one it uses that
    nobody here knows; generating a replacement would lock its services out, so it is reported in RV(missing).
  - Also runs on the controller (C(delegate_to=localhost)) to keep a controller's own copy in step.
  - Counts the writes a directory has had (RV(revision), kept in C(.revision)). A database cluster keeps the state on
    every member; the caller reads them all, takes the copy with the highest revision, and with O(mirror) makes the
    other members exact copies of it.
options:
  path:
    description: The state directory. Created (0700) on the first write.
    type: path
    default: /etc/birtha-mlflow/state
  supply:
    description:
      - Values the controller holds, by relative file name (C(postgres_mlflow_password), C(tls/ca.crt)). Empty
        values are ignored.
    type: dict
    default: {}
  fallback:
    description:
      - Values a controller's own copy holds (C(platform_credentials_dir)). Used only for names neither supplied nor
        kept. Never compared; where the platform keeps a value, the platform's wins and the copy is refreshed.
    type: dict
    default: {}
  remove:
    description:
      - Names to delete after writing (an explicit rotation moves them aside first, with O(supply)). Honours
        O(write).
    type: list
    elements: str
    default: []
  replace:
    description: fnmatch patterns of names whose supplied value may replace a kept one (C(tls/*.crt)).
    type: list
    elements: str
    default: []
  generate:
    description: Names to generate when neither supplied nor kept, with their length (letters and digits).
    type: dict
    default: {}
  required:
    description: Names that must have a value in the end; those without are returned in RV(missing).
    type: list
    elements: str
    default: []
  deployed_paths:
    description:
      - Glob patterns on the host whose existence means the platform is deployed. With none matching and no state
        kept, the platform is new and O(generate) may create values.
    type: list
    elements: str
    default: []
  deployed_elsewhere:
    description:
      - The caller found the platform deployed on another of its hosts (a database cluster's other member). Counts
        as deployed - a rebuilt state host of a running cluster must not get new secrets - and RV(deployed) says so.
    type: bool
    default: false
    version_added: 0.7.0
  write:
    description: Write supplied and generated values the platform does not keep yet. V(false) only reads and checks.
    type: bool
    default: false
  revisions:
    description:
      - Count the writes in C(.revision) (RV(revision)). V(false) for a controller's own copy, a cache that is never
        compared with the members' copies; nothing but the values is written there.
    type: bool
    default: true
    version_added: 0.7.0
  mirror:
    description:
      - Make the directory an exact copy of these values (another member's RV(entries)), names not among them removed,
        and record O(revision). Fails, changing nothing, when the directory's own revision is higher (its copy is the
        newer one), or the same with other values (another write it does not know). Not with O(supply),
        O(generate), O(remove) or O(fallback).
    type: dict
    version_added: 0.7.0
  revision:
    description: The revision of the O(mirror) values (the RV(revision) of the member they were read from).
    type: int
    version_added: 0.7.0
notes:
  - Returns the secrets themselves in RV(entries); call it with C(no_log=true).
extends_documentation_fragment:
  - birtha.mlflow.mlflow.attributes
attributes:
  check_mode:
    support: full
    details: Reads and compares as usual and returns what would be written, generated and removed; writes and
      removes nothing, and values generated in check mode are not kept.
  diff_mode:
    support: none
author:
  - Birtha platform team (!UNKNOWN)
"""

EXAMPLES = r"""
- name: Read the platform's state and check the controller's values against it
  birtha.mlflow.platform_state:
    supply:
      postgres_mlflow_password: "{{ platform_db_password | default('') }}"
    generate:
      postgres_mlflow_password: 32
    deployed_paths: [/etc/postgresql/*/main/conf.d/50-birtha.conf]
    write: true
  become: true
  delegate_to: "{{ groups['mlflow_db'][0] }}"
  register: state
  no_log: true
"""

RETURN = r"""
entries:
  description: Every value after the run - kept, supplied and generated - by name.
  returned: always
  type: dict
exists:
  description: Whether the state directory existed before the run.
  returned: always
  type: bool
deployed:
  description: Whether any of O(deployed_paths) exists, or O(deployed_elsewhere) is set.
  returned: always
  type: bool
mismatched:
  description: Names whose supplied value differs from the kept one (and may not replace it). Nothing was written.
  returned: always
  type: list
  elements: str
missing:
  description: O(required) names that have no value in the end.
  returned: always
  type: list
  elements: str
generated:
  description: Names generated by this run.
  returned: always
  type: list
  elements: str
removed:
  description: Names deleted (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
written:
  description: Names written (or, in check mode, that would be).
  returned: always
  type: list
  elements: str
revision:
  description:
    - The directory's write count after the run (or, in check mode, what it would be). V(0) when it keeps nothing,
      V(1) for state kept before revisions were counted; each run that writes or removes adds one.
  returned: always
  type: int
  sample: 4
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.birtha.mlflow.plugins.module_utils.platform_state import (
    check_name,
    is_deployed,
    mirror_plan,
    plan,
    read_revision,
    read_state,
    remove_state,
    write_revision,
    write_state,
)


def mirror(module: AnsibleModule, path: str, kept: dict[str, str], revision: int) -> dict:
    """Make the directory an exact copy of another member's newest state."""
    source = {name: str(value) for name, value in module.params["mirror"].items() if value is not None}
    wanted: int = module.params["revision"]
    to_write, to_remove = mirror_plan(kept, source)
    if revision > wanted or (revision == wanted and (to_write or to_remove)):
        module.fail_json(
            msg=f"{path} holds revision {revision}, "
            + ("newer than" if revision > wanted else "other values under the same revision as")
            + f" the copy to mirror (revision {wanted}): nothing was changed. Read every member's state again and "
            "mirror the newest."
        )
    if not module.check_mode:
        if to_write:
            write_state(path, to_write)
        remove_state(path, to_remove)
        if revision != wanted:
            write_revision(path, wanted)
    return {
        "changed": bool(to_write or to_remove or revision != wanted),
        "removed": to_remove,
        "entries": source,
        "exists": os.path.isdir(path),
        "deployed": False,
        "mismatched": [],
        "missing": [],
        "generated": [],
        "written": sorted(to_write),
        "revision": wanted,
    }


def run(module: AnsibleModule) -> dict:
    """Reconcile and, when asked and allowed, write."""
    params = module.params
    for name in [*params["supply"], *params["fallback"], *params["remove"], *(params["mirror"] or {})]:
        try:
            check_name(name)
        except ValueError as error:
            module.fail_json(msg=str(error))
    path: str = params["path"]
    exists = os.path.isdir(path)
    kept = read_state(path)
    revision = read_revision(path, kept)
    if params["mirror"] is not None:
        return mirror(module, path, kept, revision)
    deployed = params["deployed_elsewhere"] or is_deployed(params["deployed_paths"])
    outcome = plan(
        kept=kept,
        supply={name: str(value) for name, value in params["supply"].items() if value is not None},
        replace=params["replace"],
        generate=params["generate"],
        required=params["required"],
        fallback={name: str(value) for name, value in params["fallback"].items() if value is not None},
        deployed=deployed,
        # A deployed platform without kept state has secrets nobody here knows.
        may_generate=exists or not deployed,
    )
    to_write = outcome.write if params["write"] else {}
    to_remove = [] if outcome.mismatched or not params["write"] else [n for n in params["remove"] if n in kept]
    if to_write or to_remove:
        revision += 1
    if not module.check_mode:
        if to_write:
            write_state(path, to_write)
        remove_state(path, to_remove)
        if (to_write or to_remove) and params["revisions"]:
            write_revision(path, revision)
    for name in to_remove:
        outcome.values.pop(name, None)
    return {
        "changed": bool(to_write or to_remove),
        "removed": sorted(to_remove),
        "entries": outcome.values,
        "exists": exists,
        "deployed": deployed,
        "mismatched": outcome.mismatched,
        "missing": outcome.missing,
        "generated": outcome.generated,
        "written": sorted(to_write),
        "revision": revision,
    }


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "default": "/etc/birtha-mlflow/state"},
            "supply": {"type": "dict", "default": {}, "no_log": False},
            "fallback": {"type": "dict", "default": {}, "no_log": False},
            "remove": {"type": "list", "elements": "str", "default": []},
            "replace": {"type": "list", "elements": "str", "default": []},
            "generate": {"type": "dict", "default": {}},
            "required": {"type": "list", "elements": "str", "default": []},
            "deployed_paths": {"type": "list", "elements": "str", "default": []},
            "deployed_elsewhere": {"type": "bool", "default": False},
            "write": {"type": "bool", "default": False},
            "revisions": {"type": "bool", "default": True},
            "mirror": {"type": "dict", "no_log": False},
            "revision": {"type": "int"},
        },
        mutually_exclusive=[("mirror", "supply"), ("mirror", "generate"), ("mirror", "remove"), ("mirror", "fallback")],
        required_together=[("mirror", "revision")],
        supports_check_mode=True,
    )
    module.exit_json(**run(module))


if __name__ == "__main__":
    main()
