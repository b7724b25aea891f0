"""Data flows one way: webhook -> classifier -> store. The imports must say so too."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FORBIDDEN = {"classifier": {"webhook", "store"}, "store": {"webhook"}}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text("utf-8"), str(path))
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_imports_against_the_flow(package):
    offenders = []
    for path in sorted((REPO / package).rglob("*.py")):
        bad = imported_packages(path) & FORBIDDEN[package]
        if bad:
            offenders.append(f"{path.relative_to(REPO)} imports {sorted(bad)}")
    assert offenders == []


def test_the_check_sees_imports_at_all():
    """Guard against a checker that finds nothing because it parses nothing."""
    assert {"classifier", "store"} <= imported_packages(REPO / "webhook" / "pipeline.py")
