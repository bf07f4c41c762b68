"""What the notebooks show beside the numbers: the layer table (parameters, output shape and
receptive field of every layer, from one forward pass), torchsummary's summary, and the figures
(training curves, sample images, the errors, the confusion matrix, the overview of every step).
"""
from __future__ import annotations

import contextlib
import copy
import io
import math
import os
import sys
from pathlib import Path

import torch
import torch.nn as nn

import history
import records
import utils
from records import BUDGETS, LAST, TARGET


# --------------------------------------------------------------------------- the layer table
_FOLLOWED = (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)


def layer_table(model: nn.Module, input_size=(1, 28, 28)) -> list[dict]:
    """One row per layer that holds weights or changes the maps, in forward order: its
    parameters, output shape, receptive field (RF) and jump, from one forward pass of a CPU copy
    (the model and the random state stay as they were). A layer that was never called, but holds
    weights, comes last without a shape.

    Rules: RF_out = RF_in + (k - 1) * dilation * jump_in; jump_out = jump_in * stride; a global
    pool sees its whole input. A layer that changes the map's size without being a conv or a
    pool is marked ``followed: False``: the receptive fields after it are not exact.
    """
    rows, state = [], {"rf": 1, "jump": 1}

    def hook(module, inputs, output):
        params = sum(p.numel() for p in module.parameters(recurse=False))
        shaped = isinstance(output, torch.Tensor) and output.ndim == 4
        followed = isinstance(module, _FOLLOWED) and shaped
        resizes = shaped and not list(module.children()) and bool(inputs) and \
            isinstance(inputs[0], torch.Tensor) and \
            tuple(inputs[0].shape[-2:]) != tuple(output.shape[-2:])
        if followed:
            if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
                k, s, d = inputs[0].shape[-1] - output.shape[-1] + 1, 1, 1
            else:
                k, s, d = (_pair(getattr(module, a, 1))[0]
                           for a in ("kernel_size", "stride", "dilation"))
            state["rf"] += (k - 1) * d * state["jump"]
            state["jump"] *= s
        if params or followed or resizes:
            rows.append({"layer": name_of[module] or "(its own)", "type": type(module).__name__,
                         "params": params, "rf": state["rf"], "jump": state["jump"],
                         "followed": followed or not resizes,
                         "output": tuple(output.shape[1:]) if isinstance(output, torch.Tensor)
                         else None})

    probe = copy.deepcopy(model).cpu().eval()
    name_of = {m: n for n, m in probe.named_modules()}
    handles = [m.register_forward_hook(hook) for m in probe.modules()]
    with torch.no_grad(), torch.random.fork_rng(devices=[]):
        probe(torch.zeros(1, *input_size))
    for handle in handles:
        handle.remove()
    seen = {row["layer"] for row in rows}
    rows += [{"layer": name or "(its own)", "type": type(m).__name__, "params": params,
              "output": None, "rf": None, "jump": None, "followed": True}
             for name, m in probe.named_modules()
             if (params := sum(p.numel() for p in m.parameters(recurse=False)))
             and (name or "(its own)") not in seen]
    return rows


def receptive_field_rows(model: nn.Module) -> list[dict]:
    """The layer table's convs and pools: where the receptive field grows."""
    return [row for row in layer_table(model) if row["type"] in
            {cls.__name__ for cls in _FOLLOWED} and row["output"] is not None]


def _pair(v):
    return v if isinstance(v, tuple) else (v, v)


def format_layer_table(rows) -> str:
    total = sum(row["params"] for row in rows) or 1
    lines = [f"{'layer':<16}{'type':<20}{'params':>8}{'share':>7}  {'output (C,H,W)':<15}"
             f"{'RF':>4}{'jump':>6}"]
    for r in rows:
        shape = "x".join(str(v) for v in r["output"]) if r["output"] else "(not run)"
        share = f"{100 * r['params'] / total:.0f}%" if r["params"] else ""
        params = f"{r['params']:,}" if r["params"] else ""
        lines.append(f"{r['layer']:<16}{r['type']:<20}{params:>8}{share:>7}  "
                     f"{shape:<15}{r['rf'] or '':>4}{r['jump'] or '':>6}")
    return "\n".join(lines + [f"{'total':<36}{sum(row['params'] for row in rows):>8,}"])


def model_summary(model: nn.Module, input_size=(1, 28, 28)) -> str:
    """torchsummary's table, computed on a CPU copy so it runs anywhere and leaves the model
    (weights, BatchNorm statistics, train/eval mode) and the global RNG exactly as they were."""
    from torchsummary import summary

    probe = copy.deepcopy(model).cpu()
    buffer = io.StringIO()
    with torch.random.fork_rng(devices=[]), contextlib.redirect_stdout(buffer):
        summary(probe, input_size, device="cpu")
    return buffer.getvalue()


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
    measured = history.eval_name(results["eval_set"])
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for run in results["runs"]:
        epochs = range(1, len(run["train_loss"]) + 1)
        for ax, key in zip(axes, ("loss", "acc")):
            ax.plot(epochs, run[f"train_{key}"], "--", alpha=0.7, label=f"train s{run['seed']}")
            ax.plot(epochs, run[f"{measured}_{key}"], "-", label=f"{measured} s{run['seed']}")
    axes[0].set(title="loss", xlabel="epoch", yscale="log")
    axes[1].set(title="accuracy (%)", xlabel="epoch")
    if results.get("role") in ("final", "frontier", "yours"):
        axes[1].axhline(TARGET, color="k", lw=0.8, ls=":")
        axes[1].set_ylim(98.5, 100)
    axes[1].legend(fontsize=7, ncol=2)
    fig.suptitle(f"Step {results['step']}: {results['title']} ({results['params']:,} params)")
    return save_figure(fig, path)


