"""Protocol `linear_sgd`: the papers' linear evaluation on frozen features.

The protocol behind the ImageNet "linear top-1" numbers of SimCLR, BYOL,
MoCo v3, DINO, SwAV, Barlow Twins, VICReg, SimSiam and MAE: a linear
classifier trained by SGD on the frozen backbone's features of *augmented*
training images, scored on the centre crops of the evaluation split. (The
`representation` protocol's probe is an offline L-BFGS fit on cached
features of un-augmented images: cheaper, and not what the papers report.)

Training: `eval.linear_sgd_steps` steps (or `eval.linear_sgd_epochs` over
`data.train_split`, counted at `eval.linear_sgd_batch_size`) of a new
zero-initialised linear head on `Method.features(params, extra, batch)`,
the method's inference-mode backbone (BatchNorm on its running statistics),
under `stop_gradient`: only the head is differentiated, so the backward pass
never enters the backbone, whose params are read and never changed. The
training images stream from the data pipeline (`jaxssl.data.pipeline`, the
same seeded, host-sharded tf.data stream as pretraining, seed
`eval.linear_sgd_seed`) with one augmented view each:
  random_resized_crop  random resized crop to `data.image_size` (area
                       `eval.linear_sgd_crop_scale`, default (0.08, 1),
                       aspect 3/4-4/3) + horizontal flip, on the host: the
                       ImageNet papers' protocol;
  pad_crop             the whole image, then in JAX a reflect-pad by h/8,
                       crop back and flip (CIFAR-style, as `finetune`).
Optimizer (`evals.supervised_head.optimizer`): `eval.linear_sgd_optimizer`
"sgd" (momentum 0.9, Nesterov if `eval.linear_sgd_nesterov`) or "lars"
(SimCLR's), peak lr `eval.linear_sgd_lr` x batch / 256 on a cosine decay to
0, no warm-up, L2 `eval.linear_sgd_weight_decay` on the kernel (default 0).
The step is one jitted function, the batch sharded over the mesh's "data"
axis; the cost is the backbone's forward pass.

Scoring: top-1 / top-5 (%) of the head on one pass over `data.eval_split`
through `DataKind.eval_batches` (resize to `data.image_size /
data.eval_crop_fraction`, centre crop), counted on the device.

Baseline (`_random_init`): the same protocol on the step-0 backbone.

Not implemented: DINO's ViT-S features (the cls tokens of the last four
blocks, concatenated, `n_last_blocks=4`) and MAE's BatchNorm (no affine)
before the head; the head sees `Method.features` as every protocol does.

Metrics: eval/linear_sgd_top1, eval/linear_sgd_top5 (+ `_random_init`).
The protocol costs a training run (90 epochs of forward passes on
ImageNet), so it is opt-in: list it in `config.eval.protocols`, where it
runs at every evaluation of a run (the ImageNet recipes evaluate only at
the end) and in `python -m jaxssl.eval --protocol linear_sgd`.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from absl import logging

from jaxssl.evals import supervised_head
from jaxssl.evals.base import Context
from jaxssl.train import mesh as mesh_lib

# Data kinds whose config sections the image pipeline reads.
IMAGE_KINDS = ("views", "images")


def num_steps(config, num_train: int) -> int:
  """`eval.linear_sgd_steps`, or its epochs over `num_train` images."""
  e = config.eval
  if e.linear_sgd_steps:
    return e.linear_sgd_steps
  per_epoch = num_train / e.linear_sgd_batch_size
  return max(1, math.ceil(e.linear_sgd_epochs * per_epoch))


def train_config(config) -> ml_collections.ConfigDict:
  """A copy of `config` whose training stream is the probe's: one view per
  image, `eval.linear_sgd_batch_size` a batch, seed `eval.linear_sgd_seed`.
  """
  from jaxssl.data.kinds import views  # pylint: disable=g-import-not-at-top

  e = config.eval
  rrc = e.linear_sgd_augment == "random_resized_crop"
  group = views.view_group(
    num_views=1,
    size=config.data.image_size,
    crop_scale=tuple(e.linear_sgd_crop_scale) if rrc else (1.0, 1.0),
    crop_ratio=(3 / 4, 4 / 3) if rrc else (1.0, 1.0),
    flip_prob=0.5 if rrc else 0.0,  # pad_crop flips in JAX
    jitter_prob=0.0,
    gray_prob=0.0,
    blur_prob=0.0,
    solarize_prob=0.0,
  )
  out = ml_collections.ConfigDict(config.to_dict())
  out.data.views = ml_collections.ConfigDict({"image": group})
  out.train.batch_size = e.linear_sgd_batch_size
  out.seed = e.linear_sgd_seed
  return out


class LinearSGD:
  """Trains linear heads on a state's frozen features and scores them."""

  def __init__(self, context: Context):
    c = context.config
    e = c.eval
    self._config = c
    self._mesh = context.mesh
    self._kind = context.kind
    num_classes = context.info.num_classes
    if not num_classes:
      raise ValueError(
        "config.eval.protocols: 'linear_sgd' needs a labelled dataset "
        f"({c.data.name!r} has no classes)"
      )
    if c.data.kind not in IMAGE_KINDS:
      raise ValueError(
        f"config.eval.protocols: 'linear_sgd' trains on images "
        f"(config.data.kind one of {list(IMAGE_KINDS)}), not "
        f"config.data.kind={c.data.kind!r}"
      )
    mesh_lib.check_batch_size(e.batch_size, self._mesh, "eval.batch_size")
    mesh_lib.check_batch_size(
      e.linear_sgd_batch_size, self._mesh, "eval.linear_sgd_batch_size"
    )
    self.steps = num_steps(c, context.info.num_train)
    self.peak_lr = e.linear_sgd_lr * e.linear_sgd_batch_size / 256
    opt = supervised_head.optimizer(
      e.linear_sgd_optimizer,
      self.peak_lr,
      self.steps,
      weight_decay=e.linear_sgd_weight_decay,
      nesterov=e.linear_sgd_nesterov,
    )
    self._opt = opt
    features = context.method.features
    pad_crop = e.linear_sgd_augment == "pad_crop"
    self._num_classes = num_classes

    def logits_fn(head, params, extra, images):
      feats = features(params, extra, {"image": images})
      return supervised_head.apply_head(head, jax.lax.stop_gradient(feats))

    def loss_fn(head, params, extra, images, labels):
      logits = logits_fn(head, params, extra, images)
      ce = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
      return jnp.mean(ce)

    def step(head, opt_state, params, extra, images, labels, rng):
      if pad_crop:
        images = supervised_head.augment(images, rng)
      loss, grads = jax.value_and_grad(loss_fn)(
        head, params, extra, images, labels
      )
      updates, opt_state = opt.update(grads, opt_state, head)
      return optax.apply_updates(head, updates), opt_state, loss

    def correct(head, params, extra, batch):
      logits = logits_fn(head, params, extra, batch["image"])
      hits = [
        supervised_head.topk_correct(logits, batch["label"], k) & batch["valid"]
        for k in (1, 5)
      ]
      return jnp.stack([jnp.sum(h) for h in hits])

    def feature_dim(params, extra, images):
      return features(params, extra, {"image": images})

    self.loss_fn = loss_fn  # (head, params, extra, images, labels) -> loss
    self._feature_shape = feature_dim
    rep = mesh_lib.replicated(self._mesh)
    self._step = jax.jit(
      step, donate_argnums=(0, 1), out_shardings=(rep, rep, rep)
    )
    self._correct = jax.jit(correct, out_shardings=rep)

  def _train_batches(self):
    from jaxssl.data import pipeline  # pylint: disable=g-import-not-at-top

    return pipeline.train_batches(train_config(self._config))

  def fit(self, params, extra) -> tuple[dict, list[float]]:
    """(the trained head, the loss of every step) on `params`' features."""
    e = self._config.eval
    s = self._config.data.image_size
    probe = jax.ShapeDtypeStruct((1, s, s, 3), jnp.float32)
    shape = jax.eval_shape(self._feature_shape, params, extra, probe).shape
    rep = mesh_lib.replicated(self._mesh)
    head = jax.device_put(
      supervised_head.init_head(int(np.prod(shape[1:])), self._num_classes),
      rep,
    )
    opt_state = jax.device_put(self._opt.init(head), rep)
    base = jax.random.key(e.linear_sgd_seed)
    losses, pending = [], []
    batches = self._train_batches()
    for i in range(self.steps):
      host = next(batches)
      batch = mesh_lib.to_global(
        {"image": host["image"][:, 0], "label": host["label"]}, self._mesh
      )
      head, opt_state, loss = self._step(
        head,
        opt_state,
        params,
        extra,
        batch["image"],
        batch["label"],
        jax.random.fold_in(base, i),
      )
      pending.append(loss)
      if len(pending) == 256:  # fetch in chunks: few live device scalars
        losses += [float(x) for x in jax.device_get(pending)]
        pending = []
        logging.info(
          "linear_sgd: step %d / %d, loss %.4f", i + 1, self.steps, losses[-1]
        )
    losses += [float(x) for x in jax.device_get(pending)]
    return head, losses

  def score(self, head, params, extra) -> dict[str, float]:
    """{top1, top5} (%) of `head` on the centre-cropped eval split."""
    c = self._config
    counts = np.zeros(2, np.int64)
    total = 0
    for host in self._kind.eval_batches(
      c,
      c.data.eval_split,
      batch_size=c.eval.batch_size // jax.process_count(),
      max_examples=0,
    ):
      batch = mesh_lib.to_global(
        {k: host[k] for k in ("image", "label", "valid")}, self._mesh
      )
      counts += np.asarray(self._correct(head, params, extra, batch))
      total += int(np.sum(host["valid"]))
    total = _all_hosts(total)
    top1, top5 = (100.0 * n / total for n in counts)
    return {"top1": top1, "top5": top5}

  def evaluate(self, state, *, final: bool = False) -> dict[str, float]:
    """{eval/linear_sgd_top1, eval/linear_sgd_top5}: the papers' probe."""
    del final  # always the whole training stream and eval split
    head, _ = self.fit(state.params, state.extra)
    acc = self.score(head, state.params, state.extra)
    return {f"eval/linear_sgd_{k}": v for k, v in acc.items()}

  def baselines(self, state) -> dict[str, float]:
    """The same protocol on the step-0 (random-init) backbone."""
    return {f"{k}_random_init": v for k, v in self.evaluate(state).items()}


def _all_hosts(count: int) -> int:
  """The sum of `count` over the processes."""
  if jax.process_count() == 1:
    return count
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top

  return int(np.sum(multihost_utils.process_allgather(np.int64(count))))


def build(context: Context) -> LinearSGD:
  return LinearSGD(context)


__all__ = ["IMAGE_KINDS", "LinearSGD", "build", "num_steps", "train_config"]
