"""Protocol `finetune`: the whole backbone fine-tuned on a fraction of labels.

SimCLRv2's semi-supervised protocol (Chen et al. 2020, arXiv:2006.10029):
for each fraction f of `config.eval.finetune_fractions` (default 1%, 10%,
100%), a class-balanced subset of the training split (`config.data.
train_split`; per class `max(1, round(f * count))` examples, drawn by a
permutation seeded with `eval.finetune_seed`, so the subset is fixed per
seed and nested neither by accident nor design) trains the backbone and a
linear head together for `eval.finetune_steps` steps of
`eval.finetune_batch_size` images (drawn with replacement from the subset),
with random crop (reflect-pad by h/8, crop back) and horizontal flip done
in JAX on the evaluation images, by optax SGD with Nesterov momentum 0.9
(or AdamW) on a cosine schedule from `eval.finetune_lr` after
`eval.finetune_warmup_steps` of linear warm-up; the backbone's updates are
scaled by `eval.finetune_backbone_lr_scale`.
The metric is the top-1 (%) of the fine-tuned model on `data.eval_split`.

The head starts at zero (`eval.finetune_head="zeros"`, the default and
SimCLRv2's recipe) or (`"probe"`) as the offline linear probe of
`evals.linear` fitted on the subset's frozen, un-augmented features, its
standardisation folded into the weights: LP-FT (Kumar et al. 2022,
arXiv:2202.10054), which starts fine-tuning from the probe's predictions.
Measured on Fashion-MNIST (the zoo's MAE run, 300 steps of SGD 0.01, no
warm-up, backbone scale 1): the probe start scored 40.8 / 11.2 / 23.8% at
1 / 10 / 100% against the zero start's 47.0 / 59.4 / 62.3%. The folded head
has weights of size 1/std, so its first gradients into the backbone are
large; LP-FT needs a much smaller backbone lr (`eval.finetune_backbone_lr_
scale`) and a warm-up (`eval.finetune_warmup_steps`), not yet tuned, so it
is not the default.

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
    num_classes = self._num_classes
    opt = optimizer(
      e.finetune_optimizer,
      e.finetune_lr,
      e.finetune_steps,
      warmup_steps=e.finetune_warmup_steps,
    )
    self._opt = opt
    backbone_scale = e.finetune_backbone_lr_scale

    def logits_fn(params, head, extra, images):
      return apply_head(head, features(params, extra, {"image": images}))

    def loss_fn(trainable, extra, images, labels, rng):
      params, head = trainable
      logits = logits_fn(params, head, extra, augment(images, rng))
      ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
      return jnp.mean(ce)

    def step(trainable, opt_state, extra, images, labels, rng):
      loss, grads = jax.value_and_grad(loss_fn)(
        trainable, extra, images, labels, rng
      )
      updates, opt_state = opt.update(grads, opt_state, trainable)
      backbone, head = updates
      backbone = jax.tree.map(lambda u: backbone_scale * u, backbone)
      updates = (backbone, head)
      return optax.apply_updates(trainable, updates), opt_state, loss

    def new_head(params, extra, images):
      feats = features(params, extra, {"image": images})
      return init_head(int(np.prod(feats.shape[1:])), num_classes)

    self._init_head = new_head
    self._step = jax.jit(step)
    self._features = jax.jit(
      lambda p, x, b: flat(features(p, x, b)),
      out_shardings=mesh_lib.data_sharding(self._mesh),
    )
    self._predict = jax.jit(
      lambda p, h, x, b: jnp.argmax(logits_fn(p, h, x, b["image"]), -1),
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

  def _head(self, params, extra, images, labels):
    """The head fine-tuning starts from (eval.finetune_head)."""
    if self._config.eval.finetune_head == "zeros":
      return self._init_head(params, extra, jnp.asarray(images[:1]))
    feats = self._batched(lambda b: self._features(params, extra, b), images)
    return linear.probe_head(
      feats,
      labels,
      num_classes=self._num_classes,
      steps=self._config.eval.linear_steps,
      seed=self._config.eval.finetune_seed,
    )

  def finetune(self, state, fraction: float):
    """(params, head) fine-tuned from copies of `state.params` on the
    class-balanced `fraction` of the training split."""
    e = self._config.eval
    (train_x, train_y), _ = self._splits()
    subset = balanced_subset(train_y, fraction, seed=e.finetune_seed)
    rep = mesh_lib.replicated(self._mesh)
    params = jax.tree.map(jnp.copy, state.params)
    extra = state.extra
    head = jax.device_put(
      self._head(params, extra, train_x[subset], train_y[subset]), rep
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
        extra,
        self._global(train_x[idx]),
        self._global(train_y[idx].astype(np.int32)),
        jax.random.fold_in(base, i),
      )
    return trainable

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
