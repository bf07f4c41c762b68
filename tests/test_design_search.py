"""The design searches: each candidate changes one thing in its parent and nothing else, every
recorded candidate can still be re-run to its record (its recipe fingerprint), and a candidate
is measured on the test set once, only after enough validation seeds."""
import dataclasses
import re
import sys

import pytest
import torch

import design_search
import devices
import fingerprints
import records
import runner
import seeds as many_seeds
import utils
import weight_average

RESULTS = utils.REPO_ROOT / "Data" / "results"
TRAITS = ("model", "optimizer", "scheduler", "augment", "step", "epochs", "batch_size",
          "scheduler_per_batch", "clean_last_epochs", "label_smoothing", "bn_stats_images",
          "average_decay", "ramp_down_epochs", "average_last_epochs")
# A change of batch size or epochs moves the learning rate of every step too.
SCHEDULE_MOVES_WITH = {"batch_size", "epochs"}


@pytest.mark.parametrize("name", [n for n, c in design_search.CANDIDATES.items() if c.parent])
def test_a_candidate_differs_from_its_parent_in_what_it_names_alone(name):
    candidate = design_search.CANDIDATES[name]
    parent = design_search.CANDIDATES[candidate.parent]
    assert list(design_search.CANDIDATES).index(candidate.parent) < \
        list(design_search.CANDIDATES).index(name)
    ours, theirs = (fingerprints.recipe_traits(c.recipe) for c in (candidate, parent))
    differs = {trait for trait in TRAITS if ours.get(trait) != theirs.get(trait)}
    named = set(candidate.changed)
    if named & SCHEDULE_MOVES_WITH:
        named.add("scheduler")
    assert differs == named, f"{name} says it changes {sorted(candidate.changed)} in " \
                             f"{candidate.parent}, but differs in {sorted(differs)}"
    assert candidate.changed and candidate.change


QUOTED_PARAMS = re.compile(r"([\d,]+) params")


@pytest.mark.parametrize("name", [n for n, c in design_search.CANDIDATES.items()
                                  if QUOTED_PARAMS.search(c.change)])
def test_a_parameter_count_a_candidate_quotes_is_its_networks(name):
    candidate = design_search.CANDIDATES[name]
    quoted = int(QUOTED_PARAMS.findall(candidate.change)[-1].replace(",", ""))
    assert utils.count_parameters(candidate.recipe.model()) == quoted, \
        f"{name}'s change says {quoted} params: count its network again"


def test_derive_names_exactly_the_fields_it_replaced():
    before = dict(design_search.CANDIDATES)
    try:
        design_search.derive("probe", "f28_clean_last4", "probe", clean_last_epochs=3,
                             average_decay=0.5)
        probe = design_search.CANDIDATES["probe"]
        assert probe.changed == ("clean_last_epochs", "average_decay")
        assert probe.recipe == dataclasses.replace(weight_average.with_moving_average(
            design_search.CANDIDATES["f28_clean_last4"].recipe, 0.5), clean_last_epochs=3)
    finally:
        design_search.CANDIDATES.clear()
        design_search.CANDIDATES.update(before)


RECORDED = sorted({(name, path) for name in design_search.CANDIDATES
                   for folder in (design_search.TUNING, design_search.CANDIDATE_TEST_RECORDS)
                   for path in [records.results_path(design_search.CANDIDATES[name].recipe.step,
                                                     folder / name)] if path.exists()})


@pytest.mark.usefixtures("records_torch")
@pytest.mark.parametrize("name, path", RECORDED, ids=[str(p.relative_to(utils.REPO_ROOT))
                                                      for _, p in RECORDED])
def test_every_recorded_candidate_still_trains_what_its_record_measured(name, path):
    """Initial weights, layers, optimizer, every step's learning rate and the other fields: if
    any changed, re-running the candidate would no longer repeat its record."""
    recorded = records.read_results(path)
    recipe = design_search.CANDIDATES[name].recipe
    assert recorded["recipe_fingerprint"] == fingerprints.recipe_fingerprint(recipe), (
        f"{name}'s recipe no longer trains what {path} recorded: undo the change, or define a "
        "new candidate for it")
    assert recorded["params"] == utils.count_parameters(recipe.model())


