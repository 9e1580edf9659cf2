"""Every module of the package imports (catches syntax errors and broken imports in modules no other test touches)."""
import importlib
import pkgutil

import pytest

import perceptual_compression

MODULES = sorted(m.name for m in pkgutil.walk_packages(perceptual_compression.__path__, "perceptual_compression."))


def test_package_has_the_core_subpackages():
    names = set(MODULES)
    for sub in ("assets", "coding", "datasets", "metrics", "models", "training"):
        assert f"perceptual_compression.{sub}" in names


@pytest.mark.parametrize("name", MODULES)
def test_module_imports(name):
    importlib.import_module(name)
