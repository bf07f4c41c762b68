"""Results files: the schema (the measured set named in its own keys), atomic writes, checked
reads, where runs write, and the recipe fingerprint."""
import dataclasses
import json

import pytest

import design_search
import fingerprints
import pages
import records
import utils
import weight_average
from steps import RECIPES


def _results():
    return {k: 1 for k in records.REQUIRED_KEYS} | {"eval_set": "test", "runs": [
        {k: [1.0] for k in records.run_keys("test")} | {"seed": 1}]}


def test_results_round_trip(tmp_path):
    path = records.write_results(_results(), tmp_path / "results" / "step1.json")
    assert records.read_results(path) == _results()
    assert [p.name for p in path.parent.iterdir()] == ["step1.json"]


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = records.write_results(_results(), tmp_path / "step1.json")
    before = path.read_text()

    def broken_dump(obj, f, **kwargs):
        f.write('{"half":')
        raise OSError("disk full")

    monkeypatch.setattr(records.json, "dump", broken_dump)
    with pytest.raises(OSError, match="disk full"):
        records.write_results({"new": 1}, path)
    assert path.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["step1.json"]


def test_read_results_names_the_file_and_the_missing_keys(tmp_path):
    bad = tmp_path / "step3.json"
    bad.write_text(json.dumps({"step": 3}))
    with pytest.raises(ValueError, match=r"step3\.json lacks title, role"):
        records.read_results(bad)
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="step3.json is not valid JSON"):
        records.read_results(bad)


def test_a_users_full_run_goes_to_runs_and_only_a_recording_writes_data(monkeypatch, tmp_path):
    monkeypatch.setenv(utils.QUICK_ENV, "0")
    monkeypatch.setattr(records, "RUNS", tmp_path / "runs")
    first, second = records.output_dir(label="step5_seeds6"), records.output_dir(label="step5_seeds6")
    assert first.parent == second.parent == tmp_path / "runs" and first != second  # no run replaces another
    assert first.name.startswith("step5_seeds6_") and first.is_dir() and second.is_dir()
    assert records.output_dir(record=True) == utils.REPO_ROOT / "Data"
    assert records.output_dir(tmp_path) == tmp_path
    for inside in (utils.REPO_ROOT / "Data", utils.REPO_ROOT / "Data" / "tuning" / "x"):
        with pytest.raises(records.ProtectedOutputError, match="--record"):
            records.output_dir(inside)
        assert records.output_dir(inside, record=True) == inside


def test_quick_mode_refuses_to_write_into_data():
    with pytest.raises(records.ProtectedOutputError, match="must not write into"):
        records.output_dir(utils.REPO_ROOT / "Data")
    assert utils.REPO_ROOT not in records.output_dir().parents
    with pytest.raises(records.ProtectedOutputError, match="never records"):
        records.output_dir(record=True)



def test_a_run_is_shown_beside_the_recorded_reference():
    recorded = records.read_results(records.results_path(5, records.RECORDED))
    mine = dict(recorded, mode="quick", runs=recorded["runs"][:1])
    lines = records.compare_with_recorded(mine).splitlines()
    low = records.summarize_runs(recorded)
    assert lines[1].startswith("your run") and "1 of 1" in lines[1] and "quick mode" in lines[1]
    assert lines[2].startswith("recorded") and f"(worst {low['worst_last_min']:.2f})" in lines[2]
    assert f"{low['best_mean']:.2f}" in lines[2] and f"{recorded['params']:,}" in lines[2]


def test_a_validation_record_names_its_accuracy_val_acc_never_test_acc(tmp_path):
    validation = _results() | {"eval_set": "validation", "runs": [
        {k: [99.0] for k in records.run_keys("validation")} | {"seed": 1}]}
    assert "val_acc" in validation["runs"][0] and "test_acc" not in validation["runs"][0]
    path = records.write_results(validation, tmp_path / "step5.json")
    assert records.accuracies(records.read_results(path)) == [[99.0]]
    mislabeled = _results() | {"eval_set": "validation"}  # test_acc holding validation accuracy
    records.write_results(mislabeled, path)
    with pytest.raises(ValueError, match=r"lacks runs\[0\]\.val_loss, runs\[0\]\.val_acc"):
        records.read_results(path)


