"""The shipped model, measured the way users run it: onnxruntime on all 10k test digits."""

import json

import onnx
import pytest

from digitlens.cli import main
from digitlens.export.evaluate import score
from digitlens.inference import Recognizer, default_model_path


def test_shipped_model_accuracy_through_onnxruntime(mnist_test):
    rec = Recognizer()
    result = score(rec, mnist_test.images, mnist_test.labels)
    assert result["accuracy"] >= 0.9960  # a "not a digit" answer counts as wrong (99.64% when shipped)
    assert result["confusion"].sum() == 10000
    assert rec.classes[-1] == "not_digit" and rec.not_digit_index == 10
    assert result["confusion"][:, 10].sum() <= 30  # at most 0.3% of test digits called "not a digit"


def test_shipped_model_rejects_generated_marks(mnist_test):
    """Operators, letters, rules, edges, textures: never seen in training (other seed, test digits)."""
    from digitlens.export import negatives

    crops, fam = negatives.generate(400, 4242, mnist_test.images[:2000], mnist_test.labels[:2000])
    labels = Recognizer().classify(crops)[0]
    assert (labels == 10).mean() >= 0.92
    for name in ("operator", "letter", "rule", "edge"):
        sel = fam == negatives.FAMILIES.index(name)
        assert sel.sum() >= 20 and (labels[sel] == 10).mean() >= 0.88, name


def test_model_card_matches_the_file():
    import hashlib

    path = default_model_path()
    card = json.loads(path.with_name("digitnet.json").read_text())
    assert card["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert path.stat().st_size <= 2_000_000
    assert card["test_accuracy_onnxruntime"] >= 0.996
    assert card["macs_per_crop"] <= 10_000_000  # the 11-class recogniser's budget
    assert card["macs_per_crop"] > 0 and card["parameters"] > 0
    assert "digitlens train" in card["train_command"] and card["seed"] is not None
    assert card["classes"][-1] == "not_digit" and card["temperature"] > 0
    rej = card["rejection"]
    assert rej["nondigit_rejected_at_argmax"] >= 0.94 and rej["mnist_rejected_as_not_digit"] <= 0.003
    assert rej["ece_mnist_test"] <= 0.02 and rej["ece_photo_crops"] <= 0.02
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    from digitlens.export.models import REGISTRY

    assert meta["architecture"] == card["architecture"] and meta["architecture"] in REGISTRY


def test_eval_command_writes_confusion_errors_and_preview(tmp_path, data_dir, capsys):
    assert main(["eval", "--data-dir", str(data_dir), "--out", str(tmp_path), "--preview", "40"]) == 0
    printed = capsys.readouterr().out
    assert "MNIST test accuracy 99." in printed
    errors = json.loads((tmp_path / "errors.json").read_text())
    assert 0 < len(errors["misclassified"]) <= 50  # 99.5% floor: at most 50 of 10,000
    for name in ("confusion.png", "errors.png", "preview.png"):
        assert (tmp_path / name).stat().st_size > 1000


def test_eval_refuses_a_model_with_the_wrong_contract(tmp_path, data_dir, capsys):
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 3, 32, 32])
    y = helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3, 32, 32])
    graph = helper.make_graph([helper.make_node("Identity", ["image"], ["logits"])], "g", [x], [y])
    bad = tmp_path / "bad.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(bad))
    assert main(["eval", "--model", str(bad), "--data-dir", str(data_dir), "--out", str(tmp_path)]) == 2
    assert "input must be float32 [batch,1,28,28]" in capsys.readouterr().err


def test_shipped_int8_model_by_name(mnist_test):
    card = json.loads(default_model_path().with_name("digitnet-int8.json").read_text())
    rec = Recognizer("digitnet-int8")
    assert rec.path.name == "digitnet-int8.onnx"
    acc = score(rec, mnist_test.images, mnist_test.labels)["accuracy"]
    assert acc == pytest.approx(card["test_accuracy_onnxruntime"], abs=1e-4)
    assert abs(acc - card["float_test_accuracy_onnxruntime"]) <= 0.001  # within 0.1 point of float
    assert abs(card["nondigit_rejected"] - card["float_nondigit_rejected"]) <= 0.005  # and 0.5 point on rejection
