"""The student's engine on small inputs: data, augmentation, the loop, determinism, what is
measured (precise BN, weight average), summary, RF, plots."""
import copy
import dataclasses
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn as nn

import devices
import mnist_files
import plots
import steps
import utils
import weight_average
from steps import RECIPES


# ------------------------------------------------------------------ data
def test_quick_data_is_normalized_and_aligned(quick_data):
    train_x, train_y, test_x, test_y = quick_data
    assert train_x.shape == (utils.QUICK_TRAIN_SIZE, 1, 28, 28)
    assert test_x.shape == (utils.QUICK_TEST_SIZE, 1, 28, 28)
    assert train_x.dtype == torch.float32 and train_y.dtype == torch.int64
    assert set(train_y.tolist()) == set(range(10))
    # MNIST's first two training labels are 5 and 0, its first test label 7.
    assert train_y[:2].tolist() == [5, 0] and test_y[0].item() == 7
    # Normalized with the training set's statistics: mean ~0, std ~1, black == background.
    assert abs(train_x.mean().item()) < 0.05 and abs(train_x.std().item() - 1) < 0.05
    assert train_x.min().item() == pytest.approx(utils._BACKGROUND, abs=1e-6)


def test_a_validation_split_never_opens_the_test_files(monkeypatch):
    opened, read = [], mnist_files.read_idx
    monkeypatch.setattr(mnist_files, "read_idx", lambda path, offset: opened.append(path.name)
                        or read(path, offset))
    utils.load_mnist("cpu", quick=True, validation=True)
    assert opened and not [name for name in opened if name.startswith("t10k")]
    opened.clear()
    utils.load_mnist("cpu", quick=True)
    assert "t10k-images-idx3-ubyte" in opened  # the spy does see the test files when read


def test_full_data_sizes_and_validation_split():
    train_x, train_y, test_x, _ = utils.load_mnist("cpu", quick=False)
    assert len(train_x) == 60_000 and len(test_x) == 10_000
    fit_x, fit_y, val_x, val_y = utils.load_mnist("cpu", quick=False, validation=True)
    # Design searches hold out the last 10k training images; the test set is not touched.
    assert torch.equal(fit_x, train_x[:50_000]) and torch.equal(val_x, train_x[50_000:])
    assert torch.equal(fit_y, train_y[:50_000]) and torch.equal(val_y, train_y[50_000:])


def test_batches_cover_every_example_once_in_a_seeded_order(quick_data):
    y = quick_data[1][:300]
    ids = torch.arange(300)
    orders = []
    for seed in (0, 0, 1):
        batches = list(utils.iterate_batches(ids, y, 128, torch.Generator().manual_seed(seed)))
        assert [len(b[0]) for b in batches] == [128, 128, 44]
        order = torch.cat([b[0] for b in batches])
        assert sorted(order.tolist()) == list(range(300))
        assert torch.equal(torch.cat([b[1] for b in batches]), y[order])  # labels follow images
        orders.append(order)
    assert torch.equal(orders[0], orders[1]) and not torch.equal(orders[0], orders[2])


# ------------------------------------------------------------------ augmentation
def test_augment_identity_when_nothing_is_random(quick_data):
    x = quick_data[0][:16]
    out = utils.augment_batch(x, utils.Augment(degrees=0), torch.Generator().manual_seed(0))
    assert torch.allclose(out, x, atol=1e-5)


