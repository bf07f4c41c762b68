"""Claims in docs/ prose are checked like numbers: each sentence below is quoted from its page
(so editing the sentence fails here too) and held to the records it summarizes."""
import json

import pytest
import torch

import design_search
import fingerprints
import records
import seeds as many_seeds
import utils
from steps import RECIPES

DOCS = utils.REPO_ROOT / "docs"
BEFORE_ROOM = design_search.STEP5_BEFORE_ROOM_RECORD
BEFORE_ROUND_4 = design_search.STEP5_BEFORE_ROUND_4_RECORD


def summary(name: str, step: int) -> dict:
    results = records.read_results(records.results_path(step, design_search.TUNING / name))
    s = records.summarize_runs(results, 4)
    s["train_end"] = [run["train_acc"][-1] for run in results["runs"]]
    s["last_val"] = [run["val_acc"][-1] for run in results["runs"]]
    s["train_acc"] = [run["train_acc"] for run in results["runs"]]
    s["params"] = results["params"]
    s["lows"] = dict(zip(s["seeds"], s["last_min"]))
    return s


def mean_on(s: dict, seeds) -> float:
    return sum(s["lows"][seed] for seed in seeds) / len(seeds)


README = "../README.md"  # for on_page: the pages are read from docs/


def on_page(page: str, sentence: str):
    text = " ".join((DOCS / page).read_text().split())
    assert " ".join(sentence.split()) in text, f"docs/{page} no longer says: {sentence}"


def test_precise_bn_never_lowered_a_seeds_lowest_epoch():
    on_page("research_log.md", "In these checks precise BN never lowered a seed's lowest "
                               "accuracy of the last 4 epochs")
    checks = sorted((utils.REPO_ROOT / "Data" / "tuning" / "precise_bn").rglob("*.json"))
    assert checks  # the claim rests on recorded checks: none found would hold nothing
    for path in checks:
        for run in json.loads(path.read_text())["runs"]:
            assert min(run["recomputed_acc"][-4:]) >= min(run["running_acc"][-4:]), path


def test_the_later_step5_ideas_validated_no_higher_than_its_recipe():
    on_page("research_log.md", "none validated above v14's recipe on the same seeds")
    on_page("research_log.md", "(v20), which fits its augmented training images better but "
                               "validates level")
    recipe = summary("step5_recipe_3seeds", 5)
    for name in ("v16_fourth_conv", "v19_strong_aug", "v20_separable"):
        s = summary(name, 5)
        assert s["seeds"] == recipe["seeds"]
        assert s["last_min_mean"] <= recipe["last_min_mean"] + 1e-9, name
    assert min(summary("v20_separable", 5)["train_end"]) > max(recipe["train_end"])


