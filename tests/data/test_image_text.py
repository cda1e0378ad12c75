"""Data kind `image_text`: captions from the recipe draws, batches, resume.

A method that only declares the kind is registered here. The embedded
digits and the caption tokenizer are built in a temporary
`JAXSSL_CACHE_DIR`.
"""

import itertools

import ml_collections
import numpy as np
import pytest

from jaxssl import configs_lib, methods
from jaxssl.data import embedded, kinds
from jaxssl.data.kinds import image_text
from jaxssl.methods import base

KIND = kinds.get("image_text")
ON_PAIRS = base.MethodDef(
  name="on_pairs",
  build=lambda config: None,
  config=ml_collections.ConfigDict,
  data_kinds=("image_text",),
)


@pytest.fixture(scope="module", autouse=True)
def _cache(data_caches):
  data_caches.setitem(methods.METHODS, "on_pairs", ON_PAIRS)
  return data_caches


def _config(**data):
  config = configs_lib.base_config("on_pairs")
  assert config.data.kind == "image_text"
  config.train.batch_size = 8
  for key, value in data.items():
    config.data[key] = value
  return configs_lib.validate(config)


def _take(config, n, **kwargs):
  kwargs.setdefault("process_index", 0)
  kwargs.setdefault("process_count", 1)
  return list(itertools.islice(KIND.train_batches(config, **kwargs), n))


def test_captions_say_what_the_draws_drew():
  """Each caption's words, recomputed from the draws another way: the
  digit always, every other attribute the caption mentions right."""
  config = _config()
  mentioned = {"colour": 0, "shade": 0, "size": 0, "position": 0}
  for split in ("train", "test"):
    draws, labels = embedded.load_draws(split), embedded.load(split)["label"]
    caps = image_text.captions(config, split)
    assert len(caps) == len(labels)
    for i in range(0, len(caps), 37):
      words = set(caps[i].replace(",", " ").split())
      digits = words & set(image_text.CLASS_NAMES)
      assert digits == {image_text.CLASS_NAMES[labels[i]]}, caps[i]
      # Nearest hue centre k / 6 on the circle.
      dist = np.abs((draws["hue"][i] - np.arange(6) / 6 + 0.5) % 1 - 0.5)
      colours = words & set(image_text.COLOURS)
      if colours:
        mentioned["colour"] += 1
        assert colours == {image_text.COLOURS[int(np.argmin(dist))]}
      shades = words & {"dark", "light"}
      if shades:
        mentioned["shade"] += 1
        assert shades == {"dark" if draws["darker"][i] else "light"}
      s = draws["size"][i]
      want = "small" if s < 10 * 1.8 ** (1 / 3) else "medium"
      want = "large" if s >= 10 * 1.8 ** (2 / 3) else want
      sizes = words & {"small", "medium", "large"}
      if sizes:
        mentioned["size"] += 1
        assert sizes == {want}, (caps[i], s)
      if " in the " in caps[i]:
        mentioned["position"] += 1
        t, l = draws["top_frac"][i], draws["left_frac"][i]
        row = "top" if t < 1 / 3 else ("bottom" if t >= 2 / 3 else None)
        col = "left" if l < 1 / 3 else ("right" if l >= 2 / 3 else None)
        for word in ("top", "bottom", "left", "right"):
          assert (word in words) == (word in (row, col)), (caps[i], t, l)
  assert min(mentioned.values()) > 20, mentioned


def test_caption_colours_match_the_pixels():
  """The draws are the images' own: a "red" image's mean pixel is reddest."""
  config = _config()
  images = embedded.load("test")["image"].astype(np.float64)
  caps = image_text.captions(config, "test")
  channel = {"red": 0, "green": 1, "blue": 2}
  checked = 0
  for i, cap in enumerate(caps):
    for name, c in channel.items():
      if f" {name} " in f" {cap} ":
        assert np.argmax(images[i].mean((0, 1))) == c, cap
        checked += 1
  assert checked > 300


def test_captions_deterministic_per_seed_and_split():
  a = image_text.captions(_config(), "train")
  image_text.clear_cache()
  assert image_text.captions(_config(), "train") == a
  b = image_text.captions(_config(caption_seed=1), "train")
  assert b != a  # other templates ...
  digit = lambda c: (
    set(c.replace(",", " ").split()) & set(image_text.CLASS_NAMES)
  )
  assert all(digit(x) == digit(y) for x, y in zip(a, b))  # same digits
  assert image_text.captions(_config(), "test") != a[: len(a) // 5]


def test_batches_pair_each_image_with_its_caption():
  config = _config()
  (batch,) = _take(config, 1)
  spec = KIND.batch_spec(config)
  assert {k: (v.shape, v.dtype) for k, v in batch.items()} == {
    k: (v.shape, v.dtype) for k, v in spec.items()
  }
  tok, specials = image_text.get_tokenizer(config)
  caps = image_text.captions(config, "train")
  labels = embedded.load("train")["label"]
  for row, pad, i, y in zip(
    batch["tokens"], batch["is_pad"], batch["index"], batch["label"]
  ):
    assert labels[i] == y
    assert row[0] == specials.cls and row[~pad][-1] == specials.sep
    assert tok.decode(row[~pad].tolist()) == caps[i].replace(" ,", ",")
    assert (row[pad] == specials.pad).all()


def test_exact_resume_and_eval_batches():
  config = _config()
  straight = _take(config, 3)
  (third,) = _take(config, 1, start_step=2)
  for key in straight[2]:
    np.testing.assert_array_equal(third[key], straight[2][key])
  evals = list(
    KIND.eval_batches(config, "test", batch_size=64, max_examples=100)
  )
  assert len(evals) == 2
  rows = image_text.caption_tokens(config, "test")
  last = evals[1]
  assert last["valid"].sum() == 36
  np.testing.assert_array_equal(last["tokens"][:36], rows["tokens"][64:100])
  assert last["is_pad"][36:].all()
  spec = KIND.eval_spec(config, 64)
  assert {k: v.shape for k, v in last.items()} == {
    k: v.shape for k, v in spec.items()
  }
  # Two hosts: disjoint halves, each with its own captions.
  host = list(
    KIND.eval_batches(
      config,
      "test",
      batch_size=64,
      max_examples=100,
      process_index=1,
      process_count=2,
    )
  )
  np.testing.assert_array_equal(host[0]["tokens"][:50], rows["tokens"][50:100])


def test_default_seq_len_holds_every_caption():
  config = _config()
  for split in ("train", "test"):
    assert image_text.max_caption_tokens(config, split) < config.data.seq_len
  assert image_text.class_names(config)[7] == "seven"


@pytest.mark.parametrize(
  "key,value,match",
  [
    ("name", "", "config.data.name=''"),  # other names: TFDS sets
    ("seq_len", 2, "config.data.seq_len=2"),
    ("tokenizer", "chars", "config.data.tokenizer='chars'"),
    ("flip_prob", 2.0, "config.data.flip_prob=2.0"),
    ("caption_seed", -1, "config.data.caption_seed=-1"),
  ],
)
def test_bad_keys_are_named(key, value, match):
  with pytest.raises(ValueError, match=match):
    _config(**{key: value})
