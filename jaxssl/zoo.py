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

Real images (the README's real-image table):

  python -m jaxssl.zoo --workdir /tmp/jaxssl-zoo-fm --data fashion_mnist

`--data fashion_mnist` sets the Fashion-MNIST benchmark on every config
(`DATA_PRESETS`: the `fashion_mnist` source, 28 px padded to 32, the first
1400 train / 300 test images of each class); `--override KEY=VALUE`
(repeatable, e.g. `--override data.data_dir=/data/fmnist`) changes any
config key of every run after that. With a data preset the table gains the
supervised column: for each method, `configs/supervised_quick.py` with the
method's backbone (`model.name`, `patch_size`, `vit_pool`), image size,
batch size and steps, trained on the labels in `<workdir>/supervised-<key>`
(one run per distinct backbone and budget; `--[no-]supervised` forces it
on or off). `--smoke` runs every config's `:smoke` setting (seconds, to
check the command line end to end).

The evaluation ladder (the README's second table):

  python -m jaxssl.zoo --workdir /tmp/jaxssl-zoo --protocols fewshot,finetune

`--protocols` adds protocols to every run's defaults (here the few-shot
probes and label-fraction fine-tuning beside kNN and the linear probe); on
a finished sweep it only re-evaluates. With any of top-5, few-shot or
fine-tune scores in the summaries, `results.md` gains `ladder_table`: per
method one row each for the learned encoder, its random-init encoder and
(with the supervised column) the supervised model: kNN and linear top-1 /
top-5, few-shot 1 / 5 / 10 / 25 and fine-tune 1 / 10 / 100 %.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from jaxssl import config_paths
from jaxssl import overrides as overrides_lib

# `--data` presets: config overrides that set a benchmark dataset.
DATA_PRESETS = {
  "embedded_digits": {},
  "fashion_mnist": {
    "data.name": "fashion_mnist",
    "data.pad_to_size": True,  # 28 x 28 -> 32 x 32, black border
    "data.max_train_per_class": 1400,
    "data.max_eval_per_class": 300,
  },
}
SUPERVISED = "supervised"
# The data kinds of the methods the default sweep runs: plain image methods
# (text and image-text methods have other protocols and tables).
IMAGE_KINDS = {"views", "images"}


# `--override KEY=VALUE` (kept under these names for scripts and tests).
parse_override = overrides_lib.parse
apply_overrides = overrides_lib.apply


# The supervised baseline of a ViT row: supervised ViTs train with AdamW
# (DeiT, arXiv:2012.12877: lr 5e-4 x B/512, weight decay 0.05, warm-up;
# here lr 1e-3 x B/256 for the short budget), not the ResNet recipe's SGD
# 0.1, under which the Fashion-MNIST ViT-Ti/8 baseline read 72.1 / 74.5.
VIT_OPTIM = {
  "name": "adamw",
  "lr": 1e-3,
  "lr_scaling": "linear",
  "b1": 0.9,
  "b2": 0.999,
  "weight_decay": 0.05,
  "warmup_steps": 20,
}


def _is_vit(config) -> bool:
  return config.model.name.startswith("vit")


def supervised_key(config) -> str:
  """Names the backbone and budget a supervised baseline must share."""
  m, t = config.model, config.train
  return (
    f"{m.name}-p{m.patch_size}{m.vit_pool}-{config.data.image_size}px-"
    f"{t.total_steps}x{t.batch_size}" + ("-adamw" if _is_vit(config) else "")
  )


def supervised_config(config, base):
  """`base` (the supervised quick config) with `config`'s backbone, image
  size and budget; a ViT's with AdamW (`VIT_OPTIM`)."""
  with base.unlocked():
    for key in ("name", "patch_size", "vit_pool"):
      base.model[key] = config.model[key]
    base.data.image_size = config.data.image_size
    for group in base.data.views.values():
      group.size = config.data.image_size
    base.train.total_steps = config.train.total_steps
    base.train.batch_size = config.train.batch_size
    if _is_vit(config):
      base.optim.update(VIT_OPTIM)
    base.optim.warmup_steps = min(
      base.optim.warmup_steps, config.train.total_steps
    )
  return base


