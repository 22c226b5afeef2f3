"""Throughput of the JS-off upload pipeline alone: multipart parsing + envelope encryption.

.venv/bin/python bench/submit_pipeline.py [MiB]
"""

import io
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.submit.conftest import multipart
from whistle.crypto import generate_box_keypair, random_bytes
from whistle.crypto.records import SubmissionWriter
from whistle.submit.upload import parse_multipart


class Null(io.RawIOBase):
    def write(self, data: bytes) -> int:  # type: ignore[override]
        return len(data)


def main() -> None:
    size = int(sys.argv[1] if len(sys.argv) > 1 else 200) * 2**20
    body, content_type = multipart(
        [("q_subject", None, b"x"), ("files", "f.bin", os.urandom(size))]
    )
    boundary = content_type.split("boundary=")[1].encode()
    key = generate_box_keypair().public_key
    times = []
    for _ in range(3):
        start = time.perf_counter()
        writer = SubmissionWriter(
            Null(),  # type: ignore[arg-type]
            desk_key=key,
            custodian_key=key,
            reply_public_key=key,
            source_signing_key=key,
            case_id=random_bytes(16),
        )
        parse_multipart(io.BytesIO(body), boundary, writer, max_files=5, max_file_bytes=2**40)
        writer.add_form({"fields": []})
        writer.add_identification([])
        writer.finish()
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(f"parse + encrypt {size / 2**20:.0f} MiB: median of 3 {median:.2f} s", end=" ")
    print(f"= {size / median / 1e6:.0f} MB/s")


if __name__ == "__main__":
    main()
