"""The notebooks as files: paired with their py:percent scripts, one shared bootstrap that
works on Colab (tried against a local clone) and locally, the story's sections, small size."""
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest

import devices
import runner
import set_repo_url
import utils
from steps import RECIPES

NOTEBOOKS = sorted((utils.REPO_ROOT / "notebooks").glob("*.ipynb"))
SCRIPTS = sorted((utils.REPO_ROOT / "notebooks").glob("*.py"))
STEP_NOTEBOOKS = [p for p in NOTEBOOKS if p.name.startswith("step")]
YOUR_TURN = utils.REPO_ROOT / "notebooks" / "your_turn.ipynb"


def cells(notebook):
    return [(c.cell_type, c.source.strip()) for c in notebook.cells]


def first_code_cell(path):
    return next(c.source for c in jupytext.read(path).cells if c.cell_type == "code")


def test_one_notebook_per_step_each_paired():
    from steps import RECIPES

    assert [int(p.stem.split("_")[0].removeprefix("step")) for p in STEP_NOTEBOOKS] == \
        list(RECIPES)
    assert NOTEBOOKS == STEP_NOTEBOOKS + [YOUR_TURN]  # the student's turn comes after the steps
    assert [p.stem for p in NOTEBOOKS] == [p.stem for p in SCRIPTS]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_notebook_opens_on_a_gpu_runtime_in_colab_and_says_which_device_it_got(path):
    metadata = json.loads(path.read_text())["metadata"]
    assert metadata["accelerator"] == "GPU" and metadata["colab"]["gpuType"] == "T4"
    code = [c.source for c in jupytext.read(path).cells if c.cell_type == "code"]
    second = code[1] + code[2] if path == YOUR_TURN else code[1]
    assert "devices.device_name(device)" in second and "records.advise_runtime(device, " in second


def test_the_runtime_advice_speaks_only_on_a_cpu_runtime_in_colab(monkeypatch, capsys):
    import types

    import torch

    import records

    records.advise_runtime(torch.device("cpu"), 5)
    assert capsys.readouterr().out == ""
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    records.advise_runtime(torch.device("cuda"), 5)
    assert capsys.readouterr().out == ""
    records.advise_runtime(torch.device("cpu"), 5)
    shown = capsys.readouterr().out
    recorded = records.read_results(records.results_path(5, records.RECORDED))
    minutes = sum(run["wall_s"] for run in recorded["runs"]) / 60
    assert "Runtime > Change runtime type" in shown
    assert f"({minutes:.0f} min for {len(recorded['runs'])} seeds)" in shown


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_and_script_have_the_same_cells(path):
    assert cells(jupytext.read(path)) == cells(jupytext.read(path.with_suffix(".py"))), (
        f"{path.name} and its .py differ: run `jupytext --sync {path}`")


