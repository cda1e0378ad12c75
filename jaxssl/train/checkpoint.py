"""Orbax checkpoints: save every N steps, keep the last few, auto-resume.

Every checkpoint carries a fingerprint of its arrays (shape, dtype and a
hash of the bits of each leaf, `<step>/default/jaxssl_fingerprint.json`). A
restore checks it, so a checkpoint whose files were truncated, deleted or
overwritten with garbage is never trained on: `restore_latest` falls back
to the newest checkpoint that restores and matches its fingerprint, and
moves the bad ones aside.

Saves are asynchronous and the training loop waits only for what must
happen before the next step may overwrite (donate) the state: Orbax's copy
of the arrays off the device, and the dispatch of the hash computation on
device. The hashes are fetched, and every file written, in Orbax's
background thread; the fingerprint file is written into the temporary
directory before Orbax renames it into `<step>`, so a step directory
without it is a damaged one. The hash program is compiled ahead, in a
thread, when the checkpointer first sees the state's layout
(`restore_latest`), so the first save does not wait for a compilation.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
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

# Checkpoints written before saves hashed in the background keep the whole
# fingerprint in Orbax's step metadata, under this key; they still verify.
_FINGERPRINT = "jaxssl_fingerprint"
# Newer ones name the fingerprint file there (relative to the step).
_FINGERPRINT_FILE_KEY = "jaxssl_fingerprint_file"
_FINGERPRINT_FILE = "jaxssl_fingerprint.json"
_ITEM = "default"  # Orbax's directory of a manager's single item
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
    self._handler = FingerprintingHandler()
    registry = ocp.handlers.DefaultCheckpointHandlerRegistry()
    registry.add(None, ocp.args.StandardSave, self._handler)
    registry.add(None, ocp.args.StandardRestore, self._handler)
    self._manager = ocp.CheckpointManager(
      self.directory, options=options, handler_registry=registry
    )
    self._every = every_steps
    self._saving = None  # the step of the last save started
    self._hasher = _Hasher()

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
    got = self._hasher.start(state).result()
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
    # Compiles the hash program in a thread (restores verify with it, saves
    # dispatch it) while the caller builds and compiles its step.
    self._hasher.prepare(abstract_state)
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
    if _FINGERPRINT in custom:  # written by jaxssl before the fingerprint file
      return custom[_FINGERPRINT]
    name = custom.get(_FINGERPRINT_FILE_KEY)
    if name is None:  # written by jaxssl before fingerprints
      return None
    path = os.path.join(self.directory, str(step), name)
    try:
      with open(path, encoding="utf-8") as f:
        return json.load(f)
    except (OSError, ValueError) as e:
      raise CorruptCheckpointError(
        f"its fingerprint {name} is missing or unreadable: {_first_line(e)}"
      ) from None

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
    # Dispatched before the next step can donate `state`; waited for only in
    # Orbax's background thread (`FingerprintingHandler`).
    self._handler.pending = self._hasher.start(state)
    metadata = {_FINGERPRINT_FILE_KEY: f"{_ITEM}/{_FINGERPRINT_FILE}"}
    try:
      # Waits for the previous (asynchronous) save and raises its error, if
      # any; then copies the arrays to the host and returns.
      saved = self._manager.save(
        step,
        args=ocp.args.StandardSave(state),
        custom_metadata=metadata,
        force=True,
      )
    except Exception as e:  # pylint: disable=broad-except
      raise self._write_error(e) from e
    finally:
      self._handler.pending = None
    self._saving = step
    return saved

  def wait_until_finished(self) -> None:
    """Blocks until the last save is complete on disk (or raises its error).

    Raises:
      CheckpointWriteError: the save failed (disk full, unwritable).
    """
    try:
      self._manager.wait_until_finished()
    except Exception as e:  # pylint: disable=broad-except
      raise self._write_error(e) from e

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


@dataclasses.dataclass(frozen=True)
class _Pending:
  """A fingerprint whose hashes may still be computing on device."""

  paths: tuple[str, ...]
  layouts: tuple[list, ...]  # [shape, dtype] of each leaf
  hashes: jax.Array  # [leaves] uint32, replicated

  def result(self) -> dict[str, list]:
    """`{leaf path: [shape, dtype, hash]}`; waits for the device."""
    hashes = np.asarray(self.hashes.addressable_data(0))
    return {
      p: [*layout, int(h)]
      for p, layout, h in zip(self.paths, self.layouts, hashes)
    }


class _Hasher:
  """Dispatches `_hashes`, compiled ahead for the state's layout.

  `prepare(abstract_state)` compiles in a thread; `start(tree)` uses that
  executable when `tree` has the prepared shapes and shardings, and the
  jitted function otherwise (which compiles on first use).
  """

  def __init__(self):
    self._compiled = None  # a Future of the AOT executable

  def prepare(self, abstract_tree) -> None:
    if self._compiled is not None:
      return
    leaves = jax.tree.leaves(abstract_tree)
    pool = concurrent.futures.ThreadPoolExecutor(
      1, thread_name_prefix="jaxssl_hash_compile"
    )
    self._compiled = pool.submit(lambda: _hashes.lower(leaves).compile())
    pool.shutdown(wait=False)

  def _executable(self):
    if self._compiled is None:
      return None
    try:
      return self._compiled.result()
    except Exception as e:  # pylint: disable=broad-except
      logging.warning("hash program not compiled ahead: %s", _first_line(e))
      self._compiled = concurrent.futures.Future()
      self._compiled.set_result(None)
      return None

  def start(self, tree) -> _Pending:
    flat = jax.tree_util.tree_flatten_with_path(tree)[0]
    paths = tuple(jax.tree_util.keystr(p) for p, _ in flat)
    leaves = [x for _, x in flat]
    hashes = None
    executable = self._executable()
    if executable is not None:
      try:
        hashes = executable(leaves)
      except (TypeError, ValueError):  # not the prepared shapes / shardings
        hashes = None
    if hashes is None:
      hashes = _hashes(leaves)
    layouts = tuple([list(x.shape), str(x.dtype)] for x in leaves)
    return _Pending(paths, layouts, hashes)


def fingerprint(tree) -> dict[str, list]:
  """`{leaf path: [shape, dtype, hash]}` of a pytree of arrays.

  The hash depends only on the values, not on the sharding, so a checkpoint
  restored onto another mesh verifies against the same fingerprint.
  """
  return _Hasher().start(tree).result()


class FingerprintingHandler(ocp.StandardCheckpointHandler):
  """Orbax's handler of the train state, plus the state's fingerprint file.

  `Checkpointer.maybe_save` sets `pending` (a `_Pending` fingerprint) just
  before each save. The save's commit futures, which Orbax runs in its
  background thread before it renames the temporary directory into the
  step, then include one that waits for the hashes and writes them (process
  0) to `<item>/jaxssl_fingerprint.json`.
  """

  def __init__(self):
    super().__init__()
    self.pending = None

  async def async_save(self, directory, *args, **kwargs):
    futures = await super().async_save(directory, *args, **kwargs)
    pending, self.pending = self.pending, None
    if pending is None:
      return futures
    write = ocp.future.CommitFutureAwaitingContractedSignals(
      _write_fingerprint(directory, pending), name="jaxssl_fingerprint"
    )
    return [*(futures or []), write]


async def _write_fingerprint(directory, pending: _Pending) -> None:
  """Waits for the device hashes; writes the fingerprint into `directory`."""
  if hasattr(directory, "await_creation"):  # Orbax creates it in background
    directory = await directory.await_creation()
  text = json.dumps(pending.result())
  if jax.process_index() == 0:
    (directory / _FINGERPRINT_FILE).write_text(text)


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
