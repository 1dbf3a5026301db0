# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""The health checks of each tier (PostgreSQL, the artifact store, MLflow) on the host that runs them, for
platform_health."""

from __future__ import annotations

import configparser
import json
import shutil
import socket
import uuid
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.birtha.mlflow.plugins.module_utils.http_client import Answer, HttpSettings, request
from ansible_collections.birtha.mlflow.plugins.module_utils.pg_clusters import parse_clusters
from ansible_collections.birtha.mlflow.plugins.module_utils.pg_stats import (
    ARCHIVING_SQL,
    CONNECTION_USAGE_SQL,
    ConnectionUsage,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.platform_checks import (
    FAIL,
    OK,
    SKIP,
    WARN,
    Check,
    disk_check,
    error_text,
    one_line,
    read_env_file,
    service_check,
    unit_state,
)
from ansible_collections.birtha.mlflow.plugins.module_utils.s3_store import BOTO3_IMPORT_ERROR, new_s3_client
from ansible_collections.birtha.mlflow.plugins.module_utils.trust import tls_verify

FIX_MLFLOW = "ansible-playbook playbooks/troubleshoot_mlflow_unavailable.yml"
FIX_DATABASE = "ansible-playbook playbooks/troubleshoot_database_connection.yml (or emergency_outage.yml)"
FIX_ARTIFACTS = "ansible-playbook playbooks/troubleshoot_artifact_storage.yml"
FIX_ARCHIVING = (
    "runuser -u postgres -- pgbackrest --stanza=mlflow check on the database host names what fails (the repository, "
    "its cipher pass, its disk); the archiver's errors are in PostgreSQL's log"
)
FIX_USAGE = "ansible-playbook playbooks/troubleshoot_database_usage.yml"
FIX_PROXY = "ansible-playbook playbooks/platform_up.yml --limit mlflow_proxy (re-applies the proxy and starts it)"
FIX_PROXY_SERVER = "ansible-playbook playbooks/rolling_restart.yml (ends with every server enabled and UP)"
ARTIFACT_PREFIX = "birtha-health"


# --- HTTP ------------------------------------------------------------------------------------------------------


def anonymous(params: dict[str, Any]) -> HttpSettings:
    """The probe's HTTP settings without credentials, for the unauthenticated health endpoints."""
    return replace(HttpSettings.from_params(params), username=None, password=None)


def answer_text(answer: Answer) -> str:
    """What a failed request said: the server's message, or why nothing answered."""
    return error_text(answer.body) if answer.answered else one_line(answer.reason)


def endpoint_check(tier: str, name: str, url: str, params: dict[str, Any], fix: str) -> Check:
    answer = request("GET", url, anonymous(params))
    if answer.status == 200:
        return Check(tier, name, OK, f"{url} answered 200", "", {"http_status": answer.status})
    if not answer.answered:
        detail = f"{url} does not answer ({one_line(answer.reason)})"
    else:
        detail = f"{url} answered {answer.status}: {answer_text(answer) or 'no detail'}"
    return Check(tier, name, FAIL, detail, fix, {"http_status": answer.status})


# --- PostgreSQL ------------------------------------------------------------------------------------------------


def discover_clusters(module: AnsibleModule) -> list[dict[str, Any]] | None:
    """Debian's clusters (pg_lsclusters); None when PostgreSQL is not installed."""
    tool = shutil.which("pg_lsclusters")
    if tool is None:
        return None
    rc, out, _err = module.run_command([tool, "--no-header"])
    return parse_clusters(out) if rc == 0 else []


def psql(module: AnsibleModule, cluster: dict[str, Any], database: str, query: str, timeout: int) -> tuple[int, str]:
    """Run query with psql as the cluster's owner over the local socket: (rc, output or error)."""
    command = ["runuser", "-u", cluster["owner"], "--", "psql", "-XAtq", "-v", "ON_ERROR_STOP=1"]
    command += ["-p", str(cluster["port"]), "-d", database, "-F", ",", "-c", query]
    rc, out, err = module.run_command(command, environ_update={"PGCONNECT_TIMEOUT": str(timeout)})
    return rc, (out if rc == 0 else err or out).strip()


