"""Protocol finetune: class-balanced subsets, learning on a separable toy
set, the pretraining params left untouched, and its config checks."""

import types

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxssl import configs_lib, evals
from jaxssl.evals import finetune, linear, supervised_head
from jaxssl.methods import base
from jaxssl.train import mesh as mesh_lib


def test_subsets_are_class_balanced_and_fixed_per_seed():
  sizes = [100, 200, 50, 100, 100, 300, 80, 90, 10, 70]
  labels = np.repeat(np.arange(10), sizes)
  counts = np.bincount(labels)
  for fraction in (0.01, 0.1, 1.0):
    idx = finetune.balanced_subset(labels, fraction, seed=0)
    assert len(np.unique(idx)) == len(idx)
    got = np.bincount(labels[idx], minlength=10)
    want = np.maximum(1, np.round(fraction * counts)).astype(int)
    np.testing.assert_array_equal(got, want)
  a = finetune.balanced_subset(labels, 0.1, seed=0)
  again = finetune.balanced_subset(labels, 0.1, seed=0)
  np.testing.assert_array_equal(a, again)
  assert not np.array_equal(a, finetune.balanced_subset(labels, 0.1, seed=1))
  np.testing.assert_array_equal(
    finetune.balanced_subset(labels, 1.0, seed=3), np.arange(len(labels))
  )
  with pytest.raises(ValueError, match="fraction=0"):
    finetune.balanced_subset(labels, 0, seed=0)


def test_metric_names():
  assert [finetune.metric_name(f) for f in (0.01, 0.1, 1.0)] == [
    "eval/finetune_1pct",
    "eval/finetune_10pct",
    "eval/finetune_100pct",
  ]


def test_augment_is_a_crop_and_flip_of_each_image():
  x = jax.random.uniform(jax.random.key(0), (6, 16, 16, 3))
  augment = jax.jit(finetune.augment)
  out = augment(x, jax.random.key(1))
  assert out.shape == x.shape
  assert not np.allclose(out, x)  # some crop or flip moved pixels
  # Reflect padding and cropping keeps every value a value of the image.
  for i in range(6):
    assert np.isin(np.asarray(out[i]), np.asarray(x[i])).all()
  const = jnp.ones((2, 8, 8, 1)) * 0.3
  np.testing.assert_array_equal(augment(const, jax.random.key(2)), const)


def _toy(split_sizes=None):
  """A separable toy kind: class c's image is filled with c's colour."""
  rng = np.random.default_rng(0)
  colours = rng.uniform(size=(4, 3)).astype(np.float32)

  def make(n, seed):
    y = np.random.default_rng(seed).integers(0, 4, n).astype(np.int32)
    x = np.broadcast_to(colours[y][:, None, None], (n, 8, 8, 3)).copy()
    return x, y

  splits = {"train": make(256, 1), "test": make(128, 2)}

  def eval_batches(config, split, *, batch_size, max_examples):
    x, y = splits[split]
    if max_examples:
      x, y = x[:max_examples], y[:max_examples]
    for s in range(0, len(x), batch_size):
      xb, yb = x[s : s + batch_size], y[s : s + batch_size]
      real = len(xb)
      pad = batch_size - real
      yield {
        "image": np.concatenate([xb, np.zeros((pad, 8, 8, 3), np.float32)]),
        "label": np.concatenate([yb, np.zeros(pad, np.int32)]),
        "valid": np.arange(batch_size) < real,
      }

  kind = types.SimpleNamespace(eval_batches=eval_batches)
  info = types.SimpleNamespace(num_classes=4)
  return kind, info


def _method():
  def features(params, extra, batch):
    del extra
    pooled = batch["image"].mean(axis=(1, 2))
    return jnp.tanh(pooled @ params["w"] + params["b"])

  return base.Method(name="toy", init=None, loss=None, features=features)


def _config(**eval_keys):
  config = configs_lib.base_config()
  config.mesh.data = 8
  config.eval.batch_size = 64
  config.eval.finetune_steps = 60
  config.eval.finetune_batch_size = 32
  config.eval.finetune_lr = 0.1
  config.eval.finetune_fractions = (0.1, 1.0)
  for k, v in eval_keys.items():
    config.eval[k] = v
  return configs_lib.validate(config)


def test_finetuning_learns_a_separable_toy_set_and_leaves_params_untouched():
  config = _config()
  kind, info = _toy()
  mesh = mesh_lib.make_mesh(config.mesh)
  evaluator = finetune.build(evals.Context(config, _method(), mesh, info, kind))
  w = jax.random.normal(jax.random.key(0), (3, 16)) * 0.1
  state = types.SimpleNamespace(params={"w": w, "b": jnp.zeros(16)}, extra={})
  before = jax.tree.map(np.array, state.params)
  scores = evaluator.evaluate(state)
  assert set(scores) == {"eval/finetune_10pct", "eval/finetune_100pct"}
  # Chance is ~25%; the classes are separable by colour.
  assert scores["eval/finetune_100pct"] > 90.0
  assert scores["eval/finetune_10pct"] > 60.0
  jax.tree.map(np.testing.assert_array_equal, state.params, before)
  again = evaluator.evaluate(state)
  assert again == scores  # fixed seeds: deterministic


