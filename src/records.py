"""Results files: where a run writes, the schema of a results JSON and its atomic write and
checked read, per-seed summaries, the exercise's rule (``judged_epochs``, ``holds``, ``held``)
and what a run prints beside its record. Figures are ``plots.py``'s, fingerprints
``fingerprints.py``'s; what only the pages say is in ``tools/pages.py``.

A results file holds one recipe's runs, one per seed, each with its per-epoch history:
``train_loss``, ``train_acc``, ``lr``, and the measured set's loss and accuracy under its own
name, ``test_loss`` / ``test_acc`` or, on the validation split, ``val_loss`` / ``val_acc``.
"""
from __future__ import annotations

import datetime as dt
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

import history
from utils import QUICK_ENV, REPO_ROOT, is_quick


class ProtectedOutputError(ValueError):
    """A quick run was pointed at a folder that holds recorded results."""


RECORDED = REPO_ROOT / "Data"  # the reference the README and the notebooks cite
RUNS = REPO_ROOT / "runs"  # a user's own runs (git ignores it)
RECORD_ENV = "MNIST_RECORD"
TARGET, LAST = 99.40, 4  # the exercise: this accuracy in each of the last 4 epochs, every seed
BUDGETS = {"final": 8_000, "frontier": 4_000}  # fewer parameters than this, by role


def recording() -> bool:
    """``MNIST_RECORD=1``: a notebook run re-records the reference (``tools/run_notebook.py``)."""
    return os.environ.get(RECORD_ENV, "").strip().lower() not in ("", "0", "false", "no")


def output_dir(out=None, record: bool = False, label: str = "run") -> Path:
    """Where a run writes: ``out``; else, in a full run, a new folder of its own under ``runs/``
    (``run_folder``: your runs, never committed, never replacing each other) or, with
    ``record``, ``Data/``; in quick mode a fresh temporary folder.

    Re-recording the reference is an explicit act (``train.py --record``,
    ``tools/run_notebook.py``, the design searches): any other run is refused inside
    ``Data/``, and quick runs inside ``Data/`` and ``notebooks/`` too."""
    if is_quick() and record and out is None:
        raise ProtectedOutputError(f"quick mode ({QUICK_ENV}=1) never records: unset it to "
                                   "re-record the reference in full mode.")
    if out is None:
        out = tempfile.mkdtemp(prefix="mnist_quick_") if is_quick() else (
            RECORDED if record else run_folder(label))
    out = Path(out).expanduser().resolve()
    protected = (RECORDED, REPO_ROOT / "notebooks") if is_quick() else () if record else (
        RECORDED,)
    for folder in protected:
        if out == folder or folder in out.parents:
            raise ProtectedOutputError(
                f"quick mode ({QUICK_ENV}=1) must not write into {folder}: give another --out "
                f"folder or unset {QUICK_ENV}." if is_quick() else
                f"{folder} holds the recorded reference that the README and the notebooks "
                "cite: write your run elsewhere (by default it goes to runs/), or re-record "
                "the reference on purpose with --record.")
    try:  # a folder that cannot be written is refused now, not after the training
        out.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out).close()
    except OSError as error:
        raise ProtectedOutputError(f"cannot write into {out} ({error.strerror or error}): "
                                   "give another --out folder") from None
    return out


def run_folder(label: str) -> Path:
    """A new folder under ``runs/`` named for what runs and when (``step5_seeds1-2_20261208-
    101500``; ``-2``, ``-3`` ... if two runs start in the same second): made here, so a second
    run can never take it."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    for count in range(1, 1000):
        folder = RUNS / f"{label}_{stamp}{'' if count == 1 else f'-{count}'}"
        try:
            folder.mkdir(parents=True)
            return folder
        except FileExistsError:
            continue
    raise ProtectedOutputError(f"{RUNS} already holds 999 runs named {label}_{stamp}")


def run_label(step: int | str, seeds) -> str:
    """``step5_seeds1-2-3``: what a run folder is named for."""
    return f"step{step}_seeds{'-'.join(map(str, seeds))}" if seeds else f"step{step}"


def results_path(step: int, out: Path) -> Path:
    return Path(out) / "results" / f"step{step}.json"


def plot_path(step: int, name: str, out: Path) -> Path:
    return Path(out) / "plots" / f"step{step}_{name}.png"


def write_results(results: dict, path: Path) -> Path:
    """Write JSON atomically: a temp file in the same folder, then rename, so a crash never
    leaves a half-written results file in place of a good one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(results, f, indent=1)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates it private; results are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


