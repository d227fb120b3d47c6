import pytest

from conftest import make_spec
from flowers_mtl.model import cost
from flowers_mtl.model.layer import build_model

TASKS = {"type": 5, "colour": 6}


def measured(split_after="fire8", size=224):
    return cost.measure(build_model(make_spec(TASKS, size, split_after=split_after)))


def test_squeezenet_v11_multiply_adds_at_224():
    c = measured()
    assert c.trunk_macs / 1e9 == pytest.approx(0.229, abs=5e-4)
    assert c.head_macs["type"] / 1e9 == pytest.approx(0.034, abs=5e-4)
    assert c.macs / 1e9 == pytest.approx(0.297, abs=5e-4)
    assert c.trunk_params == 525_312 and c.params == 925_323
    assert "0.297 G multiply-adds per image" in c.summary()


def test_an_earlier_split_moves_cost_into_the_heads():
    early, late = measured("fire5", 64), measured("fire9", 64)
    assert early.trunk_macs < late.trunk_macs and early.macs > late.macs
    assert early.trunk_params < late.trunk_params
