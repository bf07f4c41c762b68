"""What only the pages say: the README's and docs/' generated blocks, built from the records
in Data/ (``tools/render_docs.py`` writes them; the tests check them). What a notebook or
``train.py`` calls stays in ``src/records.py``."""
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
import design_search  # noqa: E402
import noise  # noqa: E402
import plots  # noqa: E402
import records  # noqa: E402
import steps  # noqa: E402
import utils  # noqa: E402

TARGET, LAST = records.TARGET, records.LAST


def verdict(results: dict, target: float = TARGET) -> str:
    """``**3 of 5 seeds** hold 99.40 % ...; worst seed 99.27 % (seed 2), missed by 0.13 points``."""
    met, seeds, worst = records.held(results, target)
    s = records.summarize_runs(results)
    worst_seed = s["seeds"][s["last_min"].index(worst)]
    text = (f"**{met} of {seeds} seed{'s' if seeds > 1 else ''}** hold{'s' if seeds == 1 else ''}"
            f" {target:.2f} % in each of the last {LAST} epochs; worst seed {worst:.2f} %"
            f"{f' (seed {worst_seed})' if seeds > 1 else ''}")
    if met < seeds:
        text += f", **missed by {target - worst:.2f} points**"
    return text


def results_table_markdown(results_dir: Path | None = None, last: int = LAST) -> str:
    """The README's results table, built from every ``step<N>.json`` in ``results_dir``."""
    results_dir = Path(results_dir or records.REPO_ROOT / "Data" / "results")
    paths = sorted(results_dir.glob("step*.json"), key=lambda p: int(p.stem[4:]))
    rows = ["| Step | Model | Params | Epochs | Seeds | Best test acc % | "
            f"Lowest of last {last} epochs % | Train time |",
            "|---|---|---:|---:|---:|---:|---:|---:|"]
    for path in paths:
        r = records.read_results(path)
        s = records.summarize_runs(r, last)
        if len(s["seeds"]) > 1:
            best = f"{s['best_mean']:.2f} ± {s['best_std']:.2f}"
            low = (f"{s['last_min_mean']:.2f} ± {s['last_min_std']:.2f} "
                   f"(worst {s['worst_last_min']:.2f})")
        else:
            best, low = f"{s['best'][0]:.2f}", f"{s['last_min'][0]:.2f}"
        if r["epochs"] < last:  # fewer epochs than the rule looks at: all of them
            low += f" (all {r['epochs']})"
        minutes = [run["wall_s"] / 60 for run in r["runs"]]
        time = (f"{minutes[0]:.1f} min" if len(minutes) == 1 else
                f"{np.mean(minutes):.1f} min per seed, {sum(minutes):.0f} min in all"
                + at_a_time(r))
        rows.append(f"| {r['step']}. {r['title']} | `{r['model_class']}` | {r['params']:,} | "
                    f"{r['epochs']} | {len(s['seeds'])} | {best} | {low} | "
                    f"{time} ({r['device']}) |")
    return "\n".join(rows)


def at_a_time(r: dict) -> str:
    """How a record's seeds shared the machine, when not one after another: then a seed's
    time is its share of the time in all, not what one seed alone takes."""
    if r.get("seeds_ran") == "side-by-side":
        return f", {r['workers']} seeds at a time"
    return ", all seeds at once" if r.get("seeds_ran") == "packed" else ""


def step_results(step: int, folder: Path = records.RECORDED) -> str:
    """The numbers of a step's recorded run, as the bullets of its notebook's Results."""
    r = records.read_results(records.results_path(step, folder))
    s = records.summarize_runs(r, LAST)
    minutes = [run["wall_s"] / 60 for run in r["runs"]]
    acc = records.accuracies(r)
    lines = [f"- Parameters: **{r['params']:,}**; {r['epochs']} epochs, "
             f"{'seed ' + str(s['seeds'][0]) if len(minutes) == 1 else f'{len(minutes)} seeds'}"
             f", {sum(minutes) / len(minutes):.1f} min per seed on {r['device']}"
             + (f" ({sum(minutes):.0f} min in all{at_a_time(r)})." if len(minutes) > 1 else ".")]
    last = f"last {LAST} epochs" if r["epochs"] > LAST else f"all {r['epochs']} epochs"
    if len(minutes) == 1:
        lines += [f"- Best test accuracy **{s['best'][0]:.2f} %** (epoch "
                  f"{acc[0].index(s['best'][0]) + 1}); {last} "
                  f"{min(acc[0][-LAST:]):.2f}-{max(acc[0][-LAST:]):.2f} %.",
                  f"- Training accuracy at the end: {r['runs'][0]['train_acc'][-1]:.2f} %."]
    else:
        top = max(s["best"])
        lines += [f"- Best test accuracy **{s['best_mean']:.2f} ± {s['best_std']:.2f} %** (mean ± "
                  f"std over seeds); the highest single epoch {top:.2f} % (seed "
                  f"{s['seeds'][s['best'].index(top)]}).",
                  f"- Lowest test accuracy in the last {LAST} epochs: **{s['last_min_mean']:.2f} ± "
                  f"{s['last_min_std']:.2f} %**."]
    if r["role"] in records.BUDGETS:
        lines.append(f"- Target (under {records.BUDGETS[r['role']]:,} parameters, {TARGET:.2f} % in each "
                     f"of the last {LAST} of at most 15 epochs, every seed): {verdict(r)}.")
    elif len(minutes) > 1:
        lines.append(f"- Criterion ({TARGET:.2f} % in each of the last {LAST} epochs, every "
                     f"seed): {verdict(r)}.")
    lines[-1 if r["role"] in records.BUDGETS else 0] += f" {test_looks_line(step)}"
    return "\n".join(lines + odds_elsewhere(step))


