"""The judge of a student's network: each refusal in one sentence with nothing written, the
exercise's rule on hand-made histories, and a quick run that writes its verdict under runs/."""
import re
import textwrap

import pytest
import torch
import torch.nn as nn

from history import eval_name
import judge
import pages
import records
import train
import utils
from model import conv_block
from steps import sgd


class Small(nn.Module):
    """A good small network: 3,746 parameters, RF 28 at GAP."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            conv_block(1, 8, bn=True), conv_block(8, 12, bn=True), nn.MaxPool2d(2),
            conv_block(12, 12, bn=True), conv_block(12, 12, bn=True),
            nn.AdaptiveAvgPool2d(1), nn.Conv2d(12, 10, 1), nn.Flatten())

    def forward(self, x):
        return self.features(x)


def sized(total):
    """A network of exactly ``total`` parameters: a 3x3 conv to 10 channels (100), GAP, and
    unused weights for the rest."""
    class Sized(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 10, 3)
            self.spare = nn.Parameter(torch.zeros(total - 100))

        def forward(self, x):
            return self.conv(x).mean((2, 3))
    return Sized


class NineClasses(Small):
    def __init__(self):
        super().__init__()
        self.features[-2] = nn.Conv2d(12, 9, 1)


class Unflattened(Small):
    def forward(self, x):
        return self.features[:-1](x)


class TupleOut(Small):
    def forward(self, x):
        return self.features(x), x


class WrongFlatten(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.fc = nn.Conv2d(1, 4, 3), nn.Linear(4 * 28 * 28, 10)

    def forward(self, x):
        return self.fc(self.conv(x).flatten(1))


class ThreeChannels(Small):
    def __init__(self):
        super().__init__()
        self.features[0][0] = nn.Conv2d(3, 8, 3, bias=False)


class NeedsWidth(Small):
    def __init__(self, width):
        super().__init__()


class Narrow(nn.Module):
    """Sees 7x7 pixels: two 3x3 convs and a 1x1 classifier, no pool."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.Conv2d(8, 8, 3), nn.ReLU(),
                                      nn.Conv2d(8, 10, 1))

    def forward(self, x):
        return self.features(x)[:, :, 10, 10]


class Upsampled(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 10, 3), nn.Upsample(scale_factor=2),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())

    def forward(self, x):
        return self.features(x)


# --------------------------------------------------------------------------- the checks
def test_a_network_under_the_budget_passes_the_checks_with_its_parameters_per_layer():
    checked = judge.check(Small)
    # conv + BatchNorm per block: 72 + 16, 864 + 24, twice 1,296 + 24; the classifier 120 + 10
    assert checked.params == utils.count_parameters(Small()) == 88 + 888 + 2 * 1_320 + 130
    weighted = [row for row in checked.layers if row["params"]]
    assert sum(row["params"] for row in weighted) == checked.params
    assert (weighted[0]["layer"], weighted[0]["type"], weighted[0]["params"]) == \
        ("features.0.0", "Conv2d", 72)
    assert weighted[0]["output"] == (8, 26, 26) and weighted[0]["rf"] == 3
    assert checked.layers[-1]["rf"] >= 28 and not checked.warnings
    assert "3,746 parameters" in str(checked) and "features.0.0" in str(checked)


@pytest.mark.parametrize("total, budget, passes", [
    (7_999, 8_000, True), (8_000, 8_000, False), (8_001, 8_000, False), (3_999, 4_000, True),
    (4_000, 4_000, False)])
def test_the_budget_is_fewer_than_so_exactly_at_the_budget_fails(total, budget, passes):
    if passes:
        assert judge.check(sized(total), budget).params == total
    else:
        with pytest.raises(judge.DesignError, match=rf"{total:,} parameters; the budget is "
                                                    rf"fewer than {budget:,}: take "
                                                    rf"{total - budget + 1:,} out, where most"):
            judge.check(sized(total), budget)


