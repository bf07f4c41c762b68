"""The series as a book (Sphinx + MyST-NB): the README is its first page, then every notebook in
step order with its recorded outputs (nothing is executed), then docs/. Each page is built from
its one source in place; this file only orders them and fixes what a site needs:

- the README's table of contents is added as it is read (``add_contents``), so the README
  itself stays a plain page on GitHub;
- a link to a repository file that is not a page of the book (``src/utils.py``, ``Data``)
  points at that file on GitHub, in the repository and branch of ``colab.json``
  (``link_repository_files``);
- the Colab badge's picture is served from the book itself (``_static/colab-badge.svg``), so
  a page loads nothing from another site; the badge still links to Colab.

    python tools/book.py            # build into _build/book/html (git ignores it)
"""
import json
import os
from pathlib import Path

from docutils import nodes
from sphinx import addnodes

ROOT = Path(__file__).resolve().parents[1]
COLAB = json.loads((ROOT / "colab.json").read_text())
REPO_URL, BRANCH = COLAB["repo_url"].rstrip("/"), COLAB["branch"]
COLAB_BADGE = "https://colab.research.google.com/assets/colab-badge.svg"

STEPS = [p.stem for p in sorted((ROOT / "notebooks").glob("step*.ipynb"))] + ["your_turn"]
USING = ["using_the_series"]
RESEARCH = ["noise", "research_log", "step5_room", "step5_ablation", "frontier_search",
            "network_or_recipe"]
CONTENTS = {"The steps": [f"notebooks/{name}" for name in STEPS],
            "Using the series": [f"docs/{name}" for name in USING],
            "Research": [f"docs/{name}" for name in RESEARCH]}

project = "A tiny CNN for MNIST, step by step"
author = "the series' authors"
root_doc = "README"
include_patterns = ["README.md", "docs/*.md", "notebooks/*.ipynb"]
exclude_patterns = ["_build", ".venv", "runs"]
extensions = ["myst_nb"]
myst_enable_extensions = ["dollarmath"]
myst_heading_anchors = 3
nb_execution_mode = "off"  # the recorded outputs, as committed
nb_merge_streams = True
html_theme = "sphinx_book_theme"
html_title = project
html_static_path = ["_static"]
html_favicon = "_static/favicon.svg"  # else the browser asks for /favicon.ico, which is not there
html_context = {"default_mode": "light"}  # the theme's colours before a reader picks any
html_theme_options = {
    "repository_url": REPO_URL,
    "repository_branch": BRANCH,
    "use_repository_button": True,
    "show_navbar_depth": 1,
    "navigation_with_keys": True,
}
html_last_updated_fmt = None
suppress_warnings = ["myst.header"]  # a notebook's first heading is its title, then "##"


def add_contents(app, docname, source):
    """Append the book's table of contents to the README as Sphinx reads it."""
    if docname != root_doc:
        return
    for caption, pages in CONTENTS.items():
        entries = "\n".join(pages)
        source[0] += f"\n\n```{{toctree}}\n:hidden:\n:caption: {caption}\n\n{entries}\n```\n"


def repository_url(target: str, docname: str) -> str | None:
    """The GitHub address of a relative link to a file or folder of the repository that is not
    a page of the book, or None."""
    if "://" in target or target.startswith(("#", "mailto:")):
        return None
    path = (ROOT / Path(docname).parent / target.split("#")[0]).resolve()
    if not path.exists() or ROOT not in path.parents:
        return None
    relative = path.relative_to(ROOT).as_posix()
    if path.suffix in (".md", ".ipynb") and any(
            relative == f"{page}{path.suffix}" or (relative == "README.md" and page == root_doc)
            for page in [root_doc, *sum(CONTENTS.values(), [])]):
        return None  # a page of the book: Sphinx links it
    return f"{REPO_URL}/{'tree' if path.is_dir() else 'blob'}/{BRANCH}/{relative}"


def link_repository_files(app, doctree):
    """As a page is read, before Sphinx collects its downloads and images: a link to a
    repository file that is not a page goes to GitHub; the badge's picture is the book's."""
    docname = app.env.docname
    for node in [*doctree.findall(addnodes.download_reference),  # a file
                 *doctree.findall(addnodes.pending_xref)]:  # a folder, or a page
        url = repository_url(node.get("reftarget", ""), docname)
        if url:
            node.replace_self(nodes.reference("", "", *node.children, refuri=url))
    badge = "/book/_static/colab-badge.svg"  # from the source folder: Sphinx copies it
    for image in doctree.findall(nodes.image):
        if image["uri"] == COLAB_BADGE:
            image["uri"] = badge


def setup(app):
    app.connect("source-read", add_contents)
    app.connect("doctree-read", link_repository_files, priority=100)
    return {"parallel_read_safe": True}
