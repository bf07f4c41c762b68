"""Many seeds of one recipe: packed into one network, one after another, or side by side.

The lesson is one network (``utils.fit``); a claim about a recipe needs several seeds. Three
ways to train them give the same runs, seed for seed, for a network without dropout (tests
hold them to it; with dropout, packing draws other dropout masks):

- ``one-after-another``: ``utils.fit`` once per seed. The default on a CPU: packing was
  measured slower there, and two seeds side by side faster but with other digits (below).
- ``packed``: the seeds as ``Copies`` of one network, trained by one loop: a GPU has room for
  all of them at once. The default on a GPU.
- ``side-by-side``: each seed alone in its own process of one thread, ``workers`` at a time
  (CPU only). Two at a time was measured about a quarter faster than one after another on
  this project's 2-core CPU (docs/research_log.md, "Many seeds at once"), but a process of one
  thread sums floating point in another order than one of two, so its runs do not repeat the
  records' digits: the default keeps the way that repeats them.

``$MNIST_HOW`` overrides the default: ``tools/run_notebook.py`` sets it so that re-recording a
step trains its seeds the way its record did, and can repeat it. ``run_recipe`` trains a
recipe's seeds one of these ways and writes its results file.
"""
from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import math
import multiprocessing
import os
import sys
import time
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from tqdm import tqdm

import records
import utils

HOW = ("one-after-another", "packed", "side-by-side")
HOW_ENV = "MNIST_HOW"


def default_how(device: torch.device) -> str:
    """``$MNIST_HOW`` if set, else packed on a GPU (measured nowhere yet: a GPU has room for
    every seed at once) and one after another elsewhere (packing was measured slower on a CPU;
    side by side faster, but its digits differ from the records')."""
    how = os.environ.get(HOW_ENV)
    if how and how not in HOW:
        raise ValueError(f"${HOW_ENV}={how!r} is not a way to train seeds: use one of "
                         f"{', '.join(HOW)}, or unset it")
    return how or ("packed" if device.type == "cuda" else "one-after-another")


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
def seeded_copies(recipe, seeds, device) -> tuple[Copies, list[torch.Generator]]:
    """``Copies`` of ``recipe.model``, copy k initialized from ``seeds[k]``, and the generators
    (one per seed) that shuffle and augment each copy's data."""
    generators, models = [], []
    for seed in seeds:
        generators.append(utils.seed_everything(seed))
        models.append(recipe.model())
    return Copies(models).to(device), generators


def train_packed_epoch(net: Copies, x, y, optimizer, *, batch_size, generators, augment=None,
                       batch_scheduler=None, label_smoothing=0.0, average=None, epoch=1,
                       progress=True):
    """``utils.train_one_epoch`` for ``Copies``: copy k is shuffled and augmented by
    ``generators[k]`` exactly as a network trained alone with it; returns lists (mean loss,
    accuracy %), one per copy."""
    copies = len(generators)
    net.train()
    steps = math.ceil(len(x) / batch_size)
    bar = tqdm(total=steps, desc=f"epoch {epoch:2d}", disable=not progress, mininterval=10,
               ascii=True, ncols=100, file=sys.stdout)
    losses = torch.zeros(steps, copies, device=x.device)
    correct = torch.zeros(copies, device=x.device, dtype=torch.long)
    seen = 0
    for i, parts in enumerate(zip(*(utils.iterate_batches(x, y, batch_size, g)
                                    for g in generators))):
        if augment is not None:
            parts = [(utils.augment_batch(xb, augment, g), yb)
                     for (xb, yb), g in zip(parts, generators)]
        xb = torch.cat([xb for xb, _ in parts], 1)  # copy k's images in channel k
        yb = torch.stack([yb for _, yb in parts], 1)
        logits = net(xb)
        loss = F.cross_entropy(logits.flatten(0, 1), yb.flatten(), reduction="none",
                               label_smoothing=label_smoothing).view(-1, copies).mean(0)
        optimizer.zero_grad(set_to_none=True)
        loss.sum().backward()  # copy k's weights get the gradient of copy k's loss alone
        utils.take_step(optimizer, batch_scheduler, average)
        losses[i] = loss.detach() * len(yb)
        correct += (logits.argmax(-1) == yb).sum(0)
        seen += len(yb)
        bar.update(1)
    bar.close()
    bad = (~torch.isfinite(losses)).nonzero()
    if len(bad):
        batch, k = bad[0].tolist()
        raise utils.TrainingDiverged(
            f"loss became {losses[batch, k].item()} in epoch {epoch}, batch {batch + 1} of "
            f"{steps} (copy {k + 1}): lower the learning rate or check the model's last layer.")
    return (losses.sum(0) / seen).tolist(), [100.0 * c / seen for c in correct.tolist()]


