"""Protocol `finetune`: the whole backbone fine-tuned on a fraction of labels.

SimCLRv2's semi-supervised protocol (Chen et al. 2020, arXiv:2006.10029):
for each fraction f of `config.eval.finetune_fractions` (default 1%, 10%,
100%), a class-balanced subset of the training split (`config.data.
train_split`; per class `max(1, round(f * count))` examples, drawn by a
permutation seeded with `eval.finetune_seed`, so the subset is fixed per
seed and nested neither by accident nor design) trains the backbone and a
linear head together for `eval.finetune_steps` steps of
`eval.finetune_batch_size` images (drawn with replacement from the subset),
with (`eval.finetune_augment`) or without random crop (reflect-pad by h/8,
crop back) and horizontal flip done in JAX, by optax SGD with Nesterov
momentum 0.9 (or AdamW) on a cosine schedule from `eval.finetune_lr` after
`eval.finetune_warmup_steps` of linear warm-up; the backbone's updates are
scaled by `eval.finetune_backbone_lr_scale`.
The metric is the top-1 (%) of the fine-tuned model on `data.eval_split`.

The head reads the features, or (`eval.finetune_standardize`) the features
standardised by the subset's frozen-feature mean and std (fixed while
fine-tuning, folded into the returned head), and starts
(`eval.finetune_head`) as the offline linear probe of `evals.linear` fitted
on the subset's frozen features, "probe": LP-FT (Kumar et al. 2022,
arXiv:2202.10054), which starts fine-tuning from the probe's predictions,
or at zero, "zeros" (SimCLRv2's start). Each step's gradient (backbone and
head together) is clipped to the global norm `eval.finetune_clip_norm`.

Measured in the 300-step budget on Fashion-MNIST (`python -m jaxssl.eval
--protocol finetune --set ...` on the zoo's runs, 2026-12-04; top-1 % at
1 / 10 / 100% of the labels, `-`: not run). MAE's ViT-Ti/8 (its linear
probe 77.1%):

  zero head, crop + flip, no warm-up (the first default)   47.0 / 59.4 / 62.3
  zero head, AdamW 2.5e-4, 30 warm-up, mean token             - / 49.0 / 51.8
  probe head, crop + flip, backbone x 0.1, 30 warm-up         - / 46.2 / 68.4
  probe head, crop + flip, head only (backbone x 0)           - /    - / 70.9
  zero head, no augmentation, no warm-up                      - / 67.9 / 77.8
  probe head (standardised), no augmentation, backbone x 0.1,
    30 warm-up                                             54.4 / 69.1 / 80.1
    the same from random init                              46.0 / 65.8 / 63.3
  probe head, clip 1, no augmentation, 30 warm-up
    (the default)                                          53.8 / 68.2 / 79.9
    the same with backbone x 0.1                           54.4 / 67.4 / 77.7

SimCLR's tiny ResNet (the quickstart; its linear probe 81.7%):

  zero head, crop + flip, no warm-up (the first default)   64.6 / 60.0 / 70.3
  zero head, no augmentation, 30 warm-up                   63.1 / 73.2 / 72.5
    the same with clip 1                                   69.1 / 74.3 / 75.4
  probe head on standardised features, backbone x 0.1     10.0 / 10.0 / 10.0
  probe head, backbone x 0.1                               66.7 / 77.6 / 51.8
    the same with clip 1                                   69.9 / 76.2 / 79.6
  probe head, clip 1, 30 warm-up, no augmentation
    (the default)                                          71.4 / 77.2 / 79.8

The crops were what hurt most: a 4-pixel shift is half a patch of the
ViT/8, and even training the head alone from the probe's start fell from
77.0% to 70.9%; in a budget this short (1.4 epochs of 100%) shifted views
cost more than they teach (SimCLRv2 fine-tunes for 30-60 epochs with
them), so `eval.finetune_augment` is off by default. Without a clip the
probe start diverges on the ResNet (10%: one class for every image) or is
unstable (51.8% at 100%): a fitted head sends large gradients into a
backbone whose BatchNorm keeps its pretraining statistics, so nothing
renormalises the grown activations. A probe fitted with one scale for
every dimension (an isotropic L2 on the raw features, tried instead of the
clip) did not mend it (48.5 / 44.5 / 64.5 at backbone x 0.1, 10% at x 1).
The clip at 1 does, for the zero head too, and the probe start is then the
best for both backbones: the default.

Gradients flow through `Method.features(params, extra, batch)`, the pure
inference-mode feature function every method declares: BatchNorm layers
therefore run with their running statistics from pretraining (kept fixed,
as in "frozen BN" fine-tuning of detection backbones) rather than batch
statistics. This keeps the protocol one function for every method and
deterministic at test time; the scale/shift parameters still train.

The pretraining state is never modified: fine-tuning works on copies (JAX
arrays are immutable and the step donates nothing).

Baseline (`_random_init`): the same fine-tuning from the step-0 params,
i.e. a supervised model trained from scratch on that fraction with the
same backbone and budget.

Metrics: eval/finetune_1pct, eval/finetune_10pct, eval/finetune_100pct (the
names follow the fractions), each also with `_random_init`. The protocol is
costly, so it is opt-in: list it in `config.eval.protocols`. The subsets,
the augmentation, the optimizers and the head are shared with
`evals.linear_sgd` (`evals.supervised_head`).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.experimental import multihost_utils

from jaxssl.evals import linear
from jaxssl.evals.base import Context
from jaxssl.evals.supervised_head import (
  apply_head,
  augment,
  balanced_subset,
  flat,
  init_head,
  optimizer,
)
from jaxssl.train import mesh as mesh_lib


def metric_name(fraction: float) -> str:
  """eval/finetune_<100 f>pct, e.g. 0.01 -> eval/finetune_1pct."""
  return f"eval/finetune_{100 * fraction:g}pct"


class Finetune:
  """Fine-tunes copies of a state's params on labelled subsets."""

  def __init__(self, context: Context):
    c = context.config
    e = c.eval
    self._config = c
    self._mesh = context.mesh
    self._kind = context.kind
    self._num_classes = context.info.num_classes
    if not self._num_classes:
      raise ValueError(
        "config.eval.protocols: 'finetune' needs a labelled dataset "
        f"({c.data.name!r} has no classes)"
      )
    mesh_lib.check_batch_size(c.eval.batch_size, self._mesh, "eval.batch_size")
    mesh_lib.check_batch_size(
      e.finetune_batch_size, self._mesh, "eval.finetune_batch_size"
    )
    features = context.method.features
    opt = optimizer(
      e.finetune_optimizer,
      e.finetune_lr,
      e.finetune_steps,
      warmup_steps=e.finetune_warmup_steps,
      clip_norm=e.finetune_clip_norm,
    )
    self._opt = opt
    backbone_scale = e.finetune_backbone_lr_scale
    augmented = e.finetune_augment

    def logits_fn(params, head, norm, extra, images):
      feats = flat(features(params, extra, {"image": images}))
      mean, std = norm  # fixed: the start's statistics (or 0 and 1)
      return apply_head(head, (feats - mean) / std)

    def loss_fn(trainable, norm, extra, images, labels, rng):
      params, head = trainable
      if augmented:
        images = augment(images, rng)
      logits = logits_fn(params, head, norm, extra, images)
      ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
      return jnp.mean(ce)

    def step(trainable, opt_state, norm, extra, images, labels, rng):
      loss, grads = jax.value_and_grad(loss_fn)(
        trainable, norm, extra, images, labels, rng
      )
      updates, opt_state = opt.update(grads, opt_state, trainable)
      backbone, head = updates
      backbone = jax.tree.map(lambda u: backbone_scale * u, backbone)
      updates = (backbone, head)
      return optax.apply_updates(trainable, updates), opt_state, loss

    def feature_dim(params, extra, images):
      shape = jax.eval_shape(
        lambda p, x, i: flat(features(p, x, {"image": i})),
        params,
        extra,
        images,
      ).shape
      return int(shape[1])

    self._feature_dim = feature_dim
    self._step = jax.jit(step)
    self._features = jax.jit(
      lambda p, x, b: flat(features(p, x, b)),
      out_shardings=mesh_lib.data_sharding(self._mesh),
    )
    self._predict = jax.jit(
      lambda p, h, x, b: jnp.argmax(apply_head(h, features(p, x, b)), -1),
      out_shardings=mesh_lib.data_sharding(self._mesh),
    )
    self._data = None

  def _load(self, split: str, max_examples: int):
    c = self._config
    images, labels = [], []
    for host_batch in self._kind.eval_batches(
      c,
      split,
      batch_size=c.eval.batch_size // jax.process_count(),
      max_examples=max_examples,
    ):
      batch = mesh_lib.to_global(host_batch, self._mesh)
      g = multihost_utils.process_allgather(
        {"x": batch["image"], "y": batch["label"], "v": batch["valid"]},
        tiled=True,
      )
      keep = np.asarray(g["v"])
      images.append(np.asarray(g["x"])[keep])
      labels.append(np.asarray(g["y"])[keep])
    return np.concatenate(images), np.concatenate(labels)

  def _splits(self):
    if self._data is None:
      c = self._config
      cap = c.eval.max_train_examples
      if c.eval.final_max_train_examples >= 0:
        cap = c.eval.final_max_train_examples
      self._data = (
        self._load(c.data.train_split, cap),
        self._load(c.data.eval_split, 0),
      )
    return self._data

  def _global(self, x: np.ndarray):
    local = len(x) // jax.process_count()
    i = jax.process_index()
    return mesh_lib.to_global(x[i * local : (i + 1) * local], self._mesh)

  def _batched(self, fn, x: np.ndarray) -> np.ndarray:
    """fn({"image": batch}) over `x` in eval.batch_size batches (the last
    padded with zeros, its padding dropped), gathered to the host."""
    bs = self._config.eval.batch_size
    out = []
    for start in range(0, len(x), bs):
      chunk = x[start : start + bs]
      real = len(chunk)
      if real < bs:
        pad = np.zeros((bs - real,) + chunk.shape[1:], chunk.dtype)
        chunk = np.concatenate([chunk, pad])
      y = fn({"image": self._global(chunk)})
      out.append(
        np.asarray(multihost_utils.process_allgather(y, tiled=True))[:real]
      )
    return np.concatenate(out)

  def _start(self, params, extra, images, labels):
    """(head, (mean, std)) fine-tuning starts from.

    The head acts on the features standardised by (mean, std): with
    `eval.finetune_standardize` the subset's frozen-feature statistics,
    kept fixed while fine-tuning (else 0 and 1: the raw features). It is
    zero or (`eval.finetune_head="probe"`) the offline linear probe.
    """
    e = self._config.eval
    dim = self._feature_dim(params, extra, jnp.asarray(images[:1]))
    mean, std = np.zeros(dim), np.ones(dim)
    feats = None
    if e.finetune_standardize or e.finetune_head == "probe":
      feats = self._batched(lambda b: self._features(params, extra, b), images)
    if e.finetune_standardize:
      mean, std = linear.moments(feats)
      feats = (feats - mean) / std
    if e.finetune_head == "zeros":
      head = init_head(dim, self._num_classes)
    else:
      head = linear.probe_head(
        feats,
        labels,
        num_classes=self._num_classes,
        steps=e.linear_steps,
        seed=e.finetune_seed,
      )
    return head, (jnp.asarray(mean, jnp.float32), jnp.asarray(std, jnp.float32))

  def finetune(self, state, fraction: float):
    """(params, head) fine-tuned from copies of `state.params` on the
    class-balanced `fraction` of the training split; the head acts on the
    raw features (the standardisation folded in)."""
    e = self._config.eval
    (train_x, train_y), _ = self._splits()
    subset = balanced_subset(train_y, fraction, seed=e.finetune_seed)
    rep = mesh_lib.replicated(self._mesh)
    params = jax.tree.map(jnp.copy, state.params)
    extra = state.extra
    head, norm = jax.device_put(
      self._start(params, extra, train_x[subset], train_y[subset]), rep
    )
    trainable = (params, head)
    opt_state = self._opt.init(trainable)
    host_rng = np.random.default_rng([e.finetune_seed, len(subset)])
    base = jax.random.key(e.finetune_seed)
    bs = e.finetune_batch_size
    for i in range(e.finetune_steps):
      idx = subset[host_rng.integers(0, len(subset), bs)]
      trainable, opt_state, _ = self._step(
        trainable,
        opt_state,
        norm,
        extra,
        self._global(train_x[idx]),
        self._global(train_y[idx].astype(np.int32)),
        jax.random.fold_in(base, i),
      )
    params, head = trainable
    # Folded on the host (a small head): (f - mean) / std @ w + b equals
    # f @ w' + b'.
    mean, std = (np.asarray(a, np.float64) for a in norm)
    w = np.asarray(head["w"], np.float64) / std[:, None]
    b = np.asarray(head["b"], np.float64) - mean @ w
    folded = {"w": w.astype(np.float32), "b": b.astype(np.float32)}
    return params, jax.device_put(folded, rep)

  def finetune_top1(self, state, fraction: float) -> float:
    """Top-1 (%) on the eval split after fine-tuning on `fraction`."""
    _, (test_x, test_y) = self._splits()
    params, head = self.finetune(state, fraction)
    extra = state.extra
    pred = self._batched(
      lambda b: self._predict(params, head, extra, b), test_x
    )
    return 100.0 * float(np.mean(pred == test_y))

  def evaluate(self, state, *, final: bool = False) -> dict[str, float]:
    """{eval/finetune_<p>pct: top-1 %} for each of eval.finetune_fractions."""
    del final  # the protocol always uses the whole (capped) training split
    return {
      metric_name(f): self.finetune_top1(state, f)
      for f in self._config.eval.finetune_fractions
    }

  def baselines(self, state) -> dict[str, float]:
    """The same fine-tuning from the step-0 params (supervised from scratch)."""
    return {f"{k}_random_init": v for k, v in self.evaluate(state).items()}


def build(context: Context) -> Finetune:
  return Finetune(context)


__all__ = ["Finetune", "augment", "balanced_subset", "build", "metric_name"]
