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
# # Step 1: Setup: a working pipeline on a heavy baseline
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/tiny-cnn/mnist-under-8k/blob/main/notebooks/step1_setup.ipynb)
#
# ## Target
#
# Get the whole pipeline right before the model: MNIST loaded once as normalized tensors,
# a seeded shuffle, a train/test loop with progress bars, a model summary, a receptive-field
# table and plots. The model is the classic first attempt: a plain stack of 3x3 convolutions
# doubling the channels up to 1024 (`Step1Net`, about 6.4 million parameters), with max-pooling
# after the receptive field reaches 5 and 14, and no BatchNorm, dropout or augmentation.
# SGD with momentum 0.9 at a constant learning rate of 0.01, batch 128.
#
# This network is heavy: one epoch takes minutes on a CPU, so this step trains for **2 epochs
# only** on every device (the recipe's `epochs`); it is a baseline to beat on parameters, not a
# finished model. With 2 epochs, the rule's "last 4" is both of them.

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

STEP = 1
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
# ## The training loop
#
# Every step trains with the same two functions of `src/utils.py`, printed here so that
# nothing between the data and the numbers is hidden; on every device, a GPU included, these
# are the functions that run:
#
# - `train_one_epoch` puts the model in training mode (dropout on, BatchNorm using each
#   batch's statistics) and walks the batches, in a new order drawn from the seed's generator
#   (`utils.Batches`, which also augments each batch from step 5 on). Each batch goes through
#   the model to 10 logits per image; its cross-entropy loss is backpropagated and the
#   optimizer moves the weights (then, in later steps, a per-batch learning-rate schedule
#   steps, and step 7's average of the weights takes the new weights in).
# - `evaluate` switches to evaluation mode (dropout off, BatchNorm using its stored statistics),
#   turns off gradients, and counts the images whose highest logit is the right digit.
#
# Both hand each batch to a `Tally`, which sums the loss and the correct counts on the device
# and reads them once at the end, so a GPU is not stopped after every batch; a loss that
# becomes NaN or infinite stops the run with the epoch and batch where it happened.
# `utils.fit` (through `train_epochs`) calls one, then the other, once per epoch;
# `runner.run_recipe` calls `fit` for each seed, one after another, and writes the results file.

# %%
# NBVAL_CHECK_OUTPUT
print(inspect.getsource(utils.train_one_epoch))
print(inspect.getsource(utils.evaluate))

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
# From the recorded run (`Data/results/step1.json`; the tests check these lines against it):
#
# <!-- generated: step-results-1 -->
# - Parameters: **6,379,786**; 2 epochs, seed 1, 11.9 min per seed on cpu. The only test record of step 1: one look at the test set.
# - Best test accuracy **98.47 %** (epoch 2); all 2 epochs 98.12-98.47 %.
# - Training accuracy at the end: 98.27 %.
# <!-- /generated -->

# %% [markdown]
# ## Analysis
#
# - The pipeline works end to end: data, loop, summary, receptive-field table and plots. The
#   network learns MNIST quickly even at a constant learning rate and without BatchNorm, which
#   tells us the task is easy and that millions of parameters are far more than it needs.
# - The summary above shows where the weights sit: the last convs, with the most channels on the
#   smallest maps, hold most of them. Large channel counts late in the network buy little.
# - The receptive-field table shows the last layers seeing more than the 28-pixel image: they
#   look at padding as much as at the digit.
# - Next (step 2): keep the pipeline and build a skeleton with far fewer channels, a max-pool
#   once edges are found, a 1x1 conv to squeeze channels, and one final big kernel.

# %% [markdown]
# ## Exercises
#
# Predict first, on paper or in a comment; then open the answer, which is computed from the
# code and the recorded runs.
#
# ### 1. Predict the first conv's parameters
#
# Look at `Step1Net`'s first line above: how many weights and biases does that conv have? Count
# on paper, then find the layer in the summary.
#
# <details><summary>Answer</summary>
#
# <!-- generated: answer step1-first-conv -->
# `features.0.0` maps 1 channel to 32 with a 3x3 kernel: 32 x 1 x 3 x 3 = 288 weights + 32 biases = **320**.
# <!-- /generated -->
#
# </details>
#
# ### 2. Where did the budget go?
#
# Which layer holds the most parameters, and what share of them all? Guess from the
# channel counts before you look at the summary.
#
# <details><summary>Answer</summary>
#
# <!-- generated: answer step1-largest -->
# `features.7.0` (Conv2d) holds **4,719,616** of the 6,379,786 parameters, **74 %**.
# <!-- /generated -->
#
# </details>
