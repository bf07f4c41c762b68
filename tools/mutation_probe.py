"""Break the project on purpose, one way at a time, and check that the tests notice.

Each mutation is applied to a fresh copy of the working tree (tracked and untracked files that
git does not ignore), then the tests that guard it run there. A mutation the tests let pass is
a hole in them. Not part of CI: it runs pytest once per mutation (a few minutes in all); CI
checks that every mutation still applies (tests/test_mutation_probe.py), and the patterns
that quote a record or a recipe are read from them, so the probe follows the code.

    MNIST_DATA_DIR=../shared/data python tools/mutation_probe.py           # all of them
    MNIST_DATA_DIR=../shared/data python tools/mutation_probe.py onecycle-per-epoch
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
import records  # noqa: E402
from steps import RECIPES  # noqa: E402

FRONTIER = ("notebooks/step7_frontier.py", "notebooks/step7_frontier.ipynb")


def frontier_results_edits() -> list[tuple[str, str, str]]:
    """Step 7's Results as its record makes them, each number moved: its mean lowest of the
    last epochs, its worst seed and the seeds that hold."""
    recorded = records.read_results(records.results_path(7, records.RECORDED))
    summary = records.summarize_runs(recorded, records.LAST)
    met, seeds, worst = records.held(recorded)
    mean, std = summary["last_min_mean"], summary["last_min_std"]
    return [(f, old, new) for f in FRONTIER for old, new in (
        (f"**{mean:.2f} ± {std:.2f} %**", f"**{mean:.2f} ± {std + 0.01:.2f} %**"),
        (f"worst seed {worst:.2f} %", f"worst seed {worst + 0.1:.2f} %"),
        (f"**{met} of {seeds} seeds**", f"**{met - 1 if met else met + 1} of {seeds} seeds**"))]


PEAK = RECIPES[5].scheduler.keywords["max_lr"]  # step 5's OneCycle peak, which 6 and 7 keep

# name: (what a reader would be told wrongly, [(file, old text, new text or None to delete)],
#        the tests that must fail)
MUTATIONS = {
    "notebook-results-wrong": (
        "step 7's Results quotes a wrong mean, worst seed and count (in both files of the pair)",
        frontier_results_edits(),
        ["tests/test_results.py"]),
    "readme-typed-number": (
        "a number typed into the README's prose",
        [("README.md", "Each point is one recorded test-set run",
          "Each of the 8 points is one recorded test-set run")],
        ["tests/test_results.py"]),
    "readme-stale-row": (
        "a stale row left beside the README's generated results table",
        [("README.md", "<!-- /generated -->\n\nSteps 1-4 train one seed",
          "<!-- /generated -->\n| 6. Frontier | `Step6Net` | 3,918 | 15 | 5 | 99.45 | 99.40 |\n"
          "\nSteps 1-4 train one seed")],
        ["tests/test_results.py"]),
    "docs-per-seed-wrong": (
        "a per-seed line of the research log edited",
        [("docs/research_log.md", "   2   99.37    14  99.27-99.37",
          "   2   99.37    14  99.31-99.37")],
        ["tests/test_results.py"]),
    "docs-typed-number": (
        "a result typed into the prose of docs/",
        [("docs/frontier_search.md", "(f36, the same training seed for seed) has the best",
          "(f36, the same training seed for seed; 99.39 %) has the best")],
        ["tests/test_results.py"]),
    "docs-claim-false": (
        "a sentence of docs/ that its records contradict",
        [("docs/frontier_search.md", "lifted the mean above f23's, f28 the most",
          "lifted the mean above f23's, f29 the most")],
        ["tests/test_claims.py"]),
    "recording-refused": (
        "a notebook whose training is not told that it is recording (it then refuses Data/)",
        [("notebooks/step5_augmentation.py", "out=out, record=record, device", "out=out, device")],
        ["tests/test_notebooks.py"]),
    "record-deleted": (
        "a test record deleted while the pages still cite it",
        [("Data/results/candidates/f30_clean_5658/results/step6.json", None, None)],
        ["tests/test_results.py"]),
    "validation-reads-test": (
        "a validation run that measures the test set",
        [("src/runner.py", "data = utils.load_mnist(device, validation=validation)",
          "data = utils.load_mnist(device, validation=False)")],
        ["tests/test_seeds.py"]),
    "onecycle-per-epoch": (
        "OneCycle stepped once per epoch instead of once per batch",
        [("src/utils.py", "per_batch = scheduler if recipe.scheduler_per_batch else None",
          "per_batch = None")],
        ["tests/test_utils.py"]),
    "device-override-ignored": (
        "$MNIST_DEVICE ignored",
        [("src/devices.py", "name = name or os.environ.get(DEVICE_ENV)", "name = name")],
        ["tests/test_utils.py"]),
    "help-flag-hidden": (
        "a flag of train.py missing from --help",
        [("src/train.py", 'help="no progress bars, only the per-epoch log lines")',
          "help=argparse.SUPPRESS)")],
        ["tests/test_train.py"]),
    "step-notebook-missing": (
        "a step without its notebook",
        [(f, None, None) for f in FRONTIER],
        ["tests/test_notebooks.py"]),
    "bad-input-writes": (
        "bad arguments checked only after files are written",
        [("src/runner.py", "    many_seeds.check_run_arguments(epochs, how, workers)\n", ""),
         ("src/train.py", "        many_seeds.check_run_arguments(", "        (lambda *a: 0)(")],
        ["tests/test_train.py", "tests/test_seeds.py"]),
    "recipe-changed": (
        "step 5's recipe (and so 6's and 7's) changed after its record was made",
        [("src/steps.py", f"scheduler=one_cycle({PEAK}, three_phase=True),",
          f"scheduler=one_cycle({PEAK * 0.975:g}, three_phase=True),")],
        ["tests/test_results.py"]),
    "candidate-changed": (
        "a recorded search candidate's network changed",
        [("benchmarks/design_search.py", "model=sep_second(12, 16, 36, 3))",
          "model=sep_second(12, 16, 35, 3))")],
        ["tests/test_design_search.py"]),
    # Plausible one-line bugs in src/ (issue 51): each must meet a red test.
    "augment-shift-halved": (
        "the augmentation's shift half of what the recipe says",
        [("src/utils.py", "shift = u[:, 2:] * aug.translate * 2", "shift = u[:, 2:] * aug.translate")],
        ["tests/test_checks.py::test_the_augmentation_moves_images_as_far_as_the_recipe_says",
         "tests/test_checks.py::test_a_short_run_repeats_within_what_kernel_sets_differ_by"]),
    "elastic-dropped": (
        "the elastic distortion asked for and not applied",
        [("src/utils.py", "    if aug.elastic:\n        grid = grid +",
          "    if False:\n        grid = grid +")],
        ["tests/test_utils.py"]),
    "frozen-weights-uncounted": (
        "frozen weights left out of the budget",
        [("src/utils.py", "return sum(p.numel() for p in model.parameters())",
          "return sum(p.numel() for p in model.parameters() if p.requires_grad)")],
        ["tests/test_checks.py::test_frozen_weights_count_against_the_budget"]),
    "buffers-allowed": (
        "weights hidden in buffers pass the judge",
        [("src/judge.py", "    if hidden:\n", "    if False:\n")],
        ["tests/test_checks.py::test_weights_hidden_in_a_buffer_are_refused_in_one_sentence"]),
    "clean-epochs-ignored": (
        "the last epochs augmented, though the recipe keeps them clean",
        [("src/utils.py", "batches(augment=recipe.augment_in(epoch, epochs))",
          "batches(augment=recipe.augment)")],
        ["tests/test_utils.py", "tests/test_checks.py"]),
    "judge-measures-test": (
        "the judge loads the test set while its run says validation",
        [("src/judge.py", "data = data or utils.load_mnist(device, validation=not test_set)",
          "data = data or utils.load_mnist(device, validation=False)")],
        ["tests/test_judge.py"]),
    "split-label-trusted": (
        "a results file's eval_set taken from the arguments, not the data",
        [("src/runner.py", '"eval_set": measured_split(data[2])',
          '"eval_set": "test" if data[2] is None else "validation" if validation else "test"'),
         ("src/runner.py", "results = results_header(header_recipe, data, epochs, how, workers)",
          "results = results_header(header_recipe, data, epochs, how, workers, validation)"),
         ("src/runner.py", "def results_header(recipe, data, epochs: int, how: str, workers: int)",
          "def results_header(recipe, data, epochs: int, how: str, workers: int, validation=False)")],
        ["tests/test_seeds.py"]),
    "seed-ignored": (
        "every seed draws the same initial weights",
        [("src/utils.py", "    torch.manual_seed(seed)\n    torch.cuda", "    torch.manual_seed(0)\n    torch.cuda")],
        ["tests/test_checks.py::test_each_seed_draws_its_own_initial_weights_and_repeats_them",
         "tests/test_utils.py"]),
    "precise-bn-skipped": (
        "precise BN asked for and not done",
        [("src/utils.py", "        if recipe.bn_stats_images:\n            recompute",
          "        if False:\n            recompute")],
        ["tests/test_utils.py"]),
    "average-not-measured": (
        "step 7 measured on the trained weights, not their average",
        [("src/utils.py", "measured = average.module if averaging else net", "measured = net")],
        ["tests/test_utils.py"]),
    "rule-last-3": (
        "the exercise's rule judges the last 3 epochs",
        [("src/records.py", "TARGET, LAST = 99.40, 4", "TARGET, LAST = 99.40, 3")],
        ["tests/test_records.py", "tests/test_results.py"]),
    "rule-strict": (
        "a seed exactly on the line said to miss it",
        [("src/records.py", "return lowest >= target - 1e-9", "return lowest > target")],
        ["tests/test_judge.py"]),
    "cli-model-step-dropped": (
        "train.py --model ignores --step (the frontier challenge trains step 5's recipe)",
        [("src/train.py", "step = int(args.step) if args.step else judge.FINAL_STEP",
          "step = judge.FINAL_STEP")],
        ["tests/test_checks.py::test_model_with_step_budget_and_test_trains_that_recipe_on_that_set"]),
    "cli-model-test-dropped": (
        "train.py --model ignores --test",
        [("src/train.py", "test_set=args.test,", "test_set=False,")],
        ["tests/test_checks.py::test_model_with_step_budget_and_test_trains_that_recipe_on_that_set"]),
    "bit-exact-across-kernels": (
        "a packed copy compared with the plain loop to the last digit, which only some CPUs hold",
        [("tests/test_seeds.py", "assert one[key] == pytest.approx(alone[3][1][key], **ONE_COPY)",
          "assert one[key] == alone[3][1][key]")],
        ["tests/test_cpu_matrix.py"]),
}


def stale(name: str) -> list[str]:
    """What of mutation ``name`` no longer applies at this commit: a file gone, a pattern not
    found exactly once."""
    problems = []
    for file, old, _ in MUTATIONS[name][1]:
        path = ROOT / file
        if not path.exists():
            problems.append(f"{file} does not exist")
        elif old is not None and path.read_text().count(old) != 1:
            problems.append(f"{file} holds {old!r} {path.read_text().count(old)} times, not once")
    return problems


def copy_tree(to: Path) -> None:
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (to / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, to / name)


def apply(tree: Path, edits) -> None:
    for name, old, new in edits:
        path = tree / name
        if old is None:
            path.unlink()
            continue
        text = path.read_text()
        if text.count(old) != 1:
            raise SystemExit(f"error: {name} does not hold {old!r} once: update this probe")
        path.write_text(text.replace(old, new))


def run_tests(tests, edits=()) -> tuple[int, float]:
    """pytest's exit code for ``tests`` on a fresh copy of the tree with ``edits`` applied."""
    with tempfile.TemporaryDirectory(prefix="probe_") as folder:
        tree = Path(folder)
        copy_tree(tree)
        apply(tree, edits)
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", *tests],
                                cwd=tree, capture_output=True, text=True, env=os.environ)
        return result.returncode, time.perf_counter() - start


