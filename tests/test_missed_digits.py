"""The missed-digits count: it keeps the predictions of the engine's own loop without changing
the runs, its counts are the accuracies' misses, and its table reads the runs it counted and
says whether they are the record's."""
import dataclasses
import json

import missed_digits
import utils
from steps import RECIPES


def test_the_counts_are_the_runs_misses_and_the_runs_are_the_plain_loops(quick_data):
    data = tuple(t[:256] for t in utils.load_mnist("cpu", quick=True, validation=True))
    recipe = dataclasses.replace(RECIPES[7], clean_last_epochs=0)  # quick mode trains 1 epoch
    evaluate = utils.evaluate
    results, misses = missed_digits.count_misses(recipe, [1], data=data)
    assert utils.evaluate is evaluate  # put back
    _, plain = utils.fit(recipe, data, 1, epochs=results["epochs"], eval_set="validation",
                         progress=False, log=None)
    run = results["runs"][0]
    assert missed_digits.unrepeated(results, {"runs": [plain]}) == []
    assert len(misses[1]) == min(missed_digits.LAST, results["epochs"])
    assert sum(misses[1][-1]) == round(len(data[3]) * (100 - run["val_acc"][-1]) / 100)


def test_a_run_that_differs_from_its_record_in_any_digit_is_named():
    run = {"seed": 3, "val_acc": [99.1, 99.2], "wall_s": 1.0}
    assert missed_digits.unrepeated({"runs": [run]}, {"runs": [dict(run, wall_s=2.0)]}) == []
    assert missed_digits.unrepeated({"runs": [run]}, {"runs": [dict(run, val_acc=[99.1, 99.21])]}
                                    ) == [3]
    assert missed_digits.unrepeated({"runs": [run]}, {"runs": []}) == [3]


def test_the_table_reads_each_counted_seeds_lowest_epoch_and_says_whose_runs(tmp_path,
                                                                             monkeypatch):
    import design_search
    import records

    recorded = design_search.validation_record(6, "r2_f28_swa")
    runs = [dict(run, val_acc=run["val_acc"][:-1] + [run["val_acc"][-1] - 0.05 * (i % 2)])
            for i, run in enumerate(recorded["runs"])]  # other runs: every other seed lower
    summary = records.summarize_runs(dict(recorded, runs=runs), 4)
    assert summary["last_min"] != records.summarize_runs(recorded, 4)["last_min"]
    epochs = [12, 13, 14, 15]
    # each seed misses (its epoch) images of digit 0 in that epoch, so the table must show it
    kept = {"last": 4, "epochs": epochs, "eval_set": "validation", "runs": runs,
            "kernels": recorded["kernels"], "torch_version": recorded["torch_version"],
            "repeats_record": False, "misses": {
                str(seed): [[epoch] + [0] * 9 for epoch in epochs] for seed in summary["seeds"]}}
    path = tmp_path / "misses.json"
    path.write_text(json.dumps(kept))
    monkeypatch.setattr(missed_digits, "recorded_misses_path", lambda name: path)
    whose, _, *table = missed_digits.missed_digits_table("r2_f28_swa").splitlines()
    assert whose.startswith("The runs counted are not r2_f28_swa's record") and \
        "the record's kernels fingerprint" in whose
    rows = [[cell.strip() for cell in row.strip("|").split("|")] for row in table[2:]]
    for seed, low, epoch in zip(summary["seeds"], summary["last_min"], summary["last_min_epoch"]):
        row = next(r for r in rows if r[0] == str(seed))
        assert row[1:5] == [f"{low:.2f}", str(epoch), "yes" if low >= 99.40 else
                                         "no", str(epoch)]
    missing = [e for s, low, e in zip(summary["seeds"], summary["last_min"],
                                      summary["last_min_epoch"]) if low < 99.40]
    assert next(r for r in rows if r[0].startswith("missing"))[4] == \
        f"{sum(missing) / len(missing):.1f}"
    path.write_text(json.dumps(dict(kept, repeats_record=True)))
    assert missed_digits.missed_digits_table("r2_f28_swa").startswith(
        "The runs counted repeat r2_f28_swa's record to the digit")
