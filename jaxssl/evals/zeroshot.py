"""Protocol `zeroshot`: zero-shot classification and image-text retrieval.

Reads the method's joint embeddings (`Method.encode_image`,
`Method.encode_text`: L2-normalised, inference mode) of the image-text
kind's eval split (`config.data.eval_split`, every image with its own
caption), in global batches of `config.eval.batch_size` sharded over the
mesh's "data" axis.

Zero-shot classification (CLIP's prompt ensembling, arXiv:2103.00020 Sec.
3.1.4): each class name of the dataset (`image_text.class_names`: "zero"
... "nine" for the digits, class folders with "_" read as a space, a TFDS
ClassLabel's names) is written into every template of the prompt set,
tokenized with the run's tokenizer and embedded; a class's classifier row
is the mean of its prompts' normalised embeddings, normalised again. An
image is assigned the class of highest cosine similarity:
  eval/zeroshot_top1   100 * mean_i [argmax_c <u_i, w_c> = y_i] (%).
The prompt set is `config.eval.zeroshot_templates` (`templates(config)`):
  ()               the source's default (`image_text.default_templates`):
                   "digits" for the embedded digits, "clip_imagenet" for
                   every other source;
  ("digits",)      `TEMPLATES`, written for the digits (none is a training
                   caption): "a photo of a {}.", "a photo of the number
                   {}.", "a {} digit.", "the digit {}.", "a picture of a
                   {}.", "a {}.";
  ("clip_imagenet",)   CLIP's 80 ImageNet templates (openai/CLIP
                   `notebooks/Prompt_Engineering_for_ImageNet.ipynb`);
  ("clip_imagenet_7",) the 7 of them CLIP's notebook recommends;
  ("simple",)      "a photo of a {}.";
  or templates of your own, each with one "{}" for the class name
  (`--config.eval.zeroshot_templates="('a drawing of a {}.', 'a {}.')"`;
  a bare `--config.eval.zeroshot_templates=simple` names a set). A source
  without class names (no class folders, a TFDS set without
  `data.label_key`) has no zero-shot classification: the protocol then
  scores retrieval only, and `eval.zeroshot_templates` set to anything but
  () is an error.

Retrieval between the N test images and ALL their M captions (M = N but
for sets with several captions per image, e.g. coco_captions' 5k test
images and ~25k captions: the protocol of CLIP's Table 13 and big_vision's
retrieval evaluator), with s_ij the cosine of image i and caption j:
  eval/i2t_recall@k    100 * mean_i P(one of image i's captions ranks
                       among the top k of the M captions) (%), k in 1, 5,
                       10;
  eval/t2i_recall@k    100 * mean_j P(caption j's image ranks among the
                       top k of the N images), over the M captions.
Ties are broken at random in expectation: with g keys strictly more
similar than the best true one, and q true and t other keys tied with it,
the hit probability is 1 - C(t, k - g) / C(t + q, k - g) (0 when k <= g):
clip((k - g) / (t + 1), 0, 1) for one true key. So identical captions
(the templates repeat a caption now and then) share the credit, and a
constant encoder scores exactly chance (100 k / N for one caption each).

Baseline, scored once at step 0: `_random_init`, the towers at their
random initialisation (each metric with the suffix).
"""

from __future__ import annotations

import jax
import numpy as np
from jax.experimental import multihost_utils

from jaxssl.evals import sharded
from jaxssl.evals.base import Context
from jaxssl.train import mesh as mesh_lib

