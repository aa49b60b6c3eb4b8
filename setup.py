"""Package mapping for setuptools (the project's metadata lives in pyproject.toml).

LiveDesk installs as one import package, ``livedesk``. The repository keeps the layout the
user asked for — ``backend/``, ``tui/`` and ``themes/`` at the top — and each of those trees
is mapped under ``livedesk`` here, with every sub-package found in it, so a new sub-package
needs no edit and nothing outside those trees can be packaged.
"""

from setuptools import find_packages, setup

MAPPED = {"backend": "backend", "tui": "tui", "themes": "themes"}

packages = ["livedesk"]
for name, folder in MAPPED.items():
    packages.append(f"livedesk.{name}")
    packages += [f"livedesk.{name}.{sub}" for sub in find_packages(folder)]

setup(
    packages=packages,
    package_dir={"livedesk": "livedesk", **{f"livedesk.{n}": f for n, f in MAPPED.items()}},
)
