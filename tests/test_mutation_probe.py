"""tools/mutation_probe.py breaks the project on purpose outside CI; here, in CI, every one of
its mutations must still apply at this commit, so the probe cannot rot while the code moves."""
import pytest

import mutation_probe


@pytest.mark.parametrize("name", mutation_probe.MUTATIONS)
def test_every_mutation_of_the_probe_still_applies(name):
    assert mutation_probe.stale(name) == []


def test_a_moved_pattern_is_named(monkeypatch):
    name = "help-flag-hidden"
    what, edits, tests = mutation_probe.MUTATIONS[name]
    moved = [(file, old + " (moved)", new) for file, old, new in edits]
    monkeypatch.setitem(mutation_probe.MUTATIONS, name, (what, moved, tests))
    assert mutation_probe.stale(name) == [f"src/train.py holds {moved[0][1]!r} 0 times, not once"]


# A fast subset of the probe in CI: each of these breaks must meet a failing test.
FAST = ("frozen-weights-uncounted", "buffers-allowed")


@pytest.mark.parametrize("name", FAST)
def test_a_fast_subset_of_the_probes_breaks_is_caught(name):
    caught, _ = mutation_probe.probe(name)
    assert caught, f"{name}: {mutation_probe.MUTATIONS[name][0]} passed its tests"


def test_only_a_failing_test_counts_as_caught(monkeypatch):
    """A run that collects nothing, or cannot start, is not a caught break; a test that fails
    on the unchanged tree stops the probe instead of catching anything."""
    what, edits, _ = mutation_probe.MUTATIONS["buffers-allowed"]
    monkeypatch.setitem(mutation_probe.MUTATIONS, "nothing-runs",
                        (what, edits, ["tests/test_checks.py::no_such_test"]))
    monkeypatch.setitem(mutation_probe._BASELINES, ("tests/test_checks.py::no_such_test",), 0)
    assert mutation_probe.probe("nothing-runs")[0] is False
    monkeypatch.setitem(mutation_probe._BASELINES, ("tests/test_checks.py::no_such_test",), 1)
    with pytest.raises(SystemExit, match="fail.* on the unchanged tree"):
        mutation_probe.probe("nothing-runs")