# The digits' prompts (the default of the embedded digits).
TEMPLATES = (
  "a photo of a {}.",
  "a photo of the number {}.",
  "a {} digit.",
  "the digit {}.",
  "a picture of a {}.",
  "a {}.",
)
# openai/CLIP notebooks/Prompt_Engineering_for_ImageNet.ipynb: the 80
# templates of the paper's ImageNet zero-shot result, in the notebook's order.
CLIP_IMAGENET_TEMPLATES = (
  "a bad photo of a {}.",
  "a photo of many {}.",
  "a sculpture of a {}.",
  "a photo of the hard to see {}.",
  "a low resolution photo of the {}.",
  "a rendering of a {}.",
  "graffiti of a {}.",
  "a bad photo of the {}.",
  "a cropped photo of the {}.",
  "a tattoo of a {}.",
  "the embroidered {}.",
  "a photo of a hard to see {}.",
  "a bright photo of a {}.",
  "a photo of a clean {}.",
  "a photo of a dirty {}.",
  "a dark photo of the {}.",
  "a drawing of a {}.",
  "a photo of my {}.",
  "the plastic {}.",
  "a photo of the cool {}.",
  "a close-up photo of a {}.",
  "a black and white photo of the {}.",
  "a painting of the {}.",
  "a painting of a {}.",
  "a pixelated photo of the {}.",
  "a sculpture of the {}.",
  "a bright photo of the {}.",
  "a cropped photo of a {}.",
  "a plastic {}.",
  "a photo of the dirty {}.",
  "a jpeg corrupted photo of a {}.",
  "a blurry photo of the {}.",
  "a photo of the {}.",
  "a good photo of the {}.",
  "a rendering of the {}.",
  "a {} in a video game.",
  "a photo of one {}.",
  "a doodle of a {}.",
  "a close-up photo of the {}.",
  "a photo of a {}.",
  "the origami {}.",
  "the {} in a video game.",
  "a sketch of a {}.",
  "a doodle of the {}.",
  "a origami {}.",
  "a low resolution photo of a {}.",
  "the toy {}.",
  "a rendition of the {}.",
  "a photo of the clean {}.",
  "a photo of a large {}.",
  "a rendition of a {}.",
  "a photo of a nice {}.",
  "a photo of a weird {}.",
  "a blurry photo of a {}.",
  "a cartoon {}.",
  "art of a {}.",
  "a sketch of the {}.",
  "a embroidered {}.",
  "a pixelated photo of a {}.",
  "itap of the {}.",
  "a jpeg corrupted photo of the {}.",
  "a good photo of a {}.",
  "a plushie {}.",
  "a photo of the nice {}.",
  "a photo of the small {}.",
  "a photo of the weird {}.",
  "the cartoon {}.",
  "art of the {}.",
  "a drawing of the {}.",
  "a photo of the large {}.",
  "a black and white photo of a {}.",
  "the plushie {}.",
  "a dark photo of a {}.",
  "itap of a {}.",
  "graffiti of the {}.",
  "a toy {}.",
  "itap of my {}.",
  "a photo of a cool {}.",
  "a photo of a small {}.",
  "a tattoo of the {}.",
)
# The same notebook's recommended 7-template subset (found there by a
# sequential search over the 80 on ImageNet).
CLIP_IMAGENET_7_TEMPLATES = (
  "itap of a {}.",
  "a bad photo of the {}.",
  "a origami {}.",
  "a photo of the large {}.",
  "a {} in a video game.",
  "art of the {}.",
  "a photo of the small {}.",
)
TEMPLATE_SETS = {
  "digits": TEMPLATES,
  "clip_imagenet": CLIP_IMAGENET_TEMPLATES,
  "clip_imagenet_7": CLIP_IMAGENET_7_TEMPLATES,
  "simple": ("a photo of a {}.",),
}
RECALL_AT = (1, 5, 10)
_CHUNK = 1024  # query rows per block of the similarity matrix


def templates(config) -> tuple[str, ...]:
  """The prompt templates of `config.eval.zeroshot_templates` (docstring).

  Raises:
    ValueError: naming `eval.zeroshot_templates`: an unknown set name, a
      template without exactly one "{}", or templates set for a source
      without class names.
  """
  from jaxssl.data.kinds import image_text  # pylint: disable=g-import-not-at-top

  key = "config.eval.zeroshot_templates"
  chosen = tuple(config.eval.zeroshot_templates)
  if chosen and not image_text.has_class_names(config):
    raise ValueError(
      f"{key}={chosen!r}: config.data.name={config.data.name!r} has no class "
      "names for zero-shot prompts ("
      + image_text.class_names_hint(config)
      + "); leave it () to score retrieval only"
    )
  if not chosen:
    chosen = (image_text.default_templates(config),)
  if len(chosen) == 1 and chosen[0] in TEMPLATE_SETS:
    return TEMPLATE_SETS[chosen[0]]
  for t in chosen:
    if not isinstance(t, str) or t.count("{}") != 1:
      raise ValueError(
        f"{key}: {t!r} is neither a prompt set ({sorted(TEMPLATE_SETS)}) nor "
        'a template with one "{}" for the class name'
      )
  return chosen


def prompts(names, templates_) -> list[str]:
  """Every template filled with every class name, class-major (the row
  order `class_embeddings` reads)."""
  return [t.format(name) for name in names for t in templates_]


