"""Does recomputing BatchNorm statistics after each epoch ("precise BN") help? A paired check.

One training run per seed on the validation split (train on the first 50,000 training images,
measure on the last 10,000); after every epoch the same weights are evaluated twice: with the
running statistics BatchNorm kept during training, and with statistics recomputed on clean
training images (``utils.recompute_batchnorm_stats``). Training never reads the running
statistics, so the two columns differ only in what evaluation sees: a paired comparison
free of seed-to-seed noise. Writes ``Data/tuning/precise_bn/<recipe>.json``.

    MNIST_DATA_DIR=../shared/data python benchmarks/precise_bn.py step5 --seeds 1,2,3
    python benchmarks/precise_bn.py --show step5     # print a recorded check
"""
import argparse
import contextlib
import copy
import dataclasses
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import devices  # noqa: E402
import records  # noqa: E402
import seeds as many_seeds  # noqa: E402
import utils  # noqa: E402
from seeds_at_once import paired_permutation_p  # noqa: E402
from steps import RECIPES  # noqa: E402

RECIPE_NAMES = {f"step{step}": recipe for step, recipe in RECIPES.items()
                if recipe.bn_stats_images}
IMAGES = 10_000


def record_path(name: str, out: Path) -> Path:
    return Path(out) / "tuning" / "precise_bn" / f"{name}.json"


@contextlib.contextmanager
def recomputed_too(train_x, images: int, recomputed: list, label: str):
    """Inside, every ``utils.evaluate`` call (once per epoch, of the measured network) also
    measures a copy of the network whose BatchNorm statistics are recomputed on ``images``
    clean training images, and appends that accuracy to ``recomputed``."""
    evaluate = utils.evaluate

    def measuring(model, x, y, *args, **kwargs):
        fresh = {key: copy.deepcopy(value) for key, value in kwargs.items()}  # an empty tally
        result = evaluate(model, x, y, *args, **kwargs)
        probe = copy.deepcopy(model)
        utils.recompute_batchnorm_stats(probe, train_x, images)
        recomputed.append(utils.per_seed(evaluate(probe, x, y, *args, **fresh)[1])[0])
        print(f"{label} epoch {len(recomputed):2d}: validation acc with recomputed statistics "
              f"{recomputed[-1]:.2f}%", flush=True)
        return result

    utils.evaluate = measuring
    try:
        yield
    finally:
        utils.evaluate = evaluate


def check(name: str, seeds, images: int = IMAGES) -> dict:
    """Train ``RECIPES[name]`` once per seed; validation accuracy per epoch both ways."""
    recipe = dataclasses.replace(RECIPE_NAMES[name], bn_stats_images=0)
    device = devices.get_device()
    data = train_x, _, val_x, val_y = utils.load_mnist(device, validation=True)
    epochs = min(recipe.epochs, utils.QUICK_EPOCHS) if utils.is_quick() else recipe.epochs
    runs = []
    for seed in seeds:
        recomputed = []
        # Packed, as the recorded checks were made (one seed: the same run as utils.fit's for a
        # network without dropout; with dropout, the masks the records were made with).
        with recomputed_too(train_x, images, recomputed, f"{name} seed {seed}"):
            _, (run,) = many_seeds.fit_packed(recipe, data, [seed], epochs=epochs, progress=False,
                                              log=lambda line: print(name, line, flush=True),
                                              eval_set="validation")
        runs.append({"seed": seed, "running_acc": run["val_acc"], "recomputed_acc": recomputed})
    return {"recipe": name, "model_class": recipe.model_class(), "epochs": epochs,
            "bn_stats_images": images, "eval_set": "validation",
            "mode": "quick" if utils.is_quick() else "full", "device": devices.device_name(device),
            "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "runs": runs}


def summary(record: dict, last: int = records.LAST) -> str:
    """Per seed and on average: the lowest of the last epochs and the last epoch, both ways."""
    lines = [f"{record['recipe']} ({record['model_class']}), {record['mode']} mode, "
             f"{record['eval_set']} split, BatchNorm recomputed on {record['bn_stats_images']:,} "
             "training images",
             f"{'':>4} {f'lowest of last {last} %':>21} {'last epoch %':>21}",
             f"{'seed':>4} {'running':>10} {'recomputed':>10} {'running':>10} {'recomputed':>10}"]
    lows, ends = [], []
    for run in record["runs"]:
        low = [min(run[k][-last:]) for k in ("running_acc", "recomputed_acc")]
        end = [run[k][-1] for k in ("running_acc", "recomputed_acc")]
        lows.append(low)
        ends.append(end)
        lines.append(f"{run['seed']:>4} " + " ".join(f"{v:>10.2f}" for v in (*low, *end)))
    for label, pairs in ((f"lowest of last {last}", lows), ("last epoch", ends)):
        diffs = [recomputed - running for running, recomputed in pairs]
        lines.append(f"{label}: recomputed - running = {np.mean(diffs):+.3f} +- "
                     f"{np.std(diffs):.3f} points, paired permutation p = "
                     f"{paired_permutation_p(diffs):.2f}")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("recipe", choices=sorted(RECIPE_NAMES))
    parser.add_argument("--seeds", type=many_seeds.seed_list,
                        default=[1, 2, 3], help="comma-separated seeds (default: 1,2,3)")
    parser.add_argument("--show", action="store_true", help="print the recorded check only")
    args = parser.parse_args()
    if args.show:
        record = json.loads(record_path(args.recipe, utils.REPO_ROOT / "Data").read_text())
    else:
        record = check(args.recipe, args.seeds)
        path = records.write_results(record, record_path(args.recipe, records.output_dir()))
        print(f"written: {path}")
    print(summary(record))


if __name__ == "__main__":
    main()
