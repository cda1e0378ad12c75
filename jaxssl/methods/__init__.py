"""SSL methods, one file each, in a plain registry.

Adding a method: write `methods/<name>.py` with `build(config) -> Method`
(see `methods.base`), add it to `METHODS`, add a config. The loop is not
edited.
"""

from jaxssl.methods import (
  barlow_twins,
  byol,
  dino,
  mae,
  mocov3,
  simclr,
  simsiam,
  supcon,
  swav,
  vicreg,
)
from jaxssl.methods.base import Method

METHODS = {
  "barlow_twins": barlow_twins.build,
  "byol": byol.build,
  "dino": dino.build,
  "mae": mae.build,
  "mocov3": mocov3.build,
  "simclr": simclr.build,
  "simsiam": simsiam.build,
  "supcon": supcon.build,
  "swav": swav.build,
  "vicreg": vicreg.build,
}


def build(config) -> Method:
  """The method named by `config.method.name`, built from `config`."""
  name = config.method.name
  if name not in METHODS:
    raise ValueError(
      f"config.method.name={name!r} is not one of {sorted(METHODS)}"
    )
  return METHODS[name](config)
