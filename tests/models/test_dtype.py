"""The mixed-precision policy (`model.dtype`): bf16 compute, f32 the rest.

References are NumPy float64 convolutions (and their gradients) written
out window by window; the float32 path is checked bit for bit against the
plain `lax.conv_general_dilated` / im2col matmul it ran before the policy.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxssl import configs_lib, losses, models
from jaxssl.methods import common
from jaxssl.models import conv as conv_lib


def _np_conv(x, k, stride):
  """float64 conv with symmetric (k - 1) // 2 padding, NHWC x HWIO."""
  kh, kw = k.shape[:2]
  ph, pw = (kh - 1) // 2, (kw - 1) // 2
  xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
  h = (xp.shape[1] - kh) // stride + 1
  w = (xp.shape[2] - kw) // stride + 1
  y = np.zeros((x.shape[0], h, w, k.shape[3]))
  for a in range(kh):
    for b in range(kw):
      win = xp[:, a : a + stride * (h - 1) + 1 : stride]
      win = win[:, :, b : b + stride * (w - 1) + 1 : stride]
      y += win @ k[a, b]
  return y


def _np_conv_grads(x, k, stride, g):
  """float64 (dL/dx, dL/dk) of L = sum(conv(x, k) * g)."""
  kh, kw = k.shape[:2]
  ph, pw = (kh - 1) // 2, (kw - 1) // 2
  xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
  h, w = g.shape[1:3]
  dxp, dk = np.zeros_like(xp), np.zeros_like(k)
  for a in range(kh):
    for b in range(kw):
      rows = slice(a, a + stride * (h - 1) + 1, stride)
      cols = slice(b, b + stride * (w - 1) + 1, stride)
      dk[a, b] = np.einsum("nhwc,nhwo->co", xp[:, rows, cols], g)
      dxp[:, rows, cols] += g @ k[a, b].T
  return dxp[:, ph : ph + x.shape[1], pw : pw + x.shape[2]], dk


CASES = [  # (kernel, stride, c_in, c_out)
  (3, 1, 5, 6),
  (3, 2, 5, 6),
  (1, 2, 4, 7),
  (1, 1, 4, 3),
]


def _data(kernel, c_in, c_out, seed=0):
  rng = np.random.default_rng(seed)
  x = rng.standard_normal((2, 7, 6, c_in))
  k = rng.standard_normal((kernel, kernel, c_in, c_out)) / kernel
  return x, k


