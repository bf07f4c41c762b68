"""The engine of the series, for one network: what every notebook and ``src/train.py`` call.

Read top to bottom (about ten minutes): settings; data (step 1: load MNIST once into tensors);
augmentation (step 5: a random affine per image, on whole batches; an elastic
distortion on top where a recipe asks for it); the train / test loop
(``train_one_epoch`` and ``evaluate``, every step); precise BatchNorm statistics and
averages of the weights (what is measured after each epoch: step 5 uses precise BN, step 7
an equal average of the weights over its clean epochs);
``Recipe`` and ``fit``, one seed's whole run; teaching aids (parameter summary, receptive
field, step 2 on); plots. Many seeds at once live in ``seeds.py``, results files and tables in
``records.py``.

Where to change things:
- the data root: the environment variable ``MNIST_DATA_DIR`` (``data_root``);
- the augmentation: ``augment_batch`` (and each step's ``Recipe.augment`` in ``steps.py``;
  ``Recipe.clean_last_epochs`` leaves it off for the last epochs);
- the optimizer and scheduler: each step's ``Recipe`` in ``steps.py``;
- what is measured: ``Recipe.bn_stats_images`` (precise BatchNorm statistics),
  ``Recipe.average_decay`` (a moving average of the weights, ``WeightAverage``) and
  ``Recipe.average_last_epochs`` (an equal average over the last epochs, ``EqualAverage``).
"""
from __future__ import annotations

import contextlib
import copy
import functools
import hashlib
import io
import math
import os
import random
import sys
import time
import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.swa_utils import AveragedModel
from tqdm import tqdm

REPO_ROOT = Path(__file__).resolve().parents[1]
DATA_ENV = "MNIST_DATA_DIR"
QUICK_ENV = "MNIST_QUICK"
DEVICE_ENV = "MNIST_DEVICE"

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
# Uncompressed files in torchvision's MNIST/raw layout: (size in bytes, md5).
MNIST_FILES = {
    "train-images-idx3-ubyte": (47_040_016, "6bbc9ace898e44ae57da46a324031adb"),
    "train-labels-idx1-ubyte": (60_008, "a25bea736e30d166cdddb491f175f624"),
    "t10k-images-idx3-ubyte": (7_840_016, "2646ac647ad5339dbf082846283269ea"),
    "t10k-labels-idx1-ubyte": (10_008, "27ae3e4e09519cfbb04c329615203637"),
}
QUICK_TRAIN_SIZE, QUICK_TEST_SIZE, QUICK_EPOCHS, QUICK_SEEDS = 2048, 1024, 1, 2
VALIDATION_SIZE = 10_000


