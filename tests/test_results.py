"""The recorded full runs: schema, the headline criterion, and that the README, docs/ and each
notebook's Results section show exactly the numbers of Data/, generated from it."""
import re

import jupytext
import pytest

import pages

import fingerprints
import records
import utils
from steps import RECIPES

RESULTS = utils.REPO_ROOT / "Data" / "results"
README = (utils.REPO_ROOT / "README.md").read_text()


def recorded(step):
    return records.read_results(records.results_path(step, utils.REPO_ROOT / "Data"))


@pytest.mark.usefixtures("records_torch")
@pytest.mark.parametrize("step", sorted(RECIPES))
def test_each_step_has_a_full_run_matching_its_recipe(step):
    results, recipe = recorded(step), RECIPES[step]
    assert results["mode"] == "full" and results["eval_set"] == "test"
    assert (results["train_size"], results["test_size"]) == (60_000, 10_000)
    assert results["model_class"] == recipe.model_class() and results["role"] == recipe.role
    assert results["recipe_fingerprint"] == fingerprints.recipe_fingerprint(recipe), (
        f"RECIPES[{step}] no longer trains what Data/results/step{step}.json recorded: re-record "
        "the step, or undo the change. The fingerprint covers the recipe's fields, the network's "
        "initial weights and layers, the optimizer and the learning rate at every step; not the "
        "loop, the augmentation's code, precise BN or the averaging, which "
        "tests/test_checks.py's replay and measured ranges hold on any CPU")
    assert results["params"] == utils.count_parameters(recipe.model())
    assert results["epochs"] == recipe.epochs and results["batch_size"] == recipe.batch_size
    assert [r["seed"] for r in results["runs"]] == list(recipe.seeds)
    for run in results["runs"]:
        assert all(len(run[k]) == recipe.epochs for k in ("train_loss", "test_acc", "lr"))
    for name in ("curves", "misclassified", "confusion", "samples"):
        assert records.plot_path(step, name, utils.REPO_ROOT / "Data").is_file()


def headline(results, last=4, target=99.40):
    """How many seeds held ``target`` in each of the last ``last`` epochs, and the worst one,
    computed here from the runs, apart from the code that writes the pages."""
    lows = [min(acc[-last:]) for acc in records.accuracies(results)]
    return sum(low >= target for low in lows), len(lows), min(lows)


def test_every_generated_block_is_what_its_generator_prints_now():
    """The README's, docs/' and the notebooks' numbers are generated from Data/ by the
    project's own code: a stale number, row or line, a missing or an extra one fails here."""
    import render_docs

    assert {"headline-final", "headline-frontier", "frontier-gap", "results-table",
            "quick-start", "step-changes"} | {f"step-results-{s}" for s in RECIPES} \
        <= set(render_docs.blocks(README))
    docs = "".join(p.read_text() for p in (utils.REPO_ROOT / "docs").glob("*.md"))
    assert {"search-table-5", "pareto-validation", "pareto-test", "test-time", "rf-worked",
            "one-recipe-table"} <= set(render_docs.blocks(docs))
    for path in render_docs.documents():
        text = path.read_text()
        assert render_docs.render(text) == text, \
            f"{path.name} is stale: regenerate it with `python tools/render_docs.py`"


@pytest.mark.parametrize("role, budget", [("final", 8_000), ("frontier", 4_000)])
def test_the_headlines_state_the_recorded_verdict_and_a_miss_with_its_size(role, budget):
    step = next(s for s, r in RECIPES.items() if r.role == role)
    results = recorded(step)
    assert results["params"] < budget and results["epochs"] <= 15
    met, seeds, worst = headline(results)
    assert seeds >= 5
    line = pages.headline(step)
    assert f"**{met} of {seeds} seeds**" in line and f"worst seed {worst:.2f} %" in line
    assert (f"missed by {99.40 - worst:.2f} points" in line) == (met < seeds)
    assert line in README


