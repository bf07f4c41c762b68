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
# # Step 6: Depthwise-separable convs: fewer parameters, more margin
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/tiny-cnn/mnist-under-8k/blob/main/notebooks/step6_separable.ipynb)
#
# ## Target
#
# Step 5 holds the target with step 4's network. This step keeps the target and step 5's
# training, and asks for fewer parameters, by changing where the parameters go.
#
# - **Depthwise-separable convs.** A full 3x3 conv gives every output channel its own 3x3
#   filter over every input channel. A depthwise-separable conv splits that in two: one 3x3
#   filter per input channel (depthwise), then a 1x1 conv that mixes the channels (pointwise).
#   It costs 1/9 + 1/c_out of the full conv, so for the same parameters the layers after the
#   pool can be more than twice as wide as step 5's. The second conv is separable too.
# - **No dropout.** A network this small underfits under step 5's strong augmentation: it needs
#   every feature it has, not dropped ones.
# - **Step 5's training, found here first.** Strong augmentation, the higher learning-rate peak
#   and the last 4 epochs on clean images were found on the separable networks of the frontier
#   search; the search for room (`docs/step5_room.md`) then carried them back to step 5's
#   network.
#
# This is candidate f30 of the design search (`benchmarks/design_search.py`,
# `docs/frontier_search.md`): chosen on the validation split (the last 10,000 training images),
# with how it would be reported written down before it was measured once on the test set. Its
# recipe is f30's exactly (without precise BN, as it was validated), so the recorded run of this
# notebook repeats f30's test record seed for seed.
#
# Target: **fewer parameters than step 5, and at least 99.40 % test accuracy in each of the
# last 4 of 15 epochs, for each of 5 seeds**, with more room above the line than step 5.

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
import records
import seeds
import utils
from steps import RECIPES

STEP = 6
recipe = RECIPES[STEP]
device = utils.get_device()
record = records.recording()  # True only when tools/run_notebook.py re-records the reference
out = records.output_dir(record=record)  # runs/, or Data/ when recording
train_x, train_y, test_x, test_y = data = utils.load_mnist(device)
print(f"{recipe.title} | device {utils.device_name(device)} | "
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
    print(utils.recipe_changes(RECIPES[STEP - 1], recipe))

# %%
# NBVAL_CHECK_OUTPUT
model = recipe.model()
print(utils.model_summary(model))

# %%
# NBVAL_CHECK_OUTPUT
print(utils.format_rf_table(utils.receptive_field_table(model)))

# %%
utils.plot_samples(train_x, train_y, records.plot_path(STEP, "samples", out), augment=recipe.augment)

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
results, model, _ = seeds.run_recipe(recipe, out=out, record=record, device=device, data=data)

# %%
print(records.format_results(results))
print(records.compare_with_recorded(results))
figures = records.save_step_plots(results, model, test_x, test_y, out)
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
# - Parameters: **5,658**; 15 epochs, 5 seeds, 4.2 min per seed on cpu.
# - Best test accuracy **99.55 ± 0.05 %** (mean ± std over seeds); the highest single epoch 99.63 % (seed 3).
# - Lowest test accuracy in the last 4 epochs: **99.52 ± 0.04 %**.
# - Criterion (99.40 % in each of the last 4 epochs, every seed): **5 of 5 seeds** hold 99.40 % in each of the last 4 epochs; worst seed 99.46 % (seed 2).
# <!-- /generated -->

# %% [markdown]
# ## Analysis
#
# - Width for fewer parameters: after the pool this network is more than twice as wide as
#   step 5's, and it has fewer parameters in all (the summaries of both notebooks).
# - More margin: its worst seed sits further above the line than step 5's (the Results of both;
#   `tests/test_claims.py` holds this sentence to the records).
# - The shape alone was not enough: on the validation split the same shape with the peak of
#   step 5's first recipe and no clean epochs (f17) did not hold the target on every seed. The
#   clean last epochs are what carried it over (`docs/frontier_search.md`).
# - Nothing here was chosen on the test set: f30 was chosen on validation seeds, and measured on
#   the test set once; this notebook's recorded run is that measurement repeated.
