"""Each graph node's peak memory is its own, and what a node leaves unreachable goes back to the kernel."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from autodidact.agent.memory import give_back, in_use_gb, peak_gb, reset_peak

pytestmark = pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads Linux's /proc")


def rss_gb() -> float:
    now = in_use_gb()
    assert now is not None
    return now


def test_memory_a_node_left_in_a_reference_cycle_goes_back_to_the_kernel():
    give_back()
    before = rss_gb()
    cycle: list[object] = [torch.ones(64 * 2**20, dtype=torch.float32)]  # 256 MB
    cycle.append(cycle)
    del cycle  # unreachable, but a cycle: only the collector frees it
    assert rss_gb() > before + 0.2
    give_back()
    assert rss_gb() < before + 0.05


def test_a_peak_is_measured_from_the_last_reset():
    big = torch.ones(64 * 2**20, dtype=torch.float32)
    del big
    give_back()
    reset_peak()
    peak = peak_gb()
    assert peak is not None and peak < rss_gb() + 0.1  # the 256 MB before the reset is not in this peak