@pytest.mark.parametrize("path", STEP_NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_tells_its_step(path):
    notebook = jupytext.read(path)
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    for heading in ("## Target", "## Results", "## Analysis", "colab-badge.svg"):
        assert heading in markdown, f"{path.name} lacks {heading}"
    assert f"/notebooks/{path.name}" in markdown  # the Colab badge opens this very notebook
    checked = [c for c in notebook.cells if "NBVAL_CHECK_OUTPUT" in c.source]
    assert len(checked) >= 3
    # a recording (tools/run_notebook.py) may write into Data/ only if the training is told so
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    assert "out = records.output_dir(record=record, label=records.run_label(STEP, SEEDS))" in code
    assert "runner.run_recipe(recipe, SEEDS, out=out, record=record," in code
    # the seeds a student changes, and by default the recipe's own (a recording trains those)
    seeds = re.search(r"^SEEDS = (\[[\d, ]+\])", code, re.M)
    step = int(re.search(r"^STEP = (\d)", code, re.M).group(1))
    assert seeds and eval(seeds.group(1)) == list(RECIPES[step].seeds), path.name


@pytest.mark.parametrize("path", STEP_NOTEBOOKS, ids=lambda p: p.name)
def test_every_step_ends_with_exercises_whose_answers_are_folded_and_generated(path):
    import exercises

    last = jupytext.read(path).cells[-1]
    assert last.cell_type == "markdown" and last.source.startswith("## Exercises")
    questions = last.source.split("\n### ")[1:]
    assert 2 <= len(questions) <= 3
    for question in questions:
        assert "<details><summary>Answer</summary>" in question and "</details>" in question
        name = question.split("<!-- generated: answer ")[1].split(" -->")[0]
        assert exercises.ANSWERS[name]() in question  # the answer as computed now


def test_every_answer_is_asked_somewhere():
    import exercises

    text = "".join(p.read_text() for p in SCRIPTS)
    assert [name for name in exercises.ANSWERS if f"answer {name} -->" not in text] == []


def test_the_your_turn_notebook_starts_from_step_3s_network_and_judges_it():
    import judge
    import model

    notebook = jupytext.read(YOUR_TURN)
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    for heading in ("## Target", "## Results", "## Analysis", "colab-badge.svg",
                    "/notebooks/your_turn.ipynb", "python src/train.py --model my_net.py:MyNet"):
        assert heading in markdown, f"your_turn lacks {heading}"
    code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
    for call in ("judge.check(MyNet, BUDGET)", "judge.expected_time(", "judge.judge(MyNet",
                 "judge.plot_beside_steps(judged)", "test_set=True"):
        assert call in code
    scope = {}
    cell = next(c.source for c in notebook.cells if c.source.startswith("class MyNet"))
    exec("import torch.nn as nn\nimport judge\nfrom model import conv_block\n" + cell, scope)
    assert repr(scope["MyNet"]().features) == repr(model.Step3Net().features)
    params = judge.check(scope["MyNet"]).params
    assert f"step 3's ({params:,} parameters" in markdown


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_is_small_and_from_a_full_run(path):
    assert path.stat().st_size < 1_000_000
    raw = json.loads(path.read_text())
    assert "widgets" not in raw["metadata"]
    code = [c for c in raw["cells"] if c["cell_type"] == "code"]
    defining = [c for c in code if "".join(c["source"]).startswith("class ")]  # prints nothing
    assert all(c["outputs"] for c in code[1:] if c not in defining), \
        f"{path.name} has cells without outputs"
    text = "".join(o.get("text", "") if isinstance(o.get("text", ""), str) else "".join(o["text"])
                   for c in code for o in c["outputs"])
    if path == YOUR_TURN:  # judged on the validation split, never the test set
        assert "full mode" in text and "50,000 train / 10,000 validation images" in text
    else:
        assert "full mode: 60,000 train / 10,000 test images" in text
    assert "Traceback" not in text


def test_all_notebooks_share_one_bootstrap():
    assert len({first_code_cell(p) for p in NOTEBOOKS}) == 1
    assert "REPO_URL" in first_code_cell(NOTEBOOKS[0])


def test_every_notebook_opens_and_clones_the_repository_in_colab_json():
    problems = set_repo_url.disagreements()
    assert not problems, "\n".join(problems) + "\nrun `python tools/set_repo_url.py`"


def test_set_repo_url_points_every_notebook_at_a_fork(tmp_path):
    shutil.copytree(utils.REPO_ROOT / "notebooks", tmp_path / "notebooks")
    for name in ("colab.json", "jupytext.toml"):
        shutil.copy(utils.REPO_ROOT / name, tmp_path / name)
    before = {p.name: json.loads(p.read_text()) for p in (tmp_path / "notebooks").glob("*.ipynb")}

    assert set_repo_url.main(["--url", "https://github.com/someone/my-fork.git", "--branch", "dev"],
                             root=tmp_path) == 0
    assert json.loads((tmp_path / "colab.json").read_text()) == {
        "repo_url": "https://github.com/someone/my-fork", "branch": "dev"}
    assert set_repo_url.disagreements(tmp_path) == []
    assert set_repo_url.main(["--check"], root=tmp_path) == 0
    copied = sorted((tmp_path / "notebooks").glob("*.ipynb"))
    assert len(copied) == len(list((utils.REPO_ROOT / "notebooks").glob("*.ipynb"))) > 0
    for path in copied:
        markdown = "\n".join(c.source for c in jupytext.read(path).cells
                              if c.cell_type == "markdown")
        assert (f"https://colab.research.google.com/github/someone/my-fork/blob/dev/notebooks/"
                f"{path.name}") in markdown
        assert "tiny-cnn" not in path.read_text() + path.with_suffix(".py").read_text()
        assert cells(jupytext.read(path)) == cells(jupytext.read(path.with_suffix(".py")))
        after = json.loads(path.read_text())  # outputs and cell ids kept
        assert [(c.get("id"), c.get("outputs")) for c in after["cells"]] == [
            (c.get("id"), c.get("outputs")) for c in before[path.name]["cells"]]
    code = first_code_cell(tmp_path / "notebooks" / NOTEBOOKS[0].name)
    assert 'os.environ.get("MNIST_REPO_URL", "https://github.com/someone/my-fork")' in code
    assert 'BRANCH = "dev"' in code
    # One notebook edited by hand: --check names it and only it, and changes nothing.
    script = tmp_path / "notebooks" / SCRIPTS[0].name
    script.write_text(script.read_text().replace("/blob/dev/", "/blob/main/"))
    assert set_repo_url.main(["--check"], root=tmp_path) == 1
    assert [line.split(":")[0] for line in set_repo_url.disagreements(tmp_path)] == [
        f"notebooks/{SCRIPTS[0].name}"]
    assert "/blob/main/" in script.read_text()


def run_bootstrap(cwd, colab, env=None):
    """Run the notebooks' first cell in a fresh interpreter, as Colab (faked) or locally."""
    prelude = "import sys, types\n"
    if colab:
        prelude += "sys.modules['google.colab'] = types.ModuleType('google.colab')\n"
    code = (prelude + first_code_cell(NOTEBOOKS[0])
            + "\nimport utils, model\nprint(utils.__file__)\n")
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def test_bootstrap_on_colab_clones_the_repository(tmp_path):
    result = run_bootstrap(tmp_path, colab=True,
                              env={"MNIST_REPO_URL": f"file://{utils.REPO_ROOT}"})
    assert result.returncode == 0, result.stderr
    clone = tmp_path / utils.REPO_ROOT.name  # the clone is named after the URL's last part
    assert Path(result.stdout.strip().splitlines()[-1]) == clone / "src" / "utils.py"
    assert (clone / "notebooks").is_dir() and (clone / ".git").is_dir()
    # A second run (a notebook re-run on Colab) reuses the clone instead of failing on it.
    again = run_bootstrap(tmp_path, colab=True,
                             env={"MNIST_REPO_URL": f"file://{utils.REPO_ROOT}"})
    assert again.returncode == 0, again.stderr


def test_bootstrap_locally_finds_src_without_cloning():
    result = run_bootstrap(utils.REPO_ROOT / "notebooks", colab=False)
    assert result.returncode == 0, result.stderr
    assert Path(result.stdout.strip().splitlines()[-1]) == utils.REPO_ROOT / "src" / "utils.py"


def test_tidy_keeps_what_a_terminal_shows():
    import importlib.util

    import nbformat

    spec = importlib.util.spec_from_file_location(
        "run_notebook", utils.REPO_ROOT / "tools" / "run_notebook.py")
    run_notebook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_notebook)
    cell = nbformat.v4.new_code_cell("train()")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="\repoch 1:   0%|"),
                    nbformat.v4.new_output("stream", name="stdout", text="\repoch 1:  50%|"),
                    nbformat.v4.new_output("stream", name="stdout", text="\repoch 1: 100%|\n"),
                    nbformat.v4.new_output("stream", name="stdout", text="seed 1 epoch 1\n"),
                    nbformat.v4.new_output("stream", name="stderr", text="warning\n")]
    notebook = nbformat.v4.new_notebook(cells=[cell], metadata={"widgets": {"state": {}}})
    tidied = run_notebook.tidy(notebook)
    assert [(o.name, o.text) for o in tidied.cells[0].outputs] == [
        ("stdout", "epoch 1: 100%|\nseed 1 epoch 1\n"), ("stderr", "warning\n")]
    assert "widgets" not in tidied.metadata


