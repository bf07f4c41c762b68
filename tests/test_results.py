"""The recorded full runs: schema, the headline criterion, and that the README and each
notebook's Results section show exactly the numbers of Data/results/*.json."""
import re

import jupytext
import pytest

import records
import utils
from steps import RECIPES

RESULTS = utils.REPO_ROOT / "Data" / "results"
README = (utils.REPO_ROOT / "README.md").read_text()


def recorded(step):
    return records.read_results(records.results_path(step, utils.REPO_ROOT / "Data"))


@pytest.mark.parametrize("step", sorted(RECIPES))
def test_each_step_has_a_full_run_matching_its_recipe(step):
    results, recipe = recorded(step), RECIPES[step]
    assert results["mode"] == "full" and results["eval_set"] == "test"
    assert (results["train_size"], results["test_size"]) == (60_000, 10_000)
    assert results["model_class"] == recipe.model_class() and results["role"] == recipe.role
    assert results["recipe_fingerprint"] == records.recipe_fingerprint(recipe), (
        f"RECIPES[{step}] no longer trains what Data/results/step{step}.json recorded: re-record "
        "the step, or undo the change to its recipe, network or the engine")
    assert results["params"] == utils.count_parameters(recipe.model())
    assert results["epochs"] == recipe.epochs and results["batch_size"] == recipe.batch_size
    assert [r["seed"] for r in results["runs"]] == list(recipe.seeds)
    for run in results["runs"]:
        assert all(len(run[k]) == recipe.epochs for k in ("train_loss", "test_acc", "lr"))
    for name in ("curves", "misclassified", "confusion", "samples"):
        assert records.plot_path(step, name, utils.REPO_ROOT / "Data").is_file()


def headline(results, last=4, target=99.40):
    """How many seeds held ``target`` in each of the last ``last`` epochs, and the worst one."""
    summary = records.summarize_runs(results, last)
    met = sum(low >= target for low in summary["last_min"])
    return met, len(summary["seeds"]), summary["worst_last_min"]


@pytest.mark.parametrize("role, budget", [("final", 8_000), ("frontier", 4_000)])
def test_readme_reports_the_headline_steps_against_the_target_as_recorded(role, budget):
    step = next(s for s, r in RECIPES.items() if r.role == role)
    results = recorded(step)
    assert results["params"] < budget and results["epochs"] <= 15
    met, seeds, worst = headline(results)
    assert seeds >= 5
    section = README[README.index(f"**Headline, step {step}**"):]
    section = section[:section.index("\n\n")]
    assert f"**{met} of {seeds} seeds**" in section
    assert f"worst seed {worst:.2f}" in section
    if met < seeds:  # a miss is stated as a miss, with its size
        assert f"missed by {99.40 - worst:.2f} points" in section


def test_every_generated_block_is_what_its_generator_prints_now():
    """The README's and docs/' tables are generated from Data/ by the project's own code:
    a stale row, a missing or an extra one fails here."""
    import render_docs

    assert {"results-table", "search-table-5", "pareto-validation", "pareto-test"} <= \
        set(render_docs.blocks(README))
    for path in render_docs.documents():
        text = path.read_text()
        assert render_docs.render(text) == text, \
            f"{path.name} is stale: regenerate it with `python tools/render_docs.py`"


def test_readme_shows_every_step_plot():
    for step in RECIPES:
        assert f"Data/plots/step{step}_curves.png" in README



def test_the_frontier_reports_the_smallest_network_that_meets_the_target_and_its_gap():
    """The issue's fallback while the frontier misses: of every test record under Data/results
    (steps, their earlier records, candidates), the smallest network that held the target on
    5 of 5 seeds or more, and how far it is above the frontier's budget."""
    step = next(s for s, r in RECIPES.items() if r.role == "frontier")
    met, seeds, _ = headline(recorded(step))
    if met == seeds:
        pytest.skip("the frontier step meets the target itself: its headline test covers it")
    recorded_runs = [records.read_results(path) for path in RESULTS.rglob("*.json")]
    meeting = [r["params"] for r in recorded_runs if r["mode"] == "full" and r["eval_set"] == "test"
               and r["epochs"] <= 15 and headline(r)[0] == headline(r)[1] >= 5]
    smallest, gap = min(meeting), min(meeting) - 4_000
    path = next((utils.REPO_ROOT / "notebooks").glob(f"step{step}_*.ipynb"))
    section = next(c.source for c in jupytext.read(path).cells
                   if c.cell_type == "markdown" and c.source.startswith("## Results"))
    for text, claims in ((section, (f"meet the criterion: **{smallest:,}** parameters",
                                    f"gap is **{gap:,} parameters** over the 4,000 goal")),
                         (README, (f"meet the criterion: {smallest:,} parameters**",
                                   f"**{gap:,} over the 4,000 goal**"))):
        for claim in claims:
            assert claim in text, f"expected {claim!r}: the smallest network that meets the " \
                                  f"target on the test set has {smallest:,} parameters"

NUMBER = re.compile(r"\d+\.\d+")


def quotable(results):
    """The numbers a Results section may quote from one record: an accuracy of some epoch or a
    summary over seeds (2 places), minutes of training (1 place), the target 99.40 and the
    distance to it."""
    summary = records.summarize_runs(results)
    allowed = {f"{v:.2f}" for run in results["runs"] for key in ("test_acc", "train_acc")
               for v in run[key]}
    allowed |= {f"{summary[k]:.2f}" for k in ("best_mean", "best_std", "last_min_mean",
                                              "last_min_std", "worst_last_min")}
    walls = [run["wall_s"] / 60 for run in results["runs"]]
    allowed |= {f"{minutes:.1f}" for minutes in walls + [sum(walls) / len(walls), sum(walls)]}
    return allowed | {"99.40", f"{99.40 - summary['worst_last_min']:.2f}"}


@pytest.mark.parametrize("step", sorted(RECIPES))
def test_notebook_results_section_quotes_only_recorded_numbers(step):
    """Every decimal number in a notebook's Results section must come from its JSON, or for the
    frontier step also from the test records of its search candidates."""
    results = recorded(step)
    allowed = quotable(results)
    if RECIPES[step].role == "frontier":
        for path in (RESULTS / "candidates").glob("*/results/step6.json"):
            allowed |= quotable(records.read_results(path))
    path = next((utils.REPO_ROOT / "notebooks").glob(f"step{step}_*.ipynb"))
    section = next(c.source for c in jupytext.read(path).cells
                   if c.cell_type == "markdown" and c.source.startswith("## Results"))
    assert f"{results['params']:,}" in section
    quoted = NUMBER.findall(section)
    assert quoted, f"{path.name}: Results section quotes no numbers"
    assert set(quoted) <= allowed, f"{path.name}: not in the JSON: {set(quoted) - allowed}"