def connections_check(module: AnsibleModule, cluster: dict[str, Any], params: dict[str, Any]) -> Check:
    rc, out = psql(module, cluster, "postgres", CONNECTION_USAGE_SQL, params["timeout"])
    if rc != 0:
        return Check("postgres", "connections", FAIL, f"could not count connections: {out}", FIX_DATABASE)
    try:
        usage = ConnectionUsage.from_json(out)
    except (ValueError, KeyError, TypeError):
        detail = f"unexpected answer from pg_stat_activity: {out[:200]}"
        return Check("postgres", "connections", FAIL, detail, FIX_DATABASE)
    idle_in_tx = usage.by_state.get("idle in transaction", 0)
    data = {
        "connections": usage.in_use,
        "max_connections": usage.max_connections,
        "idle_in_transaction": idle_in_tx,
        "percent": usage.percent,
    }
    detail = (
        f"{usage.in_use} of max_connections {usage.max_connections} in use ({usage.percent}%), "
        f"{idle_in_tx} idle in transaction"
    )
    if usage.percent >= params["connections_warn_percent"]:
        return Check("postgres", "connections", WARN, detail, FIX_USAGE, data)
    return Check("postgres", "connections", OK, detail, "", data)


def archiving_verdict(state: dict[str, Any], warn_seconds: int, fail_seconds: int) -> tuple[str, str]:
    """The status and detail of the archiving check from ARCHIVING_SQL's row."""
    lag = int(state.get("lag_seconds") or 0)
    detail = f"WAL archive {lag} s behind; last archived {state.get('last_archived_wal') or 'none yet'}"
    if state.get("failing"):
        detail += (
            f"; the last attempt failed ({state.get('last_failed_wal')} at {state.get('last_failed_time')}, "
            f"{state.get('failed_count')} failures since the counters were reset)"
        )
    if lag > fail_seconds:
        return FAIL, detail + f": more than {fail_seconds} s, the point-in-time recovery window has stopped growing"
    if lag > warn_seconds or state.get("failing"):
        return WARN, detail
    return OK, detail


def archiving_check(module: AnsibleModule, cluster: dict[str, Any], params: dict[str, Any]) -> Check | None:
    """WAL archiving (pgBackRest, platform_db_archiving): how far behind, and whether the last attempt failed. None
    where the cluster does not archive."""
    rc, out = psql(module, cluster, "postgres", ARCHIVING_SQL, params["timeout"])
    if rc != 0:
        return Check("postgres", "archiving", FAIL, f"could not read pg_stat_archiver: {out}", FIX_DATABASE)
    try:
        state = json.loads(out)
    except ValueError:
        return Check(
            "postgres", "archiving", FAIL, f"unexpected answer from pg_stat_archiver: {out[:200]}", FIX_DATABASE
        )
    if state.get("mode") == "off":
        return None
    status, detail = archiving_verdict(state, params["archive_lag_warn_seconds"], params["archive_lag_fail_seconds"])
    return Check("postgres", "archiving", status, detail, "" if status == OK else FIX_ARCHIVING, state)


def json_answer(answer: Answer) -> Any:
    """The JSON body of an answer; None when there is none or it is not JSON."""
    try:
        return json.loads(answer.body) if answer.answered and answer.body else None
    except ValueError:
        return None


def etcd_check(url: str, params: dict[str, Any]) -> Check:
    """etcd's /health on this member: true once it sees a leader, which Patroni needs to keep or take the lock."""
    answer = request("GET", f"{url.rstrip('/')}/health", anonymous(params))
    health = json_answer(answer)
    if isinstance(health, dict) and health.get("health") == "true":
        return Check("postgres", "etcd", OK, "etcd on this host has a majority", "")
    silent = f"no answer ({one_line(answer.reason)})"
    said = (answer_text(answer) or f"health {health!r}") if answer.answered else silent
    detail = f"etcd on this host has no majority ({said}): Patroni can neither keep nor take the leader lock"
    return Check("postgres", "etcd", FAIL, detail, FIX_DATABASE, {"http_status": answer.status})


def member_text(member: dict[str, Any]) -> str:
    """One member as the report names it: name (role, state, lag)."""
    lag = member.get("lag")
    lag_text = f", lag {lag} bytes" if isinstance(lag, int) else (f", lag {lag}" if lag is not None else "")
    return f"{member.get('name')} ({member.get('role')}, {member.get('state')}{lag_text})"


