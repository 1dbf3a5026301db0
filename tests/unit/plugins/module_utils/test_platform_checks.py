"""How the health checks word what they find: systemd's states and MLflow's errors in plain words."""

from __future__ import annotations

from ansible_collections.birtha.mlflow.plugins.module_utils.platform_checks import UnitState, error_text


def test_unit_states_in_plain_words():
    def state(active: str, sub: str, result: str = "success", load: str = "loaded") -> str:
        return UnitState("mlflow", load, active, sub, result, "3", "").describe()

    assert state("inactive", "dead", load="not-found") == "mlflow is not installed (no such systemd unit)"
    assert state("failed", "failed", "signal") == "mlflow has failed (killed by a signal)"
    assert "keeps crashing" in state("activating", "auto-restart", "exit-code")
    assert state("inactive", "dead") == "mlflow is stopped (inactive/dead)"
    assert "died (killed by a signal)" in state("deactivating", "stop-sigterm", "signal")


def test_error_text_is_one_line_without_sqlalchemy_links():
    body = b'{"error_code": "X", "message": "refused\\n\\tIs it running?\\n(Background on this error at: https://x/e)"}'
    assert error_text(body) == "refused Is it running?"
