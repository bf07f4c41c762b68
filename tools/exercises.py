"""The answers to each notebook's Exercises, computed from the networks and the records.

Each notebook ends with 2-3 exercises: a prediction to make on paper, or a one-line change to
try, with the answer folded under it. The answers are generated blocks
(``<!-- generated: answer NAME -->``, ``tools/render_docs.py``): a parameter count or a
receptive field is computed from ``src/model.py``, a training result read from its recorded
full run, so the tests fail when an answer no longer matches what it answers.
"""
from __future__ import annotations

import torch.nn as nn

import design_search
import noise
import plots
import records
import utils
from steps import RECIPES


def _record(step: int) -> dict:
    return records.read_results(records.results_path(step, records.RECORDED))


def _layer(step: int, name: str) -> nn.Module:
    return dict(RECIPES[step].model().named_modules())[name]


def conv_parameters(step: int, name: str) -> str:
    """A conv layer's weights and biases, counted by hand and by PyTorch."""
    conv = _layer(step, name)
    k = conv.kernel_size[0]
    weights = conv.out_channels * conv.in_channels // conv.groups * k * k
    bias = conv.out_channels if conv.bias is not None else 0
    total = weights + bias
    channels = f"{conv.in_channels} channel{'s' if conv.in_channels > 1 else ''}"
    text = (f"`{name}` maps {channels} to {conv.out_channels} with a {k}x{k} "
            f"kernel: {conv.out_channels} x {conv.in_channels // conv.groups} x {k} x {k} = "
            f"{weights:,} weights")
    return text + (f" + {bias} biases = **{total:,}**." if bias else f" (no bias): **{total:,}**.")


def largest_layer(step: int) -> str:
    """Which layer holds the most parameters, and its share of the network's."""
    net = RECIPES[step].model()
    total = utils.count_parameters(net)
    count, name, kind = max((row["params"], row["layer"], row["type"])
                            for row in plots.layer_table(net))
    return (f"`{name}` ({kind}) holds **{count:,}** of the {total:,} parameters, "
            f"**{100 * count / total:.0f} %**.")


def without_layer(step: int, index: int) -> str:
    """The last rows of the receptive-field table once ``features[index]`` is removed."""
    net = RECIPES[step].model()
    removed = net.features[index]
    net.features = nn.Sequential(*[m for i, m in enumerate(net.features) if i != index])
    rows = plots.receptive_field_rows(net)
    before = plots.receptive_field_rows(RECIPES[step].model())
    last = rows[-1]
    shape = "x".join(str(v) for v in last["output"])
    return (f"Without `features.{index}` ({type(removed).__name__}) the jump never doubles: the "
            f"last layer's output is {shape} (not "
            f"{'x'.join(str(v) for v in before[-1]['output'])}) and it sees **{last['rf']}x"
            f"{last['rf']}** pixels (not {before[-1]['rf']}x{before[-1]['rf']}). The output is "
            "no longer one logit per digit: the network would need another layer to reach "
            "(N, 10).")


def best_epoch(step: int) -> str:
    run = _record(step)["runs"][0]
    acc = run["test_acc"]
    best = max(acc)
    return (f"Seed {run['seed']}'s best test accuracy is **{best:.2f} %** in epoch "
            f"**{acc.index(best) + 1}** of {len(acc)}; in the last 4 epochs it moves between "
            f"{min(acc[-4:]):.2f} and {max(acc[-4:]):.2f} %.")


def train_against_test(step: int) -> str:
    run = _record(step)["runs"][0]
    train, test = run["train_acc"][-1], run["test_acc"][-1]
    verdict = "above" if train > test else "below"
    return (f"At the end, training accuracy **{train:.2f} %** (dropout on), test accuracy "
            f"**{test:.2f} %**: training is {verdict} test by {abs(train - test):.2f} points.")


def learning_rates(step: int) -> str:
    lrs = _record(step)["runs"][0]["lr"]
    spans, start = [], 0
    for epoch in range(1, len(lrs) + 1):
        if epoch == len(lrs) or lrs[epoch] != lrs[start]:
            spans.append(f"epochs {start + 1}-{epoch}: {lrs[start]:g}")
            start = epoch
    return "The learning rate at the start of each epoch, from the record: " + \
        "; ".join(spans) + "."


def worst_seed(step: int) -> str:
    r = _record(step)
    s = records.summarize_runs(r, records.LAST)
    worst = s["worst_last_min"]
    at = s["last_min"].index(worst)
    seed, epoch = s["seeds"][at], s["last_min_epoch"][at]
    line = worst - records.TARGET
    return (f"Seed **{seed}**, lowest in epoch **{epoch}** at **{worst:.2f} %**, "
            f"{abs(line):.2f} points {'above' if line >= 0 else 'below'} the line. "
            + "; ".join(f"seed {sd}: {low:.2f}" for sd, low in zip(s["seeds"], s["last_min"]))
            + ".")


