"""Each step's network: the shape/RF comments in model.py match the computed table, and the
parameter budgets the story claims hold."""
import inspect
import re

import pytest
import torch

import model
import plots
import utils
from steps import RECIPES

# "# out CxHxW, RF r" after each layer; a depthwise-separable block documents its two convs
# on one line: "# out ..., RF r; 1x1: out ..., RF r".
COMMENT = re.compile(r"(?:# |; 1x1: )out (\d+)x(\d+)x(\d+), RF (\d+)")


def documented_layers(cls):
    """The ``out CxHxW, RF r`` comments of the class that builds the layers (a subclass that
    only changes arguments inherits its parent's)."""
    for klass in cls.__mro__:
        found = COMMENT.findall(inspect.getsource(klass))
        if found:
            return [((int(c), int(h), int(w)), int(rf)) for c, h, w, rf in found]
    raise AssertionError(f"{cls.__name__} has no '# out CxHxW, RF r' comments")


@pytest.mark.parametrize("step", sorted(RECIPES))
def test_comments_match_the_receptive_field_table(step):
    net = RECIPES[step].model()
    table = [(row["output"], row["rf"]) for row in plots.receptive_field_rows(net)]
    assert documented_layers(type(net)) == table


@pytest.mark.parametrize("step", sorted(RECIPES))
def test_every_model_maps_a_batch_to_ten_logits_and_sees_the_whole_digit(step):
    net = RECIPES[step].model().eval()
    assert net(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert plots.receptive_field_rows(net)[-1]["rf"] >= 28


def test_parameter_budgets_of_the_story():
    params = {step: utils.count_parameters(r.model()) for step, r in RECIPES.items()}
    assert 6_000_000 < params[1] < 7_000_000  # the heavy baseline
    assert params[2] < params[1] / 100  # the skeleton is far lighter
    for step, recipe in RECIPES.items():
        if step >= 3:
            assert params[step] < 8_000, (step, params[step])
    assert [r.role for r in RECIPES.values()].count("final") == 1
    frontier = [step for step, r in RECIPES.items() if r.role == "frontier"]
    assert len(frontier) == 1 and params[frontier[0]] < 4_000


def test_final_step_widens_step4s_transition_by_one_channel_and_changes_the_training():
    """Step 5 is step 4's network with the 1x1 transition after the pool one channel wider
    (9, not 8), and every other layer the same; the rest of what it changes is training."""
    assert RECIPES[4].model is model.Step4Net and RECIPES[5].model is model.Step5Net

    def layers(net):
        return [(type(m).__name__, tuple(getattr(m, "weight", torch.empty(0)).shape))
                for m in net.modules() if not list(m.children())]

    four, five = layers(model.Step4Net()), layers(model.Step5Net())
    assert len(four) == len(five)
    assert [(a, b) for a, b in zip(four, five) if a != b] == [
        (("Conv2d", (8, 16, 1, 1)), ("Conv2d", (9, 16, 1, 1))),  # the transition, 16 -> 9
        (("BatchNorm2d", (8,)), ("BatchNorm2d", (9,))),
        (("Conv2d", (16, 8, 3, 3)), ("Conv2d", (16, 9, 3, 3)))]  # the conv that reads it
    assert RECIPES[4].augment is None and RECIPES[5].augment is not None


def test_a_separable_conv_costs_a_ninth_plus_one_over_its_outputs_of_a_full_conv():
    """The README's claim: 1/9 + 1/c_out of a full 3x3 conv, about a seventh at 30 channels."""
    for c_in, c_out in ((16, 30), (30, 30), (12, 16)):
        separable = utils.count_parameters(model.separable_block(c_in, c_out)) - 2 * c_out  # BN
        full = 9 * c_in * c_out
        assert separable / full == pytest.approx(1 / 9 + 1 / c_out)
    widths = {step: RECIPES[step].model().features[-2].in_channels for step in (6, 7)}
    assert widths == {6: 36, 7: 30}  # the channels after the pool, read by the classifier
    assert all(round(1 / (1 / 9 + 1 / width)) == 7 for width in widths.values())
    readme = (utils.REPO_ROOT / "README.md").read_text()
    assert "1/9 + 1/c_out of a full 3x3 conv's cost, about a seventh at steps 6 and 7's widths " \
        f"({widths[6]}, {widths[7]})" in readme
