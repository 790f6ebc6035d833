"""`digitlens train`: fit one registered architecture on MNIST, reproducibly.

Reads top to bottom: data, split, model, optimiser, epochs, test once, write artefacts.
The validation split (held out from the 60k training images) picks the checkpoint;
the 10k test set is scored once, at the end, by the chosen checkpoint.

With `--classes 11` the network gets an eleventh output, "not a digit", trained on
`--negatives N` generated non-digit crops (digitlens.export.negatives) and on the crops
the photo pipeline cuts from `--scenes N` generated photos made of MNIST *training*
digits (digitlens.export.scene_crops; unmatched crops are negatives).  Both are made
once, before the first epoch, and cached under --cache.  The validation set then also
holds negatives and pipeline crops made with other seeds from the validation digits;
it picks the checkpoint and fits the softmax temperature (digitlens.export.calibration).
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from digitlens.export import data as mnist
from digitlens.export.augment import AugmentConfig, augment
from digitlens.export.models import REGISTRY, build, count_macs, count_parameters
from digitlens.progress import Progress


def add_arguments(p: argparse.ArgumentParser, grid: bool = False) -> None:
    """Training options; with grid=True (the sweep) --lr and --momentum take several values."""
    nargs = "+" if grid else None  # None: argparse's default, a single value
    p.add_argument("--arch", default="digitnet", choices=sorted(REGISTRY), help="architecture (default: digitnet)")
    p.add_argument("--data-dir", default=None, help=f"MNIST folder (default: ${mnist.ENV_VAR} or the user cache)")
    out = "runs/sweep" if grid else "runs/train"
    p.add_argument("--out", default=out, help=f"output folder for checkpoint, metrics, plot (default: {out})")
    p.add_argument(
        "--epochs", type=int, default=20, help="epochs; 0 with --init: only calibrate and test it (default: 20)"
    )
    p.add_argument("--batch-size", type=int, default=128, help="batch size (default: 128)")
    p.add_argument("--optimizer", default="sgd", choices=["sgd", "adam", "adamw"], help="optimiser (default: sgd)")
    p.add_argument(
        "--lr",
        type=float,
        default=[0.01, 0.1] if grid else 0.1,
        help="peak learning rate" + ("s to try (default: 0.01 0.1)" if grid else " (default: 0.1)"),
        nargs=nargs,
    )
    p.add_argument(
        "--momentum",
        type=float,
        default=[0.0, 0.9] if grid else 0.9,
        help="SGD momentum / Adam beta1" + (", values to try (default: 0.0 0.9)" if grid else " (default: 0.9)"),
        nargs=nargs,
    )
    p.add_argument("--weight-decay", type=float, default=5e-4, help="weight decay (default: 5e-4)")
    sched = "constant" if grid else "onecycle"  # a sweep compares settings at a fixed learning rate
    p.add_argument(
        "--schedule", default=sched, choices=["onecycle", "constant"], help=f"LR schedule (default: {sched})"
    )
    p.add_argument("--label-smoothing", type=float, default=0.05, help="label smoothing (default: 0.05)")
    p.add_argument("--no-augment", action="store_true", help="train on plain MNIST (default: augment)")
    p.add_argument(
        "--lowres",
        type=float,
        default=0.0,
        help="share of samples rendered small and scaled back up, as small photo digits are (default: 0.0)",
    )
    p.add_argument(
        "--classes", type=int, default=10, choices=[10, 11], help="10 digits, or 11 with 'not a digit' (default: 10)"
    )
    p.add_argument(
        "--negatives", type=int, default=0, help="generated non-digit crops, needs --classes 11 (default: 0)"
    )
    p.add_argument(
        "--turned",
        type=int,
        default=0,
        help="MNIST digits turned sideways or upside down, as more non-digits, needs --classes 11 (default: 0)",
    )
    p.add_argument(
        "--scenes", type=int, default=0, help="generated photos whose pipeline crops join training (default: 0)"
    )
    p.add_argument(
        "--real-scenes",
        type=int,
        default=0,
        help="generated real-photo scenes (upright) whose pipeline crops of true digits join training (default: 0)",
    )
    p.add_argument(
        "--cache", default="runs/cache", help="folder caching generated crops between runs (default: runs/cache)"
    )
    p.add_argument(
        "--ema",
        type=float,
        default=0.0,
        help="decay of an exponential moving average of the weights, which is then validated, kept "
        "and exported instead of the raw weights; 0 = off (default: 0.0)",
    )
    p.add_argument(
        "--swa",
        type=int,
        default=0,
        help="stochastic weight averaging: average the weights at the end of every epoch from this "
        "one on, recompute the batch-norm statistics on the training data, and keep that average "
        "(pair with --schedule constant and a small --lr from --init); 0 = off (default: 0)",
    )
    p.add_argument(
        "--keep",
        default="best",
        choices=["best", "last"],
        help="checkpoint kept: best validation accuracy, or the last epoch (the end of the schedule) (default: best)",
    )
    p.add_argument("--init", default=None, help="start from this state dict, e.g. to fine-tune (default: random init)")
    p.add_argument("--val-size", type=int, default=5000, help="training images held out for validation (default: 5000)")
    p.add_argument("--limit", type=int, default=0, help="use only the first N training images, 0 = all (default: 0)")
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument("--threads", type=int, default=0, help="torch threads, 0 = torch's default (default: 0)")
    p.add_argument("--no-plot", action="store_true", help="skip the PNG of the curves (default: write it)")


def to_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)


@torch.no_grad()
def accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 1000) -> float:
    model.eval()
    correct = sum(int((model(x[i : i + batch]).argmax(1) == y[i : i + batch]).sum()) for i in range(0, len(x), batch))
    return correct / max(1, len(x))


def make_optimizer(args: argparse.Namespace, params: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
    if args.optimizer == "sgd":
        return torch.optim.SGD(
            params, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay, nesterov=args.momentum > 0
        )
    cls = torch.optim.Adam if args.optimizer == "adam" else torch.optim.AdamW
    return cls(params, lr=args.lr, betas=(args.momentum, 0.999), weight_decay=args.weight_decay)


def _cached(
    cache: Path | None, name: str, make: Callable[[], tuple[np.ndarray, np.ndarray]]
) -> tuple[np.ndarray, np.ndarray]:
    """(crops float32 [N, 28, 28], labels int64 [N]) from cache/name.npz, or made and stored there."""
    path = cache / f"{name}.npz" if cache else None
    if path is not None and path.exists():
        with np.load(path, allow_pickle=False) as z:
            return z["crops"], z["labels"]
    started = time.perf_counter()
    crops, labels = make()
    print(f"made {name}: {len(crops)} crops in {time.perf_counter() - started:.0f}s", flush=True)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez_compressed(tmp, crops=crops.astype(np.float32), labels=labels.astype(np.int64))
        tmp.replace(path)
    return crops.astype(np.float32), labels.astype(np.int64)


def extra_data(
    args: argparse.Namespace, digits: np.ndarray, labels: np.ndarray, seed: int, scale: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generated negatives (label 10) and pipeline crops of generated photos, as tensors."""
    from digitlens.export import negatives as neg
    from digitlens.export.scene_crops import NOT_DIGIT, real_scene_crops, scene_crops

    cache = Path(args.cache) if args.cache else None
    tag = f"{len(digits)}d{int(digits[:64].sum()) % 100003}"  # which digits fed the scenes and fragments
    xs, ys = [np.zeros((0, 28, 28), np.float32)], [np.zeros(0, np.int64)]
    n_neg = round(args.negatives * scale)
    if n_neg:
        x, _ = _cached(cache, f"neg_{n_neg}_s{seed}_{tag}", lambda: neg.generate(n_neg, seed, digits, labels))
        xs.append(x)
        ys.append(np.full(len(x), NOT_DIGIT, np.int64))
    n_turn = round(getattr(args, "turned", 0) * scale)
    if n_turn:
        x, _ = _cached(
            cache,
            f"turned_{n_turn}_s{seed}_{tag}",
            lambda: neg.generate(n_turn, seed + 7, digits, labels, families=("turned",)),
        )
        xs.append(x)
        ys.append(np.full(len(x), NOT_DIGIT, np.int64))
    n_sc = round(args.scenes * scale)
    if n_sc:
        x, y = _cached(cache, f"scenes_{n_sc}_s{seed}_{tag}", lambda: scene_crops(n_sc, digits, labels, seed))
        xs.append(x)
        ys.append(y)
    n_real = round(getattr(args, "real_scenes", 0) * scale)
    if n_real:
        x, y = _cached(
            cache, f"realscenes_{n_real}_s{seed}_{tag}", lambda: real_scene_crops(n_real, digits, labels, seed)
        )
        xs.append(x)
        ys.append(y)
    return torch.from_numpy(np.concatenate(xs)).unsqueeze(1), torch.from_numpy(np.concatenate(ys))


