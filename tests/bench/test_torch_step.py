"""`python -m jaxssl.bench torch_step`: the PyTorch twin of the SimCLR step.

Skipped where PyTorch is not installed (it is the optional `bench` extra).
"""

import json
import os

import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxssl import bench, configs_lib, losses
from jaxssl.bench import torch_step

torch = pytest.importorskip("torch")

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(__file__)))
CIFAR = os.path.join(ROOT, "configs", "simclr_cifar10.py")
QUICKSTART = os.path.join(ROOT, "configs", "quickstart.py")


@pytest.mark.parametrize("path", [CIFAR, f"{QUICKSTART}:smoke"])
def test_torch_model_has_jaxssl_param_count(path):
  from jaxssl import models  # pylint: disable=g-import-not-at-top
  from jaxssl.methods import common  # pylint: disable=g-import-not-at-top

  config = configs_lib.load(path)
  import jax  # pylint: disable=g-import-not-at-top

  shapes = jax.eval_shape(
    lambda: common.encoder(config).init(
      jax.random.key(0), jnp.zeros((2, 32, 32, 3)), train=False
    )["params"]
  )
  model = torch_step.torch_model(config)
  n_torch = sum(p.numel() for p in model.parameters())
  assert n_torch == models.num_params(shapes)
  z = model(torch.zeros(4, 3, 32, 32))
  assert tuple(z.shape) == (4, config.model.proj_dim)


def test_torch_nt_xent_matches_jaxssl():
  rng = np.random.default_rng(0)
  z1, z2 = rng.standard_normal((2, 6, 5)).astype(np.float32)
  got = torch_step.nt_xent(torch.from_numpy(z1), torch.from_numpy(z2), 0.2)
  want = losses.nt_xent(z1, z2, temperature=0.2)
  np.testing.assert_allclose(float(got), float(want), rtol=1e-5)


def test_torch_lars_matches_optax_lars_on_kernels_and_sgd_elsewhere():
  rng = np.random.default_rng(0)
  w = rng.standard_normal((4, 3)).astype(np.float32)
  b = rng.standard_normal(3).astype(np.float32)
  grads = [
    rng.standard_normal((2, *x.shape)).astype(np.float32) for x in (w, b)
  ]
  tw, tb = (torch.tensor(x, requires_grad=True) for x in (w, b))
  opt = torch_step.TorchLars(
    [tw, tb], lr=0.3, weight_decay=1e-2, trust=0.02, momentum=0.9
  )
  lars = optax.lars(0.3, weight_decay=1e-2, trust_coefficient=0.02)
  sgd = optax.chain(optax.scale_by_learning_rate(0.3), optax.trace(decay=0.9))
  states = [lars.init(w), sgd.init(b)]
  params = [jnp.asarray(w), jnp.asarray(b)]
  for step in range(2):
    tw.grad = torch.from_numpy(grads[0][step])
    tb.grad = torch.from_numpy(grads[1][step])
    opt.step()
    for i, tx in enumerate((lars, sgd)):
      upd, states[i] = tx.update(grads[i][step], states[i], params[i])
      params[i] = optax.apply_updates(params[i], upd)
  np.testing.assert_allclose(tw.detach().numpy(), params[0], rtol=1e-5)
  np.testing.assert_allclose(tb.detach().numpy(), params[1], rtol=1e-5)


def test_parse_variant():
  assert torch_step.parse_variant("f32") == ("f32", [])
  assert torch_step.parse_variant("bf:model.dtype=bfloat16,a.b=1") == (
    "bf",
    ["model.dtype=bfloat16", "a.b=1"],
  )
  with pytest.raises(ValueError, match="label"):
    torch_step.parse_variant(":model.dtype=bfloat16")
  with pytest.raises(ValueError, match="not KEY=VALUE"):
    torch_step.parse_variant("x:model.dtype")


def test_cli_times_every_contender_and_reports_the_ratio(capsys):
  bench.main(
    [
      "torch_step",
      "--config",
      f"{QUICKSTART}:smoke",
      "--batch_size",
      "8",
      "--rounds",
      "1",
      "--warmup",
      "0",
      "--variant",
      "f32",
      "--variant",
      "bf16:model.dtype=bfloat16,model.conv_impl=auto",
    ]
  )
  out = capsys.readouterr().out
  result = json.loads(out[: out.index("\n}\n") + 2])
  assert set(result["step_s_median"]) == {
    "torch_eager",
    "torch_channels_last",
    "jaxssl_f32",
    "jaxssl_bf16",
  }
  assert all(s > 0 for s in result["step_s_median"].values())
  ratio = result["ratio_torch_eager_over_jaxssl"]
  med = result["step_s_median"]
  want = med["torch_eager"] / med["jaxssl_f32"]  # medians rounded to 1 ms
  assert ratio["f32"] == pytest.approx(want, rel=0.01)
  assert "| jaxssl_bf16 |" in out


def test_cli_rejects_non_simclr_config(capsys):
  with pytest.raises(SystemExit):
    bench.main(
      ["torch_step", "--config", os.path.join(ROOT, "configs", "byol_quick.py")]
    )
  assert "mirrors simclr" in capsys.readouterr().err