FRONTIER_CLAIMS = {
    "dropout on top (f4) does not lift it": lambda v: (
        v("f4_dropout")["last_min_mean"] < v("f1_3982")["last_min_mean"] + 0.02),
    "(f3), and stronger augmentation (f6) each lifted it a little": lambda v: (
        v("f1_3982")["last_min_mean"] < v("f3_wide_head")["last_min_mean"]
        < v("f6_strong_aug")["last_min_mean"]),
    "(f7, f9) stayed at f6's level": lambda v: all(
        abs(v(n)["last_min_mean"] - v("f6_strong_aug")["last_min_mean"]) < 0.02
        for n in ("f7_separable", "f9_separable_second")),
    "above every earlier candidate in both the mean and the worst seed": lambda v: all(
        v("f10_separable_wide")[k] > v(n)[k] for k in ("last_min_mean", "worst_last_min")
        for n in ("f1_3982", "f3_wide_head", "f4_dropout", "f5_5706", "f6_strong_aug",
                  "f7_separable", "f9_separable_second")),
    "convs padded to larger maps (f15) fall back": lambda v: all(
        v(n)["last_min_mean"] < v("f10_separable_wide")["last_min_mean"] - 0.05
        for n in ("f13_separable_two", "f15_separable_padded")),
    "fewer channels (f14) nearly keep f10's level with fewer parameters": lambda v: (
        v("f10_separable_wide")["last_min_mean"] - 0.05 < v("f14_separable_26")["last_min_mean"]
        and v("f14_separable_26")["params"] < v("f10_separable_wide")["params"]),
    "a smaller batch (f16) changes nothing": lambda v: (
        abs(v("f16_bs64")["last_min_mean"] - v("f10_separable_wide")["last_min_mean"]) < 0.01),
    "only the higher learning-rate peak (f23; step 7's recipe until the third round was f23 with "
    "precise BN) gave a clear "
    "gain": lambda v: (
        mean_on(v("f23_lr04"), (1, 2, 3)) - v("f10_separable_wide")["last_min_mean"] >= 0.05
        and all(v(n)["last_min_mean"] - v("f10_separable_wide")["last_min_mean"] < 0.02
                for n in ("f18_step5_aug", "f19_no_wd", "f20_two_relu", "f21_stronger_aug",
                          "f22_wide_start", "f24_long_settle"))),
    "the network then fits its training images better and validates worse": lambda v: (
        min(v("f18_step5_aug")["train_end"]) > max(v("f10_separable_wide")["train_end"])
        and v("f18_step5_aug")["last_min_mean"] < v("f10_separable_wide")["last_min_mean"]),
    "A shorter warm-up (f24) did worse; a still higher peak (f26) was level with f23": lambda v: (
        v("f24_long_settle")["last_min_mean"] < v("f10_separable_wide")["last_min_mean"]
        and abs(v("f26_lr08")["last_min_mean"] - mean_on(v("f23_lr04"), (1, 2, 3))) < 0.02),
    "than on the validation images, on every seed": lambda v: all(
        t < a for t, a in zip(v("f23_lr04")["train_end"], v("f23_lr04")["last_val"])),
    "lifted the mean above f23's, f28 the most": lambda v: (
        sorted(("f27_clean_last2", "f28_clean_last4", "f29_clean_last6"),
               key=lambda n: mean_on(v(n), (1, 2, 3)))[-1] == "f28_clean_last4"
        and all(mean_on(v(n), (1, 2, 3)) > mean_on(v("f23_lr04"), (1, 2, 3))
                for n in ("f27_clean_last2", "f28_clean_last4", "f29_clean_last6"))),
    "it holds on most validation seeds": lambda v: (
        sum(low >= 99.40 for low in v("f30_clean_5658")["last_min"]) * 2
        > len(v("f30_clean_5658")["seeds"])),
    "a wider start (f34) is no better than f28": lambda v: (
        v("f34_clean_4518")["last_min_mean"] <= v("f28_clean_last4")["last_min_mean"]),
    "(f35) reach f30's level with fewer parameters": lambda v: (
        abs(v("f35_clean_5010")["last_min_mean"] - v("f30_clean_5658")["last_min_mean"]) < 0.01
        and v("f35_clean_5010")["worst_last_min"] >= v("f30_clean_5658")["worst_last_min"]
        and v("f35_clean_5010")["params"] < v("f30_clean_5658")["params"]),
    "and two seeds were lower": lambda v: sum(
        v("f33_silu")["lows"][seed] < v("f28_clean_last4")["lows"][seed]
        for seed in v("f33_silu")["seeds"]) == 2,
    "has the best worst seed of any candidate of the first two rounds under 4,000 parameters "
    "measured on 5 seeds, and still misses on one seed": lambda v: (
        sum(low < 99.40 for low in v("f36_ema")["last_min"]) == 1
        and all(v("f36_ema")["worst_last_min"] > v(n)["worst_last_min"]
                for n, _ in design_search.described(6) if n != "f36_ema" and n[0] in "fw"
                and records.results_path(6, design_search.TUNING / n).exists()
                and len(v(n)["seeds"]) >= 5 and v(n)["params"] < 4_000)),
    # the second round (the woolly-of-cv family): lows and training accuracy on seeds 1-3
    "falls well short of the bar on validation, and the frontier's training alone (w2) leaves "
    "it about where it was": lambda v: (
        v("w1_woolly")["worst_last_min"] <= round_2_bar(v) - 0.3
        and abs(v("w2_woolly_frontier_training")["last_min_mean"]
                - v("w1_woolly")["last_min_mean"]) < 0.05),
    "Clean last epochs (w3) lift it on every seed, and separable convs in its last stage (w4) "
    "lift it again on every seed, to the level of the first round's f10 on the same seeds: "
    "still short of the bar": lambda v: (
        all(v(later)["lows"][seed] > v(earlier)["lows"][seed] for seed in (1, 2, 3)
            for earlier, later in (("w2_woolly_frontier_training", "w3_woolly_clean"),
                                   ("w3_woolly_clean", "w4_woolly_separable")))
        and abs(v("w4_woolly_separable")["last_min_mean"]
                - mean_on(v("f10_separable_wide"), (1, 2, 3))) < 0.01
        and v("w4_woolly_separable")["worst_last_min"] < round_2_bar(v)),
    "w3 and w4 end with a lower accuracy on their own clean training images than f28 on every "
    "seed": lambda v: all(
        end < f28_end for name in ("w3_woolly_clean", "w4_woolly_separable")
        for end, f28_end in zip(v(name)["train_end"], v("f28_clean_last4")["train_end"])),
    "(w5) fits the training images better than w4 but validates lower": lambda v: (
        min(v("w5_woolly_separable_two")["train_end"]) > max(v("w4_woolly_separable")["train_end"])
        and v("w5_woolly_separable_two")["last_min_mean"]
        < v("w4_woolly_separable")["last_min_mean"]),
    "So no candidate of the round went on to seeds 4-5. The first round's design, separable "
    "convs after a single pool, stays the best under 4,000 parameters": lambda v: all(
        v(name)["seeds"] == [1, 2, 3] and v(name)["worst_last_min"] < round_2_bar(v)
        and v(name)["last_min_mean"] < mean_on(v(design_search.ROUND_2_REFERENCE), (1, 2, 3))
        for name in design_search.ROUND_2),
    # the third round: chosen on validation alone, on this machine's records
    "f36's recipe trained again here (r1) beats step 7's own recipe (r0) in its worst seed and "
    "its mean, on the same seeds, and holds 99.40 % on fewer of them": lambda v: (
        v("r1_f36_again")["seeds"] == v("r0_step7_recipe")["seeds"] == [1, 2, 3, 4, 5]
        and v("r1_f36_again")["worst_last_min"] > v("r0_step7_recipe")["worst_last_min"]
        and v("r1_f36_again")["last_min_mean"] > v("r0_step7_recipe")["last_min_mean"]
        and holding(v("r1_f36_again")) < holding(v("r0_step7_recipe"))),
    "On this machine f36's recipe lands lower on every seed than its record from the earlier "
    "machine": lambda v: all(v("r1_f36_again")["lows"][seed] < low
                             for seed, low in v("f36_ema")["lows"].items()),
    "(their training accuracies are the same in every epoch), and the equal average is higher "
    "on every seed": lambda v: (
        v("r1_f36_again")["train_acc"] == v("r2_f28_swa")["train_acc"]
        and all(v("r2_f28_swa")["lows"][seed] > low
                for seed, low in v("r1_f36_again")["lows"].items())),
    "The weight-tied network with the moving average (r4) stopped at its first seeds, below the "
    "choice": lambda v: (
        v("r4_tied_ema")["seeds"] == [1, 2, 3]
        and v("r4_tied_ema")["worst_last_min"] < min(v("r2_f28_swa")["lows"][s] for s in (1, 2, 3))),
    "The weight-tied network alone (r3) and with the equal average (r5) stopped at their first "
    "seeds too: the worst seed of each is below the choice's. r5 measures r3's training seed "
    "for seed, and the equal average is higher on every seed, as r2 is above r1": lambda v: (
        v("r3_tied")["seeds"] == v("r5_tied_swa")["seeds"] == [1, 2, 3]
        and all(v(n)["worst_last_min"] < min(v("r2_f28_swa")["lows"][s] for s in (1, 2, 3))
                for n in ("r3_tied", "r5_tied_swa"))
        and v("r3_tied")["train_acc"] == v("r5_tied_swa")["train_acc"]
        and all(v("r5_tied_swa")["lows"][s] > low for s, low in v("r3_tied")["lows"].items())),
    "on seeds 1-3 it fits its training images at least as closely as f28's network (r2) and "
    "validates lower on every seed": lambda v: all(
        tied >= f28 for tied, f28 in zip(v("r3_tied")["train_end"], v("r2_f28_swa")["train_end"]))
    and all(v("r3_tied")["lows"][s] < v("r2_f28_swa")["lows"][s] for s in (1, 2, 3)),
    "So the tied family stops here: its moving average, its equal average and the network alone "
    "all lie below the choice": lambda v: all(
        f"- {n}, seeds 1-3:" in line and line.endswith("does not beat it, stops there.")
        for n in ("r3_tied", "r4_tied_ema", "r5_tied_swa")
        for line in design_search.round_3_verdict().splitlines() if line.startswith(f"- {n}")),
    "they did not fit their training images less (in r0, r1 and r2 the lowest training accuracy "
    "of the last epoch is a seed's that holds 99.40 %), and their lowest epoch is not one "
    "epoch": lambda v: all(
        any(r["holds"] and r["train_end"] == min(q["train_end"] for q in rows) for r in rows)
        and len({r["epoch"] for r in rows if not r["holds"]}) > 1
        for rows in (design_search.seed_profiles(6, [n]) for n in THIRD_ROUND_TRAINED)),
    "With f28's training (r1, r2), every seed that holds was already higher in its last "
    "augmented epoch than every seed that misses": lambda v: all(
        min(r["before"] for r in rows if r["holds"]) > max(r["before"] for r in rows
                                                           if not r["holds"])
        for rows in (design_search.seed_profiles(6, [n]) for n in THIRD_ROUND_TRAINED[1:])),
    "Without clean epochs (r0) that order does not hold": lambda v: (lambda rows: (
        min(r["before"] for r in rows if r["holds"]) < max(r["before"] for r in rows
                                                           if not r["holds"])))(
        design_search.seed_profiles(6, ["r0_step7_recipe"])),
}
THIRD_ROUND_TRAINED = ("r0_step7_recipe", "r1_f36_again", "r2_f28_swa")


