"""Poison records: a sealed report the inbox can never open does not live on the server for ever.

The attack (attack review, finding 2): an envelope of the right shape sealed to a random key,
posted through the JavaScript route, which can check only the shape. The inbox refuses it and
answers with a refusal signed by the office key; the server deletes it and leaves tombstones,
the outbox stops carrying it, it stops counting against the quota and stops holding back the
destruction of its key epoch. A refusal the office did not sign changes nothing. Every test
runs on SQLite and on PostgreSQL.
"""

import base64
import datetime
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from tests.bundles.conftest import World, make_world
from tests.epochs.conftest import DAY0, Loop
from tests.submit.conftest import csrf_from, submit_report
from whistle.bundling import BundleRefusedError
from whistle.crypto import (
    KdfParams,
    derive_source_keys,
    generate_box_keypair,
    generate_code,
    generate_signing_keypair,
)
from whistle.crypto.bundles import write_bundle
from whistle.crypto.orders import RecordOrder, sign_order
from whistle.crypto.records import SubmissionWriter, seal_followup
from whistle.inbox import compartments, epochs
from whistle.inbox.bundles import pinned_server, verify_outbox
from whistle.inbox.models import AuditEvent, Case, Outgoing
from whistle.inbox.outgoing import RemovalRefusedError, queue_order, removal_order
from whistle.submit import store
from whistle.submit.models import Login, Record, Tombstone

POISON_BYTES = 300_000


@pytest.fixture
def loop(
    tmp_path: Path,
    insecure_kdf_params: KdfParams,
    db_backend: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Loop]:
    url = "" if db_backend == "sqlite" else request.getfixturevalue("database_url")
    world = make_world(tmp_path, insecure_kdf_params, database_url=url)
    yield Loop(world, monkeypatch)
    world.app.extensions["whistle_submit"].engine.dispose()
    world.inbox_sessions.kw["bind"].dispose()


def post_sealed(client: FlaskClient, url: str, body: bytes):  # type: ignore[no-untyped-def]
    csrf = csrf_from(client.get("/report").text)
    return client.post(
        url, data=body, content_type="application/octet-stream", headers={"X-CSRFToken": csrf}
    )


def poison_body(loop: Loop, case_id: bytes | None = None) -> tuple[bytes, bytes, bytes]:
    """A report of the right shape sealed to random keys: (case id, login token, body)."""
    keys = derive_source_keys(generate_code(), loop.world.server_config.install_salt)
    case_id = case_id or store.new_case_id()
    out = io.BytesIO()
    writer = SubmissionWriter(
        out,
        desk_key=generate_box_keypair().public_key,
        custodian_key=generate_box_keypair().public_key,
        reply_public_key=keys.reply_public_key,
        source_signing_key=keys.signing_public_key,
        case_id=case_id,
    )
    writer.begin_file("padding.bin")
    writer.write(bytes(POISON_BYTES))
    writer.end_file()
    writer.add_form({"language": "en", "desk": "antifraud", "fields": []})
    writer.add_identification([])
    writer.finish()
    return case_id, keys.login_token, keys.login_token + case_id + out.getvalue()


def post_poison(loop: Loop) -> tuple[str, bytes, bytes]:
    """Post a poison report: (its record id on the server, case id, login token)."""
    case_id, token, body = poison_body(loop)
    response = post_sealed(loop.client, "/report/sealed", body)
    assert response.status_code == 200, response.text
    [record_id] = [r for r, (_k, case) in server_rows(loop.world).items() if case == case_id.hex()]
    return record_id, case_id, token


def server_rows(world: World) -> dict[str, tuple[str, str]]:
    with world.server_state().sessions() as session:
        return {r.id: (r.kind.value, r.case_id) for r in session.scalars(select(Record))}


def used(world: World) -> int:
    with world.server_state().sessions() as session:
        return store.storage_used(session)


def refused_events(world: World) -> int:
    with world.inbox_session() as session:
        return session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "record-refused")
        )


def outbox_ids(loop: Loop, data: bytes) -> set[str]:
    with loop.world.inbox_session() as session:
        return {r.id for r in verify_outbox(session, loop.world.keyring, data).records}


