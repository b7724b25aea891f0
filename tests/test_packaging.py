"""The Docker image runs what ``pip install .`` makes of the files its Dockerfile copies, not
this checkout. A file the packages read at run time but the build leaves out (the model, a
Lua script, the role list, the policy defaults, the phrase rules) would break the image at
start-up or at its first request, and no Docker daemon runs where the tests run. So the wheel
is built here from exactly what the Dockerfile copies, and must hold every file of the three
packages and the ``rebound`` command the image starts with.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.conftest import REPO

PACKAGES = ("classifier", "store", "webhook")


def dockerfile_copies() -> list[str]:
    """The sources of the Dockerfile's COPY instructions (the last word is the destination)."""
    sources = []
    for line in (REPO / "Dockerfile").read_text().splitlines():
        words = line.split()
        if words and words[0] == "COPY":
            sources += [w for w in words[1:-1] if not w.startswith("--")]
    return sources


def package_files() -> list[str]:
    """Every file of the packages: what git tracks, or, outside a git checkout, what is on disk."""
    listed = subprocess.run(["git", "ls-files", *PACKAGES], cwd=REPO, capture_output=True, text=True)
    if listed.returncode == 0 and listed.stdout.strip():
        return listed.stdout.split()
    return [str(p.relative_to(REPO)) for pkg in PACKAGES for p in (REPO / pkg).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts]


def test_the_dockerfile_copies_every_package():
    copied = {Path(source).parts[0] for source in dockerfile_copies()}
    assert set(PACKAGES) | {"pyproject.toml"} <= copied


def test_the_wheel_built_from_the_dockerfiles_files_holds_every_package_file(tmp_path):
    context = tmp_path / "context"
    context.mkdir()
    for source in dockerfile_copies():
        path = REPO / source
        if path.is_dir():
            shutil.copytree(path, context / source, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(path, context / source)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
                            str(context)], capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-2000:]
    [wheel] = (tmp_path / "dist").glob("rebound-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())

    missing = [f for f in package_files() if f not in names]
    assert not missing, f"left out of the installed package: {missing}"
    [entry_points] = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "rebound = webhook.cli:main" in text
