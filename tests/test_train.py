"""The headless runner as a user calls it: a subprocess, quick mode, real exit codes."""
import os
import subprocess
import sys

import pytest
import torch

import mnist_files
import records
import train
import utils
from steps import RECIPES

TRAIN = [sys.executable, str(utils.REPO_ROOT / "src" / "train.py")]


def run_train(*args, env=None):
    return subprocess.run(TRAIN + list(args), capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})


def snapshot(folder):
    return {p: p.stat().st_mtime_ns for p in folder.rglob("*")} if folder.exists() else {}


def test_help_explains_every_flag():
    result = run_train("--help")
    assert result.returncode == 0
    flags = [(flag, action.help) for action in train.build_parser()._actions
             for flag in action.option_strings]
    assert len(flags) >= 12  # -h/--help and the 10 options, at least
    for flag, explanation in flags:
        assert flag in result.stdout and explanation, flag
    for variable in ("MNIST_DATA_DIR", "MNIST_QUICK", "MNIST_DEVICE"):
        assert variable in result.stdout


def test_quick_run_writes_schema_and_leaves_data_untouched(tmp_path):
    before = snapshot(utils.REPO_ROOT / "Data")
    result = run_train("--step", "1", "--seed", "1", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    results = records.read_results(tmp_path / "results" / "step1.json")
    assert results["mode"] == "quick" and results["step"] == 1 and results["role"] == "baseline"
    assert results["model_class"] == "Step1Net" and results["params"] > 6_000_000
    assert results["train_size"] == utils.QUICK_TRAIN_SIZE and results["epochs"] == 1
    assert [r["seed"] for r in results["runs"]] == [1]
    assert len(results["runs"][0]["test_acc"]) == 1
    assert {p.name for p in (tmp_path / "plots").iterdir()} == {
        "step1_curves.png", "step1_misclassified.png", "step1_confusion.png", "step1_samples.png"}
    assert snapshot(utils.REPO_ROOT / "Data") == before


def test_quick_run_defaults_to_a_temporary_folder():
    before = snapshot(utils.REPO_ROOT / "Data"), snapshot(utils.REPO_ROOT / "notebooks")
    result = run_train("--step", "5", "--seeds", "3", "--no-progress")
    assert result.returncode == 0, result.stderr
    path = result.stdout.strip().splitlines()[-1].removeprefix("results: ")
    assert "seed 3 epoch  1:" in result.stdout
    assert records.read_results(path)["runs"][0]["seed"] == 3
    recorded = records.summarize_runs(records.read_results(records.results_path(5,
                                                                                records.RECORDED)))
    assert (f"the {len(recorded['seeds'])} recorded seeds spread over, "
            f"{min(recorded['last_min']):.2f}-{max(recorded['last_min']):.2f} % on the test set. "
            "Your run is a quick-mode run") in result.stdout  # the range line, with its caveat
    assert not path.startswith(str(utils.REPO_ROOT))
    assert (snapshot(utils.REPO_ROOT / "Data"), snapshot(utils.REPO_ROOT / "notebooks")) == before


def test_quick_run_refuses_data_folder():
    result = run_train("--step", "5", "--out", str(utils.REPO_ROOT / "Data"))
    assert result.returncode == 2
    assert "must not write into" in result.stderr and "Traceback" not in result.stderr


def test_empty_data_folder_gives_one_clear_error(tmp_path):
    result = run_train("--step", "5", "--out", str(tmp_path / "out"),
                       env={mnist_files.DATA_ENV: str(tmp_path)})
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert str(tmp_path / "MNIST" / "raw") in result.stderr and mnist_files.DATA_ENV in result.stderr
    assert not (tmp_path / "out" / "results").exists()


def test_truncated_file_is_named_by_the_runner(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in mnist_files.MNIST_FILES:
        (raw / name).symlink_to(mnist_files.data_root() / "MNIST" / "raw" / name)
    (raw / "train-images-idx3-ubyte").unlink()
    (raw / "train-images-idx3-ubyte").write_bytes(b"\0" * 1000)
    result = run_train("--step", "5", "--out", str(tmp_path / "out"),
                       env={mnist_files.DATA_ENV: str(tmp_path)})
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "train-images-idx3-ubyte is damaged: 1000 bytes" in result.stderr


@pytest.mark.parametrize("mode", ["1", "0"], ids=["quick", "full"])
def test_bad_arguments_exit_2_with_one_line_and_write_nothing(tmp_path, mode):
    """Refused before anything is trained or written, in full mode too (where the default
    output folder holds the recorded results)."""
    before = snapshot(utils.REPO_ROOT / "Data"), snapshot(utils.REPO_ROOT / "runs")
    for args in (["--epochs", "-1"], ["--epochs", "0", "--out", str(tmp_path / "x")],
                 ["--how", "side-by-side", "--workers", "1"], ["--workers", "0"],
                 ["--device", "foo"], ["--out", "/proc/x"]):
        result = run_train("--step", "2", *args, env={utils.QUICK_ENV: mode})
        assert result.returncode == 2, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert "--epochs must be at least 1, not -1" in run_train(
        "--step", "2", "--epochs", "-1", env={utils.QUICK_ENV: mode}).stderr
    assert not (tmp_path / "x").exists()
    assert (snapshot(utils.REPO_ROOT / "Data"), snapshot(utils.REPO_ROOT / "runs")) == before


def test_a_gpu_that_is_not_there_is_one_clear_line():
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    result = run_train("--step", "2", "--device", "cuda")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip() == "error: device 'cuda': no CUDA GPU is available here; use cpu"


def test_help_says_what_the_whole_series_costs():
    result = run_train("--help")
    minutes = sum(run["wall_s"] for step in RECIPES for run in records.read_results(
        records.results_path(step, records.RECORDED))["runs"]) / 60
    assert f"took {minutes:.0f} min in all" in " ".join(result.stdout.split())
