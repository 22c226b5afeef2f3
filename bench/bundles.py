"""Bundle round trip: N submissions of SIZE random bytes; export, import, acknowledge.

Usage: .venv/bin/python bench/bundles.py N SIZE
"""

import io
import secrets
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.bundles.conftest import TODAY, make_world
from tests.conftest import INSECURE_KDF_PARAMS
from whistle.crypto import generate_box_keypair
from whistle.crypto.records import SubmissionWriter
from whistle.submit import store


def main(count: int, size: int) -> None:
    world = make_world(Path(tempfile.mkdtemp()), INSECURE_KDF_PARAMS)
    card = world.server_config.office_card
    desk = card.desks[0]
    with world.server_state().sessions.begin() as session:
        for _ in range(count):
            case = secrets.token_bytes(16)
            out = io.BytesIO()
            writer = SubmissionWriter(
                out,
                desk_key=desk.public_key,
                custodian_key=card.custodian_key,
                reply_public_key=generate_box_keypair().public_key,
                source_signing_key=generate_box_keypair().public_key,
                case_id=case,
            )
            writer.add_form({"language": "en", "desk": desk.id, "fields": []})
            writer.add_identification([])
            writer.begin_file("f.bin")
            writer.write(secrets.token_bytes(size))
            writer.end_file()
            writer.finish()
            out.seek(0)
            store.add_submission(
                session, case_id=case, lookup=secrets.token_bytes(32), envelope=out, today=TODAY
            )
    t0 = time.perf_counter()
    data = world.server_export()
    t1 = time.perf_counter()
    summary = world.inbox_import(data)
    t2 = time.perf_counter()
    world.server_import(world.inbox_export())
    t3 = time.perf_counter()
    mb = len(data) / 1e6
    print(f"{count} records, bundle {mb:.1f} MB")
    print(f"server export   {t1 - t0:6.2f} s  {mb / (t1 - t0):5.0f} MB/s")
    print(f"inbox import    {t2 - t1:6.2f} s  {mb / (t2 - t1):5.0f} MB/s", summary.counts)
    print(f"acks back       {t3 - t2:6.2f} s  (inbox export + server apply)")


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