@pytest.mark.parametrize("network, message", [
    (NineClasses, r"returns shape \(2, 9\) .* must be \(2, 10\)"),
    (Unflattened, r"returns shape \(2, 10, 1, 1\) .* flatten it"),
    (TupleOut, r"returns a tuple, not a tensor"),
    (WrongFlatten, r"forward fails on a batch of shape \(2, 1, 28, 28\) .*RuntimeError: mat1 "
                   r"and mat2 shapes cannot be multiplied"),
    (ThreeChannels, r"forward fails .*expected input\[2, 1, 28, 28\] to have 3 channels"),
    (NeedsWidth, r"NeedsWidth\(\) cannot be built without arguments .*'width'.*give every "
                 r"argument of __init__ a default"),
])
def test_a_network_that_cannot_be_trained_is_refused_in_one_sentence(network, message):
    with pytest.raises(judge.DesignError, match=message) as refusal:
        judge.check(network)
    assert "\n" not in str(refusal.value)


def test_the_receptive_field_warns_but_does_not_refuse():
    narrow = judge.check(Narrow)
    assert narrow.layers[-1]["rf"] == 5
    assert any("sees 5x5 pixels, not the whole 28x28 image" in w for w in narrow.warnings)
    upsampled = judge.check(Upsampled)
    assert any("cannot follow features.1 (Upsample)" in w for w in upsampled.warnings)


# --------------------------------------------------------------------------- the rule
def history(*seeds_accs, params=5_000, eval_set="validation", mode="full"):
    key = f"{eval_name(eval_set)}_acc"
    return {"model_class": "Mine", "params": params, "eval_set": eval_set, "mode": mode,
            "train_size": 50_000,
            "runs": [{"seed": seed, key: list(accs)} for seed, accs in seeds_accs]}


def test_a_seed_dipping_below_the_target_in_epoch_13_of_15_fails_the_design():
    good = [99.0] * 11 + [99.45, 99.50, 99.48, 99.52]
    dips = [99.0] * 11 + [99.45, 99.39, 99.48, 99.52]
    assert judge.verdict(history((1, good), (2, good))).passed
    v = judge.verdict(history((1, good), (2, dips), (3, good)))
    assert not v.passed and v.lowest == [99.45, 99.39, 99.45] and v.lowest_epoch[1] == 13
    assert "2 of 3 seeds hold 99.40 % in each of the last 4 epochs" in v.text
    assert "seed 2 dips to 99.39 % in epoch 13, 0.01 points short" in v.text


def test_a_12_epoch_run_is_judged_on_its_own_last_4_and_more_than_15_epochs_fail():
    before_the_last_4 = [99.0] * 7 + [99.10, 99.41, 99.42, 99.43, 99.44]  # epoch 8 dips
    assert judge.verdict(history((1, before_the_last_4))).passed
    in_the_last_4 = [99.0] * 8 + [99.38, 99.42, 99.43, 99.44]  # epoch 9 dips
    v = judge.verdict(history((1, in_the_last_4)))
    assert not v.passed and v.lowest_epoch == [9]
    v = judge.verdict(history((1, [99.5] * 16)))
    assert not v.passed and "16 epochs, more than 15" in v.text


def test_the_pages_and_the_judge_apply_one_rule_on_the_line_and_beside_it():
    """A seed on the line holds, after a float sum's last bit too; one just under it does not,
    for the pages (records.held, pages.verdict) and the judge alike."""
    on_the_line = [99.0] * 11 + [99.40, 99.4 - 1e-12, 99.41, 99.42]
    under = [99.0] * 11 + [99.40, 99.39, 99.41, 99.42]
    for accs, holds in ((on_the_line, True), (under, False)):
        results = dict(history((1, [99.5] * 15), (2, accs)), step=5)
        met, seeds, _ = records.held(results)
        assert (met == seeds) is holds and judge.verdict(results).passed is holds
        assert (", **missed by" not in pages.verdict(results)) is holds
    short = history((1, [99.45, 99.39]))  # a 2-epoch run is judged on both epochs
    assert records.held(short) == (0, 1, 99.39) and not judge.verdict(short).passed