def test_a_poison_report_is_refused_deleted_and_never_comes_back(loop: Loop) -> None:
    world = loop.world
    loop.client.get("/language/en")
    submit_report(loop.client, description="A real report")
    poison_id, poison_case, token = post_poison(loop)
    before = used(world)

    # The inbox refuses it once and queues a signed refusal for it ...
    first = loop.inbox_import(loop.server_export())
    assert first.counts["records imported"] == 1
    assert first.counts["refused (see the audit log)"] == 1
    assert first.counts["refusals queued"] == 1
    # ... and skips it quietly while the server still sends it (no audit event per sync).
    again = loop.inbox_import(loop.server_export())
    assert again.counts["refused earlier, skipped"] == 1
    assert again.counts["refused (see the audit log)"] == 0
    assert refused_events(world) == 1

    # The replies bundle carries the refusal; the server deletes the record and its case.
    applied = loop.server_import(loop.inbox_export())
    assert applied.counts["records refused or removed by the office"] == 1
    assert applied.counts["cases removed with their submission"] == 1
    assert poison_id not in server_rows(world)
    assert len(server_rows(world)) == 1  # the real report stays (its acknowledgement waits)
    with world.server_state().sessions() as session:
        assert session.scalar(select(Login).where(Login.case_id == poison_case.hex())) is None
        assert {t.id for t in session.scalars(select(Tombstone))} == {poison_id, poison_case.hex()}
    # It no longer counts against the quota, and the outbox no longer carries it.
    assert used(world) <= before - POISON_BYTES
    assert poison_id not in outbox_ids(loop, loop.server_export())

    # Its case id can never be taken again, and its code opens nothing.
    _case, _token, body = poison_body(loop, poison_case)
    assert post_sealed(loop.client, "/report/sealed", body).status_code == 400
    response = post_sealed(loop.client, "/check-in/sealed", token)
    assert response.status_code == 404

    # The server's next outbox confirms the refusal: the inbox stops carrying it.
    loop.inbox_import(loop.server_export())
    with world.inbox_session() as session:
        row = session.scalar(select(Outgoing).where(Outgoing.kind == "refusal"))
        assert row.confirmed is not None
    assert refused_events(world) == 1


def test_a_forged_follow_up_goes_and_its_case_stays(loop: Loop) -> None:
    """A follow-up not authenticated by the case's reply key: only that record is refused."""
    world = loop.world
    loop.client.get("/language/en")
    code = submit_report(loop.client, description="A real report")
    loop.inbox_import(loop.server_export())
    world.inbox_backup()
    loop.server_import(loop.inbox_export())  # the report is acknowledged and gone
    assert server_rows(world) == {}
    keys = derive_source_keys(code, world.server_config.install_salt)
    with world.inbox_session() as session:
        [case_id] = session.scalars(select(Case.id)).all()
        # The same bundle announced the case's key (protocol §17): follow-ups go to it alone.
        case_key = compartments.case_public(session, case_id)
    forged = seal_followup(
        "not from the source",
        [],
        reply_secret_key=generate_box_keypair().secret_key,  # not the case's reply key
        office_keys=[case_key],
        case_id=bytes.fromhex(case_id),
    )
    response = post_sealed(
        loop.client,
        f"/follow-up/sealed?case_key={case_key.hex()}",
        keys.login_token + bytes.fromhex(case_id) + forged,
    )
    assert response.status_code == 200, response.text
    [(forged_id, _)] = server_rows(world).items()

    summary = loop.inbox_import(loop.server_export())
    assert summary.counts["refusals queued"] == 1
    applied = loop.server_import(loop.inbox_export())
    assert applied.counts["records refused or removed by the office"] == 1
    assert applied.counts["cases removed with their submission"] == 0
    assert server_rows(world) == {}
    with world.server_state().sessions() as session:  # the case still takes follow-ups
        assert session.scalar(select(Login).where(Login.case_id == case_id)) is not None
        assert session.get(Tombstone, forged_id).kind == "record"
        assert session.get(Tombstone, case_id) is None
    loop.followup(code, "a real follow-up")
    assert loop.inbox_import(loop.server_export()).counts["records imported"] == 1


def test_a_poison_record_no_longer_holds_its_key_epoch(loop: Loop) -> None:
    """Before: the epoch-1 desk keys were never destroyed while a poison record sat there."""
    world = loop.world
    loop.client.get("/language/en")
    post_poison(loop)
    loop.rotate()
    loop.server_import(loop.inbox_export())
    loop.day = DAY0 + datetime.timedelta(days=5)  # long past the grace period

    summary = loop.inbox_import(loop.server_export())
    assert "key epoch 1: 1 record(s) still on the server" in summary.notes
    with world.inbox_session() as session:
        assert not epochs.is_destroyed(session, 1)
    loop.server_import(loop.inbox_export())  # carries the refusal
    # Three days after this inbox first saw the server use epoch 2 (day 5), by its own clock.
    loop.day = DAY0 + datetime.timedelta(days=8)
    summary = loop.inbox_import(loop.server_export())
    assert "desk keys of epoch 1 destroyed: everything sent to them is collected" in summary.notes
    with world.inbox_session() as session:
        assert epochs.is_destroyed(session, 1)