@pytest.mark.usefixtures("records_torch")
def test_step5_trains_the_recipe_its_search_for_room_chose_and_keeps_the_ones_it_replaced():
    """docs/step5_room.md's fourth round names its choice: RECIPES[5] trains exactly it, on
    Step5Net, which builds the candidate's layers in the candidate's order (so a seed of step 5
    draws the candidate's initial weights); the recipes it replaced still train what their
    test records measured."""
    from steps import RECIPES

    chosen = design_search.room_4_verdict().splitlines()[-1]
    name = chosen.removeprefix("- Chosen: ").split(";")[0]
    assert name in design_search.ROOM_4, chosen
    candidate = design_search.CANDIDATES[name].recipe
    ours, theirs = fingerprints.recipe_traits(RECIPES[5]), fingerprints.recipe_traits(candidate)
    # the network's hash names its parameters, and Step5Net keeps its layers in .features
    assert {k for k in {**ours, **theirs} if ours.get(k) != theirs.get(k)} == {"model"}
    for seed in (1, 2, 3, 4, 5):
        torch.manual_seed(seed)
        step5 = RECIPES[5].model()
        torch.manual_seed(seed)
        built = candidate.model()
        assert [repr(m) for m in step5.features] == [repr(m) for m in built]
        assert all(torch.equal(a, b) for a, b in zip(step5.state_dict().values(),
                                                     built.state_dict().values(), strict=True))
    third = records.read_results(design_search.STEP5_BEFORE_ROUND_4_RECORD)
    assert design_search.room_verdict().splitlines()[-1] == "- Chosen: s5_f30_training_dropout."
    assert third["recipe_fingerprint"] == fingerprints.recipe_fingerprint(
        design_search.CANDIDATES["s5_f30_training_dropout"].recipe) != \
        fingerprints.recipe_fingerprint(RECIPES[5])
    first = records.read_results(design_search.STEP5_BEFORE_ROOM_RECORD)
    assert first["recipe_fingerprint"] == \
        fingerprints.recipe_fingerprint(design_search.STEP5_BEFORE_ROOM) != \
        fingerprints.recipe_fingerprint(RECIPES[5])


def test_recipes_are_named_by_class_or_builder_never_lambda():
    for name, candidate in design_search.CANDIDATES.items():
        assert "<lambda>" not in candidate.recipe.model_class(), name
    assert design_search.CANDIDATES["f30_clean_5658"].recipe.model_class() == \
        "separable(16, 24, 36, 3, separable_second=True)"


def test_a_candidate_gets_one_test_record_and_only_after_its_validation_seeds(monkeypatch,
                                                                             tmp_path, capsys):
    """Measuring a candidate on the test set is the last step of choosing it, never a step of
    the choice: design_search.py --test refuses a candidate with too few validated seeds or with
    a test record already (with or without --seeds), and otherwise measures its validated
    seeds."""
    needed = design_search.MIN_VALIDATION_SEEDS
    monkeypatch.setattr(design_search, "TUNING", tmp_path / "tuning")
    monkeypatch.setattr(design_search, "CANDIDATE_TEST_RECORDS", tmp_path / "candidates")
    monkeypatch.setattr(design_search, "runs_folder",
                        lambda test: tmp_path / ("candidates" if test else "tuning"))
    validated = records.read_results(records.results_path(6, RESULTS.parent / "tuning" /
                                                        "f28_clean_last4"))
    assert len(validated["runs"]) >= needed
    few = dict(validated, runs=validated["runs"][:needed - 1])
    records.write_results(few, records.results_path(6, tmp_path / "tuning" / "f30_clean_5658"))
    records.write_results(validated, records.results_path(6, tmp_path / "tuning" /
                                                          "f28_clean_last4"))
    calls = []

    class Measured(Exception):
        pass

    def measure(recipe, seeds, **kwargs):
        calls.append((seeds, kwargs["out"], kwargs["validation"]))
        raise Measured

    monkeypatch.setattr(runner, "run_recipe", measure)

    def run(*args):
        monkeypatch.setattr(sys, "argv", ["design_search.py", *args, "--test"])
        design_search.main()

    for name, seeds in (("f29_clean_last6", 0), ("f30_clean_5658", needed - 1)):
        for chosen in ((), ("--seeds", "1,2")):  # naming the seeds is no way around it
            with pytest.raises(SystemExit) as refused:
                run(name, *chosen)
            assert refused.value.code == 2
            assert f"{name} has {seeds} validation seeds" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run("f28_clean_last4", "--seeds", "1,99")
    assert "f28_clean_last4 was validated on seeds" in capsys.readouterr().err
    with pytest.raises(Measured):
        run("f28_clean_last4")
    assert calls == [([r["seed"] for r in validated["runs"]],
                      tmp_path / "candidates" / "f28_clean_last4", False)]
    with pytest.raises(Measured):
        run("f28_clean_last4", "--seeds", "2,1")
    assert calls[-1][0] == [2, 1]
    records.write_results(validated, records.results_path(6, tmp_path / "candidates" /
                                                      "f28_clean_last4"))
    for chosen in ((), ("--seeds", "1"), ("--seeds", "1,2,3,4,5")):
        with pytest.raises(SystemExit) as refused:
            run("f28_clean_last4", *chosen)
        assert refused.value.code == 2
        assert "f28_clean_last4 already has a test record" in capsys.readouterr().err
    assert len(calls) == 2


