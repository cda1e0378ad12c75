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
TensorBoard events), the loop's format. No baseline is scored, and nothing
is trained or written to the checkpoints.

Bad input (no run or checkpoint in the workdir, an unknown protocol, one
that does not fit the method) exits with one line `jaxssl: error: ...`
(set JAXSSL_TRACEBACK=1 for the traceback).
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


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
    "declares (representation, fewshot, diagnostics, zeroshot, mlm, "
    "next_token, sentence); repeat for several",
  )
  p.add_argument(
    "--step",
    type=int,
    default=None,
    help="the checkpointed step to score (default: the newest)",
  )
  return p


def evaluate(
  workdir: str, protocols, *, step: int | None = None, write: bool = True
) -> tuple[int, dict[str, float]]:
  """(step, metrics) of the run in `workdir` under `protocols`.

  Raises:
    ValueError: a protocol unknown or unfit to the run's method (naming
      --protocol).
    FileNotFoundError: no run, checkpoint or `step` in `workdir`.
  """
  # pylint: disable=g-import-not-at-top
  from jaxssl import evals, methods
  from jaxssl.data import kinds
  from jaxssl.train import restored, writer

  protocols = tuple(dict.fromkeys(protocols))  # once each, in order
  for name in protocols:  # before the config: a typo needs no workdir
    if name not in evals.PROTOCOLS:
      raise ValueError(
        f"--protocol: {name!r} is not one of {sorted(evals.PROTOCOLS)}"
      )
  config = restored.saved_config(workdir)
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
  return run.step, metrics


def main(argv=None) -> dict[str, float]:
  """Parses `argv` (default sys.argv[1:]), evaluates, prints the metrics."""
  args = parser().parse_args(argv)
  try:
    step, metrics = evaluate(args.workdir, args.protocol, step=args.step)
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
