"""Every way a bundle can be wrong: a specific message, and both databases unchanged."""

import dataclasses
import gzip
import io
import json
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from tests.submit.conftest import submit_report
from whistle.bundling import (
    BundleRefusedError,
    BundleTooLargeError,
    CompressedBundleError,
    ConflictingRecordError,
    StaleBundleError,
)
from whistle.crypto import generate_signing_keypair, read_card, signing
from whistle.crypto.bundles import BundleRecord, bundle_associated_data, write_bundle
from whistle.crypto.conversation import Position
from whistle.crypto.envelope import EnvelopeWriter, sealed_to
from whistle.crypto.records import seal_reply
from whistle.inbox.models import Case
from whistle.inbox.outgoing import queue_reply

from .conftest import World


def _server_card(world: World):  # type: ignore[no-untyped-def]
    return read_card((world.server_dir / "server-card.json").read_bytes())


@pytest.fixture
def primed(world: World) -> World:
    """One report delivered to the inbox, a reply queued there."""
    submit_report(world.client)
    world.inbox_import(world.server_export())
    with world.inbox_session() as session:
        case_id = session.scalars(select(Case.id)).one()
        queue_reply(
            session,
            world.keyring,
            case_id=case_id,
            message="Received.",
            files=[],
            now=world.inbox_config.clock(),
            store_dir=world.inbox_config.store_dir,
        )
    return world


def _case(world: World) -> str:
    with world.inbox_session() as session:
        return session.scalars(select(Case.id)).one()


def craft_replies(
    world: World,
    *,
    seed: bytes | None = None,
    install_id: str | None = None,
    sequence: int = 1,
    records: list[BundleRecord] | None = None,
    extra: dict | None = None,  # type: ignore[type-arg]
) -> bytes:
    out = io.BytesIO()
    write_bundle(
        out,
        records=records or [],
        signing_seed=seed or world.keyring.signing_seed,
        recipient_bundle_key=_server_card(world).bundle_key,
        install_id=install_id or world.server_config.install_id,
        direction="replies",
        sequence=sequence,
        previous=None,
        created="2026-11-02",
        extra=extra or {},
    )
    return out.getvalue()


def raw_replies(world: World, signed_manifest: bytes) -> bytes:
    """A bundle envelope around any manifest bytes (to forge purposes, versions, lengths)."""
    out = io.BytesIO()
    writer = EnvelopeWriter(
        out, [sealed_to(_server_card(world).bundle_key)], bundle_associated_data("replies")
    )
    writer.add_bytes("manifest", signed_manifest)
    writer.finish()
    return out.getvalue()


def _manifest_body(world: World, **changes: object) -> bytes:
    body = {
        "version": 1,
        "install_id": world.server_config.install_id,
        "direction": "replies",
        "sequence": 1,
        "previous": None,
        "created": "2026-11-02",
        "records": [],
        "extra": {},
    }
    body.update(changes)
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def refused_on_server(world: World, data: bytes, error: type, words: str) -> None:
    before = world.snapshot()
    with pytest.raises(error) as caught:
        world.server_import(data)
    assert words in str(caught.value)
    assert world.snapshot() == before


def refused_in_inbox(world: World, data: bytes, error: type, words: str) -> None:
    before = world.snapshot()
    with pytest.raises(error) as caught:
        world.inbox_import(data)
    assert words in str(caught.value)
    assert world.snapshot() == before