def test_a_recording_trains_the_seeds_the_way_its_record_did(tmp_path):
    """tools/run_notebook.py repeats a record made with packed seeds by packing them again."""
    import run_notebook

    for step, record, how in ((5, {"seeds_at_once": 5}, "packed"),
                              (3, {"seeds_at_once": 1}, "one-after-another"),
                              (7, {"seeds_ran": "side-by-side"}, "side-by-side")):
        (tmp_path / f"step{step}.json").write_text(json.dumps(record))
        assert run_notebook.recorded_how(f"notebooks/step{step}_x.ipynb", tmp_path) == how
    assert run_notebook.recorded_how("notebooks/step6_x.ipynb", tmp_path) is None


def test_the_readme_set_up_is_what_ci_runs_and_keeps_the_test_tools_out_of_colab():
    import pages
    import records

    readme = (utils.REPO_ROOT / "README.md").read_text()
    assert pages.quick_start() in readme
    commands = [line.split("#")[0].strip() for line in pages.quick_start().splitlines()]
    ci = (utils.REPO_ROOT / ".ci" / "run").read_text().splitlines()
    assert "pip install -r requirements-test.txt" in commands and "pytest" in commands
    assert ".venv/bin/python -m pip install --quiet -r requirements-test.txt" in ci
    assert "pytest" in ci
    def packages(name):
        lines = (utils.REPO_ROOT / name).read_text().splitlines()
        return [line.split(">=")[0] for line in lines if line and not line.startswith("#")]

    runtime, tools = packages("requirements.txt"), packages("requirements-test.txt")
    assert "-r requirements.txt" in tools and "torch" in runtime
    for tool in ("pytest", "nbval", "jupytext", "ipykernel", "nbclient"):
        assert tool in tools and tool not in runtime
    # On Colab each notebook installs the one package Colab lacks, and nothing else.
    bootstrap = first_code_cell(NOTEBOOKS[0])
    assert bootstrap.count("pip") == 1 and '"install", "-q", "torchsummary"]' in bootstrap