def patroni_cluster_check(view: dict[str, Any], max_lag: int) -> Check:
    """Patroni's view of the cluster: one leader, every member running, no standby further behind than max_lag."""
    members = view.get("members") or []
    leaders = [m for m in members if m.get("role") == "leader"]
    data = {
        "leader": leaders[0].get("name") if len(leaders) == 1 else None,
        "members": [{key: m.get(key) for key in ("name", "role", "state", "lag")} for m in members],
    }
    listed = ", ".join(member_text(m) for m in members) or "none"
    if len(leaders) != 1:
        detail = f"the cluster has no leader: writes fail until Patroni elects one (members: {listed})"
        return Check("postgres", "patroni", FAIL, detail, FIX_DATABASE, data)
    down = [m for m in members if m.get("state") not in ("running", "streaming")]
    behind = [m for m in members if isinstance(m.get("lag"), int) and m["lag"] > max_lag]
    unknown = [m for m in members if m.get("role") != "leader" and not isinstance(m.get("lag"), int)]
    if down or behind or unknown:
        problems = [f"{member_text(m)} is not running" for m in down]
        problems += [f"{member_text(m)} is more than {max_lag} bytes behind" for m in behind]
        problems += [f"{member_text(m)} reports no lag" for m in unknown if m not in down]
        detail = f"{data['leader']} leads; " + "; ".join(problems) + ": a failover may have no candidate"
        return Check("postgres", "patroni", WARN, detail, FIX_DATABASE, data)
    others = ", ".join(member_text(m) for m in members if m is not leaders[0]) or "no standby"
    return Check("postgres", "patroni", OK, f"{data['leader']} leads; {others}", "", data)


def patroni_checks(params: dict[str, Any]) -> list[Check]:
    """Under Patroni: this member's etcd, and the cluster as this member's Patroni reports it."""
    checks = [etcd_check(params["etcd_url"], params)] if params["etcd_url"] else []
    url = f"{params['patroni_url'].rstrip('/')}/cluster"
    answer = request("GET", url, anonymous(params))
    view = json_answer(answer)
    if answer.status != 200 or not isinstance(view, dict):
        said = f"answered {answer.status}" if answer.answered else f"does not answer ({one_line(answer.reason)})"
        checks.append(Check("postgres", "patroni", FAIL, f"Patroni on this host {said} ({url})", FIX_DATABASE))
        return checks
    checks.append(patroni_cluster_check(view, params["max_lag_bytes"]))
    return checks


def postgres_checks(module: AnsibleModule, params: dict[str, Any]) -> tuple[list[Check], str]:
    clusters = discover_clusters(module)
    if clusters is None:
        missing = "PostgreSQL is not installed on this host (no pg_lsclusters)"
        return [
            Check("postgres", "service", FAIL, missing, "deploy it: ansible-playbook playbooks/platform_up.yml")
        ], ""
    cluster = next((c for c in clusters if c["port"] == params["port"]), None)
    if cluster is None:
        found = ", ".join(f"{c['version']}/{c['name']} on {c['port']}" for c in clusters) or "none"
        detail = f"no PostgreSQL cluster listens on port {params['port']} (clusters: {found})"
        return [Check("postgres", "service", FAIL, detail, FIX_DATABASE)], ""
    # Under Patroni, Patroni runs PostgreSQL: its unit is the service (postgresql@ stays stopped).
    manager = "patroni" if params["patroni_url"] else "postgresql"
    unit = params["service"] or f"{manager}@{cluster['version']}-{cluster['name']}"
    state = unit_state(module.run_command, unit)
    checks = [service_check("postgres", state, FIX_DATABASE)]
    if params["patroni_url"]:
        checks += patroni_checks(params)
    rc, out, err = module.run_command(["pg_isready", "-p", str(params["port"]), "-t", str(params["timeout"])])
    answering = rc == 0
    # rc 1 is "rejecting connections" (starting up or recovering), 2 "no response", 3 "no attempt".
    status = OK if answering else FAIL
    fix = "" if answering else FIX_DATABASE
    checks.append(Check("postgres", "pg_isready", status, (out or err).strip(), fix, {"rc": rc}))
    if answering:
        rc, out = psql(module, cluster, params["database"], "SELECT 1", params["timeout"])
        ok = rc == 0 and out == "1"
        detail = (
            f"SELECT 1 in {params['database']} answered" if ok else f"SELECT 1 in {params['database']} failed: {out}"
        )
        checks.append(Check("postgres", "select_1", OK if ok else FAIL, detail, "" if ok else FIX_DATABASE))
        checks.append(connections_check(module, cluster, params))
        archiving = archiving_check(module, cluster, params)
        checks += [archiving] if archiving else []
    else:
        checks.append(Check("postgres", "select_1", SKIP, "PostgreSQL does not accept connections"))
        checks.append(Check("postgres", "connections", SKIP, "PostgreSQL does not accept connections"))
    checks += disks("postgres", [cluster["data_dir"], *params["data_dirs"]], params)
    return checks, unit if state.installed else ""


