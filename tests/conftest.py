"""Shared test setup, for every pytest run (plain pytest, Molecule's verifiers, ansible-test units).

Only path setup here, no third-party import: ansible-test units loads this file too. The fixtures that run
playbooks through ansible-runner are in platform_fixtures.py, imported by the conftest of each directory
that uses them.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
COLLECTION_LINK = REPO_ROOT / "collections" / "ansible_collections" / "birtha" / "mlflow"


def link_collection() -> None:
    """The checkout is the collection: collections/ansible_collections/birtha/mlflow -> ../../.. makes it importable
    as ansible_collections.birtha.mlflow and lets ansible.cfg's collections_path find it. Not in git (ansible-test
    sanity refuses a symlink loop): scripts/lib.sh's link_collection makes it for make; this does for plain pytest."""
    if REPO_ROOT.parent.parent.name == "ansible_collections":
        return  # already under ansible_collections/<ns>/<name> (ansible-test's staged copy): nothing to link
    if COLLECTION_LINK.is_symlink() or COLLECTION_LINK.exists():
        return
    COLLECTION_LINK.parent.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(FileExistsError):  # another process made it meanwhile
        os.symlink("../../..", COLLECTION_LINK)


link_collection()
sys.path.insert(0, str(REPO_ROOT / "collections"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
