"""Shared by the benchmark scripts: percentiles and writing one section of bench/RESULTS.md."""
from __future__ import annotations

import datetime as dt
import importlib.util
import os
import platform
import re
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def pct(values, p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def write_section(title: str, command: str, how: str, text: str) -> None:
    """Replace (or add) the ``## title`` section of RESULTS.md, stamped with date and machine."""
    head = (f"## {title}\n\nMeasured {dt.date.today()} on {platform.machine()}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}, `{command}` ({how}):\n\n")
    old = RESULTS.read_text("utf-8") if RESULTS.exists() else "# Benchmark results\n"
    old = re.sub(rf"\n## {re.escape(title)}\n.*?(?=\n## |\Z)", "\n", old, flags=re.S)
    RESULTS.write_text(old.rstrip("\n") + "\n\n" + head + text + "\n", "utf-8")


def report(lines: list[str], title: str, command: str, how: str, write: bool) -> None:
    """Print the result table and, with --write, store it as the ``title`` section."""
    text = "\n".join(lines)
    print(text)
    if write:
        write_section(title, command, how, text)


def load_bench(name: str):
    """Another benchmark script (bench/NAME.py) as a module, to share its generators."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", Path(__file__).resolve().parent / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_generator():
    """bench/web.py's ``generate``: articles made from the starter KB, shuffled."""
    return load_bench("web").generate
