"""Point every notebook's Colab badge and bootstrap clone at the repository named in colab.json.

    python tools/set_repo_url.py                      # rewrite the notebooks from colab.json
    python tools/set_repo_url.py --url https://github.com/me/my-fork [--branch dev]
                                                      # a fork: write colab.json, then rewrite
    python tools/set_repo_url.py --check              # change nothing; exit 1 naming each
                                                      # notebook that disagrees with colab.json

colab.json is the one place that says where the notebooks come from: {"repo_url", "branch"}.
Each notebook carries it twice, because on Colab the notebook runs before the repository is
there: the badge in its first markdown cell
(https://colab.research.google.com/github/<owner>/<repo>/blob/<branch>/notebooks/<name>.ipynb)
and, in its bootstrap (first code cell), the REPO_URL default and the BRANCH that are cloned.
The tool edits the py:percent scripts, then updates each paired .ipynb the way
``jupytext --update --to ipynb`` does, so the recorded outputs stay.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import jupytext
from jupytext.cli import jupytext as jupytext_cli

ROOT = Path(__file__).resolve().parent.parent
CONFIG = "colab.json"
GITHUB = re.compile(r"^https://github\.com/(?P<owner>[\w.-]+)/(?P<repo>[\w.-]+?)(?:\.git)?/?$")
BADGE = re.compile(r"https://colab\.research\.google\.com/github/[^)\s]*?/notebooks/"
                   r"(?P<name>[\w.-]+)\.ipynb")
CLONE = re.compile(r'^(?P<head>REPO_URL = os\.environ\.get\("MNIST_REPO_URL", )"[^"]*"\)',
                   re.MULTILINE)
BRANCH = re.compile(r'^(?P<head>BRANCH = )"[^"]*"', re.MULTILINE)


def scripts(root: Path = ROOT) -> list[Path]:
    return sorted((Path(root) / "notebooks").glob("*.py"))


def load(root: Path = ROOT) -> dict:
    config = json.loads((Path(root) / CONFIG).read_text())
    owner_repo(config["repo_url"])  # refuse a URL the badge cannot open
    return {"repo_url": config["repo_url"], "branch": config.get("branch") or "main"}


def save(url: str, branch: str = "main", root: Path = ROOT) -> dict:
    config = {"repo_url": url.rstrip("/").removesuffix(".git"), "branch": branch}
    owner_repo(config["repo_url"])
    (Path(root) / CONFIG).write_text(json.dumps(config, indent=2) + "\n")
    return config


def owner_repo(url: str) -> tuple[str, str]:
    match = GITHUB.match(url)
    if not match:
        raise ValueError(f"{url!r} is not https://github.com/<owner>/<repo>: "
                         "Colab opens notebooks from GitHub only")
    return match["owner"], match["repo"]


def badge_url(config: dict, name: str) -> str:
    owner, repo = owner_repo(config["repo_url"])
    return (f"https://colab.research.google.com/github/{owner}/{repo}/blob/{config['branch']}"
            f"/notebooks/{name}.ipynb")


def clone_line(config: dict) -> str:
    return f'REPO_URL = os.environ.get("MNIST_REPO_URL", "{config["repo_url"]}")'


def branch_line(config: dict) -> str:
    return f'BRANCH = "{config["branch"]}"'


def expected_text(text: str, config: dict, name: str) -> str:
    """The script text with its badge(s), clone URL and branch set from ``config``."""
    text = BADGE.sub(lambda m: badge_url(config, m["name"]), text)
    text = CLONE.sub(lambda m: clone_line(config), text)
    return BRANCH.sub(lambda m: branch_line(config), text)


def disagreements(root: Path = ROOT) -> list[str]:
    """One line per notebook (script or .ipynb) whose badge or clone disagrees with colab.json."""
    root = Path(root)
    config = load(root)
    problems = []
    for script in scripts(root):
        for path in (script, script.with_suffix(".ipynb")):
            wrong = what_disagrees(path, config)
            if wrong:
                problems.append(f"{path.relative_to(root)}: {', '.join(wrong)} "
                                f"disagree(s) with {CONFIG}")
    return problems


def what_disagrees(path: Path, config: dict) -> list[str]:
    """What in this notebook (script or .ipynb) differs from ``config``: badge, clone URL,
    branch (the badge in the first markdown cell, the others in the first code cell)."""
    if not path.is_file():
        return ["missing file"]
    cells = jupytext.read(path).cells
    markdown = next((c.source for c in cells if c.cell_type == "markdown"), "")
    code = next((c.source for c in cells if c.cell_type == "code"), "").splitlines()
    wrong = []
    if [m[0] for m in BADGE.finditer(markdown)] != [badge_url(config, path.stem)]:
        wrong.append("badge")
    if clone_line(config) not in code:
        wrong.append("clone URL")
    if branch_line(config) not in code:
        wrong.append("branch")
    return wrong


def rewrite(root: Path = ROOT, url: str | None = None, branch: str | None = None) -> list[Path]:
    """Write colab.json when ``url`` is given, then set every notebook from it; return the
    scripts that changed. A paired .ipynb is updated from its script (outputs kept) when the
    script changed or the .ipynb itself disagrees."""
    root = Path(root)
    config = save(url, branch or "main", root) if url else load(root)
    changed = []
    for script in scripts(root):
        text = script.read_text()
        new = expected_text(text, config, script.stem)
        notebook = script.with_suffix(".ipynb")
        if new == text and not what_disagrees(notebook, config):
            continue
        script.write_text(new)
        update = ["--update"] if notebook.is_file() else []  # --update keeps outputs and ids
        if jupytext_cli([*update, "--to", "ipynb", "--quiet", str(script)]):
            raise RuntimeError(f"jupytext could not update {notebook}")
        changed.append(script)
    return changed


def main(argv: list[str] | None = None, root: Path = ROOT) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="the repository (a fork): written to colab.json first")
    parser.add_argument("--branch", help="with --url: the branch (default main)")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 naming each notebook that disagrees")
    args = parser.parse_args(argv)
    if args.branch and not args.url:
        parser.error("--branch goes with --url (or edit colab.json)")
    if args.check and args.url:
        parser.error("--check changes nothing: give it without --url")
    try:
        if args.check:
            problems = disagreements(root)
            for line in problems:
                print(line, file=sys.stderr)
            return 1 if problems else 0
        for script in rewrite(root, args.url, args.branch):
            print(f"set {script.relative_to(root).with_suffix('')} (.py and .ipynb) from {CONFIG}")
        if Path(root) == ROOT:  # the README's clone line is a generated block
            import render_docs

            readme = ROOT / "README.md"
            readme.write_text(render_docs.render(readme.read_text()))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
