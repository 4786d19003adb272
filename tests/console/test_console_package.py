"""The console's templates and assets ship in the wheel (package data), and no page
refers to anything outside the emulator."""

from __future__ import annotations

import fnmatch
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONSOLE = ROOT / "emulator" / "console"


def test_every_template_and_asset_is_package_data() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["package-data"]["emulator.console"]
    files = [
        p.relative_to(CONSOLE).as_posix()
        for folder in ("templates", "static")
        for p in (CONSOLE / folder).iterdir()
    ]
    assert files
    missing = [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)]
    assert not missing, f"not shipped in the wheel: {missing}"


def test_no_page_refers_to_another_host() -> None:
    outside = re.compile(r"(?:src|href|action|url)\s*[=(]\s*[\"']?(?:https?:)?//", re.I)
    for path in [*CONSOLE.glob("templates/*.html"), *CONSOLE.glob("static/*")]:
        text = path.read_text(encoding="utf-8")
        assert not outside.search(text), f"{path.name} refers to another host"
        assert "style=" not in text or path.suffix == ".svg", f"{path.name}: inline style (CSP)"
        assert "<script>" not in text, f"{path.name}: inline script (CSP)"
