"""Your turn: your own network, checked and judged by the exercise's rule.

The series judges its own steps one way, and this module judges yours the same way:

    import judge
    judge.check(MyNet)                      # before any training: budget, shapes, receptive field
    result = judge.judge(MyNet)             # train with step 5's recipe, on validation
    print(result.verdict)                   # every seed >= 99.40 % in each of the last 4 epochs?
    judge.plot_beside_steps(result)         # your network on the series' overview figure

    python src/train.py --model my_net.py:MyNet [--seeds 1,2,3] [--budget 4000] [--step 7]

The rule (``verdict``): fewer than ``budget`` parameters (8,000; 4,000 for the frontier),
at most 15 epochs, and every seed at least 99.40 % in each of its last 4 epochs. Designs are
judged on the validation split (the last 10,000 training images): measuring the test set is a
separate step, ``judge(..., test_set=True)``, for a design you have finished choosing.
Every failed check raises ``DesignError`` with one sentence that says what to change.
"""
from __future__ import annotations

import copy
import dataclasses
import importlib.util
import inspect
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

import devices
import noise
import plots
import records
import runner
import utils
from steps import RECIPES, Recipe

BUDGET, MAX_EPOCHS = records.BUDGETS["final"], 15
FINAL_STEP = next(step for step, recipe in RECIPES.items() if recipe.role == "final")
WHY_NOT_THE_TEST_SET = (
    "Measuring on the test set: do it once, for a design you have finished choosing. A design "
    "chosen by its test accuracy has been fitted to the test set, and its number no longer "
    "says how it does on digits it was never chosen on: choose on the validation split.")


class DesignError(ValueError):
    """A network the judge cannot train: the message says what is wrong and what to change."""


# --------------------------------------------------------------------------- loading (the CLI)
def load_class(spec: str) -> type:
    """``"my_net.py:MyNet"`` -> the class ``MyNet`` defined in ``my_net.py``."""
    path, _, name = spec.rpartition(":")
    if not path or not name:
        raise DesignError(f"--model {spec!r}: give FILE.py:ClassName, e.g. my_net.py:MyNet")
    file = Path(path).expanduser()
    if not file.is_file():
        raise DesignError(f"--model: {file} does not exist: give the path of the .py file that "
                          f"defines {name}")
    module_spec = importlib.util.spec_from_file_location(file.stem, file)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as error:  # noqa: BLE001 - the student's file, reported in one line
        raise DesignError(f"importing {file} failed: {one_line(error)}") from None
    found = getattr(module, name, None)
    if not (inspect.isclass(found) and issubclass(found, nn.Module)):
        modules = [n for n, v in vars(module).items()
                   if inspect.isclass(v) and issubclass(v, nn.Module) and v.__module__ == file.stem]
        raise DesignError(f"{file} defines no nn.Module class {name!r} (it defines: "
                          f"{', '.join(modules) or 'none'}): check the name after the colon")
    return found


def one_line(error: BaseException) -> str:
    """An exception as one line: its type and the first line of its message."""
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}".rstrip(": ")


def build(network) -> nn.Module:
    """A fresh network from a class (built with no arguments, as the recipe will), or a copy of
    an instance."""
    if isinstance(network, nn.Module):
        return copy.deepcopy(network)
    try:
        return network()
    except TypeError as error:
        raise DesignError(f"{network.__name__}() cannot be built without arguments "
                          f"({one_line(error)}): give every argument of __init__ a default, "
                          "because each seed builds a fresh network") from None


# --------------------------------------------------------------------------- checks
def check_budget(net: nn.Module, budget: int = BUDGET) -> int:
    """The network's parameters, every weight it holds (frozen ones too); ``DesignError``
    unless there are fewer than ``budget``, or if it keeps numbers in buffers that are not a
    normalization layer's statistics (weights hidden from the count)."""
    normalization = (nn.modules.batchnorm._NormBase,)
    hidden = [f"{module_name}.{name}" if module_name else name
              for module_name, module in net.named_modules()
              for name, buffer in module.named_buffers(recurse=False)
              if not isinstance(module, normalization) and buffer.numel()]
    if hidden:
        raise DesignError(f"{type(net).__name__} keeps numbers in buffers ({', '.join(hidden)}), "
                          "which the parameter count would not see: make them nn.Parameter "
                          "(frozen with requires_grad=False if they must not learn), so the "
                          "budget counts them")
    count = utils.count_parameters(net)
    if count >= budget:
        rows = [row for row in plots.layer_table(net) if row["params"]]
        largest = sorted(rows, key=lambda row: -row["params"])[:3]
        where = ", ".join(f"{row['layer']} ({row['params']:,})" for row in largest)
        raise DesignError(f"{type(net).__name__} has {count:,} parameters; the budget is fewer "
                          f"than {budget:,}: take {count - budget + 1:,} out, where most of "
                          f"them are: {where}")
    return count


