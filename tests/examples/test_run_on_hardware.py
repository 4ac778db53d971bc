"""examples/run_on_hardware.py end to end on every offline route, small budget."""

import importlib.util

import pytest

from tests.conftest import REPO


@pytest.mark.slow
def test_every_offline_route_agrees_and_fine_tunes():
    spec = importlib.util.spec_from_file_location(
        "run_on_hardware", REPO / "examples" / "run_on_hardware.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rows = module.main(["--shots", "2000", "--samples", "8", "--epochs", "3"])
    assert [r["route"] for r in rows] == list(module.ROUTES)
    for row in rows:
        assert row["noise_se"] < 4, row  # 4 standard errors of the shot noise
        assert row["two_qubit_gates"] >= 1 and row["depth"] > 0
    assert rows[0]["exact_se"] > 4  # the noisy IBM fake backend is not the exact simulation
