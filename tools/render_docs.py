"""Regenerate every generated block of the README and docs/ from the records in Data/.

A generated block sits between two markers and holds exactly what its generator prints now:

    <!-- generated: results-table -->
    | Step | Model | ...
    <!-- /generated -->

    python tools/render_docs.py           # rewrite the blocks in place
    python tools/render_docs.py --check   # exit 1 and name each stale block (what the tests do)
"""
import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "benchmarks")]
import design_search  # noqa: E402
import records  # noqa: E402

GENERATORS = {
    "results-table": records.results_table_markdown,
    "search-table-5": lambda: design_search.search_table(5),
    "pareto-validation": lambda: design_search.pareto_table("validation"),
    "pareto-test": lambda: design_search.pareto_table("test"),
}
BLOCK = re.compile(r"(<!-- generated: ([\w-]+) -->\n)(.*?)(<!-- /generated -->)", re.S)


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def render(text: str) -> str:
    """``text`` with every generated block holding its generator's output now."""
    def fill(match):
        name = match.group(2)
        if name not in GENERATORS:
            raise KeyError(f"unknown generated block {name!r}: one of {', '.join(GENERATORS)}")
        return f"{match.group(1)}{GENERATORS[name]()}\n{match.group(4)}"
    return BLOCK.sub(fill, text)


def blocks(text: str) -> list[str]:
    return [match.group(2) for match in BLOCK.finditer(text)]


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
    for path in stale:
        print(f"{path}: {'stale' if args.check else 'regenerated'}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
