r"""Train a self-supervised model: `python -m jaxssl.main --config ... --workdir ...`.

Examples:
  python -m jaxssl.main --config configs/quickstart.py --workdir /tmp/quick
  python -m jaxssl.main --config configs/quickstart.py:smoke \
      --config.train.total_steps=10 --workdir /tmp/smoke
  XLA_FLAGS=--xla_force_host_platform_device_count=8 python -m jaxssl.main \
      --config configs/quickstart.py:smoke --config.mesh.data=8 --workdir /tmp/s8

Re-running with the same --workdir resumes from its last checkpoint.
Multi-host: pass --coordinator_address, --num_processes and --process_id
(or rely on the cluster's environment) to call jax.distributed.initialize.
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from absl import app  # noqa: E402
from absl import flags  # noqa: E402
from absl import logging  # noqa: E402
from ml_collections import config_flags  # noqa: E402

_CONFIG = config_flags.DEFINE_config_file(
    "config", None, "Config file, optionally with an argument: "
    "configs/x.py[:arg]. Override keys with --config.section.key=value.",
    lock_config=True)
_WORKDIR = flags.DEFINE_string(
    "workdir", None, "Directory for checkpoints, metrics.jsonl and TensorBoard "
    "events; an existing run there is resumed.")
_COORDINATOR = flags.DEFINE_string(
    "coordinator_address", None, "host:port of process 0 (multi-host only).")
_NUM_PROCESSES = flags.DEFINE_integer(
    "num_processes", None, "Number of processes (multi-host only).")
_PROCESS_ID = flags.DEFINE_integer(
    "process_id", None, "This process's index (multi-host only).")
flags.mark_flags_as_required(["config", "workdir"])


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f"unexpected arguments: {argv[1:]}")
  if not flags.FLAGS["verbosity"].present:
    # Library INFO logs (Orbax's in particular) drown the progress bar.
    logging.set_verbosity(logging.WARNING)
  import jax  # pylint: disable=g-import-not-at-top
  if _COORDINATOR.value or _NUM_PROCESSES.value:
    jax.distributed.initialize(_COORDINATOR.value, _NUM_PROCESSES.value,
                               _PROCESS_ID.value)
  from jaxssl import train  # pylint: disable=g-import-not-at-top
  try:
    train.run(_CONFIG.value, _WORKDIR.value)
  except (ValueError, FileNotFoundError, FloatingPointError) as e:
    # Configuration and data errors are the user's to fix: one line, no trace.
    if os.environ.get("JAXSSL_TRACEBACK"):
      raise
    sys.exit(f"jaxssl: error: {e}\n(set JAXSSL_TRACEBACK=1 for the traceback)")


if __name__ == "__main__":
  app.run(main)