class MnistDataError(RuntimeError):
    """Data missing or damaged; the message says which file and how to fix it."""


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message names the epoch and batch."""


# --------------------------------------------------------------------------- settings
def is_quick() -> bool:
    """Quick mode (``MNIST_QUICK=1``): a small subset and one epoch, for tests and smoke runs."""
    return os.environ.get(QUICK_ENV, "").strip().lower() not in ("", "0", "false", "no")


def data_root() -> Path:
    """Folder that holds ``MNIST/raw``: ``$MNIST_DATA_DIR``, else ``mnist_data/`` in the repo
    (not ``data/``: on a case-insensitive disk that would be ``Data/``, the recorded results)."""
    return Path(os.environ.get(DATA_ENV) or REPO_ROOT / "mnist_data").expanduser().resolve()


def get_device(name: str | None = None) -> torch.device:
    """CUDA, then Apple MPS, then CPU, unless ``name`` or ``$MNIST_DEVICE`` says otherwise.
    MPS is chosen only if the series' operations run there (``_mps_runs_the_series``); the
    series is tested on a CPU, and its CUDA path on a simulated device."""
    name = name or os.environ.get(DEVICE_ENV)
    if name:
        try:
            device = torch.device(name)
        except RuntimeError:
            raise ValueError(f"unknown device {name!r}: use cpu, cuda or mps") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {name!r}: no CUDA GPU is available here; use cpu")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"device {name!r}: Apple's MPS is not available here; use cpu")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        failure = _mps_runs_the_series()
        if not failure:
            return torch.device("mps")
        print(f"Apple's MPS cannot run this series here ({failure}): training on the CPU.")
    return torch.device("cpu")


def _mps_runs_the_series() -> str:
    """Why one training step of the series' operations fails on MPS ('' if it runs): an op
    MPS lacks would otherwise end a first run in a traceback."""
    try:
        with torch.random.fork_rng(devices=[]):
            device = torch.device("mps")
            net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.BatchNorm2d(4), nn.Dropout(0.1),
                                nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten()).to(device)
            x = torch.zeros(2, 1, 28, 28, device=device)
            x = augment_batch(x, Augment(10, 0.1, (0.9, 1.1)), torch.Generator().manual_seed(0))
            loss = F.cross_entropy(net(x), torch.zeros(2, dtype=torch.long, device=device))
            loss.backward()
            torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True).step()
            loss.item()
    except Exception as error:  # noqa: BLE001 - any failure means: do not train there
        return f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error) else ''}"
    return ""


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch (CPU and CUDA) and ask cuDNN for deterministic kernels;
    return the CPU generator for data order and augmentation, so one seed fixes the run.

    What repeats: a seed repeats its run on the same machine with the same torch version.
    Elsewhere it does not, to the digit: a GPU draws dropout masks from its own generator, and
    another GPU or CPU may sum floating point in another order (``records.kernels_fingerprint``
    tells such machines apart, as far as a few training steps can)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- data
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


def _read_idx(path: Path, offset: int) -> np.ndarray:
    return np.frombuffer(path.read_bytes(), dtype=np.uint8, offset=offset)


def load_mnist(device: torch.device | str = "cpu", quick: bool | None = None,
               validation: bool = False):
    """Return ``(train_x, train_y, test_x, test_y)`` as normalized tensors on ``device``.

    The whole set fits in memory (60k x 28 x 28 floats = 188 MB), so it lives on the training
    device and batches are plain tensor slices: no DataLoader, no per-image work.
    ``validation=True`` holds out the last ``VALIDATION_SIZE`` training images and returns them
    in place of the test set: design choices are made on those, never on the test set.
    Quick mode keeps the first ``QUICK_TRAIN_SIZE`` / ``QUICK_TEST_SIZE`` images.
    """
    quick = is_quick() if quick is None else quick
    raw = data_root() / "MNIST" / "raw"
    download_error = ""
    if not all((raw / name).is_file() for name in MNIST_FILES):
        download_error = _download(data_root())
    _check_raw_files(raw, download_error)

    def images(name):
        return torch.from_numpy(_read_idx(raw / name, 16).reshape(-1, 1, 28, 28).copy())

    def labels(name):
        return torch.from_numpy(_read_idx(raw / name, 8).astype(np.int64))

    train = images("train-images-idx3-ubyte"), labels("train-labels-idx1-ubyte")
    if validation:
        cut = len(train[0]) - VALIDATION_SIZE
        held_out = train[0][cut:], train[1][cut:]
        train = train[0][:cut], train[1][:cut]
    else:
        held_out = images("t10k-images-idx3-ubyte"), labels("t10k-labels-idx1-ubyte")
    splits = [(*train, QUICK_TRAIN_SIZE), (*held_out, QUICK_TEST_SIZE)]
    out = []
    for x, y, quick_size in splits:
        if quick:
            x, y = x[:quick_size], y[:quick_size]
        x = (x.float() / 255.0 - MNIST_MEAN) / MNIST_STD
        out += [x.to(device), y.to(device)]
    return tuple(out)


def iterate_batches(x, y, batch_size: int, generator: torch.Generator | None = None):
    """Yield ``(xb, yb)`` slices; shuffled by ``generator`` (a new order each call), in order
    when it is None."""
    n = len(x)
    order = None if generator is None else torch.randperm(n, generator=generator).to(x.device)
    for start in range(0, n, batch_size):
        if order is None:
            yield x[start:start + batch_size], y[start:start + batch_size]
        else:
            idx = order[start:start + batch_size]
            yield x[idx], y[idx]


# --------------------------------------------------------------------------- augmentation
@dataclass(frozen=True)
class Augment:
    """Random affine per image: rotation in degrees, translation as a fraction of the width,
    and a scale range. Defaults: the course's RandomRotation(7). ``elastic`` > 0 adds an
    elastic distortion (Simard et al. 2003): a random displacement field smoothed by a
    Gaussian of ``elastic_sigma`` pixels and multiplied by ``elastic`` (the paper's alpha; 34
    with sigma 4 moves a pixel by about 1.3 pixels along each axis, 1.8 as a distance, root
    mean square)."""

    degrees: float = 7.0
    translate: float = 0.0
    scale: tuple[float, float] = (1.0, 1.0)
    elastic: float = 0.0
    elastic_sigma: float = 4.0

    def __repr__(self):  # the elastic fields only when set: older records keep their repr
        affine = f"Augment(degrees={self.degrees!r}, translate={self.translate!r}, " \
                 f"scale={self.scale!r}"
        if not self.elastic:
            return affine + ")"
        return affine + f", elastic={self.elastic!r}, elastic_sigma={self.elastic_sigma!r})"


_BACKGROUND = (0.0 - MNIST_MEAN) / MNIST_STD  # a black pixel after normalization


def augment_batch(x: torch.Tensor, aug: Augment, generator: torch.Generator) -> torch.Tensor:
    """Apply one random affine per image to a whole batch at once (affine_grid + grid_sample).

    Random numbers come from ``generator``, on the CPU, so the same numbers are drawn
    whatever the device; the 2x3 matrices go to the GPU without stopping it (``to_device``).
    The area shifted in is filled with the normalized black background, as PIL's fill=0 would
    be.
    """
    n = x.shape[0]
    u = torch.rand(n, 4, generator=generator) * 2 - 1  # uniform in [-1, 1)
    angle = u[:, 0] * math.radians(aug.degrees)
    scale = aug.scale[0] + (u[:, 1] + 1) / 2 * (aug.scale[1] - aug.scale[0])
    shift = u[:, 2:] * aug.translate * 2  # grid units: the image spans [-1, 1]
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    theta = to_device(theta.to(x.dtype), x.device)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    if aug.elastic:
        grid = grid + elastic_field(x, aug.elastic, aug.elastic_sigma, generator)
    return F.grid_sample(x - _BACKGROUND, grid, align_corners=False) + _BACKGROUND


def elastic_field(x: torch.Tensor, strength: float, sigma: float,
                  generator: torch.Generator) -> torch.Tensor:
    """One smooth random displacement per pixel and image, in ``affine_grid``'s units (shape
    ``(n, h, w, 2)``): uniform noise in [-1, 1) per pixel, drawn on the CPU like the affine,
    smoothed by a normalized Gaussian of ``sigma`` pixels, then multiplied by ``strength``
    (in pixels: the smoothing shrinks the noise, so the displacement is far below
    ``strength``). Added to the affine grid, one ``grid_sample`` does both. The Gaussian is a
    matrix on each side (``blur @ noise @ blur.T``, zero beyond the border): two matmuls."""
    n, _, h, w = x.shape
    noise = torch.rand(n, 2, h, w, generator=generator) * 2 - 1  # (dx, dy) per image
    noise = to_device(noise.to(x.dtype), x.device)
    rows, cols = (gaussian_blur_matrix(size, sigma, x) for size in (h, w))
    smooth = rows @ noise @ cols.T * strength
    return torch.stack((smooth[:, 0] * (2 / w), smooth[:, 1] * (2 / h)), dim=-1)


def gaussian_blur_matrix(size: int, sigma: float, like: torch.Tensor) -> torch.Tensor:
    """``size`` x ``size``: row i holds a Gaussian of ``sigma`` centred on pixel i, normalized
    as the whole Gaussian would be (what falls outside the image is lost, as with zero
    padding)."""
    at = torch.arange(size, dtype=like.dtype, device=like.device)
    reach = torch.arange(-size, size + 1, dtype=like.dtype, device=like.device)
    whole = torch.exp(-reach ** 2 / (2 * sigma ** 2)).sum()
    return torch.exp(-(at[:, None] - at[None, :]) ** 2 / (2 * sigma ** 2)) / whole


def to_device(t: torch.Tensor, device: torch.device) -> torch.Tensor:
    """A small CPU tensor on ``device`` without a host sync: a plain copy would wait for the
    GPU to finish its queued work every batch. Pinned memory lets the copy run asynchronously;
    on the CPU nothing moves."""
    if device.type == "cpu":
        return t
    if device.type == "cuda":
        t = t.pin_memory()
    return t.to(device, non_blocking=True)


# --------------------------------------------------------------------------- train / test
def train_one_epoch(model, x, y, optimizer, *, batch_size, generator=None, augment=None,
                    batch_scheduler=None, label_smoothing=0.0, average=None, epoch=1,
                    progress=True):
    """One pass over ``(x, y)`` in a new order drawn from ``generator`` (in order if None);
    returns ``(mean loss, accuracy %)``. ``augment`` transforms each batch; ``batch_scheduler``
    (OneCycle) and ``average`` (a ``WeightAverage``) step after every optimizer step.

    Loss and accuracy are summed on the device and read once per progress update, so a GPU is
    not stopped after every batch. A NaN/inf loss raises ``TrainingDiverged``.
    """
    model.train()
    steps = math.ceil(len(x) / batch_size)
    bar = tqdm(total=steps, desc=f"epoch {epoch:2d}", disable=not progress, mininterval=10,
               ascii=True, ncols=100, file=sys.stdout)
    losses = torch.zeros(steps, device=x.device)
    correct = torch.zeros((), device=x.device, dtype=torch.long)
    seen = 0
    for i, (xb, yb) in enumerate(iterate_batches(x, y, batch_size, generator)):
        if augment is not None:
            xb = augment_batch(xb, augment, generator)
        logits = model(xb)
        loss = F.cross_entropy(logits, yb, label_smoothing=label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        take_step(optimizer, batch_scheduler, average)
        losses[i] = loss.detach() * len(yb)
        correct += (logits.argmax(1) == yb).sum()
        seen += len(yb)
        if progress and (bar.update(1) or i + 1 == steps):
            bar.set_postfix_str(f"loss={losses[:i + 1].sum().item() / seen:.4f} "
                                f"acc={100 * correct.item() / seen:.2f}%", refresh=False)
    bar.close()
    bad = (~torch.isfinite(losses)).nonzero()
    if len(bad):
        raise TrainingDiverged(
            f"loss became {losses[bad[0, 0]].item()} in epoch {epoch}, batch {bad[0, 0].item() + 1}"
            f" of {steps}: lower the learning rate or check the model's last layer.")
    # Accuracy from exact counts in Python floats: a float32 99.4 reads as 99.399998.
    return losses.sum().item() / seen, 100.0 * correct.item() / seen


def take_step(optimizer, batch_scheduler=None, average=None):
    """One optimizer step, then the per-batch schedule (OneCycle) and the weight average."""
    optimizer.step()
    if batch_scheduler is not None:
        batch_scheduler.step()
    if average is not None:
        average.update()


@torch.no_grad()
def evaluate(model, x, y, batch_size: int = 2048, return_predictions: bool = False):
    """Mean loss and accuracy % on ``(x, y)`` in eval mode (and the predictions, if asked)."""
    model.eval()
    loss = torch.zeros((), device=x.device)
    preds = []
    for xb, yb in iterate_batches(x, y, batch_size):
        logits = model(xb)
        loss += F.cross_entropy(logits, yb, reduction="sum")
        preds.append(logits.argmax(1))
    preds = torch.cat(preds)
    result = (loss.item() / len(x), 100.0 * (preds == y).sum().item() / len(x))
    return result + (preds,) if return_predictions else result


# --------------------------------------------------------------------------- what is measured
def recompute_batchnorm_stats(model, x, images: int = 10_000, batch_size: int = 1000):
    """Replace every BatchNorm's running mean/variance by plain averages over the first
    ``images`` of ``x`` (clean training images, dropout off): "precise BN", step 5.

    During training the running averages follow augmented, dropout-noised batches and weight
    the last few most, so the statistics the network is tested with drift from epoch to epoch.
    Training itself never reads them (it normalizes with batch statistics), so this changes
    only what evaluation sees."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    modes = {m: m.training for m in model.modules()}
    model.train()
    for m in model.modules():
        if isinstance(m, nn.modules.dropout._DropoutNd):
            m.eval()
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the batches below
    with torch.no_grad():
        for start in range(0, min(images, len(x)), batch_size):
            model(x[start:start + batch_size])
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    for m, training in modes.items():
        m.train(training)