def check_output(net: nn.Module, batch: int = 2) -> None:
    """``DesignError`` unless a batch ``(N, 1, 28, 28)`` gives one tensor of logits ``(N, 10)``."""
    probe = copy.deepcopy(net).cpu().eval()
    name = type(net).__name__
    try:
        with torch.no_grad(), torch.random.fork_rng(devices=[]):
            out = probe(torch.zeros(batch, 1, 28, 28))
    except Exception as error:  # noqa: BLE001 - the student's forward, reported in one line
        raise DesignError(f"{name}'s forward fails on a batch of shape ({batch}, 1, 28, 28) "
                          f"(MNIST: 1 channel, 28x28): {one_line(error)}") from None
    if not isinstance(out, torch.Tensor):
        raise DesignError(f"{name} returns a {type(out).__name__}, not a tensor: return only "
                          f"the logits, one tensor of shape ({batch}, 10)")
    shape = tuple(out.shape)
    if shape != (batch, 10):
        hint = ("flatten it: end with nn.Flatten()" if len(shape) > 2 and out[0].numel() == 10
                else "end with a layer of 10 outputs, one logit per digit, and flatten them")
        raise DesignError(f"{name} returns shape {shape} for a batch of {batch}; it must be "
                          f"({batch}, 10): {hint}")


def receptive_field_warnings(rows) -> list[str]:
    """From the layer table: a layer the receptive field cannot follow (it changes the map size
    but is not a conv or a pool), and a last layer that does not see the whole 28x28 image."""
    warnings = []
    unfollowed = [f"{row['layer']} ({row['type']})" for row in rows if not row["followed"]]
    if unfollowed:
        warnings.append(f"the receptive-field table cannot follow {', '.join(unfollowed)}: it "
                        "changes the map size but is not a conv or a pool, so the receptive "
                        "fields after it are not exact")
    seen = [row["rf"] for row in rows if row["rf"] is not None and row["output"] is not None]
    if not seen or seen[-1] == 1:
        warnings.append("no conv or pool layer found: the receptive-field table is empty")
    elif seen[-1] < 28:
        warnings.append(f"the last layer sees {seen[-1]}x{seen[-1]} pixels, not the whole 28x28 "
                        "image: a digit seen only in part is easier to confuse (add a conv or a "
                        "pool before the classifier)")
    return warnings


@dataclass
class Checked:
    """What the checks found: parameters (total and per layer), the receptive field, warnings."""

    name: str
    params: int
    budget: int
    layers: list  # plots.layer_table: parameters, output shape, receptive field per layer
    warnings: list

    def __str__(self):
        lines = [f"{self.name}: {self.params:,} parameters, under the budget of {self.budget:,} "
                 f"({self.budget - self.params:,} to spare); output (N, 10): ok",
                 "", plots.format_layer_table(self.layers)]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def check(network, budget: int = BUDGET) -> Checked:
    """Every check before training, in order: the network builds, its output is one ``(N, 10)``
    tensor, it has fewer than ``budget`` parameters; then its receptive field (warnings only)."""
    net = build(network)
    check_output(net)
    params = check_budget(net, budget)
    rows = plots.layer_table(net)
    return Checked(type(net).__name__, params, budget, rows, receptive_field_warnings(rows))


# --------------------------------------------------------------------------- the rule
@dataclass
class Verdict:
    passed: bool
    text: str
    lowest: list  # per seed: the lowest accuracy of the judged epochs
    lowest_epoch: list  # per seed: the epoch it happened in (1-based)
    seeds: list

    def __str__(self):
        return self.text


