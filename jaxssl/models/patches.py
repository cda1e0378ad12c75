"""Patch layout of images for ViTs and masked image modelling.

`patchify` / `unpatchify` follow the official MAE layout (row-major patch
grid, (row, column, channel) inside a patch, channel fastest): the ViT's
patch embedding reads it and MAE's pixel targets are written in it.
"""

import jax
import jax.numpy as jnp


def patchify(images: jax.typing.ArrayLike, patch: int) -> jax.Array:
  """Splits NHWC images into flattened non-overlapping patches.

  Patches are ordered row-major over the (h/patch, w/patch) grid; inside a
  patch values are ordered (row, column, channel) with the channel fastest,
  as in the official MAE `patchify`.

  Args:
    images: [n, h, w, c] images; h and w divisible by `patch`.
    patch: patch side length p.

  Returns:
    [n, l, p*p*c] patches with l = (h/p)·(w/p).

  Raises:
    ValueError: if `images` is not rank 4 or not divisible by `patch`.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl.models import patches
    >>> x = jnp.arange(16.0).reshape(1, 4, 4, 1)
    >>> print(patches.patchify(x, 2)[0, 1])
    [2. 3. 6. 7.]
  """
  images = jnp.asarray(images)
  if images.ndim != 4:
    raise ValueError(
      f"`images` must be [n, h, w, c], got shape {tuple(images.shape)}."
    )
  n, h, w, c = images.shape
  if patch < 1 or h % patch or w % patch:
    raise ValueError(
      f"`images` of shape {tuple(images.shape)} are not "
      f"divisible into patches of size {patch}."
    )
  gh, gw = h // patch, w // patch
  x = images.reshape(n, gh, patch, gw, patch, c)
  x = x.transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(n, gh * gw, patch * patch * c)


def unpatchify(
  patches: jax.typing.ArrayLike, patch: int, channels: int
) -> jax.Array:
  """Inverse of `patchify` for a square patch grid (MAE's `unpatchify`).

  Args:
    patches: [n, l, p*p*c] patches, l a perfect square.
    patch: patch side length p.
    channels: number of channels c.

  Returns:
    [n, h, w, c] images with h = w = sqrt(l)·p.

  Raises:
    ValueError: if the shapes are inconsistent.

  Example:
    >>> import jax.numpy as jnp
    >>> from jaxssl.models import patches
    >>> x = jnp.arange(48.0).reshape(1, 4, 4, 3)
    >>> bool((patches.unpatchify(patches.patchify(x, 2), 2, 3) == x).all())
    True
  """
  patches = jnp.asarray(patches)
  if patches.ndim != 3:
    raise ValueError(
      f"`patches` must be [n, l, p*p*c], got shape {tuple(patches.shape)}."
    )
  n, l, dim = patches.shape
  side = round(l**0.5)
  if side * side != l or dim != patch * patch * channels:
    raise ValueError(
      f"`patches` of shape {tuple(patches.shape)} do not form a square grid "
      f"of {patch}x{patch}x{channels} patches."
    )
  x = patches.reshape(n, side, side, patch, patch, channels)
  x = x.transpose(0, 1, 3, 2, 4, 5)
  return x.reshape(n, side * patch, side * patch, channels)
