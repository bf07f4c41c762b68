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
# below were compared on a validation split (the last 10,000 training images) with 3 seeds each
# (5 for six of them). Two were then measured on the test set: the chosen one, trained in
# this notebook, and the smallest network that came close to the criterion on validation (f30,
# 5,658 parameters), as the step's answer if nothing under 4,000 parameters meets it.
#
# The network, `Step6Net` (3,918 parameters), spends its budget on width: after a full 3x3
# conv of 12 channels, every conv is depthwise-separable (a 3x3 filter per channel, then a 1x1
# conv that mixes channels), which costs 1/9 + 1/c_out of a full 3x3 conv (about a seventh at
# 30 channels). So the three convs
# after the pool can be 30 channels wide, where step 4's layout at this size had 8-20. No
# dropout: a network this small underfits. The training is step 5's (three-phase OneCycle, SGD
# with Nesterov momentum, BatchNorm statistics recomputed on clean training images after every
# epoch) with two changes: stronger augmentation (rotation up to 10 degrees, shifts up to 10 %,
# scale 0.9-1.1) and a learning-rate peak of 0.4 instead of 0.2. The search below says why.
# This record replaces three: the same network with step 5's peak of 0.2, and two made with
# the earlier frontier network (step 4's layout at half the widths, 3,936 parameters; README).
#
# The recorded run trained the 5 seeds at once, as one network of 5 independent copies
# (`seeds.Copies`, `how="packed"`): copy k starts, shuffles and augments from seed k exactly as
# a run of seed k alone would. Run here, the seeds train the way measured fastest for your
# device: packed on a GPU, one after another on a CPU (the same runs up to the order of
# floating-point sums: this network has no dropout).

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
out = records.output_dir(record=records.recording())  # runs/, or Data/ when recording
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
utils.plot_samples(train_x, train_y, records.plot_path(STEP, "samples", out), augment=recipe.augment)

# %% [markdown]
# ## The search: parameters against the worst seed
#
# Each row is a recorded run on the validation split, 3 seeds each, 5 for f23, f28, f30, f34,
# f35 and f36
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
results, model, _ = seeds.run_recipe(recipe, out=out, device=device, data=data)

# %%
print(records.format_results(results))
print(records.compare_with_recorded(results))
figures = records.save_step_plots(results, model, test_x, test_y, out)
figures["curves"]

# %%
# Where the frontier lands on the test set, next to step 5 and f30, the candidate given a test
# record as the smallest to meet the criterion (Data/results; only reported, never to choose).
print(design_search.pareto_table("test"))

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
# - Parameters: **3,918**; 15 epochs, 5 seeds, 4.3 min per seed on cpu.
# - Best test accuracy **99.45 ± 0.06 %** (mean ± std over seeds); the highest single epoch 99.54 % (seed 4).
# - Lowest test accuracy in the last 4 epochs: **99.39 ± 0.07 %**.
# - Target (under 4,000 parameters, 99.40 % in each of the last 4 of at most 15 epochs, every seed): **3 of 5 seeds** hold 99.40 % in each of the last 4 epochs; worst seed 99.27 % (seed 2), **missed by 0.13 points**.
# <!-- /generated -->
#
# The smallest network that does meet the criterion on the test set is a search candidate, f30:
# this design widened, trained as here but without precise BN and with its last epochs on
# un-augmented images, measured once on the test set after it was chosen on validation seeds.
#
# <!-- generated: frontier-gap -->
# Smallest network shown to meet the criterion: **5,658 parameters** (`Data/results/candidates/f30_clean_5658/results/step6.json`), **1,658 over the 4,000 goal**.
# <!-- /generated -->

