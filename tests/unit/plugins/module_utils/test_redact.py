"""The redactor: literal secret values and secret-shaped text become [REDACTED]."""

from __future__ import annotations

import pytest

from ansible_collections.birtha.mlflow.plugins.module_utils.redact import MASK, Redactor, redact

SECRET = "q8Zt3VfK0pLw9sX2bYc7Rm4N"


def test_literal_values_are_masked_wherever_they_appear():
    line = f'ERROR:  invalid input syntax for type integer: "probe {SECRET}" at character 8'
    assert redact(line, [SECRET]) == f'ERROR:  invalid input syntax for type integer: "probe {MASK}" at character 8'


def test_short_and_empty_values_are_ignored():
    assert redact("the cat sat", ["cat", ""]) == "the cat sat"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # SQL: CREATE/ALTER ROLE statements in PostgreSQL's log (also passwords the inventory no longer holds)
        (
            "STATEMENT:  ALTER ROLE mlflow WITH ENCRYPTED PASSWORD 'old-Secret1'",
            f"STATEMENT:  ALTER ROLE mlflow WITH ENCRYPTED PASSWORD '{MASK}'",
        ),
        ("CREATE ROLE m LOGIN password E'it''s-s3cret';", f"CREATE ROLE m LOGIN password '{MASK}';"),
        (
            "postgresql+psycopg2://mlflow:pw123456@db:5432/mlflow_db",
            f"postgresql+psycopg2://mlflow:{MASK}@db:5432/mlflow_db",
        ),
        (
            "postgresql+psycopg2://mlflow:pw123456@/mlflow_db?host=db1:5432&host=db2:5432",
            f"postgresql+psycopg2://mlflow:{MASK}@/mlflow_db?host=db1:5432&host=db2:5432",
        ),
        ("MINIO_ROOT_PASSWORD=abcdefgh1", f"MINIO_ROOT_PASSWORD={MASK}"),
        ("Authorization: Basic YWRtaW46cGFzcw==", f"Authorization: Basic {MASK}"),
    ],
)
def test_secret_shaped_text_is_masked(line, expected):
    assert redact(line) == expected


@pytest.mark.parametrize(
    "line",
    [
        'FATAL:  password authentication failed for user "mlflow"',
        "ALTER ROLE mlflow PASSWORD NULL",
        'INFO:     127.0.0.1:35206 - "GET /api/2.0/mlflow/runs/get?run_id=67f6 HTTP/1.1" 200 OK',
        "API: http://192.0.2.2:9000  http://127.0.0.1:9000",
    ],
)
def test_ordinary_log_lines_are_left_alone(line):
    assert redact(line) == line


def test_masking_twice_changes_nothing():
    redactor = Redactor([SECRET])
    once = redactor(f"password={SECRET} and PASSWORD '{SECRET}'")
    assert redactor(once) == once
