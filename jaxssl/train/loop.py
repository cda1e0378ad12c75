"""`run(config, workdir)`: the one training loop, for every method.

A plain Python `for` over steps: host batch -> global sharded batch -> one
jitted, donated step. Metrics are fetched every `log_every_steps`,
checkpoints are saved every `ckpt_every_steps`, the evaluation protocols
run every `eval_every_steps` and at the end. Data comes from the data kind
(`jaxssl.data.kinds`), evaluation from the protocols (`jaxssl.evals`): the
loop never branches on a method, a kind or a protocol. Re-running with the
same workdir resumes.
"""

from __future__ import annotations

import os
import signal
import time

import jax
import jax.numpy as jnp
from absl import logging

from jaxssl import configs_lib, evals
from jaxssl.data import kinds
from jaxssl.train import baselines as baselines_lib
from jaxssl.train import checkpoint as ckpt_lib
from jaxssl.train import figures as figures_lib
from jaxssl.train import guards, init_from, resume
from jaxssl.train import mesh as mesh_lib
from jaxssl.train import setup as setup_lib
from jaxssl.train import writer as writer_lib


def prepare_workdir(workdir: str) -> str:
  """Creates `workdir` and checks that it is writable (one-line error)."""
  if not workdir:
    raise ValueError("--workdir is required (where checkpoints and metrics go)")
  workdir = os.path.abspath(os.path.expanduser(workdir))
  try:
    os.makedirs(workdir, exist_ok=True)
    probe = os.path.join(workdir, f".write_test_{os.getpid()}")
    with open(probe, "w", encoding="utf-8") as f:
      f.write("ok")
    os.remove(probe)
  except OSError as e:
    raise ValueError(
      f"workdir {workdir!r} is not writable: {e.strerror or e}"
    ) from None
  return workdir


class _Preemption:
  """Turns SIGTERM into a flag the loop checks once per step."""

  def __init__(self):
    self.requested = False
    self._previous = None

  def __enter__(self):
    try:
      self._previous = signal.signal(signal.SIGTERM, self._handle)
    except ValueError:  # not the main thread (e.g. some notebook kernels)
      self._previous = None
    return self

  def _handle(self, signum, frame):
    del signum, frame
    self.requested = True

  def __exit__(self, *exc):
    if self._previous is not None:
      signal.signal(signal.SIGTERM, self._previous)


def _global_spec(host_batch):
  """Shapes of the global batch from one host-local batch."""
  n = jax.process_count()
  return jax.tree.map(
    lambda x: jax.ShapeDtypeStruct((x.shape[0] * n,) + x.shape[1:], x.dtype),
    host_batch,
  )


def _log(msg: str) -> None:
  if jax.process_index() == 0:
    print(msg, flush=True)
  else:
    logging.info(msg)


def _progress(config, start: int):
  disable = (not config.train.progress_bar) or jax.process_index() != 0
  from tqdm.auto import tqdm  # pylint: disable=g-import-not-at-top

  return tqdm(
    total=config.train.total_steps,
    initial=start,
    disable=disable,
    unit="step",
    dynamic_ncols=True,
    desc="train",
  )


def _figure_batch(config, kind, method):
  """A fixed batch of `eval.num_figures` eval examples for Method.figures.

  Single process only, where the batch needs no cross-host assembly.
  """
  n = config.eval.num_figures
  if method.figures is None or n <= 0 or jax.process_count() != 1:
    return None
  batches = kind.eval_batches(
    config, config.data.eval_split, batch_size=n, max_examples=n
  )
  return {k: jnp.asarray(v) for k, v in next(iter(batches)).items()}


