"""Regenerate every generated block of the README, docs/ and the notebooks' markdown from the
records in Data/, and the overview figure.

A generated block sits between two markers and holds exactly what its generator prints now
(in a notebook's py:percent file each line carries the comment's ``# ``):

    <!-- generated: results-table -->
    | Step | Model | ...
    <!-- /generated -->

    python tools/render_docs.py           # rewrite the blocks in place
    python tools/render_docs.py --check   # exit 1 and name each stale block (what the tests do)
"""
import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "benchmarks")]
import design_search  # noqa: E402
import exercises  # noqa: E402
import missed_digits  # noqa: E402
import pages  # noqa: E402
import pipeline_speed  # noqa: E402
import plots  # noqa: E402
import precise_bn  # noqa: E402
import records  # noqa: E402
import seeds_at_once  # noqa: E402
from jupytext.cli import jupytext as jupytext_cli  # noqa: E402
from steps import RECIPES  # noqa: E402

ROLE_STEP = {recipe.role: step for step, recipe in RECIPES.items()}
GENERATORS = {
    "headline-final": lambda: pages.headline(ROLE_STEP["final"]),
    "headline-frontier": lambda: pages.headline(ROLE_STEP["frontier"]),
    "frontier-gap": pages.frontier_gap,
    "frontier-best": pages.frontier_best,
    **{f"step-results-{step}": (lambda step=step: pages.step_results(step)) for step in RECIPES},
    "results-table": pages.results_table_markdown,
    "step-changes": pages.step_changes_table,
    "test-time": pages.pytest_time,
    "quick-start": pages.quick_start,
    "search-table-5": lambda: design_search.search_table(5),
    "search-table-6": lambda: design_search.search_table(6),
    "pareto-validation": lambda: design_search.pareto_table("validation"),
    "pareto-test": lambda: design_search.pareto_table("test"),
    "room-table": design_search.room_table,
    "room-verdict": design_search.room_verdict,
    "round-2-verdict": design_search.round_2_verdict,
    "round-3-verdict": design_search.round_3_verdict,
    "room-4-verdict": design_search.room_4_verdict,
    "round-4-verdict": design_search.round_4_verdict,
    "round-4-expectations": design_search.round_4_expectations,
    "round-4-table": design_search.round_4_table,
    "round-5-rule": design_search.round_5_rule,
    "earlier-choices": design_search.earlier_choices_table,
    "noise-block": pages.noise_block,
    "noise-line": pages.noise_line,
    "test-looks": pages.test_looks_table,
    "round-5-expectations": design_search.round_5_expectations,
    "round-5-table": design_search.round_5_table,
    "ablation-table": design_search.ablation_table,
    "ablation-expectations": design_search.ablation_expectations,
    "one-recipe-table": design_search.one_recipe_table,
    "one-recipe-expectations": design_search.one_recipe_expectations,
    "one-recipe-line": design_search.one_recipe_line,
}
# A block may name arguments after the generator: ``<!-- generated: results-of PATH -->``.
# Paths are relative to the repository root.
TIMING_REPORTS = {"pipeline_speed": pipeline_speed.report, "seeds_at_once": seeds_at_once.report}


def code_block(text: str) -> str:
    return f"```\n{text}\n```"


def timing_of(path: str) -> str:
    if not (ROOT / path).exists():
        return f"Not measured yet: `{path}` is written by the command above."
    record = json.loads((ROOT / path).read_text())
    return code_block(TIMING_REPORTS[record["benchmark"]](record))


ARGUMENT_GENERATORS = {
    "results-of": lambda path: code_block(records.format_results(
        records.read_results(ROOT / path))),
    "verdict-of": lambda path: pages.verdict(records.read_results(ROOT / path)) + ".",
    "room-verdict-of": lambda path: pages.verdict(records.read_results(ROOT / path),
                                                    design_search.ROOM_TARGET) + ".",
    "precise-bn": lambda path: code_block(precise_bn.summary(
        json.loads((ROOT / path).read_text()))),
    "room-table-of": lambda *names: design_search.room_table(names, seeds=None),
    "seed-profiles": lambda step, *names: design_search.seed_profile_table(int(step), *names),
    "missed-digits": missed_digits.missed_digits_table,
    "compare": lambda a, b: code_block(seeds_at_once.compare(a, b, root=ROOT)),
    "timing-of": timing_of,
    "rf-worked": lambda step: pages.receptive_field_worked(int(step)),
    "answer": lambda name: exercises.ANSWERS[name](),
    "round-4-expectations": design_search.round_4_expectations,  # the levers on this reference
    "round-4-table": design_search.round_4_table,
    "ablation-table": design_search.ablation_table,  # the full recipes whose ablation it shows
    "ablation-expectations": design_search.ablation_expectations,
}
BLOCK = re.compile(r"^(?P<prefix>(?:# )?)(?P<open><!-- generated: (?P<name>[\w-]+)"
                   r"(?P<arguments>(?: [\w./-]+)*) -->\n)"
                   r"(?P<body>.*?)^(?P=prefix)(?P<close><!-- /generated -->)", re.S | re.M)


def documents() -> list[Path]:
    """The README, docs/ and the notebooks' py:percent files (their .ipynb follow them)."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")),
            *sorted((ROOT / "notebooks").glob("step*.py"))]


def render(text: str) -> str:
    """``text`` with every generated block holding its generator's output now."""
    def fill(match):
        name, prefix, arguments = match["name"], match["prefix"], match["arguments"].split()
        if arguments and name in ARGUMENT_GENERATORS:
            text = ARGUMENT_GENERATORS[name](*arguments)
        elif not arguments and name in GENERATORS:
            text = GENERATORS[name]()
        else:
            raise KeyError(f"unknown generated block {match['open'].strip()!r}: one of "
                           f"{', '.join(GENERATORS)}, or {', '.join(ARGUMENT_GENERATORS)} "
                           "with their paths")
        body = "".join(f"{prefix}{line}".rstrip() + "\n" for line in text.split("\n"))
        return f"{prefix}{match['open']}{body}{prefix}{match['close']}"
    return BLOCK.sub(fill, text)


def blocks(text: str) -> list[str]:
    return [match["name"] for match in BLOCK.finditer(text)]


def outside_blocks(text: str) -> str:
    """``text`` without its generated blocks: what a person wrote."""
    return BLOCK.sub("", text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if a block differs from its generator")
    args = parser.parse_args()
    stale = []
    for path in documents():
        text = path.read_text()
        rendered = render(text)
        if rendered != text:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                path.write_text(rendered)
                if path.suffix == ".py" and jupytext_cli(
                        ["--update", "--to", "ipynb", "--quiet", str(path)]):
                    raise RuntimeError(f"jupytext could not update {path.with_suffix('.ipynb')}")
    if not args.check:
        plots.plot_overview()
        frontier = ROLE_STEP["frontier"]
        design_search.plot_pareto(records.plot_path(frontier, "pareto", records.RECORDED))
        design_search.plot_one_recipe(records.RECORDED / "plots" / "network_or_recipe.png")
    for path in stale:
        print(f"{path}: {'stale' if args.check else 'regenerated'}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
