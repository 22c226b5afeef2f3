"""Run Whistle's native code with no writable-and-executable memory, like systemd would.

systemd's ``MemoryDenyWriteExecute=yes`` refuses any mapping that is (or becomes) both writable
and executable. Linux >= 6.3 offers the same rule to any process: ``prctl(PR_SET_MDWE,
PR_MDWE_REFUSE_EXEC_GAIN)``. This script turns it on, proves it is on, then runs what the
services load that has native code: PyNaCl and argon2-cffi (cffi), CPython's sqlite3, Flask,
SQLAlchemy, gunicorn, setproctitle and gevent (patched in, as its workers do: greenlets switch
stacks and its thread pool runs, with no executable memory either). It prints ``ok`` when
everything worked. Run by tests/deploy/test_systemd_units.py in a subprocess (the rule cannot
be turned off again).
"""

import ctypes
import mmap
import sys

PR_SET_MDWE = 65
PR_GET_MDWE = 66
PR_MDWE_REFUSE_EXEC_GAIN = 1


def enable_mdwe() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        sys.exit(f"this kernel has no PR_SET_MDWE (errno {ctypes.get_errno()}); Linux >= 6.3")
    if libc.prctl(PR_GET_MDWE, 0, 0, 0, 0) != PR_MDWE_REFUSE_EXEC_GAIN:
        sys.exit("PR_SET_MDWE did not stick")
    try:
        mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    except PermissionError:
        return
    sys.exit("a writable and executable mapping was still allowed")


def exercise() -> None:
    from gevent import get_hub, joinall, monkey, sleep, spawn

    monkey.patch_all()
    greenlets = [spawn(lambda n: (sleep(0), n)[1], n) for n in range(3)]
    joinall(greenlets)
    if [g.value for g in greenlets] != [0, 1, 2]:
        sys.exit("greenlets did not run")
    if get_hub().threadpool.apply(sum, ([1, 2],)) != 3:
        sys.exit("gevent's thread pool did not run")

    import sqlite3

    import argon2
    import flask
    import gunicorn.app.wsgiapp
    import setproctitle
    import sqlalchemy

    from whistle.crypto import (
        KdfParams,
        PartKind,
        derive_source_keys,
        generate_box_keypair,
        generate_code,
        open_bytes,
        seal,
        sealed_to,
        unwrap_with_passphrase,
        wrap_with_passphrase,
    )

    desk = generate_box_keypair()
    envelope = seal([(PartKind.TEXT, "body", b"report")], [sealed_to(desk.public_key)], b"ad")
    if open_bytes(envelope, desk.secret_key, b"ad").part("body").content != b"report":
        sys.exit("envelope round trip failed")
    derive_source_keys(generate_code(), bytes(32))
    wrapped = wrap_with_passphrase(b"k" * 32, "pass", KdfParams(opslimit=1, memlimit=8192))
    if unwrap_with_passphrase(wrapped, "pass") != b"k" * 32:
        sys.exit("key file round trip failed")
    hasher = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1)
    hasher.verify(hasher.hash("password"), "password")
    engine = sqlalchemy.create_engine("sqlite://")
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text("select 1"))
    sqlite3.connect(":memory:").execute("select 1")
    app = flask.Flask("probe")
    app.add_url_rule("/", "index", lambda: "hi")
    if app.test_client().get("/").data != b"hi":
        sys.exit("flask request failed")
    setproctitle.setproctitle("mdwe-probe")  # what gunicorn's proc_name calls
    del gunicorn.app.wsgiapp


if __name__ == "__main__":
    enable_mdwe()
    exercise()
    print("ok")
