# Copyright: Birtha platform team
# Apache License 2.0 (see LICENSE)
"""Connection options shared by every birtha.mlflow module that talks to PostgreSQL."""

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  port:
    description:
      - Port of the local PostgreSQL server; the module connects over its Unix socket.
    type: int
    default: 5432
  database:
    description:
      - The database the module works in.
    type: str
requirements:
  - psycopg2 on the database host (Debian package C(python3-psycopg2))
notes:
  - Runs on the database host as the C(postgres) OS user (C(become_user=postgres)) and connects over the Unix
    socket with peer authentication, so no password is passed.
  - Set O(port) and O(database) once with C(module_defaults) and the action group C(group/birtha.mlflow.postgres).
    M(birtha.mlflow.postgres_restore) is not in the group - its O(database) is the one it creates or swaps - and
    M(birtha.mlflow.postgres_dump) has no O(database).
"""
