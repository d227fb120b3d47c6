import json
import subprocess
import sys

import pytest

from conftest import ROOT, make_dataset
from tools.bench import ceilings
from tools.graph_mode import op_families


@pytest.mark.subprocess
@pytest.mark.slow
def test_smoke_run_prints_every_figure_as_json(tmp_path):
    data = make_dataset(tmp_path / "data", per_class=2)
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench.py"), "--smoke", "--json", "--data", str(data)],
        capture_output=True, text=True, cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    for key in ("train_images_per_s", "infer_images_per_s", "latency_ms_p50", "latency_ms_p95", "matmul_gflops",
                "step_images_per_s", "graph_mode_step_images_per_s", "decode_images_per_s"):
        assert result[key] > 0, key
    assert result["image_size"] == 64 and result["batch_size"] == 4
    assert result["latency_ms_p95"] >= result["latency_ms_p50"]
    assert set(result["exports"]) == {"savedmodel", "tflite float32", "tflite float16", "tflite dynamic", "tflite int8"}
    for row in result["exports"].values():
        assert row["megabytes"] > 0 and row["latency_ms_p95"] >= row["latency_ms_p50"] > 0
    assert result["ceiling_infer_images_per_s"] == pytest.approx(3 * result["ceiling_train_images_per_s"])
    assert sum(result["step_time_by_op_family"].values()) == pytest.approx(1.0)


def test_ceilings_from_compute_and_network_size():
    # 600 GFLOP/s, 1 G multiply-adds (2 GFLOP) per image: 300 images/s forward, a third of it training.
    assert ceilings(600.0, 1e9) == pytest.approx((100.0, 300.0))


@pytest.mark.subprocess
def test_bench_without_train_split_is_a_user_error(tmp_path):
    done = subprocess.run([sys.executable, str(ROOT / "bench.py"), "--data", str(tmp_path)], capture_output=True, text=True)
    assert done.returncode == 2 and "no train.txt" in done.stderr and "Traceback" not in done.stderr


def test_oneDNN_op_names_group_into_families():
    shares = {"_MklNativeFusedConv2D": 0.5, "_MklNativeConv2DBackpropFilter": 0.3, "ResourceApplyAdam": 0.2}
    assert op_families(shares) == {"conv forward": 0.5, "conv backward (weights)": 0.3, "optimizer update": 0.2}
