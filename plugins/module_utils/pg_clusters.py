# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Debian's PostgreSQL clusters as pg_lsclusters lists them: the one parser of its output (the platform_health
module, and through the pg_clusters filter the tuning, monitoring and log-collection roles)."""

from __future__ import annotations

from typing import Any


def parse_clusters(text: str) -> list[dict[str, Any]]:
    """Rows of `pg_lsclusters --no-header` (version, cluster, port, status, owner, data directory, log file) as
    dicts; a line that is not such a row (a header, a warning) is skipped."""
    clusters = []
    for line in (text or "").splitlines():
        fields = line.split()
        if len(fields) < 6 or not fields[2].isdigit():
            continue
        clusters.append(
            {
                "version": fields[0],
                "name": fields[1],
                "port": int(fields[2]),
                "status": fields[3],
                "owner": fields[4],
                "data_dir": fields[5],
                "log_file": fields[6] if len(fields) > 6 else "",
            }
        )
    return clusters
