"""A whole JS-off report through the Flask app: parse, encrypt, hash, store as chunk rows.

.venv/bin/python bench/submit_upload.py [MiB]
"""

import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.submit.conftest import browser_report, csrf_from, make_office
from whistle.submit import create_app, load_config
from whistle.submit.config import Limits
from whistle.submit.datadir import init_data_directory


def main() -> None:
    size = int(sys.argv[1] if len(sys.argv) > 1 else 100) * 2**20
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch) / "data"
        office = make_office()
        init_data_directory(directory, office.card, fingerprint=office.fingerprint)
        config = load_config(directory)
        limits = Limits(max_upload_bytes=size + 2**20, discard_cap_bytes=size + 2**21)
        app = create_app(dataclasses.replace(config, limits=limits))
        client = app.test_client()
        content = os.urandom(size)
        times = []
        for _ in range(3):
            csrf = csrf_from(client.get("/report").text)
            body, content_type = browser_report(csrf, files=[("f.bin", content)])
            start = time.perf_counter()
            response = client.post("/report", data=body, content_type=content_type)
            times.append(time.perf_counter() - start)
            if response.status_code != 200:
                raise SystemExit(f"the report failed: {response.status_code}")
        app.extensions["whistle_submit"].engine.dispose()
    median = statistics.median(times)
    print(f"report with {size / 2**20:.0f} MiB: median of 3 {median:.2f} s", end=" ")
    print(f"= {size / median / 1e6:.0f} MB/s (parse, encrypt, hash, SQLite chunk rows)")


if __name__ == "__main__":
    main()