def test_the_budget_is_part_of_the_rule():
    accs = [99.5] * 15
    assert judge.verdict(history((1, accs), params=7_999)).passed
    assert "8,000 parameters, not fewer than 8,000" in judge.verdict(
        history((1, accs), params=8_000)).text
    assert not judge.verdict(history((1, accs), params=4_500), budget=4_000).passed


# --------------------------------------------------------------------------- training
def test_a_good_small_network_gets_a_verdict_and_a_results_file(tmp_path, capsys):
    judged = judge.judge(Small, [1], out=tmp_path, progress=False)
    assert judged.path == tmp_path / "Small" / "validation" / "results" / "step5.json"
    recorded = records.read_results(judged.path)
    assert recorded["model_class"] == "Small" and recorded["eval_set"] == "validation"
    assert recorded["role"] == "yours" and recorded["mode"] == "quick"
    assert judged.verdict.text == judge.verdict(recorded).text
    assert "Quick mode" in judged.verdict.text and not judged.verdict.passed
    shown = capsys.readouterr().out
    assert "Expected wall time: about" in shown and judged.verdict.text in shown
    assert records.against_the_record(recorded) in shown  # the range line, step 5's validation
    assert "recorded seeds spread over" in shown and "compare a full run" in shown
    figure = judge.plot_beside_steps(judged)
    assert (tmp_path / "Small" / "validation" / "plots" / "overview.png").stat().st_size > 0
    assert figure.axes[0].get_xlim()[0] < recorded["params"]


def test_a_judged_run_goes_to_runs_named_after_the_class_never_data(monkeypatch, tmp_path):
    monkeypatch.delenv(utils.QUICK_ENV)
    monkeypatch.setattr(records, "RUNS", tmp_path / "runs")
    first, again = (judge.output_folder("MyNet", "validation") for _ in range(2))
    assert first.parent == again.parent == tmp_path / "runs" and first != again
    assert first.name.startswith("MyNet_validation_")
    assert judge.output_folder("MyNet", "test").name.startswith("MyNet_test_")
    assert judge.output_folder("MyNet", "test", tmp_path / "mine") == tmp_path / "mine" / "MyNet" / "test"
    with pytest.raises(records.ProtectedOutputError):
        judge.output_folder("MyNet", "validation", records.RECORDED)


def test_the_test_set_is_a_separate_step_that_says_why(tmp_path, capsys):
    judged = judge.judge(Small, [1], test_set=True, out=tmp_path, progress=False)
    assert judged.results["eval_set"] == "test" and "test" in judged.path.parts
    assert judge.WHY_NOT_THE_TEST_SET in capsys.readouterr().out


def test_a_diverging_recipe_ends_in_one_sentence_and_writes_no_results(tmp_path):
    class Plain(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 10, 3), nn.AdaptiveAvgPool2d(1),
                                          nn.Flatten())

        def forward(self, x):
            return self.features(x) * 1e30

    recipe = judge.recipe_for(Plain, optimizer=sgd(1e10))
    with pytest.raises(judge.DesignError, match="Plain diverged, so no results file was "
                                                "written: loss became") as refusal:
        judge.judge(Plain, [1], recipe=recipe, out=tmp_path, progress=False)
    assert "\n" not in str(refusal.value)
    assert not list(tmp_path.rglob("*.json"))


def test_the_time_estimate_leaves_the_random_state_alone(quick_data, monkeypatch):
    before = torch.get_rng_state()
    seconds = judge.estimate_seconds(judge.recipe_for(Small), quick_data, 3)
    assert seconds > 0 and torch.equal(before, torch.get_rng_state())
    monkeypatch.setattr(judge, "timed", lambda work, device: 1.0)  # no wall clock compared
    three = judge.estimate_seconds(judge.recipe_for(Small), quick_data, 3)
    assert judge.estimate_seconds(judge.recipe_for(Small), quick_data, 6) == 2 * three


