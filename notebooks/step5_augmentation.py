# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Step 5: Augmentation and OneCycle: the final model
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/tiny-cnn/mnist-under-8k/blob/main/notebooks/step5_augmentation.ipynb)
#
# ## Target
#
# The headline: keep step 4's network (`Step4Net`, 7,752 parameters, dropout 0.05) and change
# only the training.
#
# - **Augmentation**: a random rotation of up to 7 degrees and a scale of 0.95-1.05 per image,
#   applied to the whole batch at once on tensors (`utils.augment_batch`), shows the model the
#   small slants and sizes that the test digits have.
# - **OneCycle, three-phase**: SGD with Nesterov momentum, weight decay 1e-4, stepped every
#   batch. The learning rate warms up from 0.02 to 0.2 over 3 epochs, comes back to 0.02 by
#   epoch 6, then anneals to 0.0002, so the last epochs run at a low, settling rate.
#
# These choices won a small design search on a validation split (the last 10,000 training
# images), never on the test set; the README lists those runs.
#
# Target: **under 8,000 parameters and at least 99.40 % test accuracy in each of the last 4 of
# 15 epochs, for each of 5 seeds**.

# %%
# Bootstrap. On Colab: clone the repository and install the one package Colab lacks (torch is
# preinstalled there and is left alone). Anywhere else: find src/ above this notebook.
import os
import subprocess
import sys
from pathlib import Path

REPO_URL = os.environ.get("MNIST_REPO_URL", "https://github.com/tiny-cnn/mnist-under-8k")
if "google.colab" in sys.modules:
    root = Path.cwd() / "mnist-under-8k"
    if not (root / "src").is_dir():
        subprocess.run(["git", "clone", "--depth", "1", REPO_URL, str(root)], check=True)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "torchsummary"], check=True)
else:
    root = next(p for p in (Path.cwd(), *Path.cwd().parents) if (p / "src" / "utils.py").is_file())
sys.path.insert(0, str(root / "src"))

# %%
import utils
from steps import RECIPES

STEP = 5
recipe = RECIPES[STEP]
device = utils.get_device()
out = utils.output_dir()  # Data/ in a full run; a temporary folder in quick mode (tests)
train_x, train_y, test_x, test_y = data = utils.load_mnist(device)
print(f"{recipe.title} | device {utils.device_name(device)} | "
      f"{'quick' if utils.is_quick() else 'full'} mode: {len(train_x):,} train / {len(test_x):,} test images")

# %%
# NBVAL_CHECK_OUTPUT
print("one batch:", tuple(train_x[:recipe.batch_size].shape), train_x.dtype,
      "| labels:", tuple(train_y[:recipe.batch_size].shape), train_y.dtype)
print("augmentation:", recipe.augment)

# %% [markdown]
# ## The model

# %%
# NBVAL_CHECK_OUTPUT
model = recipe.model()
print(utils.model_summary(model))

# %%
# NBVAL_CHECK_OUTPUT
print(utils.format_rf_table(utils.receptive_field_table(model)))

# %%
utils.plot_samples(train_x, train_y, utils.plot_path(STEP, "samples", out), augment=recipe.augment)

# %% [markdown]
# ## Training

# %%
results, model, _ = utils.run_recipe(recipe, out=out, device=device, data=data)

# %%
print(utils.format_results(results))
figures = utils.save_step_plots(results, model, test_x, test_y, out)
figures["curves"]

# %%
figures["misclassified"]

# %%
figures["confusion"]

# %% [markdown]
# ## Results
#
# - Parameters: **7,752**; 15 epochs, 5 seeds, 4.6 min per seed on this CPU (23.2 min in all).
# - Best test accuracy: **99.48 ± 0.04 %** (mean ± std over seeds); the highest single epoch was 99.54 %.
# - Lowest test accuracy in the last 4 epochs: **99.42 ± 0.05 %**, worst seed 99.33 %.
# - Target: met on **4 of 5 seeds**. Seed 1 held 99.33-99.41 % in its last 4 epochs: the target is **missed by 0.07 points** on that seed.

# %% [markdown]
# ## Analysis
#
# - Augmentation stops the overfitting: training accuracy, measured on augmented images, ends
#   at 99.40-99.41 % across seeds, level with the test accuracy, where step 4's
#   ended at 99.50 %, above its test accuracy.
# - The three-phase schedule does what it was chosen for: each seed's last 4 epochs stay within
#   0.08 points of each other, so the result is steady rather than a lucky peak.
# - The level is not quite there. Seed 1 ends lower here (99.33-99.41 %) than step 4 did on the
#   same seed without augmentation (99.46-99.49 %). One seed of step 4 cannot tell whether
#   augmentation costs accuracy at this size or whether the seeds differ; the validation search
#   in the README found every variant within about 0.1 point of the others, which is also the
#   size of the spread between seeds.
# - Measured afterwards on the validation split with seeds 1-3 each, step 5's recipe holds
#   99.44 ± 0.02 % over the last 4 epochs against 99.25 ± 0.03 % for step 4's (README, design
#   search): on average the augmentation and schedule help; seed 1 on the test set is one draw.
# - What would help next, tried on the validation split with several seeds first: spend the
#   247 parameters left in the budget, or make the network cheaper per parameter (the
#   frontier step's question).