REQUIRED_KEYS = ("step", "title", "role", "model_class", "params", "mode", "epochs",
                 "batch_size", "train_size", "test_size", "eval_set", "device", "torch_version",
                 "created", "runs")


def run_keys(eval_set: str) -> tuple[str, ...]:
    """The keys of each run in a results file measured on ``eval_set``."""
    measured = history.eval_name(eval_set)
    return ("seed", "train_loss", "train_acc", f"{measured}_loss", f"{measured}_acc", "lr",
            "wall_s")


def read_results(path: Path) -> dict:
    """Load a results JSON and check its schema; errors name the file and what is missing."""
    path = Path(path)
    try:
        results = json.loads(path.read_text())
    except FileNotFoundError:
        raise FileNotFoundError(f"{path} does not exist: run `python src/train.py --step N` "
                                f"(full mode) to create it.") from None
    except json.JSONDecodeError as e:
        message = f"{path} is not valid JSON ({e}); re-create it with src/train.py."
        raise ValueError(message) from None
    missing = [k for k in REQUIRED_KEYS if k not in results]
    if results.get("eval_set") not in ("test", "validation"):
        missing.append("eval_set 'test' or 'validation'")
    else:
        missing += [f"runs[{i}].{k}" for i, r in enumerate(results["runs"])
                    for k in run_keys(results["eval_set"]) if k not in r]
    if missing:
        raise ValueError(f"{path} lacks {', '.join(missing)}; re-create it with src/train.py.")
    return results


def accuracies(results: dict) -> list[list[float]]:
    """Per seed, the accuracy of each epoch on the measured set (test or validation)."""
    key = f"{history.eval_name(results['eval_set'])}_acc"
    return [run[key] for run in results["runs"]]


def summarize_runs(results: dict, last: int = LAST) -> dict:
    """Per-seed best and lowest accuracy of the judged epochs (``judged_epochs``) on the measured
    set, and their spread over seeds."""
    last = judged_epochs(results, last)[0]
    best = [max(acc) for acc in accuracies(results)]
    last_min = [min(acc[-last:]) for acc in accuracies(results)]
    # the epoch (from 1) of each seed's lowest of the last epochs; its first, on a tie
    last_min_epoch = [len(acc) - len(acc[-last:]) + acc[-last:].index(low) + 1
                      for acc, low in zip(accuracies(results), last_min)]
    return {
        "seeds": [r["seed"] for r in results["runs"]],
        "best": best, "last_min": last_min, "last_min_epoch": last_min_epoch,
        "best_mean": float(np.mean(best)), "best_std": float(np.std(best)),
        "last_min_mean": float(np.mean(last_min)), "last_min_std": float(np.std(last_min)),
        "worst_last_min": min(last_min),
    }


def judged_epochs(results: dict, last: int = LAST) -> tuple[int, str]:
    """The rule's epochs, in one place: how many it judges, and their name: the last 4, or all
    of a shorter run."""
    epochs = len(accuracies(results)[0])
    return min(last, epochs), f"last {last}" if epochs > last else f"all {epochs}"


def format_results(results: dict, last: int = LAST) -> str:
    """The Results table of a notebook: one row per seed, then mean +- std over seeds."""
    last, name = judged_epochs(results, last)
    s = summarize_runs(results, last)
    lines = [f"step {results['step']} ({results['model_class']}, {results['params']:,} params), "
             f"{results['mode']} mode, {results['epochs']} epochs, {results['eval_set']} set",
             f"{'seed':>4} {'best %':>7} {'epoch':>5} {f'{name} %':>14} {'wall s':>7}"]
    for run, acc, best in zip(results["runs"], accuracies(results), s["best"]):
        tail = acc[-last:]
        lines.append(f"{run['seed']:>4} {best:>7.2f} {acc.index(best) + 1:>5} "
                     f"{min(tail):>6.2f}-{max(tail):<7.2f} {run['wall_s']:>7.1f}")
    if len(results["runs"]) > 1:
        lines.append(f"mean {s['best_mean']:>7.2f} +- {s['best_std']:.2f}   lowest of {name}: "
                     f"{s['last_min_mean']:.2f} +- {s['last_min_std']:.2f}, worst seed "
                     f"{s['worst_last_min']:.2f}")
    return "\n".join(lines)


def series_time() -> str:
    """What ``--step all`` costs, from the recorded runs' times."""
    paths = sorted(RECORDED.glob("results/step*.json"))
    if not paths:
        return "no recorded run to say how long it takes"
    runs = [read_results(path) for path in paths]
    minutes = sum(run["wall_s"] for r in runs for run in r["runs"]) / 60
    devices = sorted({r["device"] for r in runs})
    return f"the recorded full runs took {minutes:.0f} min in all on {', '.join(devices)}"


