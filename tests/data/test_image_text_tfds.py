"""TFDS image-text sets of the `image_text` kind: coco_captions (mocked) and
a captioned set with labels built and prepared here.

coco_captions runs through `tfds.testing.mock_data` with its real features
and metadata written to a temporary data_dir (MockPolicy.USE_FILES), and an
`as_dataset_fn` that yields known examples (TFDS' random generator cannot
fill coco's `objects` sequence): image i is filled with the value 20 * i
and its captions name i, so every pairing can be checked. No test reaches
the network (conftest sets TFDS_DISABLE_GCS; sockets refuse here).
"""

import io
import itertools
import math
import os
import re
import socket

import ml_collections
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from jaxssl import configs_lib, methods
from jaxssl.data import kinds, sources, tokenizer
from jaxssl.data.kinds import image_text
from jaxssl.methods import base

KIND = kinds.get("image_text")
ON_PAIRS = base.MethodDef(
  name="on_pairs",
  build=lambda config: None,
  config=ml_collections.ConfigDict,
  data_kinds=("image_text",),
)
SIZES = {"train": 6, "test": 4}
WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven")


@pytest.fixture(autouse=True)
def _env(monkeypatch, tmp_path):
  def refuse(*args, **kwargs):
    raise OSError(f"test tried to reach the network: {args}")

  monkeypatch.setattr(socket.socket, "connect", refuse)
  monkeypatch.setattr(socket, "create_connection", refuse)
  monkeypatch.setenv("JAXSSL_CACHE_DIR", str(tmp_path / "cache"))
  monkeypatch.setattr(tokenizer, "_LOADED", {})
  monkeypatch.setitem(methods.METHODS, "on_pairs", ON_PAIRS)
  image_text.clear_cache()
  sources.clear_cache()
  yield
  image_text.clear_cache()
  sources.clear_cache()


def _num_captions(split, i):
  return 1 if split == "test" and i == 0 else 1 + i % 3  # 1, 2 or 3


def _caption(split, i, j):
  del split  # the test split's words are the train split's (one tokenizer)
  return f"image {WORDS[i]} caption {WORDS[j]}"


def _png(value):
  image = np.full((8, 8, 3), value, np.uint8)
  buf = io.BytesIO()
  Image.fromarray(image).save(buf, format="PNG")
  return buf.getvalue()


def _coco_as_dataset(self, split, decoders=None, read_config=None, **kwargs):
  """Known coco_captions examples: image i all 20 * i, captions naming i."""
  del self, decoders, read_config, kwargs
  rows = []
  for part in str(split).split("+"):
    m = re.fullmatch(r"(\w+)(?:\[(\d*):(\d*)\])?", part)
    name, lo, hi = m.group(1), m.group(2), m.group(3)
    rows += [(name, i) for i in range(int(lo or 0), int(hi or SIZES[name]))]

  def gen():
    for name, i in rows:
      n = _num_captions(name, i)
      yield {
        "image": _png(20 * i + (100 if name == "test" else 0)),
        "captions": {
          "id": np.arange(n, dtype=np.int64),
          "text": [_caption(name, i, j) for j in range(n)],
        },
      }

  return tf.data.Dataset.from_generator(
    gen,
    output_signature={
      "image": tf.TensorSpec([], tf.string),
      "captions": {
        "id": tf.TensorSpec([None], tf.int64),
        "text": tf.TensorSpec([None], tf.string),
      },
    },
  )


@pytest.fixture(scope="module", name="coco_dir")
def _coco_dir(tmp_path_factory):
  """A data_dir holding coco_captions' metadata only (6 train, 4 test)."""
  data_dir = str(tmp_path_factory.mktemp("tfds"))
  builder = tfds.builder("coco_captions", data_dir=data_dir)
  builder.info.set_splits(
    tfds.core.SplitDict(
      [
        tfds.core.SplitInfo(name=k, shard_lengths=[n], num_bytes=n * 100)
        for k, n in SIZES.items()
      ]
    )
  )
  os.makedirs(builder.data_dir, exist_ok=True)
  builder.info.write_to_directory(builder.data_dir)
  return data_dir