class WeightAverage:
    """An exponential moving average of a network's weights and BatchNorm statistics, kept in
    a copy of the network (``.net``) that is what gets evaluated.

    SGD's last steps leave the weights wherever the last batches pushed them; the average
    smooths that noise away without changing the training at all. The n-th update uses the
    decay ``min(decay, n / (9 + n))``, so the average is not stuck near the initial weights.
    (torch's ``AveragedModel`` would start from a copy of the first weights it is given, not
    this warm-up, so the moving-average records would not repeat with it: ``EqualAverage``
    uses it.)"""

    def __init__(self, net: nn.Module, decay: float):
        self.net, self.decay, self.updates = copy.deepcopy(net), decay, 0
        self._pairs = list(zip(self.net.state_dict().values(), net.state_dict().values()))

    @torch.no_grad()
    def update(self):
        """Move the average towards the trained network's current weights (after a step)."""
        self.updates += 1
        weight = 1 - min(self.decay, self.updates / (9 + self.updates))
        for average, current in self._pairs:
            if average.is_floating_point():
                average.lerp_(current, weight)
            else:  # BatchNorm's batch counter
                average.copy_(current)


class EqualAverage:
    """An equal average of a network's weights and BatchNorm statistics over every step it is
    updated after (stochastic weight averaging, SWA), kept by torch's ``AveragedModel`` in a
    copy of the network (``.net``) that is what gets evaluated. Updated over the last epochs
    only, it averages the low-learning-rate end of training, where the weights wander around
    one solution."""

    def __init__(self, net: nn.Module):
        self._trained, self._average = net, AveragedModel(net, use_buffers=True)
        self.net = self._average.module

    def update(self):
        """Add the trained network's current weights to the average (after a step)."""
        self._average.update_parameters(self._trained)