def holding(s: dict, target: float = 99.40) -> int:
    return sum(low >= target - 1e-9 for low in s["last_min"])


def round_2_bar(v) -> float:
    """f36's worst seed on seeds 1-3: the second round's bar."""
    return min(v(design_search.ROUND_2_REFERENCE)["lows"][seed]
               for seed in design_search.ROUND_2_FIRST_SEEDS)


@pytest.mark.parametrize("claim", FRONTIER_CLAIMS)
def test_what_the_frontier_search_learned_holds_in_its_records(claim):
    on_page("frontier_search.md", claim)
    assert FRONTIER_CLAIMS[claim](lambda name: summary(name, 6)), claim


def test_step6_keeps_the_room_with_fewer_parameters_but_not_step5s_worst_seed():
    """The README's and step 6's notebook's claim, held to both test records."""
    readme = " ".join((utils.REPO_ROOT / "README.md").read_text().split())
    assert "with fewer parameters, the separable convs keep every test seed at the room that " \
        "step 5's search asked for, though not as high as step 5's worst seed" in readme
    assert "step 6 holds it with fewer parameters;" in readme
    notebook = " ".join((utils.REPO_ROOT / "notebooks" / "step6_separable.py").read_text()
                        .replace("# ", "").split())
    assert "every seed keeps the room step 5's search asked for in each of the last 4 epochs, " \
        "though its worst seed sits a little lower than step 5's" in notebook
    held = {step: records.held(records.read_results(records.results_path(step, records.RECORDED)),
                               design_search.ROOM_TARGET) for step in (5, 6)}
    assert held[6][0] == held[6][1] == held[5][0] == held[5][1]  # every seed of both at the room
    assert held[5][2] > held[6][2] >= design_search.ROOM_TARGET
    params = {step: records.read_results(records.results_path(step, records.RECORDED))["params"]
              for step in (5, 6)}
    assert params[6] < params[5]


def test_f30s_training_on_step5s_network_lifts_the_mean_not_the_worst_seed():
    on_page("step5_room.md", "(`s5_f30_training`) lifts the mean and brings more seeds to the "
                             "room target than any other candidate, but its worst seed is no "
                             "higher than the reference's")
    rounds_1_and_2 = design_search.ROOM[:design_search.ROOM.index("s5_separable") + 1]
    room = {name: design_search.room_summary(name) for name in rounds_1_and_2}  # "after both"
    f30, others = room["s5_f30_training"], [s for n, s in room.items() if n != "s5_f30_training"]

    def at_target(s):
        return sum(low >= design_search.ROOM_TARGET for low in s["last_min"])

    assert all(f30["last_min_mean"] > s["last_min_mean"] for s in others)
    assert all(at_target(f30) > at_target(s) for s in others)
    assert f30["worst_last_min"] <= room["s5_recipe"]["worst_last_min"]


def test_step6s_record_repeats_f30s_test_record_to_the_last_digit():
    on_page("research_log.md", "repeats that measurement (B) to the last digit: every seed's "
                               "training and test loss and accuracy and learning rate, in every "
                               "epoch")
    step6 = records.read_results(records.results_path(6, records.RECORDED))
    f30 = records.read_results(records.results_path(
        6, utils.REPO_ROOT / "Data" / "results" / "candidates" / "f30_clean_5658"))
    keys = ("seed", "train_loss", "train_acc", "test_loss", "test_acc", "lr")
    assert [[run[k] for k in keys] for run in step6["runs"]] == \
        [[run[k] for k in keys] for run in f30["runs"]]


def test_step5s_recipe_misses_on_most_validation_seeds_and_below_its_test_record():
    on_page("step5_room.md", "On the validation split, step 5's first recipe misses the target "
                             "on more of its seeds than it holds it, and its worst seed here is "
                             "below every seed of its test record. That test record "
                             "(`Data/results/before_room/step5.json`) holds on all of its seeds, "
                             "with no room")
    validation = summary("s5_recipe", 5)
    test = records.summarize_runs(records.read_results(BEFORE_ROOM))  # that recipe's test record
    holding = sum(low >= records.TARGET for low in validation["last_min"])
    assert len(validation["seeds"]) == 10 and holding < len(validation["seeds"]) - holding
    assert validation["worst_last_min"] < min(test["last_min"])
    assert records.TARGET <= min(test["last_min"]) < design_search.ROOM_TARGET  # no room


def test_the_third_round_of_step5s_room():
    on_page("step5_room.md", "`s5_ema` lifted three of the reference's five seeds and left one "
                             "level, on the same training seed for seed, but lowered the "
                             "reference's worst seed")
    on_page("step5_room.md", "f30's training with step 5's dropout kept lifts both the "
                             "reference's worst seed and its mean, where f30's training without "
                             "dropout lifted only the mean. It is the chosen recipe. On "
                             "validation it does not yet bring every seed to the room target.")
    room = {name: design_search.room_summary(name) for name in design_search.ROOM}
    ref, ema = room["s5_recipe"], room["s5_ema"]
    pairs = list(zip(ema["last_min"], ref["last_min"]))
    assert sum(e > r for e, r in pairs) == 3 and sum(e == r for e, r in pairs) == 1
    lowered = [seed for seed, (e, r) in zip(ref["seeds"], pairs) if e < r]
    assert lowered == [ref["seeds"][ref["last_min"].index(ref["worst_last_min"])]]
    ema_runs = records.read_results(records.results_path(5, design_search.TUNING / "s5_ema"))
    recipe_runs = records.read_results(records.results_path(5, design_search.TUNING / "s5_recipe"))
    assert all(a["train_acc"] == b["train_acc"]  # the same training, seed for seed
               for a, b in zip(ema_runs["runs"], recipe_runs["runs"]))
    dropout, no_dropout = room["s5_f30_training_dropout"], room["s5_f30_training"]
    assert dropout["worst_last_min"] > ref["worst_last_min"] >= no_dropout["worst_last_min"]
    assert dropout["last_min_mean"] > ref["last_min_mean"]
    assert no_dropout["last_min_mean"] > ref["last_min_mean"]
    assert design_search.room_verdict().splitlines()[-1] == "- Chosen: s5_f30_training_dropout."
    assert min(dropout["last_min"]) < design_search.ROOM_TARGET