def write_lows(base: dict, path, lows):
    """A made-up record: ``base``'s first run once per seed, its last 4 accuracies set to
    ``lows`` (seeds 1, 2, ...)."""
    runs = [dict(base["runs"][0], test_acc=base["runs"][0]["test_acc"][:-4] + [low] * 4,
                 seed=seed) for seed, low in enumerate(lows, start=1)]
    records.write_results(dict(base, runs=runs), path)


def test_the_room_verdict_applies_the_bar_written_before_the_runs(monkeypatch, tmp_path):
    """docs/step5_room.md: a candidate passes if its worst seed is at least 0.03 points above
    the reference's and its mean is not below it, on the same seeds."""
    monkeypatch.setattr(design_search, "TUNING", tmp_path)
    base = records.read_results(records.results_path(5, RESULTS.parent))

    def write(name, lows):
        write_lows(base, records.results_path(5, tmp_path / name), lows)

    write("s5_recipe", [99.40, 99.44, 99.46, 99.42, 99.44])
    write("s5_clean_last4", [99.43, 99.44, 99.46, 99.44, 99.44])  # worst +0.03, mean +0.01
    write("s5_clean_last4_ema", [99.42, 99.60, 99.60, 99.60, 99.60])  # worst +0.02 only
    verdict = design_search.room_verdict().splitlines()
    assert verdict == ["- s5_clean_last4: worst +0.03, mean +0.01 points against s5_recipe: "
                       "passes the bar.",
                       "- s5_clean_last4_ema: worst +0.02, mean +0.13 points against s5_recipe: "
                       "fails the bar.",
                       "- s5_f30_training: not run yet.", "- s5_separable: not run yet.",
                       "- s5_ema: not run yet.", "- s5_f30_training_dropout: not run yet.",
                       "- Chosen: s5_clean_last4."]
    # the bar's seeds only: the chosen recipe's seeds 6-10 join its record, not the comparison
    write("s5_recipe", [99.40, 99.44, 99.46, 99.42, 99.44, 99.10, 99.50, 99.50, 99.50, 99.50])
    assert design_search.room_verdict().splitlines() == verdict
    assert "| s5_recipe | 5 | 1: 99.40, 2: 99.44, 3: 99.46, 4: 99.42, 5: 99.44 | 99.43 | 99.40 |" \
        in design_search.room_table()
    # the highest worst wins; within ROOM_TIE of it, the candidate listed first
    write("s5_f30_training", [99.44, 99.44, 99.46, 99.44, 99.44])  # worst +0.04: level
    write("s5_separable", [99.45, 99.45, 99.46, 99.45, 99.45, 99.30])  # +0.05; a sixth seed
    verdict = design_search.room_verdict().splitlines()
    assert verdict[2:4] + verdict[-1:] == [
        "- s5_f30_training: worst +0.04, mean +0.01 points against s5_recipe: passes the bar.",
        "- s5_separable: worst +0.05, mean +0.02 points against s5_recipe: passes the bar.",
        "- Chosen: s5_f30_training."]
    write("s5_separable", [99.46, 99.46, 99.46, 99.46, 99.46])  # +0.06: beyond the tie
    assert design_search.room_verdict().splitlines()[-1] == "- Chosen: s5_separable."
    # stopped early: a worst already below the bar can only fall with more seeds
    write("s5_separable", [99.42])
    verdict = design_search.room_verdict().splitlines()
    assert [verdict[3], verdict[-1]] == [
        "- s5_separable: worst +0.02 points against s5_recipe on seeds [1] already, and more "
        "seeds can only lower it: fails the bar.", "- Chosen: s5_clean_last4."]
    write("s5_separable", [99.50])
    assert "- s5_separable: seeds [1], not s5_recipe's [1, 2, 3, 4, 5]: no verdict." in \
        design_search.room_verdict()
    assert "| s5_clean_last4 | 5 | 1: 99.43, 2: 99.44" in design_search.room_table()