def weight_average(recipe: "Recipe", net: nn.Module):
    """The average of ``net``'s weights that ``recipe`` measures, or None."""
    if recipe.average_decay and recipe.average_last_epochs:
        raise ValueError("a recipe measures one average of the weights: set average_decay "
                         "(a moving average) or average_last_epochs (an equal one), not both")
    if recipe.average_decay:
        return WeightAverage(net, recipe.average_decay)
    return EqualAverage(net) if recipe.average_last_epochs else None


# --------------------------------------------------------------------------- one seed's run
@dataclass
class Recipe:
    """Everything that defines how one step is trained; ``steps.py`` holds one per step."""

    step: int
    title: str
    role: str  # baseline | step | final | frontier
    model: Callable[[], nn.Module]
    epochs: int
    batch_size: int
    optimizer: Callable  # params -> torch.optim.Optimizer
    scheduler: Callable | None = None  # (optimizer, steps_per_epoch, epochs) -> LR scheduler
    scheduler_per_batch: bool = False  # OneCycleLR: True; StepLR: False
    augment: Augment | None = None
    clean_last_epochs: int = 0  # the last N epochs train on un-augmented images
    ramp_down_epochs: int = 0  # the N epochs before those augment less and less
    label_smoothing: float = 0.0
    bn_stats_images: int = 0  # > 0: recompute BatchNorm statistics after each epoch (precise BN)
    average_decay: float = 0.0  # > 0: evaluate a moving average of the weights (WeightAverage)
    average_last_epochs: int = 0  # > 0: evaluate an equal average over them (EqualAverage)
    seeds: tuple[int, ...] = (1,)

    def model_class(self) -> str:
        """The network's name in results files: its class, or its builder and arguments."""
        return describe(self.model)

    def augment_in(self, epoch: int, epochs: int) -> Augment | None:
        """The augmentation of ``epoch`` of ``epochs``: none in the last ``clean_last_epochs``;
        in the ``ramp_down_epochs`` before them, weaker each epoch (3 of them: 3/4, 2/4, 1/4
        of the rotation, shift, scale change and elastic strength)."""
        to_clean = epochs - self.clean_last_epochs + 1 - epoch  # epochs until the clean ones
        if self.augment is None or to_clean <= 0:
            return None
        if to_clean > self.ramp_down_epochs:
            return self.augment
        f, (low, high) = to_clean / (self.ramp_down_epochs + 1), self.augment.scale
        return dataclasses.replace(self.augment, degrees=self.augment.degrees * f,
                                   translate=self.augment.translate * f,
                                   scale=(1 - (1 - low) * f, 1 + (high - 1) * f),
                                   elastic=self.augment.elastic * f)

    def averages_in(self, epoch: int, epochs: int) -> bool:
        """Whether ``epoch`` of ``epochs`` updates the average of the weights, and so is
        measured on it: every epoch for a moving one, the last ``average_last_epochs``."""
        return bool(self.average_decay) or epoch > epochs - self.average_last_epochs

    def optimizer_and_scheduler(self, net: nn.Module, train_size: int, epochs: int):
        optimizer = self.optimizer(net.parameters())
        steps_per_epoch = math.ceil(train_size / self.batch_size)
        scheduler = self.scheduler(optimizer, steps_per_epoch, epochs) if self.scheduler else None
        return optimizer, scheduler

    def learning_rates(self, train_size: int = 60_000) -> list[float]:
        """The learning rate of every batch, as the optimizer and its schedule set it."""
        optimizer, scheduler = self.optimizer_and_scheduler(nn.Linear(1, 1), train_size,
                                                            self.epochs)
        rates = []
        for _ in range(self.epochs):
            for _ in range(math.ceil(train_size / self.batch_size)):
                rates.append(optimizer.param_groups[0]["lr"])
                optimizer.step()  # no gradients: moves nothing, keeps the schedule in order
                if scheduler and self.scheduler_per_batch:
                    scheduler.step()
            if scheduler and not self.scheduler_per_batch:
                scheduler.step()
        return rates

    def rate_set_by_schedule(self) -> str:
        """Where the schedule, not the optimizer's ``lr``, sets the rate from the first batch
        (OneCycle): what it does, in a few words; else empty."""
        rates = self.learning_rates()
        if self.scheduler is None or rates[0] == self.optimizer.keywords.get("lr"):
            return ""
        return (f" (its lr unused: the schedule sets every batch's rate, {rates[0]:.2g} at the "
                f"start, {max(rates):.2g} at the peak, {rates[-1]:.2g} at the end)")


