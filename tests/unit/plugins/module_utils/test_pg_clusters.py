"""pg_lsclusters' rows, as the tuning, monitoring, log-collection roles and the health check read them."""

from __future__ import annotations

from ansible_collections.birtha.mlflow.plugins.module_utils.pg_clusters import parse_clusters

OUTPUT = (
    "Ver Cluster Port Status Owner    Data directory              Log file\n"
    "15  main    5432 online postgres /var/lib/postgresql/15/main /var/log/postgresql/postgresql-15-main.log\n"
    "15  spare   5433 down   postgres /var/lib/postgresql/15/spare\n"
    "Warning: something the tool says\n"
)


def test_rows_become_clusters_and_other_lines_are_skipped():
    assert parse_clusters(OUTPUT) == [
        {
            "version": "15",
            "name": "main",
            "port": 5432,
            "status": "online",
            "owner": "postgres",
            "data_dir": "/var/lib/postgresql/15/main",
            "log_file": "/var/log/postgresql/postgresql-15-main.log",
        },
        {
            "version": "15",
            "name": "spare",
            "port": 5433,
            "status": "down",
            "owner": "postgres",
            "data_dir": "/var/lib/postgresql/15/spare",
            "log_file": "",
        },
    ]


def test_nothing_listed_is_no_cluster():
    assert parse_clusters("") == []
    assert parse_clusters(None) == []  # type: ignore[arg-type]