_BASELINES: dict[tuple, int] = {}


def probe(name: str) -> tuple[bool, float]:
    """Apply mutation ``name`` to a fresh copy and run its tests; True if a test failed there
    that passes on the unchanged tree. Caught only by a failing test (exit 1): not by a
    collection or usage error, a missing data set or no tests at all (exits 2-5), and not by a
    test that fails anyway, which would hide a hole."""
    _, edits, tests = MUTATIONS[name]
    key = tuple(tests)
    if key not in _BASELINES:
        _BASELINES[key] = run_tests(tests)[0]
    if _BASELINES[key] != 0:
        raise SystemExit(f"error: {' '.join(tests)} fail(s) on the unchanged tree (exit "
                         f"{_BASELINES[key]}): fix that before probing {name}")
    code, seconds = run_tests(tests, edits)
    return code == 1, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mutations", nargs="*", metavar="MUTATION",
                        help=f"default: all of {', '.join(MUTATIONS)}")
    names = parser.parse_args().mutations or list(MUTATIONS)
    unknown = set(names) - set(MUTATIONS)
    if unknown:
        parser.error(f"unknown mutations {sorted(unknown)}: choose from {', '.join(MUTATIONS)}")
    if os.environ.get("MNIST_DATA_DIR"):  # the copies live elsewhere: make the data root absolute
        os.environ["MNIST_DATA_DIR"] = str(Path(os.environ["MNIST_DATA_DIR"]).resolve())
    missed = []
    for name in names:
        caught, seconds = probe(name)
        print(f"{'caught' if caught else 'MISSED'}  {name:<26} {seconds:6.1f} s  "
              f"{MUTATIONS[name][0]}", flush=True)
        if not caught:
            missed.append(name)
    print(f"{len(names) - len(missed)} of {len(names)} mutations caught")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
