"""Run the tests on every CPU kernel set this machine has, and with 1 and 2 threads.

torch picks its CPU kernels by the vector instructions it finds (``default``, ``avx2``,
``avx512``); ``ATEN_CPU_CAPABILITY`` makes it take a lower set, and ``OMP_NUM_THREADS`` splits
the sums another way. Each is another order of float sums: what a test that compares two code
paths to the last digit meets on another CPU. This runs them all on one machine.

    MNIST_DATA_DIR=../shared/data python tools/cpu_matrix.py          # tests/, every set x 1, 2
    MNIST_DATA_DIR=../shared/data python tools/cpu_matrix.py --fast   # the numerical tests only
"""
import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ORDER = ("default", "avx2", "avx512")  # x86's kernel sets, lowest first
THREADS = (1, 2)
# The tests that compare two code paths or a replay on numbers: packed copies against the plain
# loop, side by side against one at a time, a run against its recorded digits; and the recipes'
# fingerprints (initial weights drawn and hashed), which every record is checked against.
FINGERPRINTS = ("tests/test_design_search.py::"
                "test_every_recorded_candidate_still_trains_what_its_record_measured",
                "tests/test_results.py::test_each_step_has_a_full_run_matching_its_recipe")
NUMERICAL = ("tests/test_seeds.py", "tests/test_devices.py", "tests/test_utils.py", *FINGERPRINTS)


def native() -> str:
    import torch

    return torch.backends.cpu.get_cpu_capability().lower()


def kernel_sets() -> list[str]:
    """This machine's kernel sets, lowest first, up to its own (``native``)."""
    here = native()
    return list(ORDER[:ORDER.index(here) + 1]) if here in ORDER else [here]


def other_kernel_set() -> str | None:
    """The set a test on this machine does not meet by default: the next below its own,
    ``avx2`` on an AVX512 CPU, ``default`` on an AVX2 one (None where it has no other)."""
    sets = kernel_sets()
    return sets[-2] if len(sets) > 1 else None


def run(capability: str, threads: int, tests, extra=()) -> subprocess.CompletedProcess:
    """pytest on ``tests`` under one kernel set and thread count; the child says which set it
    took, so a capability torch ignored cannot pass unnoticed."""
    env = dict(os.environ, ATEN_CPU_CAPABILITY=capability, OMP_NUM_THREADS=str(threads))
    took = subprocess.run([sys.executable, "-c", "import torch; print(torch.backends.cpu."
                           "get_cpu_capability().lower(), torch.get_num_threads())"],
                          env=env, capture_output=True, text=True, check=True).stdout.split()
    if took != [capability, str(threads)]:
        raise RuntimeError(f"asked for {capability} with {threads} threads, torch took {took}")
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           *extra, *tests], cwd=ROOT, env=env, capture_output=True, text=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fast", action="store_true",
                        help="only the numerical tests: " + ", ".join(NUMERICAL))
    tests = list(NUMERICAL) if parser.parse_args().fast else ["tests"]
    print(f"native kernel set: {native()}; tests: {' '.join(tests)}")
    failed = 0
    for capability in kernel_sets():
        for threads in THREADS:
            start = time.perf_counter()
            result = run(capability, threads, tests)
            summary = (result.stdout.strip().splitlines() or ["(no output)"])[-1]
            print(f"{capability:<8} {threads} thread{'s' if threads > 1 else ' '}  "
                  f"{'pass' if result.returncode == 0 else 'FAIL'}  "
                  f"{time.perf_counter() - start:6.0f} s  {summary}", flush=True)
            if result.returncode:
                failed += 1
                print("\n".join(line for line in result.stdout.splitlines()
                                if line.startswith("FAILED")))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
