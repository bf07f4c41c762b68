"""The engine of the series: what a step teaches, in the order it is used, read in one sitting.

Settings; data (MNIST in memory as tensors, the validation split, batches); augmentation (step 5:
a random affine per image, on whole batches; an elastic distortion on top where a recipe asks);
the loop (``train_one_epoch`` and ``evaluate``, every step); what is measured after each epoch
(precise BatchNorm statistics, step 5; an equal average of the weights, step 7); ``fit``, one
seed's whole run of a recipe; the parameter count. A recipe (``steps.Recipe``) says what to
train; many seeds are trained by ``seeds.py``, results files written by ``records.py``, figures
drawn by ``plots.py``, the device chosen by ``devices.py``.
"""
from __future__ import annotations

import functools
import math
import os
import random
import sys
import time
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

import history
import mnist_files
from mnist_files import REPO_ROOT  # noqa: F401 (the repository's root, every tool's anchor)

QUICK_ENV = "MNIST_QUICK"
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
QUICK_TRAIN_SIZE, QUICK_TEST_SIZE, QUICK_EPOCHS, QUICK_SEEDS = 2048, 1024, 1, 2
VALIDATION_SIZE = 10_000


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite; the message names the epoch and batch."""


# --------------------------------------------------------------------------- settings
def is_quick() -> bool:
    """Quick mode (``MNIST_QUICK=1``): a small subset and one epoch, for tests and smoke runs."""
    return os.environ.get(QUICK_ENV, "").strip().lower() not in ("", "0", "false", "no")


def seed_everything(seed: int) -> torch.Generator:
    """Seed python, numpy and torch (CPU and CUDA) and ask cuDNN for deterministic kernels;
    return the CPU generator for data order and augmentation, so one seed fixes the run.

    What repeats: a seed repeats its run on the same machine with the same torch version.
    Elsewhere it does not, to the digit: a GPU draws dropout masks from its own generator, and
    another GPU or CPU may sum floating point in another order (``fingerprints.kernels_fingerprint``
    tells such machines apart, as far as a few training steps can)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


# --------------------------------------------------------------------------- data
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
    raw = mnist_files.raw_folder()

    def images(name):
        return torch.from_numpy(mnist_files.read_idx(raw / name, 16).reshape(-1, 1, 28, 28).copy())

    def labels(name):
        return torch.from_numpy(mnist_files.read_idx(raw / name, 8).astype(np.int64))

    train = images("train-images-idx3-ubyte"), labels("train-labels-idx1-ubyte")
    if validation:
        cut = len(train[0]) - VALIDATION_SIZE
        held_out = train[0][cut:], train[1][cut:]
        train = train[0][:cut], train[1][:cut]
    else:
        held_out = images("t10k-images-idx3-ubyte"), labels("t10k-labels-idx1-ubyte")
    out = []
    for x, y, quick_size in [(*train, QUICK_TRAIN_SIZE), (*held_out, QUICK_TEST_SIZE)]:
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


@dataclass
class Batches:
    """One epoch of training batches: a new order from ``generator`` each pass, each batch
    augmented by ``augment`` with numbers from the same generator (so the seed fixes both)."""

    x: torch.Tensor
    y: torch.Tensor
    batch_size: int
    generator: torch.Generator | None = None
    augment: Augment | None = None

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __iter__(self):
        for xb, yb in iterate_batches(self.x, self.y, self.batch_size, self.generator):
            if self.augment is not None:
                xb = augment_batch(xb, self.augment, self.generator)
            yield xb, yb


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

    def __repr__(self):  # the elastic fields only when set (recorded fingerprints hash this)
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
def train_one_epoch(model, batches, optimizer, *, criterion=F.cross_entropy, schedule=None,
                    average=None, tally=None, epoch=1, progress=True):
    """One pass over ``batches`` (``Batches``); returns ``(mean loss, accuracy %)``. ``schedule``
    (OneCycle) steps after every batch, and ``average`` (an ``AveragedModel``) takes in the new
    weights. ``criterion`` and ``tally`` are the loss and the counting (``seeds.py`` gives
    packed copies their own)."""
    model.train()
    tally = tally or Tally()
    for xb, yb in tqdm(batches, desc=f"epoch {epoch:2d}", disable=not progress, mininterval=10,
                       ascii=True, ncols=100, file=sys.stdout):
        logits = model(xb)
        loss = criterion(logits, yb)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if schedule is not None:
            schedule.step()
        if average is not None:
            average.update_parameters(model)
        tally.add(logits, yb, loss.detach() * len(yb))
    return tally.result(epoch)


@torch.no_grad()
def evaluate(model, x, y, batch_size: int = 2048, tally=None):
    """Mean loss and accuracy % on ``(x, y)`` in eval mode: nothing learns, dropout is off and
    BatchNorm uses its stored statistics."""
    model.eval()
    tally = tally or Tally()
    for xb, yb in iterate_batches(x, y, batch_size):
        tally.add(model(xb), yb)
    return tally.result()