def test_the_chosen_recipe_on_10_validation_seeds():
    on_page("step5_room.md", "Over 10 seeds the chosen recipe is above step 5's old recipe in its "
                             "worst seed, its mean and on most seeds, but it misses the exercise's "
                             "target on some validation seeds, and the room target on most: its "
                             "seeds 6-10 came out lower than the bar's seeds 1-5")
    chosen, old = summary("s5_f30_training_dropout", 5), summary("s5_recipe", 5)
    seeds = list(range(1, 11))
    assert chosen["seeds"] == old["seeds"] == seeds
    assert chosen["worst_last_min"] > old["worst_last_min"]
    assert chosen["last_min_mean"] > old["last_min_mean"]
    assert sum(chosen["lows"][s] > old["lows"][s] for s in seeds) > len(seeds) / 2
    assert 0 < sum(low < records.TARGET for low in chosen["last_min"]) < len(seeds) / 2
    assert sum(low < design_search.ROOM_TARGET for low in chosen["last_min"]) > len(seeds) / 2
    assert mean_on(chosen, range(6, 11)) < mean_on(chosen, range(1, 6))


def test_step5s_test_record_with_the_chosen_recipe():
    on_page("step5_room.md", "On the test set the chosen recipe holds the exercise's target on "
                             "every seed, and the room target on every seed but one, whose lowest "
                             "epoch is its first clean epoch")
    on_page("step5_room.md", "Against the first recipe's test record, the mean of the seeds' "
                             "lowest epochs is higher and the worst seed is level, on the line.")
    test = records.read_results(BEFORE_ROUND_4)
    first = records.summarize_runs(records.read_results(BEFORE_ROOM))
    s = records.summarize_runs(test)
    assert records.held(test) == (5, 5, s["worst_last_min"])
    missing = [run for run, low in zip(test["runs"], s["last_min"])
               if low < design_search.ROOM_TARGET]
    assert len(missing) == 1
    first_clean = RECIPES[5].epochs - RECIPES[5].clean_last_epochs  # index of its first epoch
    assert missing[0]["test_acc"].index(min(missing[0]["test_acc"][-4:])) == first_clean
    assert s["last_min_mean"] > first["last_min_mean"]
    assert s["worst_last_min"] == first["worst_last_min"] == records.TARGET


def test_step5s_notebook_analysis():
    """Step 5's Analysis, held to its test record and to the validation records it cites."""
    notebook = " ".join((utils.REPO_ROOT / "notebooks" / "step5_augmentation.py").read_text()
                        .replace("# ", "").split())
    for sentence in ("it is taken while training, on augmented images until the clean epochs and "
                     "always with dropout on, so it sits below the test accuracy partly by "
                     "construction",
                     "every seed holds the target, and keeps the room asked for in each of its "
                     "last 4 epochs",
                     "The one channel more** lifted the worst of 10 seeds on the validation "
                     "split, against the same training on step 4's network, not their mean, "
                     "whose gain is inside the seed spread"):
        assert sentence in notebook, sentence
    augmented = RECIPES[5].epochs - RECIPES[5].clean_last_epochs
    for run in records.read_results(records.results_path(5, records.RECORDED))["runs"]:
        assert all(t < a for t, a in zip(run["train_acc"][:augmented], run["test_acc"]))
        assert run["train_acc"][-1] < run["test_acc"][-1]
    assert records.held(records.read_results(records.results_path(5, records.RECORDED)),
                        design_search.ROOM_TARGET)[0] == len(RECIPES[5].seeds)
    wider, full = summary("s5_wider_transition", 5), summary("a0_full_recipe", 5)
    assert wider["worst_last_min"] > full["worst_last_min"]
    assert holding(wider) <= holding(full)
    assert abs(wider["last_min_mean"] - full["last_min_mean"]) < wider["last_min_std"]
    step4 = records.read_results(records.results_path(4, records.RECORDED))["runs"][0]
    assert step4["train_acc"][-1] > step4["test_acc"][-1]
    dropout, no_dropout = summary("s5_f30_training_dropout", 5), summary("s5_f30_training", 5)
    assert all(n > d for n, d in zip(no_dropout["train_end"], dropout["train_end"]))
    ref = design_search.room_summary("s5_recipe")
    assert design_search.room_summary("s5_f30_training")["worst_last_min"] <= ref["worst_last_min"]


def test_packing_seeds_does_not_pay_on_a_cpu():
    on_page("research_log.md", "On a CPU, grouped convolutions run slower than plain ones, so "
                               "packing does not pay there")
    timings = sorted((utils.REPO_ROOT / "Data" / "timings").glob("seeds_at_once_step*.json"))
    assert [path.name for path in timings] == ["seeds_at_once_step5.json",
                                               "seeds_at_once_step7.json"]
    for path in timings:
        record = json.loads(path.read_text())
        seconds, copies = record["seconds"], record["copies"]
        assert record["device"] == "cpu"
        assert seconds[f"{copies} seeds at once"] > copies * seconds["one seed"], path.name


def test_two_seeds_side_by_side_save_about_a_quarter_for_step5_less_for_step7():
    on_page("research_log.md", "Two seeds side by side pay: about a quarter less waiting than "
                               "one after another for step 5, less for step 7")
    saved = {}
    for step in (5, 7):
        record = json.loads((utils.REPO_ROOT / "Data" / "timings" /
                             f"seeds_at_once_step{step}.json").read_text())
        seconds, copies = record["seconds"], record["copies"]
        after_another = copies * seconds["one seed"]
        saved[step] = 1 - seconds[f"{copies} seeds, 2 side by side"] / after_another
    assert 0.2 <= saved[5] <= 0.3 and 0 < saved[7] < saved[5]
    doc = many_seeds.__doc__
    assert "measured about a quarter faster" in " ".join(doc.split())


