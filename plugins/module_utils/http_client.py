# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""The collection's one HTTP client: Ansible's own open_url, with one retry policy and one TLS policy.

Every HTTP call the collection makes itself goes through request() here: MLflow's REST API (mlflow_rest), its
basic-auth app (mlflow_auth) and the health probes of platform_health. open_url needs nothing beyond
ansible-core, so these modules run on any host Ansible reaches. Only where MLflow's own code must run (loading
a model, an artifact root the server does not proxy) does MLflow's client make calls; mlflow_client_environment()
gives it the same timeout, retry count and TLS setting.
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import time
from dataclasses import dataclass, field
from typing import Any, BinaryIO
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode, urljoin

from ansible.module_utils.urls import SSLValidationError, open_url

# Gateway answers a restarting server or a load balancer gives; worth asking again.
RETRY_STATUSES = (502, 503, 504)
BACKOFF_SECONDS = 1.0
NO_ANSWER = 0


@dataclass(frozen=True)
class HttpSettings:
    """How to reach a server: the module options every HTTP-speaking module shares."""

    timeout: int = 30
    retries: int = 0
    ca_bundle: str | None = None
    validate_certs: bool = True
    username: str | None = None
    # Kept out of the repr, so that no log or traceback of the settings shows them.
    password: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> HttpSettings:
        return cls(
            timeout=params.get("timeout") or 30,
            retries=params.get("retries") or 0,
            ca_bundle=params.get("ca_bundle"),
            validate_certs=bool(params.get("validate_certs", True)),
            username=params.get("username"),
            password=params.get("password"),
            token=params.get("token"),
        )


@dataclass(frozen=True)
class Answer:
    """A server's answer; status NO_ANSWER (0) when nothing answered, with the reason."""

    status: int
    body: bytes = b""
    reason: str = ""
    tls_failure: bool = False
    refused: bool = False
    timed_out: bool = False

    @property
    def answered(self) -> bool:
        return self.status != NO_ANSWER

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The decoded JSON body ({} for an empty one); ValueError when it is not JSON."""
        return json.loads(self.body) if self.body.strip() else {}


def is_tls_failure(error: BaseException) -> bool:
    """Whether the connection failed because the server's certificate did not verify."""
    return isinstance(failure_of(error), (ssl.SSLError, ssl.CertificateError)) or isinstance(error, SSLValidationError)


def failure_of(error: BaseException) -> BaseException | str:
    """What went wrong: the error a URLError wraps, else the error itself (ssl.SSLError's own reason is a string)."""
    return error.reason if isinstance(error, URLError) else error


def is_timeout(error: BaseException) -> bool:
    """The request was sent and no answer came in time: the server is there but hung, and asking again would wait
    as long again. A connect timeout (wrapped in a URLError) reached no server, so it counts as no answer."""
    return isinstance(error, TimeoutError)


def is_refused(error: BaseException) -> bool:
    """Nothing listened: the request never reached a server, so any method may be sent again."""
    return isinstance(failure_of(error), ConnectionRefusedError)


def headers_for(settings: HttpSettings, json_body: bool, content_length: int | None) -> dict[str, str]:
    headers = {"Content-Type": "application/json"} if json_body else {}
    if content_length is not None:
        # A stream has no length urllib could read; the server needs it to take the body.
        headers.update({"Content-Type": "application/octet-stream", "Content-Length": str(content_length)})
    if settings.token and not settings.username:
        headers["Authorization"] = f"Bearer {settings.token}"
    return headers


