"""Data kinds: what the training loop reads, one module per kind of data.

`config.data.kind` names an entry of `KINDS`. A kind owns its keys of
`config.data` (with their defaults, merged by `configs_lib.base_config`),
checks them, and gives the loop, the evaluation protocols and the benchmark
one interface (`DataKind`): dataset info, resumable host-sharded training
batches, evaluation batches, and the abstract global batch.

  views   augmented image views (multi-view SSL: SimCLR, BYOL, DINO, ...)
  images  plain labelled images (methods that build their inputs on the
          device: rotation, jigsaw, ... pretext tasks, MAE-like models)
  tokens  text, tokenized and packed into fixed-length windows (BERT-,
          GPT-style language models, sentence embeddings)
  image_text  images paired with captions (CLIP, SigLIP)

Adding a kind is a module here with a `KIND` and an entry in `KINDS`; the
loop is not edited. Importing this package does not import TensorFlow (the
kinds import `jaxssl.data.pipeline` when first asked for batches), so
configs can read the kinds' defaults cheaply.
"""

from __future__ import annotations

from jaxssl.data.kinds import image_text, images, tokens, views
from jaxssl.data.kinds.base import DataKind, DatasetInfo

__all__ = ["KINDS", "DataKind", "DatasetInfo", "get"]

KINDS: dict[str, DataKind] = {
  "image_text": image_text.KIND,
  "images": images.KIND,
  "tokens": tokens.KIND,
  "views": views.KIND,
}


def get(name: str) -> DataKind:
  """The kind named `name`; a ValueError naming `config.data.kind` if none."""
  if name not in KINDS:
    raise ValueError(f"config.data.kind={name!r} is not one of {sorted(KINDS)}")
  return KINDS[name]