def test_what_step5s_first_ablation_says_holds_in_its_records():
    page = "step5_ablation.md"
    on_page(page, "The schedule is the one ingredient whose removal clearly shows")
    on_page(page, "Without augmentation, and without the clean last epochs, the network validated "
                  "level with the full recipe on these seeds, not lower")
    on_page(page, "the two full-recipe rows, the same seeds on two machines, differ by about as "
                  "much as these rows do from the full recipe")

    def against_full(name):
        paired = design_search.ABLATION[name][3]
        mine, full = (records.summarize_runs(design_search.on_seeds(
            design_search.validation_record(5, n), design_search.ABLATION_SEEDS), 4)
            for n in (name, paired))
        return (mine["worst_last_min"] - full["worst_last_min"],
                mine["last_min_mean"] - full["last_min_mean"])

    changes = {name: against_full(name)
               for name in design_search.ablated(design_search.ABLATION_BEFORE_ROUND_4)}
    schedule = changes.pop("a2_step4_schedule")
    assert schedule[0] <= -0.05 and schedule[1] <= -0.05  # worst and mean, clearly lower
    assert all(mean > schedule[1] for _, mean in changes.values())
    for name in ("a1_no_augmentation", "a3_no_clean_epochs", "a5_no_weight_decay"):
        assert abs(changes[name][1]) <= 0.02, name  # level
    expected = {name: design_search.ABLATION[name][2] for name in ("a1_no_augmentation",
                                                                  "a3_no_clean_epochs")}
    assert all(changes[name][1] > high for name, (_, high) in expected.items())  # wrong
    machines = [records.summarize_runs(design_search.on_seeds(design_search.validation_record(
        5, n), design_search.ABLATION_SEEDS), 4)["last_min_mean"]
        for n in ("a0_full_recipe", design_search.ABLATION_REFERENCE)]
    assert abs(machines[0] - machines[1]) >= max(abs(mean) for _, mean in changes.values()) - 0.02
    no_bn, full = (design_search.validation_record(5, n) for n in ("a4_no_precise_bn",
                                                                    "a0_full_recipe"))
    assert [r["train_loss"] for r in no_bn["runs"]] == \
        [r["train_loss"] for r in full["runs"] if r["seed"] in design_search.ABLATION_SEEDS]


def test_the_fourth_round_for_room_says_what_its_records_hold():
    on_page("step5_room.md", "The equal average (`s5_swa`) measures `a0_full_recipe`'s training "
            "seed for seed (their training accuracies are the same in every epoch), and it is "
            "lower on one of the three seeds: it stops at the screen.")
    on_page("step5_room.md", "The ramp-down (`s5_ramp_down`) passes the screen on a higher worst "
            "seed with a lower mean")
    full, swa, ramp = (summary(name, 5) for name in ("a0_full_recipe", "s5_swa", "s5_ramp_down"))
    first = [1, 2, 3]
    assert swa["seeds"] == first and full["seeds"] == ramp["seeds"] == list(range(1, 11))
    assert swa["train_acc"] == full["train_acc"][:3]
    assert sum(swa["lows"][seed] < full["lows"][seed] for seed in first) == 1
    assert min(ramp["lows"][s] for s in first) > min(full["lows"][s] for s in first)
    assert mean_on(ramp, first) < mean_on(full, first)
    assert "s5_ramp_down, seeds 1-3" in design_search.room_4_verdict()


def test_the_ramp_down_over_10_seeds():
    on_page("step5_room.md", "Over 10 seeds the ramp-down's worst seed is level with the full "
            "recipe's, and it is the same seed, seed 10, in both; its mean is lower, so it stops "
            "at the bar. It holds the exercise's target on fewer validation seeds than the full "
            "recipe, and the room target on one more.")
    on_page("step5_room.md", "Seed 10, the worst of both, had the lowest validation accuracy of "
            "their 10 seeds in the epoch before the last 4 in both")
    full, ramp = (summary(name, 5) for name in ("a0_full_recipe", "s5_ramp_down"))
    for s in (full, ramp):
        assert min(s["lows"], key=s["lows"].get) == 10
        assert [low for low in s["last_min"] if low == s["worst_last_min"]] == [s["lows"][10]]
    assert full["worst_last_min"] == ramp["worst_last_min"]
    assert ramp["last_min_mean"] < full["last_min_mean"]

    assert holding(ramp, records.TARGET) < holding(full, records.TARGET)
    assert holding(ramp, design_search.ROOM_TARGET) == \
        holding(full, design_search.ROOM_TARGET) + 1
    assert "beats it on the first seeds, not on all: stops there" in [
        line for line in design_search.room_4_verdict().splitlines()
        if line.startswith("- s5_ramp_down")][0]
    for name in ("a0_full_recipe", "s5_ramp_down"):
        before = {r["seed"]: r["before"] for r in design_search.seed_profiles(5, [name])}
        assert min(before, key=before.get) == 10


def test_the_wider_transition_is_the_fourth_rounds_choice():
    on_page("step5_room.md", "Over 10 seeds its worst seed is higher than the full recipe's, and "
            "so is its mean: by the bar **it is the fourth round's choice**. Seed 10, the full "
            "recipe's worst, is not its worst. It holds the exercise's target on fewer of the 10 "
            "seeds than the full recipe and the room target on one more")
    full, wider = summary("a0_full_recipe", 5), summary("s5_wider_transition", 5)
    assert full["seeds"] == wider["seeds"] == list(range(1, 11))
    assert min(wider["lows"][s] for s in (1, 2, 3)) == min(full["lows"][s] for s in (1, 2, 3))
    assert 0 < mean_on(wider, (1, 2, 3)) - mean_on(full, (1, 2, 3)) < 0.005  # the third decimal
    assert wider["worst_last_min"] > full["worst_last_min"]
    assert wider["last_min_mean"] > full["last_min_mean"]
    assert wider["lows"][10] > wider["worst_last_min"]
    assert design_search.room_4_verdict().splitlines()[-1] == \
        "- Chosen: s5_wider_transition; it beats a0_full_recipe."

    assert holding(wider, records.TARGET) < holding(full, records.TARGET)
    assert holding(wider, design_search.ROOM_TARGET) == \
        holding(full, design_search.ROOM_TARGET) + 1


@pytest.mark.usefixtures("records_torch")
def test_step5s_test_record_with_the_fourth_rounds_choice():
    on_page("step5_room.md", "On the test set every seed holds the room target in each of its "
            "last 4 epochs: the issue's goal for step 5, the room target on each of 5 "
            "seeds of the test set, is met. Its worst seed is above the worst seed of the recipe "
            "it replaced")
    on_page("step5_room.md", "and so is the mean of the seeds' lowest epochs; the two were not "
            "compared to choose. On the validation split the same recipe did not hold the room "
            "target on most of its 10 seeds")
    on_page(README, "Step 5 answers it, with room above the line (the target) on every test seed "
            "(fewer of its seeds hold on the validation split: step 5 gives the odds)")
    test = records.read_results(records.results_path(5, records.RECORDED))
    # RECIPES[5] trains s5_wider_transition's runs (test_design_search holds it)
    assert test["recipe_fingerprint"] == fingerprints.recipe_fingerprint(RECIPES[5])
    assert test["eval_set"] == "test" and [run["seed"] for run in test["runs"]] == [1, 2, 3, 4, 5]
    met, seeds, worst = records.held(test, design_search.ROOM_TARGET)
    assert met == seeds == 5
    before = records.summarize_runs(records.read_results(BEFORE_ROUND_4))
    now = records.summarize_runs(test)
    assert now["worst_last_min"] > before["worst_last_min"]
    assert now["last_min_mean"] > before["last_min_mean"]
    wider = summary("s5_wider_transition", 5)
    assert holding(wider, design_search.ROOM_TARGET) < len(wider["seeds"]) / 2


