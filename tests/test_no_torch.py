"""The inference path must never import torch: users run it without the [train] extra."""

import json
import subprocess
import sys


def test_reading_a_photo_imports_no_torch(tmp_path):
    code = (
        "import sys, json, numpy as np, digitlens\n"
        "from digitlens.inference import Reader\n"
        "import digitlens.commands.photo, digitlens.commands.batch, digitlens.commands.webcam\n"
        "r = Reader(); r.read(np.full((120, 160), 230, np.uint8))\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'matplotlib', 'onnx'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
