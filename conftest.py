"""Every test runs in quick mode, on the CPU, with ``src/`` importable. Set here, before any
notebook kernel starts, so nbval's kernels inherit the same environment."""
import os
import re
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


def records_torch_version() -> str:
    """The torch the records were made with: the one ``constraints.txt`` pins."""
    pins = (REPO / "constraints.txt").read_text()
    return re.search(r"^torch==(\S+)$", pins, re.M).group(1)


def skip_unless_records_torch():
    """For a test that repeats a record's random draws (a recipe's fingerprint hashes the initial
    weights torch draws): another torch may draw them otherwise, so it skips, saying how to run
    it, while every other test runs."""
    import torch

    pinned = records_torch_version()
    if torch.__version__.split("+")[0] != pinned:
        pytest.skip(f"repeats the records' random draws, made with torch {pinned}; this is torch "
                    f"{torch.__version__}: `pip install -r requirements-test.txt` installs the "
                    "pinned versions")


@pytest.fixture
def records_torch():
    skip_unless_records_torch()


@pytest.fixture(scope="session")
def quick_data():
    import utils

    return utils.load_mnist("cpu", quick=True)