def _order(
    world: World, record_id: str, case_id: str, digest: str | None, **kw: object
) -> RecordOrder:
    fields = {
        "kind": "refusal",
        "install_id": world.server_config.install_id,
        "record_id": record_id,
        "case_id": case_id,
        "record_hash": digest,
        "reason": "none of this office's desk keys opens the submission",
        "record_kind": "submission",
    }
    fields.update(kw)
    return RecordOrder(**fields)  # type: ignore[arg-type]


def _replies_bundle(world: World, extra: dict[str, object]) -> bytes:
    """A replies bundle signed by the office key carrying ``extra`` as its orders."""
    with world.inbox_session() as session:
        server = pinned_server(session)
    out = io.BytesIO()
    write_bundle(
        out,
        records=[],
        signing_seed=world.keyring.signing_seed,
        recipient_bundle_key=server.bundle_key,
        install_id=server.install_id,
        direction="replies",
        sequence=1000,
        previous=None,
        created=DAY0.isoformat(),
        extra=extra,
    )
    return out.getvalue()


def _b64(blob: bytes) -> str:
    return base64.b64encode(blob).decode()


FORGERIES = {
    "signed by another key": lambda w, o: {
        "refused": [_b64(sign_order(generate_signing_keypair().seed, o))]
    },
    "for another server": lambda w, o: {
        "refused": [_b64(sign_order(w.keyring.signing_seed, _replace(o, install_id="ab" * 16)))]
    },
    "a removal offered as a refusal": lambda w, o: {
        "refused": [_b64(sign_order(w.keyring.signing_seed, _replace(o, kind="removal")))]
    },
    "a card signature offered as a refusal": lambda w, o: {"refused": [_b64(_card_blob(w))]},
    "not base64": lambda w, o: {"refused": ["not base64!"]},
    "not a list": lambda w, o: {"removed": "x"},
}


def _replace(order: RecordOrder, **kw: str) -> RecordOrder:
    import dataclasses

    return dataclasses.replace(order, **kw)  # type: ignore[arg-type]


def _card_blob(world: World) -> bytes:
    from whistle.crypto import sign
    from whistle.crypto.signing import CARD

    return sign(world.keyring.signing_seed, CARD, b"{}")


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
def test_a_forged_refusal_changes_nothing(loop: Loop, forgery: str) -> None:
    world = loop.world
    loop.client.get("/language/en")
    poison_id, case_id, _token = post_poison(loop)
    with world.server_state().sessions() as session:
        digest = session.get(Record, poison_id).record_hash.hex()
    order = _order(world, poison_id, case_id.hex(), digest)
    bundle = _replies_bundle(world, FORGERIES[forgery](world, order))
    before = world.snapshot()
    with pytest.raises(BundleRefusedError):
        loop.server_import(bundle)
    assert world.snapshot() == before
    # The same order signed by the office goes through (the forgery was the only fault).
    genuine = _replies_bundle(
        world, {"refused": [_b64(sign_order(world.keyring.signing_seed, order))]}
    )
    assert loop.server_import(genuine).counts["records refused or removed by the office"] == 1
    assert poison_id not in server_rows(world)


def test_an_order_for_other_content_deletes_nothing(loop: Loop) -> None:
    """Signed by the office, but the hash (or the case) is not the stored record's: kept."""
    world = loop.world
    loop.client.get("/language/en")
    poison_id, case_id, _token = post_poison(loop)
    orders = [
        _order(world, poison_id, case_id.hex(), "00" * 32),
        _order(world, poison_id, "11" * 16, record_hash_of(world, poison_id)),
    ]
    bundle = _replies_bundle(
        world, {"refused": [_b64(sign_order(world.keyring.signing_seed, o)) for o in orders]}
    )
    applied = loop.server_import(bundle)
    assert applied.counts["ordered records with other content (kept)"] == 2
    assert poison_id in server_rows(world)