def recipe_changes(before: Recipe, after: Recipe) -> str:
    """What ``after`` changes against ``before``, field by field: what a step teaches."""
    lines = [f"{field.name}: {describe(getattr(before, field.name))} -> "
             f"{describe(getattr(after, field.name))}"
             + (after.rate_set_by_schedule() if field.name == "optimizer" else "")
             for field in dataclasses.fields(Recipe) if field.name not in ("step", "title")
             and describe(getattr(before, field.name)) != describe(getattr(after, field.name))]
    return "\n".join(lines) or "nothing: the same recipe"


def describe(build) -> str:
    """A recipe field as results files and the pages print it: a class or function by name, a
    partial with its arguments."""
    if isinstance(build, functools.partial):
        args = [describe(a) for a in build.args]
        args += [f"{k}={describe(v)}" for k, v in build.keywords.items()]
        return f"{describe(build.func)}({', '.join(args)})"
    return getattr(build, "__name__", repr(build)) if callable(build) else repr(build)


def eval_name(eval_set: str) -> str:
    """How runs name the set they are measured on: ``test``, or ``val`` for the validation
    split (``val_acc``, never ``test_acc``, holds a validation accuracy)."""
    return {"test": "test", "validation": "val"}[eval_set]


def new_run(seed: int, eval_set: str = "test") -> dict:
    """An empty per-epoch history, in the layout of a results file's ``runs``."""
    measured = eval_name(eval_set)
    return {"seed": seed, "train_loss": [], "train_acc": [], f"{measured}_loss": [],
            f"{measured}_acc": [], "lr": []}


