"""Session-wide test setup: 8 fake CPU devices before any JAX backend starts."""

import os
import tempfile

# Must run before jax initialises its backend; conftest is imported first.
_flag = "--xla_force_host_platform_device_count=8"
if _flag not in os.environ.get("XLA_FLAGS", ""):
  os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " " + _flag
  ).strip()
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
# The same train steps compile in many tests and subprocesses: share the
# compiled executables through JAX's persistent cache (env vars, so the
# subprocesses and notebook kernels started by tests use it too).
os.environ.setdefault(
  "JAX_COMPILATION_CACHE_DIR",
  os.path.join(tempfile.gettempdir(), "jaxssl-test-compile-cache"),
)
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "1")
# Never let TFDS reach the network from tests.
os.environ.setdefault("TFDS_DISABLE_GCS", "1")
os.environ.setdefault("NO_GCE_CHECK", "true")

import jax  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(scope="session")
def devices():
  devs = jax.devices()
  assert len(devs) == 8, f"expected 8 fake CPU devices, got {len(devs)}"
  return devs


@pytest.fixture(scope="module")
def data_caches(tmp_path_factory):
  """A module-wide temporary `JAXSSL_CACHE_DIR` with the in-memory caches of
  the tokenizers, token windows, captions and sources emptied before and
  after the module (tokenizers are trained once per module). Yields the
  module's MonkeyPatch, for registrations that should end with it."""
  # pylint: disable=g-import-not-at-top
  from jaxssl.data import sources, tokenizer
  from jaxssl.data.kinds import image_text, tokens

  def clear():
    for module in (image_text, sources, tokens):
      module.clear_cache()

  with pytest.MonkeyPatch.context() as mp:
    mp.setenv("JAXSSL_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    mp.setattr(tokenizer, "_LOADED", {})
    clear()
    yield mp
    clear()