def zeroshot_top1(
  images: np.ndarray, labels: np.ndarray, classifier: np.ndarray
) -> float:
  """Top-1 (%) of `images` [n, e] against `classifier` [c, e] rows."""
  scores = np.asarray(images, np.float64) @ np.asarray(classifier, np.float64).T
  return 100.0 * float(np.mean(np.argmax(scores, axis=1) == labels))


def class_embeddings(prompts: np.ndarray, num_classes: int) -> np.ndarray:
  """[c, e] prompt-ensembled classifier from [c * T, e] prompt embeddings
  (class-major: rows c * T ... c * T + T - 1 are class c's prompts)."""
  p = np.asarray(prompts, np.float64)
  p /= np.maximum(np.linalg.norm(p, axis=1, keepdims=True), 1e-12)
  w = p.reshape(num_classes, -1, p.shape[-1]).mean(axis=1)
  return w / np.maximum(np.linalg.norm(w, axis=1, keepdims=True), 1e-12)


def _hit_probability(j, q, t) -> np.ndarray:
  """P(one of q true keys is among the first j of q + t tied keys in a
  random order) = 1 - C(t, j) / C(t + q, j); 0 where j <= 0."""
  j, q, t = (np.asarray(a, np.int64) for a in (j, q, t))
  miss = np.ones(j.shape, np.float64)
  for r in range(int(j.max(initial=0))):
    step = np.where(r < j, (t - r) / np.maximum(t + q - r, 1), 1.0)
    miss *= np.clip(step, 0.0, 1.0)
  return np.where(j <= 0, 0.0, 1.0 - miss)


def recall_at(
  queries: np.ndarray,
  keys: np.ndarray,
  ks=RECALL_AT,
  *,
  owner: np.ndarray | None = None,
  match: np.ndarray | None = None,
) -> dict[int, float]:
  """{k: recall@k (%)}, ties in expectation (see the module docstring).

  Args:
    queries: [n, e] embeddings.
    keys: [m, e] embeddings.
    ks: the cut-offs.
    owner: int [m], the query each key belongs to (several keys per query:
      a hit is any of them in the top k); None with `match` None: key i is
      query i's (m = n).
    match: int [n], the one key of each query (instead of `owner`).
  """
  q = np.asarray(queries, np.float64)
  x = np.asarray(keys, np.float64)
  n, m = len(q), len(x)
  if owner is None and match is None:
    match = np.arange(n)
  if owner is not None:
    owner = np.asarray(owner)
    ok = owner.shape == (m,)
  else:
    match = np.asarray(match)
    ok = match.shape == (n,) and bool(np.all((match >= 0) & (match < m)))
  if n < 1 or q.shape[1:] != x.shape[1:] or not ok:
    raise ValueError(
      f"recall_at: queries {q.shape}, keys {x.shape} and their owner / match"
    )
  hits = {k: np.zeros(n) for k in ks}
  for s in range(0, n, _CHUNK):
    rows = np.arange(s, min(s + _CHUNK, n))
    sims = q[rows] @ x.T
    if owner is not None:
      own = owner[None, :] == rows[:, None]
    else:
      own = np.arange(m)[None, :] == match[rows][:, None]
    if not own.any(axis=1).all():
      raise ValueError("recall_at: a query has no key of its own")
    best = np.where(own, sims, -np.inf).max(axis=1, keepdims=True)
    greater = np.sum(sims > best, axis=1)
    tied = sims == best
    q_tied = np.sum(tied & own, axis=1)
    t_tied = np.sum(tied & ~own, axis=1)
    for k in ks:
      hits[k][rows] = _hit_probability(k - greater, q_tied, t_tied)
  return {k: 100.0 * float(h.mean()) for k, h in hits.items()}