# What a GPU run changes: anything trained, evaluated or placed on the device it got.
DEVICE_DEPENDENT = re.compile(r"\b(fit|fit_packed|run_recipe|judge|evaluate|train_one_epoch|"
                              r"load_mnist|get_device)\s*\(|\bdevice\b|\bcuda\b")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_checked_output_depends_on_the_device_a_run_got(path):
    """nbval compares a ``# NBVAL_CHECK_OUTPUT`` cell's output to the committed one: a cell
    that trains, evaluates or names the device would differ on a GPU (another machine)."""
    checked = [c.source for c in jupytext.read(path).cells
               if c.cell_type == "code" and "NBVAL_CHECK_OUTPUT" in c.source]
    assert checked, "no checked cell: nbval would check nothing here"
    for source in checked:
        assert not DEVICE_DEPENDENT.search(source), source


def test_the_test_set_run_of_your_turn_trains_the_recipe_its_validation_run_trained():
    """A student who sets ``recipe = judge.recipe_for(MyNet, epochs=12)`` measures that recipe
    on the test set too, not step 5's default."""
    import ast

    tree = ast.parse(YOUR_TURN.with_suffix(".py").read_text())
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
             and ast.unparse(node.func) == "judge.judge"]
    assert len(calls) == 2, "a validation run and a test-set run"
    for call in calls:
        passed = {k.arg: ast.unparse(k.value) for k in call.keywords}
        assert passed.get("recipe") == "recipe", ast.unparse(call)