def ablation_largest_loss() -> str:
    """The ingredient whose removal cost the most, on the ablation's seeds."""
    losses, waiting = [], []
    for name in design_search.ablated():
        ingredient = design_search.ABLATION[name][0]
        seeds, mine, full = design_search.ablation_pair(name)
        if len(seeds) < len(design_search.ABLATION_SEEDS):
            waiting.append(ingredient.split(" (")[0])
            continue
        losses.append((mine["last_min_mean"] - full["last_min_mean"], ingredient, name))
    if not losses:
        return "Not recorded yet: the ablation (docs/step5_ablation.md) has not run."
    losses.sort()
    return ("Removing " + losses[0][1] + f" (`{losses[0][2]}`) cost the most: the mean of the "
            f"lowest validation accuracy of the last 4 epochs moved by **{losses[0][0]:+.2f}** "
            "points. In order: " + "; ".join(f"{ingredient.split(' (')[0]} {change:+.2f}"
                                             for change, ingredient, _ in losses) + "."
            + (f" Not recorded yet: {', '.join(waiting)}." if waiting else ""))


def separable_cost(step: int, name: str) -> str:
    block = _layer(step, name)
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    depthwise, pointwise = convs
    c_in, c_out = depthwise.in_channels, pointwise.out_channels
    separable = sum(utils.count_parameters(c) for c in convs)
    full = c_in * c_out * 9
    return (f"Depthwise {c_in} x 3 x 3 = {utils.count_parameters(depthwise):,}, pointwise "
            f"{c_in} x {c_out} = {utils.count_parameters(pointwise):,}: **{separable:,}** "
            f"weights, against {full:,} for a full 3x3 conv ({c_in} x {c_out} x 9), "
            f"**{full / separable:.1f} times** fewer.")


def compare_worst(step: int, other: int) -> str:
    mine, theirs = (records.held(_record(s)) for s in (step, other))
    return (f"Step {step}'s worst seed: **{mine[2]:.2f} %** ({mine[0]} of {mine[1]} hold); "
            f"step {other}'s: **{theirs[2]:.2f} %** ({theirs[0]} of {theirs[1]}).")


def network_under_step5s_recipe(step: int) -> str:
    """Step ``step``'s network under step 5's recipe, against step 5's own (validation,
    seeds 1-5, one machine), beside the gain its own step's record showed."""
    rows = {row["step"]: row for row in design_search.one_recipe_rows()}
    mine, five = rows[step]["one_recipe"], rows[5]["one_recipe"]
    if mine is None or five is None:
        return "Not recorded yet: `docs/network_or_recipe.md` gives the rows recorded so far."
    return (f"Under step 5's recipe, step {step}'s network holds a mean of "
            f"**{mine['last_min_mean']:.2f} %** (worst seed {mine['worst_last_min']:.2f} %) over "
            f"seeds {', '.join(map(str, mine['seeds']))}, against step 5's own "
            f"{five['last_min_mean']:.2f} % (worst {five['worst_last_min']:.2f} %): "
            f"**{mine['last_min_mean'] - five['last_min_mean']:+.2f} points**. Its own record "
            f"(its network with its own recipe, test set) scored {rows[step]['own']:.2f} %, "
            f"step 5's {rows[5]['own']:.2f} %: that gap is network and recipe together, "
            "the first difference is the network's share of it.")


def two_recipes(step: int = 5, name: str = "s5_wider_transition",
                reference: str = "a0_full_recipe") -> str:
    """The per-seed lows of two validation records (the question of the noise exercise)."""
    ours, theirs = (design_search.lows_by_seed(step, n) for n in (name, reference))
    shared = sorted(ours.keys() & theirs.keys())
    return "\n".join(["| Seed | With the channel more % | Without it % |", "|---:|---:|---:|"]
                     + [f"| {seed} | {ours[seed]:.2f} | {theirs[seed]:.2f} |" for seed in shared])


def is_it_real(step: int = 5, name: str = "s5_wider_transition",
               reference: str = "a0_full_recipe") -> str:
    """The noise exercise's answer: the paired difference, its standard error, the rule."""
    ours, theirs = (design_search.lows_by_seed(step, n) for n in (name, reference))
    difference, error, n = noise.paired_difference(ours, theirs)
    shared = ours.keys() & theirs.keys()
    worst = min(ours[s] for s in shared) - min(theirs[s] for s in shared)
    beyond = noise.beyond_the_noise(difference, error)
    return (f"The worst seed moved by {worst:+.2f} points, but the mean of the {n} paired seeds by "
            f"**{difference:+.3f}** with a standard error of {error:.3f}: "
            + ("**beyond** the noise (more than two standard errors)." if beyond else
               f"**inside** the noise (two standard errors are {2 * error:.3f}): by the rule of "
               "`docs/noise.md` the change would not have been adopted; the "
               "worst seed, the noisiest figure, chose it."))


ANSWERS = {
    "step1-first-conv": lambda: conv_parameters(1, "features.0.0"),
    "step1-largest": lambda: largest_layer(1),
    "step2-no-pool": lambda: without_layer(2, 2),
    "step2-largest": lambda: largest_layer(2),
    "step2-best-epoch": lambda: best_epoch(2),
    "step3-largest": lambda: largest_layer(3),
    "step3-train-test": lambda: train_against_test(3),
    "step4-classifier": lambda: conv_parameters(4, "features.8"),
    "step4-learning-rates": lambda: learning_rates(4),
    "step4-train-test": lambda: train_against_test(4),
    "step5-ablation": ablation_largest_loss,
    "step5-network-or-recipe": lambda: network_under_step5s_recipe(3),
    "step5-two-recipes": two_recipes,
    "step5-is-it-real": is_it_real,
    "step6-separable": lambda: separable_cost(6, "features.4"),
    "step6-against-step5": lambda: compare_worst(6, 5),
    "step7-worst-seed": lambda: worst_seed(7),
    "step7-largest": lambda: largest_layer(7),
}
