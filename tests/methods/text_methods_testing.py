"""Shared pieces of the text-method tests (bert_mlm, gpt, simcse).

A temporary tokenizer cache, small configs, real batches of the `tokens` kind,
and the loop check every text method passes (trains on the 8-device mesh,
1 device == 8 devices; exact resume is test_all_methods').
"""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl import configs_lib
from jaxssl.data import kinds
from jaxssl.train import loop, writer

ROOT = os.path.dirname(
  os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
)


@pytest.fixture(scope="module", autouse=True)
def tokenizer_cache(data_caches):
  """Tokenizers trained into a temporary cache, forgotten after the module."""
  return data_caches


def config(name, **overrides):
  """`configs/<name>_quick.py:smoke` at vocab 512, seq_len 32, batch 16;
  `overrides` are "section.key" -> value."""
  c = configs_lib.load(os.path.join(ROOT, "configs", f"{name}_quick.py"))
  configs_lib.make_smoke(c)
  c.data.vocab_size = 512
  c.data.seq_len = 32
  c.train.progress_bar = False
  for key, value in overrides.items():
    section, sub = key.split(".")
    c[section][sub] = value
  return configs_lib.validate(c)


def batches(c, n=1, *, split=None):
  """The first `n` training batches of `c` (eval batches of `split`)."""
  kind = kinds.get("tokens")
  if split is None:
    it = kind.train_batches(c)
  else:
    it = kind.eval_batches(c, split, batch_size=c.train.batch_size)
  out = [
    {k: jnp.asarray(v) for k, v in next(it).items() if k != "index"}
    for _ in range(n)
  ]
  return out[0] if n == 1 else out


def _losses(workdir):
  return {
    r["step"]: r for r in writer.read_metrics(str(workdir)) if "train/loss" in r
  }


def assert_trains_and_shards(name, tmp_path, compared, steps=4, **overrides):
  """`name`'s quick smoke config through `loop.run` on the 8-device mesh:
  finite losses, and a 1-device run logs the same `compared` metrics (the
  loss sees the global batch whatever the sharding). Checkpointing and
  exact resume are tested for every method by test_all_methods.
  `overrides` as `config`'s."""

  def run_config(devices):
    return config(
      name,
      **{
        "mesh.data": devices,
        "train.total_steps": steps,
        "train.ckpt_every_steps": 0,
        "train.log_every_steps": 1,
        **overrides,
      },
    )

  straight = loop.run(run_config(8), str(tmp_path / "eight"))
  assert straight["steps"] == steps
  a = _losses(tmp_path / "eight")
  assert sorted(a) == list(range(1, steps + 1))
  assert all(np.isfinite(r["train/loss"]) for r in a.values())
  loop.run(run_config(1), str(tmp_path / "one"))
  one = _losses(tmp_path / "one")
  for step in a:
    for key in compared:
      np.testing.assert_allclose(
        one[step][key],
        a[step][key],
        rtol=2e-4,
        atol=1e-5,
        err_msg=f"{key} at {step}",
      )
  return a


def sharded(batch, devices=8):
  """`batch` placed on a ("data",) mesh of `devices`, split on rows."""
  mesh = jax.make_mesh(
    (devices,), ("data",), axis_types=(jax.sharding.AxisType.Auto,)
  )
  spec = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("data"))
  return jax.device_put(batch, spec)
