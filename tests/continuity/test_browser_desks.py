"""A real browser on the Desks page and a case page with its stepping-aside section: they
work with JavaScript off (a member is added, the officer steps aside), and axe-core finds no
WCAG 2.1 A/AA violation on either, in ca, es and en."""

from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from .conftest import PASSWORD, Populated
from .test_browser import AXE, CHROMIUM, _axe, served  # noqa: F401 - fixture

pytestmark = pytest.mark.slow


def test_desks_and_stepping_aside_in_a_browser(served: str, populated: Populated) -> None:  # noqa: F811
    axe = AXE.read_text(encoding="utf-8")
    case_id = populated.case_ids[0]
    found: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-background-networking", "--no-first-run"],
        )
        plain = browser.new_context(java_script_enabled=False, locale="ca-ES")
        page = plain.new_page()
        page.goto(f"{served}/login")
        page.fill("#name", "admin")
        page.fill("#password", PASSWORD)
        page.click("main button[type=submit]")
        audited = browser.new_context(bypass_csp=True)
        audited.add_cookies(plain.cookies())
        checked = audited.new_page()
        for lang in ("ca", "es", "en"):
            checked.context.add_cookies([{"name": "whistle_lang", "value": lang, "url": served}])
            checked.goto(f"{served}/desks")
            found[f"{lang}-desks"] = _axe(checked, axe)
            checked.goto(f"{served}/cases/{case_id}")
            found[f"{lang}-case"] = _axe(checked, axe)
        audited.close()
        # JavaScript off: the forms post as a browser sends them.
        page.goto(f"{served}/cases/{case_id}")
        page.click("details:has(#conflict) > summary")  # a group of the side panel, closed
        page.fill("#conflict", "Conec la persona denunciada.")
        page.click("form[action$='/step-aside'] button")
        assert page.url.endswith("/cases?done=stepped-aside")
        assert page.goto(f"{served}/cases/{case_id}").status == 404
        plain.close()
        browser.close()
    assert {name: v for name, v in found.items() if v} == {}
