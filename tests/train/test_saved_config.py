"""restored.saved_config: every shipped config survives config.json."""

import pytest

from jaxssl import config_paths, configs_lib
from jaxssl.train import restored, resume

CONFIGS = config_paths.shipped_names()


@pytest.mark.parametrize("name", CONFIGS)
def test_config_json_round_trip_gives_the_same_config(name, tmp_path):
  config = configs_lib.load(name)
  resume.write(str(tmp_path), config)
  back = restored.saved_config(str(tmp_path))
  # Same keys (no default view group added beside the run's own groups)
  # and the same values with the same types (tuples stay tuples).
  assert back.to_dict() == config.to_dict()
  if "views" in config.data:
    assert list(back.data.views) == list(config.data.views)