def test_the_fingerprint_changes_with_anything_that_changes_the_run():
    base = RECIPES[7]
    fingerprint = fingerprints.recipe_fingerprint(base)
    assert fingerprints.recipe_fingerprint(RECIPES[7]) == fingerprint  # repeatable
    import dataclasses
    import torch
    state = torch.random.get_rng_state()
    changes = dict(augment=utils.Augment(degrees=9), clean_last_epochs=1, batch_size=64,
                   bn_stats_images=1000, epochs=14, model=RECIPES[5].model,
                   ramp_down_epochs=2, average_last_epochs=3,
                   optimizer=RECIPES[4].optimizer, scheduler=RECIPES[4].scheduler)
    for field, value in changes.items():
        assert fingerprints.recipe_fingerprint(dataclasses.replace(base, **{field: value})) \
            != fingerprint, field
    assert fingerprints.recipe_fingerprint(weight_average.with_moving_average(base, 0.9)) \
        != fingerprint  # a research recipe's moving average (benchmarks/weight_average.py)
    assert torch.equal(torch.random.get_rng_state(), state)  # the caller's randomness is kept


def test_a_record_grows_by_new_seeds_of_the_same_training_only(tmp_path):
    path = tmp_path / "step5.json"
    recorded = dict(_results(), recipe_fingerprint="abc", seeds_ran="one-after-another")
    recorded["runs"] = [dict(recorded["runs"][0], seed=seed) for seed in (1, 2)]
    new = dict(recorded, runs=[dict(recorded["runs"][0], seed=seed) for seed in (4, 3)])
    assert [r["seed"] for r in design_search.with_more_seeds(recorded, new, path)["runs"]] == [1, 2, 3, 4]
    with pytest.raises(ValueError, match=r"step5\.json already holds seeds \[2\]"):
        design_search.with_more_seeds(recorded, dict(new, runs=recorded["runs"][1:]), path)
    for key, other in (("recipe_fingerprint", "xyz"), ("seeds_ran", "packed"), ("mode", "quick")):
        with pytest.raises(ValueError, match=f"step5.json holds runs that differ from these in "
                                             f"{key}"):
            design_search.with_more_seeds(recorded, dict(new, **{key: other}), path)


def test_a_record_older_than_seeds_ran_grows_by_seeds_packed_as_it_packed_them(tmp_path):
    path = tmp_path / "step5.json"
    recorded = dict(_results(), recipe_fingerprint="abc", seeds_at_once=1)
    recorded.pop("seeds_ran", None)
    recorded["runs"] = [dict(recorded["runs"][0], seed=seed) for seed in (1, 2)]
    alone = dict(recorded, seeds_ran="packed", runs=[dict(recorded["runs"][0], seed=6)])
    alone.pop("seeds_at_once")
    grown = design_search.with_more_seeds(recorded, alone, path)
    assert [r["seed"] for r in grown["runs"]] == [1, 2, 6]
    assert grown["seeds_at_once"] == 1 and "seeds_ran" not in grown  # still says how it ran
    for other in (dict(alone, seeds_ran="one-after-another"),
                  dict(alone, runs=[dict(alone["runs"][0], seed=s) for s in (6, 7)])):
        with pytest.raises(ValueError, match=r"step5\.json packed 1 seed\(s\) per run: add "
                                             r"seeds 1 at a time with --how packed"):
            design_search.with_more_seeds(recorded, other, path)


def _seeds_at(reference: dict, lows: list[float], **fields) -> dict:
    """A run of ``reference``'s step whose seeds each score ``lows[i]`` in every epoch."""
    key = records.run_keys(reference["eval_set"])
    accuracy = next(k for k in key if k.endswith("_acc") and not k.startswith("train"))
    epochs = fields.get("epochs", reference["epochs"])
    runs = [dict(reference["runs"][0], seed=seed, **{accuracy: [low] * epochs})
            for seed, low in zip(range(101, 101 + len(lows)), lows)]
    return dict(reference, runs=runs, **fields)


def test_a_run_is_placed_below_inside_or_above_the_recorded_range():
    recorded = records.read_results(records.results_path(5, records.RECORDED))
    lows = records.summarize_runs(recorded)["last_min"]
    low, high = min(lows), max(lows)
    line = records.against_the_record(_seeds_at(recorded, [low - 0.05, (low + high) / 2,
                                                           high + 0.05]))
    assert line.startswith(f"Your lowest of the last {records.LAST} (")
    assert "1 below, 1 inside, 1 above" in line and "seeds 101, 102, 103" in line
    assert (f"the {len(lows)} recorded seeds spread over, {low:.2f}-{high:.2f} % on the test "
            "set") in line
    assert ": below the range" in records.against_the_record(_seeds_at(recorded, [low - 0.05]))


