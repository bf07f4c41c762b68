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
# # Step 7: Frontier: how few parameters can hold 99.4 %?
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/tiny-cnn/mnist-under-8k/blob/main/notebooks/step7_frontier.ipynb)
#
# ## Target
#
# Step 5 holds 99.4 % with 7,914 parameters, and step 6 with 5,658, both with room. The best
# public solution of this assignment we know of uses 3,762 parameters and reports one run (the
# frontier search's w1 is its network as built here). The
# frontier question: **under 4,000 parameters, at least 99.40 % test accuracy in each of the last
# 4 of 15 epochs, for each of 5 seeds** (stretch: 3,500 or fewer).
#
# Rules: a CNN trained from scratch on the 60,000 training images only, at most 15 epochs, no
# ensembles, no extra data, no distillation, nothing chosen on the test set. The candidates
# below were compared on a validation split (the last 10,000 training images) with 3 seeds each
# (5 for some of them). Since the search's third round the choice is made there alone: over 5
# validation seeds, the worst seed's lowest accuracy of the last 4 epochs first, then the mean,
# against the recipe step 7 had, trained again on the same machine and seeds. The chosen
# recipe is then measured once on the test set, in this notebook, and reported as it comes.
# The search ran when the frontier was step 6, so its records are named `step6.json`.
#
# What changes against step 6, and why:
#
# - **The network, `Step7Net`** (3,918 parameters): step 6's design made narrower. After a full
#   3x3 conv of 12 channels, every 3x3 conv is depthwise-separable, which costs 1/9 + 1/c_out
#   of a full 3x3 conv (about a seventh at 30 channels), so the three convs after the pool can
#   be 30 channels wide, where step 4's layout at this size had 8-20. The 1x1 classifier after
#   the global average pool is a full conv. No dropout, as the frontier search trained its
#   networks.
# - **The training is step 6's** (step 5's, without dropout and precise BN): three-phase
#   OneCycle with a peak of 0.4, SGD with Nesterov momentum and weight decay, rotations up to
#   10 degrees, shifts up to 10 % and scales of 0.9-1.1, the last 4 epochs on un-augmented
#   images.
# - **Elastic distortions** are added to that augmentation: each training digit's strokes are
#   bent by a smooth random displacement field (`Augment(elastic=34.0)`, `utils.elastic_field`),
#   a change of handwriting that rotations and shifts cannot make.
# - **What is measured in those clean epochs** is an equal average of the weights over them,
#   updated after every step (stochastic weight averaging, torch's `AveragedModel`): one
#   network whose weights sit in the middle of where the last, low-learning-rate steps
#   wandered, so the last batches' noise does not reach the test.
# - **Why:** the average is candidate `r2_f28_swa` of the search's third round, which beat on
#   validation both f36's moving average of the weights and the recipe step 7 had until then
#   (`r0_step7_recipe`, the same network without the clean epochs and the average, with
#   precise BN; its test record is kept in `Data/results/before_round_3/step7.json`). The
#   distortions are candidate `e1_elastic` of the fourth round: against the same recipe without
#   them (`e0_step7_recipe`) the same validation mean and a worst seed a little higher, where
#   label smoothing came out a little lower. The test record of the recipe without them is
#   kept in `Data/results/before_elastic/step7.json`.
#
# `Step7Net` is r2_f28_swa's network layer for layer, but draws its initial weights in
# another order, so a seed here is another draw than r2's seed (the fourth round's candidates
# train `Step7Net` itself). The record trained
# its 5 seeds side by side on a 2-core CPU (each seed in its own one-thread process, two at a
# time); run by you, on a CPU or a GPU, the seeds train one after another through the loop
# step 1 prints, so their digits differ from the record's (another order of floating-point
# sums moves a seed by as much as the machine difference in the Results).

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

STEP = 7
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
# ## The search: parameters against the worst seed
#
# Every candidate of the search was trained on the validation split and measured there, never
# on the test set: choosing on test runs would make the test set a validation set. The figure
# draws each one from its record (`Data/tuning/<candidate>/results/step6.json`): parameters
# against its worst seed's lowest accuracy of the last 4 epochs. The full table, what each
# candidate changes and what the search learned are in
# `docs/frontier_search.md`, generated from the same records, so
# this lesson stays the same while the search goes on.

# %%
sys.path.insert(0, str(root / "benchmarks"))
import design_search  # noqa: E402

design_search.plot_pareto(records.plot_path(STEP, "pareto", out))

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

# %% [markdown]
# Where the frontier lands on the test set, next to steps 5 and 6 (`Data/results`; only
# reported, never to choose), from the records as they are now (`design_search.pareto_table`):
#
# <!-- generated: pareto-test -->
# | Step or candidate | What it tries | Params | Seeds | Worst seed, lowest of last 4 % (test) | Seeds >= 99.40 | Pareto front |
# |---|---|---:|---:|---:|---:|:-:|
# | step 7 | Frontier: under 4,000 parameters | 3,918 | 5 | 99.23 | 3 of 5 |  |
# | step 7 before round 3 | step 7's recipe until the third round (r0_step7_recipe) | 3,918 | 5 | 99.27 | 3 of 5 |  |
# | step 7 before round 4 | step 7's recipe until the fourth round (e0_step7_recipe): no elastic distortions | 3,918 | 5 | 99.38 | 4 of 5 | yes |
# | step 6 | Depthwise-separable convs | 5,658 | 5 | 99.46 | 5 of 5 | yes |
# | step 5 | Augmentation and OneCycle | 7,914 | 5 | 99.49 | 5 of 5 | yes |
# <!-- /generated -->

