"""What each step trains, in one place: the ``Recipe`` (network, optimizer, schedule,
augmentation, epochs, what is measured, seeds) and ``RECIPES``, one per step. Each notebook and
``python src/train.py --step N`` read the same ``RECIPES[N]``; ``utils.fit`` trains one."""
from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Callable

import torch
import torch.nn as nn
from torch.optim import SGD
from torch.optim.lr_scheduler import OneCycleLR, StepLR
from torch.optim.swa_utils import AveragedModel

import model
from utils import Augment


@dataclass
class Recipe:
    """Everything that defines how one step is trained."""

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
    ramp_down_epochs: int = 0  # no step uses this: the N epochs before those augment less
    label_smoothing: float = 0.0  # no step uses this (a search's candidates do)
    bn_stats_images: int = 0  # > 0: recompute BatchNorm statistics after each epoch (precise BN)
    average_last_epochs: int = 0  # > 0: measure an equal average of the weights over them
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

    def weight_average(self, net: nn.Module) -> AveragedModel | None:
        """What is measured in the averaged epochs: torch's equal average of the weights and
        BatchNorm statistics (stochastic weight averaging, step 7), or None."""
        return AveragedModel(net, use_buffers=True) if self.average_last_epochs else None

    def averages_in(self, epoch: int, epochs: int) -> bool:
        """Whether ``epoch`` of ``epochs`` updates the average, and so is measured on it."""
        return epoch > epochs - self.average_last_epochs

    def optimizer_and_scheduler(self, net: nn.Module, train_size: int, epochs: int):
        optimizer = self.optimizer(net.parameters())
        steps_per_epoch = math.ceil(train_size / self.batch_size)
        scheduler = self.scheduler(optimizer, steps_per_epoch, epochs) if self.scheduler else None
        return optimizer, scheduler

    def learning_rates(self, train_size: int = 60_000) -> list[float]:
        """The learning rate of every batch, as the optimizer and its schedule set it (the
        caller's random state left as it was)."""
        with torch.random.fork_rng(devices=[]):
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


def sgd(lr, momentum=0.9, **kwargs):
    """``SGD(params)`` with these settings; a recipe prints as ``SGD(lr=..., ...)``."""
    return functools.partial(SGD, lr=lr, momentum=momentum, **kwargs)


def step_lr_schedule(optimizer, steps_per_epoch, epochs, *, step_size, gamma):
    return StepLR(optimizer, step_size, gamma)


def step_lr(step_size, gamma=0.1):
    """The learning rate times ``gamma`` every ``step_size`` epochs."""
    return functools.partial(step_lr_schedule, step_size=step_size, gamma=gamma)


def one_cycle_schedule(optimizer, steps_per_epoch, epochs, *, max_lr, pct_start, three_phase):
    return OneCycleLR(optimizer, max_lr=max_lr, steps_per_epoch=steps_per_epoch, epochs=epochs,
                      pct_start=pct_start, div_factor=10, final_div_factor=100,
                      three_phase=three_phase)


def one_cycle(max_lr, pct_start=0.2, three_phase=False):
    """Warm up to ``max_lr`` over ``pct_start`` of training, then anneal (cosine) to
    max_lr / 1000. ``three_phase`` comes back down to max_lr / 10 by 2 x pct_start first, so the
    last epochs run at a low, settling learning rate."""
    return functools.partial(one_cycle_schedule, max_lr=max_lr, pct_start=pct_start,
                             three_phase=three_phase)


RECIPES = {r.step: r for r in [
    Recipe(step=1, title="Setup: heavy baseline", role="baseline", model=model.Step1Net,
           # 2 epochs only: one epoch of this 6.4M-parameter model takes minutes on a CPU.
           epochs=2, batch_size=128, optimizer=sgd(0.01)),
    Recipe(step=2, title="Skeleton", role="step", model=model.Step2Net,
           epochs=15, batch_size=128, optimizer=sgd(0.02)),
    Recipe(step=3, title="Under 8k: BatchNorm and dropout", role="step", model=model.Step3Net,
           epochs=15, batch_size=128, optimizer=sgd(0.02)),
    Recipe(step=4, title="GAP and capacity", role="step", model=model.Step4Net,
           epochs=15, batch_size=128, optimizer=sgd(0.05), scheduler=step_lr(6, 0.2)),
    # Step 5 changes the training, and widens step 4's network by one channel. The searches
    # started from augmentation, OneCycle, Nesterov momentum and weight decay; every choice they
    # made was made on a validation split, never on the test set: the three phases and precise
    # BN the first (docs/research_log.md); stronger augmentation, twice the peak and the last 4
    # epochs on un-augmented images the search for room above the target, whose fourth round
    # chose the wider transition (docs/step5_room.md).
    Recipe(step=5, title="Augmentation and OneCycle", role="final", model=model.Step5Net,
           epochs=15, batch_size=128, optimizer=sgd(0.05, nesterov=True, weight_decay=1e-4),
           scheduler=one_cycle(0.4, three_phase=True), scheduler_per_batch=True,
           augment=Augment(degrees=10, translate=0.1, scale=(0.9, 1.1)), clean_last_epochs=4,
           bn_stats_images=10_000, seeds=(1, 2, 3, 4, 5)),
]}
# Step 6 keeps step 5's training and spends its budget on depthwise-separable convs. It is
# exactly candidate f30 of the validation-split search (benchmarks/design_search.py), which had
# no precise BN, so its recorded runs repeat f30's test record seed for seed.
RECIPES[6] = dataclasses.replace(RECIPES[5], step=6, title="Depthwise-separable convs",
                                 role="step", model=model.Step6Net, bn_stats_images=0)
# Step 7, the frontier, trains a network of half step 5's size with step 5's training, without
# dropout (as the frontier search trained it) and without precise BN, measured in its clean last
# epochs on an equal average of its weights over them (stochastic weight averaging), and with
# elastic distortions added to its augmentation. Chosen on the validation split alone
# (docs/frontier_search.md): the average by the search's third round (candidate r2_f28_swa,
# over the recipe step 7 had before, r0_step7_recipe, and f36's moving average), the
# distortions by its fourth (candidate e1_elastic, over the same recipe without them,
# e0_step7_recipe; label smoothing lost). The records of both recipes it replaced are kept.
# Step7Net is r2's network layer for layer but draws its initial weights in another order.
RECIPES[7] = dataclasses.replace(RECIPES[5], step=7, title="Frontier: under 4,000 parameters",
                                 role="frontier", model=model.Step7Net, bn_stats_images=0,
                                 average_last_epochs=4,
                                 augment=dataclasses.replace(RECIPES[5].augment, elastic=34.0))
