"""Each protocol's baselines, scored once per run and kept in the workdir.

A protocol's baselines (`Evaluator.baselines`: the random-init encoder, raw
pixels, PCA, n-gram models, ...) are reference scores that do not change
while the run trains, so the loop scores them once and keeps them in
`<workdir>/baselines.json`:

  {"protocols": ["representation", ...], "metrics": {"eval/...": 12.3, ...}}

The random-init encoder is the state `init(init_key)` of the run's config
(`jaxssl.train.setup.build`), the same arrays at any time, so the baselines
of a protocol added later (`python -m jaxssl.eval --protocol finetune`, a
zoo sweep re-run with `--protocols`) are scored from that state rebuilt,
and merged into the file. A file of the earlier flat format
(`{"eval/...": value}`) counts as holding every protocol it is asked for.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from typing import Any

import jax

FILE = "baselines.json"


def _read(workdir: str) -> tuple[set[str] | None, dict[str, float]]:
  """(protocols scored, metrics); protocols None for the old flat format."""
  path = os.path.join(workdir, FILE)
  if not os.path.exists(path):
    return set(), {}
  with open(path, encoding="utf-8") as f:
    data = json.load(f)
  if isinstance(data.get("metrics"), dict):
    return set(data.get("protocols", ())), dict(data["metrics"])
  return None, dict(data)


def load(workdir: str) -> dict[str, float]:
  """The baseline metrics kept in `workdir` ({} if none)."""
  return _read(workdir)[1]


def ensure(
  workdir: str,
  evaluators: Mapping[str, Any],
  init_state: Callable[[], Any],
  *,
  log: Callable[[str], None] = print,
  write: bool = True,
) -> dict[str, float]:
  """The baselines of `evaluators`, scoring those the workdir lacks.

  Args:
    workdir: the run's workdir (reads and updates `baselines.json`).
    evaluators: protocol name -> built evaluator.
    init_state: returns the run's random-init state; called only when a
      protocol's baselines are missing.
    log: progress messages.
    write: merge the newly scored baselines into the file (process 0).

  Returns:
    The metrics of every protocol in `evaluators` (and any others kept).
  """
  done, metrics = _read(workdir)
  missing = [] if done is None else [n for n in evaluators if n not in done]
  if not missing:
    return metrics
  log(f"Scoring the baselines of {', '.join(missing)}...")
  state = init_state()
  for name in missing:
    metrics.update(evaluators[name].baselines(state))
  if write and jax.process_index() == 0:
    path = os.path.join(workdir, FILE)
    tmp = f"{path}.tmp{os.getpid()}"  # atomic: a kill leaves none or all
    with open(tmp, "w", encoding="utf-8") as f:
      json.dump(
        {"protocols": sorted(done | set(missing)), "metrics": metrics},
        f,
        indent=2,
      )
    os.replace(tmp, path)
  return metrics
