"""The GPU path without a GPU, and what repeats where.

No GPU runs the tests here, so the CUDA path is checked on torch's ``meta`` device, with a
dispatch mode that counts every host sync (a value read back, a data-dependent shape, a
blocking copy between host and device) and every op that mixes devices. A test on a real GPU
runs wherever one is present, and is skipped elsewhere.
"""
import dataclasses
import json

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

import design_search
import history
import devices
import fingerprints
import records
import run_notebook
import runner
import seeds as many_seeds
import utils
from steps import RECIPES

FINAL = next(recipe for recipe in RECIPES.values() if recipe.role == "final")
COPIES = (torch.ops.aten._to_copy.default, torch.ops.aten.copy_.default)


class HostSyncs(TorchDispatchMode):
    """Counts what would stop a GPU's queue: ``.item()``, ``nonzero``, and a copy between the
    host and the device that is not asynchronous; and the ops whose tensors sit on two
    devices. On ``meta`` a value read back is made up (0) and ``nonzero`` finds nothing."""

    def __init__(self):
        super().__init__()
        self.syncs, self.mixed = [], []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        tensors = [a for a in tree_leaves((args, kwargs)) if isinstance(a, torch.Tensor)]
        if func is torch.ops.aten._local_scalar_dense.default:
            self.syncs.append("item")
            return 0
        if func is torch.ops.aten.nonzero.default:
            self.syncs.append("nonzero")
            return torch.empty(0, args[0].dim(), dtype=torch.long, device=args[0].device)
        if func in COPIES:
            devices = {t.device.type for t in tensors} | (
                {kwargs["device"].type} if kwargs.get("device") is not None else set())
            blocking = not kwargs.get("non_blocking", len(args) > 2 and args[2])
            if len(devices) > 1 and blocking:
                self.syncs.append(f"blocking copy {sorted(devices)}")
            if func is COPIES[0] and args[0].is_meta and kwargs.get("device") is not None \
                    and kwargs["device"].type == "cpu":  # read back: made-up values
                return torch.zeros(args[0].shape, dtype=kwargs.get("dtype") or args[0].dtype)
        elif len({t.device.type for t in tensors if t.dim() > 0}) > 1:
            self.mixed.append(func.__name__)
        return func(*args, **kwargs)


ELASTIC = dataclasses.replace(FINAL.augment, elastic=34.0)


def syncs_in_one_augmented_epoch(batches, packed=False, augment=FINAL.augment):
    device = torch.device("meta")
    x = torch.zeros(batches * FINAL.batch_size, 1, 28, 28, device=device)
    y = torch.zeros(len(x), dtype=torch.long, device=device)
    if packed:
        net, generators = many_seeds.seeded_copies(FINAL, [1, 2, 3], device)
    else:
        net = FINAL.model().to(device)
    optimizer, scheduler = FINAL.optimizer_and_scheduler(net, len(x), FINAL.epochs)
    with HostSyncs() as counted:  # the epoch alone: the network is on the device already
        if packed:
            batches = many_seeds.PackedBatches(x, y, FINAL.batch_size, generators, augment)
            utils.train_one_epoch(net, batches, optimizer, criterion=many_seeds.Copies.criterion,
                                  schedule=scheduler, tally=many_seeds.CopiesTally(3),
                                  progress=False)
        else:
            batches = utils.Batches(x, y, FINAL.batch_size, torch.Generator().manual_seed(1),
                                    augment)
            utils.train_one_epoch(net, batches, optimizer, schedule=scheduler, progress=False)
    return counted


@pytest.mark.parametrize("augment", [FINAL.augment, ELASTIC], ids=["affine", "elastic"])
@pytest.mark.parametrize("packed", [False, True], ids=["one network", "packed seeds"])
def test_an_augmented_epoch_of_the_final_recipe_makes_no_host_sync_per_batch(packed, augment):
    few, more = (syncs_in_one_augmented_epoch(n, packed, augment) for n in (3, 6))
    assert few.syncs == more.syncs  # per epoch, not per batch: the order, the checks, the means
    networks = 3 if packed else 1
    assert len(few.syncs) <= networks + 3 and not few.mixed and not more.mixed