def _mock(data_dir):
  return tfds.testing.mock_data(
    data_dir=data_dir,
    policy=tfds.testing.MockPolicy.USE_FILES,
    as_dataset_fn=_coco_as_dataset,
  )


def _config(data_dir, **data):
  config = configs_lib.base_config("on_pairs")
  config.data.name = "coco_captions"
  config.data.data_dir = data_dir
  config.data.image_size = 8
  config.data.seq_len = 12
  config.data.mean = (0.0, 0.0, 0.0)
  config.data.std = (1.0, 1.0, 1.0)
  config.train.batch_size = 3
  for key, value in data.items():
    config.data[key] = value
  return configs_lib.validate(config)


def _take(config, n, **kwargs):
  it = KIND.train_batches(config, process_index=0, process_count=1, **kwargs)
  return list(itertools.islice(it, n))


def _decode(config, tokens, is_pad):
  tok, specials = image_text.get_tokenizer(config)
  ids = [int(t) for t, p in zip(tokens, is_pad) if not p]
  ids = [i for i in ids if i not in specials.ids()]
  return tok.decode(ids)


def test_coco_captions_every_pairing_and_a_new_caption_each_epoch(coco_dir):
  config = _config(coco_dir)
  with _mock(coco_dir):
    info = KIND.info(config)
    assert (info.num_classes, info.num_train, info.num_eval) == (1, 6, 4)
    sets = image_text.caption_sets(config, "train")
    assert sets[2] == tuple(_caption("train", 2, j) for j in range(3))
    # The tokenizer learnt all the train captions (also the 2nd and 3rd).
    tok, _ = image_text.get_tokenizer(config)
    assert tok.token_to_id("caption") is not None
    assert tok.token_to_id("two") is not None  # only in later captions
    batches = _take(config, 8)  # 24 positions = 4 epochs of 6 images
    seen = {}
    for step, batch in enumerate(batches):
      for r in range(3):
        i = int(batch["index"][r])
        # The image is image i (its fill value), the caption one of i's.
        np.testing.assert_allclose(batch["image"][r], 20 * i / 255, atol=1e-6)
        text = _decode(config, batch["tokens"][r], batch["is_pad"][r])
        assert text in sets[i], (text, sets[i])
        epoch = (3 * step + r) // 6
        seen.setdefault(i, {})[epoch] = text
    assert all(len(v) == 4 for v in seen.values())  # each image once / epoch
    # Images with 3 captions drew more than one of them over 4 epochs.
    assert any(len(set(seen[i].values())) > 1 for i in (2, 5))
    # The same draws on resume (step 5 from scratch and resumed there).
    (resumed,) = _take(config, 1, start_step=5)
    for key in resumed:
      np.testing.assert_array_equal(resumed[key], batches[5][key])
    # Evaluation: each test image with its first caption.
    (evals,) = list(KIND.eval_batches(config, "test", batch_size=4))
    assert evals["valid"].all()
    for i in range(4):
      text = _decode(config, evals["tokens"][i], evals["is_pad"][i])
      assert text == _caption("test", i, 0)
      np.testing.assert_allclose(evals["image"][i], (20 * i + 100) / 255)


def test_caption_choice_is_a_pure_uniform_draw():
  index = np.arange(30000) % 1000
  epoch = np.arange(30000) // 1000
  got = image_text.caption_choice(0, epoch, index, np.full(30000, 5))
  again = image_text.caption_choice(0, epoch, index, np.full(30000, 5))
  np.testing.assert_array_equal(got, again)
  assert set(np.unique(got)) == set(range(5))
  counts = np.bincount(got, minlength=5)
  assert np.all(np.abs(counts - 6000) < 4 * np.sqrt(6000))  # ~ uniform
  other = image_text.caption_choice(1, epoch, index, np.full(30000, 5))
  assert np.mean(other == got) < 0.3  # another seed, other draws
  # One caption: always the first.
  assert not image_text.caption_choice(3, epoch, index, np.ones(30000)).any()


