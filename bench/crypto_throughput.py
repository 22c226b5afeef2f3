"""Envelope throughput and memory, next to gpg on the same file.

    .venv/bin/python bench/crypto_throughput.py [--mib 200] [--runs 3]

Needs GNU time (/usr/bin/time, Debian package ``time``) and gpg. Each
measurement runs in a fresh child process (start-up included, as with gpg) so
its peak RSS is its own. Prints MB/s (10^6 bytes per second, median of the
runs) by wall-clock time and by CPU time (user + system: what the work costs
when other processes share the cores), and peak RSS; encryption at two sizes
shows whether memory is flat in the payload size.
"""

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHUNK = 1 << 20


def child_encrypt(source: str, target: str) -> None:
    from whistle.crypto import EnvelopeWriter, associated_data, generate_box_keypair, sealed_to

    desk = generate_box_keypair()
    Path(target + ".key").write_bytes(desk.secret_key)
    with open(source, "rb") as inp, open(target, "wb") as out:
        writer = EnvelopeWriter(
            out, [sealed_to(desk.public_key)], associated_data("submission", bytes(16))
        )
        writer.begin_file("evidence.bin")
        while piece := inp.read(CHUNK):
            writer.write(piece)
        writer.end_part()
        writer.finish()


def child_decrypt(source: str) -> None:
    from whistle.crypto import PartData, associated_data, open_envelope

    key = Path(source + ".key").read_bytes()
    with open(source, "rb") as inp, open(os.devnull, "wb") as sink:
        opened = open_envelope(inp, key, associated_data("submission", bytes(16)))
        for event in opened.events():
            if isinstance(event, PartData):
                sink.write(event.data)


def timed(command: list[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system) and peak RSS (KiB) of one child (GNU time)."""
    with tempfile.NamedTemporaryFile("r") as report:
        start = time.perf_counter()
        subprocess.run(
            ["/usr/bin/time", "-f", "%U %S %M", "-o", report.name, *command],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        elapsed = time.perf_counter() - start
        user, system, rss = Path(report.name).read_text().split()[-3:]
        return elapsed, float(user) + float(system), int(rss)


def make_input(path: Path, mib: int) -> None:
    with path.open("wb") as out:
        for _ in range(mib):
            out.write(os.urandom(CHUNK))


def gpg_setup(home: Path) -> list[str]:
    home.mkdir(mode=0o700)
    base = ["gpg", "--homedir", str(home), "--batch", "--quiet", "--pinentry-mode", "loopback"]
    subprocess.run(
        [
            *base,
            "--passphrase",
            "",
            "--quick-gen-key",
            "bench@whistle.invalid",
            "ed25519",
            "sign",
            "never",
        ],
        check=True,
        capture_output=True,
    )
    listing = subprocess.run(
        [*base, "--with-colons", "--list-keys"], check=True, capture_output=True, text=True
    ).stdout
    fpr = next(line.split(":")[9] for line in listing.splitlines() if line.startswith("fpr"))
    subprocess.run(
        [*base, "--passphrase", "", "--quick-add-key", fpr, "cv25519", "encr", "never"],
        check=True,
        capture_output=True,
    )
    return [*base, "--trust-model", "always", "--yes", "-r", "bench@whistle.invalid"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="whistle-bench-"))
    need = args.mib * CHUNK * 3
    if shutil.disk_usage(workdir).free < need:
        sys.exit(f"needs {need // CHUNK} MiB free in {workdir}")
    try:
        source = workdir / "input.bin"
        small = workdir / "small.bin"
        make_input(source, args.mib)
        make_input(small, max(1, args.mib // 10))
        me = [sys.executable, __file__]
        size = source.stat().st_size
        rows = []

        def measure(label: str, command: list[str]) -> None:
            results = [timed(command) for _ in range(args.runs)]
            wall = statistics.median(r[0] for r in results)
            cpu = statistics.median(r[1] for r in results)
            rss = max(r[2] for r in results)
            rows.append((label, size / wall / 1e6, size / cpu / 1e6, rss / 1024))

        enc = str(workdir / "input.env")
        measure("whistle envelope encrypt", [*me, "--child-encrypt", str(source), enc])
        measure("whistle envelope decrypt (authenticate, then read)", [*me, "--child-decrypt", enc])
        small_rss = timed([*me, "--child-encrypt", str(small), str(workdir / "small.env")])[2]
        if shutil.which("gpg"):
            gpg = gpg_setup(workdir / "gnupg")
            out = str(workdir / "out.gpg")
            measure(
                "gpg --encrypt --compress-algo none (cv25519)",
                [*gpg, "--compress-algo", "none", "-o", out, "-e", str(source)],
            )
            measure("gpg --encrypt (default compression)", [*gpg, "-o", out, "-e", str(source)])
            # SecureDrop's former pipeline: gzip -9, then gpg without compression.
            pipeline = f"gzip -9 -c {shlex.quote(str(source))} | " + shlex.join(
                [*gpg, "--compress-algo", "none", "-o", out, "-e"]
            )
            measure("gzip -9 | gpg --encrypt --compress-algo none", ["sh", "-c", pipeline])
        print(
            f"input: {args.mib} MiB of random bytes, median of {args.runs} runs, "
            f"process start included; {os.cpu_count()} CPUs"
        )
        print(f"load average before the run: {os.getloadavg()[0]:.2f}")
        print(f"{'what':52} {'MB/s wall':>10} {'MB/s CPU':>9} {'peak RSS MiB':>13}")
        for label, wall_rate, cpu_rate, rss in rows:
            print(f"{label:52} {wall_rate:10.0f} {cpu_rate:9.0f} {rss:13.1f}")
        print(
            f"envelope encrypt peak RSS at {max(1, args.mib // 10)} MiB: {small_rss / 1024:.1f} "
            f"MiB (flat if close to the {args.mib} MiB figure)"
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--child-encrypt":
        child_encrypt(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3 and sys.argv[1] == "--child-decrypt":
        child_decrypt(sys.argv[2])
    else:
        main()