# --- MinIO -----------------------------------------------------------------------------------------------------


def minio_checks(module: AnsibleModule, params: dict[str, Any]) -> tuple[list[Check], str]:
    unit = params["service"] or "minio"
    state = unit_state(module.run_command, unit)
    checks = [service_check("minio", state, FIX_ARTIFACTS)]
    base = (params["url"] or "http://127.0.0.1:9000").rstrip("/")
    checks.append(endpoint_check("minio", "live", f"{base}/minio/health/live", params, FIX_ARTIFACTS))
    checks.append(endpoint_check("minio", "ready", f"{base}/minio/health/ready", params, FIX_ARTIFACTS))
    if params["cluster"]:
        cluster = endpoint_check("minio", "cluster", f"{base}/minio/health/cluster", params, FIX_ARTIFACTS)
        if cluster.status == FAIL and cluster.data.get("http_status") == 503:
            cluster.detail += " (no write quorum: too many drives or nodes are down)"
        checks.append(cluster)
    else:
        checks.append(
            Check("minio", "cluster", SKIP, "single-node MinIO (cluster health applies to distributed setups)")
        )
    checks += disks("minio", params["data_dirs"], params)
    return checks, unit if state.installed else ""


# --- SeaweedFS -------------------------------------------------------------------------------------------------

# The servers inside one `weed server`, each with the endpoint that says it can do its part, and what failing means.
SEAWEEDFS_PARTS = (
    ("master", "master_url", "/readyz", "the master has no leader or is locked: no volume can be assigned"),
    ("volume", "volume_url", "/healthz", "the volume server is stopping, lost its master or quarantined a disk"),
    ("filer", "filer_url", "/healthz", "the filer cannot read its metadata store: no object can be found"),
)


def seaweedfs_checks(module: AnsibleModule, params: dict[str, Any]) -> tuple[list[Check], str]:
    unit = params["service"] or "seaweedfs"
    state = unit_state(module.run_command, unit)
    checks = [service_check("seaweedfs", state, FIX_ARTIFACTS)]
    base = (params["url"] or "http://127.0.0.1:9000").rstrip("/")
    live = endpoint_check("seaweedfs", "live", f"{base}/healthz", params, FIX_ARTIFACTS)
    checks.append(live)
    for name, option, path, meaning in SEAWEEDFS_PARTS:
        check = endpoint_check("seaweedfs", name, f"{params[option].rstrip('/')}{path}", params, FIX_ARTIFACTS)
        if check.status == FAIL and check.data.get("http_status"):
            check.detail += f" ({meaning})"
        checks.append(check)
    checks += disks("seaweedfs", params["data_dirs"], params)
    return checks, unit if state.installed else ""


# --- MLflow ----------------------------------------------------------------------------------------------------


def api_check(base: str, params: dict[str, Any]) -> Check:
    """An authenticated search: MLflow answers it from its database, unlike /health."""
    url = f"{base}/api/2.0/mlflow/experiments/search"
    answer = request("POST", url, HttpSettings.from_params(params), json_body={"max_results": 1}, idempotent=True)
    if answer.status == 200:
        return Check("mlflow", "api", OK, "an authenticated experiment search answered (MLflow reaches its database)")
    if answer.status == 401:
        detail = f"MLflow rejects the credentials of user {params['username'] or '(none)'} (401)"
        return Check(
            "mlflow", "api", FAIL, detail, "check mlflow_server_admin_password in the inventory", {"http_status": 401}
        )
    reason = answer_text(answer) or "no detail"
    detail = f"an authenticated experiment search failed ({answer.status or 'no answer'}): {reason}"
    return Check("mlflow", "api", FAIL, detail, f"{FIX_DATABASE}; then {FIX_MLFLOW}", {"http_status": answer.status})


