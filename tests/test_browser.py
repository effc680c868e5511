"""The dashboard as a person sees it: `streamlit run dashboard/app.py` served on loopback, every page opened in a real
headless Chromium (Playwright's Python client driving Debian's /usr/bin/chromium), checked for exceptions and drawn
charts, and photographed (full page) into $RNNLAB_SCREENSHOTS or pytest's tmp_path.
"""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("RNNLAB_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
PAGES = 8
UPLOAD = "your_model"  # no chart until a model is uploaded: test_your_model_page_reads_an_uploaded_state_dict
SETTLE_S = 90


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def playwright():
    if not (os.path.isfile(CHROMIUM) or shutil.which(CHROMIUM)):
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright Python client is not installed")
    with sync_api.sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The dashboard on a free loopback port, with its run store in a temporary folder and no IMDB reviews (the
    IMDB page as on a fresh machine); killed at the end."""
    port = _free_port()
    home = tmp_path_factory.mktemp("rnnlab_home")
    log = open(home / "streamlit.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env={**{k: v for k, v in os.environ.items() if k != "RNNLAB_IMDB_DIR"}, "RNNLAB_HOME": str(home)},
        stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.flush()
                pytest.fail(f"streamlit did not answer on {url}:\n{(home / 'streamlit.log').read_text()}")
            time.sleep(0.25)
        yield url, home
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture(scope="module")
def browser(playwright):
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
    yield browser
    browser.close()


@pytest.fixture
def screenshots(tmp_path):
    folder = Path(os.environ.get("RNNLAB_SCREENSHOTS") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _settle(page):
    """Wait until the script has run (no running indicator twice in a row, half a second apart) and every Plotly
    chart shown on the page (not in a closed tab or expander) has drawn its SVG."""
    page.wait_for_selector('[data-testid="stSidebarNav"]', timeout=SETTLE_S * 1000)
    deadline, quiet = time.monotonic() + SETTLE_S, 0
    while quiet < 2:
        assert time.monotonic() < deadline, "the page kept running for more than 90 s"
        running = page.locator('[data-testid="stStatusWidget"]').count()
        charts = page.locator(".js-plotly-plot").count()
        quiet = quiet + 1 if not running and charts else 0
        page.wait_for_timeout(500)
    page.wait_for_function("""() => [...document.querySelectorAll('.js-plotly-plot')]
        .filter(p => p.offsetParent !== null)
        .every(p => p.querySelector('.main-svg') && p.getBoundingClientRect().height > 0)""",
                           timeout=SETTLE_S * 1000)


def _screenshot(page, path):
    """The whole page: Streamlit scrolls inside its main container, so the window is made as tall as that first."""
    height = page.evaluate("""() => Math.max(...[...document.querySelectorAll(
        '[data-testid="stMain"], [data-testid="stSidebarContent"], [data-testid="stAppViewContainer"]')]
        .map(e => e.scrollHeight))""")
    width = page.viewport_size["width"]
    page.set_viewport_size({"width": width, "height": min(int(height) + 40, 12000)})
    _settle(page)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": width, "height": 1000})


def test_every_page_renders_its_charts_without_an_exception(server, browser, screenshots):
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    _settle(page)
    links = page.locator('[data-testid="stSidebarNav"] a')
    assert links.count() == PAGES
    targets = [(links.nth(i).inner_text().strip(), links.nth(i).get_attribute("href")) for i in range(PAGES)]
    for i, (title, href) in enumerate(targets):
        if urlparse(href).path.strip("/") == UPLOAD:
            continue
        page.goto(href if href.startswith("http") else url + "/" + href.lstrip("/"))
        _settle(page)
        assert page.locator('[data-testid="stException"]').count() == 0, f"{title}: an exception is shown"
        assert page.locator('[data-testid="stAlertContentError"]').count() == 0, f"{title}: an error is shown"
        assert page.locator(".js-plotly-plot").count() >= 1, f"{title}: no chart"
        _screenshot(page, screenshots / f"{i + 1}_{urlparse(href).path.strip('/') or 'overview'}.png")
    page.close()


def test_the_overview_shows_the_trained_lesson_on_its_first_screen(server, browser, screenshots):
    """At 1400×900, with an empty run store: the reach of each shipped configuration and two charts (accuracy
    against the lag, the trained models' influence) start within the first screen, drawn from rnnlab/shipped."""
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(url)
    page.wait_for_selector(".js-plotly-plot", timeout=SETTLE_S * 1000)
    _settle(page)
    tops = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')].map("
                         "e => e.getBoundingClientRect().top)")
    assert sum(top < 900 for top in tops) >= 2, tops
    titles = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')].slice(0, 2).map("
                           "e => e.layout.title.text)")
    assert [t.replace("<b>", "").replace("</b>", "") for t in titles] == [
        "Recall of the marked symbol against its lag", "Influence of x_0 on h_t, trained"]
    assert page.get_by_text("SimpleRNN: reach (steps)").count() == 1
    page.screenshot(path=str(screenshots / "overview_first_screen.png"))
    page.close()


