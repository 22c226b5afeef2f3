"""Sealed reports carry names and counts no server checked (attack review finding 7).

The browser applies the plain route's rule (``js/filenames.js``), but any client can seal
anything: the inbox re-checks at import, when reading, and when writing the referral export.
"""

import io
import zipfile

from whistle.filenames import MAX_FILE_NAME_CHARS, MAX_FILES
from whistle.inbox import create_app, export
from whistle.inbox.models import Record
from whistle.inbox.store import record_meta

from .conftest import PASSWORD, do_import, incoming, make_submission

HOSTILE = [
    "..\\..\\..\\Users\\Public\\evil.exe",
    "../../../etc/cron.d/job",
    "invoice\u202etxt.exe",
    "line\nbreak.txt",
    "",
    "..",
    "x" * 1000,
]


def _names(meta_files) -> list[str]:  # type: ignore[no-untyped-def]
    return [f["name"] for f in meta_files]


def test_hostile_names_are_cleaned_at_import_and_in_the_export(office, insecure_kdf_params) -> None:
    files = [(name, f"content {i}".encode()) for i, name in enumerate(HOSTILE)]
    source, envelope = make_submission(office, files=files)
    report = do_import(office, [incoming("submission", source.case_id, envelope)])
    assert report.imported
    signed = office.sign_in()
    with office.session() as session:
        record = session.query(Record).filter_by(case_id=source.case_id).one()
        names = _names(record_meta(signed.keyring, record)["files"])
        out = io.BytesIO()
        export.export_case(
            session,
            signed.keyring,
            source.case_id,
            "a long passphrase here",
            out,
            store_dir=office.config.store_dir,
            kdf_params=insecure_kdf_params,
        )
    assert names[:6] == ["evil.exe", "job", "invoicetxt.exe", "linebreak.txt", "file", "file"]
    assert len(names[6]) == MAX_FILE_NAME_CHARS
    _, zipped = export.open_package(io.BytesIO(out.getvalue()), "a long passphrase here")
    entries = [n for n in zipfile.ZipFile(io.BytesIO(zipped)).namelist() if n != "summary.html"]
    assert len(entries) == len(HOSTILE)
    for entry in entries:
        folder, _, name = entry.partition("/")
        assert folder == "files"
        assert name
        assert "/" not in name
        assert "\\" not in name
        assert "\u202e" not in name
        assert ".." not in entry
        assert len(name) <= MAX_FILE_NAME_CHARS + 4


def test_case_page_shows_no_empty_or_reversed_name(office) -> None:
    source, envelope = make_submission(office, files=[("", b"a"), ("cv\u202efdp.exe", b"b")])
    do_import(office, [incoming("submission", source.case_id, envelope)])
    client = create_app(office.config).test_client()
    client.post("/login", data={"name": "admin", "password": PASSWORD})
    html = client.get(f"/cases/{source.case_id}").get_data(as_text=True)
    assert "\u202e" not in html
    assert ">file</a>" in html


def test_more_files_than_the_plain_route_allows_is_refused(office) -> None:
    files = [(f"f{i}.txt", b"x") for i in range(MAX_FILES + 1)]
    source, envelope = make_submission(office, files=files)
    report = do_import(office, [incoming("submission", source.case_id, envelope)])
    assert not report.imported
    assert "more than 20 files" in report.refused[0][1]
    assert not list(office.config.store_dir.glob("*.wenv"))