def record_epoch(run: dict, lr: float, train, measured, log=print) -> None:
    """Append one epoch's learning rate, training and measured (loss, accuracy) to ``run``."""
    name = next(key for key in run if key.endswith("_loss") and key != "train_loss")[:-5]
    run["lr"].append(lr)
    for key, value in zip(("train_loss", "train_acc", f"{name}_loss", f"{name}_acc"),
                          (*train, *measured)):
        run[key].append(round(value, 6))
    if log:
        log(f"seed {run['seed']} epoch {len(run['lr']):2d}: train loss {train[0]:.4f} acc "
            f"{train[1]:.2f}% | {name} loss {measured[0]:.4f} acc {measured[1]:.2f}%")


def fit(recipe: Recipe, data, seed: int, *, epochs: int | None = None, eval_set: str = "test",
        progress: bool = True, log: Callable[[str], None] | None = print):
    """Train one fresh network of ``recipe`` from ``seed``; return ``(network, run)``: the
    network that was measured and its per-epoch history.

    ``data`` is ``load_mnist``'s ``(train_x, train_y, test_x, test_y)``; ``eval_set`` says what
    its last two hold (``"validation"`` for the held-out split). The seed fixes the initial
    weights, the batch order and the augmentation, so the same seed repeats the same run. The
    measured set is only measured, never used to choose anything.
    """
    train_x, train_y, test_x, test_y = data
    epochs = epochs or recipe.epochs
    generator = seed_everything(seed)
    net = recipe.model().to(train_x.device)
    optimizer, scheduler = recipe.optimizer_and_scheduler(net, len(train_x), epochs)
    average, measured = weight_average(recipe, net), net
    run = new_run(seed, eval_set)
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        lr = optimizer.param_groups[0]["lr"]
        averaging = recipe.averages_in(epoch, epochs)  # never without an average
        train = train_one_epoch(
            net, train_x, train_y, optimizer, batch_size=recipe.batch_size, generator=generator,
            augment=recipe.augment_in(epoch, epochs), label_smoothing=recipe.label_smoothing,
            batch_scheduler=scheduler if recipe.scheduler_per_batch else None,
            average=average if averaging else None, epoch=epoch, progress=progress)
        measured = average.net if averaging else net
        if scheduler is not None and not recipe.scheduler_per_batch:
            scheduler.step()
        if recipe.bn_stats_images:
            recompute_batchnorm_stats(measured, train_x, recipe.bn_stats_images)
        record_epoch(run, lr, train, evaluate(measured, test_x, test_y), log)
    run["wall_s"] = round(time.perf_counter() - start, 2)
    return measured, run


