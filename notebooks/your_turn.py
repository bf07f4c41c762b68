# ---
# jupyter:
#   accelerator: GPU
#   colab:
#     gpuType: T4
#     provenance: []
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Your turn: design a network and have it judged
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/tiny-cnn/mnist-under-8k/blob/main/notebooks/your_turn.ipynb)
#
# ## Target
#
# The exercise, now yours: **a network of fewer than 8,000 parameters that holds at least
# 99.40 % in each of the last 4 of at most 15 epochs, on every seed**, judged by the rule the
# series judges its own steps with (`src/judge.py`). The stretch, step 7's question: fewer than
# 4,000 (set `BUDGET = 4_000` below).
#
# How it goes: edit the network in the cell below; the judge checks it before any training
# (the parameter budget, with the parameters per layer; a batch of shape (N, 1, 28, 28) giving
# logits of shape (N, 10); the receptive field), says how long training will take on your
# device, trains it with step 5's recipe on the **validation split** (the
# last 10,000 training images), and gives the verdict. Your runs go to `runs/<your class>/`,
# never into `Data/`. The same judge runs from a terminal:
# `python src/train.py --model my_net.py:MyNet --seeds 1,2,3`.
#
# The network below starts as a copy of step 3's (6,306 parameters, no global average
# pooling), written out so you can change any line. Trained here with step 5's recipe, does the
# recipe alone carry it to the target? Run it first as it is, then make it yours.

# %%
# Bootstrap. On Colab: clone the repository and install the one package Colab lacks (torch is
# preinstalled there and is left alone). Anywhere else: find src/ above this notebook.
# REPO_URL and BRANCH come from colab.json (a fork: `python tools/set_repo_url.py --url ...`).
import os
import subprocess
import sys
from pathlib import Path

REPO_URL = os.environ.get("MNIST_REPO_URL", "https://github.com/tiny-cnn/mnist-under-8k")
BRANCH = "main"
if "google.colab" in sys.modules:
    root = Path.cwd() / REPO_URL.rstrip("/").removesuffix(".git").rsplit("/", 1)[-1]
    if not (root / "src").is_dir():
        subprocess.run(["git", "clone", "--depth", "1", "--branch", BRANCH, REPO_URL, str(root)],
                       check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "torchsummary"], check=True)
else:
    root = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "src" / "utils.py").is_file())
sys.path.insert(0, str(root / "src"))

# %%
import torch.nn as nn

import devices
import judge
import records
import utils
from model import conv_block

device = devices.get_device()
print(f"device {devices.device_name(device)} | {'quick' if utils.is_quick() else 'full'} mode")
records.advise_runtime(device, judge.FINAL_STEP)  # Colab without a GPU: how to switch

# %% [markdown]
# ## Your network
#
# `conv_block(c_in, c_out, kernel=3, padding=0, bn=False, dropout=0.0)` is Conv -> ReLU, with
# BatchNorm after it only if you pass `bn=True` and Dropout only if `dropout` > 0
# (`src/model.py`: `conv_block(8, 16)` has no BatchNorm); `model.separable_block` is step 6's
# depthwise-separable conv. Any `nn.Module` works whose `__init__` takes no arguments (or only
# ones with defaults) and whose forward maps (N, 1, 28, 28) to (N, 10).

# %%
class MyNet(nn.Module):
    """Start: step 3's network, written out. Ideas: step 4's GAP (nn.AdaptiveAvgPool2d(1) and
    a 1x1 conv) in place of the 4x4 kernel; wider blocks with what that frees."""

    def __init__(self):
        super().__init__()
        block = dict(bn=True, dropout=0.05)
        self.features = nn.Sequential(
            conv_block(1, 8, **block),      # out 8x26x26, RF 3
            conv_block(8, 12, **block),     # out 12x24x24, RF 5
            nn.MaxPool2d(2),                # out 12x12x12, RF 6
            conv_block(12, 8, 1, **block),  # out 8x12x12, RF 6
            conv_block(8, 12, **block),     # out 12x10x10, RF 10
            conv_block(12, 16, **block),    # out 16x8x8, RF 14
            nn.MaxPool2d(2),                # out 16x4x4, RF 16
            nn.Conv2d(16, 10, 4),           # out 10x1x1, RF 28
            nn.Flatten(),
        )

    def forward(self, x):
        return self.features(x)