def test_a_missed_target_is_stated_with_its_size():
    results = recorded(5)
    missed = dict(results, runs=[dict(run, test_acc=run["test_acc"][:-1] + [99.31])
                                 for run in results["runs"]])
    assert "**0 of 5 seeds**" in pages.verdict(missed)
    assert "worst seed 99.31 %" in pages.verdict(missed)
    assert "missed by 0.09 points" in pages.verdict(missed)
    room = pages.verdict(missed, target=99.45)  # step 5's room target (docs/step5_room.md)
    assert "hold 99.45 %" in room and "missed by 0.14 points" in room


def test_readme_shows_the_overview_and_every_step_plot():
    assert "Data/plots/overview.png" in README
    assert (RESULTS.parent / "plots" / "overview.png").is_file()
    for step in RECIPES:
        assert f"Data/plots/step{step}_curves.png" in README


def test_the_smallest_network_that_meets_the_target_is_found_in_every_record():
    """Of every test record under Data/results (steps, their earlier records, candidates), the
    smallest network that held the target on 5 of 5 seeds or more, a step's record before a
    candidate's of the same size; the pages name it."""
    runs = [(records.read_results(p), p) for p in RESULTS.rglob("*.json")]
    meeting = sorted((r["params"], p.parent != RESULTS, p) for r, p in runs if r["mode"] == "full"
                     and r["eval_set"] == "test" and r["epochs"] <= 15
                     and headline(r)[0] == headline(r)[1] >= 5)
    assert pages.records_meeting_the_target() == [(params, p) for params, _, p in meeting]
    assert meeting[0][2] == records.results_path(6, RESULTS.parent)  # step 6, not f30's copy
    smallest = meeting[0][0]
    assert f"**{smallest:,} parameters**" in pages.frontier_gap()
    assert f"**{smallest - 4_000:,} over the 4,000 goal**" in pages.frontier_gap()
    assert pages.frontier_gap() in README


def test_the_closest_the_frontier_came_is_found_in_every_record():
    """The highest worst seed of any full test record under 4,000 parameters, held or not."""
    runs = [(headline(r), p) for r, p in ((records.read_results(p), p) for p in RESULTS.rglob(
        "*.json")) if r["mode"] == "full" and r["eval_set"] == "test" and r["epochs"] <= 15
        and r["params"] < 4_000]
    (met, seeds, worst), path = max(runs, key=lambda run: run[0][2])
    line = pages.frontier_best()
    assert f"worst seed **{worst:.2f} %**, {met} of {seeds} seeds holding" in line
    assert f"(`{path.relative_to(RESULTS.parents[1])}`)" in line
    assert (f"**{99.40 - worst:.2f} points under the line**" in line) == (met < seeds)
    assert line in (RESULTS.parents[1] / "docs" / "frontier_search.md").read_text()


# A number in prose is a claim; outside the generated blocks only these may appear: the
# exercise's rules, dataset sizes, and the step and epoch counts the text walks through.
RULE_NUMBERS = {"8,000", "4,000", "99.40", "99.4", "60,000", "10,000", "50,000", "3x3", "1x1",
                "28", "28x28", "1/9", "1/c_out",
                "30", "36"}  # the separable conv's widths: tests/test_model.py checks them
NUMBER = re.compile(r"\d[\d,./x]*\d|\d")


def free_numbers(text):
    """Numbers a person typed: outside generated blocks, code spans, links and the names of
    steps, candidates and files."""
    import render_docs

    text = render_docs.outside_blocks(text)
    text = re.sub(r"```.*?```|`[^`]*`|\]\([^)]*\)|!\[[^\]]*\]", "", text, flags=re.S)
    text = re.sub(r"\b[Ss]teps? \d(?:(?:-| and )\d)?|\b[Ss]eeds? \d+(?:-\d+)?\b|\b[fvwra]\d+\b|"
                  r"\bs5_\w+|step\d|\d{4}-\d\d-\d\d", "", text)
    # the exercise's counts (at most 15 epochs, the last 4 of them, 5 of 5 seeds; a chosen
    # recipe on 10 seeds), step 1's 2 epochs, and the receptive-field rule (2 pixels per 3x3
    # conv, a stride-2 pool); seeds and dates are names
    text = re.sub(r"\b(?:15|2|4) epochs\b|\blast\s+4\b|\b5 (?:of 5 )?seeds\b|\b2 pixels\b|"
                  r"\b10 seeds\b|stride-2|1/c_out", "", text)
    return [n for n in NUMBER.findall(text) if n not in RULE_NUMBERS]