def seed_list(text: str) -> list[int]:
    """``"1,2,3"`` -> ``[1, 2, 3]``: the ``--seeds`` argument of the command-line tools."""
    return [int(v) for v in text.split(",")]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# --------------------------------------------------------------------------- teaching aids
def model_summary(model: nn.Module, input_size=(1, 28, 28)) -> str:
    """torchsummary's table, computed on a CPU copy so it runs anywhere and leaves the model
    (weights, BatchNorm statistics, train/eval mode) and the global RNG exactly as they were."""
    from torchsummary import summary

    probe = copy.deepcopy(model).cpu()
    buffer = io.StringIO()
    with torch.random.fork_rng(devices=[]), contextlib.redirect_stdout(buffer):
        summary(probe, input_size, device="cpu")
    return buffer.getvalue()


def receptive_field_table(model: nn.Module, input_size=(1, 28, 28)):
    """Output shape, receptive field and jump after each conv / pool layer, in forward order.

    Rules: RF_out = RF_in + (k - 1) * dilation * jump_in; jump_out = jump_in * stride;
    a global pool sees its whole input.
    """
    rows, handles = [], []
    state = {"rf": 1, "jump": 1}

    def hook(module, inputs, output):
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            k, s, d = (_pair(getattr(module, a, 1))[0]
                       for a in ("kernel_size", "stride", "dilation"))
        elif isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
            k = inputs[0].shape[-1] - output.shape[-1] + 1
            s = d = 1
        else:
            return
        state["rf"] += (k - 1) * d * state["jump"]
        state["jump"] *= s
        rows.append({"layer": name_of[module], "type": type(module).__name__,
                     "output": tuple(output.shape[1:]), "rf": state["rf"],
                     "jump": state["jump"]})

    probe = copy.deepcopy(model).cpu().eval()
    name_of = {m: n for n, m in probe.named_modules()}
    for module in probe.modules():
        handles.append(module.register_forward_hook(hook))
    with torch.no_grad():
        probe(torch.zeros(1, *input_size))
    for handle in handles:
        handle.remove()
    return rows


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


