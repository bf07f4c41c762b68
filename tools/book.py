"""The series as a book: build it (Sphinx + MyST-NB, ``book/conf.py``) from the README, the
notebooks with their recorded outputs and docs/, and check it in a real browser.

    pip install -r requirements-book.txt
    python tools/book.py                       # build into _build/book/html (git ignores it)
    python tools/book.py --check               # build, then check it in headless Chromium
    python tools/book.py --check --screenshots DIR   # and save the first page and step 5

The check serves the built site on 127.0.0.1 and drives Debian's Chromium with its
chromedriver (``apt-get install chromium chromium-driver``; nothing is downloaded at run time):
every page loads with no console error and nothing from another site, every image loads, every
Colab badge links to its notebook in the repository that colab.json names, "next" walks the
pages in the book's order and "previous" walks back, and search finds a page by its words.
"""
import argparse
import functools
import http.server
import json
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
BUILT = ROOT / "_build" / "book" / "html"
COLAB = json.loads((ROOT / "colab.json").read_text())
# (query, a page it must find): words a student would search for, and where they are taught
SEARCHES = [("depthwise", "notebooks/step6_separable.html"),
            ("receptive field", "notebooks/step2_skeleton.html")]
# The site's address opens the README, the book's first page. Its icon is named too: a page
# without one makes the browser ask for /favicon.ico, which is not there (a 404 in the
# console, when the redirect is slow enough for the browser to ask).
FIRST_PAGE = ('<!DOCTYPE html>\n<meta charset="utf-8">\n'
              '<link rel="icon" href="_static/favicon.svg">\n'
              '<meta http-equiv="refresh" content="0; url=README.html">\n'
              '<a href="README.html">The series</a>\n')
SCREENSHOTS = {"first_page.png": "README.html", "step5.png": "notebooks/step5_augmentation.html"}


def build(out: Path = BUILT) -> Path:
    """A fresh build; a Sphinx warning (a broken link, a missing image) fails it."""
    shutil.rmtree(out, ignore_errors=True)
    subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-E",
                    "-c", str(ROOT / "book"), str(ROOT), str(out)], check=True)
    (out / "index.html").write_text(FIRST_PAGE)
    return out


def book_order() -> list[str]:
    """The pages in reading order, as the book's contents list them."""
    sys.path.insert(0, str(ROOT / "book"))
    import conf

    return ["README.html"] + [f"{page}.html" for pages in conf.CONTENTS.values()
                              for page in pages]


def colab_url(page: str) -> str:
    """Where a notebook page's badge must point: its notebook in colab.json's repository."""
    owner_repo = re.sub(r"^https://github\.com/", "", COLAB["repo_url"].rstrip("/"))
    return (f"https://colab.research.google.com/github/{owner_repo}/blob/{COLAB['branch']}/"
            f"{page.removesuffix('.html')}.ipynb")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        """A request the browser dropped midway (it moved on to the next page) is not an
        error of the book: only those are kept quiet; anything else prints as usual."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def serve(folder: Path):
    """An HTTP server for ``folder`` on a free port of 127.0.0.1, in a thread."""
    handler = functools.partial(QuietHandler, directory=str(folder))
    server = QuietServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def browser():
    """Headless Chromium from the system's packages, with its matching chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not binary or not driver:
        sys.exit("book.py --check needs Chromium and its driver: "
                 "`apt-get install chromium chromium-driver` (Debian/Ubuntu)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,1000"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(driver))


def open_page(driver, url: str):
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, 30).until(
        lambda d: d.execute_script("return document.readyState") == "complete")


