"""`digitlens batch --engine ray`: same rows as the local engine, faults, resume, URIs.

One local Ray cluster (2 CPUs) serves the whole module; `run` reuses a Ray that is
already initialised instead of starting its own.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from digitlens.cli import main
from digitlens.engines.ray_engine import is_uri, plan

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
EXPECTED = json.loads((SAMPLES / "expected.json").read_text())
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # Ray Data's own deprecated settings
SKIP_REASON = 'Ray Data is not installed (pip install "digitlens[ray]")'


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray", reason=SKIP_REASON)
    pytest.importorskip("ray.data", reason=SKIP_REASON)
    import logging

    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    yield ray
    ray.shutdown()


@pytest.fixture()
def folder(tmp_path):
    """The samples plus four bad files: corrupt PNG, text named .jpg, empty file, broken symlink."""
    d = tmp_path / "in"
    d.mkdir()
    for name in EXPECTED:
        shutil.copy(SAMPLES / name, d / name)
    (d / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 50)
    (d / "text.jpg").write_text("I am a text file with a .jpg name")
    (d / "empty.png").write_bytes(b"")
    os.symlink(d / "no-such-file.jpg", d / "gone.jpg")
    return d


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def by_file(rs: list[dict]) -> dict[str, dict]:
    return {r["file"]: r for r in rs}


def test_same_rows_as_the_local_engine(ray_cluster, folder, tmp_path, capsys):
    local, dist = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    assert main(["batch", str(folder), "--out", str(local), "--workers", "2"]) == 1
    assert main(["batch", str(folder), "--out", str(dist), "--engine", "ray", "--batch-size", "2"]) == 1
    a, b = rows(local), rows(dist)
    assert len(b) == len(a) == len(EXPECTED) + 4  # every input exactly once, bad ones included
    assert by_file(b) == by_file(a)  # same files, texts, digits, confidences, boxes, errors
    errors = {Path(f).name for f, r in by_file(b).items() if r["error"]}
    assert errors == {"corrupt.png", "text.jpg", "empty.png", "gone.jpg"}
    for name, want in EXPECTED.items():
        assert by_file(b)[str(folder / name)]["text"] == want["text"]
    assert "4 errors" in capsys.readouterr().err


def _map_worker_pids() -> list[int]:
    """Pids of this test's Ray Data actors (descendants of this process, by their process title)."""
    children: dict[int, list[int]] = {}
    titles: dict[int, str] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
        titles[int(entry)] = cmd
    found, stack = [], [os.getpid()]
    while stack:
        for kid in children.get(stack.pop(), []):
            stack.append(kid)
            if titles[kid].startswith("ray::MapWorker(MapBatches(ReadActor))"):
                found.append(kid)
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the actor's process in /proc")
def test_actor_killed_mid_run_every_input_exactly_once(ray_cluster, folder, tmp_path):
    """SIGKILL one reader actor while rows are coming in: Ray starts a new one, the run ends
    normally, and every input, good or bad, is in the output exactly once."""
    for i in range(3):  # 36 inputs, one per batch: the run outlives the kill
        for name in EXPECTED:
            shutil.copy(SAMPLES / name, folder / f"copy{i}_{name}")
    n_inputs = len(list(folder.iterdir()))
    out = tmp_path / "res.jsonl"
    killed: dict = {}
    finished = threading.Event()

    def killer():
        deadline = time.monotonic() + 120
        while not finished.is_set() and (
            "pid" in killed or time.monotonic() < deadline
        ):  # watch to the end once killed
            done = len(out.read_text().splitlines()) if out.exists() else 0
            pids = _map_worker_pids()
            if "pid" not in killed and done >= 2 and pids:  # some rows written: the actors are busy
                os.kill(pids[0], signal.SIGKILL)
                killed.update(pid=pids[0], rows_before=done, before=set(pids), after=set())
            elif "pid" in killed:
                killed["after"].update(set(pids) - killed["before"])  # a reader started after the kill
            time.sleep(0.05)

    t = threading.Thread(target=killer, daemon=True)
    t.start()
    try:
        code = main(["batch", str(folder), "--out", str(out), "--engine", "ray", "--batch-size", "1"])
    finally:
        finished.set()
        t.join(timeout=5)
    assert killed, "no reader actor was found to kill"
    assert killed["after"], "Ray did not start a new reader actor after the kill"
    assert killed["rows_before"] < n_inputs, "the kill came after the run had finished"
    assert not Path(f"/proc/{killed['pid']}").exists() or "zombie" in Path(f"/proc/{killed['pid']}/status").read_text()
    assert code == 1  # the four bad files; the killed actor cost no input
    files = [r["file"] for r in rows(out)]
    assert len(files) == n_inputs and set(files) == {str(p) for p in folder.iterdir()}


