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
# # Step 5: Augmentation and OneCycle: the final model
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/tiny-cnn/mnist-under-8k/blob/main/notebooks/step5_augmentation.ipynb)
#
# ## Target
#
# The headline: change the training, and spend one channel more of the budget on step 4's
# network: `Step5Net` is `Step4Net` (dropout 0.05) with its narrowest layer, the 1x1
# transition after the pool, 9 channels wide instead of 8. The parameter count is in the model
# summary below.
#
# - **Augmentation**: a random rotation of up to 10 degrees, a shift of up to 10 % and a scale
#   of 0.9-1.1 per image, applied to the whole batch at once on tensors
#   (`utils.augment_batch`), shows the model the slants, positions and sizes that handwriting
#   has.
# - **OneCycle, three-phase**: SGD with Nesterov momentum, weight decay 1e-4, stepped every
#   batch. The learning rate warms up from 0.04 to 0.4 over 3 epochs, comes back to 0.04 by
#   epoch 6, then anneals to 0.0004, so the last epochs run at a low, settling rate.
# - **The last 4 epochs on clean images** (`clean_last_epochs`): augmentation is switched off
#   while the learning rate is low, so the network ends by fitting the real digits it will be
#   tested on, after augmentation has taught it the variations.
# - **BatchNorm statistics recomputed after every epoch** ("precise BN",
#   `utils.recompute_batchnorm_stats`): during training BatchNorm keeps running averages of
#   augmented, dropout-noised batches that weight the last few most, so the statistics the
#   network is tested with drift from epoch to epoch. Before each test they are averaged anew
#   over 10,000 clean training images with dropout off. Training itself is unchanged: it
#   normalizes with the statistics of each batch.
#
# The choices were made on a validation split (the last 10,000 training images), never on the
# test set. The first search started from a base that already had augmentation, a one-cycle
# schedule, Nesterov momentum and weight decay; it chose the three-phase schedule and keeping
# dropout, and a later check adopted precise BN (`docs/research_log.md`). That recipe held the
# target with no room to spare, so a second search (`docs/step5_room.md`) chose the stronger
# augmentation, the higher peak and the clean last epochs, with a bar written down before its
# runs; its fourth round chose the wider transition over that recipe on step 4's network, on
# the validation split over 10 seeds. What each ingredient is worth, removed one at a time, is
# the ablation below.
#
# The recorded run trained the 5 seeds one after another (`how="one-after-another"`), as the
# validation runs of this recipe did, and that is the default on a CPU: it repeats the
# record's digits on the machine that made it. Two seeds side by side in processes of one
# thread each (`how="side-by-side"`) were measured about a quarter faster on this project's
# CPU, but a process of one thread sums in another order, so those runs differ in their digits
# (`docs/research_log.md`, "Many seeds at once").
# On a GPU they train packed, as one network of 5 independent copies (`seeds.Copies`): copy k
# starts, shuffles and augments from seed k exactly as a run of seed k alone; the dropout masks
# (drawn for all copies together) and the order of floating-point sums differ, so a packed run
# differs a little from the record.
#
# Target: **under 8,000 parameters and at least 99.40 % test accuracy in each of the last 4 of
# 15 epochs, for each of 5 seeds**, and, what the second search aimed at, room above it: at
# least 99.45 % on every seed.

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

STEP = 5
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
# From the recorded run (`Data/results/step5.json`; the tests check these lines against it):
#
# <!-- generated: step-results-5 -->
# - Parameters: **7,914**; 15 epochs, 5 seeds, 5.0 min per seed on cpu (25 min in all).
# - Best test accuracy **99.57 ± 0.03 %** (mean ± std over seeds); the highest single epoch 99.61 % (seed 3).
# - Lowest test accuracy in the last 4 epochs: **99.53 ± 0.03 %**.
# - Target (under 8,000 parameters, 99.40 % in each of the last 4 of at most 15 epochs, every seed): **5 of 5 seeds** hold 99.40 % in each of the last 4 epochs; worst seed 99.49 % (seed 1).
# - On the validation split (the same layers and recipe, recorded by the design search as `s5_wider_transition`): **7 of 10 seeds** hold 99.40 % in each of the last 4 epochs; worst seed 99.37 % (seed 3), **missed by 0.03 points**.
# - On another machine a seed trains other digits. On the validation split the same seeds (1, 2, 3) of this recipe on two CPUs moved by up to 0.06 points, against a spread of 0.10 points over 10 seeds on one. No GPU run is recorded: a GPU is another machine too, so read your run by where its seeds fall against the recorded range (the notebook and `train.py` say it), not by its digits.
# <!-- /generated -->