def artifact_check(base: str, params: dict[str, Any], check_mode: bool) -> Check:
    """Write, read back and delete one object through MLflow's artifact proxy (MLflow to the store and back)."""
    if check_mode:
        return Check("mlflow", "artifacts", SKIP, "check mode writes nothing")
    path = f"{ARTIFACT_PREFIX}/{socket.gethostname()}-{uuid.uuid4().hex}.txt"
    url = f"{base}/api/2.0/mlflow-artifacts/artifacts/{path}"
    payload = f"birtha health check {uuid.uuid4().hex}".encode()
    settings = HttpSettings.from_params(params)
    steps = (("write", "PUT", payload), ("read back", "GET", None), ("delete", "DELETE", None))
    for step, method, data in steps:
        answer = request(method, url, settings, data=data)
        if answer.status != 200:
            said = f"{answer.status or 'no answer'}: {answer_text(answer)}"
            detail = f"MLflow could not {step} an artifact in the artifact store ({said})"
            data_out = {"http_status": answer.status, "step": step}
            return Check("mlflow", "artifacts", FAIL, detail, FIX_ARTIFACTS, data_out)
        if step == "read back" and answer.body != payload:
            return Check(
                "mlflow", "artifacts", FAIL, "the artifact read back differs from what was written", FIX_ARTIFACTS
            )
    return Check(
        "mlflow", "artifacts", OK, f"artifact written, read back and deleted through MLflow ({ARTIFACT_PREFIX}/)"
    )


# The libpq settings of MLflow's URIs a check connects with, as MLflow does: TLS verification and, with several
# servers, which one will do.
LIBPQ_QUERY_SETTINGS = ("sslmode", "sslrootcert", "target_session_attrs")


def split_host_port(address: str) -> tuple[str, int]:
    """host and port of one `host=h:port` entry of a multi-host URI (5432 when it names no port)."""
    host, colon, port = address.rpartition(":")
    if not colon or not port.isdigit():
        return address, 5432
    return host.strip("[]"), int(port)


def libpq_params(uri: str) -> dict[str, str]:
    """psycopg2.connect() keywords of an SQLAlchemy PostgreSQL URI, the multi-host form included.

    One server is `postgresql+psycopg2://user:pw@host:port/db`; several are `...@/db?host=h1:p1&host=h2:p2`, which
    libpq takes as comma-separated host and port lists. Raises ValueError on an invalid port.
    """
    parts = urlsplit(uri)
    query = parse_qsl(parts.query)
    servers = [split_host_port(value) for key, value in query if key == "host"]
    if not servers:
        servers = [(parts.hostname or "", parts.port or 5432)]
    params = {
        "host": ",".join(host for host, _port in servers),
        "port": ",".join(str(port) for _host, port in servers),
        "user": unquote(parts.username or ""),
        "password": unquote(parts.password or ""),
        "dbname": parts.path.lstrip("/"),
    }
    params.update((key, value) for key, value in query if key in LIBPQ_QUERY_SETTINGS)
    return params


def database_target(params: dict[str, str]) -> str:
    """host:port[,host:port...]/db, to name a database in a report without its credentials."""
    pairs = zip(params["host"].split(","), params["port"].split(","), strict=True)
    return ",".join(f"{host}:{port}" for host, port in pairs) + f"/{params['dbname']}"


def database_uri_check(name: str, uri: str, source: str, timeout: int) -> Check:
    """Whether PostgreSQL accepts the credentials in one of MLflow's database URIs."""
    try:
        import psycopg2
    except ImportError:
        return Check("mlflow", name, SKIP, "psycopg2 is not available to this Python (use MLflow's virtualenv)")
    try:
        params = libpq_params(uri)
    except ValueError:
        return Check("mlflow", name, FAIL, f"the database URI in {source} has an invalid port", FIX_DATABASE)
    target = database_target(params)
    try:
        # The check's timeout per server, as libpq applies connect_timeout to each in turn.
        connection = psycopg2.connect(connect_timeout=timeout, **params)
        server = f"{connection.info.host}:{connection.info.port}"
        connection.close()
    except psycopg2.OperationalError as error:
        message = one_line(str(error))
        if "password authentication failed" in message or "no pg_hba.conf entry" in message:
            cause = "credentials"
            detail = f"PostgreSQL rejects the credentials in {source} ({target}): {message}"
        else:
            cause = "unreachable"
            detail = f"MLflow's database {target} (from {source}) cannot be reached: {message}"
        return Check("mlflow", name, FAIL, detail, FIX_DATABASE, {"target": target, "cause": cause})
    detail = f"PostgreSQL accepts the credentials in {source} ({target})"
    if "," in params["host"]:
        detail += f"; {server} answered"
    return Check("mlflow", name, OK, detail, "", {"target": target, "server": server})


