"""Shared by the benchmark scripts: percentiles and writing one section of bench/RESULTS.md."""
from __future__ import annotations

import datetime as dt
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
