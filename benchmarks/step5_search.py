"""The design search behind step 5's recipe, measured on a validation split, never the test set.

Each variant changes one thing against a base recipe and trains on the first 50,000 training
images, measured on the last 10,000 (``validation=True``). Results go to
``Data/tuning/<variant>/results/step5.json``; the README's search table is read from there.

    MNIST_DATA_DIR=../shared/data python benchmarks/step5_search.py v0_base v3_dropout
"""
import argparse
import dataclasses
import sys
from pathlib import Path

import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import model  # noqa: E402
import utils  # noqa: E402
from model import conv_block  # noqa: E402
from steps import RECIPES, one_cycle  # noqa: E402

TUNING = utils.REPO_ROOT / "Data" / "tuning"


def no_dropout():
    return model.Step4Net(dropout=0.0)


def layered(channels=(10, 16, 8, 16, 16, 16), pads=(0, 0, 0, 0, 0), bn_first=False):
    """Step 4's layout with other widths, paddings or BatchNorm order (no dropout)."""
    def block(c_in, c_out, kernel=3, padding=0):
        conv = nn.Conv2d(c_in, c_out, kernel, padding=padding, bias=False)
        if bn_first:
            return nn.Sequential(conv, nn.BatchNorm2d(c_out), nn.ReLU())
        return nn.Sequential(conv, nn.ReLU(), nn.BatchNorm2d(c_out))

    c1, c2, t, c3, c4, c5 = channels
    return nn.Sequential(
        block(1, c1, padding=pads[0]), block(c1, c2, padding=pads[1]), nn.MaxPool2d(2),
        block(c2, t, 1), block(t, c3, padding=pads[2]), block(c3, c4, padding=pads[3]),
        block(c4, c5, padding=pads[4]), nn.AdaptiveAvgPool2d(1), nn.Conv2d(c5, 10, 1),
        nn.Flatten())


def padded_first_two():
    net = model.Step4Net(dropout=0.0)
    for i in (0, 1):
        net.features[i][0].padding = (1, 1)
    return net


def three_convs_before_pool():
    block = dict(bn=True, dropout=0.05)
    return nn.Sequential(
        conv_block(1, 8, **block), conv_block(8, 12, **block), conv_block(12, 16, **block),
        nn.MaxPool2d(2), conv_block(16, 8, 1, **block), conv_block(8, 16, **block),
        conv_block(16, 24, **block), nn.AdaptiveAvgPool2d(1), nn.Conv2d(24, 10, 1), nn.Flatten())


FINAL = RECIPES[5]
BASE = dataclasses.replace(FINAL, model=no_dropout, scheduler=one_cycle(0.2))
DROPOUT = dataclasses.replace(BASE, model=model.Step4Net)
VARIANTS = {  # name: (what changes against the base, recipe)
    "v0_base": ("base: Step4Net without dropout, rotation 7 / scale 0.95-1.05, OneCycle 0.2",
                BASE),
    "v1_strong_aug": ("stronger augmentation: rotation 10, shift 10 %, scale 0.9-1.1",
                      dataclasses.replace(BASE, augment=utils.Augment(10, 0.1, (0.9, 1.1)))),
    "v2_bs64": ("batch 64, OneCycle peak 0.1",
                dataclasses.replace(BASE, batch_size=64, scheduler=one_cycle(0.1))),
    "v3_dropout": ("dropout 0.05 kept", DROPOUT),
    "v4_bn_relu": ("BatchNorm before ReLU", dataclasses.replace(
        BASE, model=lambda: layered(bn_first=True))),
    "v5_lr01": ("OneCycle peak 0.1", dataclasses.replace(BASE, scheduler=one_cycle(0.1))),
    "v6_pad5": ("padding on the last 3x3 conv (8x8 before GAP)", dataclasses.replace(
        BASE, model=lambda: layered(pads=(0, 0, 0, 0, 1)))),
    "v7_wide_late": ("channels 8-14-8-16-16-20 (7,902 params)", dataclasses.replace(
        BASE, model=lambda: layered(channels=(8, 14, 8, 16, 16, 20)))),
    "v8_smooth": ("label smoothing 0.1", dataclasses.replace(BASE, label_smoothing=0.1)),
    "v9_pad12": ("padding on the first two convs (28x28 maps)",
                 dataclasses.replace(BASE, model=padded_first_two)),
    "v11_dropout_lr03": ("dropout 0.05, OneCycle peak 0.3",
                         dataclasses.replace(DROPOUT, scheduler=one_cycle(0.3))),
    "v13_three_before_pool": ("three convs before the pool, dropout 0.05 (7,818 params)",
                              dataclasses.replace(DROPOUT, model=three_convs_before_pool)),
    "v14_dropout_three_phase": ("dropout 0.05, three-phase OneCycle: the final recipe", FINAL),
}


def search_table(last: int = 4) -> str:
    """Markdown table of every recorded variant: params, best and lowest of the last epochs."""
    rows = ["| Variant | Change against the base | Params | Best val acc % | "
            f"Lowest of last {last} % |", "|---|---|---:|---:|---:|"]
    for name, (change, _) in VARIANTS.items():
        path = utils.results_path(5, TUNING / name)
        if path.exists():
            results = utils.read_results(path)
            s = utils.summarize_runs(results, last)
            rows.append(f"| {name} | {change} | {results['params']:,} | {s['best_mean']:.2f} | "
                        f"{s['last_min_mean']:.2f} |")
    return "\n".join(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("variants", nargs="*",
                        help=f"variants to train, from: {', '.join(VARIANTS)} "
                             "(none: print the table of the recorded ones)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    unknown = set(args.variants) - set(VARIANTS)
    if unknown:
        parser.error(f"unknown variants {sorted(unknown)}; choose from {', '.join(VARIANTS)}")
    for name in args.variants:
        recipe = VARIANTS[name][1]
        results, _, _ = utils.run_recipe(recipe, [args.seed], out=TUNING / name,
                                         validation=True, progress=False,
                                         log=lambda line: print(name, line, flush=True))
        print(utils.format_results(results))
    print(search_table())


if __name__ == "__main__":
    main()
