"""The method interface: what every SSL method gives the training loop.

A method is a frozen dataclass of pure functions built from the config by
`build(config)`. The loop never looks inside params or extra; everything a
method needs between steps (BatchNorm statistics, an EMA teacher, a DINO
centre, a queue) lives in `extra`, a pytree of arrays.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import jax

Params = Any
Extra = Any
Batch = dict[str, jax.Array]
Metrics = dict[str, jax.Array]


def _keep_extra(params, extra, step):
  del params, step
  return extra


@dataclasses.dataclass(frozen=True)
class Method:
  """The functions one method plugs into the loop.

  Attributes:
    name: registry name.
    init: `(rng, batch) -> (params, extra)`; `batch` is a (possibly
      abstract) training batch, used only for shapes.
    loss: `(params, extra, batch, rng, step) -> (loss, (extra, metrics))`,
      differentiated w.r.t. `params`; `extra` returned is the new extra
      state (e.g. BatchNorm statistics), `metrics` a dict of scalars.
    features: `(params, extra, batch) -> feats [n, d]`: the frozen
      backbone used by the evaluation protocols, in inference mode; `batch`
      is an evaluation batch of the data kind (images: {"image": [n, h, w,
      3], "label": [n], ...}).
    update_extra: `(params, extra, step) -> extra`, run after the optimizer
      update with the new params (EMA teachers, momentum schedules).
      Defaults to identity.
    figures: optional `(params, extra, batch, rng) -> {name: image}`,
      pictures the method draws of itself at evaluation time (MAE's
      original / masked / reconstruction grid); `batch` is a fixed
      evaluation batch (images: normalised eval-split images under "image",
      [n, h, w, 3]) and each returned image a
      float [H, W, 3] array in [0, 1]. The loop saves them as PNG files under
      `<workdir>/figures/` and as TensorBoard images.
    protocols: the evaluation protocols (`jaxssl.evals.PROTOCOLS`) that fit
      the method's representation; `config.eval.protocols` may choose a
      subset.
  """

  name: str
  init: Callable[..., tuple[Params, Extra]]
  loss: Callable[..., tuple[jax.Array, tuple[Extra, Metrics]]]
  features: Callable[..., jax.Array]
  update_extra: Callable[..., Extra] = _keep_extra
  figures: Callable[..., dict[str, Any]] | None = None
  protocols: tuple[str, ...] = ("representation",)


def _no_check(config) -> None:
  del config


def _no_smoke(method_config) -> None:
  del method_config


@dataclasses.dataclass(frozen=True)
class MethodDef:
  """A method as the registry knows it, before any config exists.

  Attributes:
    name: registry name (`config.method.name`).
    build: `(config) -> Method`.
    config: `() -> ConfigDict`, the method's keys of `config.method` with
      their defaults (every key but `name`); `configs_lib.base_config(name)`
      merges them, and any other key in `config.method` is an error.
    check: `(config) -> None`, raises a ValueError naming the first bad
      `config.method` key (or another key the method depends on); run by
      `configs_lib.validate` before anything is built.
    smoke: `(method_config) -> None`, shrinks the method's keys in place
      for a seconds-long run (`configs_lib.make_smoke`).
    data_kinds: the `config.data.kind`s the method reads, default first.
  """

  name: str
  build: Callable[[Any], Method]
  config: Callable[[], Any]
  check: Callable[[Any], None] = _no_check
  smoke: Callable[[Any], None] = _no_smoke
  data_kinds: tuple[str, ...] = ("views",)
