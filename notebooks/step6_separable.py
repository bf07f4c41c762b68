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
# # Step 6: Depthwise-separable convs: fewer parameters, room kept
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/tiny-cnn/mnist-under-8k/blob/main/notebooks/step6_separable.ipynb)
#
# ## Target
#
# Step 5 holds the target with step 4's network, one channel wider. This step keeps the target
# and most of step 5's training (all but its dropout and precise BN, below), and asks for fewer
# parameters, by changing where the parameters go.
#
# - **Depthwise-separable convs.** A full 3x3 conv gives every output channel its own 3x3
#   filter over every input channel. A depthwise-separable conv splits that in two: one 3x3
#   filter per input channel (depthwise), then a 1x1 conv that mixes the channels (pointwise).
#   It costs 1/9 + 1/c_out of the full conv, so for the same parameters the layers after the
#   pool can be more than twice as wide as step 5's. The second conv is separable too; the
#   first conv and the 1x1 classifier after the global average pool stay full convs.
# - **No dropout**, as the frontier search trained its networks after its first ones (dropout
#   added to its first network, f4, lifted its worst of three seeds, not its mean). Its
#   training accuracy ends above its test accuracy on every seed: no sign of underfitting.
# - **Step 5's training otherwise**: its augmentation, its one-cycle schedule with the peak of
#   0.4 and its 4 clean last epochs; no precise BN, because the design search (below) chose
#   this network and training without it.
#
# This network and training are one *candidate* of the design search, f30 in
# `benchmarks/design_search.py` (`docs/frontier_search.md`): a recipe tried on the validation
# split (the last 10,000 training images) before anything is measured on the test set. There:
#
# <!-- generated: verdict-of Data/tuning/f30_clean_5658/results/step6.json -->
# **4 of 5 seeds** hold 99.40 % in each of the last 4 epochs; worst seed 99.36 % (seed 5), **missed by 0.04 points**.
# <!-- /generated -->
#
# It was measured on the test set because, when it was chosen, it was the smallest network
# to hold 4 of its 5 validation seeds (later candidates, f35 and f36, did so with fewer), with
# how it would be reported written down first. The recipe
# is f30's exactly, so the recorded run of this notebook repeats f30's test record seed for
# seed on the machine that recorded both.
#
# Target: **fewer parameters than step 5, and at least 99.40 % test accuracy in each of the
# last 4 of 15 epochs, for each of 5 seeds**, with room above the line, as step 5 has.

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
import devices
import plots
import records
import runner
import steps
import utils
from steps import RECIPES

STEP = 6
SEEDS = [1, 2, 3, 4, 5]  # the recipe's seeds; change them to train seeds of your own
recipe = RECIPES[STEP]
device = devices.get_device()
record = records.recording()  # True only when tools/run_notebook.py re-records the reference
out = records.output_dir(record=record, label=records.run_label(STEP, SEEDS))
print(f"this run writes into {out}")  # a new folder under runs/ (Data/ when recording)
train_x, train_y, test_x, test_y = data = utils.load_mnist(device)
print(f"{recipe.title} | device {devices.device_name(device)} | "
      f"{'quick' if utils.is_quick() else 'full'} mode: {len(train_x):,} train / {len(test_x):,} test images")
records.advise_runtime(device, STEP)  # Colab without a GPU: how to switch

# %%
# NBVAL_CHECK_OUTPUT
print("one batch:", tuple(train_x[:recipe.batch_size].shape), train_x.dtype,
      "| labels:", tuple(train_y[:recipe.batch_size].shape), train_y.dtype)
print("augmentation:", recipe.augment)

# %% [markdown]
# ## The model

# %%
# NBVAL_CHECK_OUTPUT
# This step's network as src/model.py defines it, and what its recipe changes since the last step.
import inspect  # noqa: E402

print(inspect.getsource(recipe.model))
if STEP > 1:
    print("What the recipe changes since step", STEP - 1, "(src/steps.py):")
    print(steps.recipe_changes(RECIPES[STEP - 1], recipe))

# %%
# NBVAL_CHECK_OUTPUT
model = recipe.model()
print(plots.model_summary(model))

# %%
# NBVAL_CHECK_OUTPUT
print(plots.format_layer_table(plots.layer_table(model)))

# %%
plots.plot_samples(train_x, train_y, records.plot_path(STEP, "samples", out), augment=recipe.augment)