def test_the_second_rounds_verdict_applies_the_bar_written_before_the_runs(monkeypatch,
                                                                           tmp_path):
    """docs/frontier_search.md: seeds 4-5 only for a worst seed on seeds 1-3 at least f36's on
    them; a test record only for 99.40 % held on all 5."""
    monkeypatch.setattr(design_search, "TUNING", tmp_path)
    base = records.read_results(records.results_path(7, RESULTS.parent))

    def write(name, lows):
        write_lows(base, records.results_path(6, tmp_path / name), lows)

    write("f36_ema", [99.45, 99.39, 99.41, 99.20, 99.50])  # the bar: 99.39 (seed 4 not in it)
    write("w1_woolly", [99.40, 99.38, 99.50])
    write("w2_woolly_frontier_training", [99.39, 99.45, 99.41])
    assert design_search.round_2_verdict().splitlines() == [
        "- Bar: f36_ema's worst seed on seeds [1, 2, 3], 99.39 %.",
        "- w1_woolly: worst 99.38 % on seeds [1, 2, 3], -0.01 points against the bar: stops at "
        "seeds [1, 2, 3].",
        "- w2_woolly_frontier_training: worst 99.39 % on seeds [1, 2, 3], +0.00 points against "
        "the bar: goes on to seeds 4-5.",
        "- w3_woolly_clean: not run yet.", "- w4_woolly_separable: not run yet.",
        "- w5_woolly_separable_two: not run yet."]
    write("w2_woolly_frontier_training", [99.39, 99.45, 99.41, 99.40, 99.42])
    write("w3_woolly_clean", [99.42, 99.45, 99.41, 99.40, 99.42])
    assert design_search.round_2_verdict().splitlines()[2:4] == [
        "- w2_woolly_frontier_training: 4 of 5 seeds hold 99.40 %, worst 99.39 %: no test "
        "record.",
        "- w3_woolly_clean: 5 of 5 seeds hold 99.40 %, worst 99.40 %: earns a test record."]


def seeds_1_to_5(name: str) -> dict:
    """The recorded candidate as its bar's seeds left it, before seeds 6-10 joined."""
    base = records.read_results(records.results_path(5, RESULTS.parent / "tuning" / name))
    return dict(base, runs=[run for run in base["runs"] if run["seed"] <= 5])


def test_new_validation_seeds_join_the_candidates_record_and_old_ones_are_kept(monkeypatch,
                                                                               tmp_path, capsys):
    """Seeds 6-10 of a chosen candidate join its record of seeds 1-5; a partial repeat, which
    would replace the record by fewer seeds, is refused before anything trains."""
    monkeypatch.setattr(design_search, "TUNING", tmp_path)
    monkeypatch.setattr(design_search, "runs_folder", lambda test: tmp_path)
    name, how = "s5_recipe", devices.default_how()
    recipe = design_search.CANDIDATES[name].recipe
    base = seeds_1_to_5(name)
    base = dict(base, seeds_ran=how, mode="quick" if utils.is_quick() else "full")
    path = records.results_path(5, tmp_path / name)
    records.write_results(base, path)
    trained = []

    def fake_run(recipe, seeds, *, out, **kwargs):
        trained.append(seeds)
        results = dict(base, runs=[dict(base["runs"][0], seed=s) for s in seeds])
        records.write_results(results, records.results_path(recipe.step, out))
        return results, None, None

    monkeypatch.setattr(runner, "run_recipe", fake_run)
    monkeypatch.setattr(sys, "argv", ["design_search.py", name, "--seeds", "6,7"])
    design_search.main()
    assert [run["seed"] for run in records.read_results(path)["runs"]] == [1, 2, 3, 4, 5, 6, 7]
    assert records.read_results(path)["recipe_fingerprint"] == fingerprints.recipe_fingerprint(recipe)
    monkeypatch.setattr(sys, "argv", ["design_search.py", name, "--seeds", "2,8"])
    with pytest.raises(SystemExit):
        design_search.main()
    assert "holds seeds [1, 2, 3, 4, 5, 6, 7]: repeat them all" in capsys.readouterr().err
    assert trained == [[6, 7]]


