"""Record a notebook: execute it in full mode, in place, then tidy its outputs so the committed
file stays small and reads like a terminal (one line per finished progress bar).

    MNIST_DATA_DIR=../shared/data python tools/run_notebook.py notebooks/step5_augmentation.ipynb
    python tools/run_notebook.py --tidy-only notebooks/*.ipynb

Full mode only: refuses to record with MNIST_QUICK set, so a quick run never lands in git.
It sets MNIST_RECORD=1 for the notebook: only then does a notebook write into Data/ (the
recorded reference); run any other way, it writes into runs/. And unless MNIST_HOW is set, it
sets it to the way the step's record trained its seeds (packed or one after another), so that
on the machine that made the record the re-recording repeats it to the last digit. It refuses
to re-record a step on another kind of device than its record's (a GPU where the record is the
CPU's): the pages would quote numbers that the record's own device could not repeat.
"""
import argparse
import json
import os
import re
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

RESULTS = Path(__file__).resolve().parents[1] / "Data" / "results"
OVERWRITTEN = re.compile(r"[^\n]*\r(?=[^\n])")  # text a later \r on the same line replaced


def tidy(notebook):
    """Merge consecutive stream outputs of a cell and keep only what a terminal would show."""
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        merged = []
        for output in cell.outputs:
            if (output.output_type == "stream" and merged and merged[-1].output_type == "stream"
                    and merged[-1].name == output.name):
                merged[-1].text += output.text
            else:
                merged.append(output)
        for output in merged:
            if output.output_type == "stream":
                output.text = OVERWRITTEN.sub("", output.text).replace("\r", "")
        cell.outputs = merged
    notebook.metadata.pop("widgets", None)
    return notebook


def recorded_how(notebook: str, results: Path = RESULTS) -> str | None:
    """How the seeds of the notebook's step were trained in its record (records older than
    ``seeds_ran`` say how many were packed at once), or None without a record."""
    step = Path(notebook).name.split("_")[0].removeprefix("step")
    record = Path(results) / f"step{step}.json"
    if not record.exists():
        return None
    results = json.loads(record.read_text())
    if "seeds_ran" in results:
        return results["seeds_ran"]
    return "packed" if results.get("seeds_at_once", 1) > 1 else "one-after-another"


def recorded_device(notebook: str, results: Path = RESULTS) -> str | None:
    """The device type the notebook's step was recorded on (``cpu``, ``cuda``), or None."""
    step = Path(notebook).name.split("_")[0].removeprefix("step")
    record = Path(results) / f"step{step}.json"
    if not record.exists():
        return None
    return json.loads(record.read_text())["device"].split(" ")[0]


def device_refusal(notebook: str, device_type: str, results: Path = RESULTS) -> str:
    """Why ``notebook`` must not be re-recorded on ``device_type`` ('' if it may)."""
    recorded = recorded_device(notebook, results)
    if recorded is None or recorded == device_type:
        return ""
    return (f"{notebook}: its record was made on {recorded} and this would re-record it on "
            f"{device_type}, whose runs do not repeat the record's digits. Record on {recorded} "
            f"(MNIST_DEVICE={recorded}), or move its record out of Data/results/ first to record "
            "another device on purpose")


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="+")
    parser.add_argument("--tidy-only", action="store_true", help="do not execute, only tidy")
    args = parser.parse_args()
    if not args.tidy_only and os.environ.get("MNIST_QUICK", "") not in ("", "0"):
        sys.exit("error: unset MNIST_QUICK: committed notebooks are recorded in full mode only")
    if not args.tidy_only:
        os.environ["MNIST_RECORD"] = "1"  # the notebook's kernel inherits it
    if not args.tidy_only:
        sys.path.insert(0, str(RESULTS.parents[1] / "src"))
        import devices
        import utils

        device_type = devices.get_device().type
        refusals = [r for r in (device_refusal(path, device_type) for path in args.notebooks) if r]
        if refusals:
            sys.exit("error: " + "\nerror: ".join(refusals))
    for path in args.notebooks:
        notebook = nbformat.read(path, as_version=4)
        how = recorded_how(path)
        if not args.tidy_only and how and "MNIST_HOW" not in os.environ:
            print(f"{path}: the seeds train {how}, as its record did (MNIST_HOW)")
            os.environ["MNIST_HOW"] = how
        if not args.tidy_only:
            NotebookClient(notebook, timeout=None, kernel_name="python3",
                           resources={"metadata": {"path": os.path.dirname(path) or "."}}).execute()
        nbformat.write(tidy(notebook), path)
        print(f"{path}: {os.path.getsize(path) / 1000:.0f} kB")
        if how:
            os.environ.pop("MNIST_HOW", None)


if __name__ == "__main__":
    main()
