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
# # Step 2: Skeleton: the right shape, far lighter
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/tiny-cnn/mnist-under-8k/blob/main/notebooks/step2_skeleton.ipynb)
#
# ## Target
#
# Keep the working pipeline and fix the shape of the network: two 3x3 blocks to reach a
# receptive field of 5 (edges and gradients), a max-pool, a 1x1 conv that squeezes the channels
# back to 8, three more 3x3 blocks, and one 6x6 kernel that maps the last 6x6 map straight to
# the 10 logits. Channels never exceed 16, so the model drops from 6.4M to about 13k parameters.
# Still no BatchNorm, dropout or augmentation: we want to see what the bare skeleton can do in
# 15 epochs of SGD (lr 0.02, momentum 0.9).

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

STEP = 2
SEEDS = [1]  # the recipe's seeds; change them to train seeds of your own
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

# %% [markdown]
# **Reading the table.** The receptive field (RF) of a layer is the side, in input pixels, of
# the square one of its output pixels sees; the *jump* is how many input pixels lie between two neighbouring
# output pixels. Each layer with kernel k adds (k - 1) x jump to the RF, and a stride
# multiplies the jump: a 3x3 conv adds 2 x jump, a 1x1 conv adds nothing, a 2x2 max-pool of
# stride 2 adds 1 x jump and then doubles the jump, and one kernel (or a global average pool)
# over a whole n x n map adds (n - 1) x jump. Step 2's network, layer by layer:
#
# <!-- generated: rf-worked 2 -->
# | Layer | Type | Output (C x H x W) | RF = RF before + (k - 1) x jump before | Jump after |
# |---|---|---|---|---:|
# | `features.0.0` | Conv2d 3x3 | 8 x 26 x 26 | 1 + 2 x 1 = 3 | 1 |
# | `features.1.0` | Conv2d 3x3 | 16 x 24 x 24 | 3 + 2 x 1 = 5 | 1 |
# | `features.2` | MaxPool2d 2x2, stride 2 | 16 x 12 x 12 | 5 + 1 x 1 = 6 | 2 |
# | `features.3.0` | Conv2d 1x1 | 8 x 12 x 12 | 6 + 0 x 2 = 6 | 2 |
# | `features.4.0` | Conv2d 3x3 | 16 x 10 x 10 | 6 + 2 x 2 = 10 | 2 |
# | `features.5.0` | Conv2d 3x3 | 16 x 8 x 8 | 10 + 2 x 2 = 14 | 2 |
# | `features.6.0` | Conv2d 3x3 | 16 x 6 x 6 | 14 + 2 x 2 = 18 | 2 |
# | `features.7` | Conv2d 6x6 | 10 x 1 x 1 | 18 + 5 x 2 = 28 | 2 |
# <!-- /generated -->

# %%
plots.plot_samples(train_x, train_y, records.plot_path(STEP, "samples", out), augment=recipe.augment)

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
# From the recorded run (`Data/results/step2.json`; the tests check these lines against it):
#
# <!-- generated: step-results-2 -->
# - Parameters: **12,962**; 15 epochs, seed 1, 2.4 min per seed on cpu. The only test record of step 2: one look at the test set.
# - Best test accuracy **98.85 %** (epoch 15); last 4 epochs 98.66-98.85 %.
# - Training accuracy at the end: 99.18 %.
# <!-- /generated -->

# %% [markdown]
# ## Analysis
#
# - The skeleton learns, but slowly at first (see the first epoch's training accuracy in the
#   log): without BatchNorm the stack of unnormalized convs starts badly and needs a modest
#   learning rate.
# - Test accuracy wobbles from epoch to epoch, and in the second half training accuracy
#   overtakes test accuracy: the model begins to overfit.
# - The summary shows the final big kernel holding almost half of the model's weights, for a
#   single layer.
# - Next (step 3): BatchNorm after every conv but the last, a little dropout, and a second
#   max-pool so the final kernel shrinks, all under 8,000 parameters.

# %% [markdown]
# ## Exercises
#
# Predict first, on paper or in a comment; then open the answer, which is computed from the
# code and the recorded runs.
#
# ### 1. Remove the max-pool
#
# Predict what the last layer's output shape and receptive field become if `nn.MaxPool2d(2)` is
# deleted from `Step2Net` (use the rule under the receptive-field table). Would the network
# still give 10 logits?
#
# <details><summary>Answer</summary>
#
# <!-- generated: answer step2-no-pool -->
# Without `features.2` (MaxPool2d) the jump never doubles: the last layer's output is 10x13x13 (not 10x1x1) and it sees **16x16** pixels (not 28x28). The output is no longer one logit per digit: the network would need another layer to reach (N, 10).
# <!-- /generated -->
#
# </details>
#
# ### 2. The final kernel's share
#
# What share of the parameters does the 6x6 final kernel hold? It is the layer step 3 and step 4
# go after.
#
# <details><summary>Answer</summary>
#
# <!-- generated: answer step2-largest -->
# `features.7` (Conv2d) holds **5,770** of the 12,962 parameters, **45 %**.
# <!-- /generated -->
#
# </details>
#
# ### 3. Does the curve settle?
#
# Without BatchNorm or a schedule, predict whether the best test accuracy comes early or in the
# last epoch. Then read the record.
#
# <details><summary>Answer</summary>
#
# <!-- generated: answer step2-best-epoch -->
# Seed 1's best test accuracy is **98.85 %** in epoch **15** of 15; in the last 4 epochs it moves between 98.66 and 98.85 %.
# <!-- /generated -->
#
# </details>
