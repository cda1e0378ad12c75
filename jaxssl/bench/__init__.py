r"""Benchmarks, one entry point: `python -m jaxssl.bench <sub-command>`.

  python -m jaxssl.bench step --config configs/simclr_cifar10.py
  python -m jaxssl.bench --config configs/simclr_cifar10.py   # step: default
  python -m jaxssl.bench losses [--mode time|memory|all]
  python -m jaxssl.bench backbones --models tiny_resnet --impls xla,matmul
  python -m jaxssl.bench checkpoint --config configs/byol_imagenet.py \
      --batch_size 2
  python -m jaxssl.bench torch_step --batch_size 128   # needs .[bench]

`python -m jaxssl.bench <sub-command> --help` lists a sub-command's flags. A
first argument that is a flag selects `step`, as in the second line.

Each sub-command is a module here with `add_arguments(parser)` and
`run(args, parser)`; `timing` holds what they share (timed calls, the matmul
ceiling, tables). The step benchmark's functions are re-exported:
`bench.batch_spec`, `bench.bench_step`, `bench.markdown_table`.
"""

from __future__ import annotations

import argparse
import sys

from jaxssl.bench import backbones, checkpoint, losses, step, torch_step
from jaxssl.bench.step import batch_spec, bench_step, markdown_table
from jaxssl.bench.timing import matmul_gflops, median_seconds, seconds

__all__ = [
  "COMMANDS",
  "batch_spec",
  "bench_step",
  "main",
  "markdown_table",
  "matmul_gflops",
  "median_seconds",
  "seconds",
]

# Sub-command -> module; the first line of each module's docstring is its
# summary in `--help`.
COMMANDS = {
  "step": step,
  "losses": losses,
  "backbones": backbones,
  "checkpoint": checkpoint,
  "torch_step": torch_step,
}
DEFAULT_COMMAND = "step"


def parser() -> argparse.ArgumentParser:
  """The argparse parser of `python -m jaxssl.bench`, one sub-parser each."""
  top = argparse.ArgumentParser(
    prog="python -m jaxssl.bench",
    description=__doc__.split("\n\nEach sub-command")[0],
    formatter_class=argparse.RawDescriptionHelpFormatter,
  )
  subs = top.add_subparsers(
    dest="command", metavar="{" + ",".join(COMMANDS) + "}", required=True
  )
  for name, module in COMMANDS.items():
    doc = module.__doc__
    sub = subs.add_parser(
      name,
      help=doc.split("\n")[0].split(": ", 1)[-1].rstrip("."),
      description=doc,
      formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    module.add_arguments(sub)
    # run() reports bad values through its own sub-parser (its usage line).
    sub.set_defaults(command_parser=sub)
  return top


def main(argv: list[str] | None = None) -> None:
  """Runs a sub-command; `argv` excludes the program name (default: sys.argv).

  A first argument that is a flag (not `-h`) selects `step`, so the
  documented `python -m jaxssl.bench --config ...` keeps working.
  """
  argv = list(sys.argv[1:] if argv is None else argv)
  if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
    argv.insert(0, DEFAULT_COMMAND)
  args = parser().parse_args(argv)
  COMMANDS[args.command].run(args, args.command_parser)
