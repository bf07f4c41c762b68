"""The training engine every notebook and ``src/train.py`` share.

Read top to bottom: settings (data root, quick mode, device, seeding), data (loading,
checking, batching), augmentation, many seeds as one network (``Copies``), the train/test
loops, the whole run of a recipe, teaching aids (summary, receptive field), plots, and results I/O.

Where to change things:
- the data root: the environment variable ``MNIST_DATA_DIR`` (``data_root``);
- the augmentation: ``augment_batch`` (and each step's ``Recipe.augment`` in ``steps.py``;
  ``Recipe.clean_last_epochs`` leaves it off for the last epochs);
- the optimizer and scheduler: each step's ``Recipe`` in ``steps.py``;
- what is measured: ``Recipe.bn_stats_images`` (precise BatchNorm statistics) and
  ``Recipe.average_decay`` (a moving average of the weights, ``WeightAverage``).
"""
from __future__ import annotations

import contextlib
import copy
import datetime as dt
import hashlib
import io
import json
import math
import multiprocessing
import os
import random
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
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


class ProtectedOutputError(ValueError):
    """A quick run was pointed at a folder that holds recorded results."""


# --------------------------------------------------------------------------- settings
def is_quick() -> bool:
    """Quick mode (``MNIST_QUICK=1``): a small subset and one epoch, for tests and smoke runs."""
    return os.environ.get(QUICK_ENV, "").strip().lower() not in ("", "0", "false", "no")


def data_root() -> Path:
    """Folder that holds ``MNIST/raw``: ``$MNIST_DATA_DIR``, else ``data/`` in the repo."""
    return Path(os.environ.get(DATA_ENV) or REPO_ROOT / "data").expanduser().resolve()


def get_device(name: str | None = None) -> torch.device:
    """CUDA, then Apple MPS, then CPU, unless ``name`` or ``$MNIST_DEVICE`` says otherwise."""
    name = name or os.environ.get(DEVICE_ENV)
    if name:
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch (CPU and CUDA); return the generator for data order and
    augmentation, so one seed fixes the whole run."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- data
def _check_raw_files(raw: Path) -> None:
    missing = [name for name in MNIST_FILES if not (raw / name).is_file()]
    if missing:
        raise MnistDataError(
            f"MNIST is not in {raw} (missing: {', '.join(missing)}) and could not be downloaded.\n"
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


def _download(root: Path) -> None:
    """Let torchvision fetch the files when online; stay quiet and fail fast when offline."""
    from torchvision.datasets import MNIST

    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            for train in (True, False):
                MNIST(root, train=train, download=True)
    except Exception:  # offline or blocked: _check_raw_files explains what is missing
        pass


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
    if not all((raw / name).is_file() for name in MNIST_FILES):
        _download(data_root())
    _check_raw_files(raw)

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
    and a scale range. Defaults: the course's RandomRotation(7)."""

    degrees: float = 7.0
    translate: float = 0.0
    scale: tuple[float, float] = (1.0, 1.0)


_BACKGROUND = (0.0 - MNIST_MEAN) / MNIST_STD  # a black pixel after normalization


def augment_batch(x: torch.Tensor, aug: Augment, generator: torch.Generator) -> torch.Tensor:
    """Apply one random affine per image to a whole batch at once (affine_grid + grid_sample).

    Random numbers come from ``generator`` (on the CPU, so runs repeat on any device); the
    area shifted in is filled with the normalized black background, as PIL's fill=0 would be.
    """
    n = x.shape[0]
    u = torch.rand(n, 4, generator=generator) * 2 - 1  # uniform in [-1, 1)
    angle = u[:, 0] * math.radians(aug.degrees)
    scale = aug.scale[0] + (u[:, 1] + 1) / 2 * (aug.scale[1] - aug.scale[0])
    shift = u[:, 2:] * aug.translate * 2  # grid units: the image spans [-1, 1]
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1),
                         torch.stack([sin, cos, shift[:, 1]], 1)], 1).to(x.device, x.dtype)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x - _BACKGROUND, grid, align_corners=False) + _BACKGROUND


