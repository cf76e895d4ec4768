"""Settings are validated at start; secrets are references and never printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.config import load_settings, masked
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "orderbot.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_config_is_valid_and_paths_are_relative_to_it():
    settings = load_settings(ROOT / "config" / "orderbot.yaml", environ={})
    assert settings.master_data.path.resolve() == (ROOT / "demo" / "masterdata").resolve()
    assert settings.sources[0].path.resolve() == (ROOT / "demo" / "inbox").resolve()
    assert settings.store_url.startswith("sqlite:///")


def test_unknown_key_names_file_and_key(tmp_path: Path):
    path = write(tmp_path, "store:\n  ulr: sqlite:///x.db\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    assert str(path) in str(caught.value) and "store.ulr" in str(caught.value)


def test_bad_yaml_names_the_line(tmp_path: Path):
    path = write(tmp_path, "sources:\n  - type: folder\n   name: x\n")
    with pytest.raises(ConfigError, match=r"line \d+: not valid YAML"):
        load_settings(path, environ={})


def test_wrong_type_is_reported(tmp_path: Path):
    path = write(tmp_path, "max_message_bytes: lots\n")
    with pytest.raises(ConfigError, match="max_message_bytes"):
        load_settings(path, environ={})


def test_secret_from_env_is_used_but_masked(tmp_path: Path):
    path = write(tmp_path, 'store:\n  url: {"$env": DB_URL}\n')
    canary = "postgresql+psycopg://bot:canary-Secret-42@db.invalid/orders"
    settings = load_settings(path, environ={"DB_URL": canary})
    assert settings.store_url == canary
    shown = json.dumps(masked(settings), default=str)
    assert "canary-Secret-42" not in shown and "**" in shown
    assert "canary-Secret-42" not in repr(settings)


def test_secret_from_file(tmp_path: Path):
    (tmp_path / "db.secret").write_text("sqlite:///from-file.db\n", encoding="utf-8")
    path = write(tmp_path, 'store:\n  url: {"$file": db.secret}\n')
    assert load_settings(path, environ={}).store_url == "sqlite:///from-file.db"


def test_missing_secret_stops_with_the_variable_named(tmp_path: Path):
    path = write(tmp_path, 'store:\n  url: {"$env": NOT_SET_ANYWHERE}\n')
    with pytest.raises(ConfigError, match="NOT_SET_ANYWHERE is not set"):
        load_settings(path, environ={})


def test_environment_overrides_the_file(tmp_path: Path):
    path = write(tmp_path, "max_message_bytes: 1000\n")
    settings = load_settings(path, environ={"ORDERBOT_MAX_MESSAGE_BYTES": "2000", "ORDERBOT_STORE__URL": "sqlite:///env.db"})
    assert settings.max_message_bytes == 2000
    assert settings.store_url == "sqlite:///env.db"


def test_duplicate_source_names_are_refused(tmp_path: Path):
    path = write(tmp_path, "sources:\n  - {type: folder, name: a, path: x}\n  - {type: folder, name: a, path: y}\n")
    with pytest.raises(ConfigError, match="repeated: a"):
        load_settings(path, environ={})


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("executor: celery\nstore: {url: postgresql+psycopg://o@db/o}\n", "needs celery.broker_url"),
        ("executor: celery\ncelery: {broker_url: redis://127.0.0.1:6379/0}\n", "needs store.url on PostgreSQL"),
        ("executor: threads\n", "executor"),
    ],
)
def test_the_celery_executor_needs_a_broker_and_a_shared_store(tmp_path: Path, text: str, problem: str):
    with pytest.raises(ConfigError, match=problem):
        load_settings(write(tmp_path, text), environ={})
