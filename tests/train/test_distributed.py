"""The lost-process watchdog on a real coordination service, in-process.

A `jax.distributed` service and three clients on 127.0.0.1 (the objects
`jax.distributed.initialize` builds, without touching this process's
backend); each watchdog reports to a list instead of exiting. The
2-process runs with a real SIGKILL are in test_multihost.py.
"""

import socket
import threading
import time

import pytest
from jax._src.lib import _jax

from jaxssl.train import checkpoint, distributed

TIMEOUT_S = 2.0
INTERVAL_S = 0.05


@pytest.fixture
def clients():
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    address = f"127.0.0.1:{s.getsockname()[1]}"
  service = _jax.get_distributed_runtime_service(
    address, 3, heartbeat_timeout=100, shutdown_timeout=5
  )
  made = [
    _jax.get_distributed_runtime_client(
      address,
      i,
      init_timeout=30,
      heartbeat_timeout=100,
      shutdown_on_destruction=False,
    )
    for i in range(3)
  ]
  _all(made, "connect")
  yield made
  _all(made, "shutdown")
  service.shutdown()


def _all(clients, method):
  threads = [threading.Thread(target=getattr(c, method)) for c in clients]
  for t in threads:
    t.start()
  for t in threads:
    t.join()


def _watchdogs(clients, reports):
  def on_lost(i):
    return lambda message: reports.append((i, message, time.monotonic()))

  dogs = [
    distributed.Watchdog(
      c,
      i,
      3,
      timeout_s=TIMEOUT_S,
      interval_s=INTERVAL_S,
      hint="Re-run.",
      on_lost=on_lost(i),
    )
    for i, c in enumerate(clients)
  ]
  for d in dogs:
    d.start()
  return dogs


def _wait(predicate, seconds):
  deadline = time.monotonic() + seconds
  while not predicate() and time.monotonic() < deadline:
    time.sleep(0.02)


def test_a_silent_process_is_named_by_every_survivor_in_bounded_time(
  clients,
):
  reports = []
  dogs = _watchdogs(clients, reports)
  time.sleep(5 * INTERVAL_S)
  dogs[2].stop(done=False)  # beats stop, as when it is SIGKILLed
  silent_since = time.monotonic()
  _wait(lambda: len(reports) == 2, 10 * TIMEOUT_S)
  for d in dogs:
    d.stop()
  assert sorted(r[0] for r in reports) == [0, 1]
  for i, message, at in reports:
    assert message == (
      "lost process 2 of 3 (no heartbeat for 2 s: killed, preempted, or "
      f"its host is down); process {i} stops too. Re-run."
    )
    # Process 0 decides after TIMEOUT_S (+ one interval of phase); the
    # others read its verdict within an interval or two.
    assert TIMEOUT_S <= at - silent_since < TIMEOUT_S + 40 * INTERVAL_S


def test_a_process_that_finished_is_not_lost(clients):
  reports = []
  dogs = _watchdogs(clients, reports)
  time.sleep(5 * INTERVAL_S)
  dogs[1].stop(done=True)  # its run ended; the others still evaluate
  time.sleep(2.5 * TIMEOUT_S)
  for d in dogs:
    d.stop()
  assert reports == []


class _Unreachable:
  """A client whose service is gone. (The real loss of the service kills
  this process from C++, so it cannot be staged in-process.)"""

  def key_value_set(self, *args, **kwargs):
    raise RuntimeError("UNAVAILABLE: Failed to send RPC to coordination")

  key_value_dir_get = key_value_set


def test_an_unreachable_coordinator_is_reported_after_the_timeout():
  reports = []
  dog = distributed.Watchdog(
    _Unreachable(),
    1,
    2,
    timeout_s=TIMEOUT_S,
    interval_s=INTERVAL_S,
    on_lost=lambda m: reports.append((m, time.monotonic())),
  )
  start = time.monotonic()
  dog.start()
  dog.join(timeout=5 * TIMEOUT_S)
  assert len(reports) == 1
  message, at = reports[0]
  assert message.startswith("lost process 0 (the coordinator) of 2 ")
  assert TIMEOUT_S < at - start < TIMEOUT_S + 40 * INTERVAL_S


def test_peer_failures_are_told_from_the_users_errors():
  # The errors a survivor raised in the 2-process runs (ValueError from a
  # fetch, JaxRuntimeError from Orbax, wrapped as a write failure).
  gloo = ValueError(
    "UNKNOWN: Gloo all-reduce failed: [external/gloo/gloo/transport/tcp/"
    "pair.cc:538] Read error [127.0.0.1]:4527: Connection reset by peer"
  )
  wrapped = checkpoint.CheckpointWriteError("cannot write a checkpoint")
  wrapped.__cause__ = gloo
  barrier = RuntimeError(
    "INTERNAL: Barrier failed because: task is set to ERROR: UNAVAILABLE: "
    "Task 1 heartbeat timeout."
  )
  for error in (gloo, wrapped, barrier):
    assert distributed.is_peer_failure(error), error
  for error in (
    ValueError("config.train.batch_size=10 is not divisible by 4"),
    OSError(28, "No space left on device"),
    FloatingPointError("non-finite loss at step 3"),
  ):
    assert not distributed.is_peer_failure(error), error


@pytest.mark.parametrize("timeout_s", [1, 5, 10, 30, 100, 600, 3600])
def test_jax_abort_comes_after_the_watchdog(timeout_s):
  # JAX declared a SIGKILLed process dead 0.55-0.95 x its timeout after the
  # kill (measured at 10, 20, 40 s); the watchdog reports within its
  # timeout + an interval of phase + 2.5 intervals + 0.5 s of verdict.
  dog = distributed.Watchdog(None, 0, 2, timeout_s=timeout_s)
  worst = timeout_s + 3.5 * dog.interval_s + 0.5
  assert 0.55 * distributed.jax_heartbeat_timeout_s(timeout_s) > worst


@pytest.mark.parametrize("flag", ["heartbeat_timeout_s", "init_timeout_s"])
def test_bad_timeouts_name_the_flag(flag):
  with pytest.raises(ValueError, match=f"^--{flag}=0 must be > 0"):
    distributed.initialize("127.0.0.1:1", 2, 0, **{flag: 0})
