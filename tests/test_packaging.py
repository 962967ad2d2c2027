"""The wheel holds every subpackage (as autodidact.*) and every prompt file; no bare top-level imports."""

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ["agent", "tools", "sandbox", "trainers", "prompts", "plugins"]


@pytest.mark.install
def test_wheel_contains_every_subpackage_and_prompt(tmp_path):
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
    )
    (wheel,) = tmp_path.glob("autodidact-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in FOLDERS:
        for init in (ROOT / folder).rglob("__init__.py"):
            inside = "autodidact/" + init.relative_to(ROOT).as_posix()
            assert inside in names, f"{inside} missing from the wheel"
        for module in (ROOT / folder).rglob("*.py"):
            assert "autodidact/" + module.relative_to(ROOT).as_posix() in names
    prompts = list((ROOT / "prompts").glob("*.txt"))
    assert prompts
    for prompt in prompts:
        assert f"autodidact/prompts/{prompt.name}" in names
    assert not any(n.startswith(tuple(f"{f}/" for f in FOLDERS)) for n in names), "a folder installed top-level"
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    declared = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "autodidact = autodidact.agent.cli:main" in declared
    for group in (
        "autodidact.tasks",
        "autodidact.sandboxes",
        "autodidact.tools",
        "autodidact.trainers",
    ):  # the built-ins, as plugins
        assert f"[{group}]" in declared


def test_no_bare_imports_of_the_top_level_folders():
    bare = re.compile(rf"^\s*(from|import)\s+({'|'.join(FOLDERS)})(\.|\s|$)", re.MULTILINE)
    for folder in [*FOLDERS, "tests", "bench"]:
        for module in (ROOT / folder).rglob("*.py"):
            assert not bare.search(module.read_text()), f"bare import in {module.relative_to(ROOT)}"