def test_the_best_worst_seed_over_10_validation_seeds():
    on_page("step5_room.md", "The best worst seed on validation over 10 seeds is now the wider "
            "transition's, above the third round's choice (`s5_f30_training_dropout`, its table "
            "above), whose record was made on the earlier machine; the same recipe on this "
            "round's machine (`a0_full_recipe`) has a lower worst seed over the same 10 seeds")
    tenfold = {name: summary(name, 5) for name, c in design_search.CANDIDATES.items()
               if c.recipe.step == 5 and design_search.validation_record(5, name) is not None}
    tenfold = {n: s for n, s in tenfold.items() if len(s["seeds"]) >= 10}
    ranked = sorted(tenfold, key=lambda n: tenfold[n]["worst_last_min"], reverse=True)
    assert ranked[:2] == ["s5_wider_transition", "s5_f30_training_dropout"]
    assert tenfold[ranked[0]]["worst_last_min"] > tenfold[ranked[1]]["worst_last_min"]
    assert tenfold["a0_full_recipe"]["worst_last_min"] < tenfold[ranked[1]]["worst_last_min"]
    kernels = {n: design_search.validation_record(5, n).get("kernels")  # older records lack it
               for n in ("a0_full_recipe", ranked[1])}
    assert kernels[ranked[1]] != kernels["a0_full_recipe"]


def test_the_width_lead_widens_the_narrowest_layer_the_budget_allows():
    on_page("step5_room.md", "one channel more fits in any one of the six convs before its "
            "classifier but one. This candidate gives it to the narrowest layer, the 1x1 "
            "transition after the pool")
    def out_channels(net):
        return [m.out_channels for m in net.modules() if hasattr(m, "out_channels")]

    widths = (10, 16, 8, 16, 16, 16)  # the convs before the classifier, step 5's until round 4
    assert out_channels(RECIPES[4].model()) == [*widths, 10]
    step4 = utils.count_parameters(RECIPES[4].model())
    assert utils.count_parameters(design_search.layered(widths, dropout=0.05)) == step4
    wider = [utils.count_parameters(design_search.layered(
        widths[:i] + (widths[i] + 1,) + widths[i + 1:], dropout=0.05)) for i in range(6)]
    assert sum(count < 8_000 for count in wider) == 5
    transition = widths.index(min(widths))
    candidate = design_search.CANDIDATES["s5_wider_transition"].recipe.model()
    assert utils.count_parameters(candidate) == wider[transition] < 8_000
    assert out_channels(candidate) == [w + (i == transition) for i, w in enumerate(widths)] + [10]


def test_the_digits_the_choices_seeds_miss():
    on_page("frontier_search.md", "Run on the choice on a later machine, its runs did not repeat "
            "the record")
    on_page("frontier_search.md", "there every seed held the target: with no seed that misses, "
            "the counts cannot say what the missing seeds have in common. They say where every "
            "seed errs: the same three digits take the most misses in each seed's lowest epoch")
    kept = json.loads((design_search.TUNING / "r2_f28_swa" / "missed_digits.json").read_text())
    assert not kept["repeats_record"]
    s = records.summarize_runs(kept, kept["last"])
    assert len(s["seeds"]) == 5 and min(s["last_min"]) >= records.TARGET
    for seed, epoch in zip(s["seeds"], s["last_min_epoch"]):
        counts = kept["misses"][str(seed)][epoch - kept["epochs"][0]]
        ranked = sorted(range(10), key=lambda d: -counts[d])
        assert set(ranked[:3]) == {4, 5, 9}, (seed, counts)


def test_what_step5s_second_ablation_says():
    on_page("step5_ablation.md", "**Every expected range held**, each removal's change of the "
            "mean within the range written before its runs; one expected direction did not "
            "(dropout's, below).")
    on_page("step5_ablation.md", "the network without dropout validates level with the full "
            "recipe, its worst seed higher. It fits its training images more closely on every "
            "seed")
    readme = " ".join((utils.REPO_ROOT / "README.md").read_text().split())
    assert ("the schedule's removal costs the most on the mean and precise BN's on the worst "
            "seed; without the clean last epochs it validates a little lower; without "
            "augmentation, weight decay or dropout alone it validates level") in readme
    on_page("step5_ablation.md", "**The schedule's removal costs the most again**, and **precise "
            "BN's** next")
    changes = {}
    for name in design_search.ablated():
        seeds, mine, full = design_search.ablation_pair(name)
        assert len(seeds) == 3, name
        changes[name] = mine["last_min_mean"] - full["last_min_mean"]
        low, high = design_search.ABLATION[name][2]
        assert low - 1e-9 <= changes[name] <= high + 1e-9, name
    ranked = sorted(changes, key=changes.get)
    assert ranked[:3] == ["b2_step4_schedule", "b4_no_precise_bn", "b3_no_clean_epochs"]
    worst = {name: design_search.ablation_pair(name)[1]["worst_last_min"] -
             design_search.ablation_pair(name)[2]["worst_last_min"] for name in changes}
    assert min(worst, key=worst.get) == "b4_no_precise_bn"  # by the worst seed, precise BN's
    assert all(abs(changes[name]) <= 0.015 for name in  # level: augmentation, decay, dropout
               ("b1_no_augmentation", "b5_no_weight_decay", "b6_no_dropout"))
    low, high = design_search.ABLATION["b6_no_dropout"][2]
    assert changes["b6_no_dropout"] > (low + high) / 2  # nearer the top of its range: not lower
    assert abs(changes["b6_no_dropout"]) < 0.02  # level
    no_dropout, b0 = summary("b6_no_dropout", 5), summary("b0_full_recipe", 5)
    assert no_dropout["seeds"] == b0["seeds"]
    assert no_dropout["worst_last_min"] > b0["worst_last_min"]
    assert all(n > f for n, f in zip(no_dropout["train_end"], b0["train_end"]))
    on_page("step5_ablation.md", "differ by about as much as the level removals do from the full "
            "recipe: three seeds see the removals of the schedule, precise BN and the clean "
            "epochs, not of the other three.")
    machines = abs(b0["last_min_mean"] - mean_on(summary("s5_wider_transition", 5), b0["seeds"]))
    seen = {"b2_step4_schedule", "b4_no_precise_bn", "b3_no_clean_epochs"}
    assert all(abs(changes[n]) > 2 * machines for n in seen)
    assert all(abs(changes[n]) <= machines for n in set(changes) - seen)
    _, earlier, earlier_full = design_search.ablation_pair("s5_f30_training")  # step 4's network
    assert earlier["worst_last_min"] < earlier_full["worst_last_min"]
    no_bn, full = (design_search.validation_record(5, n) for n in ("b4_no_precise_bn",
                                                                    "b0_full_recipe"))
    assert [r["train_loss"] for r in no_bn["runs"]] == [r["train_loss"] for r in full["runs"]]