def test_a_record_older_than_seeds_ran_grows_one_packed_seed_at_a_time(monkeypatch, tmp_path,
                                                                        capsys):
    """s5_recipe's record packed each seed alone: seeds 6-10 must train the same way to join
    it, and a call that would not is refused before anything trains."""
    monkeypatch.setattr(design_search, "TUNING", tmp_path)
    monkeypatch.setattr(design_search, "runs_folder", lambda test: tmp_path)
    name = "s5_recipe"
    base = seeds_1_to_5(name)
    assert "seeds_ran" not in base and base["seeds_at_once"] == 1
    base = dict(base, mode="quick" if utils.is_quick() else "full")
    path = records.results_path(5, tmp_path / name)
    records.write_results(base, path)
    trained = []

    def fake_run(recipe, seeds, *, out, how, **kwargs):
        trained.append((seeds, how))
        results = {key: value for key, value in base.items() if key != "seeds_at_once"}
        results = dict(results, seeds_ran=how, runs=[dict(base["runs"][0], seed=s) for s in seeds])
        records.write_results(results, records.results_path(recipe.step, out))
        return results, None, None

    monkeypatch.setattr(runner, "run_recipe", fake_run)
    for refused in (["--seeds", "6,7", "--how", "packed"], ["--seeds", "6", "--how",
                                                             "one-after-another"]):
        monkeypatch.setattr(sys, "argv", ["design_search.py", name, *refused])
        with pytest.raises(SystemExit):
            design_search.main()
        assert "packed 1 seed(s) per run: add seeds 1 at a time" in capsys.readouterr().err
    monkeypatch.setattr(sys, "argv", ["design_search.py", name, "--seeds", "6", "--how", "packed"])
    design_search.main()
    grown = records.read_results(path)
    assert [run["seed"] for run in grown["runs"]] == [1, 2, 3, 4, 5, 6]
    assert grown["seeds_at_once"] == 1 and "seeds_ran" not in grown
    assert trained == [([6], "packed")]


def test_a_candidate_that_became_a_step_is_shown_once_as_the_step():
    step6 = records.read_results(records.results_path(6, RESULTS.parent))
    f30 = records.read_results(records.results_path(6, design_search.CANDIDATE_TEST_RECORDS /
                                                    "f30_clean_5658"))
    assert records.same_runs(step6, f30)
    assert not records.same_runs(step6, dict(f30, runs=f30["runs"][::-1]))
    names = [point[2] for point in design_search.pareto_points("test")]
    assert "step 6" in names and "f30_clean_5658" not in names


def test_the_tied_block_applies_one_set_of_conv_weights_with_a_batchnorm_each_time():
    net = design_search.tied_separable(12, 16, 40, 2)
    tied = net[4]
    # one depthwise and one pointwise conv, and two BatchNorms (weight and bias of 40 each)
    assert len(tied.norms) == 2
    assert sum(p.numel() for p in tied.parameters()) == 9 * 40 + 40 * 40 + 2 * 2 * 40
    assert utils.count_parameters(net) == 3_858  # the shape, as it counted it
    calls = []
    tied.pointwise.register_forward_hook(lambda *_: calls.append(1))
    assert net(torch.randn(2, 1, 28, 28)).shape == (2, 10) and len(calls) == 2


