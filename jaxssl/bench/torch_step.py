r"""`python -m jaxssl.bench torch_step`: jaxssl's train step against PyTorch.

  pip install -e '.[bench]'   # PyTorch, for this benchmark only
  python -m jaxssl.bench torch_step --config configs/simclr_cifar10.py \
      --batch_size 128 --variant f32 --variant bf16:model.dtype=bfloat16

Builds the model of a SimCLR ResNet config in plain PyTorch (CIFAR ResNet:
3x3 stride-1 stem, no max pool, BasicBlocks, each block's last BatchNorm
gamma at 0 under `model.zero_init_residual`; the config's projector:
Linear(-BN)-ReLU-Linear), asserts that it has exactly as many parameters
as jaxssl's, and times in ONE process, round after round, alternately: a
PyTorch eager train step (NT-Xent over the 2 x B projections, the
config's temperature, each view in its own forward when
`method.bn_per_view`, LARS as optax's for the kernels and momentum SGD for
biases / BatchNorm, as jaxssl's parameter groups) with contiguous
(NCHW) and with channels-last tensors, and jaxssl's real compiled train step
(`jaxssl.train.setup.build`, as `python -m jaxssl.bench step`) of each
`--variant`: a label, then `:` and comma-separated `key=value` config
overrides (`bench step --set` syntax). Alternating spreads the load of a
shared machine over every contender. It prints one JSON object: the median
step seconds of each, XLA's GFLOP per step and achieved GFLOP/s of each
variant, the float32 and bf16 (f32-accumulating) matmul GFLOP/s measured
after the rounds (the machine's ceilings, and a gauge of its load), and
the ratio torch eager (contiguous) / jaxssl for each variant, then a
markdown table.

PyTorch is an optional extra (`bench = ["torch"]`); the library and the
tests never import it unless it is installed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxssl.bench.timing import matmul_gflops, median_seconds

DEFAULT_VARIANTS = ("f32",)


def _torch():
  try:
    import torch  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise SystemExit(
      "python -m jaxssl.bench torch_step needs PyTorch: "
      "pip install -e '.[bench]' (or pip install torch)"
    ) from None
  return torch


def torch_model(config):
  """The config's ResNet + projector as a `torch.nn.Module` (images -> z).

  Raises:
    ValueError: a model this benchmark does not mirror (naming the key).
  """
  torch = _torch()
  nn = torch.nn
  stages = {"resnet18_cifar": (2, 2, 2, 2), "tiny_resnet": (1, 1, 1)}
  if config.model.name not in stages:
    raise ValueError(
      f"config.model.name={config.model.name!r}: torch_step mirrors "
      f"{sorted(stages)}"
    )
  tiny = config.model.name == "tiny_resnet"
  widths = (32, 64, 128) if tiny else (64, 128, 256, 512)
  stem_stride = 2 if tiny else 1

  class Block(nn.Module):
    def __init__(self, c_in, c_out, stride):
      super().__init__()
      self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
      self.bn1 = nn.BatchNorm2d(c_out)
      self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
      self.bn2 = nn.BatchNorm2d(c_out)
      if config.model.zero_init_residual:
        nn.init.zeros_(self.bn2.weight)
      self.proj = None
      if stride != 1 or c_in != c_out:
        self.proj = nn.Sequential(
          nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
        )

    def forward(self, x):
      y = torch.relu(self.bn1(self.conv1(x)))
      y = self.bn2(self.conv2(y))
      return torch.relu((x if self.proj is None else self.proj(x)) + y)

  layers = [
    nn.Conv2d(3, widths[0], 3, stem_stride, 1, bias=False),
    nn.BatchNorm2d(widths[0]),
    nn.ReLU(),
  ]
  c = widths[0]
  for i, (size, width) in enumerate(zip(stages[config.model.name], widths)):
    for j in range(size):
      layers.append(Block(c, width, 2 if i > 0 and j == 0 else 1))
      c = width
  layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
  m = config.model
  use_bn = bool(m.proj_bn)
  for _ in range(m.proj_layers - 1):
    layers.append(nn.Linear(c, m.proj_hidden_dim, bias=not use_bn))
    if use_bn:
      layers.append(nn.BatchNorm1d(m.proj_hidden_dim))
    layers.append(nn.ReLU())
    c = m.proj_hidden_dim
  layers.append(nn.Linear(c, m.proj_dim, bias=not m.proj_last_bn))
  if m.proj_last_bn:
    layers.append(nn.BatchNorm1d(m.proj_dim, affine=False))
  return nn.Sequential(*layers)


def nt_xent(z1, z2, temperature: float):
  """NT-Xent over the 2N anchors (`jaxssl.losses.nt_xent`), in PyTorch."""
  torch = _torch()
  z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
  n = z1.shape[0]
  logits = z @ z.T / temperature
  logits.fill_diagonal_(float("-inf"))
  targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
  return torch.nn.functional.cross_entropy(logits, targets)


class TorchLars:
  """optax.lars for tensors of ndim > 1, momentum SGD for the others.

  As jaxssl's parameter groups: kernels get weight decay and the trust
  ratio eta * ||w|| / ||g + wd w||; biases and BatchNorm parameters neither.
  """

  def __init__(self, params, *, lr, weight_decay, trust, momentum):
    self.params = [p for p in params if p.requires_grad]
    self.lr, self.wd = lr, weight_decay
    self.trust, self.momentum = trust, momentum
    self.buf = [None] * len(self.params)

  def step(self):
    torch = _torch()
    with torch.no_grad():
      for i, p in enumerate(self.params):
        g = p.grad
        if p.ndim > 1:
          g = g.add(p, alpha=self.wd)
          w_norm = torch.linalg.vector_norm(p)
          g_norm = torch.linalg.vector_norm(g)
          ratio = torch.where(
            (w_norm > 0) & (g_norm > 0), self.trust * w_norm / g_norm, 1.0
          )
          g = g * ratio
        if self.buf[i] is None:
          self.buf[i] = g.clone()
        else:
          self.buf[i].mul_(self.momentum).add_(g)
        p.add_(self.buf[i], alpha=-self.lr)

  def zero_grad(self):
    for p in self.params:
      p.grad = None


def torch_stepper(config, *, channels_last: bool, seed: int = 0):
  """`(one_step, n_params)`: a PyTorch eager train step on a fixed batch."""
  torch = _torch()
  torch.manual_seed(seed)
  model = torch_model(config).train()
  fmt = torch.channels_last if channels_last else torch.contiguous_format
  model = model.to(memory_format=fmt)
  n_params = sum(p.numel() for p in model.parameters())
  o = config.optim
  opt = TorchLars(
    model.parameters(),
    lr=o.lr * config.train.batch_size / 256,
    weight_decay=o.weight_decay,
    trust=o.lars_trust,
    momentum=o.momentum,
  )
  from jaxssl.bench.step import batch_spec  # pylint: disable=g-import-not-at-top

  # The view group is the batch's one 5-D entry, [B, 2, h, w, 3].
  (spec,) = [s for s in batch_spec(config).values() if len(s.shape) == 5]
  b, _, h, w, c = spec.shape
  gen = np.random.default_rng(seed)
  views = [
    torch.from_numpy(
      gen.standard_normal((b, c, h, w)).astype(np.float32)
    ).contiguous(memory_format=fmt)
    for _ in range(2)
  ]
  temperature = float(config.method.temperature)
  per_view = bool(config.method.bn_per_view)

  def one_step():
    if per_view:
      z1, z2 = model(views[0]), model(views[1])
    else:
      z1, z2 = model(torch.cat(views)).chunk(2)
    loss = nt_xent(z1, z2, temperature)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return float(loss.detach())

  return one_step, n_params


def jax_stepper(config):
  """`(one_step, n_params, gflop_per_step)`: jaxssl's compiled train step."""
  # Imported here: `--help` does not load the training code.
  from jaxssl import configs_lib  # pylint: disable=g-import-not-at-top
  from jaxssl.bench import step as step_bench  # pylint: disable=g-import-not-at-top
  from jaxssl.train import mesh as mesh_lib  # pylint: disable=g-import-not-at-top
  from jaxssl.train import setup as setup_lib  # pylint: disable=g-import-not-at-top

  configs_lib.validate(config)
  spec = step_bench.batch_spec(config)
  run = setup_lib.build(config, spec)
  batch_sh = jax.tree.map(lambda _: mesh_lib.data_sharding(run.mesh), spec)
  abstract = jax.tree.map(
    lambda s, sh: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sh),
    spec,
    batch_sh,
  )
  compiled = run.train_step.lower(run.abstract_state(), abstract).compile()
  gen = np.random.default_rng(0)
  batch = {
    k: jax.device_put(step_bench._synthetic(gen, k, s, config), batch_sh[k])  # pylint: disable=protected-access
    for k, s in spec.items()
  }
  holder = [run.init(run.init_key)]

  def one_step():
    holder[0], metrics = compiled(holder[0], batch)
    return float(jax.device_get(metrics["train/loss"]))

  n_params = sum(
    int(np.prod(x.shape)) for x in jax.tree.leaves(run.state_shapes.params)
  )
  return one_step, n_params, step_bench._flops(compiled) / 1e9  # pylint: disable=protected-access


