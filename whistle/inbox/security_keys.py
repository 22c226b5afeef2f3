"""Officers' security keys: WebAuthn with the PRF extension as a second factor that a stolen
disk does not hold (docs/officer-guide.md, "Security keys"; docs/decisions.md).

An officer with security keys has one random 32-byte *second factor*. Their keyrings are
wrapped under their password and that factor together (``wrap_with_passphrase_and_factor``),
and each of their keys keeps a copy of the factor wrapped under the key's PRF output for a
random salt of its own. Signing in therefore takes the password, a valid WebAuthn assertion
from one of their keys (checked by py_webauthn) and that key's PRF answer; the disk holds
the salts and wrapped copies, never the PRF answers.

WebAuthn refuses IP-address origins: the inbox is reached as http://localhost:PORT (it still
binds 127.0.0.1 only). Every ceremony's challenge is kept in memory for a few minutes and
used once, so a replayed answer, one for another page or an expired one is refused.
"""

import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from whistle.crypto import (
    DecryptionError,
    MalformedError,
    prf_wrapping_key,
    random_bytes,
    unwrap_with_key,
    wrap_with_key,
)
from whistle.inbox.audit import record_event
from whistle.inbox.errors import (
    SecurityKeyLabelError,
    SecurityKeyNotEnrolledError,
    SecurityKeyRefusedError,
)
from whistle.inbox.models import Officer, SecurityKey

RP_NAME = "Whistle inbox"
#: WebAuthn's relying party: a name, never an address (browsers refuse IP origins).
RP_ID = "localhost"
CEREMONY_SECONDS = 300
MAX_LABEL_CHARS = 64
MAX_ANSWER_CHARS = 16 * 1024
FACTOR_BYTES = 32
REFUSED = "The security key's answer was refused. Nothing was changed."


def origin_for(host_url: str) -> str:
    """The WebAuthn origin of the page (``http://localhost:8470``)."""
    return host_url.rstrip("/")


def keys_of(session: Session, officer_id: int) -> list[SecurityKey]:
    return list(
        session.scalars(
            select(SecurityKey).where(SecurityKey.officer_id == officer_id).order_by(SecurityKey.id)
        )
    )


def has_keys(session: Session, officer_id: int) -> bool:
    return (
        session.scalar(select(SecurityKey.id).where(SecurityKey.officer_id == officer_id))
        is not None
    )


def new_factor() -> bytes:
    return random_bytes(FACTOR_BYTES)


# --- Ceremonies: options sent to the browser, challenges kept here ---------------------------


@dataclass(frozen=True, repr=False)
class Enrolment:
    """What the enrolment page asked the browser: a new credential, then an assertion of it
    with the PRF evaluated on ``prf_salt``."""

    registration_challenge: bytes
    assertion_challenge: bytes
    prf_salt: bytes
    expires: datetime


@dataclass(frozen=True, repr=False)
class PendingSignIn:
    """A password already checked, waiting for the security key (the password stays in memory
    only until the key answers or the ceremony expires: the keyring needs both)."""

    officer_id: int
    password: str
    challenge: bytes
    expires: datetime
    next: str | None


