# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Take secrets out of text before it leaves a host: log excerpts in health reports, collected logs.

Two passes: the literal secret values the inventory holds (the only sure way for a password that a
service echoes in its own words), then patterns for what a secret looks like in configuration and
connection strings (key=value, URL user:password@, HTTP Authorization headers, SQL PASSWORD '...').
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "[REDACTED]"
# Shorter values would mask ordinary words (the platform's generated secrets are 32 characters or more).
MIN_SECRET_LENGTH = 6

_KEY_WORDS = r"(?:password|passwd|pwd|secret(?:[_-]?access)?[_-]?key|secret|passphrase|token|api[_-]?key|credentials?)"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # scheme://user:password@host  (database and S3 URIs)
    (re.compile(r"(?P<head>[a-z][a-z0-9+.-]*://[^:/@\s]+:)[^@\s]+(?=@)", re.IGNORECASE), rf"\g<head>{MASK}"),
    # Authorization: Basic xxx / Bearer xxx
    (
        re.compile(r"(?P<head>authorization\s*[:=]\s*(?:basic|bearer|token)?\s*)\S+", re.IGNORECASE),
        rf"\g<head>{MASK}",
    ),
    # KEY=value, key: value, "key": "value" (the value up to whitespace, quote or separator)
    (
        re.compile(
            rf"(?P<head>[\w.-]*{_KEY_WORDS}[\w.-]*\"?\s*[=:]\s*\"?)(?P<value>[^\s\"',;&]+)",
            re.IGNORECASE,
        ),
        rf"\g<head>{MASK}",
    ),
    # PASSWORD 'value' in SQL: CREATE/ALTER ROLE statements that PostgreSQL logs (log_statement, or with the
    # error of a failing statement), including passwords the inventory no longer holds
    (re.compile(r"(?P<head>\bpassword\s+)E?'(?:[^']|'')*'", re.IGNORECASE), rf"\g<head>'{MASK}'"),
    # --password value on a logged command line
    (re.compile(rf"(?P<head>--[\w-]*{_KEY_WORDS}[\w-]*\s+)[^\s-]\S*", re.IGNORECASE), rf"\g<head>{MASK}"),
)


class Redactor:
    """Masks the given secret values and anything shaped like a secret."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values = sorted({s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}, key=len, reverse=True)
        self._literal = re.compile("|".join(re.escape(v) for v in values)) if values else None

    def __call__(self, text: str) -> str:
        if self._literal is not None:
            text = self._literal.sub(MASK, text)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """text with the secret values and secret-shaped substrings replaced by [REDACTED]."""
    return Redactor(secrets)(text)