def test_readme_prose_types_no_result():
    assert free_numbers(README) == [], "a number in the README's prose: generate it from Data/"


def room_bar():
    """The numbers of step 5's bar, as the code that applies it holds them."""
    import design_search

    return {f"{design_search.ROOM_BAR:.2f}", f"{design_search.ROOM_TIE:.2f}",
            f"{design_search.ROOM_TARGET:.2f}"}


@pytest.mark.parametrize("page", sorted(p.name for p in (utils.REPO_ROOT / "docs").glob("*.md")))
def test_docs_prose_types_no_result(page):
    """docs/ is the research record: its numbers come from generated blocks; the only typed
    ones are the exercise's rules and, on the step 5 page, its bar as the code applies it."""
    allowed = room_bar() if page == "step5_room.md" else set()
    text = (utils.REPO_ROOT / "docs" / page).read_text()
    assert [n for n in free_numbers(text) if n not in allowed] == [], \
        f"docs/{page}: a number typed into the prose; generate it from Data/"


@pytest.mark.parametrize("step", sorted(RECIPES))
def test_notebook_results_and_analysis_take_their_numbers_from_the_record(step):
    path = next((utils.REPO_ROOT / "notebooks").glob(f"step{step}_*.ipynb"))
    sections = {heading: next(c.source for c in jupytext.read(path).cells
                              if c.cell_type == "markdown" and c.source.startswith(heading))
                for heading in ("## Results", "## Analysis")}
    assert pages.step_results(step) in sections["## Results"]
    for heading, section in sections.items():
        assert free_numbers(section) == [], f"{path.name}: a number typed into {heading}"


def printed(path, call):
    """The committed stdout of the notebook cell whose code contains ``call``."""
    cell = next(c for c in jupytext.read(path).cells
                if c.cell_type == "code" and call in c.source)
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream")


@pytest.mark.parametrize("step", sorted(RECIPES))
def test_committed_notebook_outputs_print_the_recorded_numbers(step):
    """What a notebook shows it printed is what the code prints from the record now."""
    path = next((utils.REPO_ROOT / "notebooks").glob(f"step{step}_*.ipynb"))
    assert records.format_results(recorded(step)) in printed(path, "records.format_results(")
    if RECIPES[step].role == "frontier":  # the steps' test records change after its run: the
        # table of them is a generated block, not a printed output that would go stale
        assert "<!-- generated: pareto-test -->" in path.with_suffix(".py").read_text()
        assert not any("pareto_table" in cell.source for cell in jupytext.read(path).cells
                       if cell.cell_type == "code")


def test_a_run_of_fewer_than_4_epochs_is_never_called_its_last_4():
    short = [step for step in RECIPES if recorded(step)["epochs"] < records.LAST]
    assert short  # step 1: 2 epochs
    for step in short:
        epochs = recorded(step)["epochs"]
        assert f"all {epochs} epochs" in pages.step_results(step)
        assert f"last {records.LAST} epochs" not in pages.step_results(step)
        row = next(line for line in pages.results_table_markdown().splitlines()
                   if line.startswith(f"| {step}. "))
        assert f"(all {epochs})" in row


def test_the_table_of_changes_names_what_each_recipe_changes():
    table = pages.step_changes_table().splitlines()[2:]
    assert len(table) == len(RECIPES)
    five, six, seven = (next(row for row in table if row.startswith(f"| {s}. "))
                        for s in (5, 6, 7))
    assert "`Step5Net`: Step 4's network with its narrowest layer" in five
    assert "precise BN" in five and "5 seeds" in five
    assert "last 4 epochs un-augmented" in five
    assert "no precise BN" in six and "augmentation" not in six  # step 6 keeps step 5's
    assert "elastic" not in five and (f"elastic distortions (strength "
                                      f"{RECIPES[7].augment.elastic:g}") in seven


def test_the_readme_is_read_in_one_sitting():
    """At most 250 lines: what a student does not need for the lesson is in docs/."""
    assert len(README.splitlines()) <= 250
    assert "(docs/using_the_series.md)" in README
