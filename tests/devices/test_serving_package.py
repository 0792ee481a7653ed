"""The serving package has one face: other apps import it from `devices.serving`, and nobody
outside it reaches for its private names."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from devices import serving

ROOT = Path(__file__).resolve().parents[2]
SERVING = ROOT / "devices" / "serving"
OTHER_APPS = ("organisations", "phonebooks", "media_assets", "rps", "voipconfig")
# A private name reached through a module: `cache._phones`, `serving.files._store`.
PRIVATE_ATTRIBUTE = re.compile(r"\b(?:serving|cache|files|version_feed|access_log|lookup)\._\w")


def python_files(*folders: str) -> list[Path]:
    return sorted(
        path
        for folder in folders
        for path in (ROOT / folder).rglob("*.py")
        if "migrations" not in path.parts
    )


def imports_of(path: Path) -> list[tuple[str, list[str]]]:
    """(module, names) of every import in the file: `from module import names`, and
    `import module` as (module, [])."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: list[tuple[str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found.append((node.module or "", [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
    return found


@pytest.mark.parametrize("path", python_files(*OTHER_APPS), ids=lambda p: str(p.relative_to(ROOT)))
def test_other_apps_use_only_the_face_of_the_serving_package(path):
    reached = [
        f"{module}.{name}" if name else module
        for module, names in imports_of(path)
        if module == "devices.serving" or module.startswith("devices.serving.")
        for name in names or [""]
        if module != "devices.serving" or name not in serving.__all__
    ]

    assert reached == [], f"{path.name} reaches {reached}: use what devices.serving exports"


OUTSIDE = [
    path
    for path in python_files(*OTHER_APPS, "devices", "tests", "bench", "deploy")
    if SERVING not in path.parents and path != Path(__file__).resolve()
]


@pytest.mark.parametrize("path", OUTSIDE, ids=lambda p: str(p.relative_to(ROOT)))
def test_nothing_outside_the_package_imports_its_private_names(path):
    private = [
        f"{module}.{name}"
        for module, names in imports_of(path)
        if module.startswith("devices.serving")
        for name in names
        if name.startswith("_")
    ]

    assert private == []
    assert not PRIVATE_ATTRIBUTE.search(path.read_text()), f"{path.name} reaches a private name"