def compare_with_recorded(results: dict, last: int = LAST, target: float = TARGET) -> str:
    """Your run beside the recorded reference of the same step and set, when there is one:
    parameters, best accuracy, lowest of the last ``last`` epochs, seeds holding ``target``;
    then where your seeds fall against the recorded ones (``against_the_record``)."""
    reference = reference_record(results["step"], results["eval_set"])
    if reference is None:
        return (f"(no recorded {results['eval_set']}-set reference for step {results['step']} "
                f"in {RECORDED})")
    name = judged_epochs(results, last)[1]
    rows = [f"{'':<9}{'params':>10}{'seeds':>6}{'best %':>8}{f'lowest of {name} %':>24}"
            f"{f'held {target:.2f}':>12}"]
    for label, run in (("your run", results), ("recorded", reference)):
        s = summarize_runs(run, last)
        met, seeds = held(run, target, last)[:2]
        lowest = f"{s['last_min_mean']:.2f} (worst {s['worst_last_min']:.2f})"
        rows.append(f"{label:<9}{run['params']:>10,}{seeds:>6}{s['best_mean']:>8.2f}"
                    f"{lowest:>24}{f'{met} of {seeds}':>12}   {run['mode']} mode, "
                    f"{run['epochs']} epoch{'s' if run['epochs'] > 1 else ''}, "
                    f"{run['eval_set']} set")
    return "\n".join(rows + [against_the_record(results, last)])


# Each step's own recipe on the validation split: design-search candidates that train what
# RECIPES[step] trains, on the same layers (tests/test_records.py holds it), the first the one
# the pages count. Step 7's is recorded as a step 6 candidate (the frontier's searches).
VALIDATION_RECORDS = {5: ("s5_wider_transition", "n5_step5_net", "b0_full_recipe"),
                      6: ("f30_clean_5658",),
                      7: ("e1_elastic",)}


def validation_records(step: int) -> list[dict]:
    """The recorded validation runs of step ``step``'s recipe, one file per machine (each in
    its candidate's folder, under the step the candidate was defined for)."""
    return [results for name in VALIDATION_RECORDS.get(step, ())
            for results in validation_records_of(step, name)]


def validation_records_of(step: int, name: str) -> list[dict]:
    """The records of one of ``VALIDATION_RECORDS[step]``, in its candidate's folder."""
    return [read_results(path)
            for path in sorted((RECORDED / "tuning" / name / "results").glob("step*.json"))]


def reference_record(step: int, eval_set: str) -> dict | None:
    """What a run of step ``step`` on ``eval_set`` is compared with: the step's recorded test
    run, or its recipe's first validation record."""
    if eval_set == "validation":
        return next(iter(validation_records(step)), None)
    path = results_path(step, RECORDED)
    return read_results(path) if path.exists() else None


def machine_difference(step: int, last: int = LAST) -> str:
    """How far the same seeds of step ``step``'s recipe landed on two machines (validation
    records with other kernels), against the spread over seeds; '' without two machines."""
    runs = validation_records(step)
    if len(runs) < 2 or runs[0].get("kernels") == runs[1].get("kernels"):
        return ""
    a, b = (dict(zip(s["seeds"], s["last_min"])) for s in (summarize_runs(r, last) for r in runs[:2]))
    shared = sorted(a.keys() & b.keys())
    if not shared:
        return ""
    moved = max(abs(a[seed] - b[seed]) for seed in shared)
    spread = max(a.values()) - min(a.values())
    named = (f"{shared[0]}-{shared[-1]}" if shared == list(range(shared[0], shared[-1] + 1))
             else ", ".join(map(str, shared)))
    return (f"On the validation split the same seeds ({named}) of this recipe, trained in two "
            f"setups (another CPU or thread count), moved by up to {moved:.2f} points, against "
            f"a spread of {spread:.2f} points over {len(a)} seeds in one.")