@pytest.mark.parametrize(
  "key,value,match",
  [
    ("finetune_fractions", (0.0,), "config.eval.finetune_fractions"),
    ("finetune_fractions", (), "config.eval.finetune_fractions"),
    ("finetune_fractions", (1.5,), "config.eval.finetune_fractions"),
    ("finetune_steps", 0, "config.eval.finetune_steps"),
    ("finetune_lr", 0.0, "config.eval.finetune_lr"),
    ("finetune_optimizer", "lars", "config.eval.finetune_optimizer"),
    ("finetune_batch_size", 0, "config.eval.finetune_batch_size"),
    ("finetune_warmup_steps", -1, "config.eval.finetune_warmup_steps"),
    ("finetune_head", "random", "config.eval.finetune_head"),
    ("finetune_backbone_lr_scale", -0.1, "config.eval.finetune_backbone_lr"),
    ("finetune_clip_norm", -1.0, "config.eval.finetune_clip_norm"),
  ],
)
def test_bad_keys_one_line_errors(key, value, match):
  with pytest.raises(ValueError, match=match) as err:
    _config(**{key: value})
  assert "\n" not in str(err.value)


def test_batch_not_divisible_names_the_key():
  config = _config(finetune_batch_size=12)
  kind, info = _toy()
  mesh = mesh_lib.make_mesh(config.mesh)
  with pytest.raises(ValueError, match="config.eval.finetune_batch_size=12"):
    finetune.build(evals.Context(config, _method(), mesh, info, kind))


def test_opt_in_and_fit():
  method = _method()  # declares "representation" (the default)
  config = configs_lib.base_config()
  assert "finetune" not in evals.selected(config, method)
  config.eval.protocols = ("representation", "finetune")
  assert evals.selected(config, method) == ("representation", "finetune")
  text = base.Method(
    name="text", init=None, loss=None, features=None, protocols=("mlm",)
  )
  config.eval.protocols = ("finetune",)
  with pytest.raises(ValueError, match="'finetune' does not fit method 'text'"):
    evals.selected(config, text)


def test_probe_head_folds_the_standardisation_into_the_weights():
  rng = np.random.default_rng(0)
  x = rng.normal(3.0, 5.0, (200, 6)).astype(np.float32)
  y = (x[:, 0] + 0.5 * x[:, 1] > 3.0).astype(np.int32)
  head = linear.probe_head(x, y, num_classes=2, l2_grid=(1e-3,))
  (xs,) = linear.standardize(x)
  ref = linear.fit(jnp.asarray(xs), jnp.asarray(y), 1e-3, num_classes=2)
  np.testing.assert_allclose(
    x @ np.asarray(head["w"]) + np.asarray(head["b"]),
    xs @ np.asarray(ref["w"]) + np.asarray(ref["b"]),
    rtol=1e-4,
    atol=1e-4,
  )


def test_fine_tuning_starts_from_the_linear_probe():
  # With a vanishing learning rate the fine-tuned model is its start: the
  # probe's accuracy (LP-FT), where a zero head predicts one class.
  kind, info = _toy()
  w = jax.random.normal(jax.random.key(0), (3, 16)) * 0.1
  state = types.SimpleNamespace(params={"w": w, "b": jnp.zeros(16)}, extra={})
  method = _method()
  scores = {}
  for head in ("probe", "zeros"):
    config = _config(finetune_lr=1e-9, finetune_steps=2, finetune_head=head)
    config.eval.finetune_fractions = (1.0,)
    mesh = mesh_lib.make_mesh(config.mesh)
    evaluator = finetune.build(evals.Context(config, method, mesh, info, kind))
    scores[head] = evaluator.evaluate(state)["eval/finetune_100pct"]
  batches = {
    split: next(kind.eval_batches(None, split, batch_size=256, max_examples=0))
    for split in ("train", "test")
  }
  feats = {
    split: np.asarray(
      method.features(state.params, {}, {"image": jnp.asarray(b["image"])})
    )[b["valid"]]
    for split, b in batches.items()
  }
  probe = linear.probe_head(
    feats["train"], batches["train"]["label"], num_classes=4
  )
  pred = np.argmax(feats["test"] @ np.asarray(probe["w"]) + probe["b"], -1)
  test_y = batches["test"]["label"][batches["test"]["valid"]]
  want = 100.0 * np.mean(pred == test_y)
  assert scores["probe"] == pytest.approx(want, abs=1.0)
  assert scores["probe"] > 90.0


