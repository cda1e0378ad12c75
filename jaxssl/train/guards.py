"""What the loop does when a step goes non-finite or a write fails.

`check_finite` applies `config.train.nan_policy` to the metrics of the
steps run since the last check; `write_failure` turns an OSError (a full
disk, an unwritable workdir) into the one line the user sees.
"""

from __future__ import annotations

import errno
import math

import jax

from jaxssl.train import checkpoint as ckpt_lib

# OSErrors of a full or unwritable disk.
_FULL = (
  errno.ENOSPC,
  errno.EFBIG,
  errno.EDQUOT,
  errno.EROFS,
  errno.EACCES,
  errno.EPERM,
)

# A step is non-finite when one of these is (config.train.nan_policy).
FINITE_GATE = ("train/loss", "train/grad_norm", "train/param_norm")


def check_finite(pending, policy: str, checkpointer, log) -> None:
  """Checks the metrics of the steps since the last check, oldest first.

  Args:
    pending: `[(step, device metrics)]`, fetched in one transfer.
    policy: `config.train.nan_policy`; "skip" logs each skipped step.
    checkpointer: the run's `Checkpointer`; names the checkpoint kept.
    log: prints one line (the loop's console logger).

  Raises:
    FloatingPointError: policy "stop" and a step whose loss, gradient norm
      or updated parameter norm is not finite, naming the first such step
      and all its non-finite metrics.
  """
  for step, metrics in jax.device_get(pending):
    values = {k: float(v) for k, v in metrics.items()}
    if all(math.isfinite(values[k]) for k in FINITE_GATE):
      continue
    names = sorted(values, key=lambda k: (k != "train/loss", k))
    bad = ", ".join(
      f"{k}={values[k]}" for k in names if not math.isfinite(values[k])
    )
    if policy == "skip":
      log(f"step {step}: {bad}; update skipped (config.train.nan_policy)")
      continue
    last = checkpointer.latest_step()
    kept = (
      f"the checkpoint at step {last} in {checkpointer.directory} is kept"
      if last
      else "no checkpoint was written"
    )
    raise FloatingPointError(
      f"non-finite metrics at step {step}: {bad}. The run stopped without "
      f"saving that state ({kept}); lower config.optim.lr, set "
      "config.optim.clip_grad_norm, or set config.train.nan_policy='skip' "
      "to skip such steps"
    )


def write_failure(error: OSError, checkpointer) -> OSError:
  """`error` with the checkpoints still intact and what to do, in one line."""
  cure = "run the same command to resume"
  if isinstance(error, ckpt_lib.CheckpointWriteError) or error.errno in _FULL:
    cure = "free space (or make the workdir writable) and " + cure
  return OSError(
    f"{error}; the checkpoints at steps {checkpointer.steps_on_disk()} in "
    f"{checkpointer.directory} are intact: {cure}"
  )
