"""BERT's token corruption for masked language modelling (pure JAX).

`mask_tokens` selects positions and corrupts them (80% [MASK], 10% a random
token, 10% unchanged); the loss is `jaxssl.losses.masked_lm`. It lives here
until the text methods that use it arrive (then beside them); the image
pieces that shared this module moved to their users: the patch layout to
`jaxssl.models.patches`, MAE's random masking to `jaxssl.methods.mae`.
"""

from collections.abc import Sequence

import jax
import jax.numpy as jnp


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
