"""Export a case for referral to another authority: a passphrase-encrypted package.

The package holds a ZIP with ``summary.html`` (the case's facts, conversation, decisions with
their reasons, notes are left out) and every attachment under ``files/``. The ZIP is streamed
into an envelope (``EnvelopeWriter``, associated data ``("referral", case)``) sealed to a fresh
X25519 key pair; the secret key is wrapped under the officer's passphrase
(``wrap_with_passphrase``, Argon2id). Nothing in plaintext touches the disk.

File layout (all integers big-endian)::

    b"WHISTLE-REFERRAL-1\\n"  (19 bytes)
    case id (16 bytes; the envelope's associated data binds it)
    u32 length of the key file  ‖  key file (JSON, whistle-keyfile v1)
    the envelope (whistle envelope v1) to the end

``open_package`` reverses it (``whistle inbox open-referral``).
"""

import html
import io
import struct
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from whistle.crypto import (
    DEFAULT_PARAMS,
    CryptoError,
    EnvelopeWriter,
    KdfParams,
    PartKind,
    associated_data,
    generate_box_keypair,
    open_envelope,
    sealed_to,
    unwrap_with_passphrase,
    wrap_with_passphrase,
)
from whistle.filenames import archive_name
from whistle.inbox import compartments, sealing
from whistle.inbox.errors import BadPassphraseError, InboxError
from whistle.inbox.keyring import OfficeKeyring
from whistle.inbox.models import Record
from whistle.inbox.store import open_attachment, record_meta
from whistle.inbox.workflow import decisions, live_case

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

MAGIC = b"WHISTLE-REFERRAL-1\n"
MIN_PASSPHRASE_CHARS = 12
MAX_KEYFILE_BYTES = 64 * 1024
RECORD_TYPE = "referral"


class _Sink(io.RawIOBase):
    """A write-only stream that feeds an envelope part (zipfile writes through it)."""

    def __init__(self, writer: EnvelopeWriter) -> None:
        self._writer = writer
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data: "ReadableBuffer", /) -> int:
        chunk = bytes(data)
        self._writer.write(chunk)
        self._position += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._position


def _summary_html(
    session: Session, keyring: OfficeKeyring, case_id: str
) -> tuple[str, list[tuple[Record, int, str]]]:
    case = live_case(session, case_id)
    records = list(
        session.scalars(
            select(Record)
            .where(Record.case_id == case.id)
            .order_by(Record.received_day, Record.imported_at)
        )
    )
    esc = html.escape
    body = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>Case {esc(case.ref)}</title></head><body>",
        f"<h1>Case {esc(case.ref)}</h1><dl>",
        f"<dt>Desk</dt><dd>{esc(case.desk_id)}</dd>",
        f"<dt>Received</dt><dd>{case.received_day.isoformat()}</dd>",
        f"<dt>Status</dt><dd>{esc(case.status)}</dd>",
        f"<dt>Outcome</dt><dd>{esc(case.outcome or '—')}</dd></dl>",
        "<h2>Conversation</h2>",
    ]
    files: list[tuple[Record, int, str]] = []
    for record in records:
        meta = record_meta(keyring, record)
        body.append(f"<section><h3>{esc(record.kind)} · {record.received_day.isoformat()}</h3>")
        for field in (meta.get("form") or {}).get("fields") or []:
            if isinstance(field, dict):
                label = esc(str(field.get("label", field.get("key", ""))))
                value = esc(str(field.get("value", "")))
                body.append(
                    f"<p><b>{label}</b><br><span style='white-space:pre-wrap'>{value}</span></p>"
                )
        if meta.get("message"):
            body.append(f"<p style='white-space:pre-wrap'>{esc(str(meta['message']))}</p>")
        for f in meta.get("files") or []:
            name = f"files/{len(files) + 1:03d}-{archive_name(str(f.get('name', '')))}"
            files.append((record, int(f.get("index", 0)), name))
            body.append(f"<p>File: <a href='{esc(name)}'>{esc(name)}</a></p>")
        body.append("</section>")
    body.append("<h2>Decisions</h2><ul>")
    for d in decisions(session, keyring, case.id):
        change = f"{d.from_status or ''} → {d.to_status or ''}" if d.to_status else d.action
        body.append(
            f"<li>{d.at.isoformat(timespec='minutes')} · {esc(d.officer)} · {esc(change)}"
            f"{' (' + esc(d.outcome) + ')' if d.outcome else ''}: {esc(d.reason or '?')}</li>"
        )
    body.append("</ul></body></html>")
    return "\n".join(body), files


def export_case(
    session: Session,
    keyring: OfficeKeyring,
    case_id: str,
    passphrase: str,
    out: BinaryIO,
    *,
    store_dir: Path,
    kdf_params: KdfParams = DEFAULT_PARAMS,
) -> None:
    """Write the encrypted referral package for ``case_id`` to ``out``."""
    if len(passphrase) < MIN_PASSPHRASE_CHARS:
        raise BadPassphraseError(
            f"The passphrase needs at least {MIN_PASSPHRASE_CHARS} characters."
        )
    keys = compartments.case_secrets(session, keyring, case_id)  # refused here, by key
    summary, files = _summary_html(session, keyring, case_id)
    pair = generate_box_keypair()
    keyfile = wrap_with_passphrase(pair.secret_key, passphrase, kdf_params)
    out.write(MAGIC + sealing.case_bytes(case_id) + struct.pack(">I", len(keyfile)) + keyfile)
    writer = EnvelopeWriter(
        out,
        [sealed_to(pair.public_key)],
        associated_data(RECORD_TYPE, sealing.case_bytes(case_id)),
    )
    writer.add_text("case", case_id)
    writer.begin_file(f"case-{case_id[:8]}.zip")
    with zipfile.ZipFile(_Sink(writer), "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("summary.html", summary)
        for record, index, name in files:
            attachment = open_attachment(keys, record, index, store_dir)
            with archive.open(name, "w", force_zip64=True) as target:
                for chunk in attachment.chunks:
                    target.write(chunk)
    writer.end_part()
    writer.finish()


def open_package(data: BinaryIO, passphrase: str) -> tuple[str, bytes]:
    """The case id and the ZIP inside a referral package (the receiving side)."""
    if data.read(len(MAGIC)) != MAGIC:
        raise InboxError("This is not a Whistle referral package.")
    case_raw = data.read(16)
    length_bytes = data.read(4)
    if len(case_raw) != 16 or len(length_bytes) != 4:
        raise InboxError("This referral package is damaged.")
    (length,) = struct.unpack(">I", length_bytes)
    if length > MAX_KEYFILE_BYTES:
        raise InboxError("This referral package is damaged.")
    try:
        secret = unwrap_with_passphrase(data.read(length), passphrase)
        opened = open_envelope(data, secret, associated_data(RECORD_TYPE, case_raw))
        parts = opened.read_all()
    except CryptoError as exc:
        raise InboxError(f"The package cannot be opened: {exc}") from exc
    zipped = [p for p in parts if p.kind == PartKind.FILE]
    named = [p for p in parts if p.name == "case"]
    if len(zipped) != 1 or len(named) != 1 or named[0].content != case_raw.hex().encode():
        raise InboxError("This referral package is damaged.")
    return case_raw.hex(), zipped[0].content
