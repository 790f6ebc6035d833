import argparse
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

# after the skip: these modules import torch at load time
from digitlens.export import models, train  # noqa: E402
from digitlens.export.onnx_export import add_arguments as export_args  # noqa: E402
from digitlens.export.onnx_export import export  # noqa: E402


@pytest.mark.parametrize("name", sorted(models.REGISTRY))
def test_every_architecture_gives_ten_logits(name):
    net = models.build(name).eval()
    with torch.no_grad():
        out = net(torch.rand(5, 1, 28, 28))
    assert out.shape == (5, 10)
    assert models.count_parameters(net) > 1000
    assert models.count_macs(net) > models.count_parameters(net) // 2


def test_unknown_architecture():
    with pytest.raises(ValueError, match="unknown architecture"):
        models.build("resnet9000")


def test_mlp_is_the_classic_784_50_10():
    assert models.count_parameters(models.build("mlp")) == 784 * 50 + 50 + 50 * 10 + 10


def parse_train(argv):
    p = argparse.ArgumentParser()
    train.add_arguments(p)
    return p.parse_args(argv)


@pytest.fixture(scope="module")
def short_run(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("train")
    args = parse_train(
        [
            "--arch",
            "cnn2",
            "--data-dir",
            str(data_dir),
            "--limit",
            "6000",
            "--val-size",
            "1000",
            "--out",
            str(out),
            "--seed",
            "3",
            "--no-plot",
            "--lr",
            "0.05",
            "--epochs",
            "2",
            "--no-augment",
            "--schedule",
            "constant",
        ]
    )
    return args, train.train(args), out


def test_short_training_learns(short_run):
    _, metrics, out = short_run
    # ~80 steps of 128 on 5000 digits: far above chance, and above 90%
    assert metrics["test_accuracy_torch"] > 0.90
    assert metrics["val_accuracy"] > 0.90
    saved = json.loads((out / "cnn2.metrics.json").read_text())
    assert saved["history"]["epoch"] == [1, 2]
    state = torch.load(out / "cnn2.pt", weights_only=True)
    assert all(isinstance(v, torch.Tensor) for v in state.values())


def test_training_is_reproducible(short_run, tmp_path):
    args, metrics, _ = short_run
    args2 = argparse.Namespace(**{**vars(args), "out": str(tmp_path)})
    again = train.train(args2)
    assert again["history"]["loss"] == pytest.approx(metrics["history"]["loss"], rel=1e-5)


def test_export_parity_and_contract(short_run, tmp_path, data_dir):
    import onnx
    import onnxruntime as ort

    _, _, out = short_run
    p = argparse.ArgumentParser()
    export_args(p)
    target = tmp_path / "m.onnx"
    args = p.parse_args([str(out / "cnn2.pt"), "--arch", "cnn2", "--out", str(target), "--data-dir", str(data_dir)])
    report = export(args)
    assert report["samples"] == 1000 and report["argmax_agree"] == 1000
    assert report["max_abs_logit_diff"] <= 1e-4
    model = onnx.load(str(target))
    onnx.checker.check_model(model)
    meta = {p.key: p.value for p in model.metadata_props}
    assert meta["architecture"] == "cnn2" and "white digit on black" in meta["input_convention"]
    sess = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    (inp,), (outp,) = sess.get_inputs(), sess.get_outputs()
    assert inp.name == "image" and outp.name == "logits"
    for batch in (1, 7):
        y = sess.run(None, {"image": np.zeros((batch, 1, 28, 28), np.float32)})[0]
        assert y.shape == (batch, 10)


def test_sweep_writes_table_and_plot(tmp_path, data_dir):
    import csv

    from digitlens.cli import main

    code = main(
        [
            "sweep",
            "--arch",
            "lenet5",
            "--lr",
            "0.02",
            "0.05",
            "--momentum",
            "0.9",
            "--epochs",
            "1",
            "--limit",
            "12000",
            "--batch-size",
            "64",
            "--val-size",
            "500",
            "--no-augment",
            "--data-dir",
            str(data_dir),
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 0
    with open(tmp_path / "sweep.csv") as f:
        rows = list(csv.DictReader(f))
    assert [(float(r["lr"]), float(r["momentum"])) for r in rows] == [(0.02, 0.9), (0.05, 0.9)]
    # Only settings that converge on any CPU: lr 0.2 with momentum 0.9 diverged on an Intel Xeon
    # (11%) while it learnt on AMD, and a test must not depend on one CPU's rounding.  Both
    # settings here reach 0.90-0.96 after this epoch; the sweep must have trained each of them.
    assert all(0.5 < float(r["test_accuracy"]) <= 1.0 and 0.5 < float(r["val_accuracy"]) for r in rows)
    assert max(float(r["test_accuracy"]) for r in rows) > 0.85
    saved = json.loads((tmp_path / "sweep.json").read_text())
    assert [(r["lr"], r["momentum"]) for r in saved] == [(0.02, 0.9), (0.05, 0.9)]
    assert (tmp_path / "sweep.png").stat().st_size > 5000


def test_lowres_augmentation_blurs_only_the_chosen_share():
    from digitlens.export.augment import AugmentConfig, augment

    x = torch.zeros(64, 1, 28, 28)
    x[:, :, 4:24, 13:15] = 1.0  # a sharp 1
    plain = AugmentConfig(
        rotate_deg=0, scale=(1, 1), shear=0, shift_px=0, p_thick=0, p_thin=0, p_blur=0, contrast=(1, 1), noise_std=0
    )
    sharp = augment(x, torch.Generator().manual_seed(0), plain)
    low = augment(x, torch.Generator().manual_seed(0), AugmentConfig(**{**plain.__dict__, "p_lowres": 1.0}))
    grey = lambda t: ((t > 0.05) & (t < 0.95)).flatten(1).sum(1)  # noqa: E731
    assert torch.allclose(sharp, x, atol=1e-4)
    assert (grey(low) > grey(sharp)).all()  # every sample lost its sharp edges
    assert low.shape == x.shape and float(low.min()) >= 0 and float(low.max()) <= 1
    assert torch.allclose(low.amax(dim=(1, 2, 3)), torch.ones(64), atol=0.05)  # rescaled to full ink


def test_training_can_start_from_a_checkpoint(short_run, tmp_path, data_dir):
    args, metrics, out = short_run
    args2 = argparse.Namespace(
        **{
            **vars(args),
            "out": str(tmp_path),
            "init": str(out / "cnn2.pt"),
            "epochs": 1,
            "lr": 0.001,
            "no_augment": False,
            "lowres": 0.3,
        }
    )
    tuned = train.train(args2)
    # one gentle epoch from trained weights stays trained; from scratch it would not reach this
    assert tuned["val_accuracy"] > metrics["val_accuracy"] - 0.03


def test_ema_keeps_the_averaged_weights(short_run, tmp_path):
    args, _, out = short_run
    args2 = argparse.Namespace(**{**vars(args), "out": str(tmp_path), "ema": 0.99})
    averaged = train.train(args2)
    raw = torch.load(out / "cnn2.last.pt", weights_only=True)
    kept = torch.load(tmp_path / "cnn2.last.pt", weights_only=True)
    # same seed and data, so the raw weights would be identical: what is saved is the average
    assert any(not torch.allclose(raw[k].float(), kept[k].float()) for k in raw)
    # an average over the last ~100 steps of a converging run still reads digits
    assert averaged["val_accuracy"] > 0.85 and averaged["test_accuracy_torch"] > 0.85


def test_swa_keeps_the_average_of_the_epochs_with_fresh_batch_norm(short_run, tmp_path):
    args, _, _ = short_run  # a constant rate and no augmentation: epoch 1 of two is the run of one
    base = {**vars(args), "arch": "digitnet", "limit": 3000, "val_size": 500}
    train.train(argparse.Namespace(**{**base, "out": str(tmp_path / "one"), "epochs": 1}))
    train.train(argparse.Namespace(**{**base, "out": str(tmp_path / "two")}))
    averaged = train.train(argparse.Namespace(**{**base, "out": str(tmp_path / "swa"), "swa": 1}))
    w1 = torch.load(tmp_path / "one" / "digitnet.last.pt", weights_only=True)
    w2 = torch.load(tmp_path / "two" / "digitnet.last.pt", weights_only=True)
    kept = torch.load(tmp_path / "swa" / "digitnet.pt", weights_only=True)
    assert set(kept) == set(w2)  # a plain state dict of the network, loadable by export
    weights = [k for k in w2 if k.endswith("weight") and w2[k].dim() > 1]  # convolutions and the head
    assert weights and all(torch.allclose(kept[k], (w1[k] + w2[k]) / 2, atol=1e-5) for k in weights)
    assert any(not torch.allclose(kept[k], w2[k], atol=1e-4) for k in weights)  # the average, not the last
    stats = [k for k in w2 if k.endswith("running_mean")]
    assert stats and all(not torch.allclose(w2[k], kept[k]) for k in stats)  # recomputed for the average
    assert averaged["best_epoch"] == 2 and averaged["test_accuracy_torch"] > 0.5  # it reads digits


@pytest.mark.parametrize(
    ("extra", "message"),
    [({"swa": 3}, "after the last epoch"), ({"swa": 1, "ema": 0.9}, "one"), ({"swa": -1}, "epoch")],
)
def test_swa_rejects_settings_it_cannot_honour(short_run, tmp_path, extra, message):
    args, _, _ = short_run
    with pytest.raises(ValueError, match=message):
        train.train(argparse.Namespace(**{**vars(args), "out": str(tmp_path), **extra}))


def test_epochs_zero_calibrates_and_tests_a_given_checkpoint(short_run, tmp_path):
    args, _, out = short_run
    args2 = argparse.Namespace(**{**vars(args), "out": str(tmp_path), "init": str(out / "cnn2.last.pt"), "epochs": 0})
    again = train.train(args2)
    given = torch.load(out / "cnn2.last.pt", weights_only=True)
    kept = torch.load(tmp_path / "cnn2.pt", weights_only=True)
    assert all(torch.equal(given[k], kept[k]) for k in given)  # no step taken: the same weights
    assert again["history"]["epoch"] == [] and again["best_epoch"] == 0
    assert again["test_accuracy_torch"] > 0.9 and again["temperature"] > 0


def test_keep_last_keeps_the_end_of_the_schedule(short_run, tmp_path):
    args, _, _ = short_run
    args2 = argparse.Namespace(**{**vars(args), "out": str(tmp_path), "keep": "last"})
    kept = train.train(args2)
    assert kept["best_epoch"] == args.epochs and kept["val_accuracy"] == kept["history"]["val_acc"][-1]
    last = torch.load(tmp_path / "cnn2.last.pt", weights_only=True)
    ckpt = torch.load(tmp_path / "cnn2.pt", weights_only=True)
    assert all(torch.equal(last[k], ckpt[k]) for k in last)


def test_epochs_zero_needs_a_checkpoint(short_run, tmp_path):
    args, _, _ = short_run
    with pytest.raises(ValueError, match="--init"):
        train.train(argparse.Namespace(**{**vars(args), "out": str(tmp_path), "init": None, "epochs": 0}))


def test_turned_digits_join_the_training_data_as_not_digits(short_run, tmp_path, mnist_test):
    args, _, _ = short_run
    args2 = argparse.Namespace(**{**vars(args), "cache": str(tmp_path), "classes": 11, "negatives": 0, "turned": 12})
    x, y = train.extra_data(args2, mnist_test.images[:300], mnist_test.labels[:300], seed=4)
    assert x.shape == (12, 1, 28, 28) and (y == 10).all()
    assert (x.amax(dim=(1, 2, 3)) > 0.5).all()
    again, _ = train.extra_data(args2, mnist_test.images[:300], mnist_test.labels[:300], seed=4)  # from the cache
    assert torch.equal(x, again) and any(p.name.startswith("turned_12_s4") for p in tmp_path.iterdir())
    with pytest.raises(ValueError, match="--classes 11"):
        train.train(argparse.Namespace(**{**vars(args), "turned": 5}))
