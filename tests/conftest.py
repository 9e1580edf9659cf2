"""Shared test fixtures.

Tests never touch the network: downloads are exercised against file:// URLs and a loopback server.
Tests that need real data (Kodak, MNIST) use the local data directory when it is present and are
skipped with a clear reason otherwise (CI always has it: ../shared/data).
"""

from __future__ import annotations

import os

import pytest
import torch

# Keep tests single-machine friendly: two CPU threads at most.
torch.set_num_threads(min(2, torch.get_num_threads()))
os.environ.setdefault("PERCEPTUAL_COMPRESSION_PROGRESS", "0")


@pytest.fixture
def tmp_results(tmp_path, monkeypatch):
    """Redirect results JSON to a temporary directory."""
    monkeypatch.setenv("PERCEPTUAL_COMPRESSION_RESULTS", str(tmp_path / "results"))
    return tmp_path / "results"


@pytest.fixture
def one_thread_per_test():
    """One torch thread for the test, restored afterwards: small models run several times faster on one
    thread when the CPU is shared. Use with ``pytestmark = pytest.mark.usefixtures("one_thread_per_test")``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