# %%
figures["misclassified"]

# %%
figures["confusion"]

# %% [markdown]
# ## Results
#
# From the recorded run (`Data/results/step7.json`; the tests check these lines against it):
#
# <!-- generated: step-results-7 -->
# - Parameters: **3,918**; 15 epochs, 5 seeds, 2.4 min per seed on cpu (12 min in all, 2 seeds at a time).
# - Best test accuracy **99.44 ± 0.09 %** (mean ± std over seeds); the highest single epoch 99.51 % (seed 4).
# - Lowest test accuracy in the last 4 epochs: **99.39 ± 0.09 %**.
# - Target (under 4,000 parameters, 99.40 % in each of the last 4 of at most 15 epochs, every seed): **3 of 5 seeds** hold 99.40 % in each of the last 4 epochs; worst seed 99.23 % (seed 3), **missed by 0.17 points**. The sixth of 6 test records of a recipe under 4,000 parameters: each earlier one was followed by more search on the validation split (docs/noise.md).
# - On the validation split (the same layers and recipe, recorded by the design search as `e1_elastic`): **1 of 5 seeds** hold 99.40 % in each of the last 4 epochs; worst seed 99.30 % (seed 5), **missed by 0.10 points**.
# <!-- /generated -->
#
# The recipe without the distortions, step 7 until the fourth round, on the test set (its
# record, kept and only reported: the two were not compared there to choose):
#
# <!-- generated: verdict-of Data/results/before_elastic/step7.json -->
# **4 of 5 seeds** hold 99.40 % in each of the last 4 epochs; worst seed 99.38 % (seed 4), **missed by 0.02 points**.
# <!-- /generated -->
#
# Step 6 is this design widened, trained as here without the elastic distortions, and measured
# on its trained weights, not on an average of them. The smallest network shown to meet the
# criterion on the test set, and the closest a network under 4,000 parameters has come:
#
# <!-- generated: frontier-gap -->
# Smallest network shown to meet the criterion: **5,658 parameters** (`Data/results/step6.json`), **1,658 over the 4,000 goal**.
# <!-- /generated -->
#
# <!-- generated: frontier-best -->
# Closest under 4,000 parameters on the test set so far: worst seed **99.38 %**, 4 of 5 seeds holding (`Data/results/before_elastic/step7.json`), **0.02 points under the line**.
# <!-- /generated -->

# %% [markdown]
# ## Analysis
#
# - The network's budget goes into width: a depthwise-separable conv costs 1/9 + 1/c_out of a
#   full 3x3 conv, so the convs after the pool can be several times wider than step 4's layout
#   at this size. No dropout, and no sign it is needed: with the distortions the training accuracy of
#   the last epoch (on the weights as they train) is no longer above the test accuracy (on
#   their average) on every seed, so the network fits its training images barely more closely
#   than unseen ones. Step 6, wider, does fit them more closely on every seed.
# - What moved it on the validation split, in order: the shape after the pool (three separable
#   convs, so the average pool reads a small map), then the training (a higher learning-rate
#   peak, then the last epochs on un-augmented images), then what is measured (an equal
#   average of the weights over the clean epochs). Before the separable shape, a wider head and
#   stronger augmentation each lifted the plain layout a little; around it, a smaller batch,
#   no weight decay, another activation and still stronger augmentation did not. Each candidate is a point of the figure above; what it changes and its numbers are in
#   `docs/frontier_search.md`.
# - Choosing on a few validation seeds is noisy: two recipes often differ by less than one
#   recipe's seeds spread. So the choice is made on five validation seeds, against the current
#   recipe on the same seeds and machine, and the test set is measured once, after it, and
#   never feeds back into a choice.
# - The fourth round's distortions show that noise: on validation they left the mean where it
#   was and raised the worst seed a little, so the rule chose them; this notebook's test record
#   is what that choice gave, and Results sets it beside the record of the recipe without them.
# - A second family was tried too: deep, narrow plain convs with two pools (adilsammar/
#   woolly-of-cv's network, one public run, no seeds). On the validation split its best
#   variant was the one moved towards this design, with separable convs after its last pool
#   and clean last epochs, and it only reached the level of the first round's f10,
#   not the bar (`docs/frontier_search.md`, "The second round").
# - The headline says how close step 7 comes; Results names the smallest network shown to meet
#   the criterion on the test set, and the closest any network under 4,000 parameters has come.

# %% [markdown]
# ## Exercises
#
# Predict first, on paper or in a comment; then open the answer, which is computed from the
# code and the recorded runs.
#
# ### 1. Where step 7's parameters go
#
# With every 3x3 conv after the first one separable, which layer holds the most parameters now?
#
# <details><summary>Answer</summary>
#
# <!-- generated: answer step7-largest -->
# `features.5.1` (Conv2d) holds **900** of the 3,918 parameters, **23 %**.
# <!-- /generated -->
#
# </details>
#
# ### 2. Which seed is worst?
#
# Predict from the curves which seed is worst and in which epoch it dips lowest.
#
# <details><summary>Answer</summary>
#
# <!-- generated: answer step7-worst-seed -->
# Seed **3**, lowest in epoch **12** at **99.23 %**, 0.17 points below the line. seed 1: 99.38; seed 2: 99.44; seed 3: 99.23; seed 4: 99.48; seed 5: 99.44.
# <!-- /generated -->
#
# </details>
