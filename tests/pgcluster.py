"""A private PostgreSQL cluster for the test run, from Debian's packages.

PostgreSQL refuses to run as root, so the cluster is made with ``initdb`` as the
``postgres`` system user in a fresh temporary directory (owned by that user), and
listens only on a Unix socket in that directory: no TCP port to find or collide
on, no system cluster touched, nothing left behind. Each pytest-xdist worker
starts its own cluster (session-scoped fixture), and every test gets a database
of its own inside it. Durability is off (``fsync``, ``synchronous_commit``):
nothing here needs to survive a crash of the machine.
"""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg

PORT = 5432  # only names the socket file (.s.PGSQL.5432) inside the private directory
SETTINGS = {
    "listen_addresses": "''",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "300",
    "shared_buffers": "32MB",
    # What docs/deployment.md asks of a production server, checked here too.
    "log_statement": "none",
    "log_min_duration_statement": "-1",
    "log_parameter_max_length": "0",
    "log_parameter_max_length_on_error": "0",
}


class PostgresUnavailableError(RuntimeError):
    pass


def _bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise PostgresUnavailableError(
            f"PostgreSQL's {name} not found: `apt-get install postgresql` (make system-deps), "
            "or run with --databases=sqlite"
        )
    return path


@dataclass(frozen=True)
class Cluster:
    socket_dir: Path

    @property
    def admin_conninfo(self) -> str:
        return f"host={self.socket_dir} port={PORT} user=postgres dbname=postgres"

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}&port={PORT}"

    def new_database(self) -> str:
        """A fresh, empty database; its SQLAlchemy URL."""
        name = "t_" + uuid.uuid4().hex
        with psycopg.connect(self.admin_conninfo, autocommit=True) as connection:
            connection.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.url(name)


@contextmanager
def running_cluster(overrides: dict[str, str] | None = None) -> Iterator[Cluster]:
    """Start a private cluster as the postgres user; stop and delete it afterwards.

    ``overrides`` replaces settings (bench/submit_load.py turns durability back on)."""
    initdb, pg_ctl = _bin("initdb"), _bin("pg_ctl")
    try:
        user = pwd.getpwnam("postgres")
    except KeyError as exc:
        raise PostgresUnavailableError(
            "no postgres system user: `apt-get install postgresql`"
        ) from exc
    as_postgres = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    if os.geteuid() != 0:
        as_postgres = {}
    root = Path(tempfile.mkdtemp(prefix="whistle-pg-", dir="/tmp"))
    os.chmod(root, 0o700)
    if as_postgres:
        os.chown(root, user.pw_uid, user.pw_gid)
    data = root / "data"
    env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8"}
    try:
        subprocess.run(
            [initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
            check=True,
            capture_output=True,
            env=env,
            cwd=root,
            **as_postgres,  # type: ignore[arg-type]
        )
        settings = {**SETTINGS, **(overrides or {})}
        options = " ".join(f"-c {key}={value}" for key, value in settings.items())
        options += f" -c unix_socket_directories={root} -p {PORT}"
        subprocess.run(
            [pg_ctl, "-D", str(data), "-l", str(root / "log"), "-o", options, "-w", "start"],
            check=True,
            capture_output=True,
            env=env,
            cwd=root,
            **as_postgres,  # type: ignore[arg-type]
        )
    except subprocess.CalledProcessError as exc:
        log = root / "log"
        detail = log.read_text(errors="replace") if log.exists() else exc.stderr.decode()
        shutil.rmtree(root, ignore_errors=True)
        raise PostgresUnavailableError(f"PostgreSQL did not start: {detail.strip()}") from exc
    try:
        yield Cluster(root)
    finally:
        subprocess.run(
            [pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop"],
            capture_output=True,
            env=env,
            cwd=root,
            **as_postgres,  # type: ignore[arg-type]
        )
        shutil.rmtree(root, ignore_errors=True)
