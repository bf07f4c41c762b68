"""Train any step of the series without a notebook, exactly as its notebook does.

    python src/train.py --step 5                 # the step's own seeds, into a new runs/ folder
    python src/train.py --step 5 --record        # re-record the reference in Data/
    python src/train.py --step all               # the whole series, step by step
    python src/train.py --step 5 --seeds 1,2,3   # chosen seeds
    python src/train.py --step 5 --how packed    # the seeds as one packed network (GPU)
    MNIST_QUICK=1 python src/train.py --step 1 --seed 1 --out /tmp/x   # smoke run

    python src/train.py --model my_net.py:MyNet  # your network, checked and judged (judge.py)
    python src/train.py --model my_net.py:MyNet --seeds 1,2,3 --budget 4000 --step 7

Each run writes into a new folder of its own, ``runs/step<N>_seeds<...>_<time>/`` (or ``--out``):
``results/step<N>.json`` and the step's plots under ``plots/``, and prints where. A judged
network writes into ``runs/<class>_validation_<time>/`` (``--test``: ``..._test_<time>/``) and
exits 0 when it passes the rule, 1 when it fails it, 2 when a check refuses it.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import devices  # noqa: E402
import judge  # noqa: E402
import mnist_files  # noqa: E402
import plots  # noqa: E402
import records  # noqa: E402
import runner  # noqa: E402
import seeds as many_seeds  # noqa: E402
import utils  # noqa: E402
from steps import RECIPES  # noqa: E402


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=f"Environment: {mnist_files.DATA_ENV} (data root, default mnist_data/ in the repo), "
               f"{utils.QUICK_ENV}=1 (quick mode: {utils.QUICK_TRAIN_SIZE} training images, "
               f"{utils.QUICK_EPOCHS} epoch, output to a temporary folder), "
               f"{devices.DEVICE_ENV} (cpu, cuda, mps; default: the fastest available), "
               f"{devices.HOW_ENV} (how seeds train; default {devices.HOW[0]}).")
    parser.add_argument("--step", choices=[str(s) for s in RECIPES] + ["all"],
                        help="which step's recipe to train, or all of them in order "
                             f"({records.series_time()}); with --model, the recipe to train "
                             f"your network with (default: step {judge.FINAL_STEP}'s)")
    parser.add_argument("--model", metavar="FILE.py:Class",
                        help="judge your own network: check it, train it with a step's recipe "
                             "on the validation split and apply the exercise's rule")
    parser.add_argument("--budget", type=int, default=judge.BUDGET,
                        help=f"with --model: fewer parameters than this (default "
                             f"{judge.BUDGET:,}; 4000 for the frontier challenge)")
    parser.add_argument("--test", action="store_true",
                        help="with --model: measure a finished design on the test set, once "
                             "(choose designs on the validation split)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--seed", type=int, help="train a single seed")
    group.add_argument("--seeds", type=many_seeds.seed_list,
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
    parser.add_argument("--how", choices=devices.HOW,
                        help="how the seeds train: one-after-another through utils.fit (the "
                             "default on every device: the loop the notebooks print), packed as "
                             "one network (seeds.Copies: a GPU speed option, its gain "
                             "unmeasured), or side-by-side in worker processes (CPU: faster, "
                             "with other digits; benchmarks/seeds_at_once.py)")
    parser.add_argument("--workers", type=int, default=2,
                        help="with --how side-by-side: seeds trained at a time (default 2)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bars, only the per-epoch log lines")
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    seeds = [args.seed] if args.seed is not None else args.seeds
    if args.model:
        return judge_model(args, seeds)
    if args.step is None:
        parser.error("give --step N (a step of the series) or --model FILE.py:Class (yours)")
    if args.test or args.budget != judge.BUDGET:
        parser.error("--test and --budget judge your own network: use them with --model")
    steps = list(RECIPES) if args.step == "all" else [int(args.step)]
    try:
        many_seeds.check_run_arguments(args.epochs, args.how or devices.default_how(),
                                       args.workers)
        devices.get_device(args.device)
        if args.out is not None or args.record:
            records.output_dir(args.out, args.record)  # refused now, not after the training
        for step in steps:
            train_step(RECIPES[step], seeds, args)
    except (mnist_files.MnistDataError, utils.TrainingDiverged, records.ProtectedOutputError,
            ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def judge_model(args, seeds) -> int:
    """``--model FILE.py:Class``: the judge's checks, training and verdict; every refusal is one
    line and exit 2, with nothing written."""
    try:
        if args.step == "all":
            raise judge.DesignError("--model trains one recipe: give --step N, not all")
        if args.record or args.validation or args.how or args.epochs:
            raise judge.DesignError("--model takes --step, --seeds, --budget, --test, --device "
                                    "and --out; derive any other change in a recipe of your "
                                    "own (judge.recipe_for)")
        network = judge.load_class(args.model)
        step = int(args.step) if args.step else judge.FINAL_STEP
        judged = judge.judge(network, seeds, budget=args.budget, step=step, test_set=args.test,
                             out=args.out, device=args.device, progress=not args.no_progress)
        judge.plot_beside_steps(judged)
    except (judge.DesignError, mnist_files.MnistDataError, records.ProtectedOutputError,
            ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"results: {judged.path}")
    return 0 if judged.verdict.passed else 1


def train_step(recipe, seeds, args):
    """Train one step's recipe into its own folder, then save its plots and print where the
    results went."""
    out = records.output_dir(args.out, args.record,
                             records.run_label(recipe.step, seeds or recipe.seeds))
    results, model, (train_x, train_y, test_x, test_y) = runner.run_recipe(
        recipe, seeds, epochs=args.epochs, out=out, device=args.device,
        validation=args.validation, how=args.how, workers=args.workers,
        progress=not args.no_progress)
    plots.plot_samples(train_x, train_y, records.plot_path(recipe.step, "samples", out),
                       augment=recipe.augment)
    plots.save_step_plots(results, model, test_x, test_y, out)
    print(records.format_results(results))
    if not args.record:
        print(records.compare_with_recorded(results))
    print(f"results: {records.results_path(recipe.step, out)}")


if __name__ == "__main__":
    sys.exit(main())