def _denormalize(x):
    return (x.detach().cpu().squeeze(1) * utils.MNIST_STD + utils.MNIST_MEAN).clamp(0, 1)


def plot_samples(x, y, path: Path, n: int = 32, augment: utils.Augment | None = None,
                 seed: int = 0):
    """A grid of training images (augmented if ``augment`` is given), with their labels."""
    plt = pyplot()
    images = x[:n]
    if augment is not None:
        images = utils.augment_batch(images, augment, torch.Generator().manual_seed(seed))
    fig, axes = plt.subplots(n // 8, 8, figsize=(8, n // 8 * 1.1))
    for ax, img, label in zip(axes.flat, _denormalize(images), y[:n].tolist()):
        ax.imshow(img, cmap="gray_r")
        ax.set_title(str(label), fontsize=8)
        ax.axis("off")
    return save_figure(fig, path)


def plot_misclassified(x, y, preds, path: Path, n: int = 24):
    """The first ``n`` measured images (test or validation) the model got wrong: true label ->
    prediction."""
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


@torch.no_grad()
def predict(model, x, batch_size: int = 2048) -> torch.Tensor:
    """The predicted digit of every image in ``x``, in eval mode."""
    model.eval()
    return torch.cat([model(x[i:i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])


def save_step_plots(results: dict, model, test_x, test_y, out: Path) -> dict:
    """The per-step figures: curves for every seed, and the last model's errors."""
    step = results["step"]
    preds = predict(model, test_x)
    return {
        "curves": plot_history(results, records.plot_path(step, "curves", out)),
        "misclassified": plot_misclassified(test_x, test_y, preds,
                                            records.plot_path(step, "misclassified", out)),
        "confusion": plot_confusion(test_y, preds, records.plot_path(step, "confusion", out)),
    }


def plot_overview(path: Path = records.RECORDED / "plots" / "overview.png", yours=()):
    """Results at a glance: parameters against the worst seed's lowest accuracy of the last
    epochs, for every step and every candidate with a test record, beside the target and the
    two budgets. ``yours``: more points ``(params, worst, label, (seeds held, seeds))``, a
    student's network (``judge.plot_beside_steps``), drawn as stars."""
    plt = pyplot()
    step_files = sorted((records.RECORDED / "results").glob("step*.json"))
    steps = [records.read_results(f) for f in step_files]

    def step_label(r):  # a step shorter than the rule's last epochs says which it judged
        judged, name = records.judged_epochs(r)
        return f"step {r['step']}" + (f" ({name} epochs)" if judged < LAST else "")

    points = [(r["params"], records.held(r)[2], step_label(r), records.held(r)) for r in steps]
    for file in sorted((records.RECORDED / "results" / "candidates").glob("*/results/*.json")):
        r = records.read_results(file)
        if not any(records.same_runs(r, step) for step in steps):  # one that became a step is the step
            points.append((r["params"], records.held(r)[2], file.parent.parent.name.split("_")[0],
                           records.held(r)))
    fig, ax = plt.subplots(figsize=(8, 4.5))
    placed = []
    for params, worst, label, (met, seeds, _) in sorted(points):
        ax.scatter(params, worst, s=40, zorder=3,
                   color="tab:green" if met == seeds else "tab:red")
        crowd = sum(abs(math.log(params / p)) < 0.5 and abs(worst - w) < 0.15 for p, w in placed)
        placed.append((params, worst))
        ax.annotate(f"{label}: {met}/{seeds} seeds", (params, worst), fontsize=8,
                    textcoords="offset points", xytext=[(7, 2), (7, -10), (7, 12)][crowd % 3])
    for params, worst, label, (met, seeds) in yours:
        ax.scatter(params, worst, s=160, marker="*", zorder=4, edgecolor="k",
                   color="tab:green" if met == seeds else "tab:orange")
        ax.annotate(f"{label}: {met}/{seeds} seeds", (params, worst), fontsize=9,
                    weight="bold", textcoords="offset points", xytext=(8, -14))
    low = min([98.0] + [worst - 0.1 for _, worst, *_ in yours])
    small = min([2_500] + [params / 1.5 for params, *_ in yours])
    ax.axhline(TARGET, color="k", ls=":", lw=1, label=f"{TARGET:.2f} % in each of the last {LAST}")
    for role, budget in BUDGETS.items():
        ax.axvline(budget, color="gray", ls="--", lw=1)
        ax.annotate(f"{budget:,} ({role})", (budget, low), fontsize=8,
                    rotation=90, va="bottom", ha="right")
    ax.set(xscale="log", xlabel="parameters (log scale)", ylim=(low, 99.6), xlim=(small, 2e7),
           ylabel=f"worst seed: lowest of last {LAST} epochs (%)",
           title="Every step and tested candidate: size against the worst seed")
    ax.legend(fontsize=8, loc="lower right")
    return save_figure(fig, path)
