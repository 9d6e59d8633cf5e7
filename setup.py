"""Package discovery; everything else is declared in pyproject.toml.

The repository keeps ``store/`` and ``integrations/`` at the top level (see
design.md), but installed they live under ``modeldb_core`` so the wheel claims
no generic top-level name. pyproject.toml's ``find`` cannot add that prefix, so
the packages are found here: every directory under the three roots is a
package (namespace discovery, so a folder of modules without ``__init__.py``
and the template and static folders count too), with no list to keep up to date.
"""
from setuptools import find_namespace_packages, setup

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
        subs = find_namespace_packages(folder, exclude=["__pycache__", "*.__pycache__"])
        found += [f"{name}.{sub}" for sub in subs]
    return sorted(found)


setup(packages=packages(), package_dir=ROOTS)
