"""Many seeds at once (``utils.Copies``): what it costs, and whether it changes the results.

Timing: trains the final model's recipe on the same images as one network (one seed) and as
``Copies`` of K networks (K seeds), interleaved in one process so machine noise hits both
alike, and prints ``cost_of_K_seeds_vs_one: X`` (K seeds alone would cost K).

    MNIST_DATA_DIR=../shared/data python benchmarks/seeds_at_once.py --copies 5

Agreement: compares two results files of the same recipe and seeds, e.g. seeds trained at once
against the same seeds trained one after another, seed by seed (an exact paired permutation
test of the per-seed differences).

    python benchmarks/seeds_at_once.py --compare A/results/step5.json B/results/step5.json
"""
import argparse
import itertools
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import utils  # noqa: E402
from steps import RECIPES  # noqa: E402


def time_epoch(recipe, x, y, seeds):
    """Seconds for one pass over ``(x, y)`` training ``len(seeds)`` copies at once."""
    net, generators = utils.seeded_copies(recipe, seeds, x.device)
    optimizer = recipe.optimizer(net.parameters())
    start = time.perf_counter()
    utils.train_one_epoch(net, x, y, optimizer, batch_size=recipe.batch_size,
                          generator=generators, augment=recipe.augment, progress=False)
    if x.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def timing(args):
    recipe = RECIPES[args.step]
    device = utils.get_device(args.device)
    train_x, train_y, *_ = utils.load_mnist(device)
    n = min(len(train_x), args.batches * recipe.batch_size)
    x, y = train_x[:n], train_y[:n]
    many = list(range(1, args.copies + 1))
    time_epoch(recipe, x, y, many)  # warm-up round, not counted
    one_s, many_s = [], []
    for _ in range(args.rounds):
        one_s.append(time_epoch(recipe, x, y, [1]))
        many_s.append(time_epoch(recipe, x, y, many))
    one, together = statistics.median(one_s), statistics.median(many_s)
    print(f"device: {utils.device_name(device)} | step {args.step} ({recipe.model_class()}), "
          f"{n:,} images x {args.rounds} rounds, medians")
    print(f"one seed: {one:.2f} s | {args.copies} seeds at once: {together:.2f} s")
    print(f"cost_of_{args.copies}_seeds_vs_one: {together / one:.2f}")


def paired_permutation_p(diffs):
    """Two-sided p-value of the mean paired difference under random sign flips (exact)."""
    observed = abs(np.mean(diffs))
    flips = [abs(np.mean([s * d for s, d in zip(signs, diffs)]))
             for signs in itertools.product((1, -1), repeat=len(diffs))]
    return sum(f >= observed - 1e-12 for f in flips) / len(flips)


def compare(path_a, path_b, last=4):
    a, b = (utils.read_results(Path(p)) for p in (path_a, path_b))
    sa, sb = utils.summarize_runs(a, last), utils.summarize_runs(b, last)
    if sa["seeds"] != sb["seeds"]:
        sys.exit(f"error: the files hold different seeds: {sa['seeds']} and {sb['seeds']}")
    print(f"A: {path_a} (seeds at once: {a.get('seeds_at_once', 1)})")
    print(f"B: {path_b} (seeds at once: {b.get('seeds_at_once', 1)})")
    print(f"{'seed':>4} {'best A':>7} {'best B':>7} {f'last {last} A':>9} {f'last {last} B':>9}")
    for row in zip(sa["seeds"], sa["best"], sb["best"], sa["last_min"], sb["last_min"]):
        print(f"{row[0]:>4} " + " ".join(f"{v:>{w}.2f}" for v, w in zip(row[1:], (7, 7, 9, 9))))
    for name in ("best", "last_min"):
        diffs = np.subtract(sa[name], sb[name])
        print(f"{name}: A - B = {diffs.mean():+.3f} +- {diffs.std():.3f} points, "
              f"paired permutation p = {paired_permutation_p(diffs):.2f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--step", type=int, default=5, choices=sorted(RECIPES))
    parser.add_argument("--batches", type=int, default=100, help="training batches per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default=None)
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"))
    args = parser.parse_args()
    if args.compare:
        compare(*args.compare)
    else:
        timing(args)


if __name__ == "__main__":
    main()
