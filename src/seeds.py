"""Many seeds of one recipe, three ways: one after another (``utils.fit`` per seed, the
default everywhere: the loop the lesson prints), packed into one network, or side by side.

- ``packed``: the seeds as ``Copies`` of one network, trained by ``utils.train_epochs``, the
  same epochs, step and evaluation as ``utils.fit``; only the batches (``PackedBatches``), the
  loss (``Copies.criterion``) and the tally (``CopiesTally``) keep the copies apart. A speed
  option for a GPU, which has room for every seed at once; its gain there is unmeasured until
  a GPU run measures it, and on a CPU it was measured slower. Copy k starts, shuffles and
  augments as seed k alone; its dropout masks are drawn for all copies together and a grouped
  conv sums in another order, so its digits are not the plain loop's.
- ``side-by-side``: each seed alone in its own process of one thread, ``workers`` at a time
  (CPU only). Two at a time was measured about a quarter faster than one after another on this
  project's 2-core CPU (docs/research_log.md, "Many seeds at once"), but a process of one
  thread sums floating point in another order than one of two: its digits differ from a
  one-after-another run's.

``$MNIST_HOW`` or ``--how`` chooses (``devices.default_how``).
"""
from __future__ import annotations

import copy
import functools
import math
import multiprocessing
import time
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

import devices
import utils

# --------------------------------------------------------------------------- packed: Copies
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
        if x.shape[1] == 1:  # one image for all: every copy sees it (evaluation, precise BN)
            x = x.expand(-1, self.count, -1, -1)
        return self.features(x).view(len(x), self.count, -1)

    @staticmethod
    def criterion(logits, yb, label_smoothing=0.0):
        """The sum over copies of each copy's mean cross-entropy: copy k's weights get the
        gradient of copy k's loss alone, as if it trained by itself."""
        copies = logits.shape[1]
        return F.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="none",
                               label_smoothing=label_smoothing).view(-1, copies).mean(0).sum()

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


# --------------------------------------------------------------------------- packed: the loop
@dataclass
class PackedBatches:
    """``utils.Batches`` of every seed at once: copy k's batch in channel k, shuffled and
    augmented by ``generators[k]`` exactly as a network trained alone with it."""

    x: torch.Tensor
    y: torch.Tensor
    batch_size: int
    generators: list
    augment: utils.Augment | None = None

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __iter__(self):
        for parts in zip(*(utils.Batches(self.x, self.y, self.batch_size, g, self.augment)
                           for g in self.generators)):
            yield torch.cat([xb for xb, _ in parts], 1), torch.stack([yb for _, yb in parts], 1)


class CopiesTally(utils.Tally):
    """``utils.Tally`` per copy: each copy's loss and correct predictions (labels one per copy,
    or one for all when every copy sees the same images)."""

    def __init__(self, count: int, label_smoothing: float = 0.0):
        super().__init__()
        self.count, self.label_smoothing = count, label_smoothing

    def add(self, logits, yb, loss_sum=None):
        """Each copy's summed loss, computed here: in training (``loss_sum`` given, the sum over
        copies) as the criterion counts it, label smoothing included; in evaluation the plain
        cross-entropy, as ``utils.evaluate`` measures one network."""
        yb = yb if yb.ndim == 2 else yb[:, None].expand(-1, self.count)
        smoothing = self.label_smoothing if loss_sum is not None else 0.0
        per_copy = F.cross_entropy(logits.detach().flatten(0, 1), yb.flatten(), reduction="none",
                                   label_smoothing=smoothing)
        super().add(logits, yb, per_copy.view(-1, self.count).sum(0))

    def result(self, epoch=None):
        """Lists, one value per copy: mean loss and accuracy %."""
        losses = torch.stack(self.losses)
        if epoch is not None:
            utils.stop_if_diverged(losses, epoch)
        return ([total / self.seen for total in losses.sum(0).tolist()],
                [100.0 * count / self.seen for count in self.correct.tolist()])


def seeded_copies(recipe, seeds, device) -> tuple[Copies, list[torch.Generator]]:
    """``Copies`` of ``recipe.model``, copy k initialized from ``seeds[k]``, and the generators
    (one per seed) that shuffle and augment each copy's data."""
    generators, models = [], []
    for seed in seeds:
        generators.append(utils.seed_everything(seed))
        models.append(recipe.model())
    return Copies(models).to(device), generators


