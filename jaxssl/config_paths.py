"""Where a `--config` value points: a file, or a config shipped with jaxssl.

The repository's `configs/` folder is installed with the package (pyproject.toml
maps it to `jaxssl/_configs`), so every documented command works after a
plain `pip install .`, from any directory. A value that is an existing file
is used as it is; one that is not, but names a shipped config, resolves to
the shipped copy:

  quickstart   quickstart.py   configs/quickstart.py   (each with ":arg")

`jaxssl.main`, `jaxssl.bench`, `jaxssl.zoo` and `configs_lib.load` resolve
through `resolve`. Only the standard library is imported here: `jaxssl.main`
resolves before absl parses its flags.
"""

from __future__ import annotations

import os

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def shipped_dir() -> str:
  """The folder of the shipped configs.

  `jaxssl/_configs` in an installed wheel; `configs/` beside the package in a
  source checkout (an editable install, or the package on PYTHONPATH).
  """
  installed = os.path.join(_PACKAGE_DIR, "_configs")
  if os.path.isdir(installed):
    return installed
  return os.path.join(os.path.dirname(_PACKAGE_DIR), "configs")


def shipped_names() -> list[str]:
  """The shipped configs' names (file names without `.py`), sorted."""
  folder = shipped_dir()
  if not os.path.isdir(folder):
    return []
  return sorted(
    name[: -len(".py")]
    for name in os.listdir(folder)
    if name.endswith(".py") and not name.startswith("_")
  )


def split(value: str) -> tuple[str, str]:
  """`path.py:arg` -> ("path.py", ":arg"); a value without an arg -> (v, "").

  The arg is what follows the last ":" of the file name, as in
  `configs_lib.load` (a ":" in a folder name is not an arg).
  """
  if ":" in os.path.basename(value):
    file, _, arg = value.rpartition(":")
    return file, ":" + arg
  return value, ""


def shipped_file(file: str) -> str | None:
  """The shipped copy that `file` names (see the module doc), else None."""
  folder, name = os.path.split(os.path.normpath(file))
  if folder not in ("", "configs") or not name or name.startswith("."):
    return None
  if not name.endswith(".py"):
    name += ".py"
  path = os.path.join(shipped_dir(), name)
  return path if os.path.isfile(path) else None


def not_found_message(file: str) -> str:
  """One line: `file` is missing, and which shipped configs can be named."""
  names = shipped_names()
  if not names:
    return f"config file not found: {file}"
  return (
    f"config file not found: {file} (a config shipped with jaxssl can be "
    f"named from any directory, e.g. quickstart.py:smoke; shipped: "
    f"{', '.join(names)})"
  )


def resolve(value: str) -> str:
  """The config file (with its `:arg`) that a `--config` value means.

  Args:
    value: `path.py`, `path.py:arg`, or a shipped config's name in one of
      the forms of the module doc.

  Returns:
    `value` itself when its file exists (as before configs were shipped),
    else the shipped copy's path with the same `:arg`.

  Raises:
    FileNotFoundError: neither; the one-line message names the file and
      lists the shipped configs.
  """
  file, arg = split(value)
  if os.path.isfile(file):
    return value
  shipped = shipped_file(file)
  if shipped is None:
    raise FileNotFoundError(not_found_message(file))
  return shipped + arg
