import logging
from pathlib import Path

from genmcp.server.logs import RedactingFormatter
from genmcp.server.settings import Settings


def test_formatter_redacts_configured_secrets_and_key_shapes() -> None:
    formatter = RedactingFormatter(["canary-secret-123"], "%(message)s")
    record = logging.LogRecord(
        "x",
        logging.INFO,
        __file__,
        1,
        "key=%s other=%s hdr X-API-KEY: abc",
        ("canary-secret-123", "sk-gamma-zzzzzz"),
        None,
    )
    text = formatter.format(record)
    assert "canary-secret-123" not in text
    assert "sk-gamma-zzzzzz" not in text
    assert "abc" not in text


def test_settings_from_env_register_only_configured_providers(tmp_path: Path) -> None:
    settings = Settings.from_env({"GAMMA_API_KEY": "sk-gamma-1", "GENMCP_DATA_DIR": str(tmp_path)})
    assert settings.configured == ["gamma"]
    assert settings.gamma is not None and settings.gamma.base_url.startswith("https://")
    assert "sk-gamma-1" not in repr(settings)
    assert settings.store_path == tmp_path / "jobs.sqlite3"


def test_sandbox_keeps_its_own_data_dir_and_ignores_real_keys(tmp_path: Path) -> None:
    settings = Settings.from_env({"GAMMA_API_KEY": "sk-gamma-1", "GENMCP_DATA_DIR": str(tmp_path)}, sandbox=True)
    assert settings.configured == []
    assert settings.data_dir == tmp_path / "sandbox"


def test_wait_seconds_is_capped_below_client_timeouts(tmp_path: Path) -> None:
    settings = Settings.from_env({"GENMCP_WAIT_SECONDS": "500", "GENMCP_DATA_DIR": str(tmp_path)})
    assert settings.wait_seconds == 50
