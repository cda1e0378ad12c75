"""Pretext-task batch makers as pure JAX functions (not losses).

Each maker turns a batch of NHWC images into (inputs, labels) for a
classification pretext task: rotation prediction, jigsaw puzzles, relative
patch position, and colourisation targets in CIE Lab. Train them with
`optax.softmax_cross_entropy_with_integer_labels` (or an MSE for
colourisation). Randomness comes from an explicit `rng`; shapes are static.
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
) -> tuple[jax.Array, jax.Array]:
  """Jigsaw puzzles: cut a grid of tiles and shuffle them by a known
  permutation.

  Each image is cut into grid×grid tiles (row-major; edge pixels beyond a
  multiple of `grid` are dropped); a permutation index is drawn per image,
  and output tile j is input tile `permutations[label, j]`.

  Args:
    rng: a PRNG key.
    images: [n, h, w, c] images.
    grid: puzzle side.
    permutations: [P, grid²] integer permutations (e.g.
      `max_hamming_permutations(100)`); the label is a row index.

  Returns:
    tiles: [n, grid², h/grid, w/grid, c] shuffled tiles.
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
  tiles = _tiles(images, grid)  # [n, g², th, tw, c]
  labels = jax.random.randint(
    rng, (images.shape[0],), 0, permutations.shape[0], jnp.int32
  )
  order = permutations[labels].astype(jnp.int32)  # [n, g²]
  shuffled = jnp.take_along_axis(tiles, order[:, :, None, None, None], axis=1)
  return shuffled, labels


def relative_position(
  rng: jax.Array,
  images: jax.typing.ArrayLike,
) -> tuple[jax.Array, jax.Array]:
  """Context prediction: the centre patch and one of its 8 neighbours.

  Each image is divided into a 3×3 grid of patches (edge pixels beyond a
  multiple of 3 are dropped). The label gives the neighbour's position,
  row-major around the centre:

    0 1 2
    3 · 4
    5 6 7

  Args:
    rng: a PRNG key.
    images: [n, h, w, c] images with h, w ≥ 3.

  Returns:
    pairs: [n, 2, h/3, w/3, c] (centre patch, neighbour patch).
    labels: [n] int32 in [0, 8).

  Raises:
    ValueError: on wrong shapes.

  References:
    Doersch, Gupta & Efros, Unsupervised Visual Representation Learning by
    Context Prediction, arXiv:1505.05192.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jaxssl import pretext
    >>> x = jnp.arange(9.0).reshape(1, 3, 3, 1)
    >>> pairs, labels = pretext.relative_position(jax.random.key(0), x)
    >>> print(pairs[0, :, 0, 0, 0], labels)
    [4. 6.] [5]
  """
  images = _check_images(images)
  if images.shape[1] < 3 or images.shape[2] < 3:
    raise ValueError(
      f"`images` must be at least 3x3, got shape {tuple(images.shape)}."
    )
  tiles = _tiles(images, 3)  # [n, 9, th, tw, c]
  labels = jax.random.randint(rng, (images.shape[0],), 0, 8, jnp.int32)
  neighbour = jnp.where(labels < 4, labels, labels + 1)  # skip the centre 4
  picked = jnp.take_along_axis(
    tiles, neighbour[:, None, None, None, None], axis=1
  )
  return jnp.concatenate([tiles[:, 4:5], picked], axis=1), labels


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
