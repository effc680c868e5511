"""How fast the dashboard answers, page by page, through Streamlit's AppTest (the script run a browser waits for)
and in a headless browser.

    python benchmarks/bench_dashboard.py [--repeat 3]
    python benchmarks/bench_dashboard.py --browser [--rounds 3] [--against /work/main]
    python benchmarks/bench_dashboard.py --gated [--repeat 3]

cold:     a fresh Python process renders the page: importing torch and rnnlab, building the models at
          initialisation and measuring them (what the first visitor of a just-started app waits for; the
          interpreter and Streamlit itself are already loaded, as in a running server). Target: 2 s.
rerender: then one slider (or number) changes to a value not seen before, so nothing comes from the cache, and
          the page runs again. Target: 0.5 s (for sequences of T ≤ 1,000).

Each figure is the median over --repeat fresh processes. The run store is a temporary folder.

--gated: Memory decay, Compare and State trajectories with an LSTM or a GRU (h = 32) at T = 10,000, set before
the cold render; the re-render follows a new random sequence (seed), which measures everything again. Target: 1 s
(issue 15). Compare holds the lecture's SimpleRNN and an LSTM (its start), plus a GRU in the GRU row.

--browser: `streamlit run dashboard/app.py` on a free loopback port, and for each page a fresh browser context (a
new session, an empty HTTP cache) in Playwright's headless /usr/bin/chromium: seconds from page.goto to the first
chart's SVG (`.js-plotly-plot .main-svg`). Round 1 follows the server's start (cold process caches), the later
rounds are new sessions on the warm server, which is what the target (2 s) is about. --against serves another
checkout too (its own .streamlit/config.toml included), each of its pages timed right after this one's.
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COLD_TARGET, RERENDER_TARGET = 2.0, 0.5

# page file, (widget type, label, new value): a change a person makes, with T ≤ 1,000
PAGES = {
    "overview": ("select_slider", "Sequence length T", 500),
    "parameters": ("number_input", "State size h", 64),
    "trajectories": ("select_slider", "Length T", 200),
    "memory_decay": ("slider", "State size h", 48),
    "dependencies": ("slider", "Sequence length T", 30),
    "compare": ("select_slider", "Length T", 1000),
}

CHILD = r"""
import json, sys, time
from streamlit.testing.v1 import AppTest
app, page, kind, label, value = sys.argv[1:6]
at = AppTest.from_file(app, default_timeout=120)
if page != "overview":
    at.switch_page(f"views/{page}.py")
else:  # the curves at initialisation, measured only once their expander is open
    at.session_state["overview.curves"] = True
start = time.perf_counter()
at.run()
cold = time.perf_counter() - start
widget = [w for w in getattr(at, kind) if w.label == label][0]
widget.set_value(json.loads(value))
start = time.perf_counter()
at.run()
rerender = time.perf_counter() - start
errors = [str(e.value) for e in at.exception] + [str(e.value) for e in at.error]
print(json.dumps({"cold": cold, "rerender": rerender, "errors": errors}))
"""


# the gated rows: page -> (its widgets' key prefix, T), set with the cell's preset before the cold render
GATED_TARGET = 1.0
GATED_PRESETS = {"lstm": "LSTM, same state size", "gru": "GRU, same state size"}
GATED_PAGES = {"memory_decay": ("decay", 10_000), "compare": ("compare", 10_000), "trajectories": ("traj", 10_000)}
GATED_CHILD = r"""
import json, sys, time
from streamlit.testing.v1 import AppTest
app, page, cell, preset, key, length = sys.argv[1:7]
at = AppTest.from_file(app, default_timeout=300)
at.switch_page(f"views/{page}.py")
at.session_state[f"{key}.length.wanted"] = int(length)
if page != "compare":
    at.session_state[f"{key}.preset"] = preset
start = time.perf_counter()
at.run()
if page == "compare" and cell == "gru":  # it starts with the SimpleRNN and an LSTM
    at.selectbox(key="compare.add_preset").set_value(preset).run()
    at.button(key="compare.add").click().run()
cold = time.perf_counter() - start
at.number_input(key=f"{key}.seed").set_value(1)
start = time.perf_counter()
at.run()
rerender = time.perf_counter() - start
errors = [str(e.value) for e in at.exception] + [str(e.value) for e in at.error]
print(json.dumps({"cold": cold, "rerender": rerender, "errors": errors}))
"""


def gated_rows(repeat):
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"{'page':<14} {'cell':<5} {'T':>7} {'cold s':>7} {'rerender s':>11} {'/ 1 s':>6}")
    with tempfile.TemporaryDirectory() as home:
        for page, (key, length) in GATED_PAGES.items():
            for cell, preset in GATED_PRESETS.items():
                runs = [measure(page, home, GATED_CHILD, cell, preset, key, length) for _ in range(repeat)]
                rerender = statistics.median(r["rerender"] for r in runs)
                print(f"{page:<14} {cell:<5} {length:>7,} {statistics.median(r['cold'] for r in runs):>7.2f} "
                      f"{rerender:>11.3f} {rerender / GATED_TARGET:>6.2f}", flush=True)
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; median of {repeat} fresh "
          "processes; rerender: a new random sequence (seed), measured again from scratch")


def measure(page, home, child=CHILD, *args):
    args = args or PAGES[page][:2] + (json.dumps(PAGES[page][2]),)
    app = str(ROOT / "dashboard" / "app.py")
    out = subprocess.run([sys.executable, "-c", child, app, page, *map(str, args)], cwd=ROOT,  # cwd: its rnnlab
                         capture_output=True, text=True, env={**os.environ, "RNNLAB_HOME": home}, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["errors"]:
        raise RuntimeError(f"{page}: {result['errors']}")
    return result


BROWSER_PAGES = ("overview", "parameters", "trajectories", "memory_decay", "dependencies", "compare", "imdb")
CHROMIUM = os.environ.get("RNNLAB_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]  # as tests/test_browser.py


# The floor: Streamlit and Plotly's bundle in a fresh browser, one tiny chart, no page code.
FLOOR = """import plotly.graph_objects as go
import streamlit as st
st.title("floor")
st.plotly_chart(go.Figure(go.Scatter(y=[1, 3, 2])))
"""


def serve(home, script="dashboard/app.py", root=ROOT):
    """`streamlit run script` from `root` (whose .streamlit/config.toml it reads) on a free loopback port, its run
    store in `home`: (process, url) once it answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port),
         "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
        cwd=root, env={**{k: v for k, v in os.environ.items() if k != "RNNLAB_IMDB_DIR"}, "RNNLAB_HOME": home},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return proc, url
        except OSError:
            time.sleep(0.25)
    proc.kill()
    raise RuntimeError(f"streamlit did not answer on {url}")


