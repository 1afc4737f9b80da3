"""Dependencies between the apps run one way (docs/design.md): rollouts → software → devices.

The domain modules of an app (models, services, selectors and their packages) may import only
the apps below it; the protocol apps, the admin, the API and the commands sit on top. Checked
on the source, so a new import that breaks the layering fails here before it tangles the code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# app -> the apps its domain modules must not import
FORBIDDEN = {
    "devices": {"software", "rollouts", "ddi", "mgmt"},
    "software": {"rollouts", "ddi", "mgmt"},
    "rollouts": {"ddi", "mgmt"},
}
DOMAIN_MODULES = ("models.py", "services.py", "selectors.py", "options.py", "tenant_config.py")
DOMAIN_PACKAGES = ("services", "selectors")


def _domain_files(app: str) -> list[Path]:
    base = ROOT / app
    files = [base / name for name in DOMAIN_MODULES if (base / name).exists()]
    for package in DOMAIN_PACKAGES:
        if (base / package).is_dir():
            files += sorted((base / package).glob("*.py"))
    return files


def _imported_apps(path: Path) -> set[str]:
    apps: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            apps |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            apps.add(node.module.split(".")[0])
    return apps


@pytest.mark.parametrize("app", sorted(FORBIDDEN))
def test_domain_modules_import_only_the_apps_below_them(app):
    files = _domain_files(app)
    assert files, f"no domain modules found for {app}"
    offending = {str(path.relative_to(ROOT)): sorted(_imported_apps(path) & FORBIDDEN[app]) for path in files}
    assert {path: apps for path, apps in offending.items() if apps} == {}
