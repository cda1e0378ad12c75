"""Optimizers and schedules: closed-form values, parameter groups.

The default groups must give exactly the optimizer of the old `ndim >= 2`
weight-decay mask (kept here as `_old_make`); each `ParamGroup` option is
checked against its definition (frozen weights bit-identical, fresh inner
state at unfreeze, no decay, constant lr).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxssl import configs_lib
from jaxssl.methods import base
from jaxssl.train import optim


def _optim(**kw):
  c = configs_lib.base_config().optim
  for k, v in kw.items():
    c[k] = v
  return c


def test_schedule_warmup_then_cosine():
  o = _optim(lr=0.3, warmup_steps=10, end_lr_ratio=0.0)
  sched = optim.schedule(o, batch_size=512, total_steps=110)
  peak = 0.3 * 512 / 256
  np.testing.assert_allclose(sched(0), 0.0, atol=1e-7)
  np.testing.assert_allclose(sched(5), peak / 2, rtol=1e-6)
  np.testing.assert_allclose(sched(10), peak, rtol=1e-6)
  # Cosine half way through the decay: lr = peak * (1 + cos(pi/2)) / 2.
  np.testing.assert_allclose(sched(60), peak / 2, rtol=1e-5)
  np.testing.assert_allclose(sched(110), 0.0, atol=1e-6)


def test_no_lr_scaling():
  o = _optim(lr=0.01, lr_scaling="none")
  assert optim.peak_lr(o, 4096) == 0.01


@pytest.mark.parametrize("name", ["lars", "adamw", "sgd"])
def test_decay_skips_biases_and_norms(name):
  params = {"w": jnp.ones((3, 3)), "b": jnp.ones((3,))}
  o = _optim(
    name=name, lr=0.1, weight_decay=0.5, warmup_steps=0, lr_scaling="none"
  )
  tx, _ = optim.make(o, batch_size=256, total_steps=10)
  state = tx.init(params)
  zeros = jax.tree.map(jnp.zeros_like, params)
  updates, _ = tx.update(zeros, state, params)
  # Zero gradient: only weight decay moves parameters, and only matrices.
  assert float(jnp.abs(updates["b"]).max()) == 0.0
  assert float(jnp.abs(updates["w"]).max()) > 0.0


def test_clipping_chains_in():
  o = _optim(
    name="sgd",
    lr=1.0,
    momentum=0.0,
    weight_decay=0.0,
    warmup_steps=0,
    lr_scaling="none",
    clip_grad_norm=1.0,
    end_lr_ratio=1.0,
  )
  tx, _ = optim.make(o, batch_size=256, total_steps=10)
  params = {"w": jnp.zeros((2, 2))}
  updates, _ = tx.update({"w": jnp.full((2, 2), 10.0)}, tx.init(params), params)
  np.testing.assert_allclose(optax.tree.norm(updates), 1.0, rtol=1e-5)


def _old_make(o, batch_size, total_steps):
  """The optimizer before parameter groups: one optax chain, ndim mask."""

  def decay_mask(params):
    return jax.tree.map(lambda p: p.ndim >= 2, params)

  lr = optim.schedule(o, batch_size, total_steps)
  if o.name == "lars":
    tx = optax.lars(
      lr,
      weight_decay=o.weight_decay,
      weight_decay_mask=decay_mask,
      trust_coefficient=o.lars_trust,
      trust_ratio_mask=decay_mask,
      momentum=o.momentum,
    )
  elif o.name == "adamw":
    tx = optax.adamw(
      lr, b1=o.b1, b2=o.b2, weight_decay=o.weight_decay, mask=decay_mask
    )
  else:
    tx = optax.chain(
      optax.add_decayed_weights(o.weight_decay, decay_mask),
      optax.sgd(lr, momentum=o.momentum),
    )
  if o.clip_grad_norm > 0:
    tx = optax.chain(optax.clip_by_global_norm(o.clip_grad_norm), tx)
  return tx


def _params(seed=0):
  k = jax.random.split(jax.random.key(seed), 5)
  return {
    "conv": {"kernel": jax.random.normal(k[0], (3, 3, 2, 4))},
    "dense": {
      "kernel": jax.random.normal(k[1], (4, 5)),
      "bias": jax.random.normal(k[2], (5,)),
    },
    "norm": {"scale": 1 + 0.1 * jax.random.normal(k[3], (5,))},
    "pos": jax.random.normal(k[4], (1, 3, 5)),
  }


def _grads(params, step):
  leaves, treedef = jax.tree.flatten(params)
  keys = jax.random.split(jax.random.key(100 + step), len(leaves))
  return jax.tree.unflatten(
    treedef,
    [jax.random.normal(k, p.shape) for k, p in zip(keys, leaves)],
  )


def _run(tx, params, steps, grads=_grads):
  """The params after each of `steps` updates (index 0: the initial ones)."""
  state = tx.init(params)
  update = jax.jit(tx.update)
  history = [params]
  for step in range(steps):
    updates, state = update(grads(params, step), state, params)
    params = optax.apply_updates(params, updates)
    history.append(params)
  return history


@pytest.mark.parametrize("name", ["lars", "adamw", "sgd"])
@pytest.mark.parametrize("clip", [0.0, 1.0])
def test_default_groups_equal_the_old_ndim_mask(name, clip):
  o = _optim(
    name=name,
    lr=0.5,
    weight_decay=0.1,
    warmup_steps=2,
    clip_grad_norm=clip,
    momentum=0.9,
  )
  params = _params()
  old = _run(_old_make(o, 512, 8), params, 6)
  new = _run(optim.make(o, 512, 8)[0], params, 6)
  for step, (a, b) in enumerate(zip(old, new)):
    jax.tree.map(
      lambda x, y, s=step: np.testing.assert_array_equal(x, y, err_msg=s), a, b
    )
  # The updates did move every parameter.
  for a, b in zip(jax.tree.leaves(old[0]), jax.tree.leaves(new[-1])):
    assert float(jnp.abs(a - b).max()) > 0


def _labels(params):
  """The default labels, with the "dense" layer in a group of its own."""
  labels = base.default_param_labels(params)
  labels["dense"] = {"kernel": "special", "bias": "special"}
  return labels


def _make(o, special, **kw):
  groups = {**base.DEFAULT_PARAM_GROUPS, "special": special}
  return optim.make(
    o, 256, kw.pop("total_steps", 20), param_labels=_labels, param_groups=groups
  )[0]


@pytest.mark.parametrize("name", ["lars", "adamw", "sgd"])
@pytest.mark.parametrize("clip", [0.0, 1.0])
def test_frozen_until_step_is_bit_identical_then_moves(name, clip):
  until = 3
  o = _optim(name=name, lr=0.1, weight_decay=0.5, clip_grad_norm=clip)
  o.warmup_steps = 0
  history = _run(
    _make(o, base.ParamGroup(frozen_until_step=until)), _params(), 6
  )
  for step, params in enumerate(history):
    for key in ("kernel", "bias"):
      same = np.array_equal(params["dense"][key], history[0]["dense"][key])
      assert same == (step <= until), (step, key)
    # The other groups move from the first update on.
    if step:
      assert not np.array_equal(
        params["conv"]["kernel"], history[0]["conv"]["kernel"]
      )


def test_frozen_until_step_starts_a_fresh_inner_optimizer():
  """AdamW's first update after unfreeze = a fresh AdamW's first update.

  Under a stop-gradient the moments would start at zero at step S while
  Adam's count (bias correction) had advanced S steps: the first update
  would be ~sqrt(1 - b2^S) / (1 - b1^S) times too large or small.
  """
  until = 4
  o = _optim(
    name="adamw",
    lr=0.01,
    weight_decay=0.1,
    warmup_steps=2,
    lr_scaling="none",
    end_lr_ratio=0.0,
  )
  total = 20
  tx = _make(o, base.ParamGroup(frozen_until_step=until), total_steps=total)
  history = _run(tx, _params(), until + 2)
  # A fresh AdamW on the dense layer alone, fed the same gradients from
  # step S on, with the learning rate of the global schedule at step S.
  sched = optim.schedule(o, 256, total)
  fresh = optax.adamw(
    lambda count: sched(count + until), b1=o.b1, b2=o.b2, weight_decay=0.1
  )
  dense = history[0]["dense"]
  expected = _run(
    fresh,
    dense,
    2,
    grads=lambda p, s: _grads(_params(), until + s)["dense"],
  )
  for step in (1, 2):
    jax.tree.map(
      lambda a, b: np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7),
      history[until + step]["dense"],
      expected[step],
    )
  # And the frozen steps left the dense layer's Adam state untouched.
  state = tx.init(_params())
  _, state = jax.jit(tx.update)(_grads(_params(), 0), state, _params())
  inner = state.inner_states["special"].inner_state  # ConditionallyMaskState
  assert int(inner.step) == 1
  adam = inner.inner_state[0]  # adamw's chain: scale_by_adam first
  assert int(adam.count) == 0
  np.testing.assert_array_equal(adam.mu["dense"]["kernel"], 0)


def test_frozen_until_step_is_not_counted_in_the_clipping_norm():
  # A huge gradient on the frozen layer does not shrink the others' updates.
  o = _optim(name="sgd", lr=1.0, momentum=0.0, weight_decay=0.0)
  o.update(
    warmup_steps=0, lr_scaling="none", clip_grad_norm=1e3, end_lr_ratio=1.0
  )
  tx = _make(o, base.ParamGroup(frozen_until_step=5))
  params = _params()
  grads = _grads(params, 0)
  grads["dense"] = jax.tree.map(lambda g: 1e6 * g, grads["dense"])
  updates, _ = tx.update(grads, tx.init(params), params)
  np.testing.assert_allclose(
    updates["conv"]["kernel"], -grads["conv"]["kernel"], rtol=1e-6
  )
  np.testing.assert_array_equal(updates["dense"]["kernel"], 0)


@pytest.mark.parametrize("name", ["lars", "adamw", "sgd"])
def test_frozen_never_moves_and_has_no_state(name):
  o = _optim(name=name, lr=0.1, weight_decay=0.5, clip_grad_norm=1.0)
  o.warmup_steps = 0
  tx = _make(o, base.ParamGroup(frozen=True))
  history = _run(tx, _params(), 4)
  for params in history:
    jax.tree.map(
      np.testing.assert_array_equal, params["dense"], history[0]["dense"]
    )
  assert not np.array_equal(
    history[-1]["norm"]["scale"], history[0]["norm"]["scale"]
  )
  # clip_grad_norm: (zero frozen grads, clip, groups) chained.
  state = tx.init(_params())[-1]
  masked = [
    leaf
    for leaf in jax.tree.leaves(state.inner_states["special"])
    if leaf.shape in ((4, 5), (5,))
  ]
  assert masked == []


@pytest.mark.parametrize("name", ["lars", "adamw", "sgd"])
def test_no_decay_group_gets_no_decay(name):
  o = _optim(
    name=name, lr=0.1, weight_decay=10.0, warmup_steps=0, lr_scaling="none"
  )
  params = _params()
  zeros = jax.tree.map(jnp.zeros_like, params)
  for special, moves in (
    (base.ParamGroup(weight_decay=False), False),
    (base.ParamGroup(), True),
  ):
    tx = _make(o, special)
    updates, _ = tx.update(zeros, tx.init(params), params)
    # Zero gradient: only weight decay moves a parameter.
    for key in ("kernel", "bias"):
      moved = float(jnp.abs(updates["dense"][key]).max()) > 0
      assert moved == moves, (special, key)
    assert float(jnp.abs(updates["conv"]["kernel"]).max()) > 0
    assert float(jnp.abs(updates["norm"]["scale"]).max()) == 0


def test_lars_no_decay_group_has_no_trust_ratio():
  # Unit lr, no momentum: without LARS adaptation the update is -lr * g.
  o = _optim(name="lars", lr=0.1, weight_decay=0.0, momentum=0.0)
  o.update(warmup_steps=0, lr_scaling="none", end_lr_ratio=1.0, lars_trust=1e-3)
  tx = _make(o, base.ParamGroup(weight_decay=False))
  params = _params()
  grads = _grads(params, 0)
  updates, _ = tx.update(grads, tx.init(params), params)
  np.testing.assert_allclose(
    updates["dense"]["kernel"], -0.1 * grads["dense"]["kernel"], rtol=1e-6
  )
  assert not np.allclose(
    updates["conv"]["kernel"], -0.1 * grads["conv"]["kernel"]
  )


def test_constant_lr_and_lr_scale():
  o = _optim(name="sgd", lr=0.2, momentum=0.0, weight_decay=0.0)
  o.update(warmup_steps=3, lr_scaling="none", end_lr_ratio=0.0)
  total = 10
  sched = optim.schedule(o, 256, total)
  params = _params()
  ones = jax.tree.map(jnp.ones_like, params)
  for special, lr_of_step in (
    (base.ParamGroup(constant_lr=True), lambda s: 0.2),
    (base.ParamGroup(constant_lr=True, lr_scale=0.5), lambda s: 0.1),
    (base.ParamGroup(lr_scale=3.0), lambda s: 3.0 * sched(s)),
  ):
    tx = _make(o, special, total_steps=total)
    state = tx.init(params)
    for step in range(total):
      updates, state = tx.update(ones, state, params)
      np.testing.assert_allclose(
        updates["dense"]["bias"], -lr_of_step(step), rtol=1e-6, atol=1e-9
      )
      # The rest follows the schedule (0 at step 0, peak at 3, 0 at 10).
      np.testing.assert_allclose(
        updates["conv"]["kernel"], -sched(step), rtol=1e-6, atol=1e-9
      )


def test_unknown_label_and_bad_group_fail():
  o = _optim(name="sgd")
  tx, _ = optim.make(
    o,
    256,
    10,
    param_labels=_labels,
    param_groups=base.DEFAULT_PARAM_GROUPS,
  )
  with pytest.raises(ValueError, match=r"param_labels gave \['special'\]"):
    tx.init(_params())
  with pytest.raises(ValueError, match="frozen_until_step=-1"):
    base.ParamGroup(frozen_until_step=-1)
  with pytest.raises(ValueError, match="exclude"):
    base.ParamGroup(frozen=True, frozen_until_step=2)
  with pytest.raises(ValueError, match=r"config.optim.name='adam'"):
    optim.make(_optim(name="adam"), 256, 10)
