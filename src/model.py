"""One network per design step, from a 6.4M-parameter baseline to under 4,000 parameters.

Every conv and pool layer carries a comment ``out CxHxW, RF r``: its output shape and its
receptive field on the 28x28 input. ``tests/test_model.py`` checks each comment against
``plots.receptive_field_rows``, so the comments cannot drift from the code.
RF rule: RF_out = RF_in + (kernel - 1) * jump_in, and a stride-2 pool doubles the jump.
"""
import torch.nn as nn


def conv_block(c_in, c_out, kernel=3, padding=0, bn=False, dropout=0.0, bn_before_relu=False):
    """Conv -> ReLU (-> BatchNorm -> Dropout). With BatchNorm the conv needs no bias.
    ``bn_before_relu`` (no step uses it; a search's candidates do): Conv -> BatchNorm -> ReLU
    instead, the other common order."""
    layers = [nn.Conv2d(c_in, c_out, kernel, padding=padding, bias=not bn), nn.ReLU()]
    if bn:
        layers.insert(1 if bn_before_relu else 2, nn.BatchNorm2d(c_out))
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


def separable_block(c_in, c_out, dropout=0.0, padding=0, relu_after_depthwise=False):
    """Depthwise-separable 3x3: a 3x3 filter per channel, then a 1x1 that mixes channels ->
    ReLU -> BatchNorm (-> Dropout). Costs 9*c_in + c_in*c_out weights instead of 9*c_in*c_out:
    1/9 + 1/c_out of a full 3x3 conv (about a seventh at 30 channels).
    ``relu_after_depthwise`` (no step uses it; a search's candidates do): ReLU and BatchNorm
    after the depthwise conv too (MobileNet's)."""
    depthwise = [nn.Conv2d(c_in, c_in, 3, padding=padding, groups=c_in, bias=False)]
    if relu_after_depthwise:
        depthwise += [nn.ReLU(), nn.BatchNorm2d(c_in)]
    layers = [*depthwise, nn.Conv2d(c_in, c_out, 1, bias=False), nn.ReLU(), nn.BatchNorm2d(c_out)]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class Net(nn.Module):
    """Every step's network is one ``nn.Sequential`` in ``.features``, from image to logits."""

    def forward(self, x):
        return self.features(x)


class Step1Net(Net):
    """Baseline: a plain 3x3 stack doubling channels up to 1024. Works, but 6.4M parameters."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            conv_block(1, 32, padding=1),     # out 32x28x28, RF 3
            conv_block(32, 64, padding=1),    # out 64x28x28, RF 5
            nn.MaxPool2d(2),                  # out 64x14x14, RF 6
            conv_block(64, 128, padding=1),   # out 128x14x14, RF 10
            conv_block(128, 256, padding=1),  # out 256x14x14, RF 14
            nn.MaxPool2d(2),                  # out 256x7x7, RF 16
            conv_block(256, 512),             # out 512x5x5, RF 24
            conv_block(512, 1024),            # out 1024x3x3, RF 32
            nn.Conv2d(1024, 10, 3),           # out 10x1x1, RF 40
            nn.Flatten(),
        )


class Step2Net(Net):
    """Skeleton: two conv blocks, max-pool, a 1x1 squeeze, three convs, and a 6x6 kernel that
    maps the last 6x6 map straight to 10 logits. No BatchNorm or dropout yet."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            conv_block(1, 8),       # out 8x26x26, RF 3
            conv_block(8, 16),      # out 16x24x24, RF 5
            nn.MaxPool2d(2),        # out 16x12x12, RF 6
            conv_block(16, 8, 1),   # out 8x12x12, RF 6
            conv_block(8, 16),      # out 16x10x10, RF 10
            conv_block(16, 16),     # out 16x8x8, RF 14
            conv_block(16, 16),     # out 16x6x6, RF 18
            nn.Conv2d(16, 10, 6),   # out 10x1x1, RF 28
            nn.Flatten(),
        )


class Step3Net(Net):
    """Under 8k: thinner blocks, BatchNorm after every conv but the last, a little dropout, and
    a second pool so the final big kernel shrinks to 4x4."""

    def __init__(self, dropout=0.05):
        super().__init__()
        block = dict(bn=True, dropout=dropout)
        self.features = nn.Sequential(
            conv_block(1, 8, **block),      # out 8x26x26, RF 3
            conv_block(8, 12, **block),     # out 12x24x24, RF 5
            nn.MaxPool2d(2),                # out 12x12x12, RF 6
            conv_block(12, 8, 1, **block),  # out 8x12x12, RF 6
            conv_block(8, 12, **block),     # out 12x10x10, RF 10
            conv_block(12, 16, **block),    # out 16x8x8, RF 14
            nn.MaxPool2d(2),                # out 16x4x4, RF 16
            nn.Conv2d(16, 10, 4),           # out 10x1x1, RF 28
            nn.Flatten(),
        )


