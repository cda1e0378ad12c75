"""Masked-modelling helpers as pure JAX functions (not losses).

MAE's patch layout and argsort-of-noise masking, and BERT's token
corruption. The matching losses are `jaxssl.losses.mae`, `masked_lm` and
`next_token`. Everything here is jit/vmap-safe with static shapes.
"""

from collections.abc import Sequence

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
    >>> from jaxssl import masking
    >>> x = jnp.arange(16.0).reshape(1, 4, 4, 1)
    >>> print(masking.patchify(x, 2)[0, 1])
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
    >>> from jaxssl import masking
    >>> x = jnp.arange(48.0).reshape(1, 4, 4, 3)
    >>> bool((masking.unpatchify(masking.patchify(x, 2), 2, 3) == x).all())
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


def random_masking(
  rng: jax.Array,
  n: int,
  l: int,
  *,
  ratio: float = 0.75,
) -> tuple[jax.Array, jax.Array, jax.Array]:
  """MAE's per-sample random masking by argsort of uniform noise.

  Each row keeps `int(l * (1 - ratio))` tokens chosen uniformly at random.

  Args:
    rng: a PRNG key.
    n: number of samples.
    l: tokens per sample.
    ratio: fraction of tokens to mask, in [0, 1).

  Returns:
    ids_keep: [n, l_keep] int32 indices of the visible tokens
      (gather them with `jnp.take_along_axis(x, ids_keep[..., None], 1)`).
    is_masked: [n, l] bool, True where the token is hidden.
    ids_restore: [n, l] int32 permutation that puts
      `concat([kept, mask_tokens])` back in the original order.

  Raises:
    ValueError: if `ratio` is outside [0, 1).

  References:
    He et al., Masked Autoencoders Are Scalable Vision Learners,
    arXiv:2111.06377.

  Example:
    >>> import jax
    >>> from jaxssl import masking
    >>> keep, is_masked, restore = masking.random_masking(
    ...     jax.random.key(0), 2, 8, ratio=0.75)
    >>> keep.shape, int(is_masked.sum())
    ((2, 2), 12)
  """
  if not 0.0 <= ratio < 1.0:
    raise ValueError(f"`ratio` must be in [0, 1), got {ratio}.")
  len_keep = int(l * (1 - ratio))
  noise = jax.random.uniform(rng, (n, l))
  ids_shuffle = jnp.argsort(noise, axis=1).astype(jnp.int32)
  ids_restore = jnp.argsort(ids_shuffle, axis=1).astype(jnp.int32)
  ids_keep = ids_shuffle[:, :len_keep]
  is_masked = ids_restore >= len_keep
  return ids_keep, is_masked, ids_restore


def mask_tokens(
  rng: jax.Array,
  tokens: jax.typing.ArrayLike,
  *,
  mask_id: int,
  vocab_size: int,
  rate: float = 0.15,
  special_ids: Sequence[int] = (),
) -> tuple[jax.Array, jax.Array, jax.Array]:
  """BERT's masked-LM corruption: 80% [MASK], 10% random, 10% unchanged.

  Every non-special position is selected independently with probability
  `rate` (as HuggingFace's DataCollatorForLanguageModeling). Selected
  positions become `mask_id` with probability 0.8, a uniformly random token
  in [0, vocab_size) with probability 0.1, and stay unchanged otherwise.

  Args:
    rng: a PRNG key.
    tokens: [n, l] integer token ids.
    mask_id: id of the [MASK] token.
    vocab_size: size of the vocabulary for random replacements.
    rate: selection probability.
    special_ids: ids never selected (e.g. [CLS], [SEP], padding).

  Returns:
    inputs: [n, l] corrupted tokens.
    targets: [n, l] the original tokens (score them where `is_masked`).
    is_masked: [n, l] bool, the selected positions.

  Raises:
    ValueError: if `tokens` is not an integer array of rank 2.

  References:
    Devlin et al., BERT: Pre-training of Deep Bidirectional Transformers for
    Language Understanding, arXiv:1810.04805.

  Example:
    >>> import jax, jax.numpy as jnp
    >>> from jaxssl import masking
    >>> tokens = jnp.full((4, 100), 7)
    >>> inputs, targets, is_masked = masking.mask_tokens(
    ...     jax.random.key(0), tokens, mask_id=0, vocab_size=10)
    >>> bool(((inputs != 7) <= is_masked).all())
    True
  """
  tokens = jnp.asarray(tokens)
  if tokens.ndim != 2 or not jnp.issubdtype(tokens.dtype, jnp.integer):
    raise ValueError(
      "`tokens` must be an integer [n, l] array, got shape "
      f"{tuple(tokens.shape)} and dtype {tokens.dtype}."
    )
  k_select, k_mask, k_random, k_tokens = jax.random.split(rng, 4)
  is_special = jnp.isin(
    tokens, jnp.asarray(tuple(special_ids), dtype=tokens.dtype)
  )
  is_masked = jax.random.bernoulli(k_select, rate, tokens.shape) & ~is_special
  to_mask = jax.random.bernoulli(k_mask, 0.8, tokens.shape) & is_masked
  to_random = (
    jax.random.bernoulli(k_random, 0.5, tokens.shape) & is_masked & ~to_mask
  )
  random_tokens = jax.random.randint(
    k_tokens, tokens.shape, 0, vocab_size, dtype=tokens.dtype
  )
  inputs = jnp.where(to_mask, jnp.asarray(mask_id, tokens.dtype), tokens)
  inputs = jnp.where(to_random, random_tokens, inputs)
  return inputs, tokens, is_masked