# %% [markdown]
# ## Analysis
#
# - Augmentation stops the overfitting: while the images are augmented, training accuracy
#   (measured on them, dropout on) stays below the test accuracy, where step 4's ended above
#   it. In the clean last 4 epochs it rises, and it still ends below the test accuracy on every
#   seed: the network fits the real digits without memorising them.
# - The three-phase schedule does what it was chosen for: a seed's last 4 epochs stay close to
#   each other, so each seed's result is steady rather than a lucky peak.
# - What changed since step 5's first recipe, and why: stronger augmentation and twice the
#   learning-rate peak let the network learn more variation, and the clean last epochs let it
#   finish on the real digits. Dropout mattered on step 4's network: on the validation split the
#   same training without dropout fitted its training images more closely on every seed and did
#   not lift the worst seed; with dropout it lifted both the worst seed and the mean
#   (`docs/step5_room.md`). On `Step5Net`, without dropout the network validates level on three
#   seeds (the ablation below).
# - What changed in the network: one channel more in the 1x1 transition after the pool, the
#   narrowest layer, which every feature after the pool passes through. Over 10 seeds of the
#   validation split it lifted the worst seed of the same training on step 4's network, not the number of seeds
#   that hold (`docs/step5_room.md`, the fourth round).
# - The room it leaves: every seed keeps the room asked for (the second search's target, in
#   each of the last 4 epochs), so the goal of room on every seed is met on the test set. Against the recipe it
#   replaced, the same training on step 4's network (`Data/results/before_round_4/step5.json`),
#   the worst seed and the mean of the seeds' lowest epochs are both higher. On the validation
#   split most of its seeds fall short of that room, and some of the target: a run of your own,
#   on other seeds or another machine, can land below this record.
# - Taken apart one ingredient at a time on step 4's network (the first ablation, three
#   validation seeds each, in `docs/step5_ablation.md`), only the schedule's removal clearly
#   shows: without augmentation, the clean last epochs or weight decay the network validates
#   level with the full recipe, and without precise BN a little lower with the same training.
#   The exercise's margin is not one ingredient's. The same ablation of this recipe, on
#   `Step5Net`, is the table below.
# - Precise BN changes only what the test sees: the first recipe without it, recorded with the
#   same seeds, has identical training histories (research log, "precise BN"). Per seed the
#   effect is small, but a seed on the line can fall either side of it.

# %% [markdown]
# ## The ablation: what each ingredient is worth
#
# Step 5's recipe with one ingredient removed at a time, on validation seeds 1-3, each against
# the full recipe trained on the same machine and seeds (`docs/step5_ablation.md`: how, and what
# each removal was expected to do before it ran):
#
# <!-- generated: ablation-table -->
# | Ingredient removed | Candidate | Full recipe | Seeds | Worst % | Mean % | Worst vs full | Mean vs full | Expected (mean vs full) | As expected |
# |---|---|---|---:|---:|---:|---:|---:|---:|---|
# | nothing: the full recipe | b0_full_recipe | | 3 | 99.38 | 99.42 | | | | |
# | nothing: the full recipe | s5_wider_transition | | 3 | 99.37 | 99.40 | | | | |
# | augmentation (every epoch on the plain images) | b1_no_augmentation | b0_full_recipe | 3 | 99.38 | 99.41 | +0.00 | -0.01 | -0.06 to +0.06 | yes |
# | the one-cycle schedule (step 4's: 0.05, times 0.2 every 6 epochs) | b2_step4_schedule | b0_full_recipe | 3 | 99.31 | 99.33 | -0.07 | -0.09 | -0.15 to -0.02 | yes |
# | the clean last epochs (augmented to the end) | b3_no_clean_epochs | b0_full_recipe | 3 | 99.33 | 99.37 | -0.05 | -0.05 | -0.06 to +0.04 | yes |
# | precise BatchNorm (the running statistics as trained) | b4_no_precise_bn | b0_full_recipe | 3 | 99.29 | 99.35 | -0.09 | -0.07 | -0.08 to +0.01 | yes |
# | weight decay (SGD with Nesterov momentum alone) | b5_no_weight_decay | b0_full_recipe | 3 | 99.35 | 99.41 | -0.03 | -0.00 | -0.05 to +0.05 | yes |
# | dropout (0.05 after every block) | b6_no_dropout | b0_full_recipe | 3 | 99.42 | 99.43 | +0.04 | +0.01 | -0.10 to +0.02 | yes |
# <!-- /generated -->


# %% [markdown]
# ## Exercises
#
# Predict first, on paper or in a comment; then open the answer, which is computed from the
# code and the recorded runs.
#
# ### 1. Which ingredient matters most?
#
# Step 5 changes several things at once (see the ablation above). Before you read its table,
# rank them: which one, removed, costs the most?
#
# <details><summary>Answer</summary>
#
# <!-- generated: answer step5-ablation -->
# Removing the one-cycle schedule (step 4's: 0.05, times 0.2 every 6 epochs) (`b2_step4_schedule`) cost the most: the mean of the lowest validation accuracy of the last 4 epochs moved by **-0.09** points. In order: the one-cycle schedule -0.09; precise BatchNorm -0.07; the clean last epochs -0.05; augmentation -0.01; weight decay -0.00; dropout +0.01.
# <!-- /generated -->
#
# </details>
#
# ### 2. Does precise BN change the training?
#
# Precise BN recomputes BatchNorm's statistics after each epoch. Predict whether the training
# losses change when it is removed.
#
# <details><summary>Answer</summary>
#
# <!-- generated: answer step5-precise-bn -->
# On 3 seeds the training losses of every epoch are **identical** with and without precise BN: it changes only the statistics the network is measured with.
# <!-- /generated -->
#
# </details>
#
# ### 3. The worst seed
#
# Look at the curves: which seed will be worst in the last 4 epochs, and in which epoch does it
# dip?
#
# <details><summary>Answer</summary>
#
# <!-- generated: answer step5-worst-seed -->
# Seed **1**, lowest in epoch **12** at **99.49 %**, 0.09 points above the line. seed 1: 99.49; seed 2: 99.51; seed 3: 99.57; seed 4: 99.54; seed 5: 99.56.
# <!-- /generated -->
#
# </details>
