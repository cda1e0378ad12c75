"""jaxssl: self-supervised learning in JAX.

Import what you need: `from jaxssl import losses` (pure JAX, no TensorFlow),
`jaxssl.train.run(config, workdir)` for the training loop. This module itself
imports nothing heavy.
"""

__version__ = "0.1.0"