def format_rf_table(rows) -> str:
    lines = [f"{'layer':<14}{'type':<20}{'output (C,H,W)':<18}{'RF':>4}{'jump':>6}"]
    for r in rows:
        shape = "x".join(str(v) for v in r["output"])
        lines.append(f"{r['layer']:<14}{r['type']:<20}{shape:<18}{r['rf']:>4}{r['jump']:>6}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- plots
def pyplot():
    """matplotlib.pyplot, drawing to files only outside a notebook."""
    import matplotlib

    if "ipykernel" not in sys.modules and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")  # headless runs and tests: draw to files only
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path):
    """Write ``fig`` to ``path`` and close it: a notebook shows the returned figure once."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    pyplot().close(fig)  # shown once: a notebook displays the returned figure
    return fig


def plot_history(results: dict, path: Path):
    """Training and test (or validation) loss and accuracy per epoch, one line per seed."""
    plt = pyplot()
    measured = eval_name(results["eval_set"])
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for run in results["runs"]:
        epochs = range(1, len(run["train_loss"]) + 1)
        for ax, key in zip(axes, ("loss", "acc")):
            ax.plot(epochs, run[f"train_{key}"], "--", alpha=0.7, label=f"train s{run['seed']}")
            ax.plot(epochs, run[f"{measured}_{key}"], "-", label=f"{measured} s{run['seed']}")
    axes[0].set(title="loss", xlabel="epoch", yscale="log")
    axes[1].set(title="accuracy (%)", xlabel="epoch")
    if results.get("role") in ("final", "frontier", "yours"):
        axes[1].axhline(99.4, color="k", lw=0.8, ls=":")
        axes[1].set_ylim(98.5, 100)
    axes[1].legend(fontsize=7, ncol=2)
    fig.suptitle(f"Step {results['step']}: {results['title']} ({results['params']:,} params)")
    return save_figure(fig, path)


def _denormalize(x):
    return (x.detach().cpu().squeeze(1) * MNIST_STD + MNIST_MEAN).clamp(0, 1)


def plot_samples(x, y, path: Path, n: int = 32, augment: Augment | None = None, seed: int = 0):
    """A grid of training images (augmented if ``augment`` is given), with their labels."""
    plt = pyplot()
    images = x[:n]
    if augment is not None:
        images = augment_batch(images, augment, torch.Generator().manual_seed(seed))
    fig, axes = plt.subplots(n // 8, 8, figsize=(8, n // 8 * 1.1))
    for ax, img, label in zip(axes.flat, _denormalize(images), y[:n].tolist()):
        ax.imshow(img, cmap="gray_r")
        ax.set_title(str(label), fontsize=8)
        ax.axis("off")
    return save_figure(fig, path)


def plot_misclassified(x, y, preds, path: Path, n: int = 24):
    """The first ``n`` test images the model got wrong: true label -> prediction."""
    plt = pyplot()
    wrong = (preds != y).nonzero().flatten()[:n].cpu()
    cols = 8
    rows = max(1, math.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(8, rows * 1.2))
    for ax in axes.flat:
        ax.axis("off")
    for ax, i in zip(axes.flat, wrong.tolist()):
        ax.imshow(_denormalize(x[i:i + 1])[0], cmap="gray_r")
        ax.set_title(f"{y[i].item()}->{preds[i].item()}", fontsize=8, color="crimson")
    fig.suptitle(f"{(preds != y).sum().item()} misclassified of {len(y)} (true->predicted)")
    return save_figure(fig, path)


def confusion_matrix(y, preds, classes: int = 10) -> torch.Tensor:
    flat = torch.bincount(y.cpu() * classes + preds.cpu(), minlength=classes ** 2)
    return flat.view(classes, classes)


def plot_confusion(y, preds, path: Path):
    plt = pyplot()
    cm = confusion_matrix(y, preds)
    off = cm.clone().fill_diagonal_(0)
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.imshow(off, cmap="Reds")
    for i in range(10):
        for j in range(10):
            ax.text(j, i, str(cm[i, j].item()), ha="center", va="center", fontsize=7,
                    color="gray" if i == j else "black")
    ax.set(xlabel="predicted", ylabel="true", xticks=range(10), yticks=range(10),
           title="confusion matrix (colour: errors only)")
    return save_figure(fig, path)