@pytest.mark.usefixtures("records_torch")
def test_the_old_kernels_hash_did_not_tell_the_fourth_rounds_machine_from_the_ablations():
    on_page("step5_ablation.md", "Its first run, `b4_no_precise_bn` seed 1 (kept in "
            "`Data/tuning/kernels_check/step5.json`), should have trained exactly as "
            "`s5_wider_transition`'s seed 1 (precise BN changes only what is measured); it did "
            "not, from the first epoch on.")
    on_page("step5_ablation.md", "Its seed 1 trains exactly as that first `b4_no_precise_bn` run "
            "did, so this machine repeats its own runs.")
    check = records.read_results(design_search.TUNING / "kernels_check" / "step5.json")
    wider = design_search.validation_record(5, "s5_wider_transition")
    again = design_search.validation_record(5, "b0_full_recipe")
    first, = check["runs"]
    theirs = next(run for run in wider["runs"] if run["seed"] == first["seed"])
    ours = next(run for run in again["runs"] if run["seed"] == first["seed"])
    assert check["recipe_fingerprint"] == fingerprints.recipe_fingerprint(
        design_search.CANDIDATES["b4_no_precise_bn"].recipe)
    assert (check["kernels"], check["torch_version"]) == (wider["kernels"], wider["torch_version"])
    assert first["train_loss"][0] != theirs["train_loss"][0]  # from the first epoch on
    assert first["train_loss"] == ours["train_loss"] and first["train_acc"] == ours["train_acc"]
    assert again["kernels"] != check["kernels"]  # the fingerprint of today names the processor


def test_steps_6_and_7_train_without_dropout_and_what_they_fit():
    """model.py and the notebooks: no dropout. Step 6's training accuracy ends above its test
    accuracy on every seed (no sign of underfitting); step 7's, with the distortions, not on
    every seed."""
    import model

    assert "training accuracy above test: no sign of underfitting" in " ".join(
        model.Step6Net.__doc__.split())
    step7 = " ".join((utils.REPO_ROOT / "notebooks" / "step7_frontier.py").read_text()
                     .replace("# ", "").split())
    assert ("is no longer above the test accuracy (on their average) on every seed" in step7
            and "Step 6, wider, does fit them more closely on every seed." in step7)
    above = {}
    for step in (6, 7):
        assert not any(isinstance(m, torch.nn.Dropout) for m in RECIPES[step].model().modules())
        above[step] = [run["train_acc"][-1] > run["test_acc"][-1] for run in records.read_results(
            records.results_path(step, records.RECORDED))["runs"]]
    assert all(above[6]) and not all(above[7])
    for page in ("step6_separable.py", "step7_frontier.py"):
        assert "this small underfits" not in " ".join((utils.REPO_ROOT / "notebooks" / page)
                                                  .read_text().replace("# ", "").split())


def test_what_the_network_or_recipe_round_says():
    """docs/network_or_recipe.md, held to its records (each against n5_step5_net, seeds 1-5)."""
    on_page("network_or_recipe.md", "**Step 2's network does not learn under step 5's recipe**: "
            "in its last epochs every seed scores exactly the share of its training images' most "
            "frequent digit, on the training and on the validation images")
    on_page("network_or_recipe.md", "**Step 3's network validates below its expected range**")
    on_page("network_or_recipe.md", "**Step 4's validates level with step 5's**, inside its "
            "range, its worst seed lower: of the gain from step 3's network to step 5's, step "
            "4's network carries most")
    on_page("network_or_recipe.md", "**Step 6's validates level with step 5's, its worst seed "
            "higher**")
    on_page("network_or_recipe.md", "**Step 7's validates just below its range**")
    on_page("network_or_recipe.md", "step 4's record gains more over step 3's than its network "
            "does under one recipe")
    rows = {row["name"]: row["one_recipe"] for row in design_search.one_recipe_rows()}
    five = rows["n5_step5_net"]
    change = {name: rows[name]["last_min_mean"] - five["last_min_mean"]
              for name in design_search.ONE_RECIPE}
    for name in change:
        assert rows[name]["seeds"] == five["seeds"] == [1, 2, 3, 4, 5]
    expected = {name: entry[2] for name, entry in design_search.ONE_RECIPE.items()}
    two = records.read_results(records.results_path(5, design_search.TUNING / "n2_step2_net"))
    _, train_y, _, val_y = utils.load_mnist("cpu", quick=False, validation=True)
    digit = torch.bincount(train_y).argmax()
    for key, labels, last in (("train_acc", train_y, 3), ("val_acc", val_y, 4)):
        share = 100 * (labels == digit).sum().item() / len(labels)
        assert all(acc == pytest.approx(share, abs=1e-9) for run in two["runs"]
                   for acc in run[key][-last:]), key
    assert change["n2_step2_net"] < expected["n2_step2_net"][0]
    assert change["n3_step3_net"] < expected["n3_step3_net"][0]
    assert expected["n4_step4_net"][0] <= change["n4_step4_net"] <= expected["n4_step4_net"][1]
    assert rows["n4_step4_net"]["worst_last_min"] < five["worst_last_min"]
    assert rows["n4_step4_net"]["last_min_mean"] - rows["n3_step3_net"]["last_min_mean"] > \
        2 * (five["last_min_mean"] - rows["n4_step4_net"]["last_min_mean"])
    assert 0 < expected["n7_step7_net"][0] - change["n7_step7_net"] < 0.02
    assert abs(change["n6_step6_net"]) < 0.03
    assert rows["n6_step6_net"]["worst_last_min"] > five["worst_last_min"]
    own = {row["step"]: row["own"] for row in design_search.one_recipe_rows()}
    assert own[4] - own[3] > rows["n4_step4_net"]["last_min_mean"] - \
        rows["n3_step3_net"]["last_min_mean"]


