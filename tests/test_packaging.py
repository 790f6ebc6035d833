"""Version from one place, shown by `digitlens --version` and kept in CHANGELOG.md."""

import re
from pathlib import Path

import pytest

import digitlens
from digitlens.cli import main

ROOT = Path(__file__).resolve().parents[1]


def test_version_flag_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"digitlens {digitlens.__version__}"
    assert re.fullmatch(r"\d+\.\d+\.\d+([ab]|rc)?\d*", digitlens.__version__)


def test_pyproject_reads_the_version_from_the_package():
    tomllib = pytest.importorskip("tomllib")
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" not in meta["project"], "the version must live only in digitlens/__init__.py"
    assert "version" in meta["project"]["dynamic"]
    assert meta["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "digitlens.__version__"}


def test_changelog_has_unreleased_and_the_current_version():
    text = (ROOT / "CHANGELOG.md").read_text()
    headings = re.findall(r"^## \[([^\]]+)\]", text, re.M)
    assert headings[0] == "Unreleased"
    assert digitlens.__version__ in headings, "add a CHANGELOG section when bumping __version__"
