"""End to end on 300 generated photos of every kind: the figures BENCHMARKS.md quotes.

Floors sit a little under the measured figures (recall 98.6%, precision 99.6%, CER
2.2%, exact 93.3%) so a regression fails, not noise; of the issue's targets (recall and
precision >= 99%, CER <= 2%) precision is met on this set, recall and CER narrowly not
(see BENCHMARKS.md).
"""

from collections import defaultdict

import pytest

from digitlens.metrics import Tally
from digitlens.synth import KINDS, LAYOUTS, generate

N_IMAGES = 300


@pytest.fixture(scope="module")
def tallies(mnist_test, reader):
    scenes = generate(N_IMAGES, mnist_test.images, mnist_test.labels, seed=2024)
    total, by_kind = Tally(), defaultdict(Tally)
    for sc in scenes:
        rd = reader.read(sc.image)
        boxes = [d.box for d in rd.digits]
        total.add(rd.text, boxes, sc.text, sc.boxes)
        by_kind[sc.kind].add(rd.text, boxes, sc.text, sc.boxes)
        by_kind[sc.layout].add(rd.text, boxes, sc.text, sc.boxes)
    print("\n" + total.summary())
    for k, t in sorted(by_kind.items()):
        print(f"  {k:10s} {t.summary()}")
    return total, by_kind


def test_generated_set_covers_every_kind(tallies):
    total, by_kind = tallies
    assert total.images == N_IMAGES and total.true_digits > 1000
    assert set(KINDS) | set(LAYOUTS) <= set(by_kind)


def test_generated_set_floors(tallies):
    total, _ = tallies
    assert total.recall >= 0.98
    assert total.precision >= 0.99
    assert total.cer <= 0.03
    assert total.exact_rate >= 0.90


def test_plain_paper_is_nearly_perfect(tallies):
    _, by_kind = tallies
    assert by_kind["paper"].recall >= 0.98 and by_kind["paper"].cer <= 0.05