def s3_credentials_check(env: dict[str, str], source: str, bucket: str | None, timeout: int) -> Check:
    """Whether the artifact store accepts MLflow's S3 keys for the artifact bucket."""
    if not bucket:
        return Check("mlflow", "s3_credentials", SKIP, "no s3_bucket given")
    if BOTO3_IMPORT_ERROR:
        return Check(
            "mlflow", "s3_credentials", SKIP, "boto3 is not available to this Python (use MLflow's virtualenv)"
        )
    from botocore.exceptions import BotoCoreError, ClientError

    endpoint = env.get("MLFLOW_S3_ENDPOINT_URL", "")
    client = new_s3_client(
        endpoint,
        env.get("AWS_ACCESS_KEY_ID"),
        env.get("AWS_SECRET_ACCESS_KEY"),
        region=env.get("AWS_DEFAULT_REGION", "us-east-1"),
        # As MLflow itself reaches the store: AWS_CA_BUNDLE from its environment file, boto3's own addressing.
        verify=tls_verify(env.get("AWS_CA_BUNDLE"), True),
        timeout=timeout,
        attempts=1,
        path_style=False,
    )
    where = f"bucket {bucket} at {endpoint or 'AWS'}"
    try:
        client.list_objects_v2(Bucket=bucket, MaxKeys=1)
    except ClientError as error:
        code = error.response.get("Error", {}).get("Code", "")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"):
            cause = "credentials"
            detail = f"the artifact store rejects MLflow's S3 credentials (AWS_* in {source}) for {where}: {code}"
        elif code in ("NoSuchBucket", "404"):
            cause = "bucket"
            detail = f"the artifact {where} does not exist"
        else:
            cause = "refused"
            detail = f"the artifact store refused MLflow's request to {where}: {code} {one_line(str(error))}"
        return Check("mlflow", "s3_credentials", FAIL, detail, FIX_ARTIFACTS, {"code": code, "cause": cause})
    except BotoCoreError as error:
        detail = f"the artifact store cannot be reached for {where}: {one_line(str(error))}"
        return Check("mlflow", "s3_credentials", FAIL, detail, FIX_ARTIFACTS, {"cause": "unreachable"})
    return Check("mlflow", "s3_credentials", OK, f"the artifact store accepts MLflow's S3 credentials for {where}")


def credential_checks(params: dict[str, Any]) -> list[Check]:
    """Database and S3 credentials as MLflow's own files hold them (what MLflow actually uses)."""
    env_file = params["env_file"]
    try:
        env = read_env_file(env_file)
    except OSError as error:
        reason = f"cannot read {env_file}: {error.strerror} (MLflow not installed here, or run without become)"
        return [Check("mlflow", name, SKIP, reason) for name in ("db_credentials", "s3_credentials")]
    checks = []
    backend = env.get("MLFLOW_BACKEND_STORE_URI", "")
    if backend.startswith("postgresql"):
        checks.append(
            database_uri_check("db_credentials", backend, f"MLFLOW_BACKEND_STORE_URI in {env_file}", params["timeout"])
        )
    else:
        checks.append(Check("mlflow", "db_credentials", SKIP, f"no PostgreSQL backend store URI in {env_file}"))
    auth_uri = auth_database_uri(params["auth_config"])
    if auth_uri.startswith("postgresql"):
        source = f"database_uri in {params['auth_config']}"
        checks.append(database_uri_check("auth_db_credentials", auth_uri, source, params["timeout"]))
    checks.append(s3_credentials_check(env, env_file, params["s3_bucket"], params["timeout"]))
    return checks


def auth_database_uri(path: str) -> str:
    parser = configparser.ConfigParser()
    try:
        parser.read(path, encoding="utf-8")
    except configparser.Error:
        return ""
    return parser.get("mlflow", "database_uri", fallback="")


