"""Which digits a candidate's validation seeds miss in each of their last epochs: what the
seeds that miss the criterion have in common (issue 32). The records keep accuracies, not
predictions, so the seeds are trained again and the file keeps the runs it counted, with their
accuracies. Where every epoch of every seed repeats its record to the digit (same machine and
torch version), the counts describe the recorded runs themselves, and the file says so
(``repeats_record``); elsewhere they describe runs of the same recipe and seeds on this machine,
and the table reads their own accuracies.

    python benchmarks/missed_digits.py r2_f28_swa --seeds 1,2,3,4,5

writes Data/tuning/<candidate>/missed_digits.json (in quick mode: runs/missed_digits/, never
Data/). The loop is the engine's, unchanged: only ``utils.evaluate`` is asked to keep its
predictions while it runs.
"""
import argparse
import contextlib
import json
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
import design_search  # noqa: E402
import plots  # noqa: E402
import records  # noqa: E402
import runner  # noqa: E402
import seeds as many_seeds  # noqa: E402
import utils  # noqa: E402

LAST = records.LAST  # the exercise's last epochs


@contextlib.contextmanager
def predictions_kept():
    """Inside, every ``utils.evaluate`` call also appends its predictions to the list yielded."""
    kept, evaluate = [], utils.evaluate

    def keeping(model, x, y, *args, **kwargs):
        result = evaluate(model, x, y, *args, **kwargs)
        kept.append(plots.predict(model, x).cpu())
        return result

    utils.evaluate = keeping
    try:
        yield kept
    finally:
        utils.evaluate = evaluate


def missed_by_digit(predictions, labels) -> list[int]:
    """How many images of each true digit 0-9 the predictions get wrong."""
    return torch.bincount(labels[predictions != labels], minlength=10).tolist()


def count_misses(recipe, seeds, last: int = LAST, data=None):
    """Train ``seeds`` of ``recipe`` on the validation split (or ``data``); return ``(results,
    misses)``, ``misses[seed]`` the misses per digit in each of the last ``last`` epochs."""
    with tempfile.TemporaryDirectory() as scratch, predictions_kept() as kept:
        results, _, data = runner.run_recipe(
            recipe, seeds, out=Path(scratch), record=True, data=data, validation=True,
            how="one-after-another", progress=False, log=print)
    labels, epochs = data[3].cpu(), results["epochs"]
    last = min(last, epochs)  # a quick run trains fewer epochs
    misses = {run["seed"]: [missed_by_digit(p, labels)
                            for p in kept[i * epochs:(i + 1) * epochs][-last:]]
              for i, run in enumerate(results["runs"])}
    return results, misses


def unrepeated(results, recorded) -> list[int]:
    """The seeds of ``results`` whose runs are not their record's, digit for digit."""
    theirs = {run["seed"]: run for run in recorded["runs"]}
    return [run["seed"] for run in results["runs"]
            if {k: v for k, v in run.items() if k != "wall_s"}
            != {k: v for k, v in theirs.get(run["seed"], {}).items() if k != "wall_s"}]


def recorded_misses_path(name: str) -> Path:
    return design_search.TUNING / name / "missed_digits.json"


def misses_path(name: str) -> Path:
    if utils.is_quick():
        return utils.REPO_ROOT / "runs" / "missed_digits" / f"{name}.json"
    return recorded_misses_path(name)


def missed_digits_table(name: str, target: float = records.TARGET) -> str:
    """Per seed of the runs counted: its lowest accuracy of the last epochs, whether it holds
    ``target``, and the misses per digit in that epoch; then the mean misses per digit of the
    seeds that hold and of those that do not. A line above says whose runs they are."""
    kept = json.loads(recorded_misses_path(name).read_text())  # the recorded counts, in any mode
    summary = records.summarize_runs(kept, kept["last"])
    rows, groups = [], {True: [], False: []}
    for seed, low, epoch in zip(summary["seeds"], summary["last_min"], summary["last_min_epoch"]):
        counts = kept["misses"][str(seed)][epoch - kept["epochs"][0]]
        groups[records.holds(low, target)].append(counts)
        rows.append(f"| {seed} | {low:.2f} | {epoch} | {'yes' if records.holds(low, target) else 'no'} | "
                    + " | ".join(map(str, counts)) + f" | {sum(counts)} |")
    for holds, group in groups.items():
        if group:
            means = [sum(c) / len(group) for c in zip(*group)]
            rows.append(f"| {'holding' if holds else 'missing'} seeds, mean | | | | "
                        + " | ".join(f"{m:.1f}" for m in means) + f" | {sum(means):.1f} |")
    recorded = design_search.validation_record(design_search.CANDIDATES[name].recipe.step, name)
    same = "the record's" if recorded.get("kernels") == kept["kernels"] else "another"
    whose = (f"The runs counted repeat {name}'s record to the digit: these are its recorded "
             "runs." if kept["repeats_record"] else
             f"The runs counted are not {name}'s record: trained again on a machine with "
             f"{same} kernels fingerprint and torch {kept['torch_version']}, they differ from "
             "it. They are other runs of the same recipe and seeds, and "
             "the accuracies below are their own.")
    head = (f"| Seed | Lowest of last {records.LAST} % | In epoch | Holds {target:.2f} | "
            + " | ".join(f"{d}" for d in range(10)) + " | All |\n|---:|---:|---:|:-:|"
            + "---:|" * 11)
    return whose + "\n\n" + head + "\n" + "\n".join(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("candidate", choices=sorted(design_search.CANDIDATES), metavar="candidate",
                        help="a candidate with a validation record (benchmarks/design_search.py)")
    parser.add_argument("--seeds", type=many_seeds.seed_list, help="seeds of its record (default: all)")
    args = parser.parse_args()
    recipe = design_search.CANDIDATES[args.candidate].recipe
    recorded = design_search.validation_record(recipe.step, args.candidate)
    if recorded is None:
        parser.error(f"{args.candidate} has no validation record: train it first with "
                     f"benchmarks/design_search.py {args.candidate}")
    seeds = args.seeds or [run["seed"] for run in recorded["runs"]]
    if set(seeds) - {run["seed"] for run in recorded["runs"]}:
        parser.error(f"{args.candidate}'s record holds seeds "
                     f"{[run['seed'] for run in recorded['runs']]}, not all of {seeds}")
    results, misses = count_misses(recipe, seeds)
    differ = unrepeated(results, recorded)
    if differ and not utils.is_quick():
        print(f"seeds {differ} did not repeat {design_search.TUNING / args.candidate}'s record "
              "(another machine or torch version): the counts describe these runs, not the "
              "record's, and the file says so")
    path = misses_path(args.candidate)
    path.parent.mkdir(parents=True, exist_ok=True)
    last = min(LAST, results["epochs"])
    kept = {"candidate": args.candidate, "mode": results["mode"], "eval_set": "validation",
            "kernels": results["kernels"], "torch_version": results["torch_version"],
            "recipe_fingerprint": results["recipe_fingerprint"], "repeats_record": not differ,
            "last": last,
            "epochs": list(range(results["epochs"] - last + 1, results["epochs"] + 1)),
            "runs": results["runs"],
            "misses": {str(seed): counts for seed, counts in misses.items()}}
    path.write_text(json.dumps(kept, indent=1) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