def noise_line() -> str:
    """The noise in one sentence, for the lesson."""
    sd = noise.series_spread()
    return (f"one seed's lowest of the last {LAST} epochs spreads by about {sd:.2f} points "
            f"(validation, the steps' own recipes), {noise.POINTS_PER_IMAGE:.2f} points is one "
            f"image, and two means of 5 seeds each must differ by more than "
            f"{noise.resolution(sd, 5):.2f} points to tell two recipes apart.")


def noise_block() -> str:
    """The noise a difference of seeds must beat, from the validation records of the steps'
    own recipes: each record's spread over seeds, the pooled spread, the standard error of a
    mean of n seeds, the smallest difference two means of n seeds each resolve, the machine
    drift, and what one image is worth."""
    rows = ["| Step | Record (validation split) | Seeds | Spread of a seed's low (sd, points) |",
            "|---:|---|---:|---:|"]
    rows += [f"| {step} | `{name}` | {n} | {sd:.3f} |" for step, name, n, sd in
             noise.recipe_spreads()]
    sd = noise.series_spread()
    counts = (5, 10, 20)
    errors = ", ".join(f"{n} seeds {noise.standard_error(sd, n):.3f}" for n in counts)
    resolved = ", ".join(f"{n} seeds each {noise.resolution(sd, n):.2f}" for n in counts)
    drift = records.machine_difference(5)
    return "\n".join(rows + [
        "", f"- Pooled over these records, one seed's lowest accuracy of the last {LAST} epochs "
        f"spreads by **{sd:.3f} points** (standard deviation).",
        f"- The standard error of a mean of n seeds is that over the square root of n: {errors}.",
        f"- Two means differ beyond the noise past {noise.RESOLVING_ERRORS} standard errors of "
        f"their difference. The smallest difference they can resolve: {resolved} points.",
        f"- {noise.POINTS_PER_IMAGE:.2f} points is one image of the 10,000 measured.",
        f"- Another machine moves the same seed too. {drift}"])


def odds_elsewhere(step: int) -> list[str]:
    """What a student's own run of the step can expect: how often a seed held on the validation
    split, and how far another machine moved the same seeds."""
    runs = records.validation_records(step)
    if not runs:
        return []
    room = ""
    if runs[0]["role"] == "final":  # the step that asks for room above the line
        met, seeds, _ = records.held(runs[0], design_search.ROOM_TARGET)
        room = (f"; {met} of {seeds} hold the room step {step} asks for "
                f"({design_search.ROOM_TARGET:.2f} %)")
    lines = [f"- On the validation split (the same layers and recipe, recorded by the design "
             f"search as `{records.VALIDATION_RECORDS[step][0]}`): {verdict(runs[0])}"
             f"{room}."]
    if difference := records.machine_difference(step):
        lines.append(f"- On another machine a seed trains to other numbers. {difference} No GPU "
                     "run is recorded: a GPU is another machine too, so read your run by where "
                     "its seeds fall against the recorded range (the notebook and `train.py` "
                     "say it), not by its digits.")
    return lines


def headline(step: int) -> str:
    """The README's one-line verdict on a step that answers the exercise (or its frontier)."""
    r = records.read_results(records.results_path(step, records.RECORDED))
    return (f"**Headline, step {step}** (`{r['model_class']}`, {r['params']:,} parameters, "
            f"{r['epochs']} epochs, {len(r['runs'])} seeds): {verdict(r)}. "
            f"{test_looks_line(step)}")


