"""A recipe's run, from start to results file: train its seeds (``seeds.fit_seeds``), say what
was measured and how (``results_header``), write the results file (``records``). What the
notebooks, ``train.py`` and the judge call."""
from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import torch

import devices
import fingerprints
import mnist_files
import records
import seeds as many_seeds
import utils


def measured_split(images: torch.Tensor) -> str:
    """Which set ``images`` (``load_mnist``'s third tensor) holds, read from the images
    themselves: ``"validation"`` (the training images from 50,000 on) or ``"test"`` (MNIST's
    test images; that file is opened only when the images are not the validation split). A
    results file says what was measured, not what a caller believed."""
    raw = mnist_files.raw_folder()
    first = ((images[0].detach().cpu().flatten().double() * utils.MNIST_STD + utils.MNIST_MEAN)
             * 255).round().numpy().astype(np.uint8)
    start = (60_000 - utils.VALIDATION_SIZE) * first.size
    train = mnist_files.read_idx(raw / "train-images-idx3-ubyte", 16)
    if np.array_equal(first, train[start:start + first.size]):
        return "validation"
    if np.array_equal(first, mnist_files.read_idx(raw / "t10k-images-idx3-ubyte", 16)[:first.size]):
        return "test"
    raise ValueError("the measured images are neither MNIST's test set nor the validation split "
                     "(load them with utils.load_mnist)")


def results_header(recipe, data, epochs: int, how: str, workers: int) -> dict:
    """What a results file says of its runs: the recipe, the data measured, the device, torch,
    the kernels and the recipe's fingerprint, how the seeds were trained, when."""
    return {
        "step": recipe.step, "title": recipe.title, "role": recipe.role,
        "model_class": recipe.model_class(), "params": utils.count_parameters(recipe.model()),
        "mode": "quick" if utils.is_quick() else "full", "epochs": epochs,
        "batch_size": recipe.batch_size, "train_size": len(data[0]), "test_size": len(data[2]),
        "eval_set": measured_split(data[2]), "device": devices.device_name(data[0].device),
        "torch_version": torch.__version__,
        "kernels": fingerprints.kernels_fingerprint(data[0].device), "seeds_ran": how,
        **({"workers": workers} if how == "side-by-side" else {}),
        "recipe_fingerprint": fingerprints.recipe_fingerprint(recipe),
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def run_recipe(recipe, seeds=None, *, epochs=None, out=None, record=False, device=None,
               data=None, validation=False, how=None, workers=2, progress=True, log=print):
    """Train ``recipe`` once per seed, write its results file, return ``(results, last
    network, data)``. ``data`` reuses tensors from ``utils.load_mnist``; ``validation=True``
    measures on the held-out last 10,000 training images instead of the test set (design
    searches). ``how``: ``devices.HOW`` (default ``devices.default_how()``: one seed after
    another). ``out`` and ``record``: see ``records.output_dir`` (by default a full run gets a
    new folder under ``runs/``, never ``Data/``). The results file's ``eval_set`` is read from
    the data measured."""
    quick = utils.is_quick()
    device = devices.get_device(device) if not isinstance(device, torch.device) else device
    seeds = list(seeds or recipe.seeds)
    how = how or devices.default_how()
    many_seeds.check_run_arguments(epochs, how, workers)
    header_recipe = recipe  # the fingerprint is the recipe's, not a quick run's shortening
    if quick:
        seeds = seeds[:utils.QUICK_SEEDS]
        epochs = min(epochs or recipe.epochs, utils.QUICK_EPOCHS)
        if recipe.augment and recipe.clean_last_epochs >= epochs:  # a smoke run augments too
            recipe = dataclasses.replace(recipe, clean_last_epochs=epochs - 1)
    epochs = epochs or recipe.epochs
    out = records.output_dir(out, record, records.run_label(recipe.step, seeds))
    if data is None:
        data = utils.load_mnist(device, validation=validation)
    results = results_header(header_recipe, data, epochs, how, workers)
    if results["eval_set"] != ("validation" if validation else "test"):
        raise ValueError(f"the data given holds the {results['eval_set']} set, but validation="
                         f"{validation} was asked for: load it with utils.load_mnist(device, "
                         f"validation={validation})")
    nets, results["runs"] = many_seeds.fit_seeds(
        recipe, data, seeds, how, workers=workers, epochs=epochs, eval_set=results["eval_set"],
        progress=progress, log=log)
    records.write_results(results, records.results_path(recipe.step, out))
    return results, nets[-1], data
