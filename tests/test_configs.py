"""Config base, arg parsing, validation, and that every shipped config loads."""

import glob
import os

import pytest

from jaxssl import configs_lib, recipes

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


def test_config_docstrings_give_a_command():
  for path in CONFIGS:
    with open(path, encoding="utf-8") as f:
      text = f.read()
    assert "python -m jaxssl.main --config configs/" in text, path


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