class Step4Net(Net):
    """GAP: global average pooling and a 1x1 conv replace the 4x4 kernel (2,560 -> 160
    weights); the freed parameters widen the early blocks and add a third 3x3 conv."""

    def __init__(self, dropout=0.05):
        super().__init__()
        block = dict(bn=True, dropout=dropout)
        self.features = nn.Sequential(
            conv_block(1, 10, **block),      # out 10x26x26, RF 3
            conv_block(10, 16, **block),     # out 16x24x24, RF 5
            nn.MaxPool2d(2),                 # out 16x12x12, RF 6
            conv_block(16, 8, 1, **block),   # out 8x12x12, RF 6
            conv_block(8, 16, **block),      # out 16x10x10, RF 10
            conv_block(16, 16, **block),     # out 16x8x8, RF 14
            conv_block(16, 16, **block),     # out 16x6x6, RF 18
            nn.AdaptiveAvgPool2d(1),         # out 16x1x1, RF 28
            nn.Conv2d(16, 10, 1),            # out 10x1x1, RF 28
            nn.Flatten(),
        )


class Step5Net(Net):
    """Step 4's network with its narrowest layer, the 1x1 transition after the pool, 9 channels
    wide instead of 8: every feature after the pool passes through it, and one more channel
    still fits the budget. Chosen on the validation split as candidate s5_wider_transition
    (``benchmarks/design_search.py``, docs/step5_room.md); its layers are built in the
    candidate's order, so a seed draws the candidate's initial weights."""

    def __init__(self, dropout=0.05):
        super().__init__()
        block = dict(bn=True, dropout=dropout)
        self.features = nn.Sequential(
            conv_block(1, 10, **block),      # out 10x26x26, RF 3
            conv_block(10, 16, **block),     # out 16x24x24, RF 5
            nn.MaxPool2d(2),                 # out 16x12x12, RF 6
            conv_block(16, 9, 1, **block),   # out 9x12x12, RF 6
            conv_block(9, 16, **block),      # out 16x10x10, RF 10
            conv_block(16, 16, **block),     # out 16x8x8, RF 14
            conv_block(16, 16, **block),     # out 16x6x6, RF 18
            nn.AdaptiveAvgPool2d(1),         # out 16x1x1, RF 28
            nn.Conv2d(16, 10, 1),            # out 10x1x1, RF 28
            nn.Flatten(),
        )


class Step6Net(Net):
    """Depthwise-separable convs: a 3x3 filter per channel, then a 1x1 mix, cost 1/9 + 1/c_out
    of a full 3x3 conv, about a seventh at 36 channels. So after the pool the network can be 36
    channels wide with fewer parameters than step 5's 16, and the second conv is separable too.
    No dropout: the frontier search trained its networks without it, and this one ends with
    its training accuracy above test: no sign of underfitting. Chosen on the
    validation split as candidate f30 (``benchmarks/design_search.py``, docs/frontier_search.md).
    """

    def __init__(self):
        super().__init__()
        # The second block is built before the first: the order in which f30's validated runs
        # drew their initial weights, so this step repeats f30's test record seed for seed.
        second = separable_block(16, 24)
        self.features = nn.Sequential(
            conv_block(1, 16, bn=True),      # out 16x26x26, RF 3
            second,                          # out 16x24x24, RF 5; 1x1: out 24x24x24, RF 5
            nn.MaxPool2d(2),                 # out 24x12x12, RF 6
            separable_block(24, 36),         # out 24x10x10, RF 10; 1x1: out 36x10x10, RF 10
            separable_block(36, 36),         # out 36x8x8, RF 14; 1x1: out 36x8x8, RF 14
            separable_block(36, 36),         # out 36x6x6, RF 18; 1x1: out 36x6x6, RF 18
            nn.AdaptiveAvgPool2d(1),         # out 36x1x1, RF 28
            nn.Conv2d(36, 10, 1),            # out 10x1x1, RF 28
            nn.Flatten(),
        )


class Step7Net(Net):
    """Frontier: step 6's design at 30 channels after the pool, with a 12-channel first conv,
    under 4,000 parameters. Chosen by a validation-split search (``benchmarks/design_search.py``,
    candidate f10; docs/frontier_search.md)."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            conv_block(1, 12, bn=True),      # out 12x26x26, RF 3
            separable_block(12, 16),         # out 12x24x24, RF 5; 1x1: out 16x24x24, RF 5
            nn.MaxPool2d(2),                 # out 16x12x12, RF 6
            separable_block(16, 30),         # out 16x10x10, RF 10; 1x1: out 30x10x10, RF 10
            separable_block(30, 30),         # out 30x8x8, RF 14; 1x1: out 30x8x8, RF 14
            separable_block(30, 30),         # out 30x6x6, RF 18; 1x1: out 30x6x6, RF 18
            nn.AdaptiveAvgPool2d(1),         # out 30x1x1, RF 28
            nn.Conv2d(30, 10, 1),            # out 10x1x1, RF 28
            nn.Flatten(),
        )