def _evaluate(
  evaluators, method, state, figure_batch, writer, step, *, final=False
):
  """Scores `state`, draws the method's figures, writes the protocols'
  texts (`Evaluator.texts`, optional); logs all at `step`."""
  scores, texts = {}, {}
  for evaluator in evaluators.values():
    scores.update(evaluator.evaluate(state, final=final))
    if getattr(evaluator, "texts", None) is not None:  # optional hook
      texts.update(evaluator.texts(state))
  writer.write(step, scores)
  writer.write_texts(step, texts)
  for name, text in texts.items():
    _log(f"{name} at step {step}:\n{text}")
  if figure_batch is not None:
    rng = jax.random.key(step)
    images = jax.device_get(
      method.figures(state.params, state.extra, figure_batch, rng)
    )
    writer.write_images(step, images)
  return scores


def _check_spec(kind, spec, host_batch) -> None:
  """The kind's batch spec must describe the batches it yields."""
  got = _global_spec(host_batch)
  want = {k: (v.shape, v.dtype) for k, v in spec.items()}
  have = {k: (v.shape, v.dtype) for k, v in got.items()}
  if want != have:
    raise ValueError(
      f"data kind {kind.name!r}: its batch_spec {want} does not match the "
      f"batches it yields {have}"
    )


def run(config, workdir: str) -> dict:
  """Trains (or resumes) `config` in `workdir`; returns the final summary.

  Returns:
    A dict with `steps`, `resumed_from`, `wall_s` (this call, compilation
    and evaluation included), `train_s` (the training steps of this call,
    compilation and periodic evaluations included; not the baselines or
    the final evaluation), `images_per_s`, `images_per_s_per_device`
    (training steps only), the final metrics of every evaluation protocol
    (`jaxssl.evals`; e.g. `eval/knn_top1`, and `eval/linear_top1` with
    `config.eval.linear_probe`) and, when computed, their baselines (the
    same keys suffixed by one of `evals.BASELINES`: `_random_init`,
    `_raw_pixels`, `_pca`, `_tfidf`, `_unigram`, `_bigram`). A run
    stopped by SIGTERM returns `{"steps": ..., "preempted": True}`.
  """
  t_start = time.perf_counter()
  config = configs_lib.validate(config)
  t = config.train
  kind = kinds.get(config.data.kind)
  info = kind.info(config)
  spec = kind.batch_spec(config)
  # Before the checkpointer: a config error (e.g. a batch the mesh cannot
  # split) must not leave Orbax's background threads running at exit.
  run = setup_lib.build(config, spec)
  mesh, method = run.mesh, run.method
  evals.selected(config, method)
  # Only now, with the config, data and protocols checked, is anything
  # written: a bad input leaves no workdir behind.
  workdir = prepare_workdir(workdir)
  checkpointer = ckpt_lib.Checkpointer(
    os.path.join(workdir, "checkpoints"),
    every_steps=t.ckpt_every_steps,
    max_to_keep=t.max_to_keep,
  )
  try:
    if checkpointer.latest_step() is not None:
      resume.check(workdir, config)  # only jaxssl.train.resume's safe keys
    # The newest checkpoint that restores and matches its fingerprint; bad
    # newer ones are moved aside with a warning (jaxssl.train.checkpoint).
    state, start = checkpointer.restore_latest(run.abstract_state())
    baseline_state = None
    if state is None:
      state = baseline_state = run.init(run.init_key)
      # The baselines' "random-init encoder" stays the random init; the
      # loaded weights are the run's start.
      if config.train.init_from:
        state, n = init_from.apply(state, config)
        _log(f"Initialised {n} arrays from {config.train.init_from}")
    else:
      _log(f"Resuming from the checkpoint at step {start} in {workdir}")
    if jax.process_index() == 0:
      resume.write(workdir, config)

    batches = kind.train_batches(config, start_step=start)
    first = next(batches)
    _check_spec(kind, spec, first)
    n_params = sum(x.size for x in jax.tree.leaves(state.params))
    _log(
      f"{method.name}: {config.model.name} ({n_params / 1e6:.2f}M params), "
      f"{config.data.name} ({info.num_train} train examples), global batch "
      f"{t.batch_size}, mesh {dict(mesh.shape)}, {jax.process_count()} "
      f"process(es)"
    )

    evaluators = evals.build(evals.Context(config, method, mesh, info, kind))
    # Method figures (e.g. MAE reconstructions) on a fixed eval batch.
    figure_batch = _figure_batch(config, kind, method)
    # The random init: at step 0 the state built above; on resume the same
    # arrays rebuilt from the seed, only if a protocol's baselines are missing.
    init_state = (
      (lambda s=baseline_state: s)
      if baseline_state is not None
      else (lambda: run.init(run.init_key))
    )
    del baseline_state
    baselines = (
      baselines_lib.ensure(workdir, evaluators, init_state, log=_log)
      if config.eval.baselines
      else {}
    )
    del init_state

  except BaseException:
    # Orbax's threads (the temporary-directory cleanup, a restore) end
    # before the error propagates, so it stays one line at exit.
    checkpointer.close(quiet=True)
    raise

  train_step = run.train_step
  writer = writer_lib.MetricWriter(workdir)
  bar = _progress(config, start)
  n_devices = mesh.devices.size
  host_batch = first
  timed_steps, timed_s = 0, 0.0
  last_eval = {}
  t_log, steps_since_log = time.perf_counter(), 0
  preempted = False
  t_train = time.perf_counter()
  pending = []  # (step, device metrics) of the steps not yet checked
  try:
    with _Preemption() as preemption:
      for step in range(start, t.total_steps):
        if preemption.requested:
          preempted = True
          break
        if host_batch is None:
          host_batch = next(batches)
        batch = mesh_lib.to_global(host_batch, mesh)
        host_batch = None
        with jax.transfer_guard("disallow"):
          state, metrics = train_step(state, batch)
        done = step + 1
        pending.append((done, metrics))
        bar.update(1)
        if step == start:  # compilation: keep it out of the throughput
          jax.block_until_ready(state)
          t_log = time.perf_counter()
        else:
          steps_since_log += 1
        log_now = done % t.log_every_steps == 0 or done == t.total_steps
        eval_now = (
          t.eval_every_steps
          and done % t.eval_every_steps == 0
          and (done != t.total_steps)
        )
        if log_now or eval_now or checkpointer.should_save(done):
          # Before anything is logged, evaluated or saved: a non-finite
          # state is never written (config.train.nan_policy).
          guards.check_finite(pending, t.nan_policy, checkpointer, _log)
          pending = []
        if log_now:
          metrics = jax.device_get(metrics)
          now = time.perf_counter()
          timed_steps += steps_since_log
          timed_s += now - t_log
          rate = (
            t.batch_size * steps_since_log / max(now - t_log, 1e-9)
            if steps_since_log
            else float("nan")
          )
          t_log, steps_since_log = now, 0
          metrics["train/images_per_s"] = rate
          metrics["train/images_per_s_per_device"] = rate / n_devices
          writer.write(done, metrics)
          loss = float(metrics["train/loss"])
          bar.set_postfix(loss=f"{loss:.4f}", ex_s=f"{rate:.0f}")
          t_log = time.perf_counter()
        checkpointer.maybe_save(done, state)
        if eval_now:
          last_eval = _evaluate(
            evaluators, method, state, figure_batch, writer, done
          )
          bar.write(
            f"step {done}: "
            + ", ".join(
              f"{k.removeprefix('eval/')} {_number(v, k)}"
              for k, v in last_eval.items()
            )
          )
          t_log = time.perf_counter()
    guards.check_finite(pending, t.nan_policy, checkpointer, _log)
    bar.close()
    train_s = time.perf_counter() - t_train
    final_step = int(jax.device_get(state.step))
    checkpointer.maybe_save(final_step, state, force=True)
    checkpointer.close()
  except BaseException as e:
    # The checkpoints already written survive: let an in-flight save end
    # (or fail) before the error propagates.
    bar.close()
    checkpointer.close(quiet=True)
    writer.close(quiet=True)
    if isinstance(e, OSError):  # e.g. disk full, workdir unwritable
      raise guards.write_failure(e, checkpointer) from e
    raise
  if preempted:
    _log(
      f"SIGTERM: saved a checkpoint at step {final_step} in {workdir}; "
      "run the same command to resume."
    )
    writer.close()
    return {"steps": final_step, "preempted": True}

  final = _evaluate(
    evaluators, method, state, figure_batch, writer, final_step, final=True
  )
  if config.eval.figures:  # never fails the run: errors are logged lines
    figures_lib.write_run_figures(
      config,
      workdir,
      method=method,
      state=state,
      kind=kind,
      mesh=mesh,
      writer=writer,
      step=final_step,
      log=_log,
    )
  writer.close()
  rate = t.batch_size * timed_steps / timed_s if timed_s else float("nan")
  summary = {
    "steps": final_step,
    "resumed_from": start,
    "wall_s": time.perf_counter() - t_start,
    "train_s": train_s,
    "images_per_s": rate,
    "images_per_s_per_device": rate / n_devices,
    **(
      {"skipped_steps": int(jax.device_get(state.skipped_steps))}
      if t.nan_policy == "skip"
      else {}
    ),
    **final,
    **baselines,
  }
  _log(format_summary(summary, method.name, config))
  return summary