ORDINALS = ("first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
            "ninth", "tenth")


def test_looks(step: int, folder: Path = records.RECORDED / "results") -> list[Path]:
    """Every test record of the step's budget, oldest first: each full test-set run of a recipe
    in the step's role (under its budget, for the exercise's two budgets), or of the step itself
    for the other steps. Each one was a look at the test set; one that repeats another's runs
    (a candidate re-recorded as the step) is the same look."""
    own = records.read_results(records.results_path(step, records.RECORDED))
    budget = records.BUDGETS.get(own["role"])
    looks = []
    for r, path in exercise_records(folder):
        if budget is not None:
            counts = r["role"] == own["role"] and r["params"] < budget
        else:
            counts = r["step"] == step and r["role"] == own["role"]
        if counts and not any(records.same_runs(r, seen) for seen, _ in looks):
            looks.append((r, path))
    return [path for _, path in sorted(looks, key=lambda entry: entry[0]["created"])]


def test_looks_table() -> str:
    """Every step's test records, oldest first: the looks at the test set, per budget."""
    lines = ["| Step | Test records of its budget, oldest first | Looks |", "|---:|---|---:|"]
    for step in sorted(int(p.stem[4:]) for p in (records.RECORDED / "results").glob("step*.json")):
        looks = test_looks(step)
        files = ", ".join(f"`{path.relative_to(records.REPO_ROOT)}`" for path in looks)
        lines.append(f"| {step} | {files} | {len(looks)} |")
    return "\n".join(lines)


def test_looks_line(step: int) -> str:
    """How many test records the step's budget has had, and which one the headline is."""
    looks = test_looks(step)
    own = records.results_path(step, records.RECORDED).resolve()
    at = [path.resolve() for path in looks].index(own)
    role = records.read_results(own)["role"]
    budget = records.BUDGETS.get(role)
    whose = (f"a recipe under {budget:,} parameters" if budget else f"step {step}")
    if len(looks) == 1:
        return f"The only test record of {whose}: one look at the test set."
    return (f"The {ORDINALS[at]} of {len(looks)} test records of {whose}: each earlier one was "
            "followed by more search on the validation split (docs/noise.md).")


def exercise_records(folder: Path = records.RECORDED / "results"):
    """``(record, file)`` of every full test-set record of at most 15 epochs, the exercise's
    runs: steps, their earlier records and candidates."""
    for path in sorted(Path(folder).rglob("*.json")):
        r = records.read_results(path)
        if r["mode"] == "full" and r["eval_set"] == "test" and r["epochs"] <= 15:
            yield r, path


def records_meeting_the_target(folder: Path = records.RECORDED / "results") -> list[tuple[int, Path]]:
    """(parameters, file) of every exercise record whose every seed, 5 or more, holds the
    target."""
    meeting = []
    for r, path in exercise_records(folder):
        met, seeds, _ = records.held(r)
        if met == seeds >= 5:
            meeting.append((r["params"], path.parent != Path(folder), path))
    return [(params, path) for params, _, path in sorted(meeting)]  # a step before a candidate


def frontier_gap() -> str:
    """The smallest network shown to meet the target on the test set, and its distance from
    the frontier's budget."""
    params, path = records_meeting_the_target()[0]
    gap = params - records.BUDGETS["frontier"]
    where = path.relative_to(records.REPO_ROOT)
    return (f"Smallest network shown to meet the criterion: **{params:,} parameters** "
            f"(`{where}`), " + (f"**{gap:,} over the {records.BUDGETS['frontier']:,} goal**."
                                if gap > 0 else f"within the {records.BUDGETS['frontier']:,} goal."))


def frontier_best(folder: Path = records.RECORDED / "results") -> str:
    """The closest any full test-set record under the frontier's budget has come: the highest
    worst seed among them, whether or not every seed held (steps, earlier records, candidates)."""
    budget = records.BUDGETS["frontier"]
    under = [(records.held(r), path) for r, path in exercise_records(folder)
             if r["params"] < budget]
    (met, seeds, worst), path = max(under, key=lambda entry: entry[0][2])
    where = path.relative_to(records.REPO_ROOT)
    short = (f", **{TARGET - worst:.2f} points under the line**" if met < seeds else "")
    return (f"Closest under {budget:,} parameters on the test set so far: worst seed "
            f"**{worst:.2f} %**, {met} of {seeds} seeds holding (`{where}`){short}.")


def pytest_time(path: Path = records.RECORDED / "timings" / "pytest.json") -> str:
    """How long the README's test command took, as measured and recorded."""
    t = json.loads(Path(path).read_text())
    return (f"`{t['command']}` ({t['passed']} tests) took {t['seconds'] / 60:.1f} min on "
            f"{t['machine']}, {t['conditions']} (measured {t['measured']}).")


