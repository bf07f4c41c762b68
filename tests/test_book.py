"""The book's sources and links (book/conf.py, tools/book.py): every notebook and docs page is
in it once, in step order; a link to a repository file that is not a page goes to that file on
GitHub; a notebook's Colab badge is checked against the address colab.json gives. The build
and the browser check themselves run in .ci/run (``python tools/book.py --check``)."""
import importlib.util
import json

import pytest

import utils

pytest.importorskip("sphinx", reason="the book's tools: pip install -r requirements-book.txt")
ROOT = utils.REPO_ROOT


def load(path):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


conf, book = load(ROOT / "book" / "conf.py"), load(ROOT / "tools" / "book.py")


def test_the_book_holds_every_notebook_in_step_order_and_every_docs_page_once():
    pages = [page for pages in conf.CONTENTS.values() for page in pages]
    assert len(pages) == len(set(pages))
    notebooks = [p for p in pages if p.startswith("notebooks/")]
    assert notebooks == [f"notebooks/{p.stem}" for p in sorted((ROOT / "notebooks").glob(
        "step*.ipynb"))] + ["notebooks/your_turn"]
    assert sorted(p for p in pages if p.startswith("docs/")) == sorted(
        f"docs/{p.stem}" for p in (ROOT / "docs").glob("*.md"))
    assert book.book_order() == ["README.html"] + [f"{page}.html" for page in pages]


def test_the_readme_gets_the_contents_as_it_is_read_and_no_other_page_does():
    readme, other = ["# The series\n"], ["# A page\n"]
    conf.add_contents(None, conf.root_doc, readme)
    conf.add_contents(None, "docs/research_log", other)
    assert other == ["# A page\n"]
    assert readme[0].count("```{toctree}") == len(conf.CONTENTS)
    assert all(page in readme[0] for pages in conf.CONTENTS.values() for page in pages)


def test_a_link_to_a_repository_file_that_is_not_a_page_goes_to_github():
    url, branch = json.loads((ROOT / "colab.json").read_text()).values()
    url = url.rstrip("/")
    assert conf.repository_url("src/utils.py", "README") == f"{url}/blob/{branch}/src/utils.py"
    assert conf.repository_url("../Data/tuning", "docs/research_log") == \
        f"{url}/tree/{branch}/Data/tuning"
    assert conf.repository_url("docs/step5_room.md", "README") is None  # a page: Sphinx's
    assert conf.repository_url("step5_room.md", "docs/frontier_search") is None
    assert conf.repository_url("notebooks/step1_setup.ipynb", "README") is None
    assert conf.repository_url("https://pytorch.org", "README") is None
    assert conf.repository_url("no_such_file.py", "README") is None
    assert conf.repository_url("../../shared", "docs/research_log") is None  # beside the repo


@pytest.mark.parametrize("notebook", sorted((ROOT / "notebooks").glob("*.py")),
                         ids=lambda p: p.stem)
def test_the_badge_the_check_expects_is_the_one_each_notebook_carries(notebook):
    assert f"({book.colab_url(f'notebooks/{notebook.stem}.html')})" in notebook.read_text()


def test_every_page_names_its_icon_so_the_browser_asks_for_no_missing_one():
    """Sphinx's pages carry html_favicon; the first page, written by tools/book.py, carries it
    too (without it the browser may ask for /favicon.ico: a 404 in the console check)."""
    icon = f'<link rel="icon" href="_static/{conf.html_favicon.split("/")[-1]}">'
    assert icon in book.FIRST_PAGE and (ROOT / "book" / conf.html_favicon).is_file()