def verdict(results: dict, budget: int = BUDGET, target: float = records.TARGET,
            last: int = records.LAST) -> Verdict:
    """The exercise's rule on a results file: fewer than ``budget`` parameters, at most 15
    epochs, every seed at least ``target`` in each of its last ``last`` epochs (a run of fewer
    epochs is judged on all of them)."""
    epochs = len(records.accuracies(results)[0])
    judged = records.judged_epochs(results, last)[0]
    s = records.summarize_runs(results, last)
    lowest, lowest_epoch, seeds = s["last_min"], s["last_min_epoch"], s["seeds"]
    held, _, worst = records.held(results, target, last)
    at = lowest.index(worst)
    measured = "validation split" if results["eval_set"] == "validation" else "test set"
    reasons = []
    if results["params"] >= budget:
        reasons.append(f"{results['params']:,} parameters, not fewer than {budget:,}")
    if epochs > MAX_EPOCHS:
        reasons.append(f"{epochs} epochs, more than {MAX_EPOCHS}")
    if held < len(seeds):
        reasons.append(f"seed {seeds[at]} dips to {worst:.2f} % in epoch {lowest_epoch[at]}, "
                       f"{target - worst:.2f} points short")
    last_epochs = f"each of the last {plural(judged, 'epoch')}" if judged > 1 else "its last epoch"
    text = (f"{results['model_class']}, {results['params']:,} parameters (budget: fewer than "
            f"{budget:,}), {plural(epochs, 'epoch')} on the {measured}: {held} of "
            f"{plural(len(seeds), 'seed')} {'holds' if len(seeds) == 1 else 'hold'} "
            f"{target:.2f} % in {last_epochs}; worst seed {worst:.2f} % (seed "
            f"{seeds[at]}, epoch {lowest_epoch[at]}). ")
    text += f"Fails: {'; '.join(reasons)}." if reasons else "Passes."
    if results["mode"] == "quick":
        text += (f" (Quick mode: {results['train_size']:,} training images and "
                 f"{plural(epochs, 'epoch')}, a smoke run that says nothing about the design.)")
    elif len(seeds) == 1 and not reasons:
        text += " One seed is a first look: the exercise asks it of every seed (try 5)."
    return Verdict(not reasons, text, lowest, lowest_epoch, seeds)


def what_seeds_show(results: dict, target: float = records.TARGET, seeds: int = 5) -> str:
    """Beside the verdict: the mean of the seeds' lows, what a difference of that many seeds can
    resolve, and the chance that ``seeds`` seeds would all hold ``target``, at the spread the
    series measured over seeds of its own recipes (``noise.series_spread``; a normal model)."""
    lows = records.summarize_runs(results)["last_min"]
    mean, n, sd = float(np.mean(lows)), len(lows), noise.series_spread()
    chance = noise.chance_all_hold(mean, sd, target, seeds)
    return (f"Your {plural(n, 'seed')}: mean of the lows {mean:.2f} %. A seed of one recipe "
            f"spreads by about {sd:.3f} points (the series' recipes, measured), so a difference "
            f"of two designs of {plural(n, 'seed')} each is real only beyond about "
            f"{noise.resolution(sd, n):.2f} points. If a seed's low is normal around your mean "
            f"with that spread (a model, not a measurement), {seeds} of {seeds} seeds hold "
            f"{target:.2f} % with a chance of about {100 * chance:.0f} %.")


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


# --------------------------------------------------------------------------- training
def recipe_for(network, step: int = FINAL_STEP, **changes) -> Recipe:
    """Step ``step``'s recipe training ``network`` (a class) instead of its own network, with
    any other ``changes`` (``dataclasses.replace`` fields, e.g. ``epochs=12``)."""
    name = network.__name__
    return dataclasses.replace(RECIPES[step], model=network, title=f"your {name}",
                               role="yours", **changes)


def default_seeds(device: torch.device) -> list[int]:
    """3 seeds on a GPU, 1 on a CPU, where each seed takes minutes."""
    return [1, 2, 3] if device.type == "cuda" else [1]


def output_folder(name: str, eval_set: str, out: Path | None = None) -> Path:
    """Where a judged run writes: a new folder ``runs/<class>_<validation|test>_<time>/`` (a
    temporary folder in quick mode; ``out/<class>/<eval_set>`` if ``out`` is given), never
    ``Data/``: a second run, design or test measurement overwrites nothing."""
    if out is not None:
        return records.output_dir(out) / name / eval_set
    return records.output_dir(label=f"{name}_{eval_set}")


def estimate_seconds(recipe: Recipe, data, seeds: int, batches: int = 10) -> float:
    """The expected wall time of ``seeds`` full runs, from ``utils.train_one_epoch`` timed on a
    few batches of this device (after two to warm up) and one evaluation; the network's weights
    and the random state are left alone."""
    train_x, train_y, test_x, test_y = data
    device, size = train_x.device, recipe.batch_size
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        net = recipe.model().to(device)
        optimizer, _ = recipe.optimizer_and_scheduler(net, len(train_x), recipe.epochs)
        batches = utils.Batches(train_x[:size * batches], train_y[:size * batches], size,
                                torch.Generator().manual_seed(0), recipe.augment)
        utils.train_one_epoch(net, utils.Batches(train_x[:2 * size], train_y[:2 * size], size),
                              optimizer, progress=False)  # warm-up
        per_batch = timed(lambda: utils.train_one_epoch(net, batches, optimizer, progress=False),
                          device) / len(batches)
        sample = min(2048, len(test_x))
        per_eval_image = timed(lambda: utils.evaluate(net, test_x[:sample], test_y[:sample]),
                               device) / sample
    precise_bn = min(recipe.bn_stats_images, len(train_x))  # 0 without precise BN
    evaluated = len(test_x) + precise_bn
    epochs = min(recipe.epochs, utils.QUICK_EPOCHS) if utils.is_quick() else recipe.epochs
    per_epoch = math.ceil(len(train_x) / size) * per_batch + evaluated * per_eval_image
    return per_epoch * epochs * seeds


