"""Config base, arg parsing, validation, and that every shipped config loads."""

import glob
import os

import pytest

from jaxssl import configs_lib, methods, recipes

ROOT = os.path.dirname(os.path.dirname(__file__))
CONFIGS = sorted(glob.glob(os.path.join(ROOT, "configs", "*.py")))


def test_parse_arg_types_and_errors():
  args = configs_lib.parse_arg(
    "smoke,epochs=5,model=vit", smoke=False, epochs=100, model="r18"
  )
  assert args.smoke is True and args.epochs == 5 and args.model == "vit"
  with pytest.raises(ValueError, match="'nope' is not one of"):
    configs_lib.parse_arg("nope=1", smoke=False)
  with pytest.raises(ValueError, match="needs a value"):
    configs_lib.parse_arg("epochs", epochs=1)


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
@pytest.mark.parametrize("arg", [None, "smoke"])
def test_shipped_configs_validate(path, arg):
  config = configs_lib.load(path, arg)
  assert config.train.batch_size >= 1
  if arg == "smoke":
    assert config.train.total_steps <= 5


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_config_docstrings_give_command_source_and_result(path):
  """Command, recipe source and expected result; tuning history in notes."""
  import ast  # pylint: disable=g-import-not-at-top
  import re  # pylint: disable=g-import-not-at-top

  with open(path, encoding="utf-8") as f:
    doc = ast.get_docstring(ast.parse(f.read()))
  assert "python -m jaxssl.main --config configs/" in doc
  assert re.search(r"\b(Expected|Measured|Published)\b", doc), (
    "no expected result"
  )
  assert re.search(
    r"(?i)(recipe|hyper-parameters|official|solo-learn|paper|arXiv)", doc
  ), "no source for the recipe"
  assert len(doc.splitlines()) <= 45, "long histories go to configs/notes/"
  for note in re.findall(r"configs/notes/\w+\.md", doc):
    assert os.path.isfile(os.path.join(ROOT, note)), note


def test_unknown_key_is_named():
  config = configs_lib.base_config()
  config.unlock()
  config.optim.learning_rate = 0.1
  with pytest.raises(ValueError, match="'optim.learning_rate'"):
    configs_lib.validate(config)


def test_unknown_view_key_is_named():
  with pytest.raises(ValueError, match="unknown keys"):
    configs_lib.view_group(blur=0.5)
  config = configs_lib.base_config()
  config.data.views.views.unlock()
  config.data.views.views.blurr_prob = 0.1
  with pytest.raises(ValueError, match="data.views.views.blurr_prob"):
    configs_lib.validate(config)


