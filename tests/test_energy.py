"""Energy: absent with a reason where it cannot be measured; the arithmetic on known counter readings."""

from __future__ import annotations

import pytest

from inference_lab.models.energy import EnergyMeter, _nvml_index, joules_per_token, net_energy_joules


def test_on_cpu_energy_is_absent_with_a_reason():
    with EnergyMeter("cpu") as meter:
        sum(range(1000))
    assert meter.reading.available is False
    assert "CUDA" in meter.reading.reason and meter.reading.joules is None


def test_idle_power_is_subtracted():
    # 450 J over 3 s with a 50 W idle baseline: 300 J of work.
    joules, reason = net_energy_joules(start_mj=1_000_000, end_mj=1_450_000, seconds=3.0, idle_watts=50.0)
    assert joules == pytest.approx(300.0) and reason is None
    assert joules_per_token(joules, 150) == pytest.approx(2.0)
    assert joules_per_token(None, 150) is None and joules_per_token(joules, 0) is None


def test_spans_under_a_second_and_sub_idle_readings_give_no_figure():
    joules, reason = net_energy_joules(0, 90_000, seconds=0.4, idle_watts=50.0)
    assert joules is None and "under 1 s" in reason and "20-100 ms" in reason
    joules, reason = net_energy_joules(0, 90_000, seconds=2.0, idle_watts=50.0)  # 90 J < 100 J idle
    assert joules is None and "idle" in reason


def test_cuda_visible_devices_maps_to_nvml_numbering(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,1")
    assert _nvml_index(1) == 1 and _nvml_index(0) == 3
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "GPU-8f0c2d4e")
    assert _nvml_index(0) == "GPU-8f0c2d4e"
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert _nvml_index(2) == 2
