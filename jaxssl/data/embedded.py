"""Embedded dataset: real handwritten digits composited on real photos.

`load("train")` / `load("test")` return a labelled 32x32x3 uint8 dataset that
needs no download: it is built deterministically at first use (~3 s) from
data that ships inside scikit-learn and scikit-image, then cached as one
`.npz` file.

How an image is made:
  1. A source digit: one of the 1797 real 8x8 handwritten digits of
     `sklearn.datasets.load_digits` (10 classes, ~180 each). The digits are
     split per class, 80/20, into train and test sources, so the test split
     holds handwriting never seen in training: a model cannot pass by
     recognising the same digit in a new composite.
  2. A background: a 32x32 crop (random photo, position, zoom and mirror) of
     the luminance of a real photo bundled with scikit-learn
     (`load_sample_images`) or scikit-image (`skimage.data`, only images
     shipped in its wheel), its contrast scaled down around a random level.
  3. The digit, upsampled bilinearly to a random size and aspect, is pasted
     at a random position, lighter or darker (at random) than the background
     under it.
  4. Colour: the grey composite is multiplied by one random tint per image
     (random hue, saturation in a band); then Gaussian pixel noise.

Why each nuisance exists. The dataset must separate self-supervised features
from raw pixels and from a random-init encoder, yet stay learnable in CPU
minutes. All numbers are kNN top-1 (k=20, cosine) on the test split; see the
commit that set `_VERSION` for how they were measured.
  - Position and scale vary widely (digit 10-18 px in 32): the same digit
    rarely lands on the same pixels twice, which raw-pixel neighbours need,
    while a conv net with global pooling is translation invariant and crop
    augmentation teaches scale.
  - Colour is one global tint per image, which moves every pixel's RGB
    direction: raw pixels and a random-init encoder match colours, not
    digits. Because the tint is global, colour jitter (`hue=0.5`) and
    grayscale undo it, so SSL can learn to ignore it.
  - Everything else about colour varies only in narrow bands (saturation,
    background level, digit-to-background contrast), and the photo texture is
    faint (contrast 0.1). Any per-image cue that survives the augmentations
    lets SimCLR tell instances apart without looking at the digit: with
    uniformly random RGB digit colours on full-colour photos (contrast 0.2),
    SimCLR stayed at random-init kNN (13% vs 11%, raw pixels 20%); with the
    digit in the opposite hue of its background (v2), the quickstart reached
    12% (AdamW) to 22% in 5-15 CPU minutes, raw pixels 21%. The same
    SimCLR recipe on v3 (global tint): 31% after 250 steps, random init 12%,
    raw pixels 15%.
  - Lighter or darker digits (a coin flip) so polarity carries no label.
  - Real-photo texture is clutter the features must ignore; at full photo
    contrast even a supervised net did not learn in CPU minutes.
  - Pixel noise keeps composites of one source digit from being clean
    copies of each other.

Each source digit is composited several times with independent nuisances
(10 per train source, 6 per test source). Every image keeps `source_index`,
its row in `load_digits`, so tests can check the splits are disjoint, and
its recipe draws (`load_draws`: size, position, tint hue, lighter or darker),
from which the `image_text` kind writes its captions. The draws are stored
in the same cache file; a cache written before they were (same images)
lacks their keys and is rebuilt once, to the same pixels, when they are
first asked for: the dataset is unchanged, so `_VERSION` is too.

The recipe, the RNG seed and the list of photos are fixed; changing any of
them must bump `_VERSION`, which is part of the cache file name, so old
caches are rebuilt rather than reused. This module imports only numpy,
scikit-learn and scikit-image (never tensorflow or jax): it stays cheap to
import from tests, notebooks and the `--help` of the entry point.
"""

import dataclasses
import os
import tempfile
import zipfile

import numpy as np

NAME = "embedded_digits"
NUM_CLASSES = 10
IMAGE_SHAPE = (32, 32, 3)

# Bump on any change to the recipe, the seed or the photos below.
_VERSION = "v3"
_SPLITS = ("train", "test")
# Per-image recipe draws stored beside the images (`load_draws`).
DRAW_KEYS = ("size", "top_frac", "left_frac", "hue", "darker")

# Photos shipped inside the wheels (no download). skimage.data functions
# verify the file's hash, so the pixels are pinned across installs.
_SKLEARN_PHOTOS = ("china.jpg", "flower.jpg")
_SKIMAGE_PHOTOS = (
  "astronaut",
  "chelsea",
  "coffee",
  "rocket",
  "hubble_deep_field",
  "immunohistochemistry",
  "camera",
  "coins",
  "moon",
  "grass",
  "gravel",
  "brick",
)


