"""The online linear probe wrapper: SSL gradients untouched, probe learns."""

import jax
import jax.numpy as jnp
import methods_testing as mt
import numpy as np
import pytest

from jaxssl import configs_lib, methods
from jaxssl.methods import online_probe


def _setup(n=8):
  config = mt.load_config("quickstart", "smoke")
  batch = mt.multicrop_batch(config, n)
  batch["label"] = jnp.asarray(np.arange(n) % 4, jnp.int32)
  base = methods.build(config)
  probed = online_probe.with_online_probe(base, num_classes=4)
  return config, base, probed, batch


def test_ssl_gradient_identical_with_the_probe_on_and_off():
  _, base, probed, batch = _setup()
  params, extra = probed.init(jax.random.key(0), batch)
  assert set(params) == {"method", "online_probe"}
  # A non-zero probe, so that its cross-entropy has a backbone-shaped
  # gradient path that the stop_gradient must cut.
  params["online_probe"]["w"] = 0.1 * jax.random.normal(
    jax.random.key(1), params["online_probe"]["w"].shape
  )
  rng, step = jax.random.key(2), jnp.int32(0)

  @jax.jit
  def both(params):  # one compile for the two gradients
    on = jax.value_and_grad(probed.loss, has_aux=True)
    off = jax.value_and_grad(base.loss, has_aux=True)
    return (
      on(params, extra, batch, rng, step),
      off(params["method"], extra, batch, rng, step),
    )

  ((loss_on, (_, metrics)), g_on), ((loss_off, _), g_off) = both(params)
  np.testing.assert_array_equal(loss_on, loss_off)  # train/loss unchanged
  jax.tree.map(np.testing.assert_array_equal, g_on["method"], g_off)
  assert float(jnp.abs(g_on["online_probe"]["w"]).sum()) > 0
  assert {"online_probe_loss", "online_probe_top1"} <= set(metrics)
  assert 0.0 <= float(metrics["online_probe_top1"]) <= 100.0


def test_probe_params_get_updates_and_features_unwrap():
  config, base, probed, batch = _setup()
  params, extra = probed.init(jax.random.key(0), batch)
  history, state = mt.train(config, probed, params, extra, batch, steps=2)
  assert not np.array_equal(
    history[0]["online_probe"]["w"], state.params["online_probe"]["w"]
  )
  labels = probed.param_labels(params)
  assert set(jax.tree.leaves(labels["online_probe"])) == {"online_probe"}
  assert not probed.param_groups["online_probe"].weight_decay
  eval_batch = {"image": batch[sorted(config.data.views)[0]][:, 0]}
  np.testing.assert_array_equal(
    probed.features(params, extra, eval_batch),
    base.features(params["method"], extra, eval_batch),
  )


def test_clipping_leaves_the_ssl_update_unchanged():
  # With global-norm clipping active, a probe counted in the norm would
  # shrink the SSL update; clipped apart, the backbone moves as without it.
  config, base, probed, batch = _setup()
  config.optim.clip_grad_norm = 1e-3
  params, extra = probed.init(jax.random.key(0), batch)
  params["online_probe"]["w"] = 10.0 * jax.random.normal(
    jax.random.key(1), params["online_probe"]["w"].shape
  )
  _, on = mt.train(config, probed, params, extra, batch, steps=2)
  _, off = mt.train(config, base, params["method"], extra, batch, steps=2)
  jax.tree.map(
    lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7),
    on.params["method"],
    off.params,
  )
  assert probed.param_groups["online_probe"].clip_apart


def test_batches_without_labels_give_one_line_error():
  _, _, probed, batch = _setup()
  del batch["label"]
  with pytest.raises(ValueError, match="config.train.online_probe") as err:
    probed.init(jax.random.key(0), batch)
  assert "\n" not in str(err.value)
  with pytest.raises(ValueError, match="config.train.online_probe"):
    online_probe.with_online_probe(probed, num_classes=0)


def test_off_by_default():
  assert configs_lib.base_config().train.online_probe is False