def test_view_group_names_must_be_overridable():
  config = configs_lib.base_config()
  config.data.views = {"global": configs_lib.view_group()}
  with pytest.raises(ValueError, match="data.views.global.*not keywords"):
    configs_lib.validate(config)


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_every_view_group_overridable_from_command_line(path):
  """`--config.data.views.<group>.size=...` parses for every shipped group."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  from ml_collections import config_flags  # pylint: disable=g-import-not-at-top

  # Configs of the `images` kind have no view groups; `views` configs do.
  groups = list(configs_lib.load(path).data.get("views", {}).keys())
  if not groups:
    pytest.skip("no view groups (data kind without views)")
  argv = ["prog", f"--config={path}"] + [
    f"--config.data.views.{g}.size=24" for g in groups
  ]
  fv = flags.FlagValues()
  # As jaxssl.main's flag; overrides are found by scanning `sys_argv`.
  config_flags.DEFINE_config_file(
    "config", flag_values=fv, lock_config=True, sys_argv=argv
  )
  fv(argv)
  assert [fv.config.data.views[g].size for g in groups] == [24] * len(groups)


@pytest.mark.parametrize(
  "key,value,match",
  [
    ("train.batch_size", 0, "train.batch_size"),
    ("optim.name", "adam", "optim.name"),
    ("optim.warmup_steps", 10**9, "optim.warmup_steps"),
    ("mesh.data", 0, "mesh.data"),
    ("method.temperature", 0.0, "method.temperature"),
  ],
)
def test_invalid_values_are_named(key, value, match):
  config = configs_lib.base_config()
  section, name = key.split(".")
  config[section][name] = value
  with pytest.raises(ValueError, match=match):
    configs_lib.validate(config)


def test_per_view_probabilities():
  config = configs_lib.base_config()
  config.data.views = {"views": configs_lib.view_group(blur_prob=(1.0, 0.1))}
  configs_lib.validate(config)
  config.data.views = {
    "views": configs_lib.view_group(blur_prob=(1.0, 0.1, 0.5))
  }
  with pytest.raises(ValueError, match="blur_prob"):
    configs_lib.validate(config)


def test_view_recipes_take_overrides():
  views = recipes.byol_views(size=32, blur_prob=0.0)
  assert views.size == 32 and views.blur_prob == 0.0
  assert tuple(views.solarize_prob) == (0.0, 0.2)
  assert recipes.simclr_views(size=96, num_views=6).num_views == 6
  assert recipes.embedded_views().flip_prob == 0.0
  with pytest.raises(ValueError, match="unknown keys"):
    recipes.simclr_views(size=32, blur=0.5)


def test_make_smoke_image_size_shrinks_every_view_group():
  config = configs_lib.base_config()
  config.data.image_size = 224
  config.data.views = {
    "global_crops": recipes.byol_views(size=224),
    "local_crops": recipes.byol_views(size=32),
  }
  configs_lib.make_smoke(config, image_size=64)
  assert config.data.image_size == 64
  assert config.data.views["global_crops"].size == 64
  assert config.data.views["local_crops"].size == 32


# --- Method-owned config.method sections ----------------------------------


def _quick(method):
  """The shipped quick config of `method` (SimCLR's is the quickstart)."""
  name = "quickstart" if method == "simclr" else f"{method}_quick"
  return configs_lib.load(os.path.join(ROOT, "configs", f"{name}.py"))


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
@pytest.mark.parametrize("arg", [None, "smoke"])
def test_method_section_has_exactly_the_method_keys(path, arg):
  config = configs_lib.load(path, arg)
  owned = methods.METHODS[config.method.name].config()
  assert set(config.method) == {"name", *owned}


def test_base_config_method_section_is_the_method_def():
  for name, spec in methods.METHODS.items():
    section = configs_lib.base_config(name).method
    assert section.to_dict() == {"name": name, **spec.config().to_dict()}


@pytest.mark.parametrize(
  "method,key",
  [
    ("byol", "temperature"),  # SimCLR's, MoCo v3's... not BYOL's
    ("simsiam", "ema_momentum"),
    ("vicreg", "vicreg_sim"),  # renamed: invariance_weight
    ("barlow_twins", "barlow_lambda"),  # renamed: off_diagonal_weight
    ("swav", "sinkhorn_iters"),  # renamed: iterations
    ("mae", "norm_pix_loss"),  # renamed: norm_pix
  ],
)
def test_unknown_method_key_is_named(method, key):
  config = _quick(method)
  config.method[key] = 1
  with pytest.raises(ValueError, match=f"'method.{key}' of method '{method}'"):
    configs_lib.validate(config)


def test_switching_method_name_keeps_foreign_keys_out():
  # A config that starts from another method's base fails at validate,
  # naming the first key the new method does not own.
  config = configs_lib.base_config("simclr")
  config.method.name = "byol"
  byol_keys = set(configs_lib.base_config("byol").method)
  first = sorted(set(config.method) - byol_keys)[0]  # e.g. bn_per_view
  with pytest.raises(ValueError, match=f"'method.{first}' of method 'byol'"):
    configs_lib.validate(config)


@pytest.mark.parametrize(
  "method,key,value",
  [
    ("simclr", "temperature", 0.0),
    ("vicreg", "variance_weight", -1.0),
    ("barlow_twins", "off_diagonal_weight", -1.0),
    ("byol", "ema_momentum_end", 0.5),
    ("mocov3", "temperature", -0.2),
    ("swav", "epsilon", 0.0),
    ("dino", "center_momentum", 1.5),
    ("mae", "mask_ratio", 1.0),
  ],
)
def test_invalid_method_value_is_named_at_validate(method, key, value):
  config = _quick(method)
  config.method[key] = value
  with pytest.raises(ValueError, match=f"config.method.{key}="):
    configs_lib.validate(config)


@pytest.mark.parametrize("path", CONFIGS, ids=os.path.basename)
def test_method_keys_overridable_from_command_line(path):
  """`--config.method.<key>=...` parses for every key the method owns."""
  from absl import flags  # pylint: disable=g-import-not-at-top
  from ml_collections import config_flags  # pylint: disable=g-import-not-at-top

  config = configs_lib.load(path)
  keys = [k for k in config.method if k != "name"]
  overrides = {}
  for key in keys:
    value = config.method[key]
    if isinstance(value, bool):
      overrides[key] = not value
    elif isinstance(value, (int, float)):
      overrides[key] = value + 1
  argv = ["prog", f"--config={path}"] + [
    f"--config.method.{k}={v}" for k, v in overrides.items()
  ]
  fv = flags.FlagValues()
  config_flags.DEFINE_config_file(
    "config", flag_values=fv, lock_config=True, sys_argv=argv
  )
  fv(argv)
  assert {k: fv.config.method[k] for k in overrides} == overrides
