"""Online and target networks of BYOL, SimSiam and MoCo v3.

The online network is an encoder (backbone + projector) followed by a
predictor (`OnlineNetwork`); each view goes through it separately
(`encode_views`), so BatchNorm uses one view's batch statistics, as the
official code of the three methods does. BYOL and MoCo v3 keep a target
encoder in `extra["teacher"]` (params and BatchNorm statistics), an EMA of
the online encoder with BYOL's cosine momentum schedule
(`common.ema_momentum`, `ema_update`); SimSiam's target is the online
encoder under stop-gradient.
"""

from __future__ import annotations

import flax.linen as nn
import jax

from jaxssl.methods import common


class OnlineNetwork(nn.Module):
  """Backbone + projector (`encoder`) followed by a `predictor` on "z".

  Params and BatchNorm statistics are `{"encoder": ..., "predictor": ...}`,
  so the encoder's part can be copied to (and averaged into) a target
  network built from the same `models.Encoder`.
  """

  encoder: nn.Module
  predictor: nn.Module

  @nn.compact
  def __call__(self, images: jax.Array, *, train: bool) -> dict[str, jax.Array]:
    """Returns the encoder's dict ("feats", "z") plus "p", the prediction."""
    out = dict(self.encoder(images, train=train))
    out["p"] = self.predictor(out["z"], train=train)
    return out


def init(online: OnlineNetwork, rng: jax.Array, images: jax.Array):
  """`(params, {"batch_stats": ...})` of `online` from sample images."""
  return common.init_variables(online, rng, images)


def with_target(params, extra):
  """`extra` plus a target encoder ("teacher") equal to the online one."""
  teacher = {
    "params": params["encoder"],
    "batch_stats": extra["batch_stats"].get("encoder", {}),
  }
  return {**extra, "teacher": teacher}


def encode_views(module: nn.Module, params, batch_stats, views: jax.Array):
  """Applies `module` in training mode to each view of `views` in turn.

  BatchNorm normalises each view with its own batch statistics (as the
  official BYOL, SimSiam and MoCo v3 code, which call the network once per
  view) and the running statistics are threaded through the views.

  Args:
    module: a Linen module with `__call__(images, *, train)`.
    params: its params.
    batch_stats: its "batch_stats" collection ({} if it has none).
    views: [n, v, h, w, 3] images.

  Returns:
    (outputs, batch_stats): the list of the v per-view outputs and the
    running statistics after the v updates.
  """
  if views.ndim != 5:
    raise ValueError(f"views must be [n, v, h, w, c], got {views.shape}")
  outs = []
  for v in range(views.shape[1]):
    out, state = module.apply(
      {"params": params, "batch_stats": batch_stats},
      views[:, v],
      train=True,
      mutable=["batch_stats"],
    )
    batch_stats = state.get("batch_stats", batch_stats)
    outs.append(out)
  return outs, batch_stats


def features(
  encoder: nn.Module,
  params,
  extra,
  images: jax.Array,
  *,
  network: str = "student",
):
  """A backbone's features in inference mode (`Method.features`).

  Args:
    encoder: the `encoder` of the `OnlineNetwork` whose params these are.
    params: the `OnlineNetwork`'s params.
    extra: the method's extra state, with the online "batch_stats" and
      the target "teacher".
    images: [n, h, w, 3].
    network: "student", the online backbone, or "teacher", the EMA target's
      (`config.method.eval_network`).

  Returns:
    [n, d] backbone features.
  """
  if network == "teacher":
    teacher = extra["teacher"]
    return common.encoder_features(
      encoder,
      teacher["params"],
      {"batch_stats": teacher["batch_stats"]},
      images,
    )
  return common.encoder_features(
    encoder,
    params["encoder"],
    {"batch_stats": extra["batch_stats"].get("encoder", {})},
    images,
  )


def ema_update(config, params, extra, step):
  """`extra["teacher"]` moved towards the online encoder at `step`'s momentum.

  Both the teacher's params and its BatchNorm statistics are averaged:
  teacher = m * teacher + (1 - m) * online, m = `common.ema_momentum`.
  """
  m = common.ema_momentum(config, step)
  teacher = extra["teacher"]
  new_teacher = {
    "params": common.ema(teacher["params"], params["encoder"], m),
    "batch_stats": common.ema(
      teacher["batch_stats"], extra["batch_stats"].get("encoder", {}), m
    ),
  }
  return {**extra, "teacher": new_teacher}
