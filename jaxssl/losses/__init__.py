"""Self-supervised losses as pure JAX functions: `from jaxssl import losses`.

Flat public API (one import path per function; the private modules may move).
Every loss takes arrays first and keyword-only hyper-parameters, returns a
float32 scalar, and with `axis_name` set runs inside `jax.shard_map`.
This package depends only on JAX.
"""

from jaxssl.losses._contrastive import nt_xent

__all__ = [
    "nt_xent",
]