# --------------------------------------------------------------------------- many seeds at once
class Copies(nn.Module):
    """K independently initialized networks trained as one network. Every conv becomes a
    grouped conv (``groups=K``) and every BatchNorm holds K times the channels, so copy k only
    ever sees channel k of the input, its own weights and its own batch statistics: the copies
    never mix. Input ``(B, K, H, W)``, output ``(B, K, classes)``. One pass runs all K, which
    keeps a GPU busy where one tiny network would leave it idle.

    Works for an ``nn.Sequential``, or a network whose layers sit in one in ``.features`` (every
    model in ``model.py``), built from Conv2d, BatchNorm2d, ReLU, Dropout, pooling and Flatten.
    """

    def __init__(self, models):
        super().__init__()
        self.count = len(models)
        self.features = _pack([getattr(m, "features", m) for m in models])

    def forward(self, x):
        return self.features(x).view(len(x), self.count, -1)

    def copy(self, k: int, into: nn.Module) -> nn.Module:
        """Copy ``k`` as a standalone network: ``into`` (a fresh model of the same class)
        receives its weights and BatchNorm statistics."""
        with torch.no_grad():
            _unpack(self.features, getattr(into, "features", into), k)
        return into.to(next(self.parameters()).device)


_STATELESS = (nn.ReLU, nn.SiLU, nn.Dropout, nn.Dropout2d, nn.MaxPool2d, nn.AvgPool2d,
              nn.AdaptiveAvgPool2d, nn.Flatten, nn.Identity)


def _pack(layers):
    """One layer of ``Copies`` from the same layer of each of the K networks."""
    first, k = layers[0], len(layers)
    if isinstance(first, nn.Sequential):
        return nn.Sequential(*[_pack(list(group)) for group in zip(*layers)])
    if isinstance(first, _STATELESS):
        return copy.deepcopy(first)
    if isinstance(first, nn.Conv2d):
        packed = nn.Conv2d(k * first.in_channels, k * first.out_channels, first.kernel_size,
                           stride=first.stride, padding=first.padding, dilation=first.dilation,
                           groups=k * first.groups, bias=first.bias is not None)
    elif isinstance(first, nn.BatchNorm2d):
        packed = nn.BatchNorm2d(k * first.num_features, eps=first.eps, momentum=first.momentum)
    else:
        raise TypeError(f"Copies cannot pack a {type(first).__name__}: use Conv2d, BatchNorm2d "
                        "and stateless layers, or train the seeds one at a time")
    with torch.no_grad():
        for name, tensor in [*packed.named_parameters(), *packed.named_buffers()]:
            parts = [getattr(layer, name) for layer in layers]
            tensor.copy_(parts[0] if tensor.ndim == 0 else torch.cat(parts))
    return packed


def _unpack(packed, target, k):
    if isinstance(target, nn.Sequential):
        for p, t in zip(packed, target):
            _unpack(p, t, k)
        return
    for name, tensor in [*target.named_parameters(), *target.named_buffers()]:
        source = getattr(packed, name)  # copy k's slice; a counter (0-dim) is shared
        tensor.copy_(source if tensor.ndim == 0 else source[k * len(tensor):(k + 1) * len(tensor)])


# --------------------------------------------------------------------------- train / test
class WeightAverage:
    """An exponential moving average of a network's weights and BatchNorm statistics, kept in
    a copy of the network (``.net``) that is what gets evaluated.

    SGD's last steps leave the weights wherever the last batches pushed them; the average
    smooths that noise away without changing the training at all. The n-th update uses the
    decay ``min(decay, n / (9 + n))``, so the average is not stuck near the initial weights."""

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


