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
# **Under 8,000 parameters and at least 99.40 % test accuracy in each of the last 4 of 15
# epochs, for each of 5 seeds**, with room above the line: at least 99.45 % on every seed.
#
# Step 4 held the target on one seed. This step asks it of every seed, and changes mostly the
# training to get there:
#
# - **Augmentation**: each image of a batch is rotated by up to 10 degrees, shifted by up to
#   10 % and scaled by 0.9-1.1 (`utils.augment_batch`, the whole batch at once on tensors):
#   the slants, positions and sizes that handwriting has.
# - **A three-phase one-cycle schedule**, set batch by batch: the learning rate climbs to a
#   high peak, comes back down, then decays much lower for the last epochs, where the network
#   settles (the plot below). SGD gets Nesterov momentum and weight decay.
# - **The last 4 epochs on clean images** (`clean_last_epochs`): the network ends on
#   un-augmented training digits, like those of the test set, at a low learning rate.
# - **Precise BN** (`utils.recompute_batchnorm_stats`): before each test, BatchNorm's
#   statistics are averaged anew over 10,000 clean training images, instead of the running
#   averages of augmented, dropout-noised batches. The training itself is unchanged.
# - **One channel more in the network**: `Step5Net` is `Step4Net` with its narrowest layer,
#   the 1x1 transition after the pool, 9 channels wide instead of 8.
#
# Augmentation, one-cycle, Nesterov momentum and weight decay were in the recipe the searches
# started from; what they chose was chosen on the validation split (the last 10,000 training
# images), never on the test set, the later rounds by the worst seed. How the searches went, round by round, is in
# `docs/step5_room.md` and `docs/research_log.md`; what each ingredient is worth, removed one
# at a time, is the ablation below.

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

STEP = 5
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
# The learning rate of every batch, as the optimizer and the one-cycle schedule set it
# (`Recipe.learning_rates`): the optimizer's own `lr` is never used, since the schedule sets
# the rate from the first batch. The shaded epochs train on clean images.

# %%
plt = plots.pyplot()
rates = recipe.learning_rates()
per_epoch = len(rates) / recipe.epochs
fig, ax = plt.subplots(figsize=(7, 2.8))
ax.plot([batch / per_epoch for batch in range(len(rates))], rates)
ax.axvspan(recipe.epochs - recipe.clean_last_epochs, recipe.epochs, color="0.9")
ax.set(xlabel="epoch", ylabel="learning rate", yscale="log", title="Step 5's learning rate")
plots.save_figure(fig, records.plot_path(STEP, "learning_rate", out))

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
# From the recorded run (`Data/results/step5.json`; the tests check these lines against it):
#
# <!-- generated: step-results-5 -->
# - Parameters: **7,914**; 15 epochs, 5 seeds, 5.0 min per seed on cpu (25 min in all).
# - Best test accuracy **99.57 ± 0.03 %** (mean ± std over seeds); the highest single epoch 99.61 % (seed 3).
# - Lowest test accuracy in the last 4 epochs: **99.53 ± 0.03 %**.
# - Target (under 8,000 parameters, 99.40 % in each of the last 4 of at most 15 epochs, every seed): **5 of 5 seeds** hold 99.40 % in each of the last 4 epochs; worst seed 99.49 % (seed 1). The fifth of 5 test records of a recipe under 8,000 parameters: each earlier one was followed by more search on the validation split (docs/noise.md).
# - On the validation split (the same layers and recipe, recorded by the design search as `s5_wider_transition`): **7 of 10 seeds** hold 99.40 % in each of the last 4 epochs; worst seed 99.37 % (seed 3), **missed by 0.03 points**; 3 of 10 hold the room step 5 asks for (99.45 %).
# - On another machine a seed trains to other numbers. On the validation split the same seeds (1-10) of this recipe, trained in two setups (another CPU or thread count), moved by up to 0.11 points, against a spread of 0.10 points over 10 seeds in one. No GPU run is recorded: a GPU is another machine too, so read your run by where its seeds fall against the recorded range (the notebook and `train.py` say it), not by its digits.
# <!-- /generated -->