def config_path(name: str, configs_dir: str) -> str:
  base = "quickstart.py" if name == "simclr" else f"{name}_quick.py"
  return os.path.join(configs_dir, base)


def table(
  results: dict[str, dict], supervised: dict[str, dict] | None = None
) -> str:
  """Markdown: method x {wall time, kNN, linear probe} next to baselines.

  Baselines: the method's backbone at random initialisation, the raw pixels
  and their top principal components (`eval.pca_components`); with
  `supervised` (method -> the summary of its supervised baseline run), a
  last column for the supervised model with the same backbone and budget.
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
  if supervised is not None:
    rows[0] += " supervised (same backbone, budget) kNN / linear |"
    rows[1] += "---|"
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
    if supervised is not None:
      sup = supervised.get(name, {})
      rows[-1] += (
        f" {pct(sup, 'eval/knn_top1')} / {pct(sup, 'eval/linear_top1')} |"
      )
  return "\n".join(rows)


# The ladder's columns: (header, [metric, ...]) shown "a / b / ...".
LADDER = (
  ("kNN top-1 / top-5", ("eval/knn_top1", "eval/knn_top5")),
  ("linear top-1 / top-5", ("eval/linear_top1", "eval/linear_top5")),
  (
    "few-shot 1 / 5 / 10 / 25",
    tuple(f"eval/fewshot_{k}shot" for k in (1, 5, 10, 25)),
  ),
  (
    "fine-tune 1 / 10 / 100%",
    tuple(f"eval/finetune_{p}pct" for p in (1, 10, 100)),
  ),
)


def has_ladder(results: dict[str, dict]) -> bool:
  """Whether any summary holds a score beyond kNN / linear top-1."""
  extra = {m for _, ms in LADDER for m in ms} - {
    "eval/knn_top1",
    "eval/linear_top1",
  }
  return any(extra & set(s) for s in results.values())


def ladder_table(
  results: dict[str, dict], supervised: dict[str, dict] | None = None
) -> str:
  """Markdown: the evaluation ladder, one row per encoder of each method.

  Rows: the learned encoder, its random initialisation (the `_random_init`
  baselines of each protocol) and, with `supervised`, the supervised model
  of the same backbone and budget (its own learned scores). Columns:
  `LADDER`; "n/a" where a protocol did not run.
  """

  def cells(summary, suffix=""):
    out = []
    for _, metrics in LADDER:
      values = [summary.get(m + suffix) for m in metrics]
      out.append(" / ".join("n/a" if v is None else f"{v:.1f}" for v in values))
    return " | ".join(out)

  rows = [
    "| method | encoder | " + " | ".join(h for h, _ in LADDER) + " |",
    "|---|---|" + "---|" * len(LADDER),
  ]
  for name, s in results.items():
    rows.append(f"| {name} | learned | {cells(s)} |")
    rows.append(f"| | random init | {cells(s, '_random_init')} |")
    if supervised is not None and name in supervised:
      rows.append(f"| | supervised | {cells(supervised[name])} |")
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
    help="comma-separated names (default: every image method but "
    "supervised, which is the baseline column; the text and image-text "
    "methods have their own protocols and tables)",
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
  parser.add_argument(
    "--data",
    default="embedded_digits",
    choices=sorted(DATA_PRESETS),
    help="benchmark dataset set on every config (default: the configs' own, "
    "the embedded digits)",
  )
  parser.add_argument(
    "--override",
    action="append",
    default=[],
    metavar="KEY=VALUE",
    help="a config key set on every run, after --data (repeatable), e.g. "
    "data.data_dir=/data/fashion-mnist",
  )
  parser.add_argument(
    "--supervised",
    action=argparse.BooleanOptionalAction,
    default=None,
    help="add the supervised column (same backbone and budget); default: "
    "on with a --data other than embedded_digits",
  )
  parser.add_argument(
    "--protocols",
    default="",
    help="comma-separated evaluation protocols added to every run's "
    "defaults, e.g. fewshot,finetune for the ladder table (kNN and the "
    "linear probe are protocol 'representation'); a finished run is only "
    "re-evaluated",
  )
  parser.add_argument(
    "--smoke",
    action="store_true",
    help="run each config's :smoke setting (seconds; checks the pipeline)",
  )
  args = parser.parse_args(argv)

  from jaxssl import (
    configs_lib,  # pylint: disable=g-import-not-at-top
    evals,  # pylint: disable=g-import-not-at-top
    methods,  # pylint: disable=g-import-not-at-top
  )
  from jaxssl.train import loop  # pylint: disable=g-import-not-at-top

  # The supervised model is the baseline column, not a row, by default; the
  # table's kNN / linear columns are the image protocol's.
  every = [
    n
    for n, m in methods.METHODS.items()
    if n != SUPERVISED and set(m.data_kinds) & IMAGE_KINDS
  ]
  names = [n for n in args.methods.split(",") if n] or every
  unknown = sorted(set(names) - set(methods.METHODS))
  if unknown:
    parser.error(
      f"--methods: unknown {unknown}; choose from {sorted(methods.METHODS)}"
    )
  overrides = dict(DATA_PRESETS[args.data])
  try:
    overrides.update(parse_override(o) for o in args.override)
  except ValueError as error:
    parser.error(str(error))
  with_supervised = (
    args.data != "embedded_digits"
    if args.supervised is None
    else args.supervised
  )
  arg = "smoke" if args.smoke else None
  extra_protocols = tuple(p for p in args.protocols.split(",") if p)
  unknown = sorted(set(extra_protocols) - set(evals.PROTOCOLS))
  if unknown:
    parser.error(
      f"--protocols: unknown {unknown}; choose from {sorted(evals.PROTOCOLS)}"
    )

  def load(name):
    path = config_path(name, args.configs_dir)
    if not os.path.isfile(path):
      parser.error(f"no quick config for {name!r}: {path} does not exist")
    config = configs_lib.load(path, arg)
    config.eval.linear_probe = True  # the table has a linear-probe column
    if extra_protocols:
      chosen = evals.selected(config, methods.build(config))
      config.eval.protocols = tuple(
        chosen + tuple(p for p in extra_protocols if p not in chosen)
      )
    config.train.progress_bar = args.progress_bar
    try:
      return path, apply_overrides(config, overrides)
    except ValueError as error:
      parser.error(str(error))

  os.makedirs(args.workdir, exist_ok=True)
  results_path = os.path.join(args.workdir, "results.json")
  results = {}
  if os.path.exists(results_path):
    with open(results_path, encoding="utf-8") as f:
      results = json.load(f)

  def run(run_name, config) -> bool:
    """Trains (or resumes) one run into `results`; False if preempted."""
    summary = loop.run(config, os.path.join(args.workdir, run_name))
    if summary.get("preempted"):
      print("stopped by SIGTERM; run the same command to continue")
      return False
    if summary["resumed_from"] and run_name in results:
      # Keep the real run's times, not those of the re-evaluation.
      for key in ("wall_s", "train_s"):
        if key in results[run_name]:
          summary[key] = results[run_name][key]
    results[run_name] = summary
    with open(results_path, "w", encoding="utf-8") as f:
      json.dump(results, f, indent=2)
    return True

  baselines = {}  # method -> the name of its supervised run
  for name in names:
    path, config = load(name)
    print(f"== {name}: {path}", flush=True)
    if not run(name, config):
      return 1
    if not with_supervised:
      continue
    if name == SUPERVISED:  # its own baseline
      baselines[name] = name
      continue
    _, base = load(SUPERVISED)
    # --override keys win over supervised_config's, as on every run.
    sup = apply_overrides(supervised_config(config, base), overrides)
    run_name = f"{SUPERVISED}-{supervised_key(sup)}"
    if run_name not in baselines.values():  # one run per backbone and budget
      print(f"== {run_name} (the supervised baseline of {name})", flush=True)
      if not run(run_name, sup):
        return 1
    baselines[name] = run_name
  supervised = (
    {n: results[r] for n, r in baselines.items()} if with_supervised else None
  )
  shown = {n: results[n] for n in names}
  text = table(shown, supervised)
  if has_ladder(shown):
    text += "\n\n" + ladder_table(shown, supervised)
  with open(
    os.path.join(args.workdir, "results.md"), "w", encoding="utf-8"
  ) as f:
    f.write(text + "\n")
  print(text)
  return 0


if __name__ == "__main__":
  sys.exit(main())