@pytest.mark.parametrize("kernel,stride,c_in,c_out", CASES)
def test_lowp_matmul_conv_backward_matches_float64(kernel, stride, c_in, c_out):
  # The hand-written backward (flipped-kernel input gradient at stride 1,
  # im2col transpose otherwise), checked on float32 operands so that only
  # the formula, not bf16 rounding, is under test.
  x, k = _data(kernel, c_in, c_out)
  pads = ((kernel - 1) // 2,) * 2
  fn = jax.jit(
    lambda x, k: conv_lib._matmul_conv_lowp(
      x, k, (stride, stride), (pads, pads)
    )
  )
  y_ref = _np_conv(x, k, stride)
  x32, k32 = jnp.asarray(x, jnp.float32), jnp.asarray(k, jnp.float32)
  y, vjp = jax.vjp(fn, x32, k32)
  assert y.dtype == jnp.float32 and y.shape == y_ref.shape
  np.testing.assert_allclose(y, y_ref, rtol=1e-5, atol=1e-5)
  g = np.random.default_rng(1).standard_normal(y_ref.shape)
  dx, dk = vjp(jnp.asarray(g, jnp.float32))
  dx_ref, dk_ref = _np_conv_grads(x, k, stride, g)
  np.testing.assert_allclose(dx, dx_ref, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(dk, dk_ref, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("impl", conv_lib.IMPLS)
@pytest.mark.parametrize("kernel,stride,c_in,c_out", CASES)
def test_bf16_conv_close_to_float64_with_f32_params(
  impl, kernel, stride, c_in, c_out
):
  x, k = _data(kernel, c_in, c_out)
  layer = conv_lib.Conv(
    c_out, (kernel, kernel), (stride, stride), impl=impl, dtype=jnp.bfloat16
  )
  params = {"params": {"kernel": jnp.asarray(k, jnp.float32)}}
  assert layer.init(jax.random.key(0), x)["params"]["kernel"].dtype == (
    jnp.float32
  )
  g = np.random.default_rng(1).standard_normal(_np_conv(x, k, stride).shape)

  def loss(p, x):
    return jnp.sum(layer.apply(p, x) * g)

  y = jax.jit(layer.apply)(params, jnp.asarray(x, jnp.float32))
  x32 = jnp.asarray(x, jnp.float32)
  grads, dx = jax.jit(jax.grad(loss, (0, 1)))(params, x32)
  assert y.dtype == jnp.float32
  assert grads["params"]["kernel"].dtype == jnp.float32
  dx_ref, dk_ref = _np_conv_grads(x, k, stride, g)
  # bf16 operands: ~3 significant digits; sums of up to 45 products.
  y_ref = _np_conv(x, k, stride)
  np.testing.assert_allclose(y, y_ref, atol=0.03 * np.abs(y_ref).max())
  np.testing.assert_allclose(
    grads["params"]["kernel"], dk_ref, atol=0.03 * np.abs(dk_ref).max()
  )
  np.testing.assert_allclose(dx, dx_ref, atol=0.03 * np.abs(dx_ref).max())
  # ... and they are not float32-exact, so bf16 really was used.
  assert np.abs(np.asarray(y) - y_ref).max() > 1e-5


@pytest.mark.parametrize("impl", ["xla", "matmul"])
def test_float32_conv_is_bit_identical_to_the_plain_formula(impl):
  x, k = _data(3, 5, 6)
  x, k = jnp.asarray(x, jnp.float32), jnp.asarray(k, jnp.float32)
  pads = ((1, 1), (1, 1))
  layer = conv_lib.Conv(6, (3, 3), (2, 2), impl=impl)
  y = jax.jit(layer.apply)({"params": {"kernel": k}}, x)
  if impl == "xla":
    ref = jax.jit(
      lambda x, k: jax.lax.conv_general_dilated(
        x, k, (2, 2), pads, dimension_numbers=("NHWC", "HWIO", "NHWC")
      )
    )(x, k)
  else:
    ref = jax.jit(
      lambda x, k: conv_lib.im2col(x, (3, 3), (2, 2), pads) @ k.reshape(-1, 6)
    )(x, k)
  np.testing.assert_array_equal(y, ref)


def _simclr_loss(encoder, variables, views):
  def loss(params):
    (z1, z2), _ = common.encode_views(
      encoder,
      params,
      {"batch_stats": variables["batch_stats"]},
      views,
      per_view=True,
    )
    return losses.nt_xent(z1, z2, temperature=0.2)

  return jax.jit(jax.value_and_grad(loss))(variables["params"])


# Gradient cosine floor: with the residual branches at zero (the blocks
# start as their shortcuts) the gradient crosses few bf16 convolutions;
# with every branch live it crosses all seven (measured 0.992 and 0.985).
@pytest.mark.parametrize("zero_init, min_cos", [(True, 0.99), (False, 0.98)])
def test_bf16_resnet_loss_and_grads_close_to_f32_params_f32(zero_init, min_cos):
  # 40x40: tiny_resnet's stem and first stage output 20x20 (> 16x16: "auto"
  # runs XLA's convolution), the later stages 10x10 and 5x5 (im2col matmul).
  views = jax.random.normal(jax.random.key(0), (8, 2, 40, 40, 3))

  def encoder(dtype, impl="xla"):
    return models.Encoder(
      models.backbone(
        "tiny_resnet",
        dtype=dtype,
        conv_impl=impl,
        zero_init_residual=zero_init,
      ),
      models.projector(num_layers=2, hidden_dim=64, out_dim=32, dtype=dtype),
    )

  f32 = encoder("float32")
  variables = f32.init(jax.random.key(1), views[:, 0], train=False)
  loss32, g32 = _simclr_loss(f32, variables, views)
  for impl in ("auto",):
    bf16 = encoder("bfloat16", impl)
    init16 = bf16.init(jax.random.key(1), views[:, 0], train=False)
    # The same parameters (f32, the same init) and statistics (f32).
    for a, b in zip(jax.tree.leaves(variables), jax.tree.leaves(init16)):
      assert b.dtype == jnp.float32
      np.testing.assert_array_equal(a, b)
    loss16, g16 = _simclr_loss(bf16, variables, views)
    assert loss16.dtype == jnp.float32
    np.testing.assert_allclose(loss16, loss32, rtol=5e-3)
    assert loss16 != loss32  # bf16 compute did happen
    flat32, flat16 = jax.tree.leaves(g32), jax.tree.leaves(g16)
    assert all(b.dtype == jnp.float32 for b in flat16)
    a = np.concatenate([np.ravel(x) for x in flat32])
    b = np.concatenate([np.ravel(x) for x in flat16])
    cos = a @ b / np.linalg.norm(a) / np.linalg.norm(b)
    assert cos > min_cos, (impl, cos)
    np.testing.assert_allclose(np.linalg.norm(b), np.linalg.norm(a), rtol=0.05)


def test_config_dtype_errors_name_the_key():
  config = configs_lib.base_config("simclr")
  config.model.dtype = "float16"
  with pytest.raises(ValueError, match=r"config\.model\.dtype='float16'"):
    configs_lib.validate(config)
  config = configs_lib.base_config("simclr")
  config.model.conv_impl = "fft"
  with pytest.raises(ValueError, match=r"config\.model\.conv_impl='fft'"):
    configs_lib.validate(config)
  config = configs_lib.base_config("simclr")
  config.model.name, config.model.dtype = "vit_tiny", "bfloat16"
  match = r"config\.model\.dtype='bfloat16'.*ResNets"
  with pytest.raises(ValueError, match=match):
    common.backbone(config)
  with pytest.raises(ValueError, match="ResNets only"):
    models.backbone("vit_tiny", dtype="bfloat16")


def test_default_config_is_float32_xla():
  config = configs_lib.base_config("simclr")
  assert config.model.dtype == "float32" and config.model.conv_impl == "xla"
  module = common.backbone(config)
  assert module.dtype == jnp.float32 and module.conv_impl == "xla"