def train_one_epoch(model, x, y, optimizer, *, batch_size, generator, augment=None,
                    batch_scheduler=None, label_smoothing=0.0, epoch=1, progress=True,
                    average: WeightAverage | None = None):
    """One pass over ``(x, y)`` in a new shuffled order; returns ``(mean loss, accuracy %)``.

    For ``Copies`` of K networks pass K generators: copy k is shuffled and augmented by
    generator k exactly as a network trained alone with it, and loss and accuracy come back as
    lists, one per copy. ``average``, if given, is updated after every optimizer step. Loss and
    accuracy are summed on the device and read once per progress update, so a GPU is not
    stopped after every batch. A NaN/inf loss raises ``TrainingDiverged``.
    """
    generators = generator if isinstance(generator, (list, tuple)) else [generator]
    copies = len(generators)
    model.train()
    steps = math.ceil(len(x) / batch_size)
    bar = tqdm(total=steps, desc=f"epoch {epoch:2d}", disable=not progress, leave=True,
               mininterval=10, ascii=True, dynamic_ncols=False, ncols=100, file=sys.stdout)
    losses = torch.zeros(steps, copies, device=x.device)
    correct = torch.zeros(copies, device=x.device, dtype=torch.long)
    seen = 0
    batches = zip(*(iterate_batches(x, y, batch_size, g) for g in generators))
    for i, parts in enumerate(batches):
        if augment is not None:
            parts = [(augment_batch(xb, augment, g), yb) for (xb, yb), g in zip(parts, generators)]
        xb = torch.cat([xb for xb, _ in parts], 1)  # copy k's images in channel k
        yb = torch.stack([yb for _, yb in parts], 1)
        logits = model(xb).view(len(yb), copies, -1)
        loss = F.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="none",
                               label_smoothing=label_smoothing).view(-1, copies).mean(0)
        optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()  # copy k's weights get the gradient of copy k's loss alone
        optimizer.step()
        if batch_scheduler is not None:
            batch_scheduler.step()
        if average is not None:
            average.update()
        losses[i] = loss.detach() * len(yb)
        correct += (logits.argmax(-1) == yb).sum(0)
        seen += len(yb)
        if progress and (bar.update(1) or i + 1 == steps):
            bar.set_postfix_str(f"loss={losses[:i + 1].sum().item() / seen / copies:.4f} "
                                f"acc={100 * correct.sum().item() / seen / copies:.2f}%",
                                refresh=False)
    bar.close()
    bad = (~torch.isfinite(losses)).nonzero()
    if len(bad):
        batch, k = bad[0].tolist()
        raise TrainingDiverged(
            f"loss became {losses[batch, k].item()} in epoch {epoch}, batch {batch + 1} of {steps}"
            f"{f' (copy {k + 1})' if copies > 1 else ''}: lower the learning rate or check the"
            " model's last layer.")
    # Accuracy from exact counts in Python floats: a float32 99.4 reads as 99.399998.
    loss, acc = (losses.sum(0) / seen).tolist(), [100.0 * c / seen for c in correct.tolist()]
    return (loss, acc) if isinstance(generator, (list, tuple)) else (loss[0], acc[0])


@torch.no_grad()
def evaluate(model, x, y, batch_size: int = 2048, return_predictions: bool = False):
    """Mean loss and accuracy % on ``(x, y)`` in eval mode (and the predictions, if asked).
    For ``Copies``, lists with one value per copy; every copy sees the same images."""
    model.eval()
    copies = model.count if isinstance(model, Copies) else 1
    loss = torch.zeros(copies, device=x.device)
    preds = []
    for xb, yb in iterate_batches(x, y, batch_size):
        logits = model(xb.expand(-1, copies, -1, -1)).view(len(yb), copies, -1)
        loss += F.cross_entropy(logits.flatten(0, 1), yb.repeat_interleave(copies),
                                reduction="none").view(-1, copies).sum(0)
        preds.append(logits.argmax(-1))
    preds = torch.cat(preds)
    losses = (loss / len(x)).tolist()
    accs = [100.0 * c / len(x) for c in (preds == y[:, None]).sum(0).tolist()]
    if not isinstance(model, Copies):
        losses, accs, preds = losses[0], accs[0], preds[:, 0]
    return (losses, accs, preds) if return_predictions else (losses, accs)


def recompute_batchnorm_stats(model, x, images: int = 10_000, batch_size: int = 1000):
    """Replace every BatchNorm's running mean/variance by plain averages over the first
    ``images`` of ``x`` (clean training images, dropout off) ("precise BN").

    During training the running averages follow augmented, dropout-noised batches and weight
    the last few most, so the statistics the network is tested with drift from epoch to epoch.
    Training itself never reads them (it normalizes with batch statistics), so this changes
    only what evaluation sees. For ``Copies`` every copy sees the same images."""
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
    copies = model.count if isinstance(model, Copies) else 1
    with torch.no_grad():
        for start in range(0, min(images, len(x)), batch_size):
            model(x[start:start + batch_size].expand(-1, copies, -1, -1))
    for m, momentum in zip(norms, momenta):
        m.momentum = momentum
    for m, training in modes.items():
        m.train(training)


