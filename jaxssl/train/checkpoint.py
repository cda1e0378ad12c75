"""Orbax checkpoints: save every N steps, keep the last few, auto-resume.

Every checkpoint carries a fingerprint of its arrays (a hash per leaf, in
Orbax's step metadata). A restore checks it, so a checkpoint whose files
were truncated, deleted or overwritten with garbage is never trained on:
`restore_latest` falls back to the newest checkpoint that restores and
matches its fingerprint, and moves the bad ones aside.
"""

from __future__ import annotations

import errno
import json
import os
import re

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from absl import logging
from jax.experimental import multihost_utils

_FINGERPRINT = "jaxssl_fingerprint"
_STEP_METADATA = "_CHECKPOINT_METADATA"  # Orbax's per-step metadata file

_REGISTERED = False


def _no_replica_parallel_on_cpu() -> None:
  """Saves each replicated CPU array once, without slicing it per replica.

  Orbax's replica-parallel save splits every replicated array across its
  replicas so that many hosts write in parallel. Fake CPU devices share one
  host's memory, so there it only adds a compiled slice per array (~100
  compilations for a small ResNet on 8 devices). Accelerators keep the
  default.
  """
  global _REGISTERED
  if _REGISTERED or jax.default_backend() != "cpu":
    return
  level = logging.get_verbosity()
  logging.set_verbosity(logging.ERROR)  # Orbax warns about the override.
  try:
    ocp.type_handlers.register_type_handler(
      jax.Array,
      ocp.type_handlers.ArrayHandler(use_replica_parallel=False),
      override=True,
    )
  finally:
    logging.set_verbosity(level)
  _REGISTERED = True