def _bf16_matmul_gflops(n: int = 2048, repeats: int = 5) -> float:
  """GFLOP/s of a bf16 [n, n] x [n, n] matmul with float32 accumulation."""
  a = jnp.ones((n, n), jnp.bfloat16)
  mm = jax.jit(lambda a, b: jnp.dot(a, b, preferred_element_type=jnp.float32))
  jax.block_until_ready(mm(a, a))  # compile
  return 2 * n**3 / median_seconds(lambda: mm(a, a), repeats) / 1e9


def parse_variant(text: str) -> tuple[str, list[str]]:
  """`"label:key=value,key=value"` -> (label, ["key=value", ...]).

  Raises:
    ValueError: an empty label, or an override without `=`.
  """
  label, _, rest = text.partition(":")
  if not label:
    raise ValueError(
      "a variant needs a label before ':', e.g. bf16:model.dtype=bfloat16"
    )
  sets = [s for s in rest.split(",") if s]
  for s in sets:
    if "=" not in s:
      raise ValueError(f"override {s!r} is not KEY=VALUE")
  return label, sets


def add_arguments(parser: argparse.ArgumentParser) -> None:
  """The flags of `python -m jaxssl.bench torch_step`."""
  parser.add_argument(
    "--config",
    default="configs/simclr_cifar10.py",
    help="a SimCLR config with a resnet18_cifar or tiny_resnet backbone",
  )
  parser.add_argument(
    "--batch_size", type=int, default=128, help="images per view (B)"
  )
  parser.add_argument(
    "--variant",
    action="append",
    default=[],
    metavar="LABEL[:KEY=VALUE,...]",
    help="a jaxssl contender: a label and config overrides, e.g. "
    "bf16:model.dtype=bfloat16 (repeatable; default: f32, the config as is)",
  )
  parser.add_argument(
    "--rounds", type=int, default=5, help="timed rounds (median reported)"
  )
  parser.add_argument(
    "--warmup", type=int, default=1, help="untimed rounds after compiling"
  )
  parser.add_argument(
    "--no_channels_last",
    action="store_true",
    help="skip the channels-last PyTorch contender",
  )


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
  """Builds every contender, then times them round-robin."""
  from jaxssl import configs_lib  # pylint: disable=g-import-not-at-top
  from jaxssl.bench.step import set_key  # pylint: disable=g-import-not-at-top

  torch = _torch()

  def load(sets):
    try:
      config = configs_lib.load(args.config)
    except (FileNotFoundError, ValueError) as e:
      parser.error(f"--config {args.config}: {e}")
    if config.method.name != "simclr":
      parser.error(
        f"--config {args.config}: method {config.method.name!r}; torch_step "
        "mirrors simclr"
      )
    config.train.batch_size = args.batch_size
    for item in sets:
      try:
        set_key(config, item)
      except ValueError as e:
        parser.error(f"--variant {item}: {e}")
    return config

  variants = []
  for text in args.variant or DEFAULT_VARIANTS:
    try:
      variants.append(parse_variant(text))
    except ValueError as e:
      parser.error(f"--variant {text}: {e}")
  base = load([])
  try:
    contenders = {"torch_eager": torch_stepper(base, channels_last=False)[0]}
  except ValueError as e:
    parser.error(f"--config {args.config}: {e}")
  if not args.no_channels_last:
    contenders["torch_channels_last"] = torch_stepper(base, channels_last=True)[
      0
    ]
  n_torch = torch_stepper(base, channels_last=False)[1]
  gflop = {}
  for label, sets in variants:
    fn, n_jax, gflop[label] = jax_stepper(load(sets))
    if n_jax != n_torch:
      raise AssertionError(
        f"variant {label}: jaxssl has {n_jax} params, the PyTorch twin "
        f"{n_torch}: not the same model"
      )
    contenders[f"jaxssl_{label}"] = fn
  times = {name: [] for name in contenders}
  for r in range(args.warmup + args.rounds):
    for name, fn in contenders.items():
      t0 = time.perf_counter()
      fn()
      if r >= args.warmup:
        times[name].append(time.perf_counter() - t0)
  med = {name: statistics.median(ts) for name, ts in times.items()}
  ceiling = {"f32": matmul_gflops(), "bf16_f32_acc": _bf16_matmul_gflops()}
  result = {
    "config": args.config,
    "batch_size": args.batch_size,
    "params": n_torch,
    "torch": torch.__version__,
    "jax": jax.__version__,
    "torch_threads": torch.get_num_threads(),
    "rounds": args.rounds,
    "step_s_median": {k: round(v, 3) for k, v in med.items()},
    "step_s_all": {k: [round(t, 3) for t in v] for k, v in times.items()},
    "gflop_per_step": {k: round(v, 1) for k, v in gflop.items()},
    "achieved_gflop_per_s": {
      k: round(v / med[f"jaxssl_{k}"], 1) for k, v in gflop.items()
    },
    "matmul_gflop_per_s": {k: round(v, 1) for k, v in ceiling.items()},
    "ratio_torch_eager_over_jaxssl": {
      label: round(med["torch_eager"] / med[f"jaxssl_{label}"], 3)
      for label, _ in variants
    },
  }
  print(json.dumps(result, indent=2), flush=True)
  print(markdown_table(result))


def markdown_table(result: dict) -> str:
  """One row per contender: median step seconds, images/s, torch/jaxssl."""
  b = 2 * result["batch_size"]
  eager = result["step_s_median"]["torch_eager"]
  rows = [
    "| contender | step (s, median) | images/s | torch eager / this |",
    "|---|---|---|---|",
  ]
  for name, sec in result["step_s_median"].items():
    rows.append(f"| {name} | {sec:.2f} | {b / sec:.1f} | {eager / sec:.2f} |")
  return "\n".join(rows)
