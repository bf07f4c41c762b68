"""Every test runs in quick mode, on the CPU, with ``src/`` importable. Set here, before any
notebook kernel starts, so nbval's kernels inherit the same environment."""
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
os.environ["MNIST_QUICK"] = "1"
os.environ.setdefault("MNIST_DEVICE", "cpu")
os.environ.setdefault("MNIST_DATA_DIR", str(REPO.parent / "shared" / "data"))
sys.path.insert(0, str(REPO / "src"))


@pytest.fixture(scope="session")
def quick_data():
    import utils

    return utils.load_mnist("cpu", quick=True)
