"""`--config` values: an existing file as it is, or a shipped config by name."""

import os

import pytest

from jaxssl import config_paths, configs_lib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = os.path.join(ROOT, "configs", "quickstart.py")


def test_source_checkout_ships_the_repository_configs():
  assert config_paths.shipped_dir() == os.path.join(ROOT, "configs")
  names = config_paths.shipped_names()
  assert "quickstart" in names and "dino_quick" in names
  assert len(names) == len(
    [f for f in os.listdir(os.path.join(ROOT, "configs")) if f.endswith(".py")]
  )


@pytest.mark.parametrize(
  "value, expected",
  [
    ("quickstart", SHIPPED),
    ("quickstart.py", SHIPPED),
    ("configs/quickstart.py", SHIPPED),
    ("./configs/quickstart.py", SHIPPED),
    ("quickstart:smoke", SHIPPED + ":smoke"),
    ("quickstart.py:smoke", SHIPPED + ":smoke"),
    ("configs/quickstart.py:epochs=2,smoke", SHIPPED + ":epochs=2,smoke"),
  ],
)
def test_shipped_config_by_name_from_any_directory(
  value, expected, tmp_path, monkeypatch
):
  monkeypatch.chdir(tmp_path)
  assert config_paths.resolve(value) == expected


def test_existing_file_is_used_as_it_is(tmp_path, monkeypatch):
  # A configs/quickstart.py of the user's own shadows the shipped one.
  monkeypatch.chdir(tmp_path)
  (tmp_path / "configs").mkdir()
  (tmp_path / "configs" / "quickstart.py").write_text("")
  assert config_paths.resolve("configs/quickstart.py:smoke") == (
    "configs/quickstart.py:smoke"
  )
  assert config_paths.resolve(SHIPPED) == SHIPPED


@pytest.mark.parametrize(
  "value, file",
  [
    ("configs/missing.py:smoke", "configs/missing.py"),
    ("elsewhere/quickstart.py", "elsewhere/quickstart.py"),  # not a name
    ("/nowhere/quickstart.py", "/nowhere/quickstart.py"),
  ],
)
def test_missing_config_is_one_line_listing_the_shipped_ones(
  value, file, tmp_path, monkeypatch
):
  monkeypatch.chdir(tmp_path)
  with pytest.raises(FileNotFoundError) as info:
    config_paths.resolve(value)
  message = str(info.value)
  assert message.startswith(f"config file not found: {file} (")
  assert "\n" not in message
  # Every shipped name is listed (sorted; other configs sit between these).
  assert ", quickstart, " in message and ", simclr_cifar10, " in message


def test_load_takes_a_shipped_name(tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  config = configs_lib.load("quickstart", "smoke")
  assert config == configs_lib.load(SHIPPED, "smoke")
  assert configs_lib.load("quickstart.py:smoke") == config
  with pytest.raises(FileNotFoundError, match="not found: nope.py"):
    configs_lib.load("nope.py")
