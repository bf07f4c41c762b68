"""A moving average of the weights: research only, no step uses it. The frontier search's f36
and the candidates after it measured it (``design_search``: f36_ema, r1_f36_again, r4_tied_ema,
s5_ema, s5_clean_last4_ema); step 7 measures torch's equal average instead
(``steps.Recipe.average_last_epochs``). Kept here so those five records still repeat."""
from __future__ import annotations

import copy
import dataclasses
import sys
from pathlib import Path

import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from steps import Recipe  # noqa: E402


class WeightAverage:
    """An exponential moving average of a network's weights and BatchNorm statistics, kept in
    a copy of the network (``.module``, as torch's ``AveragedModel`` keeps it) that is what gets
    evaluated. The n-th update uses the decay ``min(decay, n / (9 + n))``, so the average is not
    stuck near the initial weights. (torch's ``AveragedModel`` would start from a copy of the
    first weights it is given, not this warm-up, so the records would not repeat with it.)"""

    def __init__(self, net: nn.Module, decay: float):
        self.module, self.decay, self.updates = copy.deepcopy(net), decay, 0
        self._pairs = list(zip(self.module.state_dict().values(), net.state_dict().values()))

    @torch.no_grad()
    def update_parameters(self, model=None):
        """Move the average towards the current weights of the network it was made from (after
        a step); ``model``, as torch's ``AveragedModel`` takes it, is that network."""
        self.updates += 1
        weight = 1 - min(self.decay, self.updates / (9 + self.updates))
        for average, current in self._pairs:
            if average.is_floating_point():
                average.lerp_(current, weight)
            else:  # BatchNorm's batch counter
                average.copy_(current)


@dataclasses.dataclass
class MovingAverageRecipe(Recipe):
    """A recipe measured on a moving average of its weights over every step, decay
    ``average_decay`` per batch."""

    average_decay: float = 0.0

    def weight_average(self, net: nn.Module) -> WeightAverage:
        if self.average_last_epochs:
            raise ValueError("a recipe measures one average of the weights: a moving one "
                             "(average_decay) or an equal one (average_last_epochs), not both")
        return WeightAverage(net, self.average_decay)

    def averages_in(self, epoch: int, epochs: int) -> bool:
        return True


def with_moving_average(recipe: Recipe, decay: float) -> MovingAverageRecipe:
    """``recipe`` measured on a moving average of its weights (decay per batch)."""
    fields = {field.name: getattr(recipe, field.name) for field in dataclasses.fields(recipe)}
    return MovingAverageRecipe(**{**fields, "average_decay": decay})