def first_chart(browser, url):
    """(seconds from page.goto in a fresh context, a new session, to the first chart's SVG; seconds to the
    websocket frame that carries the first chart, i.e. what the server's script run adds before the browser
    draws)."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    sent = []

    def received(frame):  # a chart's delta carries Plotly's JSON spec, the only one with a "layout"
        if not sent and b'"layout"' in (frame if isinstance(frame, bytes) else frame.encode()):
            sent.append(time.perf_counter())

    page.on("websocket", lambda ws: ws.on("framereceived", received))
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(".js-plotly-plot .main-svg", timeout=120_000)
    seconds = time.perf_counter() - start
    context.close()
    return seconds, sent[0] - start


def browser_rows(rounds, against=None):
    """The rows of --browser; with `against` (another checkout), its pages too, each right after this one's in the
    same round (rows "page @"), so that a change is measured against its base under the same load."""
    from playwright.sync_api import sync_playwright

    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    tags = ("", " @") if against else ("",)
    pages = [(page, tag) for page in BROWSER_PAGES for tag in tags]
    times = {page: [] for page in ["floor"] + [page + tag for page, tag in pages]}
    with tempfile.TemporaryDirectory() as home, sync_playwright() as pw:
        floor_script = Path(home) / "floor.py"
        floor_script.write_text(FLOOR)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        servers = [serve(home, str(floor_script)), serve(home)] + ([serve(home, root=against)] if against else [])
        urls = {"": servers[1][1], " @": servers[-1][1]}
        try:
            for _ in range(rounds):
                times["floor"].append(first_chart(browser, servers[0][1]))
                for page, tag in pages:
                    url = urls[tag] if page == "overview" else f"{urls[tag]}/{page}"
                    times[page + tag].append(first_chart(browser, url))
        finally:
            for proc, _ in servers:
                proc.terminate()
                proc.wait()
            browser.close()
    nan = float("nan")
    print(f"{'page':<14} {'cold s':>7} {'warm s':>7} {'/ 2 s':>6} {'/ floor':>8} {'sent s':>7}   warm rounds")
    for page, t in times.items():
        warm = statistics.median(x for x, _ in t[1:]) if rounds > 1 else nan
        sent = statistics.median(x for _, x in t[1:]) if rounds > 1 else nan
        # page ÷ floor within each round, which the same load slowed alike, then the median over the rounds
        paired = statistics.median(x / f for (x, _), (f, _) in zip(t[1:], times["floor"][1:])) if rounds > 1 else nan
        print(f"{page:<14} {t[0][0]:>7.2f} {warm:>7.2f} {warm / COLD_TARGET:>6.2f} {paired:>8.2f} {sent:>7.2f}   "
              + " ".join(f"{x:.2f}" for x, _ in t[1:]), flush=True)
    if against:
        print(f"page @: the pages of {against}")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; cold: round 1 after the "
          f"servers' start; warm: median of {rounds - 1} later rounds, each page in a fresh session; / floor: median "
          "over those rounds of the page's time over the floor's in the same round (a one-chart Streamlit script); "
          "sent: when the websocket frame with the first chart arrived")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per page (median reported)")
    parser.add_argument("--browser", action="store_true",
                        help="time to the first chart in headless Chromium instead of AppTest's script runs")
    parser.add_argument("--rounds", type=int, default=3, help="--browser: rounds over the pages (the first cold)")
    parser.add_argument("--against", metavar="CHECKOUT",
                        help="--browser: also time the pages of another checkout (e.g. main's) in the same rounds")
    parser.add_argument("--gated", action="store_true",
                        help="Memory decay, Compare and State trajectories with an LSTM or GRU at T = 10,000")
    args = parser.parse_args(argv)
    if args.browser:
        return browser_rows(args.rounds, args.against)
    if args.gated:
        return gated_rows(args.repeat)
    print(f"{'page':<14} {'cold s':>7} {'/ 2 s':>6} {'rerender s':>11} {'/ 0.5 s':>8}")
    with tempfile.TemporaryDirectory() as home:
        for page in PAGES:
            runs = [measure(page, home) for _ in range(args.repeat)]
            cold = statistics.median(r["cold"] for r in runs)
            rerender = statistics.median(r["rerender"] for r in runs)
            print(f"{page:<14} {cold:>7.2f} {cold / COLD_TARGET:>6.2f} {rerender:>11.3f} "
                  f"{rerender / RERENDER_TARGET:>8.2f}", flush=True)
    print(f"(ratios below 1 meet the targets; median of {args.repeat} fresh processes, {os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