def test_step7_trains_the_choices_of_its_rounds_and_keeps_the_records_they_replaced():
    """docs/frontier_search.md: the third round chose r2's recipe, which RECIPES[7] trains on
    Step7Net (r2's network layer for layer, its initial weights drawn in another order: a seed
    of step 7 is another draw than r2's); the fourth round chose e1_elastic, which is RECIPES[7]
    exactly. Each recipe they replaced keeps its test record, whose fingerprint is that
    candidate's as step 7."""
    from steps import RECIPES

    third = design_search.round_3_verdict().splitlines()[-1]
    name = third.removeprefix("- Chosen: ").split(";")[0]
    assert name == "r2_f28_swa", third
    candidate = design_search.CANDIDATES[name].recipe
    ours = fingerprints.recipe_traits(dataclasses.replace(
        RECIPES[7], step=candidate.step, augment=design_search.STRONG_AUG))
    theirs = fingerprints.recipe_traits(candidate)
    assert {k for k in {**ours, **theirs} if ours.get(k) != theirs.get(k)} == {"model"}
    step7, built = RECIPES[7].model(), candidate.model()
    assert [(type(m), getattr(m, "weight", torch.empty(0)).shape) for m in step7.modules()
            if not list(m.children())] == \
        [(type(m), getattr(m, "weight", torch.empty(0)).shape) for m in built.modules()
         if not list(m.children())]
    torch.manual_seed(1)
    first = RECIPES[7].model().features[0][0].weight
    torch.manual_seed(1)
    assert not torch.equal(first, candidate.model()[0][0].weight)  # another draw
    fourth = design_search.round_4_verdict().splitlines()[-1]
    assert fourth == "- Chosen: e1_elastic; it beats e0_step7_recipe."
    assert design_search.CANDIDATES["e1_elastic"].recipe == dataclasses.replace(RECIPES[7],
                                                                                step=6)
    assert design_search.EARLIER_STEP7.keys() == design_search.EARLIER_STEP7_CANDIDATE.keys()
    shown = [point[2] for point in design_search.pareto_points("test")]
    for label, (_, path) in design_search.EARLIER_STEP7.items():
        replaced = design_search.CANDIDATES[design_search.EARLIER_STEP7_CANDIDATE[label]].recipe
        fingerprint = fingerprints.recipe_fingerprint(dataclasses.replace(replaced, step=7))
        assert records.read_results(path)["recipe_fingerprint"] == fingerprint != \
            fingerprints.recipe_fingerprint(RECIPES[7])
        assert label in shown


def test_a_verdict_shows_a_mean_that_decides_to_the_digit_that_decides_it(monkeypatch):
    """Level worst seeds: the higher mean wins, and when the two means agree to 2 decimals
    the verdict prints 3, so the line shows why one beats the other."""
    lows = {"ref": (99.37, 99.43, 99.40), "a": (99.38, 99.46, 99.37), "b": (99.37, 99.40, 99.41)}

    def summary_on(step, name, seeds, last=4):
        values = lows[name]
        return {"worst_last_min": min(values), "last_min_mean": sum(values) / len(values)}

    monkeypatch.setattr(design_search, "validation_record", lambda step, name: {"runs": []})
    monkeypatch.setattr(design_search, "summary_on", summary_on)
    lines = design_search.choice_verdict(5, "ref", ("a", "b"), (1, 2, 3), (1, 2, 3)).splitlines()
    assert lines[0] == ("- a, seeds 1-3: worst 99.37 %, mean 99.403 %, against ref's worst "
                        "99.37 %, mean 99.400 %: beats it, the choice now.")
    assert lines[1] == ("- b, seeds 1-3: worst 99.37 %, mean 99.39 %, against a's worst "
                        "99.37 %, mean 99.40 %: does not beat it, stops there.")
    assert lines[-1] == "- Chosen: a; it beats ref."


def test_a_quick_run_of_a_recorded_candidate_goes_to_runs_not_data(monkeypatch, tmp_path):
    """Quick mode never records: re-running a candidate that has a record under Data/ trains
    into runs/ (here a temporary project root's), not into a refusal or Data/."""
    assert utils.is_quick()
    monkeypatch.setattr(utils, "REPO_ROOT", tmp_path)
    outs = []

    def fake_run(recipe, seeds, *, out, record, **kwargs):
        outs.append(records.output_dir(out, record))  # the check a quick run meets
        raise SystemExit(0)

    monkeypatch.setattr(runner, "run_recipe", fake_run)
    monkeypatch.setattr(sys, "argv", ["design_search.py", "b6_no_dropout", "--seeds", "1,2,3"])
    assert records.results_path(5, design_search.TUNING / "b6_no_dropout").exists()
    with pytest.raises(SystemExit):
        design_search.main()
    assert outs == [tmp_path / "runs" / "design_search" / "tuning" / "b6_no_dropout"]


