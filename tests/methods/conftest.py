"""Makes the shared helper modules `methods_testing` (and the loop tests'
`train_testing`) importable.

The suite runs with `--import-mode=importlib`, which does not put test
directories on `sys.path`; the method tests share their configs, batches
and common checks through this one sibling module (as `tests/losses` does
with `losses_testing`).
"""

import os
import sys

_HERE = os.path.abspath(os.path.dirname(__file__))
for _path in (_HERE, os.path.join(os.path.dirname(_HERE), "train")):
  if _path not in sys.path:
    sys.path.insert(0, _path)