def test_backbone_lr_scale_zero_trains_the_head_alone():
  kind, info = _toy()
  w = jax.random.normal(jax.random.key(0), (3, 16)) * 0.1
  state = types.SimpleNamespace(params={"w": w, "b": jnp.zeros(16)}, extra={})
  for scale, moved in ((0.0, False), (1.0, True)):
    config = _config(finetune_backbone_lr_scale=scale)
    mesh = mesh_lib.make_mesh(config.mesh)
    evaluator = finetune.build(
      evals.Context(config, _method(), mesh, info, kind)
    )
    params, head = evaluator.finetune(state, 1.0)
    assert np.any(np.asarray(head["w"]) != 0)
    assert (not np.array_equal(params["w"], w)) == moved


@pytest.mark.parametrize("augmented", [True, False])
def test_augment_off_trains_on_the_images_themselves(monkeypatch, augmented):
  calls = []

  def spy(images, rng):
    calls.append(images.shape)
    return images

  monkeypatch.setattr(finetune, "augment", spy)
  kind, info = _toy()
  w = jax.random.normal(jax.random.key(0), (3, 16)) * 0.1
  state = types.SimpleNamespace(params={"w": w, "b": jnp.zeros(16)}, extra={})
  config = _config(finetune_augment=augmented, finetune_steps=2)
  mesh = mesh_lib.make_mesh(config.mesh)
  evaluator = finetune.build(evals.Context(config, _method(), mesh, info, kind))
  evaluator.finetune(state, 1.0)
  assert bool(calls) == augmented  # traced once into the jitted step


def test_standardised_head_is_folded_back_onto_the_raw_features():
  """The returned head on raw features gives the logits of the trained
  head on features standardised by the subset's statistics."""
  kind, info = _toy()
  w = jax.random.normal(jax.random.key(0), (3, 16)) * 0.1
  state = types.SimpleNamespace(params={"w": w, "b": jnp.zeros(16)}, extra={})
  method = _method()
  config = _config(
    finetune_head="probe",
    finetune_standardize=True,
    finetune_backbone_lr_scale=0.0,
    finetune_lr=1e-9,
    finetune_steps=1,
  )
  mesh = mesh_lib.make_mesh(config.mesh)
  evaluator = finetune.build(evals.Context(config, method, mesh, info, kind))
  _, head = evaluator.finetune(state, 1.0)
  batch = next(kind.eval_batches(None, "train", batch_size=256, max_examples=0))
  feats = np.asarray(
    method.features(state.params, {}, {"image": jnp.asarray(batch["image"])})
  )[batch["valid"]]
  labels = batch["label"][batch["valid"]]
  mean, std = linear.moments(feats)
  probe = linear.probe_head((feats - mean) / std, labels, num_classes=4)
  np.testing.assert_allclose(
    feats @ np.asarray(head["w"]) + np.asarray(head["b"]),
    ((feats - mean) / std) @ np.asarray(probe["w"]) + np.asarray(probe["b"]),
    rtol=1e-3,
    atol=1e-3,
  )


@pytest.mark.parametrize("name", ["sgd", "adamw"])
def test_clip_norm_bounds_each_steps_gradient(name):
  # A gradient of global norm 1e4 is first scaled to the clip norm: the
  # update equals the one of the gradient rescaled by hand.
  params = {"w": jnp.ones((3, 2)), "b": jnp.zeros(2)}
  grads = {"w": jnp.full((3, 2), 1e4), "b": jnp.full(2, -1e4)}
  norm = float(optax.global_norm(grads))
  clipped = supervised_head.optimizer(name, 0.1, 10, clip_norm=2.0)
  plain = supervised_head.optimizer(name, 0.1, 10)
  got, _ = clipped.update(grads, clipped.init(params), params)
  scaled = jax.tree.map(lambda g: g * 2.0 / norm, grads)
  want, _ = plain.update(scaled, plain.init(params), params)
  for k in params:
    np.testing.assert_allclose(got[k], want[k], rtol=1e-5)
  unclipped, _ = plain.update(grads, plain.init(params), params)
  if name == "sgd":  # adam's update is scale-free
    assert float(optax.global_norm(unclipped)) > 100 * float(
      optax.global_norm(got)
    )
  # Below the clip norm the gradient is untouched.
  small = jax.tree.map(lambda g: g * 1e-5, grads)
  got, _ = clipped.update(small, clipped.init(params), params)
  want, _ = plain.update(small, plain.init(params), params)
  for k in params:
    np.testing.assert_allclose(got[k], want[k], rtol=1e-6)


def test_warmup_starts_the_schedule_at_zero():
  opt = supervised_head.optimizer("sgd", 0.1, 10, warmup_steps=4)
  params = {"w": jnp.ones((2, 2))}
  grads = {"w": jnp.ones((2, 2))}
  state = opt.init(params)
  first, state = opt.update(grads, state, params)
  second, _ = opt.update(grads, state, params)
  assert float(jnp.abs(first["w"]).max()) == 0.0
  assert float(jnp.abs(second["w"]).max()) > 0.0
  # A warm-up as long as the run (a smoke run's 3 steps) leaves one step
  # of cosine rather than failing.
  short = supervised_head.optimizer("sgd", 0.1, 3, warmup_steps=30)
  first, _ = short.update(grads, short.init(params), params)
  assert float(jnp.abs(first["w"]).max()) == 0.0