def widen_head(state: dict, target: dict) -> dict:
    """A 10-class state dict fitted to an 11-class model: digit rows copied, the new row as freshly built."""
    out = dict(state)
    for k, v in state.items():
        t = target.get(k)
        if t is not None and v.shape != t.shape and v.shape[1:] == t.shape[1:] and (v.shape[0], t.shape[0]) == (10, 11):
            out[k] = torch.cat([v, t[10:]])
    return out


@torch.no_grad()
def all_logits(model: torch.nn.Module, x: torch.Tensor, batch: int = 1000) -> torch.Tensor:
    model.eval()
    return torch.cat([model(x[i : i + batch]) for i in range(0, len(x), batch)]) if len(x) else torch.zeros(0, 10)


def train(args: argparse.Namespace) -> dict:
    """Train, select by validation accuracy, test once; return the metrics written to JSON."""
    extras = args.negatives or args.scenes or getattr(args, "turned", 0) or getattr(args, "real_scenes", 0)
    if extras and args.classes != 11:
        raise ValueError("--negatives, --turned, --scenes and --real-scenes need --classes 11")
    if args.epochs < 0 or (args.epochs == 0 and not args.init):
        raise ValueError("--epochs must be positive, or 0 with --init (calibrate and test that model)")
    swa_from = getattr(args, "swa", 0)  # checked before any data is read or made
    if swa_from and getattr(args, "ema", 0.0):
        raise ValueError("--swa and --ema are two ways of averaging weights: choose one")
    if swa_from < 0:
        raise ValueError(f"--swa must be an epoch (1 or later) or 0 for off, got {swa_from}")
    if swa_from > args.epochs:
        raise ValueError(f"--swa {swa_from} starts after the last epoch ({args.epochs})")
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    train_split = mnist.load_split("train", args.data_dir)
    test_split = mnist.load_split("test", args.data_dir)
    x_all, y_all = to_tensor(train_split.images), torch.from_numpy(train_split.labels.astype(np.int64))
    if args.limit:
        x_all, y_all = x_all[: args.limit], y_all[: args.limit]
    order = torch.randperm(len(x_all), generator=gen)
    val_idx, train_idx = order[: args.val_size], order[args.val_size :]
    x_train, y_train, x_val, y_val = x_all[train_idx], y_all[train_idx], x_all[val_idx], y_all[val_idx]
    n_mnist_val = len(x_val)
    n_neg_val = 0
    if args.classes == 11 and extras:
        imgs, lbls = train_split.images[: len(x_all)], train_split.labels[: len(x_all)]
        ti, vi = np.sort(train_idx.numpy()), np.sort(val_idx.numpy())
        x_extra, y_extra = extra_data(args, imgs[ti], lbls[ti], args.seed)
        # validation extras: other seeds, made from the validation digits only
        xv_extra, yv_extra = extra_data(args, imgs[vi], lbls[vi], args.seed + 1000, scale=0.15)
        n_neg_val = round(args.negatives * 0.15) + round(getattr(args, "turned", 0) * 0.15)
        x_train, y_train = torch.cat([x_train, x_extra]), torch.cat([y_train, y_extra])
        x_val, y_val = torch.cat([x_val, xv_extra]), torch.cat([y_val, yv_extra])
        print(
            f"training on {len(x_train)} crops ({int((y_train == 10).sum())} not digits), "
            f"validating on {len(x_val)} ({int((y_val == 10).sum())} not digits)",
            flush=True,
        )

    model = build(args.arch, num_classes=args.classes)
    if args.init:
        model.load_state_dict(widen_head(torch.load(args.init, weights_only=True), model.state_dict()))
    # the averaged copy (batch-norm statistics averaged too) is what is validated and saved
    ema = (
        torch.optim.swa_utils.AveragedModel(
            model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(args.ema), use_buffers=True
        )
        if getattr(args, "ema", 0.0)
        else None
    )
    swa = torch.optim.swa_utils.AveragedModel(model) if swa_from else None
    kept = ema.module if ema is not None else model
    aug_cfg = AugmentConfig(p_lowres=args.lowres)
    opt = make_optimizer(args, model.parameters())
    steps_per_epoch = (len(x_train) + args.batch_size - 1) // args.batch_size
    sched = None
    if args.schedule == "onecycle" and args.epochs > 0:
        sched = torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch, pct_start=0.2
        )

    history: dict[str, list[float]] = {"epoch": [], "loss": [], "train_acc": [], "val_acc": [], "val_mnist_acc": []}
    best_val, best_epoch = -1.0, 0
    ckpt = out / f"{args.arch}.pt"
    started = time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        model.train()
        perm = torch.randperm(len(x_train), generator=gen)
        bar = Progress(steps_per_epoch, desc=f"epoch {epoch}/{args.epochs}")
        loss_sum, correct, seen = 0.0, 0, 0
        for i in range(0, len(x_train), args.batch_size):
            idx = perm[i : i + args.batch_size]
            xb, yb = x_train[idx], y_train[idx]
            if not args.no_augment:
                xb = augment(xb, gen, aug_cfg)
            logits = model(xb)
            loss = F.cross_entropy(logits, yb, label_smoothing=args.label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            if ema is not None:
                ema.update_parameters(model)
            loss_sum += loss.item() * len(idx)
            correct += int((logits.argmax(1) == yb).sum())
            seen += len(idx)
            bar.update(1, postfix=f"loss {loss_sum / seen:.4f} acc {correct / seen:.4f}")
        if swa is not None and epoch >= swa_from:
            swa.update_parameters(model)
            if epoch == args.epochs:
                bn_batches = (
                    xb if args.no_augment else augment(xb, gen, aug_cfg)
                    for xb in (x_train[perm[i : i + args.batch_size]] for i in range(0, len(x_train), args.batch_size))
                )
                torch.optim.swa_utils.update_bn(bn_batches, swa.module)
                kept = swa.module  # the average is what the last epoch validates and saves
        val_acc = accuracy(kept, x_val, y_val) if len(x_val) else correct / seen
        val_mnist = accuracy(kept, x_val[:n_mnist_val], y_val[:n_mnist_val]) if n_mnist_val else val_acc
        bar.postfix += f" val {val_acc:.4f}" + (f" mnist-val {val_mnist:.4f}" if len(x_val) > n_mnist_val else "")
        bar.close()
        history["epoch"].append(epoch)
        history["loss"].append(loss_sum / seen)
        history["train_acc"].append(correct / seen)
        history["val_acc"].append(val_acc)
        history["val_mnist_acc"].append(val_mnist)
        if val_acc >= best_val:
            best_val, best_epoch = val_acc, epoch
            torch.save(kept.state_dict(), ckpt)
        torch.save(kept.state_dict(), out / f"{args.arch}.last.pt")  # an interrupted run keeps its last epoch
        (out / f"{args.arch}.progress.json").write_text(json.dumps({"best_epoch": best_epoch, **history}))
    train_seconds = time.perf_counter() - started
    if args.epochs == 0 or getattr(args, "keep", "best") == "last" or swa is not None:
        torch.save(kept.state_dict(), ckpt)  # the model as it stands (with --epochs 0: as given by --init)
        if history["val_acc"]:
            best_val, best_epoch = history["val_acc"][-1], args.epochs
        else:
            best_val = accuracy(kept, x_val, y_val) if len(x_val) else 0.0

    model.load_state_dict(torch.load(ckpt, weights_only=True))
    test_acc = accuracy(model, to_tensor(test_split.images), torch.from_numpy(test_split.labels.astype(np.int64)))
    from digitlens.export.calibration import ece, fit_temperature

    val_logits = all_logits(model, x_val).double().numpy()
    # MNIST digits, generated non-digits and photo crops count alike in the temperature
    groups = np.zeros(len(x_val), np.int64)
    groups[n_mnist_val : n_mnist_val + n_neg_val] = 1
    groups[n_mnist_val + n_neg_val :] = 2
    temperature = fit_temperature(val_logits, y_val.numpy(), groups=groups) if len(x_val) else 1.0
    val_probs = torch.softmax(torch.from_numpy(val_logits / temperature), 1).numpy()
    metrics = {
        "arch": args.arch,
        "classes": args.classes,
        "temperature": round(temperature, 4),
        "val_ece_calibrated": round(ece(val_probs, y_val.numpy()), 5),
        "val_size_total": len(x_val),
        "train_size_total": len(x_train),
        "checkpoint": ckpt.name,
        "best_epoch": best_epoch,
        "val_accuracy": best_val,
        "test_accuracy_torch": test_acc,
        "train_seconds": round(train_seconds, 1),
        "torch_threads": torch.get_num_threads(),
        "parameters": count_parameters(model),
        "macs_per_crop": count_macs(model),
        "hyperparameters": {k: v for k, v in vars(args).items() if k not in ("func", "command")},
        "history": history,
    }
    (out / f"{args.arch}.metrics.json").write_text(json.dumps(metrics, indent=2))
    if not args.no_plot and history["epoch"]:
        plot_history(history, out / f"{args.arch}.curves.png", title=f"{args.arch}: test {test_acc:.4f}")
    print(
        f"{args.arch}: best val {best_val:.4f} at epoch {best_epoch}, test {test_acc:.4f}, "
        f"{train_seconds:.0f}s -> {ckpt}"
    )
    return metrics


def plot_history(history: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(9, 3.5))
    a.plot(history["epoch"], history["loss"], marker="o")
    a.set_xlabel("epoch"), a.set_ylabel("training loss"), a.grid(alpha=0.3)
    b.plot(history["epoch"], history["train_acc"], marker="o", label="train (augmented)")
    b.plot(history["epoch"], history["val_acc"], marker="o", label="validation")
    b.set_xlabel("epoch"), b.set_ylabel("accuracy"), b.legend(), b.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    train(args)
    return 0
