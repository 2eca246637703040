"""The suite's test modules, imported under their one package name from anywhere."""

from __future__ import annotations

import importlib
from types import ModuleType

import pytest


class SuiteModule(pytest.Module):
    """A conformance module imported as ``pytest_normfusion.conformance.<name>``, never by path."""

    def _getobj(self) -> ModuleType:
        return importlib.import_module(f"pytest_normfusion.conformance.{self.path.stem}")