class Checkpointer:
  """A thin wrapper over `ocp.CheckpointManager` for one TrainState.

  Saves are asynchronous; `close()` waits for the last one. Restores go into
  the abstract (shape + sharding) state, so arrays come back sharded.
  """

  def __init__(self, directory: str, *, every_steps: int, max_to_keep: int):
    self.directory = os.path.abspath(directory)
    _no_replica_parallel_on_cpu()
    options = ocp.CheckpointManagerOptions(
      max_to_keep=max_to_keep,
      save_interval_steps=max(every_steps, 1),
      enable_async_checkpointing=True,
      create=True,
      # A save cut short (a kill, a full disk) leaves a temporary
      # directory that never became a step: delete it on the next start.
      cleanup_tmp_directories=True,
    )
    self._manager = ocp.CheckpointManager(self.directory, options=options)
    self._every = every_steps
    self._saving = None  # the step of the last save started

  def steps_on_disk(self) -> list[int]:
    """The complete checkpoints' steps, read from the directory itself."""
    try:
      names = os.listdir(self.directory)
    except OSError:
      return []
    return sorted(int(n) for n in names if n.isdigit())

  def latest_step(self) -> int | None:
    return self._manager.latest_step()

  def all_steps(self) -> list[int]:
    """The saved steps, ascending."""
    return sorted(self._manager.all_steps())

  def restore(self, abstract_state, step: int | None = None):
    """Restores `step` (default: latest) into the abstract state's shardings.

    The restored arrays are checked against the fingerprint saved with them.

    Raises:
      CorruptCheckpointError: the checkpoint does not restore, or its arrays
        do not match its fingerprint.
      ValueError: the checkpoint holds a state of another shape (written
        by another config).
    """
    step = self.latest_step() if step is None else step
    saved = self._saved_fingerprint(step)
    if saved is not None:
      _check_layout(saved, abstract_state, step, self.directory)
    try:
      state = self._manager.restore(
        step, args=ocp.args.StandardRestore(abstract_state)
      )
    except Exception as e:  # pylint: disable=broad-except
      # Orbax and TensorStore raise many types for unreadable files.
      if saved is None:  # no layout to tell corruption from another config
        raise ValueError(
          f"the checkpoint at step {step} in {self.directory} (written "
          "without a fingerprint, by an older jaxssl) does not restore into "
          f"this config's state: {_first_line(e)}"
        ) from e
      raise CorruptCheckpointError(_first_line(e)) from e
    if saved is None:
      logging.info("checkpoint %d has no fingerprint: not verified", step)
      return state
    got = fingerprint(state)
    bad = [k for k, (*_, h) in saved.items() if got[k][2] != h]
    if bad:
      raise CorruptCheckpointError(
        f"its arrays do not match the fingerprint saved with them "
        f"({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''})"
      )
    return state

  def restore_latest(self, abstract_state):
    """The newest checkpoint that restores and verifies, and its step.

    A bad checkpoint newer than a good one is moved aside to
    `<directory>/<step>.corrupt` (so a later save of that step does not
    collide with it, and the next run does not retry it), with a warning
    naming it. When no checkpoint is readable, none is moved.

    Returns:
      `(state, step)`, or `(None, 0)` when the directory holds no
      checkpoint.

    Raises:
      ValueError: checkpoints exist but none is readable (naming the
        directory and each step's fault), or the newest readable one holds
        a state of another shape.
    """
    bad = []
    for step in sorted(self._manager.all_steps(), reverse=True):
      try:
        state = self.restore(abstract_state, step)
      except CorruptCheckpointError as e:
        bad.append((step, str(e)))
        continue
      for bad_step, why in bad:
        moved = self._set_aside(bad_step)
        logging.warning(
          "checkpoint at step %d in %s is unreadable (%s): moved it to %s "
          "and resumed from step %d",
          bad_step,
          self.directory,
          why,
          moved,
          step,
        )
      if bad:
        self._manager.reload()
      return state, step
    if bad:
      faults = "; ".join(f"step {s}: {why}" for s, why in bad)
      raise ValueError(
        f"no readable checkpoint in {self.directory} ({faults}); they are "
        "left in place: move them away to start again from step 0"
      )
    return None, 0

  def _saved_fingerprint(self, step: int) -> dict | None:
    """The fingerprint saved with `step`; None for a checkpoint without one.

    Raises:
      CorruptCheckpointError: the step's metadata file is missing or is not
        JSON (jaxssl always writes it).
    """
    path = os.path.join(self.directory, str(step), _STEP_METADATA)
    try:
      with open(path, encoding="utf-8") as f:
        metadata = json.load(f)
    except (OSError, ValueError) as e:
      raise CorruptCheckpointError(
        f"its {_STEP_METADATA} is missing or unreadable: {_first_line(e)}"
      ) from None
    custom = metadata.get("custom_metadata") or {}
    return custom.get(_FINGERPRINT)

  def _set_aside(self, step: int) -> str:
    """Renames `<directory>/<step>` to `<step>.corrupt` (first free name)."""
    source = os.path.join(self.directory, str(step))
    target = source + ".corrupt"
    n = 1
    while os.path.exists(target):
      target = f"{source}.corrupt.{n}"
      n += 1
    # Every process has picked the same name before process 0 renames.
    _sync(f"jaxssl_pick_aside_{step}")
    if jax.process_index() == 0:
      os.rename(source, target)
    _sync(f"jaxssl_set_aside_{step}")
    return target

  def should_save(self, step: int, *, force: bool = False) -> bool:
    """Whether `maybe_save(step, ..., force=force)` would save."""
    if not force and (self._every <= 0 or step % self._every):
      return False
    return self.latest_step() != step

  def maybe_save(self, step: int, state, *, force: bool = False) -> bool:
    """Saves at multiples of `every_steps` (or when forced). True if saved."""
    if not self.should_save(step, force=force):
      return False
    metadata = {_FINGERPRINT: fingerprint(state)}
    try:
      # Also raises the error of the previous (asynchronous) save, if any.
      saved = self._manager.save(
        step,
        args=ocp.args.StandardSave(state),
        custom_metadata=metadata,
        force=True,
      )
    except Exception as e:  # pylint: disable=broad-except
      raise self._write_error(e) from e
    self._saving = step
    return saved

  def close(self, *, quiet: bool = False) -> None:
    """Waits for the last save to finish.

    Args:
      quiet: log a failed save instead of raising (while another error
        propagates).

    Raises:
      CheckpointWriteError: the last save failed (disk full, unwritable).
    """
    try:
      self._manager.wait_until_finished()
      self._manager.close()
    except Exception as e:  # pylint: disable=broad-except
      if not quiet:
        raise self._write_error(e) from e
      logging.warning("%s", self._write_error(e))

  def _write_error(self, error: Exception) -> CheckpointWriteError:
    step = "" if self._saving is None else f" (step {self._saving} or later)"
    return CheckpointWriteError(
      f"cannot write a checkpoint{step} in {self.directory}: {_reason(error)}"
    )


