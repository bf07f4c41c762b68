"""Fingerprints that say whether a recorded run can be repeated: of a recipe (what it trains:
the network's initial weights, the optimizer, the learning rate at every step, the other
fields) and of the machine's kernels (how this processor and torch sum floating point)."""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import torch

import model
import utils


def recipe_traits(recipe, seed: int = 1, train_size: int = 60_000) -> dict:
    """What makes a recipe's run repeat, trait by trait: the network (its initial weights for
    ``seed`` and its layers), the optimizer's settings, the learning rate at every step of its
    schedule, and the recipe's other fields. Two recipes with the same traits train the same run.

    The weights are drawn in float64 and hashed in float32: a float32 draw differs in its last
    bit between kernel sets (``ATEN_CPU_CAPABILITY=default`` against AVX2); a float64 one
    rounds to the same float32 unless a weight lies within a float64 bit of a float32 rounding
    point (about one network in 30,000)."""
    dtype = torch.get_default_dtype()
    with torch.random.fork_rng(devices=[]):  # the caller's random state stays as it was
        torch.manual_seed(seed)
        torch.set_default_dtype(torch.float64)
        try:
            net = recipe.model()
        finally:
            torch.set_default_dtype(dtype)
    weights = hashlib.sha256()
    for name, tensor in net.state_dict().items():
        tensor = tensor.detach().cpu().float() if tensor.is_floating_point() else tensor.cpu()
        weights.update(name.encode() + tensor.contiguous().numpy().tobytes())
    weights.update(repr([m for m in net.modules() if not list(m.children())]).encode())
    optimizer = recipe.optimizer(net.parameters())
    lrs = []
    if recipe.scheduler:  # the rate at every step of the schedule: every batch, or every epoch
        rates = recipe.learning_rates(train_size)
        lrs = [round(lr, 12) for lr in rates[::1 if recipe.scheduler_per_batch else
                                              math.ceil(train_size / recipe.batch_size)]]
    return {"model": weights.hexdigest()[:16],
            "optimizer": f"{type(optimizer).__name__} {sorted(optimizer.defaults.items())}",
            "scheduler": hashlib.sha256(repr(lrs).encode()).hexdigest()[:16],
            "augment": repr(recipe.augment),
            **{name: getattr(recipe, name) for name in (
                "step", "epochs", "batch_size", "scheduler_per_batch", "clean_last_epochs",
                "label_smoothing", "bn_stats_images")},
            # a moving average's decay (benchmarks/weight_average.py), 0.0 for every other
            # recipe, always hashed: the records made when every recipe had the field keep theirs
            "average_decay": getattr(recipe, "average_decay", 0.0),
            # fields added later count only when set, so older records keep their fingerprints
            **{name: getattr(recipe, name) for name in ("ramp_down_epochs", "average_last_epochs")
               if getattr(recipe, name)}}


def recipe_fingerprint(recipe) -> str:
    """A short hash of ``recipe_traits``: recorded in every results file, so a test can tell
    when the code no longer trains what a record measured."""
    traits = json.dumps(recipe_traits(recipe), sort_keys=True, default=str)
    return hashlib.sha256(traits.encode()).hexdigest()[:16]


def processor(device) -> str:
    """The processor that runs the kernels: the GPU's name, or the CPU's model name and the
    vector instructions torch dispatches to on it (``AVX2``, ``AVX512``, ...)."""
    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    name = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        name = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                     if line.startswith("model name")), "")
    return f"{name or 'cpu'} ({torch.backends.cpu.get_cpu_capability()})"


def kernels_fingerprint(device) -> str:
    """A short hash of the processor (``processor``), this process's threads, and two
    training steps (``utils.train_one_epoch`` on one fixed batch, augmented as step 5 augments)
    of step 4's network and of step 7's depthwise-separable one, on ``device``. A seed repeats
    its recorded digits only where the same torch version sums floating point in the same order.
    Under another hash, expect another run; the same hash is evidence that a seed repeats, not
    proof: two CPUs whose hash was the same before it named the processor
    (``7b8dd689f02f891f``) trained step 5's seed 1 differently from its first epoch
    (docs/step5_ablation.md)."""
    device = torch.device(device)
    weights = hashlib.sha256(f"{processor(device)}, {torch.get_num_threads()} threads".encode())
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0)
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(64, 1, 28, 28)
        x = utils.augment_batch(x, utils.Augment(degrees=10, translate=0.1, scale=(0.9, 1.1)),
                                generator).to(device)
        y = torch.randint(0, 10, (64,)).to(device)
        for build in (model.Step4Net, model.Step7Net):
            net = build().to(device)
            optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True)
            utils.train_one_epoch(net, [(x, y), (x, y)], optimizer, progress=False)
            for tensor in net.state_dict().values():
                weights.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return weights.hexdigest()[:16]