@dataclasses.dataclass(frozen=True)
class _Recipe:
  """Every knob of the build; the defaults are the published dataset."""

  seed: int = 0
  test_fraction: float = 0.2  # of each class's source digits
  train_copies: int = 10  # composites per train source digit
  test_copies: int = 6  # composites per test source digit
  size_range: tuple[float, float] = (10.0, 18.0)  # digit box side, pixels
  max_aspect: float = 1.15  # width/height drawn in [1/a, a]
  bg_zooms: tuple[int, ...] = (2, 4)  # photo downsampling factors
  bg_contrast: float = 0.1  # photo luminance deviations kept
  bg_level: tuple[float, float] = (0.4, 0.6)  # background mean HSV value
  tint_saturation: tuple[float, float] = (0.55, 0.65)
  digit_delta: tuple[float, float] = (0.35, 0.45)  # |digit - backdrop| value
  noise_std: float = 0.03  # Gaussian pixel noise, in [0, 1] units
  stroke_gain: float = 1.6  # >1 sharpens the upsampled stroke edges
  darker_prob: float = 0.5  # chance the digit is darker than its backdrop
  rotation: float = 0.0  # max |angle| of the digit, degrees
  clutter: int = 0  # distractor stroke fragments per image (at most)
  clutter_window: tuple[int, int] = (3, 5)  # fragment side, source pixels
  clutter_delta: tuple[float, float] = (0.2, 0.35)  # |fragment - backdrop|


_RECIPE = _Recipe()


def load(split: str, *, cache_dir: str | None = None) -> dict[str, np.ndarray]:
  """Loads one split, building and caching the dataset at first use.

  Args:
    split: "train" or "test".
    cache_dir: folder of the cache file; defaults to `$JAXSSL_CACHE_DIR`,
      else `$XDG_CACHE_HOME/jaxssl`, else `~/.cache/jaxssl`.

  Returns:
    A dict with "image": uint8 [N, 32, 32, 3], "label": int32 [N] in
    [0, 10), and "source_index": int32 [N], the row of each image's source
    digit in `sklearn.datasets.load_digits` (disjoint between splits).

  Raises:
    ValueError: if `split` is not "train" or "test".
  """
  if split not in _SPLITS:
    raise ValueError(
      f"{NAME}: unknown split {split!r}; expected one of {list(_SPLITS)}"
    )
  path = _cache_path(cache_dir)
  keys = {f"{split}/{key}": key for key in ("image", "label", "source_index")}
  arrays = _read_cache(path, list(keys))
  if arrays is None:
    arrays = _build(_RECIPE)
    _write_atomically(path, arrays)
  return {key: arrays[name] for name, key in keys.items()}


def load_draws(
  split: str, *, cache_dir: str | None = None
) -> dict[str, np.ndarray]:
  """Each image's own recipe draws (in `load(split)`'s order).

  Args:
    split: "train" or "test".
    cache_dir: as for `load`.

  Returns:
    {"size": float32 [N], the digit box side in pixels (log-uniform in
    `size_range`, before the aspect ratio); "top_frac", "left_frac":
    float32 [N] in [0, 1), the box's top / left edge as a fraction of its
    free range (0: against the top / left border, 1: the bottom / right);
    "hue": float32 [N] in [0, 1), the tint's hue in turns (0 red, 1/3
    green, 2/3 blue); "darker": bool [N], the digit darker than its
    backdrop (after the fit-in-[0, 1] correction, as drawn)}.

  Raises:
    ValueError: if `split` is not "train" or "test".
  """
  if split not in _SPLITS:
    raise ValueError(
      f"{NAME}: unknown split {split!r}; expected one of {list(_SPLITS)}"
    )
  path = _cache_path(cache_dir)
  names = [f"{split}/{key}" for key in DRAW_KEYS]
  arrays = _read_cache(path, names)
  if arrays is None:  # no cache, or one written before the draws were kept
    arrays = _build(_RECIPE)
    _write_atomically(path, arrays)
  return {key: arrays[f"{split}/{key}"] for key in DRAW_KEYS}


