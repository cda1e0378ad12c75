r"""Evaluate a finished run: `python -m jaxssl.eval --workdir DIR --protocol P`.

Examples:
  python -m jaxssl.eval --workdir /tmp/quick --protocol fewshot
  python -m jaxssl.eval --workdir /tmp/quick --protocol representation \
      --protocol diagnostics --step 200

Restores the run in `--workdir` (its `config.json` and its newest
checkpoint, or `--step`) onto this machine's devices, builds its data kind
and each protocol (`jaxssl.evals.PROTOCOLS`; any the method declares in
`Method.protocols`, including those a run skips by default,
`jaxssl.evals.ON_REQUEST`), scores the state as the end of a run does
(`evaluate(state, final=True)`), prints the metrics and appends them as one
row `{"step": N, "eval/...": ...}` to `<workdir>/metrics.jsonl` (and to its
TensorBoard events), the loop's format. Nothing is trained or written to
the checkpoints.

Baselines (when the run has `eval.baselines` on, or with `--baselines`): a
protocol the run was not trained with gets its baselines (the random-init
encoder, raw pixels, ...) scored from the run's random init, rebuilt from
its seed, and merged into `<workdir>/baselines.json`, as the loop keeps them
(`jaxssl.train.baselines`); they are printed beside the metrics.

Trying an evaluation recipe: `--set KEY=VALUE` (repeatable; `eval.*` keys
and `model.vit_pool`, the keys that leave the trained parameters as they
are) scores the run with the changed keys, e.g.

  python -m jaxssl.eval --workdir /tmp/mae --protocol finetune \
      --set eval.finetune_head=probe --set eval.finetune_steps=600

The results then are not the run's own: `metrics.jsonl` and
`baselines.json` are left as they are, the baselines are scored afresh
under the same keys, and `--output FILE` appends one JSON line
`{"workdir", "step", "set", "metrics"}` per call.

Bad input (no run or checkpoint in the workdir, an unknown protocol, one
that does not fit the method) exits with one line `jaxssl: error: ...`
(set JAXSSL_TRACEBACK=1 for the traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


# jaxssl.evals.PROTOCOLS' names, for --help without importing JAX (a test
# keeps the two equal).
PROTOCOL_NAMES = (
  "representation",
  "fewshot",
  "finetune",
  "linear_sgd",
  "diagnostics",
  "zeroshot",
  "mlm",
  "next_token",
  "sentence",
)


# Keys beside eval.* that --set may change: they leave the trained
# parameters as they are. model.vit_pool picks what a ViT's features read
# (the cls token or the mean patch token; MAE fine-tunes on the mean).
AFTER_TRAINING = ("model.vit_pool",)


class _Parser(argparse.ArgumentParser):
  def error(self, message):
    sys.exit(f"jaxssl: error: {message} (see --help)")


def parser() -> argparse.ArgumentParser:
  p = _Parser(
    prog="python -m jaxssl.eval",
    description="Score a finished jaxssl run with evaluation protocols "
    "without retraining; the metrics are printed and appended to "
    "<workdir>/metrics.jsonl.",
  )
  p.add_argument(
    "--workdir",
    required=True,
    help="the --workdir of a jaxssl run (config.json, checkpoints/)",
  )
  p.add_argument(
    "--protocol",
    action="append",
    required=True,
    metavar="NAME",
    help="a protocol of jaxssl.evals.PROTOCOLS that the run's method "
    f"declares ({', '.join(PROTOCOL_NAMES)}); repeat for several",
  )
  p.add_argument(
    "--step",
    type=int,
    default=None,
    help="the checkpointed step to score (default: the newest)",
  )
  p.add_argument(
    "--set",
    action="append",
    default=[],
    metavar="KEY=VALUE",
    help="an eval.* config key (or model.vit_pool) changed for this "
    "evaluation (repeatable), e.g. eval.finetune_head=probe; the run's "
    "metrics.jsonl and "
    "baselines.json are then left untouched",
  )
  p.add_argument(
    "--baselines",
    action=argparse.BooleanOptionalAction,
    default=None,
    help="score the protocols' baselines too (default: as the run's "
    "eval.baselines); those already in <workdir>/baselines.json are reused "
    "unless --set is given",
  )
  p.add_argument(
    "--output",
    default=None,
    metavar="FILE",
    help="append {workdir, step, set, metrics} as one JSON line to FILE",
  )
  return p


def evaluate(
  workdir: str,
  protocols,
  *,
  step: int | None = None,
  write: bool = True,
  overrides: dict[str, object] | None = None,
  baselines: bool | None = None,
) -> tuple[int, dict[str, float]]:
  """(step, metrics) of the run in `workdir` under `protocols`.

  Args:
    workdir: the run's `--workdir`.
    protocols: names in `jaxssl.evals.PROTOCOLS`.
    step: the checkpointed step to score (default: the newest).
    write: append the metrics to the run's `metrics.jsonl` (and merge new
      baselines into `baselines.json`); ignored with `overrides`.
    overrides: dotted `eval.*` keys changed for this evaluation.
    baselines: also score (or reuse) the protocols' baselines, returned
      among the metrics; default the run's `eval.baselines`.

  Raises:
    ValueError: a protocol unknown or unfit to the run's method (naming
      --protocol), or an override that is not an `eval.*` key (naming --set).
    FileNotFoundError: no run, checkpoint or `step` in `workdir`.
  """
  # pylint: disable=g-import-not-at-top
  from jaxssl import evals, methods
  from jaxssl import overrides as overrides_lib
  from jaxssl.data import kinds
  from jaxssl.train import baselines as baselines_lib
  from jaxssl.train import restored, writer

  protocols = tuple(dict.fromkeys(protocols))  # once each, in order
  for name in protocols:  # before the config: a typo needs no workdir
    if name not in evals.PROTOCOLS:
      raise ValueError(
        f"--protocol: {name!r} is not one of {sorted(evals.PROTOCOLS)}"
      )
  overrides = dict(overrides or {})
  for key in overrides:
    if not (key.startswith("eval.") or key in AFTER_TRAINING):
      raise ValueError(
        f"--set {key}: only eval.* keys and {', '.join(AFTER_TRAINING)} "
        "can change after training"
      )
  config = restored.saved_config(workdir)
  if overrides:
    config = overrides_lib.apply(config, overrides, flag="--set")
    write = False  # another recipe's scores are not the run's own
  evals.check(protocols, methods.build(config), key="--protocol")
  run = restored.restore(workdir, config, step=step)
  kind = kinds.get(run.config.data.kind)
  context = evals.Context(
    run.config, run.method, run.mesh, kind.info(run.config), kind
  )
  built = {name: evals.PROTOCOLS[name](context) for name in protocols}
  metrics = {}
  for evaluator in built.values():
    metrics.update(evaluator.evaluate(run.state, final=True))
  if write:
    out = writer.MetricWriter(workdir)
    try:
      out.write(run.step, metrics)
    finally:
      out.close()
  if baselines is None:
    baselines = run.config.eval.baselines
  if baselines:
    if overrides:  # the kept baselines are of the run's own recipe
      state = run.init_state()
      for evaluator in built.values():
        metrics.update(evaluator.baselines(state))
    else:
      metrics.update(
        baselines_lib.ensure(workdir, built, run.init_state, write=write)
      )
  return run.step, metrics


def main(argv=None) -> dict[str, float]:
  """Parses `argv` (default sys.argv[1:]), evaluates, prints the metrics."""
  # pylint: disable=g-import-not-at-top
  from jaxssl import overrides as overrides_lib

  args = parser().parse_args(argv)
  try:
    sets = dict(overrides_lib.parse(s, flag="--set") for s in args.set)
    step, metrics = evaluate(
      args.workdir,
      args.protocol,
      step=args.step,
      overrides=sets,
      baselines=args.baselines,
    )
    if args.output:
      row = {"workdir": args.workdir, "step": step, "set": sets}
      with open(args.output, "a", encoding="utf-8") as f:
        f.write(json.dumps({**row, "metrics": metrics}) + "\n")
  except (ValueError, OSError) as e:
    if os.environ.get("JAXSSL_TRACEBACK"):
      raise
    first = str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
    sys.exit(f"jaxssl: error: {first}")
  print(f"{args.workdir} step {step}:")
  for key, value in metrics.items():
    print(f"  {key:<32} {value:.4f}")
  return metrics


if __name__ == "__main__":
  main()
