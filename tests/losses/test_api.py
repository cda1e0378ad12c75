"""Package-level checks: public names, light imports, doctested examples."""

import doctest
import importlib
import os
import pkgutil
import subprocess
import sys

import jax.numpy as jnp
import numpy as np
import pytest

import jaxssl
from jaxssl import losses

# Every public name of the loss-library issue (the contract).
_CONTRACT = [
  "nt_xent",
  "info_nce",
  "supcon",
  "clip",
  "siglip",
  "triplet_margin",
  "triplet_all",
  "contrastive_pair",
  "lifted_structured",
  "n_pairs",
  "soft_nearest_neighbor",
  "noise_contrastive",
  "negative_cosine",
  "byol",
  "barlow_twins",
  "vicreg",
  "sinkhorn",
  "swav",
  "dino",
  "dino_center",
  "dino_teacher_temp",
  "mae",
  "masked_lm",
  "next_token",
  "nt_xent_blockwise",
  "info_nce_blockwise",
  "clip_blockwise",
  "siglip_blockwise",
  "contrastive_accuracy",
  "embedding_std",
  "mean_entropy",
  "marginal_entropy",
]

# The pure helpers that are not losses, beside their users (doctested too).
_HELPER_MODULES = (
  "jaxssl.masking",
  "jaxssl.pretext",
  "jaxssl.models.patches",
)
# Internal plumbing without public functions (no examples required).
_NO_EXAMPLES = ("_common", "_collectives")


def test_helper_names_exist():
  from jaxssl import masking, pretext  # pylint: disable=g-import-not-at-top
  from jaxssl.methods import mae  # pylint: disable=g-import-not-at-top
  from jaxssl.models import patches  # pylint: disable=g-import-not-at-top

  for module, names in (
    (patches, ("patchify", "unpatchify")),
    (mae, ("random_masking",)),
    (masking, ("mask_tokens",)),
    (
      pretext,
      ("rotation", "jigsaw", "relative_position", "rgb_to_lab", "colorization"),
    ),
  ):
    for name in names:
      assert callable(getattr(module, name)), name


def test_public_names_exist():
  missing = [n for n in _CONTRACT if not callable(getattr(losses, n, None))]
  assert not missing, missing
  assert set(_CONTRACT) <= set(losses.__all__)
  for name in losses.__all__:
    assert getattr(losses, name).__doc__, f"{name} has no docstring"


def test_import_is_light():
  code = (
    "import sys; import jaxssl.losses\n"
    "heavy = [m for m in ('tensorflow', 'orbax', 'absl.flags', 'flax',"
    " 'tensorflow_datasets') if m in sys.modules]\n"
    "assert not heavy, heavy\n"
  )
  root = os.path.dirname(os.path.dirname(jaxssl.__file__))
  env = dict(os.environ, PYTHONPATH=root)
  subprocess.run([sys.executable, "-c", code], check=True, env=env)


def _doc_modules():
  names = [
    f"jaxssl.losses.{m.name}" for m in pkgutil.iter_modules(losses.__path__)
  ]
  return sorted(names) + list(_HELPER_MODULES)


@pytest.mark.parametrize("module_name", _doc_modules())
def test_doctests(module_name):
  module = importlib.import_module(module_name)
  assert module.__doc__, f"{module_name} needs a module docstring"
  finder = doctest.DocTestFinder()
  tests = {t.name: t for t in finder.find(module)}
  # The public losses are `jit_loss` wrappers, which the module-level finder
  # skips (their __globals__ are _common's): collect them one by one.
  for name, obj in vars(module).items():
    if (
      callable(obj)
      and getattr(obj, "__wrapped__", None) is not None
      and (obj.__module__ == module_name)
    ):
      for t in finder.find(obj, f"{module_name}.{name}"):
        tests.setdefault(t.name, t)
  runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
  for test in tests.values():
    runner.run(test)
  result = runner.summarize(verbose=False)
  assert result.failed == 0, f"{result.failed} doctest(s) failed"
  if module_name.rsplit(".", 1)[-1] in _NO_EXAMPLES:
    return
  assert result.attempted > 0, f"{module_name} has no doctested example"
  # Every public function of the module has an example.
  public = [
    n
    for n, o in vars(module).items()
    if callable(o)
    and not n.startswith("_")
    and getattr(o, "__module__", None) == module_name
  ]
  missing = [
    n
    for n in public
    if not any(t.examples for k, t in tests.items() if k.endswith("." + n))
  ]
  assert not missing, f"no doctested example: {missing}"


def test_l2_normalize_against_numpy():
  x = np.random.default_rng(0).normal(size=(5, 7))
  x[2] = 0.0  # a zero row stays zero (the eps floor), as torch's normalize
  want = x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
  got = losses.l2_normalize(jnp.asarray(x, jnp.float32))
  np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
  cols = losses.l2_normalize(jnp.asarray(x, jnp.float32), axis=0)
  np.testing.assert_allclose(np.linalg.norm(cols, axis=0), 1.0, rtol=1e-6)