def describe() -> str:
  """A few lines on how the dataset is made, for the README and `--help`."""
  r = _RECIPE
  n_photos = len(_SKLEARN_PHOTOS) + len(_SKIMAGE_PHOTOS)
  return (
    f"{NAME} ({_VERSION}): 32x32x3 uint8, {NUM_CLASSES} classes, built "
    "offline from data inside scikit-learn and scikit-image.\n"
    "The 1797 real 8x8 handwritten digits of sklearn load_digits, split "
    f"{1 - r.test_fraction:.0%}/{r.test_fraction:.0%} per class into "
    "disjoint train/test source digits, each composited\n"
    f"{r.train_copies}x (train) / {r.test_copies}x (test) at a random size "
    f"({r.size_range[0]:g}-{r.size_range[1]:g} px) and position on a "
    f"faint crop of one of {n_photos} real photos,\n"
    "digit lighter or darker than its backdrop, the whole image in one "
    "random colour tint, plus pixel noise.\n"
    "Position, scale and hue carry no label: raw pixels do poorly; use "
    "crops >= 0.5 and hue jitter 0.5 for SSL."
  )


def save_examples_figure(
  path: str, n: int = 40, *, cache_dir: str | None = None
) -> None:
  """Saves a grid of the first `n` train images, titled with their labels.

  Args:
    path: output image file (PNG recommended).
    n: number of examples, shown 10 per row.
    cache_dir: passed to `load`.
  """
  import matplotlib  # pylint: disable=g-import-not-at-top

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  data = load("train", cache_dir=cache_dir)
  cols = min(n, 10)
  rows = -(-n // cols)
  fig, axes = plt.subplots(
    rows, cols, figsize=(cols * 0.9, rows * 1.05), squeeze=False
  )
  for i, ax in enumerate(axes.flat):
    ax.axis("off")
    if i < n:
      ax.imshow(data["image"][i], interpolation="nearest")
      ax.set_title(str(data["label"][i]), fontsize=8, pad=2)
  fig.suptitle(f"{NAME}: train examples (title = label)", fontsize=9)
  fig.tight_layout(pad=0.3)
  fig.savefig(path, dpi=80)
  plt.close(fig)


def version() -> str:
  """The recipe version: a new one means a different dataset."""
  return _VERSION


def cache_dir() -> str:
  """jaxssl's cache folder: `$JAXSSL_CACHE_DIR`, else
  `$XDG_CACHE_HOME/jaxssl`, else `~/.cache/jaxssl`."""
  path = os.environ.get("JAXSSL_CACHE_DIR")
  if path:
    return path
  xdg = os.environ.get("XDG_CACHE_HOME")
  if xdg:
    return os.path.join(xdg, "jaxssl")
  return os.path.join(os.path.expanduser("~"), ".cache", "jaxssl")


def _cache_path(folder: str | None) -> str:
  return os.path.join(folder or cache_dir(), f"{NAME}_{_VERSION}.npz")


def _read_cache(path: str, keys: list[str]) -> dict[str, np.ndarray] | None:
  """Returns the cached arrays `keys`, or None if missing or unreadable."""
  try:
    with np.load(path, allow_pickle=False) as f:
      return {key: f[key] for key in keys}
  except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
    return None


def _write_atomically(path: str, arrays: dict[str, np.ndarray]) -> None:
  # A temporary file in the same folder, then os.replace: readers (and other
  # processes building at the same time) never see a partial file.
  folder = os.path.dirname(path)
  os.makedirs(folder, exist_ok=True)
  fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npz")
  try:
    with os.fdopen(fd, "wb") as f:
      np.savez(f, **arrays)
    os.chmod(tmp, 0o644)  # mkstemp makes it 0600; a cache may be shared.
    os.replace(tmp, path)
  except BaseException:
    if os.path.exists(tmp):
      os.remove(tmp)
    raise


def _build(recipe: _Recipe) -> dict[str, np.ndarray]:
  """Builds both splits; keys are "<split>/<image|label|source_index>" and
  "<split>/<draw>" for each of `DRAW_KEYS`."""
  from sklearn import datasets  # pylint: disable=g-import-not-at-top

  digits = datasets.load_digits()
  # [0, 16] ink levels -> [0, 1] opacity.
  strokes = digits.images.astype(np.float32) / 16.0
  labels = digits.target.astype(np.int32)
  backgrounds = _load_backgrounds(recipe.bg_zooms)
  ss = np.random.SeedSequence([recipe.seed, 0x7E5D])
  split_rng, *image_rngs = [np.random.default_rng(s) for s in ss.spawn(3)]

  sources = _split_sources(labels, recipe.test_fraction, split_rng)
  copies = {"train": recipe.train_copies, "test": recipe.test_copies}
  out = {}
  for split, rng in zip(_SPLITS, image_rngs):
    index = np.repeat(sources[split], copies[split])
    # Shuffle so any prefix is a random, class-mixed sample.
    index = index[rng.permutation(len(index))]
    images, draws = _composite(strokes[index], backgrounds, recipe, rng)
    out[f"{split}/image"] = images
    out.update({f"{split}/{k}": v for k, v in draws.items()})
    out[f"{split}/label"] = labels[index]
    out[f"{split}/source_index"] = index.astype(np.int32)
  return out


def _split_sources(
  labels: np.ndarray, test_fraction: float, rng: np.random.Generator
) -> dict[str, np.ndarray]:
  """A stratified split of source-digit indices into train and test."""
  train, test = [], []
  for c in range(NUM_CLASSES):
    members = rng.permutation(np.flatnonzero(labels == c))
    n_test = round(test_fraction * len(members))
    test.append(members[:n_test])
    train.append(members[n_test:])
  return {
    "train": np.sort(np.concatenate(train)),
    "test": np.sort(np.concatenate(test)),
  }


def _load_backgrounds(zooms: tuple[int, ...]) -> list[np.ndarray]:
  """The bundled photos' luminance, float32 [h, w] in [0, 1], at each zoom."""
  from skimage import data as skdata  # pylint: disable=g-import-not-at-top
  from sklearn import datasets  # pylint: disable=g-import-not-at-top

  sample = datasets.load_sample_images()
  by_name = {
    os.path.basename(f): im for f, im in zip(sample.filenames, sample.images)
  }
  photos = [by_name[name] for name in _SKLEARN_PHOTOS]
  photos += [getattr(skdata, name)() for name in _SKIMAGE_PHOTOS]
  out = []
  for photo in photos:
    photo = photo.astype(np.float32) / 255.0
    if photo.ndim == 3:
      photo = photo @ np.array([0.299, 0.587, 0.114], np.float32)
    for z in zooms:
      # Box-filter downsampling: a zoomed-out photo has more edges and
      # objects per 32x32 crop than the smooth full-resolution one.
      h, w = photo.shape[0] // z * z, photo.shape[1] // z * z
      out.append(photo[:h, :w].reshape(h // z, z, w // z, z).mean((1, 3)))
  return out


def _composite(
  strokes: np.ndarray,
  backgrounds: list[np.ndarray],
  recipe: _Recipe,
  rng: np.random.Generator,
  chunk: int = 1024,
) -> np.ndarray:
  """Pastes digits on photo crops with random nuisances.

  Args:
    strokes: float32 [n, 8, 8] digit opacities in [0, 1].
    backgrounds: float32 [h, w] photo luminances in [0, 1].
    recipe: the nuisance parameters.
    rng: consumed in a fixed order, so the output is deterministic.
    chunk: images per vectorised block (keeps the work cache-sized).

  Returns:
    (uint8 [n, 32, 32, 3] images, {key: [n] draws} for `DRAW_KEYS`).
  """
  n = len(strokes)
  side = IMAGE_SHAPE[0]
  # All per-image draws first, then the per-pixel noise chunk by chunk.
  which = rng.integers(len(backgrounds), size=n)
  corner = rng.uniform(size=(n, 2))
  flip = rng.integers(2, size=n).astype(bool)
  bg_level = rng.uniform(*recipe.bg_level, n)
  # Digit box: random size (log-uniform) and aspect, fully inside the image.
  lo, hi = recipe.size_range
  size = np.exp(rng.uniform(np.log(lo), np.log(hi), n))
  aspect = np.exp(rng.uniform(-1, 1, n) * np.log(recipe.max_aspect))
  height = np.minimum(size / np.sqrt(aspect), side)
  width = np.minimum(size * np.sqrt(aspect), side)
  top_frac = rng.uniform(size=n)
  left_frac = rng.uniform(size=n)
  # Rotation (off in v3, which draws no angle): the rotated box's extent
  # must fit inside the image.
  angle = np.zeros(n)
  if recipe.rotation:
    angle = np.deg2rad(recipe.rotation) * rng.uniform(-1, 1, n)
  cos, sin = np.abs(np.cos(angle)), np.abs(np.sin(angle))
  ext_y = np.minimum(cos * height + sin * width, side)
  ext_x = np.minimum(sin * height + cos * width, side)
  top = top_frac * (side - ext_y)
  left = left_frac * (side - ext_x)
  centre_y, centre_x = top + ext_y / 2, left + ext_x / 2
  # Colour: one random tint (hue, saturation) for the whole image.
  hue = rng.uniform(size=n)
  tint = _hsv_tint(hue, rng.uniform(*recipe.tint_saturation, n))
  delta = rng.uniform(*recipe.digit_delta, n)
  # A coin flip draws as v3 did (its pixels stay bit-identical).
  darker = (
    rng.integers(2, size=n).astype(bool)
    if recipe.darker_prob == 0.5
    else rng.uniform(size=n) < recipe.darker_prob
  )

  images = np.empty((n,) + IMAGE_SHAPE, np.uint8)
  is_darker = np.empty(n, bool)
  for s in range(0, n, chunk):
    sl = slice(s, min(s + chunk, n))
    value = _crop_backgrounds(backgrounds, which[sl], corner[sl], flip[sl])
    mean = value.mean(axis=(1, 2), keepdims=True)
    value = bg_level[sl, None, None] + recipe.bg_contrast * (value - mean)
    if recipe.clutter:
      value = _add_clutter(value, strokes, recipe, rng)
    # Separable bilinear resampling, alpha = Wy @ strokes @ Wx^T, where W
    # maps output pixels to the 8 source pixels by a tent kernel.
    if recipe.rotation:
      alpha = _affine_alpha(
        strokes[sl],
        centre_y[sl],
        centre_x[sl],
        height[sl],
        width[sl],
        angle[sl],
        side,
      )
    else:
      w_y = _tent_weights(top[sl], height[sl], side)
      w_x = _tent_weights(left[sl], width[sl], side)
      alpha = np.einsum("nuk,nkl->nul", w_y, strokes[sl])
      alpha = np.einsum("nul,nvl->nuv", alpha, w_x)
    alpha = _crisp(alpha, recipe.stroke_gain).astype(np.float32)
    digit_value, is_darker[sl] = _digit_value(
      value, alpha, delta[sl], darker[sl]
    )
    grey = value + alpha * (digit_value[:, None, None] - value)
    x = grey[..., None] * tint[sl, None, None, :]
    x += recipe.noise_std * rng.standard_normal(x.shape, dtype=np.float32)
    np.clip(x, 0, 1, out=x)
    images[sl] = np.round(x * 255)
  draws = {
    "size": size.astype(np.float32),
    "top_frac": top_frac.astype(np.float32),
    "left_frac": left_frac.astype(np.float32),
    "hue": hue.astype(np.float32),
    "darker": is_darker,
  }
  return images, draws


def _add_clutter(
  value: np.ndarray,
  strokes: np.ndarray,
  recipe: _Recipe,
  rng: np.random.Generator,
) -> np.ndarray:
  """`value` [m, 32, 32] with up to `recipe.clutter` stroke fragments each.

  A fragment is a random window of a random source digit (any class),
  upsampled like a digit and pasted anywhere, lighter or darker than the
  background under it: pieces of strokes that look like the digits' own
  but carry no label.
  """
  m, side = len(value), IMAGE_SHAPE[0]
  out = value.copy()
  count = rng.integers(0, recipe.clutter + 1, size=m)
  lo, hi = recipe.clutter_window
  grid = np.arange(8)
  for j in range(recipe.clutter):
    rows = rng.integers(len(strokes), size=m)
    win = rng.integers(lo, hi + 1, size=(m, 2))
    start = (rng.uniform(size=(m, 2)) * (9 - win)).astype(int)
    mask_y = (grid >= start[:, :1]) & (grid < start[:, :1] + win[:, :1])
    mask_x = (grid >= start[:, 1:]) & (grid < start[:, 1:] + win[:, 1:])
    frag = strokes[rows] * (mask_y[:, :, None] & mask_x[:, None, :])
    size = np.exp(rng.uniform(*np.log(recipe.size_range), m))
    top = rng.uniform(-0.3, 1.0, m) * (side - 0.7 * size)
    left = rng.uniform(-0.3, 1.0, m) * (side - 0.7 * size)
    w_y = _tent_weights(top, size, side)
    w_x = _tent_weights(left, size, side)
    alpha = np.einsum("nuk,nkl,nvl->nuv", w_y, frag, w_x)
    alpha = _crisp(alpha, recipe.stroke_gain) * (j < count)[:, None, None]
    delta = rng.uniform(*recipe.clutter_delta, m)
    sign = np.where(rng.integers(2, size=m) == 1, -1.0, 1.0)
    frag_value = np.clip(out.mean(axis=(1, 2)) + sign * delta, 0, 1)
    out = out + alpha * (frag_value[:, None, None] - out)
  return out.astype(np.float32)


def _crisp(alpha: np.ndarray, gain: float) -> np.ndarray:
  """Bilinear upsampling blurs the 8x8 strokes; a gain about the mid level
  crisps their edges without aliasing."""
  return np.clip((alpha - 0.5) * gain + 0.5, 0, 1)


def _hsv_tint(hue: np.ndarray, saturation: np.ndarray) -> np.ndarray:
  """[n, 3] RGB of HSV (hue, saturation, value 1); hue in turns."""
  k = (np.array([5, 3, 1]) + 6 * hue[:, None]) % 6
  w = np.clip(np.minimum(k, 4 - k), 0, 1)
  return (1 - saturation[:, None] * w).astype(np.float32)


def _digit_value(
  value: np.ndarray, alpha: np.ndarray, delta: np.ndarray, darker: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
  """([n] HSV value of the digit, [n] bool darker as used): `delta` above or
  below its backdrop.

  The backdrop is the background value averaged under the digit. Darker or
  lighter is drawn at random (so polarity carries no label) unless only one
  side fits in [0, 1].
  """
  total = np.maximum(alpha.sum(axis=(1, 2)), 1e-6)
  backdrop = np.einsum("nhw,nhw->n", value, alpha) / total
  darker = np.where(backdrop - delta < 0.05, False, darker)
  darker = np.where(backdrop + delta > 1.0, True, darker)
  value = np.where(darker, backdrop - delta, backdrop + delta)
  return np.clip(value, 0, 1), darker


def _affine_alpha(
  strokes: np.ndarray,
  centre_y: np.ndarray,
  centre_x: np.ndarray,
  height: np.ndarray,
  width: np.ndarray,
  angle: np.ndarray,
  side: int,
) -> np.ndarray:
  """[n, side, side] bilinear samples of 8x8 strokes in a rotated box.

  The box of `height` x `width` pixels is centred at (`centre_y`,
  `centre_x`) and turned by `angle` (radians); at angle 0 this equals the
  separable `_tent_weights` resampling of the same box.
  """
  centers = np.arange(side) + 0.5
  dy = centers[None, :, None] - centre_y[:, None, None]
  dx = centers[None, None, :] - centre_x[:, None, None]
  c, s = np.cos(angle)[:, None, None], np.sin(angle)[:, None, None]
  # Rotate the output offset by -angle into the digit's frame.
  uy = (c * dy + s * dx) * (8 / height[:, None, None]) + 3.5
  ux = (-s * dy + c * dx) * (8 / width[:, None, None]) + 3.5
  grid = np.arange(8)
  w_y = np.maximum(0, 1 - np.abs(uy[..., None] - grid)).astype(np.float32)
  w_x = np.maximum(0, 1 - np.abs(ux[..., None] - grid)).astype(np.float32)
  return np.einsum("nijk,nijl,nkl->nij", w_y, w_x, strokes, optimize=True)


def _tent_weights(
  start: np.ndarray, length: np.ndarray, side: int
) -> np.ndarray:
  """[n, side, 8] bilinear weights from output pixels to 8 source pixels."""
  centers = np.arange(side) + 0.5
  # Source coordinate (in source pixels, centers at 0..7) of each output
  # pixel center; beyond [-1, 8] all weights are 0, i.e. transparent.
  coord = (centers[None, :] - start[:, None]) * (8 / length[:, None]) - 0.5
  return np.maximum(0, 1 - np.abs(coord[..., None] - np.arange(8)))


def _crop_backgrounds(
  backgrounds: list[np.ndarray],
  which: np.ndarray,
  corner: np.ndarray,
  flip: np.ndarray,
) -> np.ndarray:
  """[n, 32, 32] photo crops, mirrored where `flip`.

  Args:
    backgrounds: float32 [h, w] photos.
    which: int [n], the photo of each crop.
    corner: float [n, 2] in [0, 1), the crop's top-left corner as a
      fraction of the valid range.
    flip: bool [n], mirror left-right.
  """
  side = IMAGE_SHAPE[0]
  out = np.empty((len(which), side, side), np.float32)
  # A Python loop of slice copies beats a fancy-index gather here.
  for i, (b, (u, v)) in enumerate(zip(which, corner)):
    h, w = backgrounds[b].shape
    y, x = int(u * (h - side + 1)), int(v * (w - side + 1))
    out[i] = backgrounds[b][y : y + side, x : x + side]
  out[flip] = out[flip, :, ::-1]
  return out