def _number(value: float, key: str) -> str:
  """Accuracies (top-k, recall) as percentages, other metrics plainly; a
  metric a row does not have (NaN) as a dash."""
  if value != value:
    return "-"
  if any(t in key for t in ("_top", "recall", "accuracy")):
    return f"{value:.2f}%"
  return f"{value:.4g}"


def _cell(value: float, key: str, width: int) -> str:
  """`value` (`_number`) right-aligned in `width`."""
  return f"{_number(value, key):>{width}}"


def format_summary(summary: dict, method_name: str, config) -> str:
  """The end-of-run table printed to the console."""
  lines = [
    "",
    f"== {method_name} on {config.data.name}: done ==",
    f"steps                {summary['steps']} (resumed from "
    f"{summary['resumed_from']})"
    if summary["resumed_from"]
    else f"steps                {summary['steps']}",
    f"wall time            {summary['wall_s']:.0f} s (training "
    f"{summary['train_s']:.0f} s, the rest setup and evaluation)",
    f"throughput           {summary['images_per_s']:.1f} examples/s "
    f"({summary['images_per_s_per_device']:.1f} per device)",
  ]
  suffixes = tuple(f"_{b}" for b in evals.BASELINES)
  columns = [
    k for k in summary if k.startswith("eval/") and not k.endswith(suffixes)
  ]
  labels = {
    "eval/knn_top1": "kNN top-1",
    "eval/knn_top5": "kNN top-5",
    "eval/linear_top1": "linear top-1",
    "eval/linear_top5": "linear top-5",
  }
  width = max([14] + [len(labels.get(k, k)) + 2 for k in columns])
  lines.append(
    f"{'':21}" + "".join(f"{labels.get(k, k):>{width}}" for k in columns)
  )
  rows = [("learned encoder", "")] + [
    (evals.BASELINE_LABELS.get(b, b), f"_{b}") for b in evals.BASELINES
  ]
  for label, suffix in rows:
    if columns and any(k + suffix in summary for k in columns):
      lines.append(
        f"{label:21}"
        + "".join(
          _cell(summary.get(k + suffix, float("nan")), k, width)
          for k in columns
        )
      )
  if "eval/knn_top1" in summary:
    lines.append(
      f"(kNN: k={config.eval.knn_k}, T={config.eval.knn_temperature}, "
      f"cosine; PCA: {config.eval.pca_components} components; on the "
      f"{config.data.eval_split} split)"
    )
  return "\n".join(lines)
