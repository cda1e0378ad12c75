"""Puts this folder on `sys.path`: the text-protocol tests share
`text_testing`."""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
if _HERE not in sys.path:
  sys.path.insert(0, _HERE)