# --------------------------------------------------------------------------- the command line
def write_network(tmp_path, body):
    path = tmp_path / "my_net.py"
    path.write_text(textwrap.dedent(body))
    return path


GOOD_FILE = """
    import torch.nn as nn
    from model import conv_block

    class MyNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                conv_block(1, 8, bn=True), nn.MaxPool2d(2), conv_block(8, 12, bn=True),
                nn.AdaptiveAvgPool2d(1), nn.Conv2d(12, 10, 1), nn.Flatten())

        def forward(self, x):
            return self.features(x)

    class Wide(MyNet):
        def __init__(self, width=900):
            super().__init__()
            self.features[0] = conv_block(1, width, bn=True)
            self.features[2] = conv_block(width, 12, bn=True)
    """


@pytest.mark.parametrize("spec, message", [
    ("{dir}/missing.py:MyNet", r"missing\.py does not exist"),
    ("{dir}/my_net.py:Nope", r"defines no nn.Module class 'Nope' \(it defines: MyNet, Wide\)"),
    ("{dir}/my_net.py", r"give FILE.py:ClassName"),
    ("{dir}/my_net.py:Wide", r"Wide has 107,254 parameters; the budget is fewer than 8,000"),
    ("{dir}/broken.py:MyNet", r"importing .*broken\.py failed: NameError: name 'undefined'"),
])
def test_the_command_line_refuses_with_exit_2_one_line_and_nothing_written(
        tmp_path, capsys, spec, message):
    write_network(tmp_path, GOOD_FILE)
    (tmp_path / "broken.py").write_text("undefined\n")
    out = tmp_path / "out"
    assert train.main(["--model", spec.format(dir=tmp_path), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("error: ")
    assert re.search(message, error), error
    assert not out.exists() or not list(out.rglob("*"))


def test_the_command_line_judges_a_network_from_its_file(tmp_path, capsys):
    path = write_network(tmp_path, GOOD_FILE)
    rc = train.main(["--model", f"{path}:MyNet", "--seeds", "1", "--budget", "4000", "--out",
                     str(tmp_path / "out"), "--no-progress"])
    shown = capsys.readouterr().out
    assert rc == 1  # quick mode: one epoch on 2,048 images fails the rule, as it should
    assert "budget: fewer than 4,000" in shown and "Expected wall time" in shown
    assert (tmp_path / "out" / "MyNet" / "validation" / "results" / "step5.json").is_file()
    assert (tmp_path / "out" / "MyNet" / "validation" / "plots" / "overview.png").is_file()


def test_the_judges_options_need_a_model(capsys):
    with pytest.raises(SystemExit):
        train.main(["--step", "2", "--budget", "4000"])
    with pytest.raises(SystemExit):
        train.main([])
    assert "--model" in capsys.readouterr().err


def test_your_turns_network_saved_to_a_file_as_the_notebook_says_loads_for_the_terminal(tmp_path):
    """your_turn's "From this notebook to a file": its two imports, then the MyNet cell as it is,
    give a file that ``--model my_net.py:MyNet`` loads and checks."""
    source = (utils.REPO_ROOT / "notebooks" / "your_turn.py").read_text()
    said = " ".join(source.split("**From this notebook to a file")[1].split("# %%")[0].split())
    imports = re.findall(r"`((?:import|from) [^`]+)`", said)
    assert imports == ["import torch.nn as nn", "from model import conv_block"]
    cell = next(c for c in source.split("# %%") if c.lstrip().startswith("class MyNet"))
    cell = cell.split("\nBUDGET")[0]
    (tmp_path / "my_net.py").write_text("\n".join(imports) + "\n\n" + cell.strip() + "\n")
    from model import Step3Net  # the network the notebook starts from
    assert judge.check(judge.load_class(f"{tmp_path}/my_net.py:MyNet")).params == \
        utils.count_parameters(Step3Net())