@pytest.mark.parametrize("elastic", [0.0, 34.0], ids=["affine", "affine and elastic"])
def test_augment_keeps_shape_and_label_alignment(elastic):
    # Image i is a centred square of brightness i: whatever the affine (and a smooth elastic
    # field of a few pixels) does, its centre stays inside the square, so out[i] must still
    # show brightness i (no image swapped places).
    x = torch.full((64, 1, 28, 28), utils._BACKGROUND)
    brightness = torch.linspace(0.5, 2.5, 64)
    x[:, :, 5:23, 5:23] = brightness.view(-1, 1, 1, 1)
    aug = utils.Augment(degrees=15, translate=0.05, scale=(0.9, 1.1), elastic=elastic)
    out = utils.augment_batch(x, aug, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype
    assert torch.allclose(out[:, 0, 13, 13], brightness, atol=1e-4)
    # Each image got its own transform, and corners stay black (background fill).
    ink = (out > 0).flatten(1).sum(1)
    assert len(set(ink.tolist())) > 32
    assert torch.allclose(out[:, 0, 0, 0], torch.full((64,), utils._BACKGROUND), atol=1e-4)


def test_augment_rotates_by_the_drawn_angle():
    bar = torch.full((1, 1, 28, 28), utils._BACKGROUND)
    bar[..., 13:15, 4:24] = 2.8  # a horizontal stroke
    generator_seed = 3
    out = utils.augment_batch(bar, utils.Augment(degrees=30),
                              torch.Generator().manual_seed(generator_seed))
    ink = (out[0, 0] > 0.5).nonzero().float()
    rows, cols = (ink - ink.mean(0)).T
    stroke_angle = 0.5 * torch.atan2(2 * (rows * cols).mean(), (cols ** 2 - rows ** 2).mean())
    drawn = torch.rand(1, 4, generator=torch.Generator().manual_seed(generator_seed))[0, 0] * 2 - 1
    assert abs(drawn.item()) > 0.3  # the check below needs a visible rotation
    assert abs(stroke_angle.rad2deg().item()) == pytest.approx(abs(drawn.item()) * 30, abs=2)


def test_an_augmentation_without_elastic_draws_what_it_drew_before_elastic_existed():
    """Four numbers per image, nothing more: the recorded runs' random streams are unchanged,
    and so is the name their fingerprints hash."""
    aug = utils.Augment(degrees=10, translate=0.1, scale=(0.9, 1.1))
    generator = torch.Generator().manual_seed(5)
    utils.augment_batch(torch.zeros(8, 1, 28, 28), aug, generator)
    expected = torch.Generator().manual_seed(5)
    torch.rand(8, 4, generator=expected)
    assert torch.equal(generator.get_state(), expected.get_state())
    assert repr(aug) == "Augment(degrees=10, translate=0.1, scale=(0.9, 1.1))"
    assert "elastic=34" in repr(dataclasses.replace(aug, elastic=34))


def test_the_elastic_field_is_smooth_and_as_strong_as_asked():
    """Simard et al.'s field: neighbouring pixels move nearly together (smoothed noise), its
    size grows with the strength and shrinks with the Gaussian's width as smoothed uniform
    noise does (std = strength x std of U(-1, 1) x the 2-D kernel's norm, away from the
    border), in affine_grid's units (2 / width per pixel)."""
    x = torch.zeros(256, 1, 28, 28)

    def field_in_pixels(strength, sigma):
        field = utils.elastic_field(x, strength, sigma, torch.Generator().manual_seed(0))
        assert field.shape == (256, 28, 28, 2)
        return field * 14  # grid units to pixels

    def expected_std(strength, sigma):
        taps = torch.arange(-28, 29, dtype=torch.float64)
        kernel = torch.exp(-taps ** 2 / (2 * sigma ** 2))
        return strength * (1 / 3) ** 0.5 * ((kernel / kernel.sum()) ** 2).sum().item()

    for strength, sigma in ((34, 4), (68, 4), (34, 6)):
        pixels = field_in_pixels(strength, sigma)
        centre = pixels[:, 10:18, 10:18]
        assert centre.std().item() == pytest.approx(expected_std(strength, sigma), rel=0.15)
        step = (pixels[:, :, 1:] - pixels[:, :, :-1]).abs().mean()
        assert step < 0.25 * pixels.abs().mean()  # smooth: neighbours move nearly together
    assert not torch.equal(*(utils.elastic_field(x[:2], 34, 4, torch.Generator().manual_seed(0))
                             .unbind(0)))  # one field per image


def test_elastic_bends_a_stroke_the_affine_keeps_straight():
    bar = torch.full((1, 1, 28, 28), utils._BACKGROUND)
    bar[..., 13:15, 4:24] = 2.8  # a horizontal stroke
    straight = utils.augment_batch(bar, utils.Augment(degrees=0),
                                   torch.Generator().manual_seed(1))
    bent = utils.augment_batch(bar, utils.Augment(degrees=0, elastic=34),
                               torch.Generator().manual_seed(1))

    def row_of_ink(image):  # the stroke's height in each of its columns
        ink = (image[0, 0] > 0.5).float()
        rows = torch.arange(28.0).view(-1, 1)
        return (ink * rows).sum(0)[6:22] / ink.sum(0)[6:22]

    assert row_of_ink(straight).std() < 0.05
    assert row_of_ink(bent).std() > 0.2
    assert bent.shape == bar.shape


# ------------------------------------------------------------------ train / test loops
def test_a_few_steps_on_a_fixed_batch_lower_the_loss(quick_data):
    x, y = quick_data[0][:64], quick_data[1][:64]
    torch.manual_seed(0)
    model = RECIPES[5].model()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    losses = [utils.train_one_epoch(model, utils.Batches(x, y, 64), optimizer, epoch=epoch,
                                    progress=False)[0] for epoch in range(1, 16)]
    assert losses[-1] < 0.5 * losses[0]


class BreaksOnCall(nn.Module):
    """A linear classifier whose logits turn NaN on its ``bad_call``-th forward pass."""

    def __init__(self, bad_call):
        super().__init__()
        self.linear, self.calls, self.bad_call = nn.Linear(784, 10), 0, bad_call

    def forward(self, x):
        self.calls += 1
        logits = self.linear(x.flatten(1))
        return logits * float("nan") if self.calls == self.bad_call else logits


def test_nan_loss_names_epoch_and_batch(quick_data):
    x, y = quick_data[0][:256], quick_data[1][:256]
    model = BreaksOnCall(bad_call=3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    with pytest.raises(utils.TrainingDiverged, match=r"loss became nan in epoch 7, batch 3 of 4"):
        utils.train_one_epoch(model, utils.Batches(x, y, 64, torch.Generator().manual_seed(0)),
                              optimizer, epoch=7, progress=False)


def test_schedulers_step_per_batch_or_per_epoch(quick_data):
    data = tuple(t[:256] for t in quick_data)
    base = RECIPES[5]
    onecycle = steps.Recipe(**{**base.__dict__, "epochs": 3})
    _, run = utils.fit(onecycle, data, 0, progress=False, log=None)
    peak = base.scheduler.keywords["max_lr"]
    assert run["lr"][0] == pytest.approx(peak / 10)  # OneCycle starts at max_lr / div_factor
    # Each epoch starts where a schedule stepped once per batch (2 batches of 128) leaves it.
    probe = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    schedule = onecycle.scheduler(probe, 2, 3)
    expected = []
    for _ in range(3):
        expected.append(probe.param_groups[0]["lr"])
        for _ in range(2):
            probe.step()
            schedule.step()
    assert run["lr"] == pytest.approx(expected, rel=1e-9)
    assert len(set(expected)) == 3
    steplr = steps.Recipe(**{**RECIPES[4].__dict__, "epochs": 8})
    _, run = utils.fit(steplr, data, 0, progress=False, log=None)
    assert run["lr"] == pytest.approx([0.05] * 6 + [0.01] * 2)


def test_same_seed_same_history_other_seed_differs(quick_data):
    data = tuple(t[:512] for t in quick_data)
    recipe = steps.Recipe(**{**RECIPES[5].__dict__, "epochs": 2})
    runs = [utils.fit(recipe, data, seed, progress=False, log=None)[1] for seed in (7, 7, 8)]
    for run in runs:
        run.pop("wall_s")
    assert runs[0] == runs[1]
    assert runs[0]["train_loss"] != runs[2]["train_loss"]


def test_device_choice_prefers_a_gpu_and_can_be_overridden(monkeypatch):
    """As if a GPU were there (without one too): chosen by default, overridden by the argument
    or by $MNIST_DEVICE."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.delenv(devices.DEVICE_ENV, raising=False)
    assert devices.get_device().type == "cuda"
    assert devices.get_device("cpu").type == "cpu"
    monkeypatch.setenv(devices.DEVICE_ENV, "cpu")
    assert devices.get_device().type == "cpu"
    assert devices.get_device("meta").type == "meta"  # the argument wins over the variable


# ------------------------------------------------------------------ teaching aids
def test_summary_leaves_model_and_rng_untouched():
    torch.manual_seed(0)
    model = RECIPES[4].model().train()
    bn = model.features[0][2]
    bn.running_mean.fill_(0.5)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    rng = torch.get_rng_state()
    text = plots.model_summary(model)
    assert "Total params: 7,752" in text and "Conv2d-1" in text and "[-1, 10, 26, 26]" in text
    assert model.training and bn.training
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert torch.equal(torch.get_rng_state(), rng)


def test_rf_table_matches_hand_computed_values():
    net = nn.Sequential(
        nn.Conv2d(1, 4, 3),              # 26, RF 3, jump 1
        nn.MaxPool2d(2),                 # 13, RF 4, jump 2
        nn.Conv2d(4, 4, 3, padding=1),   # 13, RF 8
        nn.Conv2d(4, 4, 3, dilation=2),  # 9, RF 8 + 2*2*2 = 16
        nn.Conv2d(4, 4, 3, stride=2),    # 4, RF 20, jump 4
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),         # 1, RF 20 + 3*4 = 32
    )
    rows = plots.receptive_field_rows(net)
    assert [(r["output"][-1], r["rf"], r["jump"]) for r in rows] == [
        (26, 3, 1), (13, 4, 2), (13, 8, 2), (9, 16, 2), (4, 20, 4), (1, 32, 4)]
    assert "MaxPool2d" in plots.format_layer_table(rows)


def test_plots_are_written(quick_data, tmp_path):
    x, y = quick_data[0][:64], quick_data[1][:64]
    results = {"step": 9, "title": "t", "params": 1, "role": "final", "eval_set": "test",
               "runs": [{"seed": 1, "train_loss": [1, .5], "test_loss": [1, .4],
                         "train_acc": [90, 99], "test_acc": [91, 99.5]}]}
    preds = y.roll(1)
    paths = [tmp_path / f"{n}.png" for n in "abcd"]
    plots.plot_history(results, paths[0])
    plots.plot_samples(x, y, paths[1], augment=utils.Augment())
    plots.plot_misclassified(x, y, preds, paths[2])
    plots.plot_confusion(y, preds, paths[3])
    for path in paths:
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cm = plots.confusion_matrix(y, preds)
    assert cm.sum() == 64 and cm.trace() == (preds == y).sum()


# ------------------------------------------------------------------ data errors
def test_missing_data_error_names_folder_and_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(mnist_files.DATA_ENV, str(tmp_path))
    monkeypatch.setattr(mnist_files, "_download", lambda root: "download failed: URLError: no route")
    with pytest.raises(mnist_files.MnistDataError) as error:
        utils.load_mnist()
    message = str(error.value)
    assert str(tmp_path / "MNIST" / "raw") in message and mnist_files.DATA_ENV in message
    assert "download failed: URLError: no route" in message  # why, not only what is missing


@pytest.fixture
def data_copy(tmp_path, monkeypatch):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in mnist_files.MNIST_FILES:
        shutil.copy(mnist_files.data_root() / "MNIST" / "raw" / name, raw / name)
    monkeypatch.setenv(mnist_files.DATA_ENV, str(tmp_path))
    return raw


def test_truncated_file_is_named(data_copy):
    path = data_copy / "t10k-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(mnist_files.MnistDataError, match=r"t10k-labels-idx1-ubyte is damaged: 5000"):
        utils.load_mnist()


def test_corrupt_file_is_named(data_copy):
    path = data_copy / "train-labels-idx1-ubyte"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(mnist_files.MnistDataError, match=r"train-labels-idx1-ubyte is damaged: its md5"):
        utils.load_mnist()


def test_default_data_root_is_not_the_results_folder_on_a_case_insensitive_disk(monkeypatch):
    """On macOS/Windows ``data/`` and ``Data/`` are one folder: the MNIST download must not
    land in (or be) the recorded results, nor have .gitignore hide them."""
    monkeypatch.delenv(mnist_files.DATA_ENV, raising=False)
    root = Path(str(mnist_files.data_root()).casefold())
    results = Path(str((utils.REPO_ROOT / "Data").resolve()).casefold())
    assert root != results and results not in root.parents
    assert mnist_files.data_root().parent == utils.REPO_ROOT.resolve()  # still in the repo


# ------------------------------------------------------------------ precise BatchNorm
def randomized(net):
    """``net`` with non-trivial BatchNorm statistics and scales, so copying them is tested."""
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.uniform_(-1, 1), m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 2), m.bias.data.uniform_(-1, 1)
    return net


def test_recomputed_batchnorm_stats_are_those_of_the_clean_images():
    torch.manual_seed(0)
    net = randomized(RECIPES[5].model()).train()  # dropout 0.05: must be off while measuring
    x = torch.randn(300, 1, 28, 28)
    first = net.features[0]  # conv -> ReLU -> BatchNorm -> Dropout
    with torch.no_grad():
        features = first[1](first[0](x[:200]))
    weights = {k: v.clone() for k, v in net.state_dict().items()
               if "running" not in k and "num_batches" not in k}
    momentum = first[2].momentum
    utils.recompute_batchnorm_stats(net, x, images=200, batch_size=200)
    assert torch.allclose(first[2].running_mean, features.mean((0, 2, 3)), atol=1e-5)
    assert torch.allclose(first[2].running_var, features.var((0, 2, 3)), rtol=1e-4)
    assert first[2].momentum == momentum and net.training and first[3].training
    assert all(torch.equal(v, net.state_dict()[k]) for k, v in weights.items())
    again = copy.deepcopy(net)  # deterministic: dropout was off, no randomness involved
    utils.recompute_batchnorm_stats(again, x, images=200, batch_size=200)
    assert torch.equal(again.features[5][2].running_var, net.features[5][2].running_var)


def test_recomputing_batchnorm_stats_changes_evaluation_not_training(quick_data):
    """Training normalizes with batch statistics, so precise BN leaves the training history
    alone; the recomputed statistics differ from the running ones, so evaluation changes."""
    data = tuple(t[:512] for t in quick_data)
    plain = steps.Recipe(**{**RECIPES[7].__dict__, "epochs": 2, "bn_stats_images": 0,
                            "average_last_epochs": 0})
    precise = steps.Recipe(**{**plain.__dict__, "bn_stats_images": 256})
    net_a, run_a = utils.fit(plain, data, 1, progress=False, log=None)
    net_b, run_b = utils.fit(precise, data, 1, progress=False, log=None)
    assert run_a["train_loss"] == pytest.approx(run_b["train_loss"], rel=1e-5)
    assert run_a["test_loss"] != run_b["test_loss"]
    bn_a, bn_b = net_a.features[0][2], net_b.features[0][2]
    assert torch.allclose(bn_a.weight, bn_b.weight, atol=1e-5)
    assert not torch.allclose(bn_a.running_mean, bn_b.running_mean, atol=1e-5)


def test_the_last_epochs_train_on_unaugmented_images(quick_data, monkeypatch):
    data = tuple(t[:256] for t in quick_data)  # two batches of 128 per epoch
    recipe = steps.Recipe(**{**RECIPES[7].__dict__, "epochs": 3, "bn_stats_images": 0,
                             "clean_last_epochs": 0})
    calls, augment_batch = [], utils.augment_batch
    monkeypatch.setattr(utils, "augment_batch", lambda *a: calls.append(a) or augment_batch(*a))

    def train_losses(**change):
        calls.clear()
        recipe_ = steps.Recipe(**{**recipe.__dict__, **change})
        return utils.fit(recipe_, data, 1, progress=False, log=None)[1]["train_loss"]

    augmented = train_losses()
    assert len(calls) == 3 * 2
    last_two_clean = train_losses(clean_last_epochs=2)
    assert len(calls) == 2  # the first epoch's two batches only
    assert last_two_clean[0] == augmented[0] and last_two_clean[1:] != augmented[1:]
    assert train_losses(clean_last_epochs=3) == train_losses(augment=None)


def test_the_weight_average_follows_the_weights_with_its_decay():
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    nn.init.zeros_(net[0].weight)
    average = weight_average.WeightAverage(net, decay=0.9)
    net[1].num_batches_tracked += 7
    for n in range(1, 121):
        with torch.no_grad():
            net[0].weight.fill_(1.0 if n <= 100 else 3.0)
        average.update_parameters(net)
    # Warm-up decays n / (9 + n) forget the zeros: after 100 updates the average is 1 to ~1e-8;
    # from update 81 on the decay is 0.9, so 20 updates at 3 leave 3 - 2 * 0.9 ** 20.
    assert torch.allclose(average.module[0].weight, torch.full((2, 2), 3 - 2 * 0.9 ** 20))
    assert average.module[1].num_batches_tracked == 7
    assert net[0].weight.eq(3.0).all()  # the trained network is left alone


def test_a_weight_average_changes_what_is_measured_not_the_training(quick_data):
    data = tuple(t[:256] for t in quick_data)
    recipe = steps.Recipe(**{**RECIPES[7].__dict__, "epochs": 2, "average_last_epochs": 0,
                             "bn_stats_images": 10_000})  # precise BN
    plain_model, plain = utils.fit(recipe, data, 1, progress=False, log=None)
    averaged = weight_average.with_moving_average(recipe, 0.99)
    model, run = utils.fit(averaged, data, 1, progress=False, log=None)
    assert run["train_loss"] == plain["train_loss"] and run["train_acc"] == plain["train_acc"]
    assert run["test_loss"] != plain["test_loss"]
    # the returned network is the averaged one, the network that was measured
    assert utils.evaluate(model, *data[2:])[0] == pytest.approx(run["test_loss"][-1], rel=1e-4)
    assert not torch.equal(model.features[0][0].weight, plain_model.features[0][0].weight)


def test_the_equal_average_is_the_mean_of_the_weights_it_was_updated_with():
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    average = RECIPES[7].weight_average(net)  # torch's AveragedModel, as step 7 measures it
    for value in (1.0, 2.0, 6.0):
        with torch.no_grad():
            net[0].weight.fill_(value)
            net[1].running_mean.fill_(2 * value)
        average.update_parameters(net)
    assert torch.equal(average.module[0].weight, torch.full((2, 2), 3.0))
    assert torch.equal(average.module[1].running_mean, torch.full((2,), 6.0))  # buffers too
    assert net[0].weight.eq(6.0).all()  # the trained network is left alone


def test_an_equal_average_over_the_last_epochs_measures_those_epochs_alone(quick_data):
    data = tuple(t[:256] for t in quick_data)
    recipe = steps.Recipe(**{**RECIPES[7].__dict__, "epochs": 3, "average_last_epochs": 0})
    _, plain = utils.fit(recipe, data, 1, progress=False, log=None)
    swa = steps.Recipe(**{**recipe.__dict__, "average_last_epochs": 2})
    assert [swa.averages_in(epoch, 3) for epoch in (1, 2, 3)] == [False, True, True]
    model, run = utils.fit(swa, data, 1, progress=False, log=None)
    assert run["train_loss"] == plain["train_loss"]  # the same training
    assert run["test_loss"][0] == plain["test_loss"][0]  # epoch 1 measures the trained network
    assert run["test_loss"][1:] != plain["test_loss"][1:]  # epochs 2-3 measure the average
    assert utils.evaluate(model, *data[2:])[0] == pytest.approx(run["test_loss"][-1], rel=1e-4)
    both = weight_average.with_moving_average(swa, 0.99)
    with pytest.raises(ValueError, match="not both"):
        utils.fit(both, data, 1, progress=False, log=None)


def test_a_ramp_down_weakens_the_augmentation_before_the_clean_epochs():
    recipe = steps.Recipe(**{**RECIPES[5].__dict__, "ramp_down_epochs": 3,
                             "augment": dataclasses.replace(RECIPES[5].augment, elastic=30.0)})
    full = recipe.augment
    augments = [recipe.augment_in(epoch, 15) for epoch in range(1, 16)]
    assert augments[:8] == [full] * 8 and augments[11:] == [None] * 4
    for epoch, share in ((9, 3 / 4), (10, 2 / 4), (11, 1 / 4)):
        weaker = augments[epoch - 1]
        assert weaker.degrees == pytest.approx(full.degrees * share)
        assert weaker.translate == pytest.approx(full.translate * share)
        assert weaker.scale == pytest.approx((1 - (1 - full.scale[0]) * share,
                                              1 + (full.scale[1] - 1) * share))
        assert weaker.elastic == pytest.approx(full.elastic * share)
        assert weaker.elastic_sigma == full.elastic_sigma
    assert [RECIPES[5].augment_in(epoch, 15) for epoch in range(1, 16)] == \
        [RECIPES[5].augment] * 11 + [None] * 4


def test_the_moving_average_warms_up_where_torchs_averaged_model_would_copy():
    """Why ``WeightAverage`` is not torch's ``AveragedModel`` (docs/frontier_search.md): after
    one update, AveragedModel's moving average is a copy of the weights it was given, while
    WeightAverage's first decay, 1/10, keeps a tenth of the initial weights."""
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    net = nn.Linear(2, 2)
    nn.init.zeros_(net.weight)
    ours = weight_average.WeightAverage(net, decay=0.999)
    torchs = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(0.999), use_buffers=True)
    with torch.no_grad():
        net.weight.fill_(1.0)
    ours.update_parameters(net)
    torchs.update_parameters(net)
    assert torch.equal(torchs.module.weight, net.weight)
    assert torch.allclose(ours.module.weight, torch.full((2, 2), 0.9))
