"""Make the checkout importable as ansible_collections.birtha.mlflow (collections/ links back to it)."""

from __future__ import annotations

import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "collections"))