def validation_writer(folder, step: int, from_step: int):
    """``write(name, lows)``: a made-up validation record of a step ``step`` candidate in
    ``folder``: step ``from_step``'s recorded first run once per seed (1, 2, ...), its last 4
    accuracies set to ``lows``."""
    base = records.read_results(records.results_path(from_step, RESULTS.parent))
    base = dict(base, eval_set="validation", runs=[
        {k.replace("test_", "val_"): v for k, v in run.items()} for run in base["runs"]])

    def write(name, lows):
        runs = [dict(base["runs"][0], val_acc=base["runs"][0]["val_acc"][:-4] + [low] * 4,
                     seed=seed) for seed, low in enumerate(lows, start=1)]
        records.write_results(dict(base, runs=runs), records.results_path(step, folder / name))
    return write


def test_the_network_or_recipe_table_pairs_each_network_with_step5s_on_its_seeds(monkeypatch,
                                                                                tmp_path):
    """docs/network_or_recipe.md: each network under step 5's recipe against n5_step5_net on
    the same seeds, judged by the range written before its runs, and each step's gain under
    one recipe beside the gain its own test record shows."""
    for name, (step, _, _) in design_search.ONE_RECIPE.items():  # only the network differs
        assert design_search.CANDIDATES[name].recipe == dataclasses.replace(
            design_search.RECIPES[5], model=design_search.RECIPES[step].model, role="one-recipe")
    monkeypatch.setattr(design_search, "TUNING", tmp_path)
    write = validation_writer(tmp_path, 5, from_step=5)
    write("n5_step5_net", [99.40, 99.44, 99.46, 99.42, 99.44])  # mean 99.432
    write("n3_step3_net", [99.30, 99.44, 99.46, 99.42, 99.44])  # mean -0.02: in its range
    write("n4_step4_net", [99.50, 99.60, 99.60, 99.60, 99.60])  # mean +0.15: above it
    write("n6_step6_net", [99.40, 99.44])  # two seeds: no verdict yet
    rows = {line.split(" | ")[1]: line.split(" | ") for line in
            design_search.one_recipe_table().splitlines()[2:]}
    assert rows["n3_step3_net"][4:10] == ["99.30", "99.41", "-0.02", "-0.10 to +0.04", "yes", ""]
    assert rows["n4_step4_net"][6:10] == ["+0.15", "-0.04 to +0.06", "no: higher", "+0.17"]
    assert rows["n5_step5_net"][6:10] == ["", "", "", "-0.15"]
    assert rows["n6_step6_net"][8] == "waits for its seeds and the reference's"
    assert rows["n2_step2_net"][2:4] == ["12,962 (over the budget)", "0"]
    own = {step: records.held(records.read_results(records.results_path(step, RESULTS.parent)))[2]
           for step in (3, 4)}
    assert rows["n4_step4_net"][10] == f"{own[4] - own[3]:+.2f} |"
    line = design_search.one_recipe_line()  # each step's mean against the one before
    assert "by: step 4's +0.17, step 5's -0.15, step 6's" in line and "learns" not in line
    write("n2_step2_net", [10.6] * 5)  # did not learn: step 3's is no gain over it
    line = design_search.one_recipe_line()
    assert "by: step 4's +0.17, step 5's -0.15, step 6's" in line
    assert " points (step 3's learns, at 99.41 %, where step 2's did not, at 10.6 %);" in line