def timed(work, device: torch.device) -> float:
    """Seconds ``work()`` takes, the GPU's queue emptied before and after."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    work()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


@dataclass
class Judged:
    """A judged run: its results file (and where it is), the verdict, the checks."""

    results: dict
    verdict: Verdict
    checked: Checked
    path: Path
    network: nn.Module
    figures: dict  # curves, misclassified, confusion (plots.save_step_plots)


def expected_time(recipe: Recipe, data, seeds) -> str:
    """``estimate_seconds`` as the sentence the judge prints before it trains."""
    seeds = list(seeds)[:utils.QUICK_SEEDS if utils.is_quick() else None]
    minutes = estimate_seconds(recipe, data, len(seeds)) / 60
    text = (f"Expected wall time: about {minutes:.1f} min for {plural(len(seeds), 'seed')} on "
            f"{devices.device_name(data[0].device)}, one after another (timed on the first "
            "batches).")
    if data[0].device.type == "cpu" and not utils.is_quick():
        text += " A GPU takes a fraction of it (in Colab: Runtime > Change runtime type)."
    return text


def judge(network, seeds=None, *, budget: int = BUDGET, step: int = FINAL_STEP, recipe=None,
          test_set: bool = False, out: Path | None = None, device=None, data=None,
          preamble: bool = True, progress: bool = True, log=print) -> Judged:
    """Check ``network`` (a class), train it with step ``step``'s recipe (or ``recipe``, e.g.
    ``recipe_for(MyNet, epochs=12)``) on ``seeds``, one after another, and judge it by the
    exercise's rule. On the validation split unless ``test_set``; results and plots go to
    ``output_folder``. ``DesignError`` for a failed check or a diverged run (nothing written).
    ``preamble``: log the checks and the expected time first (a notebook shows them in cells
    of their own); ``data``: ``utils.load_mnist``'s tensors of that split, if loaded already."""
    recipe = recipe or recipe_for(network, step)
    checked = check(recipe.model, budget)
    if test_set:
        log(WHY_NOT_THE_TEST_SET)
    device = devices.get_device(device) if not isinstance(device, torch.device) else device
    seeds = list(seeds or default_seeds(device))[:utils.QUICK_SEEDS if utils.is_quick() else None]
    data = data or utils.load_mnist(device, validation=not test_set)
    eval_set = "test" if test_set else "validation"
    try:
        if preamble:
            log(str(checked))
            log(expected_time(recipe, data, seeds))
        folder = output_folder(checked.name, eval_set, out)
        results, net, _ = runner.run_recipe(
            recipe, seeds, out=folder, data=data, validation=not test_set,
            how="one-after-another", progress=progress, log=log)
    except utils.TrainingDiverged as error:
        raise DesignError(f"{checked.name} diverged, so no results file was written: "
                          f"{error}") from None
    figures = plots.save_step_plots(results, net, data[2], data[3], folder)
    minutes = sum(run["wall_s"] for run in results["runs"]) / 60
    log(f"Trained in {minutes:.1f} min ({plural(len(seeds), 'seed')}).")
    judged = verdict(results, budget)
    log(judged.text)
    log(what_seeds_show(results))
    if against := records.against_the_record(results):
        log(against)
    return Judged(results, judged, checked, records.results_path(recipe.step, folder), net,
                  figures)


def plot_beside_steps(judged: Judged, path: Path | None = None):
    """The series' overview figure with your network on it: parameters against the worst
    seed's lowest accuracy of the last epochs, beside every recorded step (test set)."""
    results, v = judged.results, judged.verdict
    measured = "validation" if results["eval_set"] == "validation" else "test"
    label = f"{results['model_class']} ({measured})"
    point = (results["params"], min(v.lowest), label, records.held(results)[:2])
    path = path or judged.path.parent.parent / "plots" / "overview.png"
    return plots.plot_overview(path, yours=[point])
