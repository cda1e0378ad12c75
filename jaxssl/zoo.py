r"""Runs every method's quick config and prints the README's results table.

  python -m jaxssl.zoo --workdir /tmp/jaxssl-zoo            # all methods
  python -m jaxssl.zoo --workdir /tmp/jaxssl-zoo --methods byol,dino

Each method trains its `configs/<name>_quick.py` (SimCLR: `quickstart.py`)
with the linear probe switched on, in `<workdir>/<name>` with the real loop,
one after another so that wall times are comparable. The configs are the ones
shipped with jaxssl unless `--configs_dir` says otherwise, so the sweep runs
from any directory after a plain `pip install .`. Then the table (markdown)
goes to stdout and to `<workdir>/results.md`, the raw summaries to
`<workdir>/results.json`. Re-running resumes or reuses finished runs (a
finished run is only re-evaluated), so an interrupted sweep picks up where it
stopped.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from jaxssl import config_paths


def config_path(name: str, configs_dir: str) -> str:
  base = "quickstart.py" if name == "simclr" else f"{name}_quick.py"
  return os.path.join(configs_dir, base)


def table(results: dict[str, dict]) -> str:
  """Markdown: method x {wall time, kNN, linear probe} next to baselines.

  Baselines: the method's backbone at random initialisation, the raw pixels
  and their top principal components (`eval.pca_components`).
  """

  def pct(summary, key):
    value = summary.get(key)
    return "n/a" if value is None else f"{value:.1f}"

  rows = [
    "| method | training (2-core CPU) | whole run | kNN top-1 | "
    "linear top-1 | random-init kNN / linear | "
    "raw pixels kNN / linear | PCA kNN / linear |",
    "|---|---|---|---|---|---|---|---|",
  ]
  for name, s in results.items():
    train = f"{s['train_s'] / 60:.1f} min" if "train_s" in s else "n/a"
    rows.append(
      f"| {name} | {train} ({s['steps']} steps) | "
      f"{s['wall_s'] / 60:.1f} min | "
      f"{pct(s, 'eval/knn_top1')} | {pct(s, 'eval/linear_top1')} | "
      f"{pct(s, 'eval/knn_top1_random_init')} / "
      f"{pct(s, 'eval/linear_top1_random_init')} | "
      f"{pct(s, 'eval/knn_top1_raw_pixels')} / "
      f"{pct(s, 'eval/linear_top1_raw_pixels')} | "
      f"{pct(s, 'eval/knn_top1_pca')} / "
      f"{pct(s, 'eval/linear_top1_pca')} |"
    )
  return "\n".join(rows)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(
    prog="python -m jaxssl.zoo",
    description=__doc__.split("\n\n")[0],
    formatter_class=argparse.RawDescriptionHelpFormatter,
  )
  parser.add_argument(
    "--workdir", required=True, help="one sub-folder per method is created here"
  )
  parser.add_argument(
    "--methods",
    default="",
    help="comma-separated names (default: every method)",
  )
  parser.add_argument(
    "--configs_dir",
    default=config_paths.shipped_dir(),
    help="folder holding the <name>_quick.py configs (default: the configs "
    "shipped with jaxssl, %(default)s)",
  )
  parser.add_argument(
    "--progress_bar",
    action=argparse.BooleanOptionalAction,
    default=True,
    help="show a progress bar per run",
  )
  args = parser.parse_args(argv)

  from jaxssl import (
    configs_lib,  # pylint: disable=g-import-not-at-top
    methods,  # pylint: disable=g-import-not-at-top
  )
  from jaxssl.train import loop  # pylint: disable=g-import-not-at-top

  names = [n for n in args.methods.split(",") if n] or list(methods.METHODS)
  unknown = sorted(set(names) - set(methods.METHODS))
  if unknown:
    parser.error(
      f"--methods: unknown {unknown}; choose from {sorted(methods.METHODS)}"
    )
  os.makedirs(args.workdir, exist_ok=True)
  results_path = os.path.join(args.workdir, "results.json")
  results = {}
  if os.path.exists(results_path):
    with open(results_path, encoding="utf-8") as f:
      results = json.load(f)
  for name in names:
    path = config_path(name, args.configs_dir)
    if not os.path.isfile(path):
      parser.error(f"no quick config for {name!r}: {path} does not exist")
    print(f"== {name}: {path}", flush=True)
    config = configs_lib.load(path)
    config.eval.linear_probe = True  # the table has a linear-probe column
    config.train.progress_bar = args.progress_bar
    summary = loop.run(config, os.path.join(args.workdir, name))
    if summary.get("preempted"):
      print("stopped by SIGTERM; run the same command to continue")
      return 1
    if summary["resumed_from"] and name in results:
      # Keep the real run's times, not those of the re-evaluation.
      for key in ("wall_s", "train_s"):
        if key in results[name]:
          summary[key] = results[name][key]
    results[name] = summary
    with open(results_path, "w", encoding="utf-8") as f:
      json.dump(results, f, indent=2)
  text = table({n: results[n] for n in names})
  with open(
    os.path.join(args.workdir, "results.md"), "w", encoding="utf-8"
  ) as f:
    f.write(text + "\n")
  print(text)
  return 0


if __name__ == "__main__":
  sys.exit(main())
