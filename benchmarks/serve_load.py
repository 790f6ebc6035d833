"""A bounded load run of `digitlens serve` on loopback: throughput, latency, and 503s when full.

Starts the server as its own process (`python -m digitlens serve` on a free 127.0.0.1
port), then N client threads, each with one keep-alive connection, post the shipped
samples (raw JPEG bodies, round robin) for a fixed time.  A client turned away with 503
waits --backoff seconds and sends its next request.  Every 200 is checked against
samples/expected.json.  One row per --queue value.

    python benchmarks/serve_load.py --clients 16 --seconds 30 --workers 2 --queue 8,16
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workers: int, queue: int) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "digitlens",
            "serve",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--queue",
            str(queue),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    end = time.monotonic() + 60
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited: {proc.stderr.read().strip()}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.terminate()
    raise RuntimeError("server did not start within 60 s")


def run_load(url: str, bodies: list[tuple[str, bytes]], clients: int, seconds: float, backoff: float) -> dict:
    results: list[list[tuple[int, float, bool]]] = [[] for _ in range(clients)]
    stop_at = time.monotonic() + seconds
    barrier = threading.Barrier(clients)

    def client(k: int) -> None:
        out = results[k]
        with httpx.Client(timeout=60) as c:
            barrier.wait()
            i = k
            while time.monotonic() < stop_at:
                text, body = bodies[i % len(bodies)]
                i += 1
                t0 = time.perf_counter()
                try:
                    r = c.post(url + "/v1/read", content=body, headers={"Content-Type": "image/jpeg"})
                    status = r.status_code
                    ok = status == 200 and r.json()["text"] == text
                except httpx.HTTPError:
                    status, ok = -1, False
                out.append((status, time.perf_counter() - t0, ok))
                if status == 503:
                    time.sleep(backoff)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    flat = [x for r in results for x in r]
    statuses = Counter(s for s, _, _ in flat)
    ok_lat = np.array([lat for s, lat, _ in flat if s == 200]) * 1000
    busy_lat = np.array([lat for s, lat, _ in flat if s == 503]) * 1000
    return {
        "wall": wall,
        "requests": len(flat),
        "ok": statuses.get(200, 0),
        "wrong_text": sum(1 for s, _, ok in flat if s == 200 and not ok),
        "busy": statuses.get(503, 0),
        "other": {k: v for k, v in statuses.items() if k not in (200, 503)},
        "rps": statuses.get(200, 0) / wall,
        "p50": float(np.percentile(ok_lat, 50)) if len(ok_lat) else float("nan"),
        "p99": float(np.percentile(ok_lat, 99)) if len(ok_lat) else float("nan"),
        "busy_p50": float(np.percentile(busy_lat, 50)) if len(busy_lat) else float("nan"),
    }


def baseline_ms(bodies: list[bytes], rounds: int = 3) -> float:
    """Median ms of decode + Reader.read per sample in this process: what the server adds to."""
    from digitlens.inference import Reader
    from digitlens.preprocess.load import decode_image

    reader = Reader(threads=1)
    reader.read(decode_image(bodies[0]))
    times = []
    for _ in range(rounds):
        for b in bodies:
            t0 = time.perf_counter()
            reader.read(decode_image(b))
            times.append(time.perf_counter() - t0)
    return float(np.median(times)) * 1000


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--queue", default="8,16", help="comma-separated waiting-line sizes, one run each")
    p.add_argument("--backoff", type=float, default=0.1, help="seconds a client waits after a 503")
    args = p.parse_args(argv)
    expected = json.loads((ROOT / "samples" / "expected.json").read_text())
    bodies = [(v["text"], (ROOT / "samples" / k).read_bytes()) for k, v in sorted(expected.items())]
    print(
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python "
        f"{platform.python_version()}; load average before: {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{args.clients} clients, {args.seconds:g} s each run, {len(bodies)} samples (960x720 JPEG) round robin, "
        f"{args.workers} workers, backoff after 503: {args.backoff:g} s\n"
    )
    base = baseline_ms([b for _, b in bodies])
    print(f"In-process baseline, no server: decode + Reader.read on 1 thread, median {base:.0f} ms per sample\n")
    print(
        "| workers | queue | capacity | requests | 200 | wrong text | 503 | other | read/s | p50 ms | p99 ms "
        "| 503 p50 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for q in [int(x) for x in args.queue.split(",")]:
        proc, url = start_server(args.workers, q)
        try:
            r = run_load(url, bodies, args.clients, args.seconds, args.backoff)
        finally:
            proc.terminate()
            proc.wait(20)
        other = ", ".join(f"{k}: {v}" for k, v in sorted(r["other"].items())) or "0"
        print(
            f"| {args.workers} | {q} | {args.workers + q} | {r['requests']} | {r['ok']} | {r['wrong_text']} | "
            f"{r['busy']} | {other} | {r['rps']:.1f} | {r['p50']:.0f} | {r['p99']:.0f} | {r['busy_p50']:.1f} |",
            flush=True,
        )
    print(f"\nLoad average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