class ZeroShot:
  """Scores a method's joint embeddings (see the module docstring)."""

  def __init__(self, context: Context):
    from jaxssl.data.kinds import image_text  # pylint: disable=g-import-not-at-top

    c, method = context.config, context.method
    if method.encode_image is None or method.encode_text is None:
      raise ValueError(
        f"config.method.name={method.name!r}: protocol 'zeroshot' needs "
        "Method.encode_image and Method.encode_text"
      )
    if c.data.kind != "image_text":
      raise ValueError(
        f"config.data.kind={c.data.kind!r}: protocol 'zeroshot' reads kind "
        "'image_text'"
      )
    mesh_lib.check_batch_size(
      c.eval.batch_size, context.mesh, "eval.batch_size"
    )
    self._config, self._mesh, self._kind = c, context.mesh, context.kind
    self.templates = templates(c)  # checks eval.zeroshot_templates first
    # No class names (no class folders, no TFDS label_key): retrieval only.
    names = image_text.class_names(c) if image_text.has_class_names(c) else ()
    self.prompts = prompts(names, self.templates)
    self._num_classes = len(names)
    self._prompt_rows = image_text.encode_texts(c, self.prompts)
    # Every caption of the eval split, and the image each belongs to.
    rows = image_text.caption_tokens(c, c.data.eval_split)
    counts = np.diff(rows["offsets"])
    self._caption_rows = {"tokens": rows["tokens"], "is_pad": rows["is_pad"]}
    self._caption_owner = np.repeat(np.arange(len(counts)), counts)
    self._num_images = len(counts)
    _, specials = image_text.get_tokenizer(c)
    self._pad = specials.pad
    out_sh = mesh_lib.data_sharding(self._mesh)
    self._image = jax.jit(method.encode_image, out_shardings=out_sh)
    self._text = jax.jit(method.encode_text, out_shardings=out_sh)

  def class_prompts(self, state) -> np.ndarray:
    """[c * T, e] embeddings of `self.prompts` (class-major) at `state`."""
    return sharded.map_rows(
      lambda b: self._text(state.params, state.extra, b),
      self._prompt_rows,
      self._mesh,
      self._config.eval.batch_size,
      pad={"tokens": self._pad, "is_pad": True},
    )

  def _images(self, state):
    """(image embeddings, labels) of the eval split, in the split's order."""
    from jaxssl.data import pipeline  # pylint: disable=g-import-not-at-top

    c = self._config
    hosts = jax.process_count()
    b = c.eval.batch_size // hosts
    total = self._num_images
    starts = [pipeline.host_range(total, h, hosts)[0] for h in range(hosts)]
    imgs, labels, index = [], [], []
    for i, host_batch in enumerate(
      self._kind.eval_batches(c, c.data.eval_split, batch_size=b)
    ):
      batch = mesh_lib.to_global(host_batch, self._mesh)
      out = multihost_utils.process_allgather(
        {
          "i": self._image(state.params, state.extra, batch),
          "y": batch["label"],
          "valid": batch["valid"],
        },
        tiled=True,
      )
      keep = np.asarray(out["valid"])
      # Gathered rows are host 0's b rows, then host 1's, ...: row r of
      # host h is image starts[h] + i * b + r of the split.
      rows = np.arange(len(keep))
      where = np.asarray(starts)[rows // b] + i * b + rows % b
      imgs.append(np.asarray(out["i"])[keep])
      labels.append(np.asarray(out["y"])[keep])
      index.append(where[keep])
    order = np.argsort(np.concatenate(index), kind="stable")
    return np.concatenate(imgs)[order], np.concatenate(labels)[order]

  def _captions(self, state):
    """[M, e] embeddings of every caption of the eval split."""
    return sharded.map_rows(
      lambda batch: self._text(state.params, state.extra, batch),
      self._caption_rows,
      self._mesh,
      self._config.eval.batch_size,
      pad={"tokens": self._pad, "is_pad": True},
    )

  def evaluate(self, state, *, final: bool = False) -> dict[str, float]:
    """The scores of the module docstring for the towers at `state`."""
    del final  # the whole eval split at every evaluation
    images, labels = self._images(state)
    captions, owner = self._captions(state), self._caption_owner
    out = {}
    if self._num_classes:
      prompts_ = self.class_prompts(state)
      classifier = class_embeddings(prompts_, self._num_classes)
      out["eval/zeroshot_top1"] = zeroshot_top1(images, labels, classifier)
    for at, value in recall_at(images, captions, owner=owner).items():
      out[f"eval/i2t_recall@{at}"] = value
    for at, value in recall_at(captions, images, match=owner).items():
      out[f"eval/t2i_recall@{at}"] = value
    return out

  def baselines(self, state) -> dict[str, float]:
    """`_random_init`: the towers at `state` (step 0)."""
    return {f"{k}_random_init": v for k, v in self.evaluate(state).items()}


def build(context: Context) -> ZeroShot:
  return ZeroShot(context)