def test_resume_with_uri_source_and_parquet_output(ray_cluster, folder, tmp_path, capsys):
    """--resume skips what the output holds; URIs in and out (file:// stands in for s3://), Parquet rows."""
    pq = pytest.importorskip("pyarrow.parquet", reason=SKIP_REASON)
    src = "file://" + str(folder)
    out = "file://" + str(tmp_path / "out" / "res.parquet")
    assert main(["batch", src + "/s*.jpg", "--out", out, "--engine", "ray"]) == 0
    first = pq.read_table(tmp_path / "out" / "res.parquet").to_pylist()
    assert len(first) == 4
    capsys.readouterr()
    assert main(["batch", src, "--out", out, "--engine", "ray", "--resume"]) == 1
    assert "(4 already done)" in capsys.readouterr().err
    table = pq.read_table(tmp_path / "out" / "res.parquet").to_pylist()
    assert table[:4] == first  # the first run's rows kept as they were
    names = [r["file"] for r in table]
    assert len(names) == len(set(names)) == len(EXPECTED) + 3  # the broken symlink is not listed by pyarrow
    assert all(n.startswith(src + "/") for n in names)
    got = by_file(table)
    for name, want in EXPECTED.items():
        assert got[f"{src}/{name}"]["text"] == want["text"]
        assert got[f"{src}/{name}"]["error"] is None
    assert got[f"{src}/corrupt.png"]["error"] and got[f"{src}/corrupt.png"]["digits"] == []
    assert {"label", "confidence", "box", "line"} == set(got[f"{src}/blackboard.jpg"]["digits"][0])


def test_missing_extra_is_one_line_exit_2(folder, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    assert main(["batch", str(folder), "--out", str(tmp_path / "r.jsonl"), "--engine", "ray"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and 'pip install "digitlens[ray]"' in err[0]


def test_local_engine_never_imports_ray(folder, tmp_path):
    code = (
        "import sys; from digitlens.cli import main; "
        f"main(['batch', {str(folder / 'blackboard.jpg')!r}, '--out', {str(tmp_path / 'r.jsonl')!r}]); "
        "print(sorted(m for m in ('ray', 'pyarrow') if m in sys.modules))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert res.stdout.strip() == "[]"


def test_bad_options_are_usage_errors(folder, tmp_path, capsys):
    pytest.importorskip("ray", reason=SKIP_REASON)
    base = ["batch", str(folder), "--engine", "ray"]
    assert main([*base, "--out", str(tmp_path / "r.txt")]) == 2
    assert main([*base, "--out", str(tmp_path / "r.jsonl"), "--concurrency", "0"]) == 2
    assert main(["batch", "file:///no/such/prefix", "--engine", "ray", "--out", str(tmp_path / "r.jsonl")]) == 2
    err = capsys.readouterr().err
    assert ".parquet" in err and "--concurrency" in err and "no such" in err


def test_plan_spreads_a_handful_of_files_over_every_actor():
    assert plan(5, cpus=2, concurrency=None, batch_size=8) == (2, 3, 2)
    assert plan(1, cpus=8, concurrency=None, batch_size=8) == (1, 1, 1)
    assert plan(1000, cpus=4, concurrency=2, batch_size=8) == (2, 8, 125)
    assert plan(10_000_000, cpus=64, concurrency=None, batch_size=8)[2] == 20_000


def test_is_uri():
    assert is_uri("s3://bucket/x") and is_uri("file:///tmp/x") and is_uri("gs://b")
    assert not is_uri("/tmp/x") and not is_uri("photos/*.jpg") and not is_uri("C://x")
