"""Build the office in this directory with the inbox as it was before desks (commit 4e7d38a).

Run from a checkout of that commit, so the data is what that code wrote:

    git worktree add /tmp/v1 4e7d38a
    cd /tmp/v1 && PYTHONPATH=. python /path/to/tests/inbox/v1_inbox/make.py OUT_DIR

It writes OUT_DIR/office (database and stored records) and OUT_DIR/facts.json (the
recovery key, the case ids and what each holds), which test_desks_migration reads.
"""

import json
import shutil
import sys
from datetime import UTC, date, datetime
from pathlib import Path

from tests.conftest import INSECURE_KDF_PARAMS
from tests.inbox.conftest import (
    PASSWORD,
    Clock,
    Office,
    do_import,
    incoming,
    make_followup,
    make_submission,
)
from whistle.crypto import read_card
from whistle.inbox import db, replies, workflow
from whistle.inbox.cases import add_note
from whistle.inbox.config import InboxConfig, ThrottleLimits, insecure_password_hash
from whistle.inbox.office_setup import init_office
from whistle.inbox.officers import enrol_officer


def main(out: Path) -> None:
    shutil.rmtree(out / "office", ignore_errors=True)
    scratch = out / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    clock = Clock()
    config = InboxConfig(
        data_dir=out / "office",
        kdf_params=INSECURE_KDF_PARAMS,
        password_hash=insecure_password_hash(),
        throttle=ThrottleLimits(per_account=3, window_seconds=900),
        idle_lock_seconds=600,
        default_language="en",
        clock=clock,
        scratch_dir=scratch,
        testing=True,
    )
    created = init_office(
        config,
        time_zone="Europe/Madrid",
        name="Oficina Antifrau",
        desks=[("antifraud", "Anti-fraud office"), ("ethics", "Ethics desk")],
        officer_name="admin",
        password=PASSWORD,
    )
    card = read_card(created.card)
    engine = db.make_engine(config.database_path)
    office = Office(
        config,
        created,
        {d.id: d.public_key for d in card.desks},  # type: ignore[union-attr]
        card.custodian_key,  # type: ignore[union-attr]
        db.session_factory(engine),
    )
    admin = office.sign_in()
    with office.session() as session:
        enrol_officer(
            session,
            config,
            by_officer_id=admin.officer_id,
            keyring=admin.keyring,
            custodian_keyring=None,
            name="berta",
            password=PASSWORD,
            roles=("officer",),
        )
    a, env_a = make_submission(
        office,
        subject="Tender rigged",
        description="V1-ANTIFRAUD-CONTENT",
        files=[("a.txt", b"V1-FILE-A")],
    )
    b, env_b = make_submission(
        office, desk="ethics", subject="Harassment", description="V1-ETHICS-CONTENT"
    )
    do_import(
        office,
        [
            incoming("submission", a.case_id, env_a, "ra"),
            incoming("submission", b.case_id, env_b, "rb"),
        ],
    )
    do_import(
        office, [incoming("followup", a.case_id, make_followup(office, a, "V1-FOLLOWUP"), "fa")]
    )
    now = datetime(2026, 11, 2, 10, tzinfo=UTC)
    with office.session() as session:
        add_note(session, admin.keyring, a.case_id, "V1-NOTE", officer_id=admin.officer_id, now=now)
        workflow.set_labels(
            session, admin.keyring, b.case_id, ["V1-LABEL"], officer_id=admin.officer_id, now=now
        )
        replies.save_draft(
            session, admin.keyring, a.case_id, "V1-DRAFT", officer_id=admin.officer_id, now=now
        )
    engine.dispose()
    facts = {
        "made_by": "4e7d38a",
        "made_on": date(2026, 12, 5).isoformat(),
        "password": PASSWORD,
        "recovery_key": created.recovery_key,
        "cases": {"antifraud": a.case_id, "ethics": b.case_id},
        "secrets": [
            "V1-ANTIFRAUD-CONTENT",
            "V1-FILE-A",
            "V1-ETHICS-CONTENT",
            "V1-FOLLOWUP",
            "V1-NOTE",
            "V1-LABEL",
            "V1-DRAFT",
        ],
    }
    (out / "facts.json").write_text(json.dumps(facts, indent=1) + "\n")
    shutil.rmtree(scratch)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
