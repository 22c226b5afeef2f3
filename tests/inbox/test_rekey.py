"""``rekey.rewrite_file``, which both the move into compartments (a whole record sealed to
another key) and a partial deletion (one file dropped, a form field emptied) stream through:
what it keeps, what it drops, and that a failure leaves no new file behind."""

from pathlib import Path

import pytest

from whistle.crypto import (
    CryptoError,
    PartKind,
    generate_box_keypair,
    open_bytes,
    seal,
    sealed_to,
)
from whistle.inbox.errors import UnreadableRecordError
from whistle.inbox.rekey import reseal_file, rewrite_file

AD = b"stored record"
PARTS = [
    (PartKind.TEXT, "form", b'{"a": "1"}'),
    (PartKind.FILE, "first.pdf", b"%PDF first"),
    (PartKind.FILE, "second.txt", b"second file"),
]


def _stored(tmp_path: Path) -> tuple[Path, bytes]:
    old = generate_box_keypair()
    path = tmp_path / "record.wenv"
    path.write_bytes(seal(PARTS, [sealed_to(old.public_key)], AD))
    return path, old.secret_key


def test_a_rewrite_drops_one_file_and_changes_small_parts_as_told(tmp_path: Path) -> None:
    path, old = _stored(tmp_path)
    new = generate_box_keypair()
    done = rewrite_file(
        path,
        old,
        new.public_key,
        AD,
        drop_file=0,
        small_part=lambda name, value: value.upper() if name == "form" else value,
    )
    assert done.files == [("second.txt", len(b"second file"))]
    parts = open_bytes(done.path.read_bytes(), new.secret_key, AD).parts
    assert [(p.kind, p.name, p.content) for p in parts] == [
        (PartKind.TEXT, "form", b'{"A": "1"}'),
        (PartKind.FILE, "second.txt", b"second file"),
    ]
    assert path.read_bytes() != done.path.read_bytes()  # the old file stays for the caller


def test_a_reseal_keeps_every_part(tmp_path: Path) -> None:
    path, old = _stored(tmp_path)
    new = generate_box_keypair()
    parts = open_bytes(reseal_file(path, old, new.public_key, AD).read_bytes(), new.secret_key, AD)
    assert [(p.kind, p.name, p.content) for p in parts.parts] == PARTS


def test_a_failed_rewrite_leaves_no_new_file(tmp_path: Path) -> None:
    path, old = _stored(tmp_path)
    other = generate_box_keypair()
    with pytest.raises(CryptoError):
        rewrite_file(path, other.secret_key, other.public_key, AD)
    with pytest.raises(UnreadableRecordError):
        reseal_file(path, other.secret_key, other.public_key, AD)

    def refuse(name: str, value: bytes) -> bytes:
        raise ValueError("no such field")

    with pytest.raises(ValueError, match="no such field"):
        rewrite_file(path, old, other.public_key, AD, small_part=refuse)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["record.wenv"]
