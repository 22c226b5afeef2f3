"""The officer guide inside the inbox: rendered safely, sections linkable, in the officer's
language or in English with a notice."""

from whistle.inbox import officer_guide

from .test_web import app, client  # noqa: F401 - fixtures


def test_raw_html_and_script_links_stay_text() -> None:
    shown = officer_guide.render(
        "# Guide\n\n## Two <b>words</b> {#two}\n\n<script>alert(1)</script>\n\n"
        "[click](javascript:alert(1)) and [ok](#two)\n",
        "en",
    )
    assert "<script>" not in shown.html
    assert "&lt;script&gt;" in shown.html
    assert 'href="javascript' not in shown.html
    assert '<a href="#two">ok</a>' in shown.html
    assert '<h2 id="two">Two &lt;b&gt;words&lt;/b&gt;</h2>' in shown.html
    assert shown.sections == (("two", "Two <b>words</b>"),)


def test_the_english_guide_has_the_sections_the_interface_links_to() -> None:
    sections = dict(officer_guide.guide("en").sections)
    assert "officers-joining-and-leaving" in sections
    assert "rotating-keys" in sections
    assert "the-daily-routine" in sections


def test_the_guide_is_served_offline_and_says_when_it_is_not_translated(client) -> None:  # noqa: F811
    page = client.get("/help").get_data(as_text=True)  # no sign-in needed: no case data
    assert 'id="rotating-keys"' in page
    assert "has not been translated" not in page
    client.set_cookie("whistle_lang", "ca")
    catalan = client.get("/help").get_data(as_text=True)
    translated = (officer_guide.GUIDES / "officer-guide.ca.md").is_file()
    assert ("ha estat traduïda" in catalan or "has not been translated" in catalan) != translated
    login = client.get("/login").get_data(as_text=True)
    assert "/help#officers-joining-and-leaving" in login
