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