@pytest.mark.parametrize(
  "key,value,match",
  [
    (
      "text_key",
      "caption",
      r"config.data.text_key='caption' is not a text feature.*'coco_captions'"
      r".*captions/text \(text\)",
    ),
    ("text_key", "image/id", r"text_key='image/id'.*image/filename \(text\)"),
    ("image_key", "captions", r"config.data.image_key='captions' is not an"),
    (
      "label_key",
      "label",
      r"config.data.label_key='label' is not a ClassLabel",
    ),
    (
      "label_key",
      "objects/label",
      r"label_key='objects/label' holds several labels",
    ),
  ],
)
def test_bad_keys_name_the_key_and_the_features(coco_dir, key, value, match):
  config = _config(coco_dir, **{key: value})
  with _mock(coco_dir), pytest.raises(ValueError, match=match):
    KIND.info(config)


def test_unprepared_and_unknown_sets_are_one_line(tmp_path):
  config = _config(str(tmp_path))
  with pytest.raises(FileNotFoundError, match="tfds build coco_captions"):
    KIND.info(config)
  config.data.name = "no_such_set_anywhere"
  with pytest.raises(ValueError, match="config.data.name='no_such_set"):
    KIND.info(config)


class CaptionedShapes(tfds.core.GeneratorBasedBuilder):
  """A tiny labelled TFDS image-text set, generated and prepared locally."""

  VERSION = tfds.core.Version("1.0.0")

  def _info(self):
    return tfds.core.DatasetInfo(
      builder=self,
      features=tfds.features.FeaturesDict(
        {
          "image": tfds.features.Image(shape=(8, 8, 3)),
          "caption": tfds.features.Text(),
          "label": tfds.features.ClassLabel(names=["red_circle", "blue_box"]),
        }
      ),
    )

  def _split_generators(self, dl_manager):
    del dl_manager
    return {
      "train": self._generate_examples(8),
      "test": self._generate_examples(4),
    }

  def _generate_examples(self, n):
    for i in range(n):
      image = np.full((8, 8, 3), 10 * i, np.uint8)
      words = ("red circle", "blue box")[i % 2]
      yield i, {"image": image, "caption": f"a {words} {i}", "label": i % 2}


def test_any_tfds_set_with_a_text_and_a_label_feature(tmp_path):
  builder = CaptionedShapes(data_dir=str(tmp_path))
  builder.download_and_prepare()
  config = _config(
    str(tmp_path),
    name="captioned_shapes",
    text_key="caption",
    label_key="label",
  )
  info = KIND.info(config)
  assert (info.num_classes, info.num_train, info.num_eval) == (2, 8, 4)
  assert image_text.class_names(config) == ("red circle", "blue box")
  # TFDS stores examples in a shuffled order: example i is found by the
  # number its caption ends with, and its image and label must match it.
  (batch,) = _take(config, 1)
  for r in range(3):
    text = _decode(config, batch["tokens"][r], batch["is_pad"][r])
    i = int(text.split()[-1])
    assert text == f"a {('red circle', 'blue box')[i % 2]} {i}"
    assert batch["label"][r] == i % 2
    np.testing.assert_allclose(batch["image"][r], 10 * i / 255, atol=1e-6)
  # The per-class subsample keeps images and captions together.
  config.data.max_train_per_class = 2
  image_text.clear_cache()
  sources.clear_cache()
  kept = image_text.captions(config, "train")
  src = sources.load(config.data, "train")
  assert [int(t.split()[-1]) % 2 for t in kept] == list(src.labels)
  assert sorted(src.labels) == [0, 0, 1, 1]


