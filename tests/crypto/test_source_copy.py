"""The source's copy (docs/protocol.md §7, "The source's copy"): its format, the worked example,
and what a reader refuses."""

import pytest

from whistle import crypto
from whistle.crypto.envelope import EnvelopeWriter, associated_data, sealed_to
from whistle.crypto.framing import PartKind
from whistle.crypto.records import compact_json
from whistle.crypto.source_copy import RECORD_TYPE, copy_document, open_copy, seal_copy

CASE = bytes(range(16))


@pytest.fixture(scope="module")
def keys() -> crypto.SourceKeys:
    return crypto.derive_source_keys(crypto.generate_code(), bytes(32))


def test_the_worked_example(keys: crypto.SourceKeys) -> None:
    document = copy_document("followup", files=[], message="hi")
    assert compact_json(document) == b'{"version":1,"kind":"followup","message":"hi","files":[]}'
    assert len(seal_copy(document, keys.copy_public_key, CASE)) == 4226


def test_the_copy_key_is_its_own(keys: crypto.SourceKeys) -> None:
    assert keys.copy_public_key not in (keys.reply_public_key, keys.signing_public_key)
    sealed = seal_copy(copy_document("followup", files=[], message="x"), keys.copy_public_key, CASE)
    with pytest.raises(crypto.WrongKeyError):
        open_copy(sealed, keys.reply_secret_key, CASE)  # the reply key opens no copy
    with pytest.raises(crypto.TamperedError):
        open_copy(sealed, keys.copy_secret_key, bytes(16))  # nor another case's


def test_a_submission_copy_keeps_answers_and_file_sizes_only(keys: crypto.SourceKeys) -> None:
    form = {"language": "ca", "desk": "d", "fields": [{"key": "k", "label": "L", "value": "V"}]}
    sealed = seal_copy(
        copy_document("submission", files=[("a.pdf", 12)], form=form), keys.copy_public_key, CASE
    )
    opened = open_copy(sealed, keys.copy_secret_key, CASE)
    assert (opened.kind, opened.fields, opened.files) == (
        "submission",
        [{"label": "L", "value": "V"}],
        [("a.pdf", 12)],
    )


def _raw(keys: crypto.SourceKeys, text: bytes, name: str = "copy") -> bytes:
    import io

    out = io.BytesIO()
    writer = EnvelopeWriter(
        out, [sealed_to(keys.copy_public_key)], associated_data(RECORD_TYPE, CASE)
    )
    writer.add_bytes(name, text, kind=PartKind.TEXT)
    writer.finish()
    return out.getvalue()


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            b'{"version":2,"kind":"followup","message":"","files":[]}',
            crypto.UnsupportedVersionError,
        ),
        (b"not json", crypto.MalformedError),
        (b'{"kind":"followup","message":"","files":[]}', crypto.MalformedError),
        (b'{"version":1,"kind":"reply","message":"","files":[]}', crypto.MalformedError),
        (b'{"version":1,"kind":"followup","message":3,"files":[]}', crypto.MalformedError),
        (
            b'{"version":1,"kind":"followup","message":"","files":[{"name":"a","size":-1}]}',
            crypto.MalformedError,
        ),
        (b'{"version":1,"kind":"submission","form":{},"files":[]}', crypto.MalformedError),
    ],
)
def test_what_a_reader_refuses(keys: crypto.SourceKeys, text: bytes, error: type) -> None:
    with pytest.raises(error):
        open_copy(_raw(keys, text), keys.copy_secret_key, CASE)


def test_a_copy_without_its_part_is_malformed(keys: crypto.SourceKeys) -> None:
    with pytest.raises(crypto.MalformedError):
        open_copy(_raw(keys, b"{}", name="other"), keys.copy_secret_key, CASE)


def test_a_copy_is_a_submission_with_a_form_or_a_follow_up_with_a_message() -> None:
    with pytest.raises(ValueError, match="form"):
        copy_document("submission", files=[], message="x")
    with pytest.raises(ValueError, match="form"):
        copy_document("reply", files=[], message="x")
