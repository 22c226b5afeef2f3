"""Key epochs in the inbox: the cost of a rotation and of opening the live keys.

Usage: .venv/bin/python bench/epochs_bench.py DESKS ROTATIONS

Makes an office with DESKS desks, rotates ROTATIONS times (none destroyed: the worst
case, every epoch live), then times ``epochs.live_keys`` — what every import and
outbox verification does once — with all epochs live and with only the newest two.
"""

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import INSECURE_KDF_PARAMS
from whistle.inbox import db, epochs
from whistle.inbox.config import InboxConfig, insecure_password_hash
from whistle.inbox.office_setup import init_office
from whistle.inbox.officers import sign_in

PASSWORD = "a long enough password"  # noqa: S105  (a throwaway office)


def main(desks: int, rotations: int) -> None:
    tmp = Path(tempfile.mkdtemp())
    config = InboxConfig(
        data_dir=tmp / "office",
        kdf_params=INSECURE_KDF_PARAMS,
        password_hash=insecure_password_hash(),
        scratch_dir=tmp,
        testing=True,
    )
    init_office(
        config,
        time_zone=config.time_zone,
        name="Bench",
        desks=[(f"d{i}", f"Desk {i}") for i in range(desks)],
        officer_name="a",
        password=PASSWORD,
    )
    engine = db.make_engine(config.database_path)
    sessions = db.session_factory(engine)
    with db.transaction(sessions) as session:
        keyring = sign_in(session, config, "a", PASSWORD).keyring
    start = time.perf_counter()
    for _ in range(rotations):
        with db.transaction(sessions) as session:
            epochs.rotate(session, keyring, config.clock())
    rotate_ms = (time.perf_counter() - start) / rotations * 1000
    print(f"rotate, {desks} desks: {rotate_ms:.1f} ms each (mean of {rotations})")
    for label, destroy in (("all live", False), ("newest two live", True)):
        if destroy:
            with db.transaction(sessions) as session:
                for epoch in range(1, rotations):
                    epochs.destroy(session, epoch, config.clock())
        runs = []
        for _ in range(5):
            t = time.perf_counter()
            with db.transaction(sessions) as session:
                live = epochs.live_keys(session, keyring)
            runs.append((time.perf_counter() - t) * 1000)
        runs.sort()
        shape = f"{len(live)} epochs x {desks + 1} keys"
        print(f"live_keys, {label} ({shape}): {runs[2]:.1f} ms median")
    engine.dispose()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]))
