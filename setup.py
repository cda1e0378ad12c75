"""Ships the repository's configs/ inside the package (pyproject.toml: rest).

`configs/` stays at the top of the repository, where the README's commands
name it, and is installed as `jaxssl/_configs`, so that a plain
`pip install .` (not only an editable install run from a checkout) can run
`--config quickstart.py:smoke` and `python -m jaxssl.zoo` from any directory
(`jaxssl.config_paths` finds either place). A mapped package needs
setuptools' `package_dir`, and pyproject.toml's `packages.find` cannot add a
package that lives outside the tree it searches: hence this file.
"""

import setuptools

setuptools.setup(
  packages=setuptools.find_packages(include=["jaxssl", "jaxssl.*"])
  + ["jaxssl._configs"],
  package_dir={"jaxssl._configs": "configs"},
)
