"""Backup and restore of an inbox with N imported reports: time, size, memory.

    PYTHONPATH=. .venv/bin/python bench/backup.py --cases 200 --attachment-kib 256

Builds an office in a temporary directory (weak Argon2: the unwraps are not what is timed),
imports N submissions through the real import (each with one attachment of the given size),
then times ``make_backup`` and ``restore_backup`` through the functions the CLI calls and
prints the file size and the peak RSS. Asserts nothing.
"""

import argparse
import os
import resource
import secrets
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from tests.inbox.conftest import Office, make_submission
from whistle.crypto import KdfParams, read_card
from whistle.inbox import db
from whistle.inbox.backup import make_backup, read_header, restore_backup, unlock_with_password
from whistle.inbox.config import InboxConfig, insecure_password_hash
from whistle.inbox.office_setup import init_office
from whistle.inbox.officers import sign_in
from whistle.inbox.store import IncomingRecord, import_records

PASSWORD = "bench password for backups"  # noqa: S105 - a throwaway office


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--attachment-kib", type=int, default=256)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        config = InboxConfig(
            data_dir=root / "office",
            kdf_params=KdfParams(opslimit=1, memlimit=8192),
            password_hash=insecure_password_hash(),
        )
        created = init_office(
            config,
            time_zone=config.time_zone,
            name="Bench",
            desks=[("antifraud", "A")],
            officer_name="admin",
            password=PASSWORD,
        )
        card = read_card(created.card)
        engine = db.make_engine(config.database_path)
        sessions = db.session_factory(engine)
        office = Office(
            config,
            created,
            {d.id: d.public_key for d in card.desks},  # type: ignore[union-attr]
            card.custodian_key,  # type: ignore[union-attr]
            sessions,
        )
        with db.transaction(sessions) as session:
            keyring = sign_in(session, config, "admin", PASSWORD).keyring
        started = time.perf_counter()
        for _ in range(args.cases):
            attachment = os.urandom(args.attachment_kib * 1024)
            source, envelope = make_submission(office, files=[("scan.pdf", attachment)])
            record = IncomingRecord(
                "submission", secrets.token_hex(16), source.case_id, date(2026, 11, 1), envelope
            )
            with db.transaction(sessions) as session:
                import_records(session, keyring, [record], store_dir=config.store_dir)
        imported = time.perf_counter() - started
        store = sum(p.stat().st_size for p in config.store_dir.iterdir())
        database = config.database_path.stat().st_size
        out = root / "inbox.wbak"
        started, cpu = time.perf_counter(), time.process_time()
        made = make_backup(
            sessions, config.database_path, config.store_dir, keyring, out, now=datetime.now(UTC)
        )
        backup_wall, backup_cpu = time.perf_counter() - started, time.process_time() - cpu
        engine.dispose()
        started, cpu = time.perf_counter(), time.process_time()
        with out.open("rb") as source_file:
            info = read_header(source_file)
            opened = unlock_with_password(info, "admin", PASSWORD)
            restore_backup(source_file, info, opened, root / "restored", now=datetime.now(UTC))
        restore_wall, restore_cpu = time.perf_counter() - started, time.process_time() - cpu
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        mib = 1024 * 1024
        print(
            f"{args.cases} cases, {args.attachment_kib} KiB attachment each "
            f"(import {imported:.1f} s)"
        )
        print(
            f"store {store / mib:.1f} MiB in {made.store_files} files, "
            f"database {database / mib:.2f} MiB"
        )
        print(
            f"backup  {made.size / mib:.1f} MiB, {backup_wall:.2f} s wall, {backup_cpu:.2f} s CPU"
        )
        print(f"restore {restore_wall:.2f} s wall, {restore_cpu:.2f} s CPU")
        print(f"peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()
