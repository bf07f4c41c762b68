"""Time training batches of the final (< 8k) model three ways, interleaved in one process so
machine noise hits all three alike:

  (a) engine:  this project's train_one_epoch (tensors on the device, batched augmentation,
               seeded shuffle, scheduler per batch), exactly as the notebooks train;
  (b) course:  torchvision MNIST + DataLoader(num_workers=2) with RandomRotation(7), ToTensor,
               Normalize, the pipeline of the course write-ups;
  (c) compute: forward, backward and optimizer step alone, on pre-made batches.

Prints ms per batch for each, ``speedup_vs_seed_pipeline: X`` (b/a) and
``overhead_vs_compute: Y`` (a/c). ``--record`` also writes the medians to
``Data/timings/pipeline_speed.json``, which docs/research_log.md quotes.

    MNIST_DATA_DIR=../shared/data python benchmarks/pipeline_speed.py --quick
"""
import argparse
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
import devices  # noqa: E402
import mnist_files  # noqa: E402
import records  # noqa: E402
import utils  # noqa: E402
from steps import RECIPES  # noqa: E402

RECORD = records.RECORDED / "timings" / "pipeline_speed.json"


def clock(device) -> float:
    """``time.perf_counter()`` once the GPU has finished what was queued: CUDA runs
    asynchronously, so a clock read without it would time the kernel launches alone."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def time_engine(recipe, x, y, seed):
    model, optimizer, scheduler = make_training(recipe, len(x), x.device)
    start = clock(x.device)
    batches = utils.Batches(x, y, recipe.batch_size, torch.Generator().manual_seed(seed),
                            recipe.augment)
    utils.train_one_epoch(model, batches, optimizer, schedule=scheduler, progress=False)
    return clock(x.device) - start


def time_course(recipe, loader_iter, batches, device):
    model, optimizer, _ = make_training(recipe, batches * recipe.batch_size, device)
    model.train()
    start = clock(device)
    for _ in range(batches):
        xb, yb = next(loader_iter)
        xb, yb = xb.to(device), yb.to(device)
        step(model, optimizer, xb, yb)
    return clock(device) - start


def time_compute(recipe, premade):
    device = premade[0][0].device
    model, optimizer, _ = make_training(recipe, len(premade) * recipe.batch_size, device)
    model.train()
    start = clock(device)
    for xb, yb in premade:
        step(model, optimizer, xb, yb)
    return clock(device) - start


def step(model, optimizer, xb, yb):
    loss = F.cross_entropy(model(xb), yb)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def make_training(recipe, n, device):
    """A fresh model, optimizer and (per-batch) scheduler, as the recipe builds them."""
    model = recipe.model().to(device)
    optimizer = recipe.optimizer(model.parameters())
    steps = -(-n // recipe.batch_size)  # the schedule spans the recipe's epochs, as in a run
    scheduler = recipe.scheduler(optimizer, steps, recipe.epochs) if recipe.scheduler else None
    return model, optimizer, scheduler


def course_loader(batch_size):
    from torchvision import datasets, transforms

    transform = transforms.Compose([transforms.RandomRotation(7), transforms.ToTensor(),
                                    transforms.Normalize((utils.MNIST_MEAN,), (utils.MNIST_STD,))])
    dataset = datasets.MNIST(mnist_files.data_root(), train=True, download=False, transform=transform)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True,
                                         num_workers=2, persistent_workers=True)
    while True:
        yield from loader


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer batches and rounds (< 5 min)")
    parser.add_argument("--batches", type=int, help="batches per timing (default 200, quick 60)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 5, quick 3)")
    parser.add_argument("--device", help="cpu or cuda (default: the fastest available)")
    parser.add_argument("--record", action="store_true", help=f"also write the medians to {RECORD}")
    args = parser.parse_args()
    batches = args.batches or (60 if args.quick else 200)
    rounds = args.rounds or (3 if args.quick else 5)
    device = devices.get_device(args.device)
    recipe = RECIPES[next(s for s, r in RECIPES.items() if r.role == "final")]
    train_x, train_y, _, _ = utils.load_mnist(device, quick=False)
    n = batches * recipe.batch_size
    x, y = train_x[:n], train_y[:n]
    premade = list(utils.iterate_batches(x, y, recipe.batch_size))
    loader = course_loader(recipe.batch_size)
    next(loader)  # start the workers outside the timings
    times = {"engine": [], "course": [], "compute": []}
    for r in range(rounds + 1):  # round 0 warms up caches and allocators; it is not counted
        times["engine"].append(time_engine(recipe, x, y, seed=r))
        times["course"].append(time_course(recipe, loader, batches, device))
        times["compute"].append(time_compute(recipe, premade))
        print(f"round {r}{' (warm-up)' if r == 0 else ''}: "
              + ", ".join(f"{k} {1000 * v[-1] / batches:.1f} ms/batch" for k, v in times.items()),
              flush=True)
    record = {"benchmark": "pipeline_speed", "device": devices.device_name(device),
              "torch": torch.__version__, "threads": torch.get_num_threads(),
              "model": recipe.model_class(), "batch_size": recipe.batch_size,
              "batches": batches, "rounds": rounds, "measured": date.today().isoformat(),
              "ms_per_batch": {k: 1000 * statistics.median(v[1:]) / batches
                               for k, v in times.items()}}
    print(report(record))
    if args.record:
        records.write_results(record, RECORD)
        print(f"written: {RECORD}")


def report(record: dict) -> str:
    """The medians, and the engine against the course pipeline and against compute alone."""
    ms = record["ms_per_batch"]
    return "\n".join([
        f"device: {record['device']}, torch {record['torch']}, threads {record['threads']}, "
        f"model {record['model']}, batch {record['batch_size']}, {record['batches']} batches x "
        f"{record['rounds']} rounds (medians), measured {record['measured']}",
        *(f"{k}_ms_per_batch: {v:.2f}" for k, v in ms.items()),
        f"speedup_vs_seed_pipeline: {ms['course'] / ms['engine']:.2f}",
        f"overhead_vs_compute: {ms['engine'] / ms['compute']:.2f}"])


if __name__ == "__main__":
    main()
