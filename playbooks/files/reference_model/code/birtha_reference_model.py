# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""The reference model the runbook playbooks register: a pyfunc model written as plain code.

It holds no pickle, so it loads under any Python and MLflow version, and its answer is known:
one score per input row. The playbooks use it to prove the registry serves what was registered.
"""

from __future__ import annotations

from typing import Any

SCORE = 0.95


class ReferenceModel:
    def predict(self, model_input: Any, params: dict[str, Any] | None = None) -> list[float]:
        return [SCORE] * len(model_input)


def _load_pyfunc(data_path: str) -> ReferenceModel:
    """pyfunc's loader_module entry point."""
    return ReferenceModel()