def test_truncated(primed: World) -> None:
    replies = primed.inbox_export()
    refused_on_server(primed, replies[:60], BundleRefusedError, "cut short")
    # Cut inside the last chunk: indistinguishable from tampering (docs/protocol.md §5).
    refused_on_server(primed, replies[:-100], BundleRefusedError, "altered")
    refused_on_server(primed, b"", BundleRefusedError, "cut short")
    refused_in_inbox(primed, primed.server_export()[:60], BundleRefusedError, "cut short")


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_any_bit_flipped(primed: World, data: st.DataObject) -> None:
    # The fixture lives across examples: export once, flip one bit per example.
    if not hasattr(primed, "flip_original"):
        primed.flip_original = primed.inbox_export()  # type: ignore[attr-defined]
    original: bytes = primed.flip_original  # type: ignore[attr-defined]
    position = data.draw(st.integers(0, len(original) * 8 - 1))
    flipped = bytearray(original)
    flipped[position // 8] ^= 1 << (position % 8)
    refused_on_server(primed, bytes(flipped), BundleRefusedError, "bundle")


def test_signed_by_another_key(primed: World) -> None:
    stranger = generate_signing_keypair().seed
    refused_on_server(
        primed, craft_replies(primed, seed=stranger), BundleRefusedError, "pinned key"
    )


def test_signed_for_another_purpose(primed: World) -> None:
    forged = signing.sign(primed.keyring.signing_seed, signing.CARD, _manifest_body(primed))
    refused_on_server(primed, raw_replies(primed, forged), BundleRefusedError, "another purpose")


def test_from_another_install(primed: World) -> None:
    other = craft_replies(primed, install_id="ab" * 16)
    refused_on_server(primed, other, BundleRefusedError, "another install")


def test_newer_version_says_upgrade(primed: World) -> None:
    newer = signing.sign(
        primed.keyring.signing_seed, signing.BUNDLE, _manifest_body(primed, version=2)
    )
    refused_on_server(primed, raw_replies(primed, newer), BundleRefusedError, "upgrade")


def test_replayed_with_different_content(primed: World) -> None:
    first = primed.inbox_export()
    primed.server_import(first)
    assert primed.server_import(first).already_applied  # the same bundle again: a no-op
    other = craft_replies(primed, sequence=1, extra={"purged": [_case(primed)]})
    refused_on_server(primed, other, StaleBundleError, "not newer")


def test_duplicate_id_with_different_content(primed: World) -> None:
    primed.server_import(primed.inbox_export())
    with primed.server_state().sessions() as session:
        from whistle.submit.models import Record, RecordKind

        reply = session.scalars(select(Record).where(Record.kind == RecordKind.REPLY)).one()
    case = _case(primed)
    other_envelope = seal_reply(
        "Forged text",
        [],
        reply_public_key=generate_signing_keypair().public_key,
        desk_key=generate_signing_keypair().public_key,
        case_id=bytes.fromhex(case),
        office_seed=generate_signing_keypair().seed,
        position=Position(1, 0),
    )
    dup = craft_replies(
        primed,
        sequence=5,
        records=[BundleRecord(reply.id, "reply", case, "2026-11-02", other_envelope)],
    )
    refused_on_server(primed, dup, ConflictingRecordError, "other content")


def test_duplicate_id_with_different_content_in_the_inbox(primed: World) -> None:
    outbox = primed.server_export()
    primed.inbox_import(outbox)
    # The server (compromised) sends the same record id with other bytes in a newer bundle.
    from whistle.submit.models import Chunk

    with primed.server_state().sessions.begin() as session:
        chunk = session.scalars(select(Chunk)).first()
        chunk.data = chunk.data[:-1] + bytes([chunk.data[-1] ^ 1])
    refused_in_inbox(primed, primed.server_export(), ConflictingRecordError, "other content")


def test_huge_bundle_refused_before_reading(primed: World) -> None:
    primed.server_config = dataclasses.replace(primed.server_config, max_bundle_bytes=1000)
    refused_on_server(primed, primed.inbox_export(), BundleTooLargeError, "larger than")


def test_huge_declared_length_inside(primed: World) -> None:
    body = _manifest_body(primed)
    signed = signing.sign(primed.keyring.signing_seed, signing.BUNDLE, body)
    # The signed object's message length field claims 4 GiB.
    head = 5 + 1 + 1 + len(signing.BUNDLE)
    forged = signed[:head] + struct.pack(">I", 0xFFFFFFFF) + signed[head + 4 :]
    refused_on_server(primed, raw_replies(primed, forged), BundleRefusedError, "bundle")


def test_decompression_bomb(primed: World) -> None:
    bomb = io.BytesIO()
    with gzip.GzipFile(fileobj=bomb, mode="wb", compresslevel=9) as z:
        block = bytes(1024 * 1024)
        for _ in range(64):  # 64 MiB of zeros in ~64 KiB
            z.write(block)
    refused_on_server(primed, bomb.getvalue(), CompressedBundleError, "never compressed")
    refused_in_inbox(primed, bomb.getvalue(), CompressedBundleError, "never compressed")


def test_outbox_from_another_server_key(primed: World) -> None:
    outbox = io.BytesIO()
    write_bundle(
        outbox,
        records=[],
        signing_seed=generate_signing_keypair().seed,
        recipient_bundle_key=read_card(
            (primed.server_dir / "office-card.json").read_bytes()
        ).bundle_key,
        install_id=primed.server_config.install_id,
        direction="outbox",
        sequence=9,
        previous=None,
        created="2026-11-02",
    )
    refused_in_inbox(primed, outbox.getvalue(), BundleRefusedError, "pinned key")


def test_no_import_before_the_server_card_is_pinned(primed: World) -> None:
    from whistle.inbox.models import Office

    outbox = primed.server_export()
    with primed.inbox_session() as session:
        office = session.get(Office, 1)
        office.server_card = None
        office.server_fingerprint = None
    refused_in_inbox(primed, outbox, BundleRefusedError, "trust-server")


def test_a_purged_case_does_not_come_back(primed: World) -> None:
    from whistle.inbox.outgoing import queue_purge

    case = _case(primed)
    submit_report(primed.client)  # a second case, so the bundle is not empty
    with primed.inbox_session() as session:
        queue_purge(session, case_id=case, now=primed.inbox_config.clock())
    # The server has not heard of the purge yet and still sends the case's records.
    summary = primed.inbox_import(primed.server_export())
    assert summary.counts["records imported"] == 1
    assert summary.counts["already here"] == 0
    assert summary.counts["purged earlier, skipped"] == 1
