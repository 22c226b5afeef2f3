"""A real browser (Chromium, JavaScript off, Spanish) removes a desk through its
confirmation box: refused while its case stays behind, done once the case moves with it."""

import pytest
from playwright.sync_api import sync_playwright
from sqlalchemy import select

from whistle.inbox.models import Case

from .conftest import PASSWORD, do_import, incoming, make_submission
from .test_browser_officers import CHROMIUM, served  # noqa: F401 - fixture

pytestmark = pytest.mark.slow


def test_a_desk_is_removed_without_javascript(served, office) -> None:  # noqa: F811
    source, envelope = make_submission(office, desk="ethics")
    do_import(office, [incoming("submission", source.case_id, envelope)])
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--no-first-run"],
        )
        page = browser.new_context(java_script_enabled=False, locale="es-ES").new_page()
        page.goto(f"{served}/login")
        page.fill("#name", "admin")
        page.fill("#password", PASSWORD)
        page.click("main button[type=submit]")
        page.goto(f"{served}/desks")
        page.click("summary:has-text('Suprimir Ethics desk')")
        page.check("#confirm-ethics")
        page.click("form[action$='/desks/remove']:has(#confirm-ethics) button")
        assert "Esta unidad tiene 1 caso (1 abierto)" in page.inner_text("main")
        page.click("summary:has-text('Suprimir Ethics desk')")
        page.select_option("#successor-ethics", "antifraud")
        page.check("#move-ethics")
        page.check("#confirm-ethics")
        page.click("form[action$='/desks/remove']:has(#confirm-ethics) button")
        assert "Se ha suprimido la unidad" in page.inner_text("main")
        browser.close()
    with office.session() as session:
        assert session.scalar(select(Case.desk_id).where(Case.id == source.case_id)) == "antifraud"
