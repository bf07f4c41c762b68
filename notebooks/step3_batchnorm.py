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
# # Step 3: Under 8k: BatchNorm and dropout
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/tiny-cnn/mnist-under-8k/blob/main/notebooks/step3_batchnorm.ipynb)
#
# ## Target
#
# Go under 8,000 parameters and make training steadier. Thinner blocks (8 to 16 channels), a
# BatchNorm after every conv but the last (so each layer sees inputs of a stable scale and a
# higher learning rate is safe), dropout 0.05 against overfitting, and a second max-pool so the
# big final kernel shrinks from 6x6 to 4x4. Same optimizer as step 2.

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

STEP = 3
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
# From the recorded run (`Data/results/step3.json`; the tests check these lines against it):
#
# <!-- generated: step-results-3 -->
# - Parameters: **6,306**; 15 epochs, seed 1, 4.5 min per seed on cpu. The only test record of step 3: one look at the test set.
# - Best test accuracy **99.22 %** (epoch 13); last 4 epochs 99.12-99.22 %.
# - Training accuracy at the end: 99.40 %.
# <!-- /generated -->

# %% [markdown]
# ## Analysis
#
# - With about half the parameters of step 2, the model is better (compare the Results of the
#   two steps, or the README's table) and starts much faster: BatchNorm lets every layer train at
#   a sensible scale from the first batch. Under step 5's much higher learning rates, step 2's
#   network, without it, does not learn at all, and this one does
#   (`docs/network_or_recipe.md`).
# - Training accuracy still ends above test accuracy, and the test curve still wobbles: a
#   constant learning rate keeps it bouncing around the minimum.
# - The final kernel still holds a large share of the weights (see the summary), and it ties the
#   decision to where a stroke appears in the last small map.
# - Next (step 4): global average pooling and a 1x1 conv in its place, and a learning-rate step.

# %% [markdown]
# ## Exercises
#
# Predict first, on paper or in a comment; then open the answer, which is computed from the
# code and the recorded runs.
#
# ### 1. The biggest layer now
#
# After adding BatchNorm and a second pool, which layer holds the most parameters, and what
# share? (This is what step 4's GAP replaces.)
#
# <details><summary>Answer</summary>
#
# <!-- generated: answer step3-largest -->
# `features.7` (Conv2d) holds **2,570** of the 6,306 parameters, **41 %**.
# <!-- /generated -->
#
# </details>
#
# ### 2. Training against test
#
# With dropout on during training, will the final training accuracy be above or below the test
# accuracy? By how much?
#
# <details><summary>Answer</summary>
#
# <!-- generated: answer step3-train-test -->
# At the end, training accuracy **99.40 %** (dropout on), test accuracy **99.14 %**: training is above test by 0.26 points.
# <!-- /generated -->
#
# </details>
