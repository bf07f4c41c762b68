"""Where the series trains and how it trains many seeds: the device (CUDA, Apple's MPS or the
CPU) and the way seeds are trained (``HOW``). Every device trains seed after seed through
``utils.fit``, the loop step 1 prints, unless the user asks for another way."""
from __future__ import annotations

import os

import torch
import torch.nn as nn

import utils

DEVICE_ENV = "MNIST_DEVICE"
HOW = ("one-after-another", "packed", "side-by-side")
HOW_ENV = "MNIST_HOW"


def get_device(name: str | None = None) -> torch.device:
    """CUDA, then Apple MPS, then CPU, unless ``name`` or ``$MNIST_DEVICE`` says otherwise.
    MPS is chosen only if the series' operations run there (``_mps_runs_the_series``); the
    series is tested on a CPU, and its CUDA path on a simulated device."""
    name = name or os.environ.get(DEVICE_ENV)
    if name:
        try:
            device = torch.device(name)
        except RuntimeError:
            raise ValueError(f"unknown device {name!r}: use cpu, cuda or mps") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {name!r}: no CUDA GPU is available here; use cpu")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"device {name!r}: Apple's MPS is not available here; use cpu")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        failure = _mps_runs_the_series()
        if not failure:
            return torch.device("mps")
        print(f"Apple's MPS cannot run this series here ({failure}): training on the CPU.")
    return torch.device("cpu")


def _mps_runs_the_series() -> str:
    """Why one training step of the series' operations fails on MPS ('' if it runs): an op
    MPS lacks would otherwise end a first run in a traceback."""
    try:
        with torch.random.fork_rng(devices=[]):
            device = torch.device("mps")
            net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.BatchNorm2d(4), nn.Dropout(0.1),
                                nn.MaxPool2d(2), nn.AdaptiveAvgPool2d(1), nn.Flatten()).to(device)
            x = torch.zeros(2, 1, 28, 28, device=device)
            y = torch.zeros(2, dtype=torch.long, device=device)
            batches = utils.Batches(x, y, 2, torch.Generator().manual_seed(0),
                                    utils.Augment(10, 0.1, (0.9, 1.1), elastic=34.0))
            optimizer = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True)
            utils.train_one_epoch(net, batches, optimizer, progress=False)
    except Exception as error:  # noqa: BLE001 - any failure means: do not train there
        return f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error) else ''}"
    return ""


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return device.type


def default_how() -> str:
    """``$MNIST_HOW`` if set, else one seed after another through ``utils.fit`` on every
    device: the loop the lesson prints is the loop that runs. ``packed`` (the seeds as one
    network, ``seeds.Copies``) is a speed option for a GPU whose gain no GPU run has measured
    yet; ``side-by-side`` is faster on a CPU, with other digits (docs/research_log.md)."""
    how = os.environ.get(HOW_ENV)
    if how and how not in HOW:
        raise ValueError(f"${HOW_ENV}={how!r} is not a way to train seeds: use one of "
                         f"{', '.join(HOW)}, or unset it")
    return how or HOW[0]
