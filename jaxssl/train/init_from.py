"""A fresh run's first state, partly copied from a finished jaxssl run.

`config.train.init_from` names the finished run's workdir,
`config.train.init_from_step` its checkpoint (-1: the newest) and
`config.train.init_from_map` which subtrees go where: comma-separated
`new=loaded` pairs of "/"-separated paths rooted at "params" or "extra",
e.g. LiT's image tower from the quickstart's SimCLR backbone

  params/image=params/backbone,extra/batch_stats=extra/batch_stats/backbone

or SimCSE's encoder from bert_mlm's (`params/model=params/model`: the MLM
head's leaves, which SimCSE lacks, are left behind).

Every leaf of a new subtree must exist, with the same shape, in its loaded
subtree (a one-line ValueError names the path and both shapes); leaves of
the loaded subtree the new one lacks are ignored. Applied once, when the
run starts from scratch; a resumed run takes its own checkpoint.
"""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp

ROOTS = ("params", "extra")


def parse_map(spec: str) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
  """`"a/b=c/d,..."` -> [(("a", "b"), ("c", "d")), ...].

  Raises:
    ValueError: naming `config.train.init_from_map` on a malformed pair or
      a path not rooted at "params" or "extra".
  """
  pairs = []
  for item in (s.strip() for s in spec.split(",")):
    if not item:
      continue
    new, sep, old = item.partition("=")
    paths = tuple(
      tuple(p for p in x.strip().split("/") if p) for x in (new, old)
    )
    if not sep or not all(paths) or any(p[0] not in ROOTS for p in paths):
      raise ValueError(
        f"config.train.init_from_map={spec!r}: {item!r} is not "
        "'new=loaded' with paths rooted at 'params' or 'extra'"
      )
    pairs.append(paths)
  if not pairs:
    raise ValueError(
      f"config.train.init_from_map={spec!r}: no 'new=loaded' pair "
      "(config.train.init_from is set)"
    )
  return pairs


def _get(tree: Any, path: tuple[str, ...], which: str) -> Any:
  for i, key in enumerate(path):
    if not isinstance(tree, dict) or key not in tree:
      have = sorted(tree) if isinstance(tree, dict) else type(tree).__name__
      raise ValueError(
        f"config.train.init_from_map: {which} path {'/'.join(path)!r} has "
        f"no {'/'.join(path[: i + 1])!r} (there: {have})"
      )
    tree = tree[key]
  return tree


def _set(tree: dict, path: tuple[str, ...], value: Any) -> dict:
  if not path:
    return value
  key, *rest = path
  return {**tree, key: _set(tree[key], tuple(rest), value)}


def _copy(new: Any, old: Any, path: str) -> tuple[Any, int]:
  """`new` with each leaf replaced by `old`'s at the same key path."""
  if isinstance(new, dict):
    out, count = {}, 0
    for key, value in new.items():
      if not isinstance(old, dict) or key not in old:
        raise ValueError(
          f"config.train.init_from: {path}/{key} has no counterpart in the "
          "loaded run"
        )
      out[key], n = _copy(value, old[key], f"{path}/{key}")
      count += n
    return out, count
  if isinstance(old, dict) or jnp.shape(new) != jnp.shape(old):
    shape = "a subtree" if isinstance(old, dict) else jnp.shape(old)
    raise ValueError(
      f"config.train.init_from: {path} has shape {jnp.shape(new)} here "
      f"but {shape} in the loaded run"
    )
  value = jnp.asarray(old, new.dtype)
  return jax.device_put(value, new.sharding), 1


def apply(state, config):
  """`state` with the mapped subtrees of `config.train.init_from`'s run.

  Args:
    state: the fresh `TrainState` (`setup.Setup.init`).
    config: the new run's validated config.

  Returns:
    `(state, n)`: the new state and the number of leaves copied.

  Raises:
    ValueError: naming the key, on a bad map, a missing path or a shape
      that differs (the path and both shapes).
    FileNotFoundError: naming the directory, if it holds no checkpoint.
  """
  t = config.train
  from jaxssl.train import restored  # pylint: disable=g-import-not-at-top

  pairs = parse_map(t.init_from_map)
  step = None if t.init_from_step < 0 else int(t.init_from_step)
  loaded = restored.restore(t.init_from, step=step).state
  trees = {"params": state.params, "extra": state.extra}
  old_trees = {"params": loaded.params, "extra": loaded.extra}
  total = 0
  for new_path, old_path in pairs:
    new_sub = _get(trees, new_path, "new")
    old_sub = _get(old_trees, old_path, "loaded")
    copied, n = _copy(new_sub, old_sub, "/".join(new_path))
    trees = _set(trees, new_path, copied)
    total += n
  return state.replace(params=trees["params"], extra=trees["extra"]), total