def test_an_order_for_another_record_kind_deletes_nothing(loop: Loop) -> None:
    """A database writer relabels the kind of a stored row: the office's order about a
    follow-up is not applied to what the server now calls a submission (whose removal would
    empty the case), and one about a submission not to a row called a follow-up. Fails on
    version 1 orders, which name no kind."""
    world = loop.world
    loop.client.get("/language/en")
    poison_id, case_id, _token = post_poison(loop)
    digest = record_hash_of(world, poison_id)
    order = _order(world, poison_id, case_id.hex(), digest, record_kind="followup")
    bundle = _replies_bundle(
        world, {"refused": [_b64(sign_order(world.keyring.signing_seed, order))]}
    )
    applied = loop.server_import(bundle)
    assert applied.counts["ordered records with other content (kept)"] == 1
    assert applied.counts["cases removed with their submission"] == 0
    assert poison_id in server_rows(world)


def test_a_version_1_order_still_applies(loop: Loop) -> None:
    """Orders signed before record kinds existed (no ``kind``, ``"v":1``) keep working."""
    world = loop.world
    loop.client.get("/language/en")
    poison_id, case_id, _token = post_poison(loop)
    digest = record_hash_of(world, poison_id)
    order = _order(world, poison_id, case_id.hex(), digest, record_kind=None, version=1)
    assert b'"v":1' in order.message()
    assert b'"kind"' not in order.message()
    bundle = _replies_bundle(
        world, {"refused": [_b64(sign_order(world.keyring.signing_seed, order))]}
    )
    assert loop.server_import(bundle).counts["records refused or removed by the office"] == 1
    assert poison_id not in server_rows(world)


def record_hash_of(world: World, record_id: str) -> str:
    with world.server_state().sessions() as session:
        return session.get(Record, record_id).record_hash.hex()


def test_a_manager_removes_a_named_record_through_the_replies_bundle(loop: Loop) -> None:
    """A record the inbox never imported (it does not know its hash): named by id and case."""
    world = loop.world
    loop.client.get("/language/en")
    poison_id, case_id, _token = post_poison(loop)
    with world.inbox_session() as session:
        order = removal_order(
            session, record_id=poison_id, case_id=case_id.hex(), reason="junk, says the manager"
        )
        assert order.record_hash is None
        assert queue_order(session, world.keyring, order, now=world.inbox_config.clock())
        # Asked twice, queued once.
        assert not queue_order(session, world.keyring, order, now=world.inbox_config.clock())
    summary = loop.inbox_import(loop.server_export())
    assert summary.counts["refused earlier, skipped"] == 1  # not refused (nor logged) again
    assert refused_events(world) == 0
    applied = loop.server_import(loop.inbox_export())
    assert applied.counts["records refused or removed by the office"] == 1
    assert server_rows(world) == {}


def test_a_removal_order_names_a_held_record_by_its_hash(loop: Loop) -> None:
    world = loop.world
    loop.client.get("/language/en")
    submit_report(loop.client, description="A real report")
    loop.inbox_import(loop.server_export())
    [(record_id, (_kind, case_id))] = server_rows(world).items()
    with world.inbox_session() as session:
        with pytest.raises(RemovalRefusedError):
            removal_order(session, record_id=record_id, case_id="22" * 16, reason="x")
        with pytest.raises(RemovalRefusedError):
            removal_order(
                session, record_id=record_id, case_id=None, reason="x", record_kind="followup"
            )
        order = removal_order(session, record_id=record_id, case_id=None, reason="x")
        unseen = removal_order(
            session, record_id="ab" * 16, case_id="cd" * 16, reason="x", record_kind="followup"
        )
    assert (order.case_id, order.record_hash) == (case_id, record_hash_of(world, record_id))
    assert order.record_kind == "submission"
    assert (unseen.record_hash, unseen.record_kind) == (None, "followup")


def _cli(*args: str):  # type: ignore[no-untyped-def]
    from click.testing import CliRunner

    from whistle.cli import main

    return CliRunner().invoke(main, list(args))