def test_the_fourth_rounds_levers_are_step7s_recipe_with_one_change_judged_as_written(
        monkeypatch, tmp_path):
    """docs/frontier_search.md's fourth round: its reference trains step 7's recipe (RECIPES[7],
    only named as a step 6 candidate), each lever changes one field of it, and the table and
    verdict judge each lever against the reference on seeds 1-5, by the range written first and
    by ``beats``; nothing is chosen while a lever has not run."""
    from steps import RECIPES

    reference = design_search.CANDIDATES[design_search.ROUND_4_REFERENCE].recipe
    assert reference == dataclasses.replace(RECIPES[7], step=6, augment=design_search.STRONG_AUG)
    assert all(design_search.CANDIDATES[name].parent == reference
               for name, (reference, _, _) in design_search.ROUND_4.items())
    assert design_search.levers() == ("e1_elastic", "e2_label_smoothing")
    assert design_search.CANDIDATES["e1_elastic"].recipe.augment.elastic > 0
    monkeypatch.setattr(design_search, "TUNING", tmp_path)
    write = validation_writer(tmp_path, 6, from_step=7)
    write("e0_step7_recipe", [99.40, 99.44, 99.46, 99.42, 99.44])  # mean 99.432
    write("e1_elastic", [99.41, 99.50, 99.50, 99.50, 99.50])  # worst +0.01, mean +0.052
    verdict = design_search.round_4_verdict().splitlines()
    assert verdict[0].endswith("beats it, the choice now.")
    assert verdict[1:] == ["- e2_label_smoothing: not run yet.",
                           "- No choice yet: the choice so far is e1_elastic."]
    write("e2_label_smoothing", [99.20, 99.45, 99.50, 99.45, 99.45])  # mean -0.02, worst lower
    rows = {line.split(" | ")[0][2:]: line.split(" | ")[1:] for line in
            design_search.round_4_table().splitlines()[2:]}
    assert rows["e0_step7_recipe"][:6] == ["5", "99.40", "99.43", "5 of 5", "", ""]
    assert rows["e1_elastic"][3:7] == ["5 of 5", "+0.05", "-0.08 to +0.08", "yes |"]
    assert rows["e2_label_smoothing"][3:7] == ["4 of 5", "-0.02", "-0.15 to +0.05", "yes |"]
    assert design_search.round_4_verdict().splitlines()[1:] == [
        "- e2_label_smoothing, seeds 1-5: worst 99.20 %, mean 99.41 %, against e1_elastic's "
        "worst 99.41 %, mean 99.48 %: does not beat it, stops there.",
        "- Chosen: e1_elastic; it beats e0_step7_recipe."]
    write("e1_elastic", [99.20, 99.30, 99.30, 99.30, 99.30])  # mean -0.14: below its range
    assert design_search.round_4_table().splitlines()[3].endswith("| no: lower |")


def test_round_4s_step5_leg_is_step5s_recipe_with_the_distortions_on_ten_seeds(monkeypatch,
                                                                              tmp_path):
    """docs/frontier_search.md, step 5's leg: e3 is RECIPES[5] with e1's distortions, paired
    with n5_step5_net on validation seeds 1-10; its table waits until both hold all ten, then
    counts the seeds holding the target."""
    from steps import RECIPES

    e3 = design_search.CANDIDATES["e3_step5_elastic"]
    assert e3.parent == design_search.ONE_RECIPE_REFERENCE and e3.changed == ("augment",)
    assert e3.recipe == dataclasses.replace(RECIPES[5], augment=design_search.CANDIDATES[
        "e1_elastic"].recipe.augment)
    assert design_search.levers(design_search.ONE_RECIPE_REFERENCE) == ("e3_step5_elastic",)
    assert design_search.round_4_seeds(design_search.ONE_RECIPE_REFERENCE) == tuple(range(1, 11))
    monkeypatch.setattr(design_search, "TUNING", tmp_path)
    write = validation_writer(tmp_path, 5, from_step=5)
    write("n5_step5_net", [99.40, 99.44, 99.46, 99.42, 99.44])
    write("e3_step5_elastic", [99.40] * 10)
    rows = design_search.round_4_table(design_search.ONE_RECIPE_REFERENCE).splitlines()[2:]
    assert rows[0].startswith("| n5_step5_net | 5 |") and rows[0].endswith("waits for seeds 1-10 |")
    write("n5_step5_net", [99.40, 99.44, 99.46, 99.42, 99.44, 99.30, 99.50, 99.50, 99.50, 99.50])
    rows = [row.split(" | ") for row in design_search.round_4_table(
        design_search.ONE_RECIPE_REFERENCE).splitlines()[2:]]
    assert rows[0][1:5] == ["10", "99.30", "99.45", "9 of 10"]
    assert rows[1][1:8] == ["10", "99.40", "99.40", "10 of 10", "-0.05", "-0.10 to +0.04",
                            "yes |"]
