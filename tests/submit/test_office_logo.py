"""The office's logo: configured by the operator, served by the site itself, checked at start."""

import re
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from tests.submit.test_page_weight import LIMIT, _weigh
from whistle.submit import create_app, load_config
from whistle.submit.config import MAX_LOGO_BYTES, ConfigError

SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40">'
    b'<rect width="40" height="40" fill="#0b4f9c"/></svg>'
)


def _configure(data_dir: Path, name: str, data: bytes) -> None:
    (data_dir / name).write_bytes(data)
    config = data_dir / "config.toml"
    config.write_text(f'office_logo = "{name}"\n' + config.read_text(encoding="utf-8"))


def test_the_logo_is_served_from_the_site_and_replaces_the_favicon(data_dir: Path) -> None:
    _configure(data_dir, "logo.svg", SVG)
    app = create_app(load_config(data_dir))
    client: FlaskClient = app.test_client()
    try:
        page = client.get("/").text
        assert '<link rel="icon" href="/office-logo">' in page
        assert re.search(r'<img class="logo" src="/office-logo" alt=""', page)
        # Nothing from elsewhere: every src and href on the page is on this site.
        assert not re.search(r'(?:src|href)="(?:https?:)?//', page)
        logo = client.get("/office-logo")
        assert logo.status_code == 200
        assert logo.data == SVG
        assert logo.mimetype == "image/svg+xml"
        assert logo.headers["Cache-Control"] == "public, max-age=86400"
        assert logo.headers["Content-Security-Policy"].startswith("default-src 'none'")
    finally:
        app.extensions["whistle_submit"].engine.dispose()


def test_with_a_logo_every_page_still_costs_three_requests(data_dir: Path) -> None:
    _configure(data_dir, "logo.svg", SVG)
    app = create_app(load_config(data_dir))
    client: FlaskClient = app.test_client()
    try:
        for url in ("/", "/report", "/check-in", "/channels", "/about", "/nowhere"):
            size, requests = _weigh(client, client.get(url).text)
            assert requests == 3, url
            assert size <= LIMIT, url
    finally:
        app.extensions["whistle_submit"].engine.dispose()


@pytest.mark.parametrize(
    ("name", "data", "why"),
    [
        ("logo.png", b"GIF89a", "not a PNG"),
        ("logo.svg", b"<svg><script>alert(1)</script></svg>", "a script"),
        ("logo.gif", b"GIF89a", ".png or .svg"),
        ("logo.svg", b"<svg>" + b" " * MAX_LOGO_BYTES + b"</svg>", "at most"),
        ("../logo.svg", SVG, ".png or .svg file in the data directory"),
    ],
)
def test_a_bad_logo_stops_the_start_with_one_clear_line(
    data_dir: Path, name: str, data: bytes, why: str
) -> None:
    target = data_dir / "sub" if name.startswith("..") else data_dir
    target.mkdir(exist_ok=True)
    (target / Path(name).name).write_bytes(data)
    config = data_dir / "config.toml"
    config.write_text(f'office_logo = "{name}"\n' + config.read_text(encoding="utf-8"))
    with pytest.raises(ConfigError, match=re.escape(why)):
        load_config(data_dir)
