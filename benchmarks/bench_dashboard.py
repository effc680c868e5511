"""How fast the dashboard answers, page by page, through Streamlit's AppTest (the script run a browser waits for).

    python benchmarks/bench_dashboard.py [--repeat 3]

cold:     a fresh Python process renders the page: importing torch and rnnlab, building the models at
          initialisation and measuring them (what the first visitor of a just-started app waits for; the
          interpreter and Streamlit itself are already loaded, as in a running server). Target: 2 s.
rerender: then one slider (or number) changes to a value not seen before, so nothing comes from the cache, and
          the page runs again. Target: 0.5 s (for sequences of T ≤ 1,000).

Each figure is the median over --repeat fresh processes. The run store is a temporary folder.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
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


def measure(page, home):
    kind, label, value = PAGES[page]
    app = str(ROOT / "dashboard" / "app.py")
    out = subprocess.run([sys.executable, "-c", CHILD, app, page, kind, label, json.dumps(value)],
                         capture_output=True, text=True, env={**os.environ, "RNNLAB_HOME": home}, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["errors"]:
        raise RuntimeError(f"{page}: {result['errors']}")
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="fresh processes per page (median reported)")
    args = parser.parse_args(argv)
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
