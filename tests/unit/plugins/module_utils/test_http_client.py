"""The one HTTP client against a real server on loopback: retries, authentication, TLS and no-answer wording."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import threading

import pytest

from ansible_collections.birtha.mlflow.plugins.module_utils import http_client
from ansible_collections.birtha.mlflow.plugins.module_utils.http_client import (
    NO_ANSWER,
    HttpSettings,
    mlflow_client_environment,
    request,
)
from ansible_collections.birtha.mlflow.tests.unit.plugins.module_utils.loopback import self_signed, serve


@pytest.fixture
def no_backoff(monkeypatch):
    monkeypatch.setattr(http_client, "BACKOFF_SECONDS", 0.0)


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_read_is_retried_through_gateway_errors(no_backoff):
    with serve([(503, b"busy"), (502, b"bad gateway"), (200, b'{"ok": true}')]) as server:
        answer = request("GET", server.url + "/x", HttpSettings(retries=2))
        assert (answer.status, answer.json()) == (200, {"ok": True})
        assert len(server.seen) == 3


def test_retries_stop_at_the_count_and_hand_back_the_last_answer(no_backoff):
    with serve([(503, b"busy")] * 5) as server:
        answer = request("GET", server.url + "/x", HttpSettings(retries=1))
        assert (answer.status, answer.text, len(server.seen)) == (503, "busy", 2)


def test_a_write_that_reached_the_server_is_never_sent_twice(no_backoff):
    with serve([(503, b"busy"), (200, b"{}")]) as server:
        answer = request("POST", server.url + "/create", HttpSettings(retries=3), json_body={"name": "a"})
        assert answer.status == 503
        assert [seen["method"] for seen in server.seen] == ["POST"]


def test_json_query_and_basic_auth_are_sent_as_given():
    with serve([(200, b"{}")]) as server:
        settings = HttpSettings(username="admin", password="s3cret-s3cret")
        request("PATCH", server.url + "/u", settings, query={"username": "bob b"}, json_body={"is_admin": True})
        seen = server.seen[0]
        assert seen["path"] == "/u?username=bob+b"
        assert seen["content_type"] == "application/json"
        assert json.loads(seen["body"]) == {"is_admin": True}
        assert seen["authorization"] == "Basic " + base64.b64encode(b"admin:s3cret-s3cret").decode()


def test_a_token_is_sent_as_bearer_only_without_a_username():
    with serve([(200, b"{}"), (200, b"{}")]) as server:
        request("GET", server.url, HttpSettings(token="tok"))
        request("GET", server.url, HttpSettings(token="tok", username="admin", password="pw"))
        assert server.seen[0]["authorization"] == "Bearer tok"
        assert str(server.seen[1]["authorization"]).startswith("Basic ")


def test_an_error_answer_keeps_its_status_and_body():
    with serve([(404, b'{"error_code": "RESOURCE_DOES_NOT_EXIST"}')]) as server:
        answer = request("GET", server.url, HttpSettings())
        assert answer.status == 404
        assert answer.json() == {"error_code": "RESOURCE_DOES_NOT_EXIST"}


def test_nothing_listening_is_no_answer_with_the_reason(no_backoff):
    answer = request("POST", f"http://127.0.0.1:{free_port()}/x", HttpSettings(retries=1))
    assert (answer.status, answer.answered, answer.refused, answer.tls_failure) == (NO_ANSWER, False, True, False)
    assert "refused" in answer.reason.lower()


def test_a_certificate_that_does_not_verify_is_a_tls_failure_and_not_retried(tmp_path, no_backoff):
    cert, key = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with serve([(200, b"{}")] * 3, context) as server:
        url = f"https://127.0.0.1:{server.server_address[1]}/"
        refused = request("GET", url, HttpSettings(retries=2))
        assert (refused.answered, refused.tls_failure) == (False, True)
        assert request("GET", url, HttpSettings(ca_bundle=str(cert))).status == 200
        assert request("GET", url, HttpSettings(validate_certs=False)).status == 200


def test_mlflow_client_gets_the_same_timeout_retries_and_tls():
    env = mlflow_client_environment(HttpSettings(timeout=7, retries=3, validate_certs=False))
    assert env == {
        "MLFLOW_HTTP_REQUEST_TIMEOUT": "7",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "3",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
        "MLFLOW_TRACKING_INSECURE_TLS": "true",
    }


def count_attempts(monkeypatch) -> list[str]:
    """The methods send_once was called with, in order (what the retry rule actually sent)."""
    sent: list[str] = []
    real = http_client.send_once

    def counting(method, *args):
        sent.append(method)
        return real(method, *args)

    monkeypatch.setattr(http_client, "send_once", counting)
    return sent


def test_a_refused_write_is_sent_again_and_a_refused_read_too(monkeypatch, no_backoff):
    sent = count_attempts(monkeypatch)
    url = f"http://127.0.0.1:{free_port()}/x"
    request("POST", url, HttpSettings(retries=2), json_body={})
    request("GET", url, HttpSettings(retries=1))
    assert sent == ["POST", "POST", "POST", "GET", "GET"]


def test_a_certificate_failure_is_not_retried(monkeypatch, tmp_path, no_backoff):
    cert, key = self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with serve([], context) as server:
        sent = count_attempts(monkeypatch)
        request("GET", f"https://127.0.0.1:{server.server_address[1]}/", HttpSettings(retries=3))
        assert sent == ["GET"]


def test_a_ca_bundle_that_is_missing_or_not_pem_is_a_tls_problem_named_as_such(tmp_path, monkeypatch, no_backoff):
    sent = count_attempts(monkeypatch)
    missing = request("GET", "https://127.0.0.1:9/", HttpSettings(ca_bundle=str(tmp_path / "none.pem"), retries=2))
    assert (missing.tls_failure, sent) == (True, [])
    assert "does not exist or cannot be read" in missing.reason
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("not a certificate")
    with serve([]) as server:
        answer = request("GET", server.url.replace("http:", "https:"), HttpSettings(ca_bundle=str(garbage)))
        assert (answer.answered, answer.tls_failure) == (False, True)


def test_a_broken_answer_is_no_answer_not_a_traceback():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]

        def garble() -> None:
            connection = listener.accept()[0]
            with connection:
                connection.recv(65536)
                connection.sendall(b"NOT HTTP AT ALL\r\n\r\n")

        thread = threading.Thread(target=garble, daemon=True)
        thread.start()
        answer = request("GET", f"http://127.0.0.1:{port}/", HttpSettings())
        thread.join(5)
    assert (answer.answered, answer.tls_failure) == (False, False)
    assert answer.reason


def test_secrets_stay_out_of_the_settings_repr():
    text = repr(HttpSettings(username="admin", password="pw-secret-1", token="tok-secret-2"))
    assert "admin" in text and "pw-secret-1" not in text and "tok-secret-2" not in text


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_redirect_is_not_followed_and_its_target_is_named(no_backoff, method):
    moved = (302, b"", {"Location": "/elsewhere/api"})
    with serve([moved, (200, b"{}")]) as server:
        answer = request(method, server.url + "/create", HttpSettings(username="admin", password="pw", retries=2))
        assert answer.status == 302
        assert f"redirected to {server.url}/elsewhere/api" in answer.text
        assert len(server.seen) == 1  # neither followed nor resent, so the credentials go nowhere else


def test_a_redirect_without_a_location_says_so():
    with serve([(301, b"")]) as server:
        assert request("GET", server.url, HttpSettings()).text == "a redirect with no Location"


def test_a_resent_stream_is_sent_whole_again(tmp_path, no_backoff):
    payload = tmp_path / "model.bin"
    payload.write_bytes(b"0123456789" * 100)
    with serve([(503, b"busy"), (200, b"{}")]) as server, payload.open("rb") as stream:
        answer = request("PUT", server.url, HttpSettings(retries=1), data=stream, content_length=1000, idempotent=True)
        assert answer.status == 200
        assert [seen["body"] for seen in server.seen] == [payload.read_bytes()] * 2


def test_a_read_that_timed_out_is_not_sent_again(no_backoff):
    with serve([(200, b"{}")] * 3, delay=1.5) as server:
        answer = request("GET", server.url, HttpSettings(timeout=1, retries=2))
        assert (answer.answered, answer.timed_out) == (False, True)
        assert len(server.seen) == 1


def test_a_read_only_post_is_retried_like_a_get(no_backoff):
    with serve([(503, b"busy"), (200, b'{"runs": []}')]) as server:
        answer = request("POST", server.url + "/search", HttpSettings(retries=1), json_body={}, idempotent=True)
        assert (answer.status, [seen["method"] for seen in server.seen]) == (200, ["POST", "POST"])


def test_a_stream_is_sent_whole_with_its_length(tmp_path):
    payload = tmp_path / "model.bin"
    payload.write_bytes(bytes(range(256)) * 40)
    with serve([(200, b"{}")]) as server, payload.open("rb") as stream:
        request("PUT", server.url + "/artifact", HttpSettings(), data=stream, content_length=10240)
        seen = server.seen[0]
        assert (seen["body"], seen["content_length"]) == (payload.read_bytes(), "10240")
        assert seen["content_type"] == "application/octet-stream"