def test_a_slider_change_redraws_the_overview_chart(server, browser):
    """Moving the length slider of the overview's curves at initialisation reruns the page and redraws that chart
    with the new length."""
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(url)
    _settle(page)
    page.get_by_text("Curves at initialisation for the preset configurations").click()
    # T steps on the expander's first curve; the chart may be missing for a moment while the page reruns
    points = "document.querySelector('[data-testid=\"stExpander\"] .js-plotly-plot')?._fullData?.[0]?.x?.length"
    page.wait_for_function(f"() => {points} === 300", timeout=SETTLE_S * 1000)
    before = page.evaluate(f"() => {points}")
    slider = page.get_by_role("slider", name="Sequence length T")
    slider.focus()
    assert before == 300
    slider.press("ArrowRight")  # the next length offered: 500
    page.wait_for_function(f"() => {points} === 500", timeout=SETTLE_S * 1000)
    _settle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.close()


def test_cancel_stops_training_on_demand_and_keeps_the_finished_runs(server, browser, screenshots):
    """Short vs long dependencies trains 8 runs on demand; Cancel stops the loop between progress updates, the page
    says so, and the runs that finished stay in the store (the button then offers only the others)."""
    url, home = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/dependencies")
    _settle(page)
    page.get_by_role("button", name="Train the 8 missing runs").click()
    page.locator('[data-testid="stProgress"]').wait_for(timeout=SETTLE_S * 1000)
    page.get_by_role("button", name="Cancel").click()
    page.get_by_text("Training cancelled").wait_for(timeout=SETTLE_S * 1000)
    _settle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stProgress"]').count() == 0
    stored = [p for p in (home / "runs").iterdir() if not p.name.startswith(".")] if (home / "runs").exists() else []
    assert len(stored) < 8
    page.get_by_role("button", name=f"Train the {8 - len(stored)} missing run").wait_for(timeout=SETTLE_S * 1000)
    _screenshot(page, screenshots / "cancelled_training.png")
    page.close()


def test_the_name_in_compare_follows_a_moved_radius(server, browser):
    """Issue 16.1: after ρ moves from 1 to 0.9 (two steps of 0.05 down), the default name in the sidebar says 0.9."""
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/memory_decay")
    _settle(page)
    name = page.get_by_label("Name in Compare")
    assert name.input_value() == "SimpleRNN h=32"
    page.get_by_text("Rescale A_h to a spectral radius ρ").click()
    _settle(page)
    slider = page.get_by_role("slider", name="Spectral radius ρ(A_h)")
    slider.focus()
    slider.press("ArrowLeft")
    slider.press("ArrowLeft")
    page.wait_for_function("() => [...document.querySelectorAll('input')].some(e => e.value === 'SimpleRNN h=32, ρ=0.9')",
                           timeout=SETTLE_S * 1000)
    _settle(page)
    assert name.input_value() == "SimpleRNN h=32, ρ=0.9"
    page.close()


def test_the_state_heat_map_counts_steps_on_its_axis(server, browser, screenshots):
    """Issue 16.4: the heat map's x ticks are step numbers (the tokens are in its hover), on the page's first
    screen."""
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{url}/trajectories")
    _settle(page)
    heat = """[...document.querySelectorAll('.js-plotly-plot')].find(
        p => p.layout.title.text.includes('Hidden state h_t, unit by unit'))"""
    ticks = page.evaluate(f"() => [...({heat}).querySelectorAll('.xtick text')].map(t => t.textContent)")
    assert len(ticks) >= 3 and all(t.replace(",", "").isdigit() for t in ticks), ticks
    steps = [int(t.replace(",", "")) for t in ticks]  # token ids are digits too, but not in step order
    assert steps[0] == 0 and steps == sorted(set(steps)), ticks
    assert page.evaluate(f"() => ({heat}).layout.xaxis.title.text") == "time step t"
    assert page.evaluate(f"() => ({heat}).getBoundingClientRect().top") < 900
    page.screenshot(path=str(screenshots / "trajectories_first_screen.png"))
    page.close()


def test_your_model_page_reads_an_uploaded_state_dict(server, browser, screenshots, tmp_path):
    """Issue 17.3: the page opens with its uploader and no exception; a PyTorch LSTM state_dict put in it shows its
    summary and parameter chart."""
    torch = pytest.importorskip("torch")
    model = torch.nn.ModuleDict({"embedding": torch.nn.Embedding(50, 8), "rnn": torch.nn.LSTM(8, 16),
                                 "fc": torch.nn.Linear(16, 1)})
    torch.save(model.state_dict(), tmp_path / "lecture.pt")
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{url}/your_model")
    page.get_by_text("No model yet: upload one above.").wait_for(timeout=SETTLE_S * 1000)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.locator('input[type="file"]').set_input_files(str(tmp_path / "lecture.pt"))
    page.get_by_text("Parameters (PyTorch's count)").wait_for(timeout=SETTLE_S * 1000)
    _settle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0
    assert page.get_by_text("PyTorch state_dict: Embedding(50, 8) → LSTM(16) → Linear(16, 1)", exact=True).count() == 1
    _screenshot(page, screenshots / "your_model.png")
    page.close()
