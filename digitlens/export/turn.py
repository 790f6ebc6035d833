"""`digitlens train-turn`: a network that tells a digit from the same digit turned over.

Between a photo and its 180-degree turn the digit recogniser is a poor guide: a lone 6
turned over is read as a 9 as surely as a 9 is, and the turned-digit table of the
recogniser's card (how it reads digits turned over) cannot tell them apart either.  The
hand can: a 6's top curls over while a 9's stem drops straight, a 2's foot is flat, a 7's
bar is on top.  This trains a small CNN with two outputs (as written / turned by 180
degrees) on MNIST training digits, each shown either way up under the training
augmentation, and exports its evidence as one number per crop,

    e(x) = ((a - b)(x) - (a - b)(turned x)) / 2,

nats that x is upright (a, b: the two logits).  e(turned x) = -e(x) by construction, so a
photo and its turned copy get opposite evidence and the same decision.  The reader adds
it to the turned-digit table's evidence when it weighs a turn against its opposite
(`PreprocessConfig.orientation_turn_weight`).

    digitlens train-turn --data-dir ../shared/data/mnist --out digitlens/models/turnnet.onnx
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from digitlens import conventions as C
from digitlens.export import data as mnist
from digitlens.export.augment import AugmentConfig, augment
from digitlens.export.models import REGISTRY, count_macs, count_parameters
from digitlens.export.onnx_export import export_onnx
from digitlens.export.train import to_tensor


def add_arguments(p: argparse.ArgumentParser) -> None:
    where = f"${mnist.ENV_VAR} or the user cache; downloaded if absent"
    p.add_argument("--data-dir", default=None, help=f"MNIST folder (default: {where})")
    p.add_argument("--arch", default="keras-cnn", choices=sorted(REGISTRY), help="architecture (default: keras-cnn)")
    p.add_argument("--epochs", type=int, default=6, help="passes over the 60k training digits (default: 6)")
    p.add_argument("--limit", type=int, default=None, help="train on the first N digits only (default: all)")
    p.add_argument("--batch-size", type=int, default=128, help="(default: 128)")
    p.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default: 1e-3)")
    p.add_argument("--lowres", type=float, default=0.3, help="share of digits shown at low resolution (default: 0.3)")
    p.add_argument("--seed", type=int, default=0, help="(default: 0)")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    p.add_argument("--out", required=True, help="ONNX file to write; its card is written beside it (.json)")


class UprightEvidence(torch.nn.Module):
    """Two-logit net -> e(x) = ((a - b)(x) - (a - b)(turned x)) / 2 per crop: antisymmetric."""

    net: torch.nn.Module

    def __init__(self, net: torch.nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        u, d = self.net(x), self.net(torch.flip(x, (2, 3)))
        return ((u[:, 0] - u[:, 1]) - (d[:, 0] - d[:, 1])) * 0.5


def train(args: argparse.Namespace) -> tuple[UprightEvidence, list[dict]]:
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    split = mnist.load_split("train", args.data_dir)
    x = to_tensor(split.images[: args.limit])
    net = REGISTRY[args.arch](num_classes=2)
    opt = torch.optim.Adam(net.parameters(), args.lr)
    gen = torch.Generator().manual_seed(args.seed)
    cfg = AugmentConfig(p_lowres=args.lowres)
    history = []
    for epoch in range(1, args.epochs + 1):
        t0, total, seen = time.perf_counter(), 0.0, 0
        net.train()
        for idx in torch.randperm(len(x), generator=gen).split(args.batch_size):
            turned = torch.rand(len(idx), generator=gen) < 0.5  # half of each batch shown upside down
            batch = augment(torch.where(turned.view(-1, 1, 1, 1), x[idx].flip(2, 3), x[idx]), gen, cfg)
            loss = F.cross_entropy(net(batch), turned.long())
            opt.zero_grad()
            loss.backward()
            opt.step()
            total, seen = total + loss.item() * len(idx), seen + len(idx)
        history.append({"epoch": epoch, "loss": total / seen, "seconds": time.perf_counter() - t0})
        print(f"epoch {epoch}/{args.epochs}: loss {total / seen:.4f} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return UprightEvidence(net.eval()).eval(), history


def score(evidence: np.ndarray, labels: np.ndarray, sure: float = 2.0) -> dict:
    """Per digit: share of upright test digits with e > 0, and how many are sure (|e| >= `sure`)
    and how many of those are right.  The turned copies score the mirror image (antisymmetry)."""
    out = {}
    for d in range(10):
        e = evidence[labels == d]
        n_sure = int((np.abs(e) >= sure).sum())
        out[str(d)] = {
            "upright_right": round(float((e > 0).mean()), 4),
            "sure_share": round(n_sure / max(len(e), 1), 4),
            "sure_right": round(float((e >= sure).sum()) / max(n_sure, 1), 4),
        }
    return out


def export(model: UprightEvidence, path: Path) -> None:
    export_onnx(
        model,
        path,
        {"input": C.INPUT_CONVENTION, "output": C.UPRIGHT_CONVENTION},
        output_name=C.UPRIGHT_NAME,
        doc="digitlens upright-or-turned evidence",
    )


def run(args: argparse.Namespace) -> int:
    from digitlens.inference.turn import TurnModel

    out = Path(args.out)
    if out.suffix != ".onnx":
        raise ValueError(f"--out must name an .onnx file, got {out}")
    started = time.perf_counter()
    model, history = train(args)
    test = mnist.load_split("test", args.data_dir)
    with torch.no_grad():
        ref = torch.cat([model(b) for b in to_tensor(test.images).split(1000)]).numpy()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:  # a file that fails the export's checks or the parity check is never left under any name
        export(model, tmp)
        got = TurnModel(tmp).upright(test.images[:1000].astype(np.float32) / 255.0)
        diff = float(np.abs(got - ref[:1000]).max())
        if diff > 1e-3:
            raise RuntimeError(f"ONNX and torch disagree by {diff:.2e} nats on MNIST test digits; nothing written")
        tmp.replace(out)
    finally:
        tmp.unlink(missing_ok=True)
    card = {
        "file": out.name,
        "sha256": hashlib.sha256(out.read_bytes()).hexdigest(),
        "size_bytes": out.stat().st_size,
        "architecture": args.arch,
        "train_command": (
            f"digitlens train-turn --arch {args.arch} --epochs {args.epochs} --lr {args.lr} --lowres {args.lowres}"
            f" --seed {args.seed} --out {args.out}" + (f" --limit {args.limit}" if args.limit else "")
        ),
        "seed": args.seed,
        "data_sha256": mnist.checksums(args.data_dir),
        "history": history,
        "train_seconds": round(time.perf_counter() - started, 1),
        "torch_threads": torch.get_num_threads(),
        "parameters": count_parameters(model.net),
        "macs_per_crop": 2 * count_macs(model.net),
        "input": {"name": C.INPUT_NAME, "convention": C.INPUT_CONVENTION},
        "output": {"name": C.UPRIGHT_NAME, "shape": ["batch"], "convention": C.UPRIGHT_CONVENTION},
        "parity_max_abs_diff": diff,
        "mnist_test": score(ref, test.labels),
        "mnist_test_upright_right": round(float((ref > 0).mean()), 4),
        "versions": {"torch": torch.__version__},
    }
    out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {out} and its card: {card['mnist_test_upright_right']:.2%} of MNIST test digits told upright")
    return 0