def _sync(name: str) -> None:
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices(name)


class CorruptCheckpointError(Exception):
  """A checkpoint that does not restore or does not match its fingerprint."""


class CheckpointWriteError(OSError):
  """A checkpoint could not be written (disk full, directory unwritable)."""


def _reason(error: BaseException) -> str:
  """The OS error behind `error` (Orbax and TensorStore wrap it), or its line.

  TensorStore reports `[os_error_code='28']` inside a long message.
  """
  seen = error
  while seen is not None:
    if isinstance(seen, OSError) and seen.errno:
      return f"[Errno {seen.errno}] {os.strerror(seen.errno)}"
    code = re.search(r"os_error_code='(\d+)'", str(seen))
    if code and int(code.group(1)) in errno.errorcode:
      n = int(code.group(1))
      return f"[Errno {n}] {os.strerror(n)}"
    seen = seen.__cause__ or seen.__context__
  return _first_line(error)


def _first_line(error: Exception) -> str:
  line = (str(error).strip().splitlines() or [""])[0]
  if len(line) > 200:
    line = line[:200] + "..."
  return f"{type(error).__name__}: {line}"


def _leaf_hash(x) -> jax.Array:
  """A uint32 hash of the bits of `x` (positions weighted, so moves count)."""
  if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
    x = jax.random.key_data(x)
  if x.dtype == jnp.bool_:
    bits = x.astype(jnp.uint32)
  elif x.dtype.itemsize < 4:
    width = jnp.uint8 if x.dtype.itemsize == 1 else jnp.uint16
    bits = jax.lax.bitcast_convert_type(x, width).astype(jnp.uint32)
  else:  # 8-byte types gain a trailing axis of two uint32 words.
    bits = jax.lax.bitcast_convert_type(x, jnp.uint32)
  bits = bits.reshape(-1)
  # Each word times a distinct odd number: a change to any one word always
  # changes the (wrapping) sum.
  odd = jax.lax.iota(jnp.uint32, bits.size) * jnp.uint32(2) + jnp.uint32(1)
  return jnp.sum(bits * odd, dtype=jnp.uint32)


@jax.jit
def _hashes(leaves):
  return jnp.stack([_leaf_hash(x) for x in leaves])


def fingerprint(tree) -> dict[str, list]:
  """`{leaf path: [shape, dtype, hash]}` of a pytree of arrays.

  The hash depends only on the values, not on the sharding, so a checkpoint
  restored onto another mesh verifies against the same fingerprint.
  """
  paths, leaves = zip(*jax.tree_util.tree_flatten_with_path(tree)[0])
  hashes = np.asarray(_hashes(list(leaves)).addressable_data(0))
  return {
    jax.tree_util.keystr(p): [list(x.shape), str(x.dtype), int(h)]
    for p, x, h in zip(paths, leaves, hashes)
  }


def _check_layout(saved: dict, abstract_state, step: int, directory) -> None:
  """Raises naming the first leaf where the checkpoint and config differ."""
  want = {
    jax.tree_util.keystr(p): [list(x.shape), str(x.dtype)]
    for p, x in jax.tree_util.tree_flatten_with_path(abstract_state)[0]
  }
  have = {k: v[:2] for k, v in saved.items()}
  if want == have:
    return
  missing = sorted(set(want) - set(have))
  extra = sorted(set(have) - set(want))
  if missing or extra:
    what = (
      f"this config has {missing[0]}, the checkpoint does not"
      if missing
      else f"the checkpoint has {extra[0]}, this config does not"
    )
  else:
    key = next(k for k in want if want[k] != have[k])
    what = f"{key} is {have[key]} there, {want[key]} here"
  raise ValueError(
    f"the checkpoint at step {step} in {directory} was written by another "
    f"config: {what}; resume with that config or use another --workdir"
  )


def abstract(state_shapes, shardings):
  """ShapeDtypeStructs with shardings: the restore target."""
  return jax.tree.map(
    lambda s, sh: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sh),
    state_shapes,
    shardings,
  )
