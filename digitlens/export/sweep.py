"""`digitlens sweep`: train a grid of learning rates x momenta and compare them.

Each cell is a full `digitlens train` run with the same seed and data split, so the
table isolates the optimiser settings.  Writes sweep.csv, sweep.json and sweep.png.
"""

from __future__ import annotations

import argparse
import copy
import csv
import json
from pathlib import Path

from digitlens.export import train


def add_arguments(p: argparse.ArgumentParser) -> None:
    train.add_arguments(p, grid=True)


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for lr in args.lr:
        for mom in args.momentum:
            cell = copy.copy(args)
            cell.lr, cell.momentum = lr, mom
            cell.out = str(out / f"lr{lr:g}_m{mom:g}")
            cell.no_plot = True
            m = train.train(cell)
            rows.append(
                {
                    "lr": lr,
                    "momentum": mom,
                    "val_accuracy": m["val_accuracy"],
                    "test_accuracy": m["test_accuracy_torch"],
                    "train_seconds": m["train_seconds"],
                }
            )
    with open(out / "sweep.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (out / "sweep.json").write_text(json.dumps(rows, indent=2))
    print(f"{'lr':>8} {'momentum':>9} {'val':>8} {'test':>8}")
    for r in rows:
        print(f"{r['lr']:>8g} {r['momentum']:>9g} {r['val_accuracy']:>8.4f} {r['test_accuracy']:>8.4f}")
    plot(rows, out / "sweep.png", args.arch)
    return 0


def plot(rows: list[dict], path: Path, arch: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for mom in sorted({r["momentum"] for r in rows}):
        pts = sorted((r["lr"], r["test_accuracy"]) for r in rows if r["momentum"] == mom)
        ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=f"momentum {mom:g}")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"{arch} sweep")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
