"""The courier endpoint: bundles over the network, for offices without an air gap.

Off unless ``courier_enabled = true``; meant to sit behind a second onion service
with v3 client authorisation (docs/deployment.md). Every exchange starts with a
challenge: 32 random bytes the server hands out, single use, valid for a couple of
minutes (kept to the whole minute, deleted when used or expired). The client
proves it holds the office signing key by signing

    "whistle-courier:" ‖ action ‖ ":" ‖ challenge (hex)

for the purpose ``whistle/courier-challenge/v1``, and sends the proof with its
request in ``X-Whistle-Challenge`` / ``X-Whistle-Proof`` (base64):

    POST /courier/challenge   → {"challenge": hex}
    POST /courier/outbox      → the outbox bundle (application/octet-stream)
    POST /courier/replies     body: a replies bundle → {"applied": [lines]}

Refusals are JSON ``{"error": message}`` with 400/403/413; never a 500 for bad input.
"""

import base64
import binascii
import datetime
import io
import secrets
import time
import zoneinfo
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy import delete

from whistle.bundling import BundleRefusedError, BundleTooLargeError
from whistle.crypto import COURIER_CHALLENGE, CryptoError, verify
from whistle.submit import db
from whistle.submit.bundles import apply_replies, export_outbox
from whistle.submit.config import ConfigError, SubmitConfig
from whistle.submit.models import CourierChallenge

CHALLENGE_MINUTES = 2
ACTIONS = ("outbox", "replies")


def proof_message(action: str, challenge: str) -> bytes:
    return f"whistle-courier:{action}:{challenge}".encode("ascii")


def create_courier_app(config: SubmitConfig, *, clock: Callable[[], float] = time.time) -> Flask:
    """The courier's own small app (its own gunicorn, its own onion service)."""
    if not config.courier_enabled:
        raise ConfigError("the courier is off: set courier_enabled = true in config.toml")
    engine = db.make_engine(config.database_url)
    db.check_schema(engine)
    sessions = db.make_sessions(engine)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_bundle_bytes
    app.extensions["whistle_courier"] = engine

    def minute() -> int:
        return int(clock()) // 60

    def today() -> datetime.date:
        return datetime.datetime.now(zoneinfo.ZoneInfo(config.time_zone)).date()

    def refuse(message: str, status: int) -> tuple[Response, int]:
        return jsonify(error=message), status

    def check_proof(action: str) -> tuple[Response, int] | None:
        nonce = request.headers.get("X-Whistle-Challenge", "")
        proof = request.headers.get("X-Whistle-Proof", "")
        if len(nonce) != 64 or len(proof) > 4096:
            return refuse("a challenge and its proof are required", 403)
        with sessions.begin() as session:
            row = session.get(CourierChallenge, nonce)
            if row is None or row.expires < minute():
                return refuse("unknown, used or expired challenge: ask for a new one", 403)
            session.delete(row)  # single use, whatever the outcome
        try:
            signed = base64.b64decode(proof, validate=True)
            message = verify(config.office_card.signing_key, COURIER_CHALLENGE, signed)
        except (binascii.Error, ValueError, CryptoError):
            return refuse("the proof is not signed by the office key", 403)
        if not secrets.compare_digest(message, proof_message(action, nonce)):
            return refuse("the proof is for another challenge or action", 403)
        return None

    @app.post("/courier/challenge")
    def challenge() -> Any:
        nonce = secrets.token_hex(32)
        with sessions.begin() as session:
            session.execute(delete(CourierChallenge).where(CourierChallenge.expires < minute()))
            session.add(CourierChallenge(nonce=nonce, expires=minute() + CHALLENGE_MINUTES))
        return jsonify(challenge=nonce)

    @app.post("/courier/outbox")
    def outbox() -> Any:
        refused = check_proof("outbox")
        if refused:
            return refused
        out = io.BytesIO()
        with sessions.begin() as session:
            db.start_export(session)
            export_outbox(session, config, out, today=today())
        return Response(out.getvalue(), mimetype="application/octet-stream")

    @app.post("/courier/replies")
    def replies() -> Any:
        refused = check_proof("replies")
        if refused:
            return refused
        length = request.content_length
        if length is None or length > config.max_bundle_bytes:
            return refuse("the bundle is missing or too large", 413)
        data = request.stream.read(length)
        try:
            with sessions.begin() as session:
                db.start_write(session)
                summary = apply_replies(session, config, data, today=today())
        except BundleTooLargeError as exc:
            return refuse(str(exc), 413)
        except BundleRefusedError as exc:
            return refuse(f"{exc} — nothing was changed", 400)
        return jsonify(applied=summary.lines())

    @app.errorhandler(404)
    @app.errorhandler(405)
    @app.errorhandler(413)
    def http_error(exc: Any) -> Any:
        return refuse(exc.name, exc.code)

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    return app
