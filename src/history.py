"""One seed's per-epoch history, in the layout of a results file's ``runs``: the learning rate,
the training loss and accuracy, and the measured set's under its own name (``test_*``, or
``val_*`` on the validation split, so a validation accuracy is never read as a test one).
``utils.train_epochs`` fills it; ``records`` reads it."""
from __future__ import annotations


def new_run(seed: int, eval_set: str = "test") -> dict:
    """An empty per-epoch history: the measured set's values are named ``test_*``, or ``val_*``
    on the validation split, so a validation accuracy is never read as a test accuracy."""
    measured = eval_name(eval_set)
    return {"seed": seed, "train_loss": [], "train_acc": [], f"{measured}_loss": [],
            f"{measured}_acc": [], "lr": []}


def eval_name(eval_set: str) -> str:
    """``test``, or ``val`` for the validation split: the prefix of the measured set's keys."""
    return {"test": "test", "validation": "val"}[eval_set]


def record_epoch(run: dict, lr: float, train, measured, log=print) -> None:
    """Append one epoch's learning rate, training and measured (loss, accuracy) to ``run``."""
    name = next(key for key in run if key.endswith("_loss") and key != "train_loss")[:-5]
    run["lr"].append(lr)
    for key, value in zip(("train_loss", "train_acc", f"{name}_loss", f"{name}_acc"),
                          (*train, *measured)):
        run[key].append(round(value, 6))
    if log:
        log(f"seed {run['seed']} epoch {len(run['lr']):2d}: train loss {train[0]:.4f} acc "
            f"{train[1]:.2f}% | {name} loss {measured[0]:.4f} acc {measured[1]:.2f}%")