class Tally:
    """Summed loss and correct predictions, kept on the device and read once at the end, so a
    GPU is not stopped after every batch. Accuracies are exact counts divided in Python: a
    float32 99.4 would read 99.399998."""

    def __init__(self):
        self.losses, self.correct, self.seen = [], 0, 0

    def add(self, logits, yb, loss_sum=None):
        """One batch: its logits, labels and summed loss (cross-entropy if not given)."""
        if loss_sum is None:
            loss_sum = F.cross_entropy(logits, yb, reduction="sum")
        self.losses.append(loss_sum)
        self.correct = self.correct + (logits.argmax(-1) == yb).sum(0)
        self.seen += len(yb)

    def result(self, epoch=None):
        """``(mean loss, accuracy %)``; in training (``epoch`` given) a NaN or infinite loss
        raises ``TrainingDiverged``, naming the epoch and the batch."""
        losses = torch.stack(self.losses)
        if epoch is not None:
            stop_if_diverged(losses, epoch)
        return losses.sum().item() / self.seen, 100.0 * int(self.correct) / self.seen


def stop_if_diverged(losses: torch.Tensor, epoch: int) -> None:
    """``TrainingDiverged`` at the first batch whose loss (one per batch, or per batch and
    packed copy) is NaN or infinite."""
    bad = (~torch.isfinite(losses)).nonzero()
    if len(bad):
        batch, *copy = bad[0].tolist()
        raise TrainingDiverged(
            f"loss became {losses[tuple(bad[0])].item()} in epoch {epoch}, batch {batch + 1} of "
            f"{len(losses)}{f' (copy {copy[0] + 1})' if copy else ''}: lower the learning rate "
            "or check the model's last layer.")


# --------------------------------------------------------------------------- what is measured
def recompute_batchnorm_stats(model, x, images: int = 10_000, batch_size: int = 1000):
    """Replace every BatchNorm's running mean/variance by plain averages over the first
    ``images`` of ``x`` (clean training images, dropout off): "precise BN", step 5.

    During training the running averages follow augmented, dropout-noised batches and weight
    the last few most, so the statistics the network is tested with drift from epoch to epoch.
    Training itself never reads them (it normalizes with batch statistics), so this changes
    only what evaluation sees. (torch's ``swa_utils.update_bn`` does the same but leaves dropout
    on, so its statistics would follow dropout-noised activations.)"""
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


# --------------------------------------------------------------------------- one seed's run
def fit(recipe, data, seed: int, *, epochs: int | None = None, eval_set: str = "test",
        progress: bool = True, log=print):
    """Train one fresh network of ``recipe`` (a ``steps.Recipe``) from ``seed``; return
    ``(network, run)``: the network that was measured and its per-epoch history.

    ``data`` is ``load_mnist``'s ``(train_x, train_y, test_x, test_y)``; ``eval_set`` says what
    its last two hold (``"validation"`` for the held-out split). The seed fixes the initial
    weights, the batch order and the augmentation, so the same seed repeats the same run. The
    measured set is only measured, never used to choose anything.
    """
    generator = seed_everything(seed)
    net = recipe.model().to(data[0].device)
    batches = functools.partial(Batches, data[0], data[1], recipe.batch_size, generator)
    measured, (run,) = train_epochs(recipe, net, data, batches, [seed], epochs=epochs,
                                    eval_set=eval_set, progress=progress, log=log)
    return measured, run


def train_epochs(recipe, net, data, batches, seeds, *, epochs=None, eval_set="test",
                 criterion=F.cross_entropy, tally=Tally, progress=True, log=print):
    """The epochs of ``recipe`` on ``net``, for ``fit`` and for packed seeds alike: each epoch
    trains on ``batches(augment=...)`` (a ``Batches`` maker) with that epoch's augmentation,
    steps a per-epoch schedule, updates what is measured (precise BN, the average of the
    weights) and measures it. ``seeds`` names the run of each network ``net`` holds (one, or one
    per packed copy, whose ``criterion`` and ``tally`` class keep them apart). Returns the
    measured network and one run per seed."""
    train_x, _, test_x, test_y = data
    epochs = epochs or recipe.epochs
    optimizer, scheduler = recipe.optimizer_and_scheduler(net, len(train_x), epochs)
    per_batch = scheduler if recipe.scheduler_per_batch else None
    if recipe.label_smoothing:
        criterion = functools.partial(criterion, label_smoothing=recipe.label_smoothing)
    average, measured = recipe.weight_average(net), net
    runs = [history.new_run(seed, eval_set) for seed in seeds]
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        lr = optimizer.param_groups[0]["lr"]
        averaging = average is not None and recipe.averages_in(epoch, epochs)
        train = train_one_epoch(
            net, batches(augment=recipe.augment_in(epoch, epochs)), optimizer,
            criterion=criterion, schedule=per_batch, average=average if averaging else None,
            tally=tally(), epoch=epoch, progress=progress)
        measured = average.module if averaging else net
        if scheduler is not None and per_batch is None:
            scheduler.step()
        if recipe.bn_stats_images:
            recompute_batchnorm_stats(measured, train_x, recipe.bn_stats_images)
        tested = evaluate(measured, test_x, test_y, tally=tally())
        for run, *values in zip(runs, *map(per_seed, (*train, *tested))):
            history.record_epoch(run, lr, values[:2], values[2:], log)
    for run in runs:  # each seed's share of the time
        run["wall_s"] = round((time.perf_counter() - start) / len(runs), 2)
    return measured, runs


def per_seed(value) -> list:
    """A loss or accuracy as a list with one value per seed: one network's as a one-item list,
    packed copies' list as it is."""
    return value if isinstance(value, list) else [value]


def count_parameters(model: nn.Module) -> int:
    """Every weight the network holds: trainable or frozen parameters alike."""
    return sum(p.numel() for p in model.parameters())
