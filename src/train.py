"""Train any step of the series without a notebook, exactly as its notebook does.

    python src/train.py --step 5                 # the step's own seeds, results into runs/
    python src/train.py --step 5 --record        # re-record the reference in Data/
    python src/train.py --step all               # the whole series, step by step
    python src/train.py --step 5 --seeds 1,2,3   # chosen seeds
    python src/train.py --step 5 --how packed    # the seeds as one packed network (GPU)
    MNIST_QUICK=1 python src/train.py --step 1 --seed 1 --out /tmp/x   # smoke run

Writes ``<out>/results/step<N>.json`` and the step's plots under ``<out>/plots/``.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import records  # noqa: E402
import seeds as many_seeds  # noqa: E402
import utils  # noqa: E402
from steps import RECIPES  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"Environment: {utils.DATA_ENV} (data root, default mnist_data/ in the repo), "
               f"{utils.QUICK_ENV}=1 (quick mode: {utils.QUICK_TRAIN_SIZE} training images, "
               f"{utils.QUICK_EPOCHS} epoch, output to a temporary folder), "
               f"{utils.DEVICE_ENV} (cpu, cuda, mps; default: the fastest available).")
    parser.add_argument("--step", required=True, choices=[str(s) for s in RECIPES] + ["all"],
                        help="which step's recipe to train, or all of them in order "
                             f"({records.series_time()})")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--seed", type=int, help="train a single seed")
    group.add_argument("--seeds", type=utils.seed_list,
                       help="comma-separated seeds, e.g. 1,2,3 (default: the step's seeds)")
    parser.add_argument("--epochs", type=int,
                        help="override the step's number of epochs (default: the recipe's)")
    parser.add_argument("--out", type=Path,
                        help="output folder (default: runs/, a temporary folder in quick mode, "
                             "Data/ with --record)")
    parser.add_argument("--record", action="store_true",
                        help="re-record the reference in Data/ that the README and notebooks "
                             "cite (full mode only); without it a run never writes into Data/")
    parser.add_argument("--device", help="cpu, cuda or mps (default: CUDA, then MPS, then CPU)")
    parser.add_argument("--validation", action="store_true",
                        help=f"hold out the last {utils.VALIDATION_SIZE:,} training images and "
                             "measure on them instead of the test set (for design searches)")
    parser.add_argument("--how", choices=many_seeds.HOW,
                        help="how the seeds train: one-after-another, packed as one network "
                             "(seeds.Copies), or side-by-side in worker processes (CPU); "
                             "default: packed on a GPU, one after another elsewhere (measured "
                             "fastest: benchmarks/seeds_at_once.py)")
    parser.add_argument("--workers", type=int, default=2,
                        help="with --how side-by-side: seeds trained at a time (default 2)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bars, only the per-epoch log lines")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    steps = list(RECIPES) if args.step == "all" else [int(args.step)]
    seeds = [args.seed] if args.seed is not None else args.seeds
    try:
        many_seeds.check_run_arguments(args.epochs, args.how or many_seeds.HOW[0], args.workers)
        utils.get_device(args.device)
        out = records.output_dir(args.out, args.record)
        for step in steps:
            train_step(RECIPES[step], seeds, args, out)
    except (utils.MnistDataError, utils.TrainingDiverged, records.ProtectedOutputError,
            ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def train_step(recipe, seeds, args, out):
    """Train one step's recipe, then save its plots and print where the results went."""
    results, model, (train_x, train_y, test_x, test_y) = many_seeds.run_recipe(
        recipe, seeds, epochs=args.epochs, out=out, device=args.device,
        validation=args.validation, how=args.how, workers=args.workers,
        progress=not args.no_progress)
    utils.plot_samples(train_x, train_y, records.plot_path(recipe.step, "samples", out),
                       augment=recipe.augment)
    records.save_step_plots(results, model, test_x, test_y, out)
    print(records.format_results(results))
    if not args.record:
        print(records.compare_with_recorded(results))
    print(f"results: {records.results_path(recipe.step, out)}")


if __name__ == "__main__":
    sys.exit(main())