# --------------------------------------------------------------------------- a whole run
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
    label_smoothing: float = 0.0
    bn_stats_images: int = 0  # > 0: recompute BatchNorm statistics after each epoch (precise BN)
    average_decay: float = 0.0  # > 0: evaluate a moving average of the weights (WeightAverage)
    seeds: tuple[int, ...] = (1,)

    def model_class(self) -> str:
        return self.model.__name__


def seeded_copies(recipe: Recipe, seeds, device) -> tuple[Copies, list[torch.Generator]]:
    """``Copies`` of ``recipe.model``, copy k initialized from ``seeds[k]``, and the generators
    (one per seed) that shuffle and augment each copy's data."""
    generators, models = [], []
    for seed in seeds:
        generators.append(seed_everything(seed))
        models.append(recipe.model())
    return Copies(models).to(device), generators


def fit(recipe: Recipe, data, seeds, *, epochs: int | None = None, device=None,
        progress: bool = True, log: Callable[[str], None] | None = print,
        after_epoch: Callable[[Copies, int], None] | None = None, eval_name: str = "test"):
    """Train one fresh model of ``recipe`` per seed, all at once as ``Copies``; return
    ``(models, runs)``, one standalone model and one run per seed.

    Copy k is initialized, shuffled and augmented from seed k exactly as a run of that seed
    alone; only the dropout masks (drawn for all copies together) and the order of
    floating-point sums differ. ``run`` holds the per-epoch history in the results-JSON layout;
    its ``wall_s`` is the seed's share of the shared time. The test set is only measured,
    never used to choose anything. With ``recipe.average_decay`` the network measured (and
    returned) is the moving average of the trained weights, not the trained network itself.
    ``after_epoch(net, epoch)``, if given, sees the measured packed network after each epoch's
    evaluation (``benchmarks/precise_bn.py`` measures it twice).
    ``eval_name`` labels the measured set in the log lines ("val" for a validation split).
    """
    train_x, train_y, test_x, test_y = data
    device = device or train_x.device
    epochs = epochs or recipe.epochs
    net, generators = seeded_copies(recipe, seeds, device)
    optimizer = recipe.optimizer(net.parameters())
    steps_per_epoch = math.ceil(len(train_x) / recipe.batch_size)
    scheduler = recipe.scheduler(optimizer, steps_per_epoch, epochs) if recipe.scheduler else None
    runs = [{"seed": seed, "train_loss": [], "train_acc": [], "test_loss": [], "test_acc": [],
             "lr": []} for seed in seeds]
    average = WeightAverage(net, recipe.average_decay) if recipe.average_decay else None
    evaluated = average.net if average else net
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        lr = optimizer.param_groups[0]["lr"]
        train = train_one_epoch(
            net, train_x, train_y, optimizer, batch_size=recipe.batch_size,
            generator=generators, epoch=epoch, progress=progress, average=average,
            augment=recipe.augment if epoch <= epochs - recipe.clean_last_epochs else None,
            label_smoothing=recipe.label_smoothing,
            batch_scheduler=scheduler if recipe.scheduler_per_batch else None)
        if scheduler is not None and not recipe.scheduler_per_batch:
            scheduler.step()
        if recipe.bn_stats_images:
            recompute_batchnorm_stats(evaluated, train_x, recipe.bn_stats_images)
        test = evaluate(evaluated, test_x, test_y)
        for k, run in enumerate(runs):
            run["lr"].append(lr)
            for key, value in zip(("train_loss", "train_acc", "test_loss", "test_acc"),
                                  (train[0][k], train[1][k], test[0][k], test[1][k])):
                run[key].append(round(value, 6))
            if log:
                log(f"seed {run['seed']} epoch {epoch:2d}: train loss {run['train_loss'][-1]:.4f}"
                    f" acc {run['train_acc'][-1]:.2f}% | {eval_name} loss "
                    f"{run['test_loss'][-1]:.4f} acc {run['test_acc'][-1]:.2f}%")
        if after_epoch:
            after_epoch(evaluated, epoch)
    wall = time.perf_counter() - start
    for run in runs:
        run["wall_s"] = round(wall / len(runs), 2)
    return [evaluated.copy(k, recipe.model()) for k in range(len(seeds))], runs


# (recipe, data, epochs, eval_name): what forked workers inherit, never pickled
_SIDE_BY_SIDE = None