def test_split_expressions_concatenate(coco_dir):
  # Papers train on coco's train+restval; here train+test stands in.
  config = _config(coco_dir, train_split="train+test")
  with _mock(coco_dir):
    assert KIND.info(config).num_train == 10
    sets = image_text.caption_sets(config, "train+test")
    assert sets[6] == (_caption("test", 0, 0),)  # test image 0 follows
    src = sources.load(config.data, "train+test", start=5, stop=8)
    values = [
      int(tf.io.decode_png(x)[0, 0, 0]) for x in src.images
    ]  # train 5, test 0, test 1
    assert values == [100, 100, 120]
    with pytest.raises(ValueError, match="has no split 'val'; available"):
      image_text.caption_sets(_config(coco_dir, eval_split="val"), "val")


def test_zeroshot_protocol_scores_every_caption(coco_dir):
  """Retrieval over all 7 test captions of the 4 test images (2 eval
  batches on a 2-device mesh, the last padded): an oracle that reads
  the image number off the pixels and the caption, and a constant one."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  from jaxssl import evals  # pylint: disable=g-import-not-at-top
  from jaxssl.evals import zeroshot  # pylint: disable=g-import-not-at-top
  from jaxssl.train import mesh as mesh_lib  # pylint: disable=g-import-not-at-top

  config = _config(coco_dir)
  config.mesh.data = 2
  config.eval.batch_size = 2
  with _mock(coco_dir):
    tok, _ = image_text.get_tokenizer(config)
    word = np.full(tok.get_vocab_size(with_added_tokens=True), 7)
    for i, w in enumerate(WORDS):
      if tok.token_to_id(w) is not None:
        word[tok.token_to_id(w)] = i

    def encode_image(params, extra, batch):
      del params, extra
      number = jnp.round((batch["image"][:, 0, 0, 0] * 255 - 100) / 20)
      return jax.nn.one_hot(number.astype(jnp.int32), 8)

    def oracle_text(params, extra, batch):
      del params, extra
      # [CLS] image <number> caption <j> [SEP]: the 3rd token names it.
      return jax.nn.one_hot(jnp.asarray(word)[batch["tokens"][:, 2]], 8)

    def constant(params, extra, batch):
      del params, extra
      return jnp.ones((batch["tokens"].shape[0], 8)) / np.sqrt(8)

    scores = {}
    for name, encode_text in (("oracle", oracle_text), ("constant", constant)):
      method = base.Method(
        name=name,
        init=None,
        loss=None,
        features=None,
        protocols=("zeroshot",),
        encode_image=encode_image if name == "oracle" else constant_image,
        encode_text=encode_text,
      )
      context = evals.Context(
        config, method, mesh_lib.make_mesh(config.mesh), KIND.info(config), KIND
      )
      protocol = zeroshot.build(context)
      assert protocol.prompts == []  # no labels: retrieval only
      scores[name] = protocol.evaluate(_State())
  assert "eval/zeroshot_top1" not in scores["oracle"]
  assert all(v == 100.0 for v in scores["oracle"].values())
  # Constant: image i holds q_i of the 7 captions (1, 2, 3, 1).
  flat = scores["constant"]
  q = np.array([1, 2, 3, 1])
  assert flat["eval/i2t_recall@1"] == pytest.approx(100 * np.mean(q / 7))
  assert flat["eval/i2t_recall@5"] == pytest.approx(
    100 * np.mean([1 - math.comb(7 - k, 5) / math.comb(7, 5) for k in q])
  )
  assert flat["eval/t2i_recall@1"] == pytest.approx(25.0)
  assert flat["eval/t2i_recall@5"] == pytest.approx(100.0)


def constant_image(params, extra, batch):
  del params, extra
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top

  return jnp.ones((batch["image"].shape[0], 8)) / np.sqrt(8)


class _State:
  params, extra = {}, {}
