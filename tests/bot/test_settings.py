"""Settings: bad values stop start-up with one line naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.settings import SettingsError, load_settings


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("BRIEFBOT_BRIEFING__TIMEZONE", "Mars/Base", "unknown timezone 'Mars/Base'"),
        ("BRIEFBOT_RETRIEVAL__TOP_K", "many", "valid integer"),
        ("BRIEFBOT_SLACK__BOT_TOKEN", "paste-here", "starting with xoxb-"),
        ("BRIEFBOT_INGEST__COMMIT_EVERY", "0", "greater than or equal to 1"),
    ],
)
def test_an_invalid_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as info:
        load_settings()
    message = str(info.value)
    assert message.startswith(f"invalid setting {variable}:") and says in message
    assert "\n" not in message and "paste-here" not in message


def test_the_defaults_are_valid() -> None:
    settings = load_settings(_env_file=None)
    assert settings.briefing.timezone == "UTC" and settings.ingest.commit_every == 256


def test_an_env_file_that_is_not_utf8_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / ".env").write_bytes(b"BRIEFBOT_ADMINS=caf\xe9\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SettingsError, match=r"^\.env is not UTF-8 text; save it as UTF-8$"):
        load_settings()
