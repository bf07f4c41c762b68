"""The fast corner of tools/cpu_matrix.py, run by the README's test command: the tests that
compare code paths on numbers, and every record's recipe fingerprint, pass under a kernel set
this CPU does not use by default, on one thread. A comparison to the last digit that holds only
on the machine that wrote it fails here."""
import pytest

import cpu_matrix


def test_the_code_path_comparisons_hold_on_another_kernel_set_and_thread_count():
    other = cpu_matrix.other_kernel_set()
    if other is None:
        pytest.skip(f"this CPU has one kernel set only ({cpu_matrix.native()})")
    result = cpu_matrix.run(other, 1, ["tests/test_seeds.py", *cpu_matrix.FINGERPRINTS],
                            extra=["-x"])
    assert result.returncode == 0, (f"under ATEN_CPU_CAPABILITY={other} OMP_NUM_THREADS=1:\n"
                                    + result.stdout[-3000:])


def test_the_matrix_covers_every_kernel_set_up_to_this_cpus_own():
    sets = cpu_matrix.kernel_sets()
    assert sets[-1] == cpu_matrix.native()
    assert sets == list(cpu_matrix.ORDER[:len(sets)]) or len(sets) == 1


def test_a_kernel_set_torch_ignores_is_refused_not_run_on_the_native_one():
    with pytest.raises(RuntimeError, match="torch took"):
        cpu_matrix.run("no_such_set", 1, ["tests/test_cpu_matrix.py"])