# %% [markdown]
# ## Analysis
#
# - **What it bought, on the test set:** every seed holds the target, and keeps the room asked
#   for in each of its last 4 epochs. Against the recipe it replaced (the same training on
#   step 4's network, `Data/results/before_round_4/step5.json`), the worst seed and the mean
#   of the seeds' lowest epochs are both higher.
# - **On the validation split, fewer seeds hold:** Results above give the count over 10 seeds.
#   A run of your own, on other seeds or another machine, can land below this record; the
#   line printed beside your run says whether it falls inside the recorded seeds' range.
# - **Which ingredient carries it** (the ablation below, three validation seeds each): the
#   schedule's removal costs the most on the mean, precise BN's on the worst seed, and without
#   the clean last epochs it validates a little lower. Without augmentation, weight decay or
#   dropout alone it validates level, inside the seed spread: no single one of them holds the
#   margin. Augmentation does not show by removal on three seeds. Nor does the training
#   accuracy measure overfitting here: it is taken while training, on augmented images until
#   the clean epochs and always with dropout on, so it sits below the test accuracy partly by
#   construction.
# - **The schedule** does what it was chosen for: a seed's last 4 epochs stay close to each
#   other, so each seed's result is a level, not a lucky peak.
# - **The one channel more** lifted the worst of 10 seeds on the validation split, against the
#   same training on step 4's network, not their mean, whose gain is inside the seed spread
#   (`docs/step5_room.md`, the fourth round).
# - **Precise BN changes only what the test sees:** the first recipe without it, recorded with
#   the same seeds, has identical training histories (research log, "precise BN"). Per seed
#   the effect is small, but a seed on the line can fall either side of it.
# - **The network or the recipe?** `docs/network_or_recipe.md` trains the other steps'
#   networks with this recipe, to separate the two (below).

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
# ## Network or recipe?
#
# Every step changed its network and its recipe together. Here each step's network is trained
# with this step's recipe, on validation seeds 1-5 and one machine, against `Step5Net` trained
# again there: how much of each step's gain was its network's
# (`docs/network_or_recipe.md`, with what each row was expected to do before it ran). Exercise
# 2 below asks you to predict a row first: do not read the table yet.
#
# <details><summary>The table</summary>
#
# <!-- generated: one-recipe-table -->
# | Step's network | Candidate | Params | Seeds | Worst % | Mean % | Mean vs step 5's | Expected | As expected | Gain over the step before, one recipe | Gain over the step before, its own record |
# |---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|
# | step 2 | n2_step2_net | 12,962 (over the budget) | 5 | 10.64 | 10.64 | -88.80 | -1.00 to -0.05 | no: lower |  |  |
# | step 3 | n3_step3_net | 6,306 | 5 | 99.20 | 99.31 | -0.13 | -0.10 to +0.04 | no: lower | +88.67 | +0.46 |
# | step 4 | n4_step4_net | 7,752 | 5 | 99.34 | 99.42 | -0.02 | -0.04 to +0.06 | yes | +0.11 | +0.34 |
# | step 5 | n5_step5_net | 7,914 | 5 | 99.39 | 99.44 |  |  |  | +0.02 | +0.03 |
# | step 6 | n6_step6_net | 5,658 | 5 | 99.44 | 99.46 | +0.02 | -0.05 to +0.06 | yes | +0.02 | -0.03 |
# | step 7 | n7_step7_net | 3,918 | 5 | 99.29 | 99.35 | -0.09 | -0.08 to +0.03 | no: lower | -0.11 | -0.23 |
# <!-- /generated -->
#
# ![Each step's network under step 5's recipe](../Data/plots/network_or_recipe.png)
#
# </details>

# %% [markdown]
# ## Noise: what a difference must beat
#
# A seed fixes the initial weights, the batch order and the augmentation; another seed trains
# the same recipe to another result. Measured on the series' own recipes:
# <!-- generated: noise-line -->
# one seed's lowest of the last 4 epochs spreads by about 0.04 points (validation, the steps' own recipes), 0.01 points is one image, and two means of 5 seeds each must differ by more than 0.06 points to tell two recipes apart.
# <!-- /generated -->
#
# So one seed is not evidence, a worst seed is the noisiest figure there is, and a change is
# adopted only when the mean over paired seeds beats the current recipe's by more than two
# standard errors (`docs/noise.md`).

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
# ### 2. Step 3's network with this recipe
#
# Step 3's network (no global average pooling, its 4x4 final kernel, thinner blocks) scored
# well below step 5 on its own record. Trained with step 5's recipe instead of its own, how
# far below `Step5Net` will its mean over 5 validation seeds land: level, or most of the gap?
#
# <details><summary>Answer</summary>
#
# <!-- generated: answer step5-network-or-recipe -->
# Under step 5's recipe, step 3's network holds a mean of **99.31 %** (worst seed 99.20 %) over seeds 1, 2, 3, 4, 5, against step 5's own 99.44 % (worst 99.39 %): **-0.13 points**. Its own record (its network with its own recipe, test set) scored 99.12 %, step 5's 99.49 %: that gap is network and recipe together, the first difference is the network's share of it.
# <!-- /generated -->
#
# </details>
#
# ### 3. Is the difference real?
#
# Step 5's network has one channel more in its transition than step 4's. On the validation
# split, both trained with step 5's recipe, the same seeds landed here (the lowest accuracy of
# the last 4 epochs; the wider one was chosen because its worst seed was higher):
#
# <!-- generated: answer step5-two-recipes -->
# | Seed | With the channel more % | Without it % |
# |---:|---:|---:|
# | 1 | 99.38 | 99.37 |
# | 2 | 99.46 | 99.43 |
# | 3 | 99.37 | 99.40 |
# | 4 | 99.47 | 99.47 |
# | 5 | 99.38 | 99.44 |
# | 6 | 99.43 | 99.44 |
# | 7 | 99.44 | 99.48 |
# | 8 | 99.46 | 99.41 |
# | 9 | 99.42 | 99.43 |
# | 10 | 99.42 | 99.31 |
# <!-- /generated -->
#
# Is the difference real, by the rule of `docs/noise.md`: the mean of the paired differences
# against two of its standard errors?
#
# <details><summary>Answer</summary>
#
# <!-- generated: answer step5-is-it-real -->
# The worst seed moved by +0.06 points, but the mean of the 10 paired seeds by **+0.005** with a standard error of 0.016: **inside** the noise (two standard errors are 0.031): by the rule of `docs/noise.md` the change would not have been adopted; the worst seed, the noisiest figure, chose it.
# <!-- /generated -->
#
# </details>
