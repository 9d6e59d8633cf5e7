"""Package discovery; everything else is declared in pyproject.toml.

The repository keeps ``store/`` and ``integrations/`` at the top level (see
design.md), but installed they live under ``modeldb_core`` so the wheel claims
no generic top-level name. pyproject.toml's ``find`` cannot add that prefix, so
the packages are found here: any directory with an ``__init__.py`` under the
three roots is a package, with no list to keep up to date.
"""
from setuptools import find_packages, setup

# Installed name -> source directory; subpackages follow their parent's mapping.
ROOTS = {
    "modeldb_core": "modeldb_core",
    "modeldb_core.store": "store",
    "modeldb_core.integrations": "integrations",
}


def packages() -> list[str]:
    found = []
    for name, folder in ROOTS.items():
        found.append(name)
        found += [f"{name}.{sub}" for sub in find_packages(folder)]
    # modeldb_core's own walk does not reach store/ or integrations/; dedupe all the same.
    return sorted(set(found))


setup(packages=packages(), package_dir=ROOTS)