def test_a_notebooks_training_call_on_a_cuda_device_runs_the_loop_the_lesson_prints(
        quick_data, tmp_path, monkeypatch):
    """What a Colab GPU runs: a step notebook's ``runner.run_recipe(..., device=device)`` with a
    CUDA device trains seed after seed through ``utils.fit`` and ``utils.train_one_epoch``,
    the functions step 1 prints; packed copies only when asked. (The device is named CUDA; the
    tensors stay on the CPU, where the epoch on a simulated GPU above shows the loop runs.)"""
    monkeypatch.delenv(devices.HOW_ENV, raising=False)
    epochs, train_one_epoch = [], utils.train_one_epoch
    monkeypatch.setattr(utils, "train_one_epoch",
                        lambda model, *a, **k: epochs.append(type(model).__name__)
                        or train_one_epoch(model, *a, **k))
    data = tuple(t[:256] for t in quick_data)
    results, _, _ = runner.run_recipe(FINAL, [1, 2], out=tmp_path, data=data,
                                      device=torch.device("cuda"), progress=False, log=None)
    assert results["seeds_ran"] == "one-after-another"
    # one epoch (quick mode) per seed, the plain loop (the kernels fingerprint trains others)
    assert epochs.count(FINAL.model.__name__) == 2


def test_the_counter_sees_a_blocking_copy_per_batch(monkeypatch):
    monkeypatch.setattr(utils, "to_device", lambda t, device: t.to(device))
    few, more = (syncs_in_one_augmented_epoch(n) for n in (3, 6))
    assert len(more.syncs) - len(few.syncs) == 3  # one blocking copy more per batch


def test_the_cpu_path_draws_and_moves_nothing_new():
    t = torch.rand(4, 2, 3)
    assert utils.to_device(t, torch.device("cpu")) is t


def test_a_seed_repeats_its_recorded_first_epoch_where_the_kernels_are_the_same(monkeypatch):
    """One full-mode epoch of step 5's recipe, seed 1, stopped after its first measurement,
    against a record made with the current engine: the same digits, exactly, on a machine
    whose kernels fingerprint is the record's (elsewhere the seed trains another run)."""
    name = "b0_full_recipe"  # step 5's recipe, recorded with the fingerprint of today
    record = design_search.validation_record(5, name)
    here = fingerprints.kernels_fingerprint("cpu")
    if record is None or (record.get("kernels"), record["torch_version"]) != (
            here, torch.__version__):
        pytest.skip(f"{name} was recorded with torch {record and record['torch_version']} and "
                    f"kernels {record and record.get('kernels')}; here: {torch.__version__}, "
                    f"{here}: the seed would not repeat its digits")
    first = next(run for run in record["runs"] if run["seed"] == 1)
    seen = {}

    class FirstEpoch(Exception):
        pass

    def stop_after_the_first(run, *args, **kwargs):
        record_epoch(run, *args, **kwargs)
        seen.update(run)
        raise FirstEpoch

    record_epoch = history.record_epoch
    monkeypatch.setattr(utils, "record_epoch", stop_after_the_first)
    data = utils.load_mnist("cpu", quick=False, validation=True)
    with pytest.raises(FirstEpoch):
        utils.fit(design_search.CANDIDATES[name].recipe, data, 1, eval_set="validation",
                  progress=False, log=None)
    for key in ("train_loss", "train_acc", "val_loss", "val_acc", "lr"):
        assert seen[key] == first[key][:1], key


def test_seeding_asks_cudnn_for_deterministic_kernels(monkeypatch):
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", False)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", True)
    utils.seed_everything(1)
    assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark


def test_apples_mps_that_cannot_run_the_series_falls_back_to_the_cpu(monkeypatch, capsys):
    monkeypatch.delenv(devices.DEVICE_ENV, raising=False)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: True)
    monkeypatch.setattr(devices, "_mps_runs_the_series", lambda: "NotImplementedError: aten::x")
    assert devices.get_device().type == "cpu"
    assert capsys.readouterr().out == ("Apple's MPS cannot run this series here "
                                       "(NotImplementedError: aten::x): training on the CPU.\n")
    monkeypatch.setattr(devices, "_mps_runs_the_series", lambda: "")
    assert devices.get_device().type == "mps"


