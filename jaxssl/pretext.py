"""Pretext-task batch makers as pure JAX functions (not losses).

Each maker turns a batch of NHWC images into (inputs, labels) for a
classification pretext task: rotation prediction, jigsaw puzzles, relative
patch position, and colourisation targets in CIE Lab (with Zhang et al.'s
quantised ab bins and soft encoding). Train them with
`optax.softmax_cross_entropy_with_integer_labels` (or a cross-entropy on the
soft-encoded bins, or an MSE, for colourisation). Randomness comes from an
explicit `rng`; shapes are static. The methods in `jaxssl.methods`
(rotation, jigsaw, relative_position, colorization) call them inside the
jitted train step.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np


def _check_images(images, name="images"):
  images = jnp.asarray(images)
  if images.ndim != 4:
    raise ValueError(
      f"`{name}` must be [n, h, w, c], got shape {tuple(images.shape)}."
    )
  return images


def rotation(
  rng: jax.Array, images: jax.typing.ArrayLike
) -> tuple[jax.Array, jax.Array]:
  """RotNet: rotates each image by a random multiple of 90 degrees.

  Label k means the image was rotated by k·90° counter-clockwise
  (`np.rot90(image, k)` on the spatial axes).

  Args:
    rng: a PRNG key.
    images: [n, h, w, c] images with h = w.

  Returns:
    rotated: [n, h, w, c] images.
    labels: [n] int32 in {0, 1, 2, 3}.

  Raises:
    ValueError: if `images` is not rank 4 or not square.

  References:
    Gidaris et al., Unsupervised Representation Learning by Predicting
    Image Rotations, arXiv:1803.07728.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jaxssl import pretext
    >>> x = jnp.arange(8.0).reshape(2, 2, 2, 1)
    >>> rotated, labels = pretext.rotation(jax.random.key(0), x)
    >>> rotated.shape, labels.dtype
    ((2, 2, 2, 1), dtype('int32'))
  """
  images = _check_images(images)
  if images.shape[1] != images.shape[2]:
    raise ValueError(
      f"`images` must be square, got shape {tuple(images.shape)}."
    )
  labels = jax.random.randint(rng, (images.shape[0],), 0, 4, jnp.int32)
  all_rot = jnp.stack([jnp.rot90(images, k, axes=(1, 2)) for k in range(4)])
  rotated = jnp.take_along_axis(
    all_rot, labels[None, :, None, None, None], axis=0
  )[0]
  return rotated, labels


def _tiles(images, grid):
  n, h, w, c = images.shape
  th, tw = h // grid, w // grid
  x = images[:, : th * grid, : tw * grid]
  x = x.reshape(n, grid, th, grid, tw, c).transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(n, grid * grid, th, tw, c)


def _crop(images, rows, cols, size):
  """[n, size[0], size[1], c] crops of [n, h, w, c] at traced corners [n]."""
  c = images.shape[-1]

  def one(image, r, col):
    return jax.lax.dynamic_slice(image, (r, col, 0), (*size, c))

  return jax.vmap(one)(images, rows, cols)


def max_hamming_permutations(
  count: int, *, grid: int = 3, seed: int = 0
) -> np.ndarray:
  """A set of tile permutations with large pairwise Hamming distance.

  Noroozi & Favaro's greedy algorithm: start from a random permutation and
  repeatedly add the candidate whose minimum Hamming distance to the chosen
  set is largest. Deterministic for a given `seed`. Plain NumPy (host side,
  run once when building a config).

  Args:
    count: number of permutations (the jigsaw classes).
    grid: puzzle side (grid² tiles); grid ≤ 3 enumerates all permutations.
    seed: NumPy seed.

  Returns:
    [count, grid²] int32 array of permutations.

  Example:
    >>> from jaxssl import pretext
    >>> pretext.max_hamming_permutations(4, grid=2).shape
    (4, 4)
  """
  size = grid * grid
  rng = np.random.default_rng(seed)
  if grid <= 3:
    pool = np.array(list(itertools.permutations(range(size))), np.int8)
  else:
    pool = np.stack([rng.permutation(size) for _ in range(20000)]).astype(
      np.int8
    )
  if count > len(pool):
    raise ValueError(f"`count`={count} exceeds the {len(pool)} permutations.")
  chosen = [int(rng.integers(len(pool)))]
  min_dist = np.sum(pool != pool[chosen[0]], axis=1)
  for _ in range(count - 1):
    nxt = int(np.argmax(min_dist))
    chosen.append(nxt)
    min_dist = np.minimum(min_dist, np.sum(pool != pool[nxt], axis=1))
  return pool[chosen].astype(np.int32)


def jigsaw(
  rng: jax.Array,
  images: jax.typing.ArrayLike,
  *,
  grid: int = 3,
  permutations: jax.typing.ArrayLike,
  tile_size: int | None = None,
) -> tuple[jax.Array, jax.Array]:
  """Jigsaw puzzles: cut a grid of tiles and shuffle them by a known
  permutation.

  Each image is cut into grid×grid cells (row-major; edge pixels beyond a
  multiple of `grid` are dropped); a permutation index is drawn per image,
  and output tile j comes from input cell `permutations[label, j]`. With
  `tile_size` smaller than a cell, each tile is a `tile_size` square at an
  independent uniformly random position inside its cell (Noroozi & Favaro:
  64-pixel tiles in 75-pixel cells), so neighbouring tiles are separated by
  a random gap and edges or lines do not continue from tile to tile: the
  network must recognise parts, not match borders.

  Args:
    rng: a PRNG key.
    images: [n, h, w, c] images.
    grid: puzzle side.
    permutations: [P, grid²] integer permutations (e.g.
      `max_hamming_permutations(100)`); the label is a row index.
    tile_size: side of the tiles, at most the cell side
      (min(h, w) // grid); None: the whole cell, no gap.

  Returns:
    tiles: [n, grid², t, t', c] shuffled tiles, t = t' = `tile_size`, or
      (h/grid, w/grid) without it.
    labels: [n] int32 permutation indices in [0, P).

  Raises:
    ValueError: on wrong shapes.

  References:
    Noroozi & Favaro, Unsupervised Learning of Visual Representations by
    Solving Jigsaw Puzzles, arXiv:1603.09246.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jaxssl import pretext
    >>> x = jnp.arange(16.0).reshape(1, 4, 4, 1)
    >>> perms = jnp.array([[3, 2, 1, 0]])
    >>> tiles, labels = pretext.jigsaw(jax.random.key(0), x, grid=2,
    ...                                permutations=perms)
    >>> print(tiles[0, :, 0, 0, 0])
    [10.  8.  2.  0.]
  """
  images = _check_images(images)
  permutations = jnp.asarray(permutations)
  if permutations.ndim != 2 or permutations.shape[1] != grid * grid:
    raise ValueError(
      f"`permutations` must be [P, {grid * grid}], got shape "
      f"{tuple(permutations.shape)}."
    )
  cell = min(images.shape[1], images.shape[2]) // grid
  if tile_size is not None and not 1 <= tile_size <= cell:
    raise ValueError(
      f"`tile_size`={tile_size} must be in [1, {cell}] (the cell side of "
      f"{tuple(images.shape)} images in a {grid}x{grid} grid)."
    )
  k_label, k_pos = jax.random.split(rng)
  tiles = _tiles(images, grid)  # [n, g², th, tw, c]
  labels = jax.random.randint(
    k_label, (images.shape[0],), 0, permutations.shape[0], jnp.int32
  )
  if tile_size is not None:
    n, g2, th, tw, c = tiles.shape
    k_r, k_c = jax.random.split(k_pos)
    rows = jax.random.randint(k_r, (n * g2,), 0, th - tile_size + 1)
    cols = jax.random.randint(k_c, (n * g2,), 0, tw - tile_size + 1)
    tiles = _crop(
      tiles.reshape(n * g2, th, tw, c), rows, cols, (tile_size, tile_size)
    ).reshape(n, g2, tile_size, tile_size, c)
  order = permutations[labels].astype(jnp.int32)  # [n, g²]
  shuffled = jnp.take_along_axis(tiles, order[:, :, None, None, None], axis=1)
  return shuffled, labels


# Neighbour offsets (row, column) of the 8 relative-position classes.
RELATIVE_OFFSETS = (
  (-1, -1),
  (-1, 0),
  (-1, 1),
  (0, -1),
  (0, 1),
  (1, -1),
  (1, 0),
  (1, 1),
)


def relative_position(
  rng: jax.Array,
  images: jax.typing.ArrayLike,
  *,
  patch_size: int | None = None,
  gap: int = 0,
  jitter: int = 0,
) -> tuple[jax.Array, jax.Array]:
  """Context prediction: the centre patch and one of its 8 neighbours.

  Patches lie on a 3×3 grid of pitch `patch_size + gap`; the label gives
  the neighbour's position, row-major around the centre:

    0 1 2
    3 · 4
    5 6 7

  The grid is placed at a uniformly random position in the image (where
  it is smaller than the image) and each of the two patches then moves by
  its own uniform jitter in [-jitter, jitter] pixels per axis. Doersch et
  al. (96-pixel patches, a 48-pixel gap, jitter up to 7 pixels) use the gap
  and the jitter so that the task cannot be solved by continuing edges or
  textures across the patch border: the network has to know what objects
  and their parts look like.

  Args:
    rng: a PRNG key.
    images: [n, h, w, c] images.
    patch_size: side of the square patches; None: (h // 3, w // 3) with no
      gap or jitter allowed beyond what fits.
    gap: pixels between neighbouring patches (before jitter).
    jitter: the largest shift of each patch, per axis.

  Returns:
    pairs: [n, 2, p, p', c] (centre patch, neighbour patch).
    labels: [n] int32 in [0, 8).

  Raises:
    ValueError: on wrong shapes, or a grid (3 patches + 2 gaps + 2 jitters
      per side) larger than the image.

  References:
    Doersch, Gupta & Efros, Unsupervised Visual Representation Learning by
    Context Prediction, ICCV 2015, arXiv:1505.05192.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jaxssl import pretext
    >>> x = jnp.arange(9.0).reshape(1, 3, 3, 1)
    >>> pairs, labels = pretext.relative_position(jax.random.key(0), x)
    >>> print(pairs[0, :, 0, 0, 0], labels)
    [4. 8.] [7]
  """
  images = _check_images(images)
  n, h, w, _ = images.shape
  if gap < 0 or jitter < 0:
    raise ValueError(f"`gap`={gap} and `jitter`={jitter} must be >= 0.")
  ph, pw = (h // 3, w // 3) if patch_size is None else (patch_size,) * 2
  span = (3 * ph + 2 * gap + 2 * jitter, 3 * pw + 2 * gap + 2 * jitter)
  if min(ph, pw) < 1 or span[0] > h or span[1] > w:
    raise ValueError(
      f"3 patches of `patch_size`={patch_size} with `gap`={gap} and "
      f"`jitter`={jitter} need {span[0]}x{span[1]} pixels, more than the "
      f"{h}x{w} of `images` {tuple(images.shape)}."
    )
  k_label, k_origin, k_jitter = jax.random.split(rng, 3)
  labels = jax.random.randint(k_label, (n,), 0, 8, jnp.int32)
  offsets = jnp.asarray(RELATIVE_OFFSETS, jnp.int32)[labels]  # [n, 2]
  origin = jnp.stack(
    [
      jax.random.randint(k, (n,), 0, limit - extent + 1)
      for k, limit, extent in zip(
        jax.random.split(k_origin), (h, w), span, strict=True
      )
    ],
    axis=-1,
  )  # [n, 2] top-left of the jitter-padded grid
  shifts = jax.random.randint(k_jitter, (n, 2, 2), -jitter, jitter + 1)
  pitch = jnp.asarray([ph + gap, pw + gap], jnp.int32)
  centre = origin + jitter + pitch + shifts[:, 0]
  neighbour = origin + jitter + (1 + offsets) * pitch + shifts[:, 1]
  pairs = jnp.stack(
    [
      _crop(images, corner[:, 0], corner[:, 1], (ph, pw))
      for corner in (centre, neighbour)
    ],
    axis=1,
  )
  return pairs, labels


# sRGB (D65) -> XYZ, and the D65 reference white (as skimage.color).
_RGB_TO_XYZ = np.array(
  [
    [0.412453, 0.357580, 0.180423],
    [0.212671, 0.715160, 0.072169],
    [0.019334, 0.119193, 0.950227],
  ]
)
_WHITE_D65 = np.array([0.95047, 1.0, 1.08883])


def rgb_to_lab(images: jax.typing.ArrayLike) -> jax.Array:
  """Converts sRGB in [0, 1] to CIE L*a*b* (D65, 2° observer).

  Same constants and piecewise definitions as `skimage.color.rgb2lab`.

  Args:
    images: [..., 3] sRGB values in [0, 1].

  Returns:
    float32 [..., 3]: L in [0, 100], a and b roughly in [-128, 127].

  Raises:
    ValueError: if the last axis is not 3.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import pretext
    >>> lab = pretext.rgb_to_lab(jnp.array([1.0, 1.0, 1.0]))
    >>> print(jnp.round(lab, 2) + 0.0)  # + 0.0 turns -0. into 0.
    [100.   0.   0.]
  """
  x = jnp.asarray(images)
  if x.shape[-1:] != (3,):
    raise ValueError(
      f"`images` must end in 3 channels, got shape {tuple(x.shape)}."
    )
  x = x.astype(jnp.promote_types(x.dtype, jnp.float32))
  linear = jnp.where(x > 0.04045, ((x + 0.055) / 1.055) ** 2.4, x / 12.92)
  xyz = linear @ jnp.asarray(_RGB_TO_XYZ.T, x.dtype)
  xyz = xyz / jnp.asarray(_WHITE_D65, x.dtype)
  eps = 0.008856
  f = jnp.where(
    xyz > eps, jnp.cbrt(jnp.maximum(xyz, eps)), 7.787 * xyz + 16.0 / 116.0
  )
  fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
  return jnp.stack(
    [116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], axis=-1
  )


def colorization(images: jax.typing.ArrayLike) -> tuple[jax.Array, jax.Array]:
  """Colourisation inputs and targets: lightness in, colour (ab) out.

  Args:
    images: [..., 3] sRGB values in [0, 1].

  Returns:
    lightness: [..., 1] L / 50 - 1, in [-1, 1] (the network input).
    ab: [..., 2] (a, b) / 110, roughly in [-1, 1] (the regression target;
      quantise it for Zhang et al.'s classification variant).

  References:
    Zhang, Isola & Efros, Colorful Image Colorization, arXiv:1603.08511.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import pretext
    >>> l, ab = pretext.colorization(jnp.ones((1, 2, 2, 3)))
    >>> l.shape, ab.shape
    ((1, 2, 2, 1), (1, 2, 2, 2))
  """
  lab = rgb_to_lab(images)
  return lab[..., :1] / 50.0 - 1.0, lab[..., 1:] / 110.0


def ab_gamut_bins(step: float = 10.0, *, resolution: int = 64) -> np.ndarray:
  """Centres of the quantised ab cells that sRGB colours reach.

  Zhang et al. quantise the ab plane into a grid of side 10 and keep the
  Q = 313 cells in the sRGB gamut. Here the gamut is sampled: the sRGB
  cube at `resolution`³ points goes through `rgb_to_lab`, and every cell
  hit by some colour is kept. Host-side NumPy, run once when a method is
  built.

  Args:
    step: cell side in Lab units.
    resolution: samples per RGB axis.

  Returns:
    [Q, 2] float32 (a, b) cell centres (multiples of `step`), sorted.

  Example:
    >>> from jaxssl import pretext
    >>> bins = pretext.ab_gamut_bins()
    >>> bins.shape[1], 250 < len(bins) < 350
    (2, True)
  """
  axis = np.linspace(0.0, 1.0, resolution)
  rgb = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1)
  ab = np.asarray(rgb_to_lab(rgb.reshape(-1, 3)))[:, 1:]
  cells = np.unique(np.round(ab / step).astype(np.int32), axis=0)
  return (cells * step).astype(np.float32)


def soft_encode(
  ab: jax.typing.ArrayLike,
  bins: jax.typing.ArrayLike,
  *,
  sigma: float = 5.0,
  neighbours: int = 5,
) -> jax.Array:
  """Zhang et al.'s soft encoding of ab values over the quantised bins.

  Each ab value is spread over its `neighbours` nearest bin centres with
  Gaussian weights of width `sigma` (Lab units), normalised to sum to 1.

  Args:
    ab: [..., 2] (a, b) in Lab units.
    bins: [Q, 2] bin centres (`ab_gamut_bins()`).
    sigma: Gaussian kernel width.
    neighbours: bins each value is spread over, in [1, Q].

  Returns:
    float32 [..., Q] target distributions.

  Raises:
    ValueError: if `ab` does not end in 2 or `neighbours` is out of range.

  References:
    Zhang, Isola & Efros, Colorful Image Colorization, ECCV 2016,
    arXiv:1603.08511, Sec. 2.1.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import pretext
    >>> bins = pretext.ab_gamut_bins()
    >>> target = pretext.soft_encode(jnp.zeros((2, 2)), bins)
    >>> target.shape == (2, len(bins)), round(float(target[0].sum()), 4)
    (True, 1.0)
  """
  ab = jnp.asarray(ab, jnp.float32)
  bins = jnp.asarray(bins, jnp.float32)
  if ab.shape[-1:] != (2,):
    raise ValueError(f"`ab` must end in 2 values, got shape {ab.shape}.")
  if not 1 <= neighbours <= bins.shape[0]:
    raise ValueError(
      f"`neighbours`={neighbours} must be in [1, {bins.shape[0]}]."
    )
  d2 = jnp.sum((ab[..., None, :] - bins) ** 2, axis=-1)  # [..., Q]
  # The k-th smallest distance; only bins at or under it get weight.
  kth = -jax.lax.top_k(-d2, neighbours)[0][..., -1:]
  logits = jnp.where(d2 <= kth, -d2 / (2 * sigma**2), -jnp.inf)
  return jax.nn.softmax(logits, axis=-1)


def rebalance_weights(
  prior: jax.typing.ArrayLike,
  bins: jax.typing.ArrayLike,
  *,
  mix: float = 0.5,
  sigma: float = 5.0,
) -> jax.Array:
  """Zhang et al.'s class-rebalancing weight of every ab bin.

  w ∝ ((1 - mix) p̃ + mix / Q)⁻¹, normalised so that E_p̃[w] = 1, where
  p̃ is the empirical bin distribution `prior` smoothed by a Gaussian of
  width `sigma` over the bin centres. Rare (saturated) colours get weights
  above 1, the common desaturated ones below: without it the prediction
  collapses to greyish brown.

  Args:
    prior: [Q] bin frequencies (any non-negative scale).
    bins: [Q, 2] bin centres.
    mix: λ, the weight of the uniform distribution, in [0, 1].
    sigma: smoothing width in Lab units.

  Returns:
    float32 [Q] weights.

  References:
    Zhang, Isola & Efros, arXiv:1603.08511, Sec. 2.2, Eq. 4 (λ = 1/2,
    σ = 5).

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl import pretext
    >>> bins = pretext.ab_gamut_bins()
    >>> prior = jnp.ones(len(bins)).at[0].set(100.0)  # one common colour
    >>> w = pretext.rebalance_weights(prior, bins)
    >>> bool(w[0] < w[-1])  # the common colour weighs less
    True
  """
  prior = jnp.asarray(prior, jnp.float32)
  bins = jnp.asarray(bins, jnp.float32)
  prior = prior / jnp.maximum(jnp.sum(prior), 1e-12)
  d2 = jnp.sum((bins[:, None] - bins[None]) ** 2, axis=-1)
  kernel = jnp.exp(-d2 / (2 * sigma**2))
  smooth = kernel @ prior
  smooth = smooth / jnp.sum(smooth)
  w = 1.0 / ((1 - mix) * smooth + mix / prior.shape[0])
  return w / jnp.sum(smooth * w)