class Ceremonies:
    """Challenges in flight, each used at most once, dropped after ``CEREMONY_SECONDS``."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._items: dict[str, Enrolment | PendingSignIn] = {}
        self._lock = threading.Lock()

    def expiry(self) -> datetime:
        return self._clock() + timedelta(seconds=CEREMONY_SECONDS)

    def put(self, key: str, item: Enrolment | PendingSignIn) -> None:
        with self._lock:
            self._sweep()
            self._items[key] = item

    def take_enrolment(self, key: str) -> Enrolment:
        item = self._take(key)
        if not isinstance(item, Enrolment):
            raise SecurityKeyRefusedError(REFUSED)
        return item

    def take_sign_in(self, key: str) -> PendingSignIn:
        item = self._take(key)
        if not isinstance(item, PendingSignIn):
            raise SecurityKeyRefusedError(REFUSED)
        return item

    def _take(self, key: str) -> Enrolment | PendingSignIn | None:
        with self._lock:
            self._sweep()
            return self._items.pop(key, None) if key else None

    def _sweep(self) -> None:
        now = self._clock()
        for key in [k for k, v in self._items.items() if v.expires <= now]:
            del self._items[key]


def enrolment_options(session: Session, officer: Officer, enrolment: Enrolment) -> dict[str, Any]:
    """The browser's instructions (JSON): create a credential, then assert it with PRF."""
    registration = generate_registration_options(
        rp_id=RP_ID,
        rp_name=RP_NAME,
        user_name=officer.name,
        user_id=officer.id.to_bytes(8, "big"),
        challenge=enrolment.registration_challenge,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=k.credential_id) for k in keys_of(session, officer.id)
        ],
    )
    return {
        "registration": json.loads(options_to_json(registration)),
        "assertion_challenge": bytes_to_base64url(enrolment.assertion_challenge),
        "prf_salt": bytes_to_base64url(enrolment.prf_salt),
        "rp_id": RP_ID,
    }


def new_enrolment(ceremonies: Ceremonies) -> Enrolment:
    return Enrolment(
        secrets.token_bytes(32),
        secrets.token_bytes(32),
        secrets.token_bytes(32),
        ceremonies.expiry(),
    )