def _fit_alone(seed):
    torch.set_num_threads(1)
    recipe, data, epochs, eval_name = _SIDE_BY_SIDE
    lines = []
    (model,), (run,) = fit(recipe, data, [seed], epochs=epochs, progress=False, log=lines.append,
                           eval_name=eval_name)
    return model.state_dict(), run, lines


def fit_side_by_side(recipe: Recipe, data, seeds, workers: int, *, epochs: int | None = None,
                     log: Callable[[str], None] | None = print, eval_name: str = "test"):
    """CPU only: train each seed alone, ``workers`` seeds at a time in forked processes of one
    thread each; return ``(models, runs)`` as ``fit``. On this 2-core CPU it was the fastest way
    for step 5 and slower than one seed after another for step 6
    (``benchmarks/seeds_at_once.py``; README, "Many seeds at once"). Each run is the run
    of its seed alone; its ``wall_s`` is its share of the elapsed time. Logs print as seeds
    finish."""
    global _SIDE_BY_SIDE
    if data[0].device.type != "cpu":
        raise ValueError("workers > 1 is for a CPU (forked processes cannot share a GPU): "
                         "train the seeds at once there instead (at_once=True)")
    _SIDE_BY_SIDE = (recipe, data, epochs, eval_name)
    start = time.perf_counter()
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            finished = pool.map(_fit_alone, seeds, chunksize=1)
    finally:
        _SIDE_BY_SIDE = None
    wall = time.perf_counter() - start
    models, runs = [], []
    for state, run, lines in finished:
        for line in lines if log else []:
            log(line)
        models.append(recipe.model())
        models[-1].load_state_dict(state)
        runs.append(run | {"wall_s": round(wall / len(seeds), 2)})
    return models, runs


def run_recipe(recipe: Recipe, seeds=None, *, epochs=None, out=None, device=None, data=None,
               validation=False, at_once=True, workers=1, progress=True, log=print):
    """Train ``recipe`` once per seed, write its results JSON, return ``(results, last model,
    data)``. This is what a notebook and ``train.py`` both call. ``data`` reuses tensors from
    ``load_mnist``; with ``validation=True`` the run is measured on held-out training images
    (for design searches) instead of the test set. The seeds train all at once (``Copies``);
    ``at_once=False`` trains them one after another, for comparison or to save memory, and
    with ``workers > 1`` (CPU) that many side by side (``fit_side_by_side``)."""
    if workers > 1 and at_once:
        raise ValueError("workers > 1 trains each seed alone, side by side: pass at_once=False")
    quick = is_quick()
    device = get_device(device) if not isinstance(device, torch.device) else device
    seeds = list(seeds or recipe.seeds)
    if quick:
        seeds = seeds[:QUICK_SEEDS]
        epochs = min(epochs or recipe.epochs, QUICK_EPOCHS)
    epochs = epochs or recipe.epochs
    out = output_dir(out)
    if data is None:
        data = load_mnist(device, validation=validation)
    eval_name = "val" if validation else "test"
    results = {
        "step": recipe.step, "title": recipe.title, "role": recipe.role,
        "model_class": recipe.model_class(), "params": count_parameters(recipe.model()),
        "mode": "quick" if quick else "full", "epochs": epochs,
        "batch_size": recipe.batch_size, "train_size": len(data[0]), "test_size": len(data[2]),
        "eval_set": "validation" if validation else "test",
        "device": device_name(device), "torch_version": torch.__version__,
        "seeds_at_once": len(seeds) if at_once else 1, "workers": workers,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "runs": [],
    }
    if workers > 1:
        models, results["runs"] = fit_side_by_side(recipe, data, seeds, workers, epochs=epochs,
                                                   log=log, eval_name=eval_name)
    else:
        for group in [seeds] if at_once else [[seed] for seed in seeds]:
            models, runs = fit(recipe, data, group, epochs=epochs, device=device,
                               progress=progress, log=log, eval_name=eval_name)
            results["runs"] += runs
    write_results(results, results_path(recipe.step, out))
    return results, models[-1], data