def send_once(
    method: str, url: str, settings: HttpSettings, data: bytes | BinaryIO | None, headers: dict[str, str]
) -> Answer:
    """One attempt; HTTP errors are answers, connection failures an Answer with status 0."""
    if data is not None and not isinstance(data, bytes):
        data.seek(0)  # a resent stream starts again
    try:
        response = open_url(
            url,
            method=method,
            data=data,
            headers=headers,
            timeout=settings.timeout,
            validate_certs=settings.validate_certs,
            ca_path=settings.ca_bundle if settings.validate_certs else None,
            url_username=settings.username,
            url_password=settings.password or "",
            force_basic_auth=bool(settings.username),
            # A ~/.netrc on the controller must not change whom a task authenticates as.
            use_netrc=False,
            # A redirect is an answer: urllib would resend a POST as a GET, or drop its body, and carry the
            # credentials to whatever host the Location names.
            follow_redirects="none",
        )
        return Answer(response.status, response.read())
    except HTTPError as error:
        if 300 <= error.code < 400:
            location = error.headers.get("Location", "") if error.headers else ""
            said = (
                f"redirected to {urljoin(url, location)}; use that address"
                if location
                else "a redirect with no Location"
            )
            return Answer(error.code, said.encode())
        return Answer(error.code, error_body(error))
    # HTTPException: a broken answer (bad status line, body cut short, a URL http.client cannot parse).
    except (URLError, SSLValidationError, OSError, http.client.HTTPException) as error:
        reason = failure_of(error)
        return Answer(
            NO_ANSWER,
            reason=str(reason) or type(error).__name__,
            tls_failure=is_tls_failure(error),
            refused=is_refused(error),
            timed_out=is_timeout(error),
        )


def error_body(error: HTTPError) -> bytes:
    """The body of an error answer; its reason when the body cannot be read."""
    try:
        return error.read() or str(error.reason).encode()
    except (OSError, http.client.HTTPException):
        return str(error.reason).encode()


def should_retry(method: str, answer: Answer, idempotent: bool = False) -> bool:
    """Resend only what cannot have been done twice: a GET (or a read-only POST), or a request that reached no server.

    A repeated create or grant would fail with RESOURCE_ALREADY_EXISTS and hide that the first one worked. A
    request that timed out after it was sent is not retried: the server is there but hung, and each attempt would
    wait the whole timeout again.
    """
    if answer.refused:
        return True
    if not (method == "GET" or idempotent) or answer.tls_failure or answer.timed_out:
        return False
    return answer.status == NO_ANSWER or answer.status in RETRY_STATUSES


def request(
    method: str,
    url: str,
    settings: HttpSettings,
    *,
    query: dict[str, Any] | None = None,
    json_body: Any = None,
    data: bytes | BinaryIO | None = None,
    content_length: int | None = None,
    idempotent: bool = False,
) -> Answer:
    """Send a request under the retry and TLS policy; the last answer (status 0 if none came).

    data may be a stream (an artifact's file) with its content_length; idempotent marks a POST that only reads
    (MLflow's searches), which is retried as a GET is.
    """
    if settings.validate_certs and settings.ca_bundle and not os.access(settings.ca_bundle, os.R_OK):
        # A configuration error, not a server that does not answer: say so, and do not retry it.
        reason = f"ca_bundle {settings.ca_bundle} does not exist or cannot be read"
        return Answer(NO_ANSWER, reason=reason, tls_failure=True)
    if query:
        url = f"{url}?{urlencode(query)}"
    # allow_nan=False: a bare NaN is not JSON, and MLflow's parser drops the rest of the request after one.
    payload = json.dumps(json_body, allow_nan=False).encode() if json_body is not None else data
    headers = headers_for(settings, json_body is not None, content_length)
    attempt = 0
    while True:
        answer = send_once(method, url, settings, payload, headers)
        if attempt >= settings.retries or not should_retry(method, answer, idempotent):
            return answer
        time.sleep(BACKOFF_SECONDS * 2**attempt)
        attempt += 1


def mlflow_client_environment(settings: HttpSettings) -> dict[str, str]:
    """MLflow's client reads its HTTP settings from the environment: request()'s timeout, retry count and TLS setting.

    Which requests it retries (every method, on more statuses) and its waits are MLflow's (urllib3's) own.
    """
    return {
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(settings.timeout),
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": str(settings.retries),
        # MLflow parses it as an int; BACKOFF_SECONDS is a whole number of seconds.
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": str(int(BACKOFF_SECONDS)),
        "MLFLOW_TRACKING_INSECURE_TLS": "false" if settings.validate_certs else "true",
    }
