"""FollowupWriter (a follow-up with files of any size) and open_submission_as_source."""

import io

import pytest

from whistle.crypto import (
    TamperedError,
    WrongKeyError,
    derive_source_keys,
    generate_box_keypair,
    generate_code,
    random_bytes,
)
from whistle.crypto.records import (
    FollowupWriter,
    SubmissionWriter,
    open_as_source,
    open_followup_as_office,
    open_submission_as_source,
    seal_followup,
)


def _source():  # type: ignore[no-untyped-def]
    return derive_source_keys(generate_code(), random_bytes(32))


def test_followup_writer_opens_like_seal_followup() -> None:
    keys = _source()
    desks = [generate_box_keypair(), generate_box_keypair()]
    case_id = random_bytes(16)
    out = io.BytesIO()
    writer = FollowupWriter(
        out,
        message="more",
        reply_secret_key=keys.reply_secret_key,
        office_keys=[d.public_key for d in desks],
        case_id=case_id,
    )
    writer.begin_file("big.bin")
    for _ in range(5):
        writer.write(b"z" * 100_000)
    writer.end_file()
    writer.finish()
    for desk in desks:
        opened = open_followup_as_office(
            out.getvalue(), [desk.secret_key], case_id, keys.reply_public_key, None
        )
        assert opened.message == "more"
        assert [(f.name, len(f.content)) for f in opened.files] == [("big.bin", 500_000)]
    mine = open_as_source(
        out.getvalue(),
        "followup",
        keys.reply_secret_key,
        case_id,
        office_key=bytes(32),
        source_signing_key=keys.signing_public_key,
        signed_case=False,
    )
    assert mine.message == "more"
    other = _source()
    with pytest.raises(TamperedError):
        open_followup_as_office(
            out.getvalue(), [desks[0].secret_key], case_id, other.reply_public_key, None
        )
    same = seal_followup(
        "more",
        [],
        reply_secret_key=keys.reply_secret_key,
        office_keys=[desks[0].public_key],
        case_id=case_id,
    )
    assert (
        open_followup_as_office(
            same, [desks[0].secret_key], case_id, keys.reply_public_key, None
        ).message
        == "more"
    )


def test_the_source_opens_its_own_submission() -> None:
    keys = _source()
    desk, custodian = generate_box_keypair(), generate_box_keypair()
    case_id = random_bytes(16)
    out = io.BytesIO()
    writer = SubmissionWriter(
        out,
        desk_key=desk.public_key,
        custodian_key=custodian.public_key,
        reply_public_key=keys.reply_public_key,
        source_signing_key=keys.signing_public_key,
        case_id=case_id,
    )
    writer.begin_file("a.txt")
    writer.write(b"abc")
    writer.end_file()
    writer.add_form(
        {"language": "ca", "desk": "d", "fields": [{"key": "s", "label": "S", "value": "v"}]}
    )
    writer.add_identification([])
    writer.finish()
    out.seek(0)
    opened = open_submission_as_source(out, keys.reply_secret_key, case_id)
    assert opened.form["fields"][0]["value"] == "v"
    assert opened.files == [("a.txt", 3)]
    assert opened.source_signing_key == keys.signing_public_key
    out.seek(0)
    with pytest.raises(WrongKeyError):
        open_submission_as_source(out, _source().reply_secret_key, case_id)
    out.seek(0)
    with pytest.raises(TamperedError):
        open_submission_as_source(out, keys.reply_secret_key, random_bytes(16))