def sign_in_options(keys: list[SecurityKey], challenge: bytes) -> dict[str, Any]:
    """The browser's instructions (JSON): an assertion by one of these keys, PRF on its salt."""
    request = generate_authentication_options(
        rp_id=RP_ID,
        challenge=challenge,
        allow_credentials=[PublicKeyCredentialDescriptor(id=k.credential_id) for k in keys],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return {
        "request": json.loads(options_to_json(request)),
        "prf_salts": {
            bytes_to_base64url(k.credential_id): bytes_to_base64url(k.prf_salt) for k in keys
        },
    }


def _prf(prf_b64: str) -> bytes:
    try:
        return prf_wrapping_key(base64url_to_bytes(prf_b64[:128]))
    except (ValueError, MalformedError) as exc:
        raise SecurityKeyRefusedError(REFUSED) from exc


def _answer(text: str) -> str:
    if not text or len(text) > MAX_ANSWER_CHARS:
        raise SecurityKeyRefusedError(REFUSED)
    return text


def check_label(label: str) -> str:
    label = " ".join(label.split())
    if not label or len(label) > MAX_LABEL_CHARS:
        raise SecurityKeyLabelError(f"A security key's name is 1 to {MAX_LABEL_CHARS} characters.")
    return label


@dataclass(frozen=True, repr=False)
class CheckedKey:
    """A new credential whose registration and first PRF answer were both verified."""

    credential_id: bytes
    public_key: bytes
    sign_count: int
    prf_salt: bytes
    prf_key: bytes


def check_enrolment(
    enrolment: Enrolment, origin: str, attestation: str, assertion: str, prf: str
) -> CheckedKey:
    """Verify the new credential and its first assertion (same credential, PRF answered)."""
    try:
        registered = verify_registration_response(
            credential=_answer(attestation),
            expected_challenge=enrolment.registration_challenge,
            expected_rp_id=RP_ID,
            expected_origin=origin,
            require_user_verification=True,
        )
        asserted = verify_authentication_response(
            credential=_answer(assertion),
            expected_challenge=enrolment.assertion_challenge,
            expected_rp_id=RP_ID,
            expected_origin=origin,
            credential_public_key=registered.credential_public_key,
            credential_current_sign_count=registered.sign_count,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise SecurityKeyRefusedError(REFUSED) from exc
    if asserted.credential_id != registered.credential_id:
        raise SecurityKeyRefusedError(REFUSED)
    return CheckedKey(
        registered.credential_id,
        registered.credential_public_key,
        asserted.new_sign_count,
        enrolment.prf_salt,
        _prf(prf),
    )


def check_sign_in(
    session: Session,
    now: datetime,
    pending: "PendingSignIn",
    origin: str,
    assertion: str,
    prf: str,
) -> bytes:
    """Verify an assertion by one of the officer's keys; the officer's second factor, unwrapped
    with that key's PRF answer. The key's counter and last use are updated."""
    answer = _answer(assertion)
    try:
        credential_id = _credential_id(answer)
    except (ValueError, KeyError, TypeError) as exc:
        raise SecurityKeyRefusedError(REFUSED) from exc
    key = session.scalar(
        select(SecurityKey).where(
            SecurityKey.officer_id == pending.officer_id,
            SecurityKey.credential_id == credential_id,
        )
    )
    if key is None:
        raise SecurityKeyRefusedError(REFUSED)
    try:
        verified = verify_authentication_response(
            credential=answer,
            expected_challenge=pending.challenge,
            expected_rp_id=RP_ID,
            expected_origin=origin,
            credential_public_key=key.public_key,
            credential_current_sign_count=key.sign_count,
            require_user_verification=True,
        )
    except (WebAuthnException, ValueError, KeyError, TypeError) as exc:
        raise SecurityKeyRefusedError(REFUSED) from exc
    try:
        factor = unwrap_with_key(key.wrapped_factor, _prf(prf))
    except DecryptionError as exc:
        raise SecurityKeyRefusedError(REFUSED) from exc
    key.sign_count = verified.new_sign_count
    key.last_used_at = now.replace(tzinfo=None)
    return factor


def _credential_id(answer: str) -> bytes:
    document = json.loads(answer)
    if not isinstance(document, dict) or not isinstance(document.get("rawId"), str):
        raise ValueError("no credential id")
    return base64url_to_bytes(document["rawId"][:1024])


def add_key(
    session: Session,
    now: datetime,
    officer: Officer,
    *,
    label: str,
    checked: CheckedKey,
    factor: bytes,
) -> SecurityKey:
    """Store a verified key with its copy of the officer's second factor; audited."""
    if session.scalar(
        select(SecurityKey.id).where(SecurityKey.credential_id == checked.credential_id)
    ):
        raise SecurityKeyRefusedError(REFUSED)
    key = SecurityKey(
        officer_id=officer.id,
        label=check_label(label),
        credential_id=checked.credential_id,
        public_key=checked.public_key,
        sign_count=checked.sign_count,
        prf_salt=checked.prf_salt,
        wrapped_factor=wrap_with_key(factor, checked.prf_key),
        created_at=now.replace(tzinfo=None),
    )
    session.add(key)
    session.flush()
    record_event(
        session,
        now,
        "security-key-enrolled",
        officer_id=officer.id,
        detail=f"{officer.name}: {key.label}",
    )
    return key


def find_key(session: Session, officer_id: int, key_id: int) -> SecurityKey:
    key = session.get(SecurityKey, key_id)
    if key is None or key.officer_id != officer_id:
        raise SecurityKeyNotEnrolledError("No such security key.")
    return key


def delete_key(
    session: Session,
    now: datetime,
    officer: Officer,
    key: SecurityKey,
    *,
    by_officer_id: int | None,
    how: str,
) -> None:
    """Forget one key (its wrapped copy of the factor goes with it); audited."""
    session.delete(key)
    session.flush()
    record_event(
        session,
        now,
        "security-key-removed",
        officer_id=by_officer_id,
        detail=f"{officer.name}: {key.label} ({how})",
    )


def delete_all(session: Session, officer_id: int) -> int:
    """Forget every key of an officer (their keyrings no longer need the factor); how many."""
    keys = keys_of(session, officer_id)
    for key in keys:
        session.delete(key)
    session.flush()
    return len(keys)