def test_the_range_line_says_what_to_expect_on_this_machine_and_mode():
    recorded = records.read_results(records.results_path(5, records.RECORDED))
    same = records.against_the_record(_seeds_at(recorded, [99.5]))
    assert same.endswith("Same kernels and torch as the record: a recorded seed repeats its "
                         "digits.")
    quick = records.against_the_record(_seeds_at(recorded, [99.5], mode="quick", epochs=2))
    assert quick.endswith("compare a full run.") and "quick-mode run of 2 epochs" in quick
    assert quick.startswith("Your lowest of all 2 epochs (")  # not "of the last 4"
    assert records.against_the_record(_seeds_at(recorded, [99.5], mode="quick", epochs=1)
                                      ).startswith("Your lowest of its one epoch (")
    other = records.against_the_record(_seeds_at(recorded, [99.5], kernels="another-cpu"))
    assert "inside or near the recorded range is what an honest run shows" in other
    assert records.machine_difference(5) in other and records.machine_difference(5)
    yours = records.against_the_record(_seeds_at(recorded, [99.5], model_class="MyNet"))
    assert yours.endswith("yours is MyNet: a yardstick, not a forecast; the verdict judges your "
                          "design.") and f"({recorded['model_class']}, " in yours


def test_the_machines_difference_is_read_from_two_validation_records():
    first, second = (records.summarize_runs(r) for r in records.validation_records(5)[:2])
    a, b = (dict(zip(s["seeds"], s["last_min"])) for s in (first, second))
    moved = max(abs(a[s] - b[s]) for s in a.keys() & b.keys())
    assert f"moved by up to {moved:.2f} points" in records.machine_difference(5)
    assert records.machine_difference(1) == ""


@pytest.mark.usefixtures("records_torch")
def test_a_validation_run_is_compared_with_a_validation_record_of_the_same_recipe():
    import design_search
    from steps import RECIPES

    assert set(records.VALIDATION_RECORDS) >= {5, 6, 7}
    for step, names in records.VALIDATION_RECORDS.items():
        assert names
        for name in names:
            recipe = design_search.CANDIDATES[name].recipe
            traits = fingerprints.recipe_traits(recipe)  # the step it was defined for aside:
            wanted = fingerprints.recipe_traits(dataclasses.replace(RECIPES[step], step=recipe.step))
            assert [k for k in wanted if wanted[k] != traits[k]] in ([], ["model"]), name
            layers = [repr([m for m in r.model().modules() if not list(m.children())])
                      for r in (recipe, RECIPES[step])]
            assert layers[0] == layers[1], f"{name} is not step {step}'s network, layer by layer"
            record = records.read_results(records.results_path(
                recipe.step, records.RECORDED / "tuning" / name))
            assert record["eval_set"] == "validation"
            assert record["recipe_fingerprint"] == fingerprints.recipe_fingerprint(recipe)
    assert records.reference_record(5, "validation") == records.validation_records(5)[0]
    assert records.reference_record(7, "validation") == records.validation_records(7)[0]
    assert records.reference_record(4, "validation") is None
    assert records.reference_record(5, "test")["eval_set"] == "test"


def test_each_steps_results_give_the_odds_on_test_and_validation():
    five = pages.step_results(5)
    assert pages.verdict(records.read_results(records.results_path(5, records.RECORDED))) in five
    validation = records.validation_records(5)[0]
    room, seeds, _ = records.held(validation, design_search.ROOM_TARGET)
    assert 0 < room < records.held(validation)[0]  # the room is asked of fewer seeds
    assert f"`{records.VALIDATION_RECORDS[5][0]}`): {pages.verdict(validation)}; {room} of " \
           f"{seeds} hold the room step 5 asks for ({design_search.ROOM_TARGET:.2f} %)." in five
    assert records.machine_difference(5) in five and "No GPU run is recorded" in five
    assert "validation split" not in pages.step_results(4)  # none recorded for step 4
    assert f"`{records.VALIDATION_RECORDS[7][0]}`): " \
           f"{pages.verdict(records.validation_records(7)[0])}." in pages.step_results(7)