def seed_list(text: str) -> list[int]:
    """``"1,2,3"`` -> ``[1, 2, 3]``: the ``--seeds`` argument of the command-line tools."""
    return [int(v) for v in text.split(",")]


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def summarize_runs(results: dict, last: int = 4) -> dict:
    """Per-seed best and worst-of-last-``last`` test accuracy, and their spread over seeds."""
    best = [max(r["test_acc"]) for r in results["runs"]]
    last_min = [min(r["test_acc"][-last:]) for r in results["runs"]]
    return {
        "seeds": [r["seed"] for r in results["runs"]],
        "best": best, "last_min": last_min,
        "best_mean": float(np.mean(best)), "best_std": float(np.std(best)),
        "last_min_mean": float(np.mean(last_min)), "last_min_std": float(np.std(last_min)),
        "worst_last_min": min(last_min),
    }


def format_results(results: dict, last: int = 4) -> str:
    """The Results table of a notebook: one row per seed, then mean +- std over seeds."""
    s = summarize_runs(results, last)
    lines = [f"step {results['step']} ({results['model_class']}, {results['params']:,} params), "
             f"{results['mode']} mode, {results['epochs']} epochs, {results['eval_set']} set",
             f"{'seed':>4} {'best %':>7} {'epoch':>5} {f'last {last} %':>14} {'wall s':>7}"]
    for run, best, low in zip(results["runs"], s["best"], s["last_min"]):
        tail = run["test_acc"][-last:]
        lines.append(f"{run['seed']:>4} {best:>7.2f} {run['test_acc'].index(best) + 1:>5} "
                     f"{min(tail):>6.2f}-{max(tail):<7.2f} {run['wall_s']:>7.1f}")
    if len(results["runs"]) > 1:
        lines.append(f"mean {s['best_mean']:>7.2f} +- {s['best_std']:.2f}   lowest of last {last}: "
                     f"{s['last_min_mean']:.2f} +- {s['last_min_std']:.2f}, worst seed "
                     f"{s['worst_last_min']:.2f}")
    return "\n".join(lines)


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
def _pyplot():
    import matplotlib

    if "ipykernel" not in sys.modules and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")  # headless runs and tests: draw to files only
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90, bbox_inches="tight")
    _pyplot().close(fig)  # shown once: a notebook displays the returned figure
    return fig


def plot_history(results: dict, path: Path):
    """Train/test loss and accuracy per epoch, one line per seed."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for run in results["runs"]:
        epochs = range(1, len(run["test_acc"]) + 1)
        for ax, key in zip(axes, ("loss", "acc")):
            ax.plot(epochs, run[f"train_{key}"], "--", alpha=0.7, label=f"train s{run['seed']}")
            ax.plot(epochs, run[f"test_{key}"], "-", label=f"test s{run['seed']}")
    axes[0].set(title="loss", xlabel="epoch", yscale="log")
    axes[1].set(title="accuracy (%)", xlabel="epoch")
    if results.get("role") in ("final", "frontier"):
        axes[1].axhline(99.4, color="k", lw=0.8, ls=":")
        axes[1].set_ylim(98.5, 100)
    axes[1].legend(fontsize=7, ncol=2)
    fig.suptitle(f"Step {results['step']}: {results['title']} ({results['params']:,} params)")
    return _save(fig, path)


def _denormalize(x):
    return (x.detach().cpu().squeeze(1) * MNIST_STD + MNIST_MEAN).clamp(0, 1)


def plot_samples(x, y, path: Path, n: int = 32, augment: Augment | None = None, seed: int = 0):
    """A grid of training images (augmented if ``augment`` is given), with their labels."""
    plt = _pyplot()
    images = x[:n]
    if augment is not None:
        images = augment_batch(images, augment, torch.Generator().manual_seed(seed))
    fig, axes = plt.subplots(n // 8, 8, figsize=(8, n // 8 * 1.1))
    for ax, img, label in zip(axes.flat, _denormalize(images), y[:n].tolist()):
        ax.imshow(img, cmap="gray_r")
        ax.set_title(str(label), fontsize=8)
        ax.axis("off")
    return _save(fig, path)


def plot_misclassified(x, y, preds, path: Path, n: int = 24):
    """The first ``n`` test images the model got wrong: true label -> prediction."""
    plt = _pyplot()
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
    return _save(fig, path)


def confusion_matrix(y, preds, classes: int = 10) -> torch.Tensor:
    flat = torch.bincount(y.cpu() * classes + preds.cpu(), minlength=classes ** 2)
    return flat.view(classes, classes)


def plot_confusion(y, preds, path: Path):
    plt = _pyplot()
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
    return _save(fig, path)


def save_step_plots(results: dict, model, test_x, test_y, out: Path) -> dict:
    """The per-step figures: curves for every seed, and the last model's errors."""
    step = results["step"]
    _, _, preds = evaluate(model, test_x, test_y, return_predictions=True)
    return {
        "curves": plot_history(results, plot_path(step, "curves", out)),
        "misclassified": plot_misclassified(test_x, test_y, preds,
                                            plot_path(step, "misclassified", out)),
        "confusion": plot_confusion(test_y, preds, plot_path(step, "confusion", out)),
    }


