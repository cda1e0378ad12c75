"""The method interface: what every SSL method gives the training loop.

A method is a frozen dataclass of pure functions built from the config by
`build(config)`. The loop never looks inside params or extra; everything a
method needs between steps (BatchNorm statistics, an EMA teacher, a DINO
centre, a queue) lives in `extra`, a pytree of arrays. A method also says
how the optimizer treats its parameters: `param_labels` names a group for
each parameter and `param_groups` configures each group (`ParamGroup`:
frozen, frozen until a step, no weight decay, its own learning rate);
`jaxssl.train.optim` builds one inner optimizer per group.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Mapping
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
class ParamGroup:
  """How the optimizer treats one group of parameters.

  Attributes:
    frozen: never updated; the group has no optimizer state.
    frozen_until_step: zero updates before this step S; the group's inner
      optimizer (moments, step count, hence Adam's bias correction) starts
      at step S as if freshly built, as PyTorch's optimizers do for a
      parameter whose `grad` is None (DINO's `cancel_gradients_last_layer`,
      SwAV's `freeze_prototypes_niters`). The learning rate follows the
      global step, as those codes set one lr schedule for all groups. Its
      gradient is zeroed before the global-norm clipping too, so a frozen
      group does not shrink the others' updates. 0: never frozen.
    weight_decay: False: no weight decay and no LARS trust-ratio
      adaptation (biases, normalisation parameters).
    lr_scale: multiplies the group's learning rate.
    constant_lr: the group uses the peak learning rate (times `lr_scale`)
      at every step, with no warm-up or decay (SimSiam's `--fix-pred-lr`).
    clip_apart: global-norm clipping (`optim.clip_grad_norm`) measures this
      group's gradient on its own, apart from the others', so it never
      scales their updates (a head trained beside the method, such as the
      online probe).
  """

  frozen: bool = False
  frozen_until_step: int = 0
  weight_decay: bool = True
  lr_scale: float = 1.0
  constant_lr: bool = False
  clip_apart: bool = False

  def __post_init__(self):
    if self.frozen_until_step < 0:
      raise ValueError(
        f"ParamGroup frozen_until_step={self.frozen_until_step} must be >= 0"
      )
    if self.frozen and self.frozen_until_step:
      raise ValueError("ParamGroup: frozen and frozen_until_step exclude")
    if not self.lr_scale >= 0:
      raise ValueError(f"ParamGroup lr_scale={self.lr_scale} must be >= 0")


def default_param_labels(params):
  """ "decay" for weights with ndim >= 2, "no_decay" (biases, norms) else.

  Weight decay and LARS adaptation skip biases and normalisation scales, as
  in SimCLR, BYOL, DINO (`get_params_groups`) and solo-learn.
  """
  return jax.tree.map(lambda p: "decay" if p.ndim >= 2 else "no_decay", params)


DEFAULT_PARAM_GROUPS: Mapping[str, ParamGroup] = types.MappingProxyType(
  {"decay": ParamGroup(), "no_decay": ParamGroup(weight_decay=False)}
)


# The protocols that fit every image backbone's frozen features.
IMAGE_PROTOCOLS = ("representation", "fewshot", "diagnostics")


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
    param_labels: `params -> pytree of str` with the structure of `params`
      (called on arrays or abstract shapes): each parameter's group.
      Defaults to `default_param_labels`.
    param_groups: `{label: ParamGroup}`, one entry for every label that
      `param_labels` gives. Defaults to `DEFAULT_PARAM_GROUPS` ("decay",
      "no_decay").
    protocols: the evaluation protocols (`jaxssl.evals.PROTOCOLS`) that fit
      the method's representation (default `IMAGE_PROTOCOLS`, those of an
      image backbone); `config.eval.protocols` may choose a subset.
    logits: optional `(params, extra, batch) -> [n, l, vocab]` float32
      token logits in inference mode (no dropout), for the language-model
      protocols; `batch` is an evaluation batch of kind `tokens` ({"tokens":
      int32 [n, l], "is_pad": bool [n, l], ...}). A masked language model
      predicts, at each position, the original token there (the `mlm`
      protocol corrupts `batch["tokens"]` before the call); a causal one
      predicts, at position t, the token at t + 1 (`next_token`).
    encode_image: optional `(params, extra, batch) -> [n, e]` float32
      L2-normalised embeddings of `batch["image"]` in a space shared with
      `encode_text` (an image-text method's joint space), inference mode;
      `batch` is an evaluation batch of an image kind. For the zero-shot
      and retrieval protocols; None for methods without a text tower.
    encode_text: optional `(params, extra, batch) -> [n, e]` float32
      L2-normalised embeddings of the texts `batch["tokens"]` (int32 [n,
      l]) with `batch["is_pad"]` (bool [n, l]), in `encode_image`'s space.
    batch_coupled: why the loss needs the whole batch at once (in-batch
      negatives, batch statistics, Sinkhorn over the batch), or "" when it
      is a mean of per-example terms, so that gradient accumulation
      (`config.train.accumulate_steps` > 1) keeps the objective; a method
      that sets it refuses accumulation with a config error.
  """

  name: str
  init: Callable[..., tuple[Params, Extra]]
  loss: Callable[..., tuple[jax.Array, tuple[Extra, Metrics]]]
  features: Callable[..., jax.Array]
  update_extra: Callable[..., Extra] = _keep_extra
  figures: Callable[..., dict[str, Any]] | None = None
  param_labels: Callable[[Params], Any] = default_param_labels
  param_groups: Mapping[str, ParamGroup] = dataclasses.field(
    default_factory=lambda: DEFAULT_PARAM_GROUPS
  )
  protocols: tuple[str, ...] = IMAGE_PROTOCOLS
  logits: Callable[..., jax.Array] | None = None
  encode_image: Callable[..., jax.Array] | None = None
  encode_text: Callable[..., jax.Array] | None = None
  batch_coupled: str = ""


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