def _recipe_change(field: str, value) -> str:
    """One recipe field's new value, as the README's table of changes says it."""
    if field == "augment":
        return ("augmentation: none" if value is None else
                f"augmentation: rotation {value.degrees:g} degrees, shift "
                f"{value.translate * 100:g} %, scale {value.scale[0]:g}-{value.scale[1]:g}"
                + (f", elastic distortions (strength {value.elastic:g}, smoothed over "
                   f"{value.elastic_sigma:g} px)" if value.elastic else ""))
    if field == "clean_last_epochs":
        return f"last {value} epochs un-augmented" if value else "no clean last epochs"
    if field == "bn_stats_images":
        return f"precise BN ({value:,} images)" if value else "no precise BN"
    if field == "seeds":
        return f"{len(value)} seed{'s' if len(value) > 1 else ''}"
    return f"{field.replace('_', ' ')}: {steps.describe(value)}"


def step_changes_table() -> str:
    """What each step changes against the one before: its network, its recipe's fields, its
    parameters and its recorded result (README, near the top)."""
    from steps import RECIPES

    rows = ["| Step | Network | Recipe change against the step before | Params | Result |",
            "|---|---|---|---:|---|"]
    before = None
    for step, recipe in RECIPES.items():
        network = recipe.model_class()
        doc = " ".join((recipe.model.__doc__ or "").split()).split(". ")[0].rstrip(".")
        if before is not None and before.model is recipe.model:
            network_text = f"`{network}`, unchanged"
        else:  # the network's docstring, first sentence
            network_text = f"`{network}`: {doc}"
        changed = [] if before is None else [
            _recipe_change(field.name, getattr(recipe, field.name))
            for field in dataclasses.fields(recipe)
            if field.name not in ("step", "title", "role", "model", "scheduler_per_batch")
            and steps.describe(getattr(before, field.name)) !=
            steps.describe(getattr(recipe, field.name))]
        if before is None:
            changed = [f"{recipe.epochs} epochs, batch {recipe.batch_size}",
                       _recipe_change("optimizer", recipe.optimizer)]
        changed = [change + recipe.rate_set_by_schedule() if change.startswith("optimizer")
                   else change for change in changed]
        r = records.read_results(records.results_path(step, records.RECORDED))
        met, seeds, worst = records.held(r)
        result = (f"{met} of {seeds} seeds hold {TARGET:.2f} %, worst {worst:.2f} %"
                  if seeds > 1 else f"lowest of last {min(LAST, r['epochs'])} epochs {worst:.2f} %")
        rows.append(f"| {step}. {recipe.title} | {network_text} | {'; '.join(changed) or 'none'} | "
                    f"{r['params']:,} | {result} |")
        before = recipe
    return "\n".join(rows)


def receptive_field_worked(step: int) -> str:
    """Step ``step``'s network, layer by layer: how each conv and pool grows the receptive
    field (RF) and the jump, with the rule's numbers filled in (README's glossary, step 2)."""
    from steps import RECIPES

    rows = plots.receptive_field_rows(RECIPES[step].model())
    lines = ["| Layer | Type | Output (C x H x W) | RF = RF before + (k - 1) x jump before | "
             "Jump after |", "|---|---|---|---|---:|"]
    rf, jump = 1, 1
    for row in rows:
        k = (row["rf"] - rf) // jump + 1
        stride = row["jump"] // jump
        kind = f"{row['type']} {k}x{k}" + (f", stride {stride}" if stride > 1 else "")
        shape = " x ".join(str(v) for v in row["output"])
        lines.append(f"| `{row['layer']}` | {kind} | {shape} | {rf} + {k - 1} x {jump} = "
                     f"{row['rf']} | {row['jump']} |")
        rf, jump = row["rf"], row["jump"]
    return "\n".join(lines)


def quick_start(config: Path = records.REPO_ROOT / "colab.json") -> str:
    """The README's first commands; the clone line from the one file that names the
    repository (``tools/set_repo_url.py`` sets it)."""
    url = json.loads(Path(config).read_text())["repo_url"]
    return "\n".join([
        "```bash",
        f"git clone {url} && cd {url.rstrip('/').split('/')[-1]}",
        "pip install -r requirements-test.txt   # the series and its test tools (not on Colab)",
        "pytest                                 # unit tests + every notebook re-run, quick mode",
        "python src/train.py --step 2           # one step, full run; results and plots to runs/",
        "python src/train.py --model my_net.py:MyNet   # your network, judged (your_turn.ipynb)",
        "```"])
