"""Multi-process runs: `jax.distributed` start-up and a lost-process watchdog.

`initialize` connects this process to the others (`jax.distributed`) and
starts a `Watchdog`: a daemon thread that publishes a heartbeat counter in
the coordination service's key-value store every `interval_s` and, on
process 0, watches everyone's. When a process stops beating for
`timeout_s` (killed, preempted, its host down), process 0 publishes which
one was lost, and every survivor prints one line

  jaxssl: error: lost process 1 of 2 (no heartbeat for 10 s: killed, ...)

and exits with status 1, instead of waiting forever inside a collective
that the lost process will never join. The checkpoints already written
are complete (an interrupted save is only a temporary directory, deleted
on the next start), so re-running every process with the same command
resumes from the last one.

Why a watchdog of our own: by default JAX shares fate too, but it kills
the survivors from C++ (`LOG(FATAL)`, SIGABRT) with a stack trace, and the
client's `missed_heartbeat_callback` that would let Python intercept that
cannot be used from Python in jaxlib 0.10 (the status argument fails to
convert: `std::bad_cast`, then `terminate`). JAX's own heartbeat timeout is
set to 3x ours + 10 s (`jax_heartbeat_timeout_s`), so it stays the backstop
(e.g. for a watchdog stuck in an RPC to a host that vanished without
closing its sockets).

What this cannot make one line: losing process 0, which hosts the
coordination service. JAX terminates every other process within about a
second of its sockets closing, with its own message ("Terminating process
because the JAX distributed service detected fatal errors ... Failed to
send RPC to coordination service") and SIGABRT (exit status 134); a
relaunch resumes all the same.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import threading
import time

import jax

_BEAT = "jaxssl/heartbeat/"  # + process id -> a counter, or _DONE
_LOST = "jaxssl/lost/"  # + process id -> its last beat, set by process 0
_DONE = "done"

_failing = threading.Lock()
_watchdog: Watchdog | None = None

# First lines of the errors a survivor's own collectives and barriers raise
# when a peer is gone (Gloo on CPU; the coordination service everywhere).
_PEER_FAILURE = re.compile(
  r"Gloo|Connection reset|Connection refused|heartbeat|UNAVAILABLE|"
  r"coordination service|Barrier failed|task is set to ERROR|not connected",
)


def _client():
  # The client that jax.distributed.initialize made; Orbax's multihost
  # utilities reach it the same way.
  from jax._src import distributed  # pylint: disable=g-import-not-at-top

  return distributed.global_state.client


def fail(message: str, *, status: int = 1) -> None:
  """Prints `jaxssl: error: <message>` once and ends the process now.

  `os._exit`, not `sys.exit`: the interpreter's exit would run JAX's
  `atexit` shutdown, a barrier with the processes that are gone. The first
  caller wins; a second (the main thread while the watchdog reports) waits
  for the exit.
  """
  _failing.acquire()  # never released: the winner's os._exit ends us all
  sys.stdout.flush()
  print(f"jaxssl: error: {message}", file=sys.stderr, flush=True)
  os._exit(status)


class Watchdog(threading.Thread):
  """Heartbeats through the coordination service; exits on a lost process.

  Every process writes `jaxssl/heartbeat/<id>` (a counter, or "done" once
  its run has finished). Process 0 reads them all each `interval_s` (one
  `key_value_dir_get`), and when one has not changed for `timeout_s`
  writes `jaxssl/lost/<id>`, waits two intervals so the others can read it,
  and exits. The others read only `jaxssl/lost/`, so the service answers
  2N + 1 small requests per interval for N processes. A survivor whose
  requests to the service have failed for `timeout_s` reports process 0
  (the service's host) as lost.

  Args:
    client: the `jax.distributed` client (key_value_set / _dir_get).
    process_id, num_processes: this process and the count.
    timeout_s: seconds without a heartbeat before a process counts as lost.
    interval_s: seconds between heartbeats; default timeout_s / 10, in
      [0.2, 5].
    hint: appended to the message (what to do next).
    on_lost: called with the message instead of `fail` (tests).
  """

  def __init__(
    self,
    client,
    process_id: int,
    num_processes: int,
    *,
    timeout_s: float,
    interval_s: float | None = None,
    hint: str = "",
    on_lost=None,
  ):
    super().__init__(name="jaxssl-watchdog", daemon=True)
    if timeout_s <= 0:
      raise ValueError(f"timeout_s={timeout_s} must be > 0")
    self.client = client
    self.process_id = process_id
    self.num_processes = num_processes
    self.timeout_s = float(timeout_s)
    self.interval_s = (
      min(max(timeout_s / 10, 0.2), 5.0) if interval_s is None else interval_s
    )
    self.hint = hint
    self._on_lost = on_lost or fail
    self._stop_event = threading.Event()

  def stop(self, *, done: bool = True) -> None:
    """Stops beating; `done` tells process 0 this one finished normally."""
    self._stop_event.set()
    if self.is_alive():
      self.join(timeout=max(2 * self.interval_s, 1.0))
    if done:
      try:
        self.client.key_value_set(
          f"{_BEAT}{self.process_id}", _DONE, allow_overwrite=True
        )
      except Exception:  # pylint: disable=broad-except
        pass  # the service is gone: nobody is left to tell

  def lost_message(self, lost: list[int]) -> str:
    names = ", ".join(str(j) for j in lost)
    who = f"process {names}" if len(lost) == 1 else f"processes {names}"
    if lost == [0]:
      who += " (the coordinator)"
    return (
      f"lost {who} of {self.num_processes} (no heartbeat for "
      f"{self.timeout_s:.0f} s: killed, preempted, or its host is down); "
      f"process {self.process_id} stops too. {self.hint}"
    ).rstrip()

  def run(self) -> None:
    start = time.monotonic()
    seen = {j: (None, start) for j in range(self.num_processes)}
    last_ok = start
    beat = 0
    while not self._stop_event.wait(self.interval_s):
      now = time.monotonic()
      try:
        beat += 1
        self.client.key_value_set(
          f"{_BEAT}{self.process_id}", str(beat), allow_overwrite=True
        )
        if self.process_id == 0:
          lost = self._check_beats(seen, now)
        else:
          lost = sorted(
            int(k.rsplit("/", 1)[1])
            for k, _ in self.client.key_value_dir_get(_LOST)
          )
        last_ok = now
      except Exception:  # pylint: disable=broad-except
        if now - last_ok > self.timeout_s:
          self._on_lost(self.lost_message([0]))
          return
        continue
      if lost:
        if self.process_id == 0:
          for j in lost:
            try:
              self.client.key_value_set(f"{_LOST}{j}", "1")
            except Exception:  # pylint: disable=broad-except
              pass
          # Let the others read the verdict before the service goes away
          # with this process.
          self._stop_event.wait(2 * self.interval_s + 0.5)
        self._on_lost(self.lost_message(lost))
        return

  def _check_beats(self, seen: dict, now: float) -> list[int]:
    values = dict(self.client.key_value_dir_get(_BEAT))
    lost = []
    for j in range(self.num_processes):
      if j == self.process_id:
        continue
      value = values.get(f"{_BEAT}{j}")
      if value == _DONE:
        seen[j] = (value, now)
        continue
      if value != seen[j][0]:
        seen[j] = (value, now)
      elif now - seen[j][1] > self.timeout_s:
        lost.append(j)
    return lost


def jax_heartbeat_timeout_s(timeout_s: int) -> int:
  """JAX's own heartbeat timeout for a watchdog timeout of `timeout_s`.

  The coordination service declared a SIGKILLed process dead 0.55-0.95 x
  its timeout after the kill (measured, jaxlib 0.10.2); the watchdog
  reports within `timeout_s` + 1.2 intervals + the verdict's 2.5 intervals.
  3 x + 10 s keeps JAX's verdict (a C++ abort) after ours.
  """
  return 3 * timeout_s + 10


def initialize(
  coordinator_address: str | None,
  num_processes: int | None,
  process_id: int | None,
  *,
  heartbeat_timeout_s: int = 100,
  init_timeout_s: int = 300,
  hint: str = "",
) -> None:
  """`jax.distributed.initialize`, then the lost-process `Watchdog`.

  Args:
    coordinator_address, num_processes, process_id: as for
      `jax.distributed.initialize` (None: from the cluster's environment).
    heartbeat_timeout_s: a process silent this long counts as lost and the
      others exit (`Watchdog`); JAX's own heartbeat timeout is
      `jax_heartbeat_timeout_s` of it.
    init_timeout_s: how long to wait for every process to connect.
    hint: what to do next, appended to the lost-process message.

  Raises:
    ValueError: a timeout is not positive. When the processes have not all
      connected within `init_timeout_s`, this process ends (`fail`, naming
      the coordinator).
  """
  global _watchdog
  for name, value in (
    ("--heartbeat_timeout_s", heartbeat_timeout_s),
    ("--init_timeout_s", init_timeout_s),
  ):
    if value <= 0:
      raise ValueError(f"{name}={value} must be > 0 (seconds)")
  # A process that never connects makes JAX abort from C++ at its
  # initialization timeout; this timer says why first, in one line.
  timer = threading.Timer(
    init_timeout_s,
    fail,
    (
      f"process {process_id} of {num_processes}: not every process "
      f"connected to the coordinator at {coordinator_address} within "
      f"--init_timeout_s={init_timeout_s}; start all of them, with the same "
      "--coordinator_address and --num_processes",
    ),
  )
  timer.daemon = True
  timer.start()
  try:
    jax.distributed.initialize(
      coordinator_address,
      num_processes,
      process_id,
      initialization_timeout=init_timeout_s + 30,
      heartbeat_timeout_seconds=jax_heartbeat_timeout_s(heartbeat_timeout_s),
    )
  finally:
    timer.cancel()
  if jax.process_count() > 1:
    _watchdog = Watchdog(
      _client(),
      jax.process_index(),
      jax.process_count(),
      timeout_s=heartbeat_timeout_s,
      hint=hint,
    )
    _watchdog.start()


def finish() -> None:
  """Stops the watchdog after a run that ended normally in this process."""
  global _watchdog
  if _watchdog is not None:
    _watchdog.stop(done=True)
    _watchdog = None


def is_peer_failure(error: BaseException) -> bool:
  """Whether `error` (or an error it wraps) says another process is gone."""
  seen = error
  while seen is not None:
    if _PEER_FAILURE.search(str(seen).split("\n", 1)[0]):
      return True
    seen = seen.__cause__ or seen.__context__
  return False


def lost_peer(error: BaseException) -> None:
  """Ends a survivor whose collective or barrier failed on a lost process.

  Waits up to one heartbeat timeout (and five intervals + 2 s) for the watchdog
  to name the lost process and exit; if it does not, reports `error`'s
  first line.
  """
  watchdog = _watchdog
  if watchdog is not None:
    # Its worst case: the timeout, an interval of phase, and process 0's
    # 2.5 intervals + 0.5 s of verdict (`Watchdog.run`); then some slack.
    watchdog.join(timeout=watchdog.timeout_s + 5 * watchdog.interval_s + 2)
  first = (str(error).strip().splitlines() or [""])[0][:200]
  fail(
    f"a collective with another process failed ({type(error).__name__}: "
    f"{first}): a process was lost or the network between them failed. "
    + (watchdog.hint if watchdog is not None else "")
  )


@contextlib.contextmanager
def reporting_lost_processes():
  """Runs the body; stops the watchdog after it, reports a lost process.

  In a multi-process run, an error from the body that says a peer is gone
  (`is_peer_failure`) ends the process through `lost_peer` (one line, exit
  status 1) instead of propagating; others propagate. JAXSSL_TRACEBACK=1
  keeps every error as it is.
  """
  try:
    yield
  except Exception as e:  # pylint: disable=broad-except
    if (
      jax.process_count() > 1
      and is_peer_failure(e)
      and not os.environ.get("JAXSSL_TRACEBACK")
    ):
      lost_peer(e)
    raise
  finish()
