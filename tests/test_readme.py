"""README's Python example must run as written and print what it claims."""

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_python_example_runs_and_prints_the_claimed_text(tmp_path):
    text = (ROOT / "README.md").read_text()
    block = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    claimed = re.findall(r"# '([^']*)'", block)
    script = tmp_path / "example.py"
    script.write_text(block)
    out = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    printed = out.stdout.splitlines()
    assert claimed and all(c in printed for c in claimed)


def test_quick_start_names_a_shipped_sample():
    text = (ROOT / "README.md").read_text()
    sample = re.search(r"digitlens photo (samples/\S+\.jpg)", text).group(1)
    assert (ROOT / sample).exists()
