"""The inbox over HTTP: sign-in, locking, cases, notes, custodian-only identification."""

import re

import pytest
from sqlalchemy import select

from whistle.crypto import recovery_wrapping_key
from whistle.inbox import create_app, db, workflow
from whistle.inbox.keyring import unwrap_custodian_recovery
from whistle.inbox.models import AuditEvent, Office
from whistle.inbox.officers import add_officer
from whistle.inbox.web import COOKIE

from .conftest import PASSWORD, do_import, incoming, make_followup, make_submission


@pytest.fixture
def app(office):
    return create_app(office.config)


@pytest.fixture
def client(app):
    return app.test_client()


def csrf(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match
    return match.group(1)


def login(client, name="admin", password=PASSWORD):
    return client.post("/login", data={"name": name, "password": password})


def test_pages_carry_strict_headers(client) -> None:
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp
    assert "script-src" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    assert "http://" not in html
    assert "https://" not in html
    assert "<script" not in html


def test_non_loopback_host_refused(client) -> None:
    assert client.get("/login", headers={"Host": "evil.example"}).status_code == 421
    assert client.get("/login", headers={"Host": "127.0.0.1:8080"}).status_code == 200


def test_sign_in_sets_only_a_random_id(client, app) -> None:
    response = login(client)
    assert response.status_code == 303
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    assert cookie.http_only
    assert len(cookie.value) >= 40
    assert client.get("/cases").status_code == 200


def test_wrong_password_no_hint_then_throttled(client) -> None:
    first = login(client, password="nope nope nope")
    assert first.status_code == 401
    unknown = login(client, name="ghost", password="nope nope nope")
    assert unknown.status_code == 401
    text = first.get_data(as_text=True)
    assert "Wrong name or password." in text
    assert "Wrong name or password." in unknown.get_data(as_text=True)
    login(client, password="nope nope nope")
    login(client, password="nope nope nope")
    throttled = login(client)
    assert throttled.status_code == 429
    assert "Too many failed sign-ins" in throttled.get_data(as_text=True)


def test_locked_pages_redirect_to_sign_in(client) -> None:
    response = client.get("/cases")
    assert response.status_code == 303
    assert "/login" in response.headers["Location"]


def test_idle_lock(client, clock) -> None:
    login(client)
    clock.advance(minutes=9)
    assert client.get("/cases").status_code == 200
    clock.advance(minutes=11)
    response = client.get("/cases")
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    assert "locked itself" in page.get_data(as_text=True)


def test_lock_button_drops_keys(client, app) -> None:
    login(client)
    token = csrf(client.get("/cases").get_data(as_text=True))
    client.post("/lock", data={"csrf": token})
    assert len(app.extensions["whistle_inbox"].keystore) == 0
    assert client.get("/cases").status_code == 303


def test_cross_site_post_refused(client) -> None:
    login(client)
    token = csrf(client.get("/cases").get_data(as_text=True))
    assert (
        client.post(
            "/lock", data={"csrf": token}, headers={"Origin": "http://evil.example"}
        ).status_code
        == 403
    )
    assert client.post("/lock", data={"csrf": "forged"}).status_code == 400


def test_case_list_filters_search_and_detail(office, client) -> None:
    a, env_a = make_submission(office, subject="Roads contract", description="bribes paid in cash")
    b, env_b = make_submission(office, subject="Hiring", description="nepotism", desk="ethics")
    follow = make_followup(office, a, "the auditor knows about the <b>cash</b>")
    do_import(
        office,
        [
            incoming("submission", a.case_id, env_a),
            incoming("submission", b.case_id, env_b),
            incoming("followup", a.case_id, follow),
        ],
    )
    login(client)
    page = client.get("/cases").get_data(as_text=True)
    assert "Roads contract" in page
    assert "Hiring" in page
    page = client.get("/cases?desk=ethics").get_data(as_text=True)
    assert "Hiring" in page
    assert "Roads contract" not in page
    page = client.get("/cases?q=AUDITOR").get_data(as_text=True)
    assert "Roads contract" in page
    assert "Hiring" not in page
    page = client.get(f"/cases/{a.case_id}").get_data(as_text=True)
    assert "bribes paid in cash" in page
    assert "&lt;b&gt;cash&lt;/b&gt;" in page
    assert client.get("/cases/" + "0" * 32).status_code == 404
    assert client.get("/cases/not-a-case").status_code == 404


def test_pagination(office, client) -> None:
    office_config = office.config
    for i in range(30):
        s, env = make_submission(office, subject=f"case number {i:02d}")
        do_import(office, [incoming("submission", s.case_id, env)])
    login(client)
    first = client.get("/cases").get_data(as_text=True)
    second = client.get("/cases?page=2").get_data(as_text=True)
    assert first.count("case number") == office_config.page_size
    assert second.count("case number") == 30 - office_config.page_size
    assert client.get("/cases?page=99").status_code == 200


def test_notes_are_sealed_and_shown(office, client) -> None:
    s, env = make_submission(office)
    do_import(office, [incoming("submission", s.case_id, env)])
    login(client)
    page = client.get(f"/cases/{s.case_id}").get_data(as_text=True)
    response = client.post(
        f"/cases/{s.case_id}/notes", data={"csrf": csrf(page), "text": "call the comptroller"}
    )
    assert response.status_code == 303
    assert "call the comptroller" in client.get(f"/cases/{s.case_id}").get_data(as_text=True)
    empty = client.post(f"/cases/{s.case_id}/notes", data={"csrf": csrf(page), "text": "  "})
    assert empty.status_code == 400
    assert 'aria-invalid="true"' in empty.get_data(as_text=True)


def _add_custodian(office, roles: tuple[str, ...] = ("custodian",)) -> None:
    admin = office.sign_in()
    with office.session() as session:
        row = session.scalar(select(Office))
        custodian = unwrap_custodian_recovery(
            row.recovery_custodian_keyring, recovery_wrapping_key(office.created.recovery_key)
        )
        add_officer(
            session,
            office.config,
            name="carla",
            password=PASSWORD,
            roles=roles,
            keyring=admin.keyring,
            custodian_keyring=custodian,
        )


def test_identification_only_for_custodian_after_decision(office, app) -> None:
    _add_custodian(office)
    ident = [{"key": "name", "label": "Name", "value": "Jordi Puig"}]
    s, env = make_submission(office, identification=ident)
    do_import(office, [incoming("submission", s.case_id, env)])

    officer = app.test_client()
    login(officer)
    page = officer.get(f"/cases/{s.case_id}").get_data(as_text=True)
    assert "Jordi Puig" not in page
    token = csrf(page)
    assert (
        officer.post(f"/cases/{s.case_id}/identification", data={"csrf": token}).status_code == 403
    )
    assert (
        officer.post(
            f"/cases/{s.case_id}/disclosure", data={"csrf": token, "reason": "I want to know"}
        ).status_code
        == 403
    )

    custodian = app.test_client()
    login(custodian, "carla")
    page = custodian.get(f"/cases/{s.case_id}").get_data(as_text=True)
    token = csrf(page)
    # Not before a decision with a reason.
    assert (
        custodian.post(f"/cases/{s.case_id}/identification", data={"csrf": token}).status_code
        == 403
    )
    short = custodian.post(f"/cases/{s.case_id}/disclosure", data={"csrf": token, "reason": "x"})
    assert short.status_code == 400
    decided = custodian.post(
        f"/cases/{s.case_id}/disclosure",
        data={"csrf": token, "reason": "Court order 123/2026 requires the identity."},
    )
    assert decided.status_code == 303
    shown = custodian.post(f"/cases/{s.case_id}/identification", data={"csrf": token})
    assert shown.status_code == 200
    assert "Jordi Puig" in shown.get_data(as_text=True)
    # Still closed to the plain officer after the decision.
    assert (
        officer.post(
            f"/cases/{s.case_id}/identification",
            data={"csrf": csrf(officer.get("/cases").get_data(as_text=True))},
        ).status_code
        == 403
    )
    with office.session() as session:
        actions = [e.action for e in session.scalars(select(AuditEvent))]
    assert "identification-disclosed" in actions
    assert "identification-viewed" in actions


def test_change_password_page(client, office) -> None:
    login(client)
    page = client.get("/account/password").get_data(as_text=True)
    token = csrf(page)
    bad = client.post(
        "/account/password",
        data={"csrf": token, "current": "wrong wrong wrong", "new": "n" * 14, "repeat": "n" * 14},
    )
    assert bad.status_code == 400
    good = client.post(
        "/account/password",
        data={"csrf": token, "current": PASSWORD, "new": "n" * 14, "repeat": "n" * 14},
    )
    assert good.status_code == 200
    assert office.sign_in(password="n" * 14).name == "admin"


@pytest.mark.parametrize(
    ("lang", "word"), [("ca", "Contrasenya"), ("es", "Contraseña"), ("en", "Password")]
)
def test_translated(client, lang, word) -> None:
    page = client.get("/login", headers={"Accept-Language": lang}).get_data(as_text=True)
    assert f'lang="{lang}"' in page
    assert word in page


def test_unknown_route_is_a_page_not_a_500(client) -> None:
    response = client.get("/nothing-here")
    assert response.status_code == 404
    assert "<main" in response.get_data(as_text=True)


@pytest.mark.parametrize("lang", ["ca", "es", "en"])
def test_every_page_renders_in_every_language(office, client, lang) -> None:
    s, env = make_submission(office, files=[("a.txt", b"hello")])
    do_import(office, [incoming("submission", s.case_id, env, "rec")])
    login(client)
    headers = {"Accept-Language": lang}
    for url in (
        "/cases",
        "/cases?status=new&sort=status&overdue=1",
        f"/cases/{s.case_id}",
        f"/cases/{s.case_id}/records/rec/files/0",
        "/account/password",
    ):
        response = client.get(url, headers=headers)
        assert response.status_code == 200, url
        assert f'lang="{lang}"' in response.get_data(as_text=True)


def test_language_switch_sets_a_cookie(client) -> None:
    response = client.post("/language", data={"language": "es", "next": "/login"})
    assert response.status_code == 303
    assert 'lang="es"' in client.get("/login").get_data(as_text=True)


def test_plaintext_cache_emptied_when_the_last_session_locks(office, client, app, clock) -> None:
    s, env = make_submission(office, subject="cached subject")
    do_import(office, [incoming("submission", s.case_id, env)])
    login(client)
    assert "cached subject" in client.get("/cases").get_data(as_text=True)
    keystore = app.extensions["whistle_inbox"].keystore
    assert keystore.plaintext_cache
    clock.advance(minutes=11)
    assert len(keystore) == 0
    assert keystore.plaintext_cache == {}


def test_the_key_store_forgets_plaintext_when_a_purge_commits(office, client, app) -> None:
    """Whoever purges (a page, a scheduled deletion), the cache's owner empties it on commit;
    a purge that rolls back leaves it."""
    kept, kept_env = make_submission(office, subject="kept subject")
    gone, gone_env = make_submission(office, subject="purged subject")
    do_import(
        office,
        [incoming("submission", s.case_id, e) for s, e in ((kept, kept_env), (gone, gone_env))],
    )
    login(client)
    assert "purged subject" in client.get("/cases").get_data(as_text=True)
    inbox = app.extensions["whistle_inbox"]
    signed = office.sign_in()

    def purge(session) -> None:  # type: ignore[no-untyped-def]
        workflow.purge_case(
            session,
            signed.keyring,
            gone.case_id,
            confirm=True,
            reason="Spam, obviously.",
            officer_id=signed.officer_id,
            now=office.config.clock(),
            today=office.config.today(),
            store_dir=office.config.store_dir,
        )

    def purge_then_fail() -> None:
        with db.transaction(inbox.sessions) as session:
            purge(session)
            raise RuntimeError("the transaction fails after the purge")

    with pytest.raises(RuntimeError):
        purge_then_fail()
    assert inbox.keystore.plaintext_cache
    with db.transaction(inbox.sessions) as session:
        purge(session)
    assert inbox.keystore.plaintext_cache == {}
    assert "purged subject" not in client.get("/cases").get_data(as_text=True)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1.evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_cross_site_sign_in_refused(client, headers) -> None:
    response = client.post("/login", data={"name": "admin", "password": PASSWORD}, headers=headers)
    assert response.status_code == 403
    assert client.get_cookie(COOKIE) is None


def test_same_origin_sign_in_accepted(client) -> None:
    headers = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    response = client.post("/login", data={"name": "admin", "password": PASSWORD}, headers=headers)
    assert response.status_code == 303
    # With "no-referrer" browsers send "Origin: null" on our own posts: keep "same-origin".
    assert client.get("/login").headers["Referrer-Policy"] == "same-origin"
