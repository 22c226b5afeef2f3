"""A person with JavaScript off, in a real browser (Chromium, JavaScript disabled), on gunicorn:
report with a file, write the code down, check in, read a reply, follow up."""

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.submit.conftest import Office, insert_reply
from whistle.submit import create_app, load_config

pytestmark = [pytest.mark.slow, pytest.mark.sqlite_only]
CHROMIUM = "/usr/lib/chromium/chromium"


@pytest.fixture
def page(served: tuple[int, subprocess.Popen[str]]) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        context = browser.new_context(java_script_enabled=False)
        yield context.new_page()
        context.close()
        browser.close()


def test_report_check_in_reply_follow_up_with_javascript_off(
    served: tuple[int, subprocess.Popen[str]],
    page,  # type: ignore[no-untyped-def]
    data_dir: Path,
    office: Office,
    tmp_path: Path,
) -> None:
    port, _ = served
    base = f"http://127.0.0.1:{port}"
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    page.goto(base + "/")
    page.get_by_role("link", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert len({u for u in requests if u.startswith(base)}) <= 4  # landing ×2 (switch), CSS, icon

    page.get_by_role("link", name="Make a report").first.click()
    page.get_by_label("Subject").fill("Split contracts")
    page.get_by_label("Description of the facts").fill("Three contracts under the threshold.")
    evidence = tmp_path / "evidence.txt"
    evidence.write_text("the minutes")
    page.get_by_label("Files (optional)").set_input_files(str(evidence))
    page.get_by_label("I accept the rules of use", exact=False).check()
    page.get_by_role("button", name="Send the report").click()
    code = page.locator("#code").inner_text().strip()
    assert len(code.replace(" ", "")) == 22

    page.get_by_label("I have written the code down").check()
    page.get_by_role("button", name="Done").click()
    assert page.get_by_role("heading", name="Thank you").is_visible()

    app = create_app(load_config(data_dir))
    insert_reply(app, code, office, "Received: we are looking into it.")
    app.extensions["whistle_submit"].engine.dispose()

    page.get_by_role("main").get_by_role("link", name="Check in").click()
    page.get_by_label("Your code").fill(code.lower().replace(" ", "-"))
    page.get_by_role("button", name="Check in").click()
    main = page.get_by_role("main")
    assert "Split contracts" in main.inner_text()
    assert "evidence.txt" in main.inner_text()
    assert "Received: we are looking into it." in main.inner_text()

    assert page.get_by_label("Your code, again").count() == 0  # once per visit
    page.get_by_label("Your message").fill("One more thing.")
    page.get_by_label("Files (optional)").set_input_files(str(evidence))
    page.get_by_role("button", name="Send the message").click()
    assert page.get_by_role("heading", name="Message sent").is_visible()

    page.get_by_role("main").get_by_role("link", name="Check in").click()
    page.get_by_label("Your code").fill(code)
    page.get_by_role("button", name="Check in").click()
    assert "One more thing." in page.get_by_role("main").inner_text()
    assert all(u.startswith(base) for u in requests), "a request left the site"