def test_the_operator_applies_an_order_file_and_a_forged_one_changes_nothing(
    loop: Loop, tmp_path: Path
) -> None:
    world = loop.world
    loop.client.get("/language/en")
    poison_id, case_id, _token = post_poison(loop)
    order = _order(world, poison_id, case_id.hex(), None, kind="removal")  # type: ignore[arg-type]
    forged = tmp_path / "forged.order"
    forged.write_bytes(sign_order(generate_signing_keypair().seed, order))
    before = world.snapshot()
    result = _cli("server", "remove-record", str(world.server_dir), str(forged))
    assert result.exit_code == 1
    assert "does not verify" in result.output
    assert "nothing was changed" in result.output
    assert world.snapshot() == before

    genuine = tmp_path / "genuine.order"
    genuine.write_bytes(sign_order(world.keyring.signing_seed, order))
    result = _cli("server", "remove-record", str(world.server_dir), str(genuine))
    assert result.exit_code == 0, result.output
    assert "records refused or removed by the office: 1" in result.output
    assert server_rows(world) == {}


def test_the_manager_command_orders_a_removal_the_operator_can_apply_at_once(
    loop: Loop, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from tests.bundles.test_cli import _inbox_obj
    from tests.inbox.conftest import PASSWORD
    from whistle.cli import main

    world = loop.world
    loop.client.get("/language/en")
    poison_id, case_id, _token = post_poison(loop)
    password = tmp_path / "password"
    password.write_text(PASSWORD)
    order_file = tmp_path / "removal.order"
    args = ["inbox", "remove-record", str(world.inbox_config.data_dir), poison_id]
    args += ["--case", case_id.hex(), "--reason", "junk", "--out", str(order_file)]
    args += ["--officer", "admin", "--password-file", str(password)]
    result = CliRunner().invoke(main, args, obj=_inbox_obj(world))
    assert result.exit_code == 0, result.output
    with world.inbox_session() as session:
        [event] = session.scalars(
            select(AuditEvent).where(AuditEvent.action == "record-removal-ordered")
        ).all()
        assert (event.record_id, event.detail) == (poison_id, "junk")
    result = _cli("server", "remove-record", str(world.server_dir), str(order_file))
    assert result.exit_code == 0, result.output
    assert server_rows(world) == {}
    # The same order, carried later by the replies bundle, finds the record gone: no change.
    applied = loop.server_import(loop.inbox_export())
    assert applied.counts["ordered records already gone"] == 1


def test_a_case_refused_for_a_passing_reason_is_not_refused_for_good(
    loop: Loop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The report fails for a reason of this inbox (not of the record): its follow-up, then
    "for a case this inbox does not have", is not refused to the server either; both import
    once the inbox is whole again."""
    from whistle.inbox import store as inbox_store
    from whistle.inbox.errors import InboxError

    world = loop.world
    loop.client.get("/language/en")
    code = submit_report(loop.client, description="A real report")
    loop.followup(code, "and more")
    real = inbox_store._import_one

    def keys_missing(session, keyring, keys, record, *args, **kwargs):  # type: ignore[no-untyped-def]
        if record.kind == "submission":
            raise InboxError("this inbox's desk keys are not there just now")
        return real(session, keyring, keys, record, *args, **kwargs)

    monkeypatch.setattr(inbox_store, "_import_one", keys_missing)
    summary = loop.inbox_import(loop.server_export())
    assert summary.counts["refused (see the audit log)"] == 2
    assert summary.counts["refusals queued"] == 0
    monkeypatch.setattr(inbox_store, "_import_one", real)
    assert loop.inbox_import(loop.server_export()).counts["records imported"] == 2
    assert len(server_rows(world)) == 2


def test_a_site_filled_with_poison_takes_reports_again_after_one_collection(loop: Loop) -> None:
    """The quota, as a source meets it: poison fills the site ("temporarily full"); one round
    trip later (the inbox refuses it, the server applies the refusal) the form is back."""
    import dataclasses

    world = loop.world
    loop.client.get("/language/en")
    post_poison(loop)
    state = world.server_state()
    full = used(world) + 100  # not even the smallest report fits any more
    state.config = dataclasses.replace(
        state.config, limits=dataclasses.replace(state.config.limits, storage_quota_bytes=full)
    )
    assert loop.client.get("/report").status_code == 503
    loop.inbox_import(loop.server_export())
    loop.server_import(loop.inbox_export())
    assert used(world) == 0
    assert loop.client.get("/report").status_code == 200
    assert submit_report(loop.client, description="A real report after the flood")


def test_a_follow_up_whose_report_is_not_in_the_bundle_is_not_refused(loop: Loop) -> None:
    """A follow-up for a case this inbox does not have, whose report the bundle does not
    carry either, may be genuine: the report may have been acknowledged by an inbox since
    restored from an older backup, or withheld by a server. It is refused at import, but no
    signed refusal goes to the server (which would delete it); it stays there."""
    world = loop.world
    loop.client.get("/language/en")
    code = submit_report(loop.client, description="A real report")
    with world.server_state().sessions.begin() as session:  # collected by a lost inbox
        [row] = session.scalars(select(Record)).all()
        store.acknowledge(session, [(row.id, row.record_hash)])
    loop.followup(code, "a real follow-up")
    [followup_id] = server_rows(world)

    summary = loop.inbox_import(loop.server_export())
    assert summary.counts["refused (see the audit log)"] == 1
    assert summary.counts["refusals queued"] == 0
    loop.server_import(loop.inbox_export())
    assert list(server_rows(world)) == [followup_id]


def test_a_poison_report_takes_its_follow_ups_along(loop: Loop) -> None:
    """The follow-ups of a report refused for good go with it (its case is removed whole)."""
    world = loop.world
    loop.client.get("/language/en")
    _poison_id, case_id, token = post_poison(loop)
    followup = seal_followup(
        "more poison",
        [],
        reply_secret_key=generate_box_keypair().secret_key,
        office_keys=[generate_box_keypair().public_key],
        case_id=case_id,
    )
    response = post_sealed(loop.client, "/follow-up/sealed", token + case_id + followup)
    assert response.status_code == 200, response.text
    assert len(server_rows(world)) == 2

    assert loop.inbox_import(loop.server_export()).counts["refusals queued"] >= 1
    applied = loop.server_import(loop.inbox_export())
    assert applied.counts["cases removed with their submission"] == 1
    assert server_rows(world) == {}


def test_a_refusal_of_altered_metadata_does_not_block_the_genuine_record(loop: Loop) -> None:
    """A database writer moves a real report to another case: the inbox cannot authenticate
    it there and refuses (record, that case, hash). The server keeps the real row (its case
    differs); once the row is put back, the real report imports, not "refused earlier"."""
    world = loop.world
    loop.client.get("/language/en")
    submit_report(loop.client, description="A real report")
    [(record_id, (_kind, case_id))] = server_rows(world).items()
    other_case = store.new_case_id().hex()

    def move_to(case: str) -> None:
        with world.server_state().sessions.begin() as session:
            session.get(Record, record_id).case_id = case

    move_to(other_case)
    assert loop.inbox_import(loop.server_export()).counts["refusals queued"] == 1
    move_to(case_id)
    applied = loop.server_import(loop.inbox_export())
    assert applied.counts["ordered records with other content (kept)"] == 1
    summary = loop.inbox_import(loop.server_export())
    assert summary.counts["refused earlier, skipped"] == 0
    assert summary.counts["records imported"] == 1


def test_a_record_said_to_be_of_a_destroyed_epoch_that_opens_is_not_refused(loop: Loop) -> None:
    """The epoch a record was encrypted to is the server's word, not the record's: a database
    writer who labels a real report with a destroyed epoch must not have the office sign a
    refusal that deletes it. The inbox tries its live keys first, and the report imports."""
    world = loop.world
    loop.client.get("/language/en")
    loop.rotate()
    loop.server_import(loop.inbox_export())
    loop.inbox_import(loop.server_export())  # the inbox sees the server use epoch 2 (day 0)
    loop.day = DAY0 + datetime.timedelta(days=5)
    loop.inbox_import(loop.server_export())
    with world.inbox_session() as session:
        assert epochs.is_destroyed(session, 1)
    submit_report(loop.client, description="A real report")
    with world.server_state().sessions.begin() as session:
        [row] = session.scalars(select(Record)).all()
        assert row.epoch == 2
        row.epoch = 1

    summary = loop.inbox_import(loop.server_export())
    assert summary.counts["refusals queued"] == 0
    assert summary.counts["records imported"] == 1


def test_a_record_of_an_epoch_newer_than_this_inbox_is_not_refused(loop: Loop) -> None:
    """An inbox restored from a backup older than a rotation cannot open what was sealed to
    the newer keys: that is this inbox's passing state, so no refusal is signed (it would
    delete a genuine report); the record waits on the server for the newest backup."""
    world = loop.world
    loop.client.get("/language/en")
    record_id, _case, _token = post_poison(loop)
    with world.server_state().sessions.begin() as session:
        session.get(Record, record_id).epoch = 7  # sealed to keys this inbox never held

    summary = loop.inbox_import(loop.server_export())
    assert summary.counts["refused (see the audit log)"] == 1
    assert summary.counts["refusals queued"] == 0
    assert record_id in server_rows(world)