def fit_packed(recipe, data, seeds, *, epochs=None, eval_set="test", progress=True, log=print):
    """``utils.fit`` for many seeds at once as ``Copies``, through the same
    ``utils.train_epochs``; returns ``(networks, runs)``, one standalone network and one run
    per seed. ``wall_s`` is each seed's share of the time."""
    net, generators = seeded_copies(recipe, seeds, data[0].device)
    batches = functools.partial(PackedBatches, data[0], data[1], recipe.batch_size, generators)
    measured, runs = utils.train_epochs(
        recipe, net, data, batches, seeds, epochs=epochs, eval_set=eval_set,
        criterion=Copies.criterion, progress=progress, log=log,
        tally=functools.partial(CopiesTally, len(seeds), recipe.label_smoothing))
    return [measured.copy(k, recipe.model()) for k in range(len(seeds))], runs


# --------------------------------------------------------------------------- side by side (CPU)
_SIDE_BY_SIDE = None  # (recipe, data, epochs, eval_set): what forked workers inherit


def _fit_alone(seed):
    torch.set_num_threads(1)
    recipe, data, epochs, eval_set = _SIDE_BY_SIDE
    lines = []
    net, run = utils.fit(recipe, data, seed, epochs=epochs, eval_set=eval_set, progress=False,
                         log=lines.append)
    return net.state_dict(), run, lines


def fit_side_by_side(recipe, data, seeds, workers: int, *, epochs=None, eval_set="test",
                     log=print):
    """CPU only: ``utils.fit`` for each seed in forked processes of one thread each,
    ``workers`` at a time; returns ``(networks, runs)``. Each run is its seed's run alone;
    ``wall_s`` is its share of the elapsed time. Logs print once every seed has finished."""
    global _SIDE_BY_SIDE
    if data[0].device.type != "cpu":
        raise ValueError("side-by-side is for a CPU (forked processes cannot share a GPU): "
                         "train the seeds packed there instead")
    _SIDE_BY_SIDE = (recipe, data, epochs, eval_set)
    start = time.perf_counter()
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            finished = pool.map(_fit_alone, seeds, chunksize=1)
    finally:
        _SIDE_BY_SIDE = None
    wall = time.perf_counter() - start
    nets, runs = [], []
    for state, run, lines in finished:
        for line in lines if log else []:
            log(line)
        nets.append(recipe.model())
        nets[-1].load_state_dict(state)
        runs.append(run | {"wall_s": round(wall / len(seeds), 2)})
    return nets, runs


# --------------------------------------------------------------------------- many seeds
def fit_seeds(recipe, data, seeds, how: str, *, workers=2, epochs=None, eval_set="test",
              progress=True, log=print):
    """Train ``seeds`` of ``recipe`` the ``how`` way; return ``(networks, runs)``."""
    if how == "packed":
        return fit_packed(recipe, data, seeds, epochs=epochs, eval_set=eval_set,
                          progress=progress, log=log)
    if how == "side-by-side":
        return fit_side_by_side(recipe, data, seeds, workers, epochs=epochs, eval_set=eval_set,
                                log=log)
    if how != "one-after-another":
        raise ValueError(f"unknown way to train the seeds {how!r}: choose from "
                         f"{', '.join(devices.HOW)}")
    fitted = [utils.fit(recipe, data, seed, epochs=epochs, eval_set=eval_set, progress=progress,
                        log=log) for seed in seeds]
    return [net for net, _ in fitted], [run for _, run in fitted]


def check_run_arguments(epochs, how, workers) -> None:
    """Refuse bad arguments before anything is loaded, trained or written."""
    if epochs is not None and epochs < 1:
        raise ValueError(f"--epochs must be at least 1, not {epochs}")
    if how not in devices.HOW:
        raise ValueError(f"unknown way to train the seeds {how!r}: choose from "
                         f"{', '.join(devices.HOW)}")
    if workers < 2:
        raise ValueError(f"--workers must be at least 2 (seeds side by side), not {workers}")
    if how == "side-by-side" and "fork" not in multiprocessing.get_all_start_methods():
        raise ValueError("side-by-side needs forked worker processes, which this platform does "
                         "not have: use --how one-after-another")


def seed_list(text: str) -> list[int]:
    """``"1,2,3"`` -> ``[1, 2, 3]``: the ``--seeds`` argument of the command-line tools."""
    return [int(v) for v in text.split(",")]
