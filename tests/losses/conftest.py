"""Makes the shared helper module `losses_testing` importable.

The suite runs with `--import-mode=importlib`, which does not put test
directories on `sys.path`; the loss tests share their equivalence and
gradient checks through this one sibling module.
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
  sys.path.insert(0, _HERE)
