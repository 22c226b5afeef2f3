"""H1 as an attacker would try it: an officer copies one case's identification block into a
report of their own and asks the custodian to disclose it. Each test fails on protocol 1,
where the block was a sealed box of the fields alone.
"""

import io
import json
import secrets

from nacl.bindings import crypto_box_seal
from sqlalchemy import select

from whistle.crypto import generate_box_keypair
from whistle.crypto.records import IDENTIFICATION_BYTES, SubmissionWriter
from whistle.inbox.models import AuditEvent
from whistle.inbox.store import submission_meta

from .conftest import do_import, incoming, make_submission
from .test_web import _add_custodian, app, csrf, login  # noqa: F401 (fixture)

NAME = [{"key": "name", "label": "Name", "value": "Jordi Puig"}]
REASON = "Court order 123/2026 requires the identity."


def _submission_with_block(office, block: bytes) -> tuple[str, bytes]:  # type: ignore[no-untyped-def]
    """A report from the public site whose identification part is ``block``, as given."""
    case_id = secrets.token_hex(16)
    reply = generate_box_keypair()
    out = io.BytesIO()
    writer = SubmissionWriter(
        out,
        desk_key=office.card_desks["antifraud"],
        custodian_key=office.custodian_public,
        reply_public_key=reply.public_key,
        source_signing_key=bytes(32),
        case_id=bytes.fromhex(case_id),
    )
    writer.add_form({"language": "ca", "desk": "antifraud", "fields": []})
    writer._writer.add_bytes("identification", block)  # what a hostile sender writes
    writer.finish()
    return case_id, out.getvalue()


def _v1_block(office, fields) -> bytes:  # type: ignore[no-untyped-def]
    """A block as protocol 1 wrote it: the fields alone, bound to nothing."""
    raw = json.dumps({"version": 1, "fields": fields}).encode()
    return crypto_box_seal(raw + bytes(IDENTIFICATION_BYTES - len(raw)), office.custodian_public)


def _block_of(office, case_id: str) -> bytes:  # type: ignore[no-untyped-def]
    signed = office.sign_in()
    with office.session() as session:
        return bytes.fromhex(submission_meta(session, signed.keyring, case_id)["identification"])


def _disclose(app, case_id: str):  # type: ignore[no-untyped-def]  # noqa: F811
    custodian = app.test_client()
    login(custodian, "carla")
    token = csrf(custodian.get(f"/cases/{case_id}").get_data(as_text=True))
    decided = custodian.post(f"/cases/{case_id}/disclosure", data={"csrf": token, "reason": REASON})
    assert decided.status_code == 303
    return custodian.post(f"/cases/{case_id}/identification", data={"csrf": token})


def _events(office, action: str) -> list[AuditEvent]:  # type: ignore[no-untyped-def]
    with office.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == action)))


def test_a_copied_block_is_refused_and_logged(office, app) -> None:  # noqa: F811
    _add_custodian(office)
    source, envelope = make_submission(office, identification=NAME)
    do_import(office, [incoming("submission", source.case_id, envelope)])
    copy_case, copy = _submission_with_block(office, _block_of(office, source.case_id))
    do_import(office, [incoming("submission", copy_case, copy)])

    shown = _disclose(app, copy_case)
    assert shown.status_code == 409
    page = shown.get_data(as_text=True)
    assert "Jordi Puig" not in page
    assert "copied into this one" in page
    refused = _events(office, "identification-refused")
    assert [(e.case_id, e.detail) for e in refused] == [
        (copy_case, "the identification block was written for another case")
    ]
    assert not _events(office, "identification-viewed")
    # The original still opens where it belongs.
    assert "Jordi Puig" in _disclose(app, source.case_id).get_data(as_text=True)


def test_a_version_1_block_opens_alone_but_not_when_copied(office, app) -> None:  # noqa: F811
    _add_custodian(office)
    block = _v1_block(office, NAME)
    original, envelope = _submission_with_block(office, block)
    do_import(office, [incoming("submission", original, envelope)])
    alone = _disclose(app, original)
    assert alone.status_code == 200
    assert "Jordi Puig" in alone.get_data(as_text=True)
    assert "before identifications were bound" in alone.get_data(as_text=True)

    copy_case, copy = _submission_with_block(office, block)
    do_import(office, [incoming("submission", copy_case, copy)])
    shown = _disclose(app, copy_case)
    assert shown.status_code == 409
    assert "Jordi Puig" not in shown.get_data(as_text=True)
    assert _events(office, "identification-refused")[0].detail == (
        f"the same identification block is in case {original}"
    )