# --------------------------------------------------------------------------- results I/O
def output_dir(out=None) -> Path:
    """Where a run writes: ``out``, else ``Data/`` for full runs and a fresh temporary folder
    in quick mode. Quick runs are refused inside ``Data/`` and ``notebooks/``, so a test can
    never overwrite the recorded results."""
    if out is None:
        out = tempfile.mkdtemp(prefix="mnist_quick_") if is_quick() else REPO_ROOT / "Data"
    out = Path(out).expanduser().resolve()
    if is_quick():
        for protected in (REPO_ROOT / "Data", REPO_ROOT / "notebooks"):
            if out == protected or protected in out.parents:
                raise ProtectedOutputError(
                    f"quick mode ({QUICK_ENV}=1) must not write into {protected}: give another "
                    f"--out folder or unset {QUICK_ENV}.")
    return out


def results_path(step: int, out: Path) -> Path:
    return Path(out) / "results" / f"step{step}.json"


def plot_path(step: int, name: str, out: Path) -> Path:
    return Path(out) / "plots" / f"step{step}_{name}.png"


def write_results(results: dict, path: Path) -> Path:
    """Write JSON atomically: a temp file in the same folder, then rename, so a crash never
    leaves a half-written results file in place of a good one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(results, f, indent=1)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates it private; results are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


REQUIRED_KEYS = ("step", "title", "role", "model_class", "params", "mode", "epochs",
                 "batch_size", "train_size", "test_size", "eval_set", "device", "torch_version",
                 "created", "runs")
RUN_KEYS = ("seed", "train_loss", "train_acc", "test_loss", "test_acc", "lr", "wall_s")


def read_results(path: Path) -> dict:
    """Load a results JSON and check its schema; errors name the file and what is missing."""
    path = Path(path)
    try:
        results = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist: run `python src/train.py --step N` "
                                f"(full mode) to create it.") from None
    except json.JSONDecodeError as e:
        message = f"{path} is not valid JSON ({e}); re-create it with src/train.py."
        raise ValueError(message) from None
    missing = [k for k in REQUIRED_KEYS if k not in results]
    missing += [f"runs[{i}].{k}" for i, r in enumerate(results.get("runs", [])) for k in RUN_KEYS
                if k not in r]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}; re-create it with src/train.py.")
    return results


def results_table_markdown(results_dir: Path | None = None, last: int = 4) -> str:
    """The README's results table, built from every ``step<N>.json`` in ``results_dir``."""
    results_dir = Path(results_dir or REPO_ROOT / "Data" / "results")
    paths = sorted(results_dir.glob("step*.json"), key=lambda p: int(p.stem[4:]))
    rows = ["| Step | Model | Params | Epochs | Seeds | Best test acc % | "
            f"Lowest of last {last} epochs % | Train time per seed |",
            "|---|---|---:|---:|---:|---:|---:|---:|"]
    for path in paths:
        r = read_results(path)
        s = summarize_runs(r, last)
        if len(s["seeds"]) > 1:
            best = f"{s['best_mean']:.2f} ± {s['best_std']:.2f}"
            low = (f"{s['last_min_mean']:.2f} ± {s['last_min_std']:.2f} "
                   f"(worst {s['worst_last_min']:.2f})")
        else:
            best, low = f"{s['best'][0]:.2f}", f"{s['last_min'][0]:.2f}"
        minutes = np.mean([run["wall_s"] for run in r["runs"]]) / 60
        rows.append(f"| {r['step']}. {r['title']} | `{r['model_class']}` | {r['params']:,} | "
                    f"{r['epochs']} | {len(s['seeds'])} | {best} | {low} | "
                    f"{minutes:.1f} min ({r['device']}) |")
    return "\n".join(rows)
