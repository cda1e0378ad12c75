"""The one training loop: state, mesh, optimizer, step, checkpoints, logging.

`jaxssl.train.run(config, workdir)` is the entry point for `jaxssl.main` and
notebooks; `jaxssl.train.restore(workdir)` brings a run's state back.
Methods plug in through `jaxssl.methods`; nothing here knows which method
runs.
"""


def run(config, workdir):
  """Trains `config` in `workdir` (resuming if it holds a checkpoint)."""
  from jaxssl.train import loop  # pylint: disable=g-import-not-at-top

  return loop.run(config, workdir)


def restore(workdir, config=None, *, step=None):
  """The state of the run in `workdir` (`jaxssl.train.restored.restore`)."""
  from jaxssl.train import restored  # pylint: disable=g-import-not-at-top

  return restored.restore(workdir, config, step=step)
