"""A trained run's state, back from its workdir: for notebooks and evaluation.

  from jaxssl import train
  run = train.restore(workdir)             # the config saved with the run
  feats = run.method.features(run.state.params, run.state.extra, batch)

`restore(workdir)` reads the run's `config.json` (or takes the config it was
trained with), builds the method and the mesh as the loop does, and
restores the newest checkpoint (or `step`) onto the current devices.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Callable
from typing import Any

import ml_collections

from jaxssl import configs_lib
from jaxssl.data import kinds
from jaxssl.train import checkpoint as ckpt_lib
from jaxssl.train import resume
from jaxssl.train import setup as setup_lib

CONFIG_FILE = resume.CONFIG_FILE


@dataclasses.dataclass(frozen=True)
class Restored:
  """A run's state and what it takes to use it.

  Attributes:
    config: the run's validated config.
    method: its `jaxssl.methods.Method` (`features`, `logits`, ...).
    state: the `TrainState` (params, extra, opt_state, step) on `mesh`.
    step: the checkpoint's step.
    mesh: the device mesh the state lives on.
    init_state: returns the run's random-init state (step 0, rebuilt from
      `config.seed` on `mesh`), the state its baselines are scored on.
  """

  config: Any
  method: Any
  state: Any
  step: int
  mesh: Any
  init_state: Callable[[], Any]


def saved_config(workdir: str) -> ml_collections.ConfigDict:
  """The config a run wrote to `<workdir>/config.json`, validated.

  Raises:
    FileNotFoundError: naming the file, if the workdir holds no run.
  """
  path = os.path.join(workdir, CONFIG_FILE)
  if not os.path.isfile(path):
    raise FileNotFoundError(
      f"{path}: no such file; is {workdir!r} the --workdir of a jaxssl run?"
    )
  with open(path, encoding="utf-8") as f:
    saved = json.load(f)
  # JSON has no tuples: rebuild every value against the defaults' types.
  config = configs_lib.base_config(
    saved["method"]["name"], data_kind=saved["data"].get("kind")
  )
  _merge(config, saved)
  return configs_lib.validate(config)


def _merge(config, saved: dict, prefix: str = "") -> None:
  for key, value in saved.items():
    if prefix == "data." and key == "views" and isinstance(value, dict):
      # View groups are named by the run (global_crops, local_crops, ...):
      # the saved groups replace the defaults' "views" group, each rebuilt
      # on `view_group()` so its tuples come back as tuples.
      groups = {}
      for name, group in value.items():
        groups[name] = configs_lib.view_group()
        _merge(groups[name], group, f"data.views.{name}.")
      with config.ignore_type():
        config[key] = ml_collections.ConfigDict(groups)
      continue
    if (
      isinstance(value, dict)
      and key in config
      and isinstance(config[key], ml_collections.ConfigDict)
    ):
      _merge(config[key], value, f"{prefix}{key}.")
      continue
    default = config.get(key)
    if isinstance(value, list) and (
      isinstance(default, tuple) or prefix.startswith("data.views.")
    ):
      value = tuple(value)  # per-view probabilities: a tuple, never a list
    if isinstance(value, dict):
      value = ml_collections.ConfigDict(value)
    with config.ignore_type():
      config[key] = value


def restore(workdir: str, config=None, *, step: int | None = None) -> Restored:
  """The state of the run in `workdir` (its newest checkpoint, or `step`).

  Args:
    workdir: the run's `--workdir`.
    config: the config it was trained with; default: its `config.json`.
    step: a checkpointed step; default the newest.

  Raises:
    FileNotFoundError: naming the directory, if it holds no checkpoint (or
      not `step`).
  """
  config = saved_config(workdir) if config is None else config
  config = configs_lib.validate(config)
  directory = os.path.join(workdir, "checkpoints")
  if not os.path.isdir(directory):
    raise FileNotFoundError(f"{directory}: no checkpoints in {workdir!r}")
  checkpointer = ckpt_lib.Checkpointer(
    directory, every_steps=0, max_to_keep=config.train.max_to_keep
  )
  try:
    steps = checkpointer.all_steps()
    if not steps or (step is not None and step not in steps):
      raise FileNotFoundError(
        f"{directory}: no checkpoint at step {step}; saved steps: {steps}"
        if step is not None
        else f"{directory}: no checkpoint in {workdir!r}"
      )
    step = max(steps) if step is None else step
    run = setup_lib.build(
      config, kinds.get(config.data.kind).batch_spec(config)
    )
    state = checkpointer.restore(run.abstract_state(), step)
  finally:
    checkpointer.close()
  return Restored(
    config,
    run.method,
    state,
    int(step),
    run.mesh,
    lambda: run.init(run.init_key),
  )
