"""MNIST's four files on disk: where they are looked for, how they are checked (size and md5,
so a damaged download is named, not trained on), fetched when online, and read.
``utils.load_mnist`` reads them, ``runner.measured_split`` compares with them."""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_ENV = "MNIST_DATA_DIR"
# Uncompressed files in torchvision's MNIST/raw layout: (size in bytes, md5).
MNIST_FILES = {
    "train-images-idx3-ubyte": (47_040_016, "6bbc9ace898e44ae57da46a324031adb"),
    "train-labels-idx1-ubyte": (60_008, "a25bea736e30d166cdddb491f175f624"),
    "t10k-images-idx3-ubyte": (7_840_016, "2646ac647ad5339dbf082846283269ea"),
    "t10k-labels-idx1-ubyte": (10_008, "27ae3e4e09519cfbb04c329615203637"),
}


class MnistDataError(RuntimeError):
    """Data missing or damaged; the message says which file and how to fix it."""


def data_root() -> Path:
    """Folder that holds ``MNIST/raw``: ``$MNIST_DATA_DIR``, else ``mnist_data/`` in the repo
    (not ``data/``: on a case-insensitive disk that would be ``Data/``, the recorded results)."""
    return Path(os.environ.get(DATA_ENV) or REPO_ROOT / "mnist_data").expanduser().resolve()


def raw_folder() -> Path:
    """``data_root()/MNIST/raw``, with every file present and intact (downloaded if missing and
    online); ``MnistDataError`` otherwise."""
    raw = data_root() / "MNIST" / "raw"
    download_error = ""
    if not all((raw / name).is_file() for name in MNIST_FILES):
        download_error = _download(data_root())
    _check_raw_files(raw, download_error)
    return raw


def _check_raw_files(raw: Path, download_error: str = "") -> None:
    missing = [name for name in MNIST_FILES if not (raw / name).is_file()]
    if missing:
        raise MnistDataError(
            f"MNIST is not in {raw} (missing: {', '.join(missing)}) and could not be downloaded"
            f"{f' ({download_error})' if download_error else ''}.\n"
            f"Point the environment variable {DATA_ENV} at a folder that holds MNIST/raw/, "
            f"e.g. `export {DATA_ENV}=../shared/data`, or run once with internet access so "
            f"torchvision can download it into {raw.parent.parent}."
        )
    for name, (size, md5) in MNIST_FILES.items():
        path = raw / name
        actual = path.stat().st_size
        if actual != size:
            raise MnistDataError(
                f"{path} is damaged: {actual} bytes, expected {size}. Delete it and re-run to "
                f"download it again, or point {DATA_ENV} at a good copy."
            )
        if hashlib.md5(path.read_bytes()).hexdigest() != md5:
            raise MnistDataError(
                f"{path} is damaged: its md5 is not {md5}. Delete it and re-run to download it "
                f"again, or point {DATA_ENV} at a good copy."
            )


def _download(root: Path) -> str:
    """Let torchvision fetch the files when online; return why it failed, if it did (offline,
    a proxy, a full disk), for the error that names the missing files."""
    from torchvision.datasets import MNIST

    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            for train in (True, False):
                MNIST(root, train=train, download=True)
    except Exception as error:  # noqa: BLE001 - any failure is reported, none is fatal here
        return f"download failed: {type(error).__name__}: {error}"
    return ""


def read_idx(path: Path, offset: int) -> np.ndarray:
    """An idx file's bytes after its header (16 bytes for images, 8 for labels)."""
    return np.frombuffer(path.read_bytes(), dtype=np.uint8, offset=offset)