def test_what_the_frontiers_fourth_round_found():
    """docs/frontier_search.md's fourth round, held to its records (seeds 1-5, this round's
    machine): the levers against step 7's recipe, and the choice."""
    names = ("e0_step7_recipe", "e1_elastic", "e2_label_smoothing")
    e0, e1, e2 = (summary(name, 6) for name in names)
    for name, s in zip(names, (e0, e1, e2)):
        assert s["seeds"] == list(design_search.ROUND_4_SEEDS)
        s["before"] = [r["before"] for r in design_search.seed_profiles(6, [name])]
    on_page("frontier_search.md", "**Neither lever moved the mean.** Both changes of the mean "
            "fell inside the ranges written before the runs, elastic distortions' at zero and "
            "label smoothing's just below it.")
    for lever, s in (("e1_elastic", e1), ("e2_label_smoothing", e2)):
        low, high = design_search.ROUND_4[lever][2]
        assert low <= s["last_min_mean"] - e0["last_min_mean"] <= high
    assert f"{e1['last_min_mean'] - e0['last_min_mean']:+.2f}" in ("+0.00", "-0.00")
    assert -0.015 < e2["last_min_mean"] - e0["last_min_mean"] < 0
    on_page("frontier_search.md", "the same mean as step 7's recipe, to the last digit shown, "
            "and a worst seed a little higher")
    assert f"{e1['last_min_mean']:.3f}" == f"{e0['last_min_mean']:.3f}"
    assert 0 < e1["worst_last_min"] - e0["worst_last_min"] <= 0.03
    on_page("frontier_search.md", "every seed validates lower in its last augmented epoch than "
            "every seed of the reference, and fits its training images less closely in its last "
            "epoch")
    assert max(e1["before"]) < min(e0["before"])
    assert max(e1["train_end"]) < min(e0["train_end"])
    on_page("frontier_search.md", "its worst seed is the lowest of the three")
    assert e2["worst_last_min"] < min(e0["worst_last_min"], e1["worst_last_min"])
    assert design_search.round_4_verdict().splitlines()[-1] == \
        "- Chosen: e1_elastic; it beats e0_step7_recipe."


def test_what_the_fourth_rounds_test_record_says():
    """docs/frontier_search.md on step 7's test record after the fourth round: held to both
    test records and to the validation margin that chose the distortions."""
    now, before = (records.read_results(records.RECORDED / "results" / where / "step7.json")
                   for where in ("", "before_elastic"))
    on_page("frontier_search.md", "**On the test set the choice did worse than the recipe it "
            "replaced:** fewer seeds hold 99.40 % and its worst seed is lower, by more than the "
            "margin that chose it on validation, the other way.")
    on_page(README, "**What it bought:** on test, less than the recipe without the distortions "
            "(last below; another setup, not seed for seed)")
    on_page(README, "The recipe without the distortions, step 7 until the fourth round, on test: "
            "<!-- generated: verdict-of Data/results/before_elastic/step7.json -->")
    (holds_now, _, worst_now), (holds_before, _, worst_before) = map(records.held, (now, before))
    assert holds_now < holds_before and worst_now < worst_before
    e0, e1 = (summary(name, 6) for name in ("e0_step7_recipe", "e1_elastic"))
    margin = e1["worst_last_min"] - e0["worst_last_min"]
    assert 0 < margin < worst_before - worst_now
    on_page("frontier_search.md", "The two test records were also trained differently (one "
            "seed after another, and two at a time in one-thread processes, which changes the "
            "digits), under different `kernels` fingerprints and with different recipes")
    assert (before["seeds_ran"], now["seeds_ran"]) == ("one-after-another", "side-by-side")
    assert now["kernels"] != before["kernels"]
    assert now["recipe_fingerprint"] != before["recipe_fingerprint"]


def test_what_the_fourth_rounds_step5_leg_says():
    """docs/frontier_search.md, step 5's leg: e3_step5_elastic against n5_step5_net on
    validation seeds 1-10, and the reference against step 5's record from other kernels."""
    seeds = tuple(range(1, 11))
    n5, e3 = (design_search.summary_on(5, name, seeds)
              for name in ("n5_step5_net", "e3_step5_elastic"))
    held = {name: sum(records.holds(low) for low in s["last_min"])
            for name, s in (("n5", n5), ("e3", e3))}
    on_page("frontier_search.md", "**The distortions do not lift step 5's seeds.** On "
            "validation seeds 1-10 the change of the mean fell inside the range written before "
            "the runs, a little below zero, and the worst seed and the count of seeds holding "
            "99.40 % went down, each seed by no more than the same recipe moves a seed between "
            "two setups")
    change = e3["last_min_mean"] - n5["last_min_mean"]
    low, high = design_search.ROUND_4["e3_step5_elastic"][2]
    assert low <= change <= high and -0.05 < change < 0
    assert e3["worst_last_min"] < n5["worst_last_min"] and held["e3"] < held["n5"]
    on_page("frontier_search.md", "every seed fits its training images less closely in its last "
            "epoch than every seed of step 5's recipe, and after its clean epochs its mean stays "
            "a little lower, where on step 7's recipe it came back level.")
    train_end = {name: [r["train_end"] for r in design_search.seed_profiles(5, [name])]
                 for name in ("n5_step5_net", "e3_step5_elastic")}
    assert max(train_end["e3_step5_elastic"]) < min(train_end["n5_step5_net"])
    e0, e1 = (summary(name, 6) for name in ("e0_step7_recipe", "e1_elastic"))
    assert f"{e1['last_min_mean'] - e0['last_min_mean']:+.2f}" in ("+0.00", "-0.00")
    on_page("frontier_search.md", "step 5's recipe holds fewer of its validation seeds 1-10 here "
            "than `s5_wider_transition` (the same recipe in another setup) did, at nearly the "
            "same mean: the seeds moved between the two setups about as much as they spread")
    other = records.read_results(records.RECORDED / "tuning" / "s5_wider_transition" / "results"
                                 / "step5.json")
    here = records.read_results(records.RECORDED / "tuning" / "n5_step5_net" / "results"
                                / "step5.json")
    assert other["kernels"] != here["kernels"] and records.held(here)[0] < records.held(other)[0]
    s_other = records.summarize_runs(other)
    assert abs(s_other["last_min_mean"] - n5["last_min_mean"]) < 0.02
    moved = max(abs(a - b) for a, b in zip(s_other["last_min"], n5["last_min"]))
    spread = max(s_other["last_min"]) - min(s_other["last_min"])
    assert 0.5 * spread < moved < 2 * spread
    assert max(abs(a - b) for a, b in zip(e3["last_min"], n5["last_min"])) <= moved
    assert records.VALIDATION_RECORDS[5][:2] == ("s5_wider_transition", "n5_step5_net")
