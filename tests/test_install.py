"""A plain (not editable) `pip install .`: the documented commands, anywhere.

The package is installed into a fresh virtualenv from a copy of the sources
and run from another directory, with PYTHONPATH empty, so nothing of the
checkout can be imported: the configs must come from inside the wheel.
"""

import importlib.metadata
import os
import shutil
import site
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
pytestmark = pytest.mark.slow

# What a wheel is built from (tests/, colab/ and .git are not needed).
_SOURCES = ("jaxssl", "configs", "pyproject.toml", "README.md")


def _run(cmd, cwd, env, timeout=300):
  proc = subprocess.run(
    cmd,
    cwd=cwd,
    env=env,
    capture_output=True,
    text=True,
    timeout=timeout,
    check=False,
  )
  assert proc.returncode == 0, (
    f"{cmd} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
  )
  return proc


def test_pyproject_lists_every_package():
  """pyproject.toml lists packages by hand (configs/ is mapped): all of them."""
  import tomllib  # pylint: disable=g-import-not-at-top

  with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
    listed = set(tomllib.load(f)["tool"]["setuptools"]["packages"])
  found = {"jaxssl._configs"}
  for dirpath, _, files in os.walk(os.path.join(ROOT, "jaxssl")):
    if "__init__.py" in files:
      rel = os.path.relpath(dirpath, ROOT)
      found.add(rel.replace(os.sep, "."))
  assert listed == found


def _new_setuptools() -> bool:
  """Whether this environment's setuptools builds pyproject.toml (>= 77)."""
  try:
    major = importlib.metadata.version("setuptools").split(".")[0]
  except importlib.metadata.PackageNotFoundError:
    return False
  return int(major) >= 77


def test_pip_install_then_commands_from_another_directory(tmp_path):
  src = tmp_path / "src"
  src.mkdir()
  for name in _SOURCES:
    path = os.path.join(ROOT, name)
    if os.path.isdir(path):
      shutil.copytree(
        path, src / name, ignore=shutil.ignore_patterns("__pycache__")
      )
    else:
      shutil.copy(path, src / name)
  venv = tmp_path / "venv"
  env = dict(os.environ, PYTHONPATH="", PIP_DISABLE_PIP_VERSION_CHECK="1")
  # --system-site-packages and, for a test run from a venv itself (.ci/run),
  # that venv's site-packages: jax, tensorflow & co. are not re-installed.
  _run(
    [sys.executable, "-m", "venv", "--system-site-packages", str(venv)],
    tmp_path,
    env,
  )
  python = str(venv / "bin" / "python")
  purelib = _run(
    [python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
    tmp_path,
    env,
  ).stdout.strip()
  with open(os.path.join(purelib, "_jaxssl_test_env.pth"), "w") as f:
    f.write("\n".join(site.getsitepackages()) + "\n")
  install = [python, "-m", "pip", "install", "-q", "--no-deps", str(src)]
  if _new_setuptools():
    # The build backend of pyproject.toml is here: no download for it.
    install.insert(-1, "--no-build-isolation")
  _run(install, tmp_path, env)

  where = tmp_path / "elsewhere"
  where.mkdir()
  imported = _run(
    [python, "-c", "import jaxssl; print(jaxssl.__file__)"], where, env
  ).stdout.strip()
  assert imported.startswith(str(venv)), imported

  zoo_help = _run([python, "-m", "jaxssl.zoo", "--help"], where, env).stdout
  assert "--configs_dir" in zoo_help

  env = dict(env, XLA_FLAGS="--xla_force_host_platform_device_count=2")
  bench = _run(
    [python, "-m", "jaxssl.bench", "--config", "quickstart:smoke"]
    + ["--compile_only"],
    where,
    env,
  ).stdout
  assert '"config": "simclr/tiny_resnet/embedded_digits"' in bench

  work = tmp_path / "work"
  _run(
    [python, "-m", "jaxssl.main", "--config", "quickstart.py:smoke"]
    + ["--workdir", str(work)],
    where,
    env,
  )
  assert (work / "metrics.jsonl").is_file()