# %% [markdown]
# ## Analysis
#
# - What each idea bought (validation split, 3 seeds unless said; mean of the seeds' lowest of the
#   last 4 epochs, then the worst seed). Step 4's layout at about 3,950 parameters: halving its
#   widths (f1) gives 99.08 / 98.97 %; dropout on top (f4) 99.09 / 99.04 %, so overfitting is
#   not what holds a network this small back; moving the widths to the end (f3: 20 averaged
#   features for the classifier instead of 12) 99.16 / 99.04 %; stronger augmentation on top
#   (f6, the earlier step 6) 99.21 / 99.17 %. Depthwise-separable convs after the pool (f7:
#   four of 22 channels, 3,800 parameters) 99.22 / 99.15 %, and a separable second conv too
#   (f9: four of 26) 99.22 / 99.12 %: the same level.
# - The step up came from the shape after the pool: a wider first conv (12 channels), then
#   **three** separable convs of 30 channels, so the average pool reads 6x6 maps (f10, now
#   `Step6Net`): 99.32 / 99.29 %, about 0.1 point above every earlier candidate on each
#   measure. Its neighbours say what matters: two convs of 40 channels (f13, 8x8 maps) 99.19 /
#   99.15 %; the same three convs padded (f15, 12x12 maps, same parameters) 99.19 / 99.13 %;
#   three convs of only 26 channels (f14, **3,270 parameters**) 99.30 / 99.25 %, almost f10's
#   level with 648 fewer parameters. Batch 64 instead of 128 (f16) changed nothing (99.32 /
#   99.29 %) and costs more time per epoch, so step 6 keeps 128.
# - A second round around f10 changed one thing each (f18-f24). The training, not the shape,
#   gave the next step: a learning-rate peak of 0.4 instead of 0.2 (f23, now step 6's recipe)
#   99.39 / 99.33 % on seeds 1-3, 0.07 point above f10 on the mean, with a lower validation
#   loss on every seed (0.020-0.022 against 0.023-0.025); one of those seeds holds 99.40 %, the
#   first under 4,000 parameters to do so (on 5 seeds, run later: 99.38 / 99.33 %, 2 of 5).
#   Giving the high rate less time does the opposite: half the warm-up and 12 low-rate epochs
#   instead of 9 (f24) 99.27 / 99.24 %. The rest stay at f10's
#   level or below: no weight decay (f19) 99.31 / 99.29 %; still stronger augmentation
#   (f21: rotation 15, scale 0.85-1.15) 99.33 / 99.29 %; a wider start, 16-24-pool-26x3 (f22,
#   3,838 parameters) 99.33 / 99.28 %, so the full-resolution convs are not the bottleneck;
#   ReLU and BatchNorm after each depthwise conv as well (f20) 99.26 / 99.24 %. Step 5's
#   lighter augmentation (f18) 99.27 / 99.18 % is the telling one: the network then fits its
#   training images better (99.53-99.59 % against 99.25-99.26 %) and does worse on new ones,
#   so augmentation is not what holds it back.
# - On validation, no candidate under 4,000 parameters holds 99.40 % on every seed (f23: 2 of
#   5; f28, below: 3 of 5); step 5's 7,752-parameter network holds it on its 3 seeds (99.41 %
#   worst seed). f10's shape at 5,658 parameters (f17: 16-24-pool-36x3, peak 0.2) comes close,
#   99.39 / 99.33 % with 1 of 3 seeds holding 99.40 %, where step 4's layout at that size (f5)
#   gave 99.21 / 99.19 %; f23 reaches the same with 3,918.
# - On the test set the peak of 0.4 did not repeat its validation gain. Against the record
#   with the peak of 0.2 (same network, `Data/results/peak_0.2/step6.json`): the mean of the
#   seeds' lowest epoch 99.39 % (was 99.42 %), 3 of 5 seeds hold 99.40 % (was 4 of 5), worst
#   seed 99.27 % (was 99.35 %). Seed by seed the lowest epoch moved -0.06, -0.13, +0.01,
#   +0.12 and -0.07 points: both ways, by as much as the whole validation gain. So the 0.07
#   point that 3 validation seeds showed is within what one run of a seed moves, and 5 test
#   seeds cannot settle it either. The recipe stays as chosen on validation: switching back
#   because of this record would be choosing on the test set. Over the two records of this
#   network, 7 of 10 seed runs held 99.40 %; the earlier 3,936-parameter network held it on
#   0 of 10 (`Data/results/earlier_frontier/`).
# - Fit: on its augmented training images the network ends at 99.29-99.41 % (99.26-99.30 %
#   with the peak of 0.2), and its test loss is 0.016-0.019 either way, close to step 5's
#   0.014-0.017 at half the parameters.
# - Two more candidates were tried on validation after this test record, so they changed
#   nothing in it: widths growing after the pool (f25: 12-16-pool-24-30-38, 3,912 parameters,
#   38 features for the classifier, peak 0.4) 99.28 / 99.19 %, below f23; and a peak of 0.8
#   (f26) 99.38 / 99.36 %, the best worst seed under 4,000 parameters so far. After what the
#   peak of 0.4 did on the test set, that is no reason to make another test record: f26
#   matches f23 on the mean (99.38 against 99.39 %), and I had set the bar for a new record at
#   0.05 point over f23 on the mean before these two ran. Higher peaks do look better than 0.2
#   on validation (f23 and f26 above f10 on every measure); the test set has not confirmed it.
# - A third round, also after the test record: the last epochs on un-augmented images. Under
#   the strong augmentation the network ends at 99.29-99.36 % on its training images, below
#   its validation accuracy; in the last, low-learning-rate epochs it can fit the real digits
#   instead. Until its clean epochs start, each of these runs is f23's to the last digit (the
#   same random numbers), so each seed is a paired comparison. With the last 2 epochs clean
#   (f27) 99.40 / 99.35 %; the last 4, every measured epoch (f28), 99.43 / 99.40 % on seeds
#   1-3, all three holding 99.40 %; the last 6 (f29) 99.40 / 99.36 %. Clean epochs take the
#   training accuracy to 99.57-99.71 % and the best epoch up (f28: 99.48 % on average over 5
#   seeds, f23 99.43 %). Before running seeds 4 and 5 I wrote down the bar for adopting f28:
#   over f23 by at least 0.03 point on the 5-seed mean of the lowest of the last 4 epochs,
#   and lower on at most one seed. On 5 seeds f28 gave 99.41 / 99.36 % (3 of 5 seeds hold
#   99.40 %) against f23's 99.38 / 99.33 % (2 of 5): +0.02 on the mean, higher on seeds 1, 3
#   and 5 (+0.07, +0.06, +0.02), lower on seeds 2 and 4 (-0.01, -0.02). That misses the bar
#   on both counts, so the recipe stays f23 and no new test record was made. f28's training
#   on two other networks (3 seeds each): with the peak of 0.8 (f31) 99.39 / 99.33 %, no
#   better than f26 without clean epochs (99.38 / 99.36 %); on f14's 3,270-parameter shape
#   (f32) 99.34 / 99.28 %, against 99.30 / 99.25 % for f14 with the peak of 0.2 and no clean
#   epochs.
# - Looking for the smallest network that holds 99.40 % on every seed, since none under 4,000
#   does yet: f17's shape (16-24-pool-36x3, 5,658 parameters) with f28's training (f30; two
#   changes against f17: the peak of 0.4 and the clean epochs) gives 99.43 / 99.36 % on 5
#   validation seeds, 4 of 5 holding 99.40 % (seed 5 at 99.36 %, as for f28 its lowest). On
#   seeds 1-3 it gives 99.43 / 99.42 %, step 5's 7,752-parameter network 99.44 / 99.41 %: the
#   same level with 73 % of the parameters.
# - Then f30 was measured on the test set, the only candidate besides step 6's own network: seeds
#   1-5, one at a time, exactly as validated (no precise BN), with how it would be reported
#   written down before it ran. It held 99.40 % on 5 of 5 seeds, worst seed 99.46 % (Results):
#   5,658 parameters is the smallest network this series shows meeting the criterion. It did
#   better on the test set than on validation (99.52 against 99.43 % for the mean of the seeds'
#   lowest epoch), as step 5's network does, by less (99.47 against 99.44 % on its 3 validation
#   seeds); `Step6Net` did not (99.39 % on the test set, 99.38 % for f23 on 5 validation seeds),
#   so the test set is not easier for every network.
# - Two more on validation after f30's test record, so neither changed anything on the test
#   set. SiLU instead of ReLU in f28 (f33; same initial weights, so each seed is a paired
#   comparison) 99.44 / 99.39 % on seeds 1-3 against f28's 99.43 / 99.40 %: +0.11, -0.07 and
#   -0.01 points per seed. I had set the bar for running seeds 4 and 5 at +0.03 on the mean with
#   no seed lower, so it stopped at 3 seeds. Where between 3,918 and 5,658 parameters does the
#   criterion start to hold? f30's wider start with f28's 30 channels after the pool (f34,
#   16-24-pool-30x3, 4,518 parameters) gives 99.38 / 99.30 % on 5 seeds, 3 of 5 holding 99.40 %:
#   no better than f28 with 600 fewer parameters. So f30's step up came from its 36 channels
#   after the pool, not from its wider start (f22 said the same at 26 channels).
# - A last round on validation, with how each result would be used written down before it ran.
#   f28's narrow start with f30's 36 channels after the pool (f35, 12-16-pool-36x3, 5,010
#   parameters) gives 99.43 / 99.37 % on 5 seeds, 4 of 5 holding 99.40 % (seed 5 again the
#   lowest): f30's level (99.43 / 99.36 %) with 648 fewer parameters. It was set to be a search
#   row only, so it has no test record. Then f28 measured on an exponential moving average of
#   its weights (f36: decay 0.999 per batch, a memory of about 1,000 batches, 2-3 epochs here;
#   BatchNorm statistics averaged the same way; `Recipe.average_decay`, `utils.WeightAverage`).
#   Its training is f28's to the last digit, so each seed is a paired comparison: 99.42 / 99.39 %,
#   4 of 5 seeds holding 99.40 %, against f28's 99.41 / 99.36 % and 3 of 5. Per seed the lowest
#   epoch moved +0.02, 0.00, -0.04, +0.04 and +0.05 points, and the seeds moved closer together
#   (99.39-99.46 % against 99.36-99.46 %); the best epoch did not rise (99.47 % on average,
#   f28 99.48 %). The one miss, seed 3, is 0.01 point short. I had written down before it ran
#   that it would become step 6's recipe only if all 5 seeds held 99.40 %, and that no second
#   decay would be tried on its result, so it stays a search row: the best worst seed on 5
#   validation seeds under 4,000 parameters, not a network that meets the criterion.
# - What I would try next: the weight average costs no training and is the only change under
#   4,000 parameters that lifted f28's worst validation seed on 5 seeds, so combine it with the
#   other near miss, f33's SiLU (99.44 / 99.39 % on 3 seeds), on 5 validation seeds with the bar
#   written down first; and average only over the last, clean epochs (SWA) instead of a fixed
#   decay. f36 itself gets no second try and no test record: it missed the bar set for it.
#   Above 4,000: 12-16-pool-33x3 (4,446 parameters) with f28's training on 5 seeds, to find
#   where 5 of 5 starts (f34 at 4,518: 3 of 5; f35 at 5,010: 4 of 5); only the smallest
#   candidate that holds on 5 validation seeds would get a test record. Larger depthwise
#   kernels paid for by fewer channels are still untried.