@torch.no_grad()
def evaluate_packed(net: Copies, x, y, batch_size: int = 2048):
    """``utils.evaluate`` for ``Copies``: lists (mean loss, accuracy %), one per copy; every
    copy sees the same images."""
    net.eval()
    loss = torch.zeros(net.count, device=x.device)
    correct = torch.zeros(net.count, device=x.device, dtype=torch.long)
    for xb, yb in utils.iterate_batches(x, y, batch_size):
        logits = net(xb)
        loss += F.cross_entropy(logits.flatten(0, 1), yb.repeat_interleave(net.count),
                                reduction="none").view(-1, net.count).sum(0)
        correct += (logits.argmax(-1) == yb[:, None]).sum(0)
    return (loss / len(x)).tolist(), [100.0 * c / len(x) for c in correct.tolist()]


def fit_packed(recipe, data, seeds, *, epochs=None, eval_set="test", progress=True, log=print,
               after_epoch: Callable[[Copies, int], None] | None = None):
    """``utils.fit`` for many seeds at once as ``Copies``; returns ``(networks, runs)``, one
    standalone network and one run per seed. Copy k starts, shuffles and augments from seed k
    exactly as ``utils.fit(recipe, data, seeds[k])``; only the dropout masks (drawn for all
    copies together) and the order of floating-point sums differ. ``wall_s`` is each seed's
    share of the time. ``after_epoch(net, epoch)`` sees the measured network after each epoch
    (``benchmarks/precise_bn.py`` measures it a second way)."""
    train_x, train_y, test_x, test_y = data
    epochs = epochs or recipe.epochs
    net, generators = seeded_copies(recipe, seeds, train_x.device)
    optimizer, scheduler = recipe.optimizer_and_scheduler(net, len(train_x), epochs)
    runs = [utils.new_run(seed, eval_set) for seed in seeds]
    average, measured = utils.weight_average(recipe, net), net
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        lr = optimizer.param_groups[0]["lr"]
        averaging = recipe.averages_in(epoch, epochs)  # never without an average
        train = train_packed_epoch(
            net, train_x, train_y, optimizer, batch_size=recipe.batch_size,
            generators=generators, augment=recipe.augment_in(epoch, epochs),
            label_smoothing=recipe.label_smoothing, average=average if averaging else None,
            batch_scheduler=scheduler if recipe.scheduler_per_batch else None, epoch=epoch,
            progress=progress)
        measured = average.net if averaging else net
        if scheduler is not None and not recipe.scheduler_per_batch:
            scheduler.step()
        if recipe.bn_stats_images:
            utils.recompute_batchnorm_stats(measured, train_x, recipe.bn_stats_images)
        test = evaluate_packed(measured, test_x, test_y)
        for k, run in enumerate(runs):
            utils.record_epoch(run, lr, (train[0][k], train[1][k]), (test[0][k], test[1][k]), log)
        if after_epoch:
            after_epoch(measured, epoch)
    wall = time.perf_counter() - start
    for run in runs:
        run["wall_s"] = round(wall / len(runs), 2)
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
    ``wall_s`` is its share of the elapsed time. Logs print as seeds finish."""
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


# --------------------------------------------------------------------------- a recipe's record
def fit_seeds(recipe, data, seeds, how: str, *, workers=2, epochs=None, eval_set="test",
              progress=True, log=print):
    """Train ``seeds`` of ``recipe`` the ``how`` way; return ``(networks, runs)``."""
    if how == "packed":
        return fit_packed(recipe, data, seeds, epochs=epochs, eval_set=eval_set,
                          progress=progress, log=log)
    if how == "side-by-side":
        return fit_side_by_side(recipe, data, seeds, workers, epochs=epochs, eval_set=eval_set,
                                log=log)
    fitted = [utils.fit(recipe, data, seed, epochs=epochs, eval_set=eval_set, progress=progress,
                        log=log) for seed in seeds]
    return [net for net, _ in fitted], [run for _, run in fitted]


def check_run_arguments(epochs, how, workers) -> None:
    """Refuse bad arguments before anything is loaded, trained or written."""
    if epochs is not None and epochs < 1:
        raise ValueError(f"--epochs must be at least 1, not {epochs}")
    if how not in HOW:
        raise ValueError(f"unknown way to train the seeds {how!r}: choose from {', '.join(HOW)}")
    if workers < 2:
        raise ValueError(f"--workers must be at least 2 (seeds side by side), not {workers}")
    if how == "side-by-side" and "fork" not in multiprocessing.get_all_start_methods():
        raise ValueError("side-by-side needs forked worker processes, which this platform does "
                         "not have: use --how one-after-another")


def run_recipe(recipe, seeds=None, *, epochs=None, out=None, record=False, device=None,
               data=None, validation=False, how=None, workers=2, progress=True, log=print):
    """Train ``recipe`` once per seed, write its results file, return ``(results, last
    network, data)``: what a notebook and ``train.py`` both call. ``data`` reuses tensors from
    ``utils.load_mnist``; ``validation=True`` measures on the held-out last 10,000 training
    images instead of the test set (design searches). ``how``: see this module's docstring;
    by default ``default_how(device)``. ``out`` and ``record``: see
    ``records.output_dir`` (by default a full run goes to ``runs/``, never into ``Data/``)."""
    quick = utils.is_quick()
    device = utils.get_device(device) if not isinstance(device, torch.device) else device
    seeds = list(seeds or recipe.seeds)
    how = how or default_how(device)
    check_run_arguments(epochs, how, workers)
    fingerprint = records.recipe_fingerprint(recipe)
    if quick:
        seeds = seeds[:utils.QUICK_SEEDS]
        epochs = min(epochs or recipe.epochs, utils.QUICK_EPOCHS)
        if recipe.augment and recipe.clean_last_epochs >= epochs:  # a smoke run augments too
            recipe = dataclasses.replace(recipe, clean_last_epochs=epochs - 1)
    epochs = epochs or recipe.epochs
    out = records.output_dir(out, record)
    if data is None:
        data = utils.load_mnist(device, validation=validation)
    eval_set = "validation" if validation else "test"
    results = {
        "step": recipe.step, "title": recipe.title, "role": recipe.role,
        "model_class": recipe.model_class(), "params": utils.count_parameters(recipe.model()),
        "mode": "quick" if quick else "full", "epochs": epochs,
        "batch_size": recipe.batch_size, "train_size": len(data[0]), "test_size": len(data[2]),
        "eval_set": eval_set, "device": utils.device_name(data[0].device),
        "torch_version": torch.__version__,
        "kernels": records.kernels_fingerprint(data[0].device), "seeds_ran": how,
        **({"workers": workers} if how == "side-by-side" else {}),
        "recipe_fingerprint": fingerprint,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    nets, results["runs"] = fit_seeds(recipe, data, seeds, how, workers=workers, epochs=epochs,
                                      eval_set=eval_set, progress=progress, log=log)
    records.write_results(results, records.results_path(recipe.step, out))
    return results, nets[-1], data