def mlflow_checks(module: AnsibleModule, params: dict[str, Any]) -> tuple[list[Check], str]:
    unit = params["service"] or "mlflow"
    state = unit_state(module.run_command, unit)
    checks = [service_check("mlflow", state, FIX_MLFLOW)]
    base = (params["url"] or "http://127.0.0.1:5000").rstrip("/")
    health = endpoint_check("mlflow", "health", f"{base}/health", params, FIX_MLFLOW)
    checks.append(health)
    if health.status == OK:
        api = api_check(base, params)
        checks.append(api)
        if not params["artifact_check"]:
            checks.append(Check("mlflow", "artifacts", SKIP, "artifact_check is off"))
        elif api.status == OK:
            checks.append(artifact_check(base, params, module.check_mode))
        else:
            # Every artifact request is authenticated too; its failure would only repeat the api check's.
            checks.append(Check("mlflow", "artifacts", SKIP, "MLflow does not answer authenticated requests (see api)"))
    else:
        checks += [Check("mlflow", name, SKIP, "MLflow does not answer /health") for name in ("api", "artifacts")]
    checks += credential_checks(params)
    checks += disks("mlflow", params["data_dirs"], params)
    return checks, unit if state.installed else ""


# --- the proxy (HAProxy) ---------------------------------------------------------------------------------------

# HAProxy's `show stat` CSV: the proxy (backend) name, the server name and its status, by column.
STAT_PROXY, STAT_SERVER, STAT_STATUS = 0, 1, 17
SUMMARY_ROWS = ("FRONTEND", "BACKEND")


def read_stats_socket(path: str, timeout: int) -> str:
    """HAProxy's `show stat` through its admin socket (the socket closes after one command)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(timeout)
        conn.connect(path)
        conn.sendall(b"show stat\n")
        chunks = []
        while chunk := conn.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode("utf-8", "replace")


def server_states(stats: str, backend: str) -> dict[str, str]:
    """Each server of `backend` and its status (UP, DOWN, MAINT, DRAIN, "UP 1/2" while going down, ...)."""
    states = {}
    for line in stats.splitlines():
        fields = line.split(",")
        if len(fields) > STAT_STATUS and fields[STAT_PROXY] == backend and fields[STAT_SERVER] not in SUMMARY_ROWS:
            states[fields[STAT_SERVER]] = fields[STAT_STATUS]
    return states


def servers_check(states: dict[str, str], backend: str) -> Check:
    """FAIL when no tracking server takes requests, WARN naming each one that does not."""
    data: dict[str, Any] = {"servers": states}
    if not states:
        detail = f"the proxy has no servers in backend {backend}"
        return Check("proxy", "servers", FAIL, detail, FIX_PROXY, data)
    up = sorted(name for name, status in states.items() if status == "UP")
    out = ", ".join(f"{name} {status}" for name, status in sorted(states.items()) if status != "UP")
    if not up:
        detail = f"no MLflow server takes requests through the proxy: {out}"
        return Check("proxy", "servers", FAIL, detail, f"{FIX_MLFLOW}; then {FIX_PROXY_SERVER}", data)
    if out:
        detail = f"{len(up)} of {len(states)} MLflow servers take requests; not: {out}"
        return Check("proxy", "servers", WARN, detail, f"{FIX_MLFLOW}; then {FIX_PROXY_SERVER}", data)
    return Check("proxy", "servers", OK, f"all {len(states)} MLflow servers are UP: {', '.join(up)}", "", data)


def proxy_checks(module: AnsibleModule, params: dict[str, Any]) -> tuple[list[Check], str]:
    unit = params["service"] or "haproxy"
    state = unit_state(module.run_command, unit)
    checks = [service_check("proxy", state, FIX_PROXY)]
    base = (params["url"] or "http://127.0.0.1:8000").rstrip("/")
    # /health through the proxy: answered by whichever MLflow server it picks.
    checks.append(endpoint_check("proxy", "health", f"{base}/health", params, FIX_PROXY_SERVER))
    try:
        states = server_states(read_stats_socket(params["stats_socket"], params["timeout"]), params["backend"])
    except OSError as error:
        detail = f"the proxy's admin socket {params['stats_socket']} does not answer: {one_line(str(error))}"
        checks.append(Check("proxy", "servers", FAIL, detail, FIX_PROXY))
    else:
        checks.append(servers_check(states, params["backend"]))
    return checks, unit if state.installed else ""


# --- common ----------------------------------------------------------------------------------------------------


def disks(tier: str, paths: list[str], params: dict[str, Any]) -> list[Check]:
    unique = list(dict.fromkeys(p for p in paths if p))
    return [disk_check(tier, path, params["disk_warn_percent"], params["disk_fail_percent"]) for path in unique]


TIERS = {
    "postgres": postgres_checks,
    "minio": minio_checks,
    "seaweedfs": seaweedfs_checks,
    "mlflow": mlflow_checks,
    "proxy": proxy_checks,
}
