r"""Train a self-supervised model: `python -m jaxssl.main --config ...`.

Examples:
  python -m jaxssl.main --config configs/quickstart.py --workdir /tmp/quick
  python -m jaxssl.main --config configs/quickstart.py:smoke \
      --config.train.total_steps=10 --workdir /tmp/smoke
  XLA_FLAGS=--xla_force_host_platform_device_count=8 python -m jaxssl.main \
      --config configs/quickstart.py:smoke --config.mesh.data=8 \
      --workdir /tmp/s8

A config shipped with jaxssl can be named from any directory, even after a
plain `pip install .`: `--config quickstart.py:smoke` (or `quickstart:smoke`)
means `configs/quickstart.py:smoke`.

Re-running with the same --workdir resumes from its last checkpoint.
Multi-host: pass --coordinator_address, --num_processes and --process_id
(or rely on the cluster's environment) to call jax.distributed.initialize.
When a process is lost, the others exit with one `jaxssl: error: lost
process ...` line within --heartbeat_timeout_s (jaxssl.train.distributed);
re-run every process to resume.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# oneDNN only matters for TF math we do not use (tf.data augmentation is
# light); turning it off also silences its start-up banner.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

from absl import (
  app,
  flags,
  logging,
)
from ml_collections import config_flags

from jaxssl import config_paths

_CONFIG = config_flags.DEFINE_config_file(
  "config",
  None,
  "Config file, optionally with an argument: configs/x.py[:arg]; a config "
  "shipped with jaxssl can be named from any directory (quickstart:smoke). "
  "Override keys with --config.section.key=value.",
  lock_config=True,
)
_WORKDIR = flags.DEFINE_string(
  "workdir",
  None,
  "Directory for checkpoints, metrics.jsonl and TensorBoard "
  "events; an existing run there is resumed.",
)
_COORDINATOR = flags.DEFINE_string(
  "coordinator_address", None, "host:port of process 0 (multi-host only)."
)
_NUM_PROCESSES = flags.DEFINE_integer(
  "num_processes", None, "Number of processes (multi-host only)."
)
_PROCESS_ID = flags.DEFINE_integer(
  "process_id", None, "This process's index (multi-host only)."
)
_HEARTBEAT_TIMEOUT = flags.DEFINE_integer(
  "heartbeat_timeout_s",
  100,
  "Multi-host: seconds without a heartbeat from a process before the "
  "others exit with an error naming it (JAX's own timeout: 3x this + 10).",
)
_INIT_TIMEOUT = flags.DEFINE_integer(
  "init_timeout_s",
  300,
  "Multi-host: seconds to wait for every process to connect at start-up.",
)
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if not flags.FLAGS["verbosity"].present:
    # Library INFO logs (Orbax's in particular) drown the progress bar.
    logging.set_verbosity(logging.WARNING)
  import jax  # pylint: disable=g-import-not-at-top

  from jaxssl.train import distributed  # pylint: disable=g-import-not-at-top

  if _COORDINATOR.value or _NUM_PROCESSES.value:
    try:
      distributed.initialize(
        _COORDINATOR.value,
        _NUM_PROCESSES.value,
        _PROCESS_ID.value,
        heartbeat_timeout_s=_HEARTBEAT_TIMEOUT.value,
        init_timeout_s=_INIT_TIMEOUT.value,
        hint="Re-run every process with the same command: the run resumes "
        f"from the last complete checkpoint in {_WORKDIR.value}.",
      )
    except ValueError as e:
      sys.exit(f"jaxssl: error: {e}")
  from jaxssl import train  # pylint: disable=g-import-not-at-top

  try:
    # A collective that failed because another process is gone ends here
    # with one line naming that process.
    with distributed.reporting_lost_processes():
      train.run(_CONFIG.value, _WORKDIR.value)
  except (ValueError, OSError, FloatingPointError) as e:
    # Configuration, data, disk and divergence errors are the user's to
    # fix: one line, no trace (jaxssl.train names the file or key).
    if os.environ.get("JAXSSL_TRACEBACK"):
      raise
    sys.exit(f"jaxssl: error: {e}\n(set JAXSSL_TRACEBACK=1 for the traceback)")
  except jax.errors.JaxRuntimeError as e:
    if "RESOURCE_EXHAUSTED" not in str(e) or os.environ.get("JAXSSL_TRACEBACK"):
      raise
    sys.exit("jaxssl: error: " + out_of_memory_message(_CONFIG.value, e))


def out_of_memory_message(config, error: Exception) -> str:
  """One line for an XLA out-of-memory error, naming the keys that size it."""
  from jaxssl.data import kinds  # pylint: disable=g-import-not-at-top

  first = str(error).strip().splitlines()[0]
  sizes = kinds.get(config.data.kind).size_hint(config)
  return (
    f"out of memory in the train step ({first}). Lower "
    f"config.train.batch_size={config.train.batch_size} or {sizes}, or use "
    f"a smaller config.model.name={config.model.name!r}; checkpoints "
    "already in the workdir are kept.\n(set JAXSSL_TRACEBACK=1 for the "
    "traceback)"
  )


def _resolve_config_arg(argv: list[str]) -> tuple[list[str], str | None]:
  """argv with its --config value resolved, and that value (None if absent).

  `--config=x` and `--config x` both count. The value becomes the file it
  means (`config_paths.resolve`: an existing file as it is, a shipped config
  by name from any directory) before absl parses the flags, because
  `config_flags.DEFINE_config_file` opens the path itself.

  Raises:
    FileNotFoundError: the value is neither a file nor a shipped config.
  """
  argv = list(argv)
  for i, arg in enumerate(argv):
    if arg.startswith("--config="):
      value = config_paths.resolve(arg.split("=", 1)[1])
      argv[i] = f"--config={value}"
      return argv, value
    if arg == "--config" and i + 1 < len(argv):
      argv[i + 1] = value = config_paths.resolve(argv[i + 1])
      return argv, value
  return argv, None


def _bad_override(argv, config) -> str:
  """The first `--config.a.b=v` whose key is not in `config`."""
  for arg in argv[1:]:
    if not arg.startswith("--config."):
      continue
    path = arg[len("--config.") :].split("=", 1)[0]
    node = config
    for part in path.split("."):
      if not hasattr(node, "keys") or part not in node:
        return path
      node = node[part]
  return ""


def parse_flags(argv):
  """absl flag parsing, with one-line errors for bad config files and keys."""
  from jaxssl import configs_lib  # pylint: disable=g-import-not-at-top

  try:
    argv, path = _resolve_config_arg(argv)
  except FileNotFoundError as e:
    sys.exit(f"jaxssl: error: {e}")
  try:
    return flags.FLAGS(argv)
  except flags.Error as e:
    sys.exit(f"jaxssl: error: {e}\nPass --helpfull to see the flags.")
  except (AttributeError, KeyError, TypeError, ValueError) as e:
    bad = ""
    if path is not None:
      try:
        bad = _bad_override(argv, configs_lib.load(path))
      except Exception:  # pylint: disable=broad-except
        pass
    if bad:
      sys.exit(
        f"jaxssl: error: unknown config key {bad!r} "
        f"(in --config.{bad}); every key and its default is in "
        "jaxssl/configs_lib.py:base_config()"
      )
    sys.exit(f"jaxssl: error: bad flag or config: {e}")


if __name__ == "__main__":
  app.run(main, flags_parser=parse_flags)