def check(out: Path = BUILT, screenshots: Path | None = None) -> list[str]:
    """Every failure, one line each (an empty list: the book passed)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    pages = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.html")
                   if not p.relative_to(out).parts[0].startswith("_"))
    server = serve(out)
    origin = f"http://127.0.0.1:{server.server_address[1]}/"
    driver = browser()
    failures, counts = [], {"images": 0, "badges": 0}
    try:
        for page in pages:
            open_page(driver, origin + page)
            if page == "index.html":
                WebDriverWait(driver, 10).until(lambda d: d.current_url.endswith("README.html"))
            errors = [entry["message"] for entry in driver.get_log("browser")
                      if entry["level"] == "SEVERE"]
            failures += [f"{page}: console error: {message}" for message in errors]
            images = driver.execute_script(
                "return Array.from(document.images).map(i => [i.src, i.complete && "
                "i.naturalWidth > 0])")
            counts["images"] += len(images)
            failures += [f"{page}: image did not load: {src}" for src, ok in images if not ok]
            outside = driver.execute_script(
                "return performance.getEntriesByType('resource').map(r => r.name)"
                ".filter(n => !n.startsWith(arguments[0]) && !n.startsWith('data:'))", origin)
            failures += [f"{page}: loads from another site: {url}" for url in outside]
            badges = [a.get_attribute("href") for a in driver.find_elements(
                By.CSS_SELECTOR, "a[href*='colab.research.google.com']")]
            counts["badges"] += len(badges)
            if page.startswith("notebooks/"):
                expected = colab_url(page)
                if badges != [expected]:
                    failures.append(f"{page}: Colab badge links {badges}, expected [{expected}]")
                if not (ROOT / page.replace(".html", ".ipynb")).exists():
                    failures.append(f"{page}: its badge names a notebook the repository lacks")
            elif badges:
                failures.append(f"{page}: a Colab badge on a page that is not a notebook")
        failures += check_navigation(driver, origin)
        failures += check_search(driver, origin)
        if screenshots:
            screenshots.mkdir(parents=True, exist_ok=True)
            for name, page in SCREENSHOTS.items():
                open_page(driver, origin + page)
                driver.save_screenshot(str(screenshots / name))
    finally:
        driver.quit()
        server.shutdown()
    print(f"book check: {len(pages)} pages, {counts['images']} images, {counts['badges']} "
          f"Colab badges, navigation over {len(book_order())} pages, {len(SEARCHES)} searches: "
          f"{len(failures)} failures")
    return failures


def check_navigation(driver, origin: str) -> list[str]:
    """'next' from the first page visits every page in the book's order; 'previous' walks
    back from the last to the first."""
    from selenium.webdriver.common.by import By

    def walk(start: str, link: str) -> list[str]:
        open_page(driver, origin + start)
        seen = [start]
        while len(seen) <= len(order):
            found = driver.find_elements(By.CSS_SELECTOR, link)
            if not found:
                break
            open_page(driver, found[0].get_attribute("href"))
            seen.append(driver.current_url.removeprefix(origin))
        return seen

    order, failures = book_order(), []
    forward = walk(order[0], "a.right-next")
    if forward != order:
        failures.append(f"navigation: 'next' from the first page visits {forward}, not {order}")
    backward = walk(order[-1], "a.left-prev")
    if backward != order[::-1]:
        failures.append(f"navigation: 'previous' from the last page visits {backward}")
    return failures


def check_search(driver, origin: str) -> list[str]:
    """The search page lists, for each query, the page that teaches it."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    failures = []
    for query, page in SEARCHES:
        open_page(driver, f"{origin}search.html?q={quote(query)}")
        try:
            WebDriverWait(driver, 30).until(lambda d: d.find_elements(
                By.CSS_SELECTOR, "#search-results li a"))
        except TimeoutException:
            failures.append(f"search {query!r}: no results")
            continue
        hits = {a.get_attribute("href").removeprefix(origin).split("#")[0].split("?")[0]
                for a in driver.find_elements(By.CSS_SELECTOR, "#search-results li a")}
        if page not in hits:
            failures.append(f"search {query!r}: {page} not among {sorted(hits)}")
    return failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true",
                        help="after building, check every page in headless Chromium")
    parser.add_argument("--screenshots", type=Path,
                        help="with --check: save the first page and step 5 as PNGs here")
    args = parser.parse_args()
    out = build()
    print(f"built: {out.relative_to(ROOT)}/index.html")
    if not args.check:
        return 0
    failures = check(out, args.screenshots)
    for failure in failures:
        print(failure)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
