"""The server's bundle settings: defaults written at init, bad values refused with one line."""

from pathlib import Path

import pytest

from whistle.submit import load_config
from whistle.submit.config import ConfigError

from .conftest import World


def _set(server_dir: Path, old: str, new: str) -> None:
    path = server_dir / "config.toml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_defaults_and_keys_are_loaded(world: World) -> None:
    config = load_config(world.server_dir)
    assert config.courier_enabled is False
    assert (config.reply_days_after_read, config.reply_max_age_days) == (14, 90)
    assert len(config.signing_seed) == 32
    assert len(config.bundle_secret) == 32
    assert len(config.install_id) == 32
    assert "secret" not in repr(config)


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("courier_enabled = false", 'courier_enabled = "yes"', "courier_enabled"),
        ("reply_days_after_read = 14", "reply_days_after_read = 0", "reply_days_after_read"),
        ("reply_max_age_days = 90", "reply_max_age_days = true", "reply_max_age_days"),
    ],
)
def test_bad_values_are_one_clear_line(world: World, old: str, new: str, words: str) -> None:
    _set(world.server_dir, old, new)
    with pytest.raises(ConfigError, match=words):
        load_config(world.server_dir)