BUDGET = judge.BUDGET  # 8,000; 4_000 for the frontier challenge

# %% [markdown]
# **From this notebook to a file, for the terminal.** Save the class in a file of its own, say
# `my_net.py` at the repository's root: first the two imports it uses, `import torch.nn as nn`
# and `from model import conv_block`, then the `class MyNet` cell above, as it is. Then
# `python src/train.py --model my_net.py:MyNet` checks, trains and judges it as this notebook
# does (`src/` is on its path, so `model` imports).

# %% [markdown]
# ## The checks, before any training
#
# A failed check stops here with one sentence that says what to change.

# %%
# NBVAL_CHECK_OUTPUT
print(judge.check(MyNet, BUDGET))

# %% [markdown]
# ## How long it will take
#
# One seed on a CPU (each takes minutes), three on a CUDA GPU. The exercise asks every seed: once a
# design looks good, ask for more with `SEEDS = [1, 2, 3, 4, 5]`.

# %%
SEEDS = judge.default_seeds(device)
recipe = judge.recipe_for(MyNet)  # step 5's recipe; yours: judge.recipe_for(MyNet, epochs=12)
data = utils.load_mnist(device, validation=True)
print(f"seeds {SEEDS} | {len(data[0]):,} train / {len(data[2]):,} validation images")
if len(SEEDS) == 1:
    print("One seed: each takes minutes here. Ask for more with SEEDS = [1, 2, 3, 4, 5].")
print(judge.expected_time(recipe, data, SEEDS))

# %% [markdown]
# ## Training and the verdict

# %%
judged = judge.judge(MyNet, SEEDS, budget=BUDGET, recipe=recipe, device=device, data=data,
                     preamble=False)

# %%
print(records.format_results(judged.results))
judged.figures["curves"]

# %%
judge.plot_beside_steps(judged)

# %% [markdown]
# ## Results
#
# Your numbers are the ones printed above, from the run just made: the verdict line (the
# worst seed and the epoch it dipped in), the table per seed, the curves, and your network as
# a star on the series' overview figure (your point is measured on the validation split, the
# steps' on the test set). They are saved in `runs/<your class>/validation/`. The outputs
# committed with this notebook are one full run of its starting network on a CPU.
#
# ## Analysis: the questions to ask of your result
#
# - **Which seed is worst, and in which epoch?** A dip early in the last 4 epochs points to a
#   learning rate still high there, or to the switch from augmented to clean images (step 5's
#   worst test seed dips in its first clean epoch); a dip in the very last epoch is noise
#   around a level that is too low.
# - **Training against validation accuracy** (`judged.results["runs"]`): the training accuracy
#   here is measured on augmented batches with dropout on, so with step 5's recipe it sits
#   below validation by construction; it says little about overfitting. Both low, and low early
#   too, is underfitting (more width where the receptive field is large, fewer parameters in
#   the first layers).
# - **Where the parameters went** (the table of the checks): one layer holding half the
#   budget is the first place to look, as step 2's final kernel and step 4's GAP showed.
# - **What the receptive field says**: the last layer should see the whole image, an RF of 28
#   (the image's side). Reaching it late is no fault: steps 4-6 reach it only at their global
#   average pool, with a 1x1 conv after it, and their records hold the target.
# - **What to change next**: one thing at a time, judged again on the same seeds, as the
#   series' own searches did (`docs/`).
#
# ## When your design is finished: the test set, once
#
# Choosing between designs by their test accuracy fits the design to the test set; the
# number then no longer says how the network does on digits it was never chosen on. Measure
# a finished design on the test set once, and report what it shows.

# %%
MEASURE_ON_THE_TEST_SET = False  # True once, for a design you have finished choosing
if MEASURE_ON_THE_TEST_SET:
    tested = judge.judge(MyNet, SEEDS, budget=BUDGET, recipe=recipe, device=device, test_set=True)
else:
    print("Not measured on the test set: choose on the validation split first.")
