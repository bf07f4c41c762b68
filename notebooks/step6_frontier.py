# ---
# jupyter:
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Step 6: Frontier: how few parameters can hold 99.4 %?
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/tiny-cnn/mnist-under-8k/blob/main/notebooks/step6_frontier.ipynb)
#
# ## Target
#
# Step 5 held 99.4 % with 7,752 parameters. The best public solution of this assignment we know
# of uses 3,762 parameters and shows 99.41-99.52 % in its last 4 of 15 epochs, on one seed. The
# frontier question: **under 4,000 parameters, at least 99.40 % test accuracy in each of the last
# 4 of 15 epochs, for each of 5 seeds** (stretch: 3,500 or fewer).
#
# Rules: a CNN trained from scratch on the 60,000 training images only, at most 15 epochs, no
# ensembles, no extra data, no distillation, nothing chosen on the test set. The candidates
# below were compared on a validation split (the last 10,000 training images) with 3 seeds each,
# and only the chosen one was then trained and measured on the test set.
#
# The network, `Step6Net` (3,936 parameters), is step 4's layout at about half the parameters,
# without dropout, and with its widths moved to the end: the last conv gives the classifier 20
# averaged features instead of 12. The training is step 5's (three-phase OneCycle, SGD with
# Nesterov momentum, BatchNorm statistics recomputed on clean training images after every
# epoch) with stronger augmentation: rotation up to 10 degrees, shifts up to 10 % and scale
# 0.9-1.1. The search below says why. This record replaces one made before precise BN, with
# the same training (README).
#
# The 5 seeds train at once, as one network of 5 independent copies (`utils.Copies`): copy k
# starts, shuffles and augments from seed k exactly as a run of seed k alone would.

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

STEP = 6
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
# ## The search: parameters against the worst seed
#
# Each row is a recorded run on the validation split, 3 seeds each
# (`Data/tuning/<candidate>/results/step6.json`, re-run with
# `python benchmarks/design_search.py <candidate> --seeds 1,2,3`). The table is printed from
# those files, so it cannot drift from them. The test-set runs are not used here: choosing on
# them would make the test set a validation set.

# %%
# NBVAL_CHECK_OUTPUT
sys.path.insert(0, str(root / "benchmarks"))
import design_search  # noqa: E402

print(design_search.pareto_table("validation"))

# %% [markdown]
# ## Training

# %%
results, model, _ = utils.run_recipe(recipe, out=out, device=device, data=data)

# %%
print(utils.format_results(results))
figures = utils.save_step_plots(results, model, test_x, test_y, out)
figures["curves"]

# %%
# Where the frontier lands on the test set, next to step 5 (Data/results; only reported).
print(design_search.pareto_table("test"))

# %%
figures["misclassified"]

# %%
figures["confusion"]

# %% [markdown]
# ## Results
#
# - Parameters: **3,936**; 15 epochs, 5 seeds trained at once, 3.1 min per seed on this CPU (15.6 min in all).
# - Best test accuracy: **99.33 ± 0.05 %** (mean ± std over seeds); the highest single epoch was 99.38 % (seed 4).
# - Lowest test accuracy in the last 4 epochs: **99.27 ± 0.03 %**, worst seed 99.22 % (seed 3).
# - Target (under 4,000 parameters and 99.40 % in each of the last 4 epochs, 5 of 5 seeds): met on **0 of 5 seeds**; the worst seed **missed by 0.18 points**. The frontier is not reached.

# %% [markdown]
# ## Analysis
#
# - The search (validation split, 3 seeds each) climbs with size: the worst seed's lowest of
#   the last 4 epochs is 99.17 % at 3,936 parameters (f6), 99.19 % at 5,706 (f5, with step 5's
#   milder augmentation) and 99.41 % for step 5's 7,752. Among the networks tried, only step 5's
#   holds 99.40 % on every validation seed, so it stays the smallest one that meets the
#   criterion there; on the test set the frontier model misses by 0.18 points.
# - What each idea bought, at about 3,950 parameters (mean of the seeds' lowest epoch, then the
#   worst seed): halving step 4's widths (f1) gives 99.08 / 98.97 %; dropout on top (f4) 99.09
#   / 99.04 %, so overfitting to the training images is not what holds a network this small
#   back; moving the widths to the end (f3: 20 averaged features for the classifier instead of
#   12, with fewer parameters) 99.16 / 99.04 %; stronger augmentation on top (f6: rotation 10
#   degrees, shifts 10 %, scale 0.9-1.1) 99.21 / 99.17 %. f6 became step 6. Depthwise-separable
#   convs after the pool (f7: four of them, 22 channels wide, 3,800 parameters) give 99.22 /
#   99.15 %: the same level with 136 fewer parameters, not a step up.
# - Precise BN did not carry over from validation to test. On the validation split it lifted
#   every seed's lowest of the last 4 epochs (by 0.03 points on average, paired: `benchmarks/precise_bn.py step6 --show`); on
#   the test set, against the earlier record of the same training without it (README), it
#   moved them by -0.04 to +0.01 points and the worst seed from 99.25 % to 99.22 %. Both are
#   within the noise of a few test images; the recipe keeps it because it was chosen before this
#   run, on validation.
# - The stronger augmentation trades training fit for generalization: on its augmented
#   training images the model ends at 99.00-99.13 %, below its test accuracy, and the test loss
#   (0.021-0.023) is still above step 5's (0.014-0.017). There is room in both directions.
# - One seed is not evidence: the best single epoch, 99.38 % (seed 4), is close to the
#   single-seed public result at 3,762 parameters, yet no seed holds 99.40 % over its last 4
#   epochs.
# - What I would try next, on the validation split with 3 seeds first: the stronger
#   augmentation at about 5,700 parameters (to find the smallest network that holds 99.40 %),
#   and a learning-rate peak and batch size tuned for the smaller network.
