"""Shared pieces of the loop tests."""

from jaxssl.train import loop


def stop_after(steps: int) -> type:
  """A `loop._Preemption` that behaves like a SIGTERM after `steps` steps.

  Monkeypatch it over `loop._Preemption`; the loop checks it once per step.
  """

  class _StopAfter(loop._Preemption):  # pylint: disable=protected-access
    def __enter__(self):
      self._checks = 0
      return super().__enter__()

    @property
    def requested(self):
      self._checks += 1
      return self._checks > steps

    @requested.setter
    def requested(self, value):
      pass

  return _StopAfter
