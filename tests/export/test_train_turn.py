"""`digitlens train-turn`: a short run trains, exports an antisymmetric ONNX graph and its card."""

from __future__ import annotations

import json

import numpy as np
import pytest

from digitlens.cli import main
from digitlens.inference.turn import TurnModel


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, data_dir):
    out = tmp_path_factory.mktemp("turn") / "turn.onnx"
    argv = ["train-turn", "--data-dir", str(data_dir), "--epochs", "1", "--limit", "3000", "--threads", "2"]
    assert main([*argv, "--out", str(out)]) == 0
    return out


def test_the_exported_evidence_is_antisymmetric(tiny, mnist_test):
    model = TurnModel(tiny)
    x = mnist_test.images[:200].astype(np.float32) / 255.0
    e, e_turned = model.upright(x), model.upright(x[:, ::-1, ::-1])
    assert e.shape == (200,) and np.isfinite(e).all()
    assert np.allclose(e_turned, -e, atol=1e-4)  # a crop and its turned copy: opposite nats, by construction
    assert np.abs(e).max() > 0.1  # and not the trivial zero


def test_a_short_run_already_tells_digits_from_their_turns(tiny, mnist_test):
    """Upright 3s, 4s and 7s (no symmetry to hide behind): most read upright after one short epoch."""
    keep = np.isin(mnist_test.labels, (3, 4, 7))
    e = TurnModel(tiny).upright(mnist_test.images[keep][:600].astype(np.float32) / 255.0)
    assert (e > 0).mean() > 0.6  # a coin would be right half the time; the shipped run is 98-99 % on these


def test_the_card_says_how_to_rebuild_and_what_it_scores(tiny, data_dir):
    card = json.loads(tiny.with_suffix(".json").read_text())
    assert card["file"] == "turn.onnx" and card["seed"] == 0
    assert "digitlens train-turn" in card["train_command"] and "--limit 3000" in card["train_command"]
    assert set(card["data_sha256"]) >= {"train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"}
    assert card["parity_max_abs_diff"] < 1e-3
    assert set(card["mnist_test"]) == {str(d) for d in range(10)}


def test_an_out_that_is_not_onnx_is_refused_before_training(tmp_path, capsys):
    assert main(["train-turn", "--out", str(tmp_path / "turn.pt")]) == 2
    assert "--out must name an .onnx file" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())
