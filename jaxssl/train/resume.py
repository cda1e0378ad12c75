"""What a resumed run may change: the config against the saved `config.json`.

A run writes its config to `<workdir>/config.json`. Re-running in that
workdir resumes the checkpointed state, which only makes sense under the
config that trained it: a new model, method, optimizer, batch size, data or
seed is refused with one line naming each differing key. The keys in
`SAFE_TO_CHANGE` may differ; they change how long the run goes and what it
logs, evaluates and keeps, not the state:

- `train.total_steps`: extends or shortens the run (the learning-rate
  schedule is rebuilt for the new length from the resumed step on);
- `train.log_every_steps`, `train.eval_every_steps`, `train.progress_bar`:
  logging and evaluation cadence;
- `train.ckpt_every_steps`, `train.max_to_keep`: checkpoint cadence;
- `train.nan_policy`, `optim.lr`, `optim.clip_grad_norm`: what a later
  non-finite step does, and the usual cures after a run stopped on one
  (the state's layout does not depend on them);
- `eval.*`: the evaluation protocols and their settings;
- `mesh.*`: the device layout; checkpoints restore onto the current mesh
  (a different device count included), equal up to float reduction order;
- `model.remat`: rematerialisation trades memory for compute; the same
  parameter tree and the same results up to float reassociation in the
  recomputed blocks (tests/models/test_remat.py).

Everything else may change the trained state or its layout, so it is
refused: e.g. `train.accumulate_steps` (BatchNorm statistics per
micro-batch), `data.shuffle_buffer` (the example order), `data.data_dir`
(the data itself, which jaxssl cannot check is the same).
"""

from __future__ import annotations

import json
import os

from absl import logging

from jaxssl import configs_lib

SAFE_TO_CHANGE = (
  "train.total_steps",
  "train.log_every_steps",
  "train.eval_every_steps",
  "train.progress_bar",
  "train.ckpt_every_steps",
  "train.max_to_keep",
  "train.nan_policy",
  "optim.lr",
  "optim.clip_grad_norm",
  "eval.*",
  "mesh.*",
  "model.remat",
  "method.loss_block",
)

CONFIG_FILE = "config.json"
_ABSENT = "<absent>"


def _flatten(tree, prefix="") -> dict:
  """`{"a.b": value}` of nested dicts (lists as values)."""
  out = {}
  for key, value in tree.items():
    name = f"{prefix}{key}"
    if isinstance(value, dict) and value:
      out.update(_flatten(value, name + "."))
    else:
      out[name] = value
  return out


def _is_safe(key: str) -> bool:
  return any(
    key.startswith(s[:-1]) if s.endswith("*") else key == s
    for s in SAFE_TO_CHANGE
  )


def differences(saved: dict, config) -> list[str]:
  """`config.<key>: <saved> (saved) != <new>` for each key not safe to change.

  A key the saved config lacks (written before the key existed) counts as
  its default: it differs only if the new config sets another value.

  Args:
    saved: the parsed `config.json` of the run being resumed.
    config: the new (validated) ConfigDict.
  """
  new = _flatten(json.loads(config.to_json_best_effort()))
  old = _flatten(saved)
  defaults = configs_lib.base_config(
    config.method.name, data_kind=config.data.kind
  )
  default = _flatten(json.loads(defaults.to_json_best_effort()))
  out = []
  for key in sorted(set(old) | set(new)):
    a, b = old.get(key, _ABSENT), new.get(key, _ABSENT)
    if a == _ABSENT and key in default and b == default[key]:
      continue
    if a != b and not _is_safe(key):
      out.append(f"config.{key}: {_show(a)} (saved) != {_show(b)}")
  return out


def _show(value) -> str:
  if value == _ABSENT:
    return value
  text = repr(value)
  return text if len(text) <= 80 else text[:77] + "..."


def check(workdir: str, config) -> None:
  """Raises if `config` changes keys of the saved run that are not safe.

  Call it before restoring. A workdir without `config.json` (written by an
  older jaxssl, or deleted) is not checked; nor is one whose `config.json`
  is unreadable, with a warning (the checkpoint's layout is still checked
  against the config's state when it is restored).

  Raises:
    ValueError: one line naming every differing key, its saved and its new
      value.
  """
  path = os.path.join(workdir, CONFIG_FILE)
  try:
    with open(path, encoding="utf-8") as f:
      saved = json.load(f)
  except FileNotFoundError:
    return
  except (OSError, ValueError) as e:
    logging.warning("cannot read %s (%s): config not compared", path, e)
    return
  diff = differences(saved, config)
  if diff:
    raise ValueError(
      f"resuming {workdir} with a changed config: {'; '.join(diff)}. Only "
      f"{', '.join(SAFE_TO_CHANGE)} may change on resume: restore the saved "
      "values or use another --workdir"
    )


def write(workdir: str, config) -> None:
  """Writes `<workdir>/config.json` atomically (a kill leaves old or new)."""
  path = os.path.join(workdir, CONFIG_FILE)
  tmp = f"{path}.tmp{os.getpid()}"
  try:
    with open(tmp, "w", encoding="utf-8") as f:
      f.write(config.to_json_best_effort(indent=2))
    os.replace(tmp, path)
  except OSError as e:
    raise OSError(e.errno, e.strerror, path) from e