def test_the_mps_probe_reports_a_failure_instead_of_raising():
    if torch.backends.mps.is_available():
        pytest.skip("MPS is here: the probe would run")
    assert devices._mps_runs_the_series()  # no MPS device: a reason, not a traceback


@pytest.mark.parametrize("step", [s for s, r in RECIPES.items() if r.augment])
def test_quick_mode_trains_at_least_one_augmented_epoch_of_every_step_that_augments(
        step, quick_data, monkeypatch, tmp_path):
    calls, augment_batch = [], utils.augment_batch
    monkeypatch.setattr(utils, "augment_batch", lambda *a: calls.append(a) or augment_batch(*a))
    data = tuple(t[:256] for t in quick_data)
    results, _, _ = runner.run_recipe(RECIPES[step], [1], out=tmp_path, data=data,
                                          progress=False, log=None)
    assert calls and results["recipe_fingerprint"] == fingerprints.recipe_fingerprint(RECIPES[step])


@pytest.mark.parametrize("key, other", [("device", "cuda (NVIDIA T4)"),
                                        ("torch_version", "2.99.0")])
def test_runs_from_another_device_or_torch_version_never_join_a_record(key, other, tmp_path):
    recorded = {"recipe_fingerprint": "f", "eval_set": "validation", "mode": "full", "epochs": 15,
                "train_size": 50_000, "test_size": 10_000, "seeds_ran": "one-after-another",
                "device": "cpu", "torch_version": "2.14.1", "runs": [{"seed": 1}]}
    new = dict(recorded, runs=[{"seed": 2}])
    assert [r["seed"] for r in design_search.with_more_seeds(recorded, new, tmp_path)["runs"]] == [1, 2]
    with pytest.raises(ValueError, match=f"differ from these in {key}"):
        design_search.with_more_seeds(recorded, dict(new, **{key: other}), tmp_path)


def test_a_recording_refuses_another_kind_of_device_than_its_records(tmp_path):
    (tmp_path / "step5.json").write_text(json.dumps({"device": "cpu"}))
    assert run_notebook.device_refusal("notebooks/step5_x.ipynb", "cpu", tmp_path) == ""
    refusal = run_notebook.device_refusal("notebooks/step5_x.ipynb", "cuda", tmp_path)
    assert "made on cpu" in refusal and "MNIST_DEVICE=cpu" in refusal
    assert run_notebook.device_refusal("notebooks/your_turn.ipynb", "cuda", tmp_path) == ""


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU here")
def test_on_a_real_gpu_a_seed_trains_and_repeats_itself(quick_data):
    device = torch.device("cuda")
    data = tuple(t[:512].to(device) for t in quick_data)
    recipe = dataclasses.replace(FINAL, clean_last_epochs=1)  # epoch 1 augmented, epoch 2 not
    runs = [utils.fit(recipe, data, 1, epochs=2, progress=False, log=None)[1] for _ in range(2)]
    for run in runs:
        run.pop("wall_s")
    assert runs[0] == runs[1] and all(0 <= acc <= 100 for acc in runs[0]["test_acc"])
    packed = many_seeds.fit_packed(recipe, data, [1, 2], epochs=1, progress=False, log=None)[1]
    assert len(packed) == 2


def test_the_kernels_fingerprint_names_the_processor_and_the_separable_network(monkeypatch):
    """Two CPUs that train step 4's network alike were found to train step 5's runs apart
    (docs/step5_ablation.md): the hash also names the processor and trains step 7's network."""
    here = fingerprints.kernels_fingerprint("cpu")
    assert fingerprints.kernels_fingerprint("cpu") == here  # a property of the machine, not the call
    assert "(" in fingerprints.processor("cpu") and torch.backends.cpu.get_cpu_capability() in \
        fingerprints.processor("cpu")
    monkeypatch.setattr(fingerprints, "processor", lambda device: "another CPU (AVX2)")
    assert fingerprints.kernels_fingerprint("cpu") != here
    monkeypatch.undo()
    import model

    monkeypatch.setattr(model, "Step7Net", lambda: model.Step6Net())  # another separable net
    assert fingerprints.kernels_fingerprint("cpu") != here