def against_the_record(results: dict, last: int = LAST) -> str:
    """One line in plain words: where each seed's lowest accuracy of the last ``last`` epochs
    falls against the range the recorded seeds of the same step and set spread over. A seed
    repeats its digits only on the record's kernels (``fingerprints.kernels_fingerprint``) and torch
    version; elsewhere, inside or near the range is what an honest run shows."""
    reference = reference_record(results["step"], results["eval_set"])
    if reference is None:
        return ""
    ours, theirs = summarize_runs(results, last), summarize_runs(reference, last)
    low, high = min(theirs["last_min"]), max(theirs["last_min"])
    inside = "inside" if low < high else "at"
    places = ["below" if x < low else "above" if x > high else inside for x in ours["last_min"]]
    counts = [f"{places.count(place)} {place}" for place in ("below", inside, "above")
              if place in places]
    yours = ", ".join(f"{x:.2f}" for x in ours["last_min"])
    where = places[0] if len(places) == 1 else ", ".join(counts)
    spread = (f"the range the {len(theirs['seeds'])} recorded seeds spread over, "
              f"{low:.2f}-{high:.2f} %" if low < high else f"the recorded seed's {low:.2f} %")
    name = judged_epochs(results, last)[1]
    measured = ("its one epoch" if results["epochs"] == 1 else
                f"the {name}" if name.startswith("last") else f"{name} epochs")
    line = (f"Your lowest of {measured} ({yours} %, seed"
            f"{'s' if len(places) > 1 else ''} {', '.join(map(str, ours['seeds']))}): {where} "
            f"{spread} on the {reference['eval_set']} set.")
    if results["mode"] != reference["mode"] or results["epochs"] != reference["epochs"]:
        return line + (f" Your run is a {results['mode']}-mode run of {results['epochs']} "
                       f"epoch{'s' if results['epochs'] > 1 else ''}, the record a "
                       f"{reference['mode']}-mode run of {reference['epochs']}: compare a full "
                       "run.")
    if results["model_class"] != reference["model_class"]:
        return line + (f" The range is step {reference['step']}'s own network's "
                       f"({reference['model_class']}, {reference['params']:,} parameters), "
                       f"yours is {results['model_class']}: a yardstick, not a forecast; the "
                       "verdict judges your design.")
    same = (results.get("kernels"), results["torch_version"]) == (
        reference.get("kernels"), reference["torch_version"])
    if same and results.get("seeds_ran") == reference.get("seeds_ran"):
        return line + " Same kernels and torch as the record: a recorded seed repeats its digits."
    if same:
        return line + (f" Same kernels and torch as the record, but it trained its seeds "
                       f"{reference.get('seeds_ran', 'another way')} and yours "
                       f"{results.get('seeds_ran')}: another order of sums, so other digits; "
                       "inside or near the recorded range is what an honest run shows.")
    difference = machine_difference(results["step"], last)
    return line + (" This machine is not known to run the record's kernels and torch version"
                   " (kernels_fingerprint): a seed trains other digits there, and inside or near"
                   " the recorded range is what an honest run shows."
                   + (f" {difference}" if difference else ""))


def holds(lowest: float, target: float = TARGET) -> bool:
    """The exercise's rule for one seed: its lowest accuracy of the judged epochs is at least
    ``target`` (a seed exactly on the line holds; 1e-9 absorbs a float sum's last bit)."""
    return lowest >= target - 1e-9


def held(results: dict, target: float = TARGET, last: int = LAST) -> tuple[int, int, float]:
    """Seeds holding ``target`` in each of the last ``last`` epochs (all of them in a shorter
    run), seeds, the worst seed: the one rule the pages and the judge apply."""
    s = summarize_runs(results, last)
    return sum(holds(low, target) for low in s["last_min"]), len(s["seeds"]), s["worst_last_min"]


def same_runs(a: dict, b: dict) -> bool:
    """Whether two records hold the same measurement: the same seeds with the same accuracy
    in every epoch (a candidate that became a step, re-recorded as the step)."""
    return [(r["seed"], acc) for r, acc in zip(a["runs"], accuracies(a))] == \
        [(r["seed"], acc) for r, acc in zip(b["runs"], accuracies(b))] and \
        a["eval_set"] == b["eval_set"]


def advise_runtime(device, step: int, record_folder: Path = RECORDED) -> None:
    """On a CPU runtime in Colab, print how to switch to a GPU and what a CPU run of ``step``
    costs (from its record); anywhere else, print nothing."""
    if device.type != "cpu" or "google.colab" not in sys.modules:
        return
    path = results_path(step, record_folder)
    cost = ""
    if path.exists():
        r = read_results(path)
        minutes = [run["wall_s"] / 60 for run in r["runs"]]
        cost = (f" A CPU run of step {step} took {sum(minutes) / len(minutes):.1f} min per seed "
                f"when it was recorded ({sum(minutes):.0f} min for {len(minutes)} "
                f"seed{'s' if len(minutes) > 1 else ''}).")
    print("This Colab runtime has no GPU." + cost + " For a GPU: Runtime > Change runtime "
          "type > T4 GPU, then run the notebook again from the top.")
