"""Protocol `zeroshot`: retrieval and zero-shot numerics with known answers,
the protocol on the real image_text kind with a hand-made method, and clip
through `train.run` with its baselines."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl import configs_lib, evals, train
from jaxssl.data import kinds
from jaxssl.data.kinds import image_text
from jaxssl.evals import zeroshot
from jaxssl.methods import base
from jaxssl.train import loop
from jaxssl.train import mesh as mesh_lib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))


@pytest.fixture(scope="module", autouse=True)
def _cache(data_caches):
  return data_caches


def test_recall_of_a_perfect_and_a_reversed_retrieval():
  x = np.eye(12)
  assert zeroshot.recall_at(x, x) == {1: 100.0, 5: 100.0, 10: 100.0}
  # Keys at angles 0, 0.1, ...; every query points at key 0, so query i's
  # match (key i) ranks i-th (0-based): a hit at k iff i < k.
  n = 12
  keys = np.stack([np.cos(np.arange(n) * 0.1), np.sin(np.arange(n) * 0.1)], 1)
  q = keys[:1].repeat(n, 0)
  got = zeroshot.recall_at(q, keys)
  for k in (1, 5, 10):
    assert got[k] == pytest.approx(100.0 * min(k, n) / n)


def test_constant_embeddings_score_exactly_chance():
  n = 40
  x = np.ones((n, 4)) / 2.0
  got = zeroshot.recall_at(x, x)
  for k in (1, 5, 10):
    assert got[k] == pytest.approx(100.0 * k / n)


def test_tied_duplicates_share_the_credit():
  # Keys 0 and 1 are identical: query 0 finds its match tied with one
  # other key (credit 1/2 at k=1), query 2 alone.
  keys = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
  got = zeroshot.recall_at(keys, keys, ks=(1, 2))
  assert got[1] == pytest.approx(100.0 * (0.5 + 0.5 + 1.0) / 3)
  assert got[2] == pytest.approx(100.0)


def test_prompt_ensemble_and_top1():
  # Two classes, two prompts each; class 1's prompts point two ways.
  prompts = np.array([[2.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
  w = zeroshot.class_embeddings(prompts, 2)
  np.testing.assert_allclose(w[0], [1.0, 0.0])
  np.testing.assert_allclose(w[1], [np.sqrt(0.5), np.sqrt(0.5)])
  images = np.array([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
  assert zeroshot.zeroshot_top1(images, np.array([0, 1, 1]), w) == 100.0
  assert zeroshot.zeroshot_top1(
    images, np.array([1, 1, 1]), w
  ) == pytest.approx(200.0 / 3)


def _pairs_config():
  config = configs_lib.load(os.path.join(ROOT, "configs", "clip_quick.py"))
  configs_lib.make_smoke(config)
  config.mesh.data = 8
  config.eval.batch_size = 256
  return configs_lib.validate(config)


def _oracle(config):
  """A method that knows the answer: images embed as the one-hot of their
  label, texts as the one-hot of the digit word they contain."""
  tok, _ = image_text.get_tokenizer(config)
  vocab = tok.get_vocab_size(with_added_tokens=True)
  word_class = np.zeros((vocab, 10), np.float32)
  for c, name in enumerate(image_text.CLASS_NAMES):
    (i,) = tok.encode(name, add_special_tokens=False).ids
    word_class[i, c] = 1.0

  def encode_image(params, extra, batch):
    del params, extra
    return jax.nn.one_hot(batch["label"], 10)

  def encode_text(params, extra, batch):
    del params, extra
    hot = jnp.asarray(word_class)[batch["tokens"]] * ~batch["is_pad"][..., None]
    z = hot.sum(1) + 1e-3  # never all-zero (padding rows)
    return z / jnp.linalg.norm(z, axis=1, keepdims=True)

  return base.Method(
    name="oracle",
    init=lambda rng, batch: ({}, {}),
    loss=None,
    features=lambda p, e, b: b["image"].reshape(b["image"].shape[0], -1),
    protocols=("zeroshot",),
    encode_image=encode_image,
    encode_text=encode_text,
  )


class _State:
  params, extra = {}, {}


def test_protocol_on_the_test_pairs_with_an_oracle_method():
  config = _pairs_config()
  kind = kinds.get("image_text")
  mesh = mesh_lib.make_mesh(config.mesh)
  context = evals.Context(
    config, _oracle(config), mesh, kind.info(config), kind
  )
  scores = zeroshot.build(context).evaluate(_State())
  assert scores["eval/zeroshot_top1"] == 100.0
  # Every caption of image i's class ties with i's own (n_y of them): the
  # expected hit at k is min(k / n_y, 1), in both directions.
  from jaxssl.data import embedded  # pylint: disable=g-import-not-at-top

  labels = embedded.load("test")["label"]
  n_y = np.bincount(labels, minlength=10)[labels]
  for k in (1, 5, 10):
    want = 100.0 * np.mean(np.minimum(k / n_y, 1.0))
    assert scores[f"eval/i2t_recall@{k}"] == pytest.approx(want, rel=1e-3)
    assert scores[f"eval/t2i_recall@{k}"] == pytest.approx(want, rel=1e-3)


def test_protocol_refuses_a_method_without_text_tower():
  config = _pairs_config()
  kind = kinds.get("image_text")
  method = base.Method(name="images_only", init=None, loss=None, features=None)
  mesh = mesh_lib.make_mesh(config.mesh)
  context = evals.Context(config, method, mesh, kind.info(config), kind)
  with pytest.raises(ValueError, match="config.method.name='images_only'"):
    zeroshot.build(context)


@pytest.mark.slow
def test_clip_smoke_through_run_with_baselines(tmp_path):
  config = _pairs_config()
  config.eval.baselines = True
  config.train.progress_bar = False
  summary = train.run(config, str(tmp_path / "clip"))
  keys = ["eval/zeroshot_top1"] + [
    f"eval/{d}_recall@{k}" for d in ("i2t", "t2i") for k in (1, 5, 10)
  ]
  for key in keys + ["eval/knn_top1"]:
    assert 0.0 <= summary[key] <= 100.0, key
    assert f"{key}_random_init" in summary, key
  assert "eval/knn_top1_raw_pixels" in summary
  text = loop.format_summary(summary, "clip", config)
  assert "eval/zeroshot_top1" in text and "random-init encoder" in text


# --- Prompt sets (config.eval.zeroshot_templates) ----------------------------


def _hashing_method(config):
  """Texts embed as a fixed random projection of their token counts, so
  every distinct prompt has its own direction (images: constant)."""
  tok, _ = image_text.get_tokenizer(config)
  vocab = tok.get_vocab_size(with_added_tokens=True)
  proj = np.random.default_rng(0).standard_normal((vocab, 16))

  def encode_text(params, extra, batch):
    del params, extra
    hot = jax.nn.one_hot(batch["tokens"], vocab) * ~batch["is_pad"][..., None]
    z = hot.sum(1) @ jnp.asarray(proj, jnp.float32) + 1e-3
    return z / jnp.linalg.norm(z, axis=1, keepdims=True)

  method = _oracle(config)
  return base.Method(
    name="hashing",
    init=method.init,
    loss=None,
    features=method.features,
    protocols=("zeroshot",),
    encode_image=method.encode_image,
    encode_text=encode_text,
  ), encode_text


def _protocol(config, method=None):
  kind = kinds.get("image_text")
  mesh = mesh_lib.make_mesh(config.mesh)
  method = method or _oracle(config)
  return zeroshot.build(
    evals.Context(config, method, mesh, kind.info(config), kind)
  )


def test_digits_keep_their_templates_by_default():
  config = _pairs_config()
  protocol = _protocol(config)
  assert (
    protocol.templates == zeroshot.TEMPLATES == zeroshot.TEMPLATE_SETS["digits"]
  )
  assert protocol.prompts[:2] == [
    "a photo of a zero.",
    "a photo of the number zero.",
  ]
  assert len(protocol.prompts) == 10 * 6
  assert len(zeroshot.CLIP_IMAGENET_TEMPLATES) == 80
  assert len(set(zeroshot.CLIP_IMAGENET_TEMPLATES)) == 80
  assert set(zeroshot.CLIP_IMAGENET_7_TEMPLATES) < set(
    zeroshot.CLIP_IMAGENET_TEMPLATES
  )


@pytest.mark.parametrize(
  "chosen,want",
  [
    (("simple",), ("a photo of a {}.",)),
    (("clip_imagenet_7",), zeroshot.CLIP_IMAGENET_7_TEMPLATES),
    (("a drawing of a {}.", "{}, handwritten"), None),
  ],
)
def test_class_embeddings_use_the_chosen_templates(chosen, want):
  config = _pairs_config()
  config.eval.zeroshot_templates = chosen
  method, encode_text = _hashing_method(config)
  protocol = _protocol(config, method)
  want = chosen if want is None else want
  assert protocol.templates == want
  names = image_text.CLASS_NAMES
  expected = [t.format(n) for n in names for t in want]
  assert protocol.prompts == expected
  # The classifier from the protocol's prompt embeddings equals the float64
  # ensemble of the embeddings of exactly these prompts, computed here.
  got = zeroshot.class_embeddings(protocol.class_prompts(_State()), len(names))
  rows = image_text.encode_texts(config, expected)
  emb = np.asarray(encode_text({}, {}, rows), np.float64).reshape(
    len(names), len(want), -1
  )
  emb /= np.linalg.norm(emb, axis=-1, keepdims=True)
  w = emb.mean(1)
  w /= np.linalg.norm(w, axis=-1, keepdims=True)
  np.testing.assert_allclose(got, w, atol=1e-5)
  # ... and differs from the digits' default classifier.
  config.eval.zeroshot_templates = ()
  default = _protocol(config, method)
  other = zeroshot.class_embeddings(default.class_prompts(_State()), len(names))
  assert np.abs(other - got).max() > 1e-2


@pytest.mark.parametrize(
  "chosen,match",
  [
    (
      ("nope",),
      r"config.eval.zeroshot_templates: 'nope' is neither a prompt set",
    ),
    (("a {} and a {}",), r"one \"{}\""),
    (("digits", "a {}."), r"'digits' is neither"),  # a set name only alone
  ],
)
def test_bad_templates_are_named(chosen, match):
  config = _pairs_config()
  config.eval.zeroshot_templates = chosen
  with pytest.raises(ValueError, match=match):
    zeroshot.templates(config)


def _folder_without_classes(root):
  from PIL import Image  # pylint: disable=g-import-not-at-top

  for split in ("train", "test"):
    os.makedirs(os.path.join(root, split))
    for i, word in enumerate(("red square", "blue square", "red dot")):
      Image.new("RGB", (8, 8), (40 * i, 0, 0)).save(
        os.path.join(root, split, f"{i}.png")
      )
      with open(os.path.join(root, split, f"{i}.txt"), "w") as f:
        f.write(f"a {word}\n")


def test_without_class_names_retrieval_only_and_templates_refused(tmp_path):
  _folder_without_classes(str(tmp_path / "pairs"))
  config = _pairs_config()
  config.data.name = "image_text_folder"
  config.data.data_dir = str(tmp_path / "pairs")
  config.mesh.data = 1
  config.eval.batch_size = 4
  assert not image_text.has_class_names(config)
  scores = _protocol(config).evaluate(_State())
  assert "eval/zeroshot_top1" not in scores
  assert set(scores) == {
    f"eval/{d}_recall@{k}" for d in ("i2t", "t2i") for k in (1, 5, 10)
  }
  config.eval.zeroshot_templates = ("simple",)
  with pytest.raises(
    ValueError,
    match=r"zeroshot_templates=\('simple',\): config.data.name="
    r"'image_text_folder' has no class names.*class sub-folders",
  ):
    _protocol(config)


# --- Several captions per image (coco_captions' 5) ---------------------------


def _brute_hit(j, q, t):
  """P(a true key among the first j of q true + t other tied keys), by
  enumerating every placement of the true keys."""
  import itertools  # pylint: disable=g-import-not-at-top

  places = list(itertools.combinations(range(q + t), q))
  return sum(min(p) < j for p in places) / len(places)


def test_tie_probability_against_enumeration():
  for q in (1, 2, 3):
    for t in (0, 1, 4):
      for j in (-1, 0, 1, 2, 5):
        got = zeroshot._hit_probability(
          np.array([j]), np.array([q]), np.array([t])
        )
        assert got[0] == pytest.approx(_brute_hit(j, q, t)), (j, q, t)


def test_recall_with_several_captions_per_image():
  rng = np.random.default_rng(0)
  n, per = 20, 3
  images = rng.standard_normal((n, 8))
  owner = np.repeat(np.arange(n), per)
  captions = images[owner] + 1.5 * rng.standard_normal((n * per, 8))
  got_i2t = zeroshot.recall_at(images, captions, owner=owner)
  got_t2i = zeroshot.recall_at(captions, images, match=owner)
  sims = images @ captions.T  # no ties: ranks from an argsort
  ranks = np.argsort(np.argsort(-sims, axis=1), axis=1)
  best = np.array([ranks[i, owner == i].min() for i in range(n)])
  t_ranks = np.argsort(np.argsort(-sims.T, axis=1), axis=1)
  own = t_ranks[np.arange(n * per), owner]
  for k in (1, 5, 10):
    assert got_i2t[k] == pytest.approx(100 * np.mean(best < k))
    assert got_t2i[k] == pytest.approx(100 * np.mean(own < k))
  assert 0 < got_i2t[1] < 100 and 0 < got_t2i[1] < 100  # not trivial
  # A constant encoder scores chance: 1 - C(M - q, k) / C(M, k) per image.
  from math import comb  # pylint: disable=g-import-not-at-top

  owner = np.array([0, 1, 1, 2, 2, 2, 3])
  flat = zeroshot.recall_at(np.ones((4, 2)), np.ones((7, 2)), owner=owner)
  q = np.bincount(owner)
  for k in (1, 5, 10):
    want = (
      np.mean([1 - comb(7 - qi, k) / comb(7, k) for qi in q]) if k <= 7 else 1.0
    )
    assert flat[k] == pytest.approx(100 * want)
  with pytest.raises(ValueError, match="has no key of its own"):
    zeroshot.recall_at(np.ones((4, 2)), np.ones((3, 2)), owner=[0, 1, 2])
