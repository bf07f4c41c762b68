"""Every test runs in quick mode, on the CPU, with ``src/`` importable. Set here, before any
notebook kernel starts, so nbval's kernels inherit the same environment."""
import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent
os.environ["MNIST_QUICK"] = "1"
os.environ.setdefault("MNIST_DEVICE", "cpu")
# The data root is the runner's (mnist_data/, downloaded on first use) unless MNIST_DATA_DIR
# says otherwise; made absolute, because notebook kernels run in notebooks/.
if os.environ.get("MNIST_DATA_DIR"):
    os.environ["MNIST_DATA_DIR"] = str(Path(os.environ["MNIST_DATA_DIR"]).expanduser().resolve())
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(REPO / "benchmarks"))  # the design searches, whose tables the README shows
sys.path.insert(0, str(REPO / "tools"))  # render_docs: the README's generated blocks


@pytest.fixture(scope="session")
def quick_data():
    import utils

    return utils.load_mnist("cpu", quick=True)
