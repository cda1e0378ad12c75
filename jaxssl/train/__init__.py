"""The one training loop: state, mesh, optimizer, step, checkpoints, logging.

`jaxssl.train.run(config, workdir)` is the entry point for `jaxssl.main` and
notebooks. Methods plug in through `jaxssl.methods`; nothing here knows which
method runs.
"""


def run(config, workdir):
  """Trains `config` in `workdir` (resuming if it holds a checkpoint)."""
  from jaxssl.train import loop  # pylint: disable=g-import-not-at-top

  return loop.run(config, workdir)