# %% [markdown]
# ## What a separable conv saves
#
# The same 36-to-36-channel 3x3 layer, as a full conv and as a depthwise-separable one (the
# BatchNorm after it aside):

# %%
# NBVAL_CHECK_OUTPUT
import torch.nn as nn  # noqa: E402

import model as networks  # noqa: E402

full = nn.Conv2d(36, 36, 3, bias=False)
separable = networks.separable_block(36, 36)
separable_weights = sum(m.weight.numel() for m in separable if isinstance(m, nn.Conv2d))
print(f"full 3x3 conv:        {full.weight.numel():,} weights")
print(f"depthwise-separable:  {separable_weights:,} weights "
      f"({separable_weights / full.weight.numel():.3f} of the full conv; "
      f"1/9 + 1/36 = {1 / 9 + 1 / 36:.3f})")

# %% [markdown]
# ## Training

# %%
results, model, _ = runner.run_recipe(recipe, SEEDS, out=out, record=record, device=device,
                                     data=data)

# %%
print(records.format_results(results))
print(records.compare_with_recorded(results))
figures = plots.save_step_plots(results, model, test_x, test_y, out)
figures["curves"]

# %%
figures["misclassified"]

# %%
figures["confusion"]

# %% [markdown]
# ## Results
#
# From the recorded run (`Data/results/step6.json`; the tests check these lines against it):
#
# <!-- generated: step-results-6 -->
# - Parameters: **5,658**; 15 epochs, 5 seeds, 4.2 min per seed on cpu (21 min in all). The only test record of step 6: one look at the test set.
# - Best test accuracy **99.55 ± 0.05 %** (mean ± std over seeds); the highest single epoch 99.63 % (seed 3).
# - Lowest test accuracy in the last 4 epochs: **99.52 ± 0.04 %**.
# - Criterion (99.40 % in each of the last 4 epochs, every seed): **5 of 5 seeds** hold 99.40 % in each of the last 4 epochs; worst seed 99.46 % (seed 2).
# - On the validation split (the same layers and recipe, recorded by the design search as `f30_clean_5658`): **4 of 5 seeds** hold 99.40 % in each of the last 4 epochs; worst seed 99.36 % (seed 5), **missed by 0.04 points**.
# <!-- /generated -->

# %% [markdown]
# ## Analysis
#
# - Width for fewer parameters: after the pool this network is more than twice as wide as
#   step 5's, and it has fewer parameters in all (the summaries of both notebooks).
# - Room kept: every seed keeps the room step 5's search asked for in each of the last 4
#   epochs, though its worst seed sits a little lower than step 5's (the Results of both;
#   `tests/test_claims.py` holds this sentence to the records).
# - The shape alone was not enough: on the validation split the same shape with the peak of
#   step 5's first recipe and no clean epochs (f17) did not hold the target on every seed.
#   f30 changed both at once, the higher peak and the clean last epochs, so which one carried
#   it over is not separated on this network; on the frontier's smaller network the higher
#   peak gave the clearer gain (`docs/frontier_search.md`).
# - Nothing here was chosen on the test set: f30 was chosen on validation seeds, and measured on
#   the test set once; this notebook's recorded run is that measurement repeated.

# %% [markdown]
# ## Exercises
#
# Predict first, on paper or in a comment; then open the answer, which is computed from the
# code and the recorded runs.
#
# ### 1. The price of a separable conv
#
# Count the weights of one separable block after the pool (a 3x3 depthwise conv, then a 1x1
# conv), against a full 3x3 conv with the same channels.
#
# <details><summary>Answer</summary>
#
# <!-- generated: answer step6-separable -->
# Depthwise 36 x 3 x 3 = 324, pointwise 36 x 36 = 1,296: **1,620** weights, against 11,664 for a full 3x3 conv (36 x 36 x 9), **7.2 times** fewer.
# <!-- /generated -->
#
# </details>
#
# ### 2. As much margin?
#
# With fewer parameters than step 5, predict whether step 6's worst seed sits higher or lower
# above the line than step 5's.
#
# <details><summary>Answer</summary>
#
# <!-- generated: answer step6-against-step5 -->
# Step 6's worst seed: **99.46 %** (5 of 5 hold); step 5's: **99.49 %** (5 of 5).
# <!-- /generated -->
#
# </details>
