"""Many seeds at once (``seeds.Copies``): what it costs, and whether it changes the results.

Timing: trains the final model's recipe for one epoch over the same images as one network
(one seed) and as ``Copies`` of K networks (K seeds), and with ``--side-by-side N`` as K seeds
trained alone, N at a time in worker processes of one thread each (a CPU's way), interleaved
in rounds so machine noise hits all alike. Prints ``cost_of_K_seeds_..._vs_one: X`` per way
(K seeds one after another would cost K). ``--record`` also writes the medians to
``Data/timings/seeds_at_once_step<N>.json``, which docs/research_log.md quotes.

    MNIST_DATA_DIR=../shared/data python benchmarks/seeds_at_once.py --copies 5 --side-by-side 2

Agreement: compares two results files of the same recipe and seeds, e.g. seeds trained at once
against the same seeds trained one after another, seed by seed (an exact paired permutation
test of the per-seed differences).

    python benchmarks/seeds_at_once.py --compare A/results/step5.json B/results/step5.json
"""
import argparse
import dataclasses
import itertools
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import devices  # noqa: E402
import records  # noqa: E402
import seeds as many_seeds  # noqa: E402
import utils  # noqa: E402
from steps import RECIPES  # noqa: E402


def time_seeds(recipe, data, seeds, workers=1):
    """Seconds to train ``seeds`` for one epoch on ``data``: at once as ``Copies``, or with
    ``workers > 1`` each seed alone, side by side in worker processes (CPU)."""
    start = time.perf_counter()
    if workers > 1:
        many_seeds.fit_side_by_side(recipe, data, seeds, workers, log=None)
    else:
        many_seeds.fit_packed(recipe, data, seeds, progress=False, log=None)
    if data[0].device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def timing(args):
    # one epoch over the first batches, measured on one batch; no BatchNorm recomputation
    recipe = dataclasses.replace(RECIPES[args.step], epochs=1, bn_stats_images=0)
    device = devices.get_device(args.device)
    train_x, train_y, test_x, test_y = utils.load_mnist(device)
    n = min(len(train_x), args.batches * recipe.batch_size)
    data = (train_x[:n], train_y[:n], test_x[:recipe.batch_size], test_y[:recipe.batch_size])
    many = list(range(1, args.copies + 1))
    ways = {"one seed": ([1], 1), f"{args.copies} seeds at once": (many, 1)}
    if args.side_by_side > 1:
        ways[f"{args.copies} seeds, {args.side_by_side} side by side"] = (many, args.side_by_side)
    for seeds, workers in ways.values():  # warm-up round, not counted
        time_seeds(recipe, data, seeds, workers)
    times = {way: [] for way in ways}
    for _ in range(args.rounds):
        for way, (seeds, workers) in ways.items():
            times[way].append(time_seeds(recipe, data, seeds, workers))
    record = {"benchmark": "seeds_at_once", "device": devices.device_name(device),
              "torch": torch.__version__, "step": args.step, "model": recipe.model_class(),
              "images": n, "rounds": args.rounds, "copies": args.copies,
              "measured": date.today().isoformat(),
              "seconds": {way: statistics.median(t) for way, t in times.items()}}
    print(report(record))
    if args.record:
        path = records.RECORDED / "timings" / f"seeds_at_once_step{args.step}.json"
        records.write_results(record, path)
        print(f"written: {path}")


def report(record: dict) -> str:
    """The medians of each way, and what K seeds cost against one (one after another: K)."""
    seconds = record["seconds"]
    one = seconds["one seed"]
    return "\n".join([
        f"device: {record['device']}, torch {record['torch']} | step {record['step']} "
        f"({record['model']}), one epoch over {record['images']:,} images x {record['rounds']} "
        f"rounds, medians, measured {record['measured']}",
        " | ".join(f"{way}: {t:.2f} s" for way, t in seconds.items()),
        *(f"{way}: {t / one:.2f}x one seed" for way, t in list(seconds.items())[1:])])

def paired_permutation_p(diffs):
    """Two-sided p-value of the mean paired difference under random sign flips (exact)."""
    observed = abs(np.mean(diffs))
    flips = [abs(np.mean([s * d for s, d in zip(signs, diffs)]))
             for signs in itertools.product((1, -1), repeat=len(diffs))]
    return sum(f >= observed - 1e-12 for f in flips) / len(flips)


def seeds_ran(results: dict) -> str:
    """How a record's seeds trained; records older than ``seeds_ran`` say ``seeds_at_once``."""
    if "seeds_ran" in results:
        return results["seeds_ran"]
    return f"{results.get('seeds_at_once', 1)} packed at once"


def compare(path_a, path_b, last=records.LAST, root=Path()) -> str:
    """Two records of the same recipe and seeds, seed by seed, and the paired differences
    (paths relative to ``root``)."""
    a, b = (records.read_results(Path(root) / p) for p in (path_a, path_b))
    sa, sb = records.summarize_runs(a, last), records.summarize_runs(b, last)
    if sa["seeds"] != sb["seeds"]:
        raise ValueError(f"{path_a} and {path_b} hold different seeds: {sa['seeds']} and "
                         f"{sb['seeds']}; compare records of the same seeds")
    lines = [f"{label}: {path} (seeds ran: {seeds_ran(results)})"
             for label, path, results in (("A", path_a, a), ("B", path_b, b))]
    lines.append(f"{'seed':>4} {'best A':>7} {'best B':>7} {f'last {last} A':>9} "
                 f"{f'last {last} B':>9}")
    for row in zip(sa["seeds"], sa["best"], sb["best"], sa["last_min"], sb["last_min"]):
        lines.append(f"{row[0]:>4} " + " ".join(f"{v:>{w}.2f}"
                                                for v, w in zip(row[1:], (7, 7, 9, 9))))
    for name in ("best", "last_min"):
        diffs = np.subtract(sa[name], sb[name])
        lines.append(f"{name}: A - B = {diffs.mean():+.3f} +- {diffs.std():.3f} points, "
                     f"paired permutation p = {paired_permutation_p(diffs):.2f}")
    return "\n".join(lines)

def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=5)
    parser.add_argument("--step", type=int, default=5, choices=sorted(RECIPES))
    parser.add_argument("--batches", type=int, default=100, help="training batches per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default=None)
    parser.add_argument("--side-by-side", type=int, default=1, metavar="N",
                        help="also time the seeds trained alone, N side by side (CPU)")
    parser.add_argument("--compare", nargs=2, metavar=("A", "B"))
    parser.add_argument("--record", action="store_true",
                        help="also write the timing to Data/timings/seeds_at_once_step<N>.json")
    args = parser.parse_args()
    if args.compare:
        try:
            print(compare(*args.compare))
        except ValueError as refusal:
            parser.error(str(refusal))
    else:
        timing(args)


if __name__ == "__main__":
    main()
