"""What an incremental build of a large knowledge base shares with the live generation instead
of copying it: the vector matrices and their projections, and the keyword impacts.

Matrices (kb/core/matrix.py, kb/core/projection.py): the rows the live generation already holds
in its base are linked, not copied; every other row — new, changed, or in the live tail — goes
to a new tail, laid out by language group and projected anew. Only when the live matrix has a
projection (more than ``projection.EXACT_ROWS`` rows): smaller matrices are rewritten whole,
which costs little. ``write`` answers False, and the caller writes one file, when the tail and
the base rows no chunk uses any more would pass ``matrix.COMPACT_SHARE`` of the rows, or when
the file system cannot link.

Impacts (kb/core/impact.py), from ``SHARED_FROM`` articles on: the live generation's shared
impacts are linked; the articles added or changed since they were written are counted in a
small delta, weighted with the shared impacts' own statistics (``impact.Frozen``), and the
shared rows of changed and removed articles are listed as dead. The statistics therefore stay
those of the last whole write until the delta and the dead rows pass ``IMPACT_SHARE`` of the
articles, and the next build writes them whole again: an article's keyword score after a few
edits differs from a full build's by what those edits move idf and the average lengths (at
100k articles, well under a percent).
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb.core import impact
from kb.core import matrix as matrices
from kb.core import projection
from kb.core.projection import Projection


def write(gen: Path, live: Path, encoder: str, n: int, dim: int, old, before: Projection | None,
          src: np.ndarray, need_rows: np.ndarray, fresh_rows: np.ndarray | None, zh: np.ndarray) -> bool:
    """Write ``encoder``'s matrix of ``n`` rows and its projection in generation ``gen`` as
    shared with the live generation at ``live`` (its matrix ``old`` and projection ``before``):
    row i is the live row ``src[i]`` where that is not -1 (a row the encoder does not read is
    zero there too), the i-th of ``fresh_rows`` where it is in ``need_rows``, else zero. False:
    nothing was written."""
    if before is None or not projection.needs_projection(n):
        return False
    base, base_at = matrices.base_of(old)
    at = np.full(n, -1, dtype=np.int64)
    taken = np.flatnonzero(src >= 0)
    at[taken] = base_at[src[taken]]
    outside = np.flatnonzero(at < 0)                  # rows the new tail holds
    unused = len(base) - (n - len(outside))           # rows of the base no chunk uses any more
    if len(outside) + unused > matrices.COMPACT_SHARE * n:
        return False
    zh = np.asarray(zh, dtype=bool)
    tail_rows = np.concatenate([outside[~zh[outside]], outside[zh[outside]]])
    tail = np.zeros((len(tail_rows), dim), dtype=np.float32)
    from_live = src[tail_rows] >= 0
    if from_live.any():
        tail[from_live] = old[src[tail_rows[from_live]]]
    if fresh_rows is not None and len(need_rows):
        fresh_at = np.full(n, -1, dtype=np.int64)
        fresh_at[need_rows] = np.arange(len(need_rows))
        got = fresh_at[tail_rows]
        tail[got >= 0] = fresh_rows[got[got >= 0]]
    where = at
    where[tail_rows] = len(base) + np.arange(len(tail_rows))
    try:
        matrices.write_shared(gen, encoder, matrices.base_file(live, encoder), tail, where)
        projected = Projection(before.basis, tail @ before.basis, tail_rows.astype(np.int32),
                               int(np.count_nonzero(~zh[tail_rows])))
        projection.save_shared(gen, encoder, live, before.basis, where, len(base), projected)
    except OSError:
        for f in (*matrices.files(gen, encoder), *projection.files(gen, encoder), *projection.shared_files(gen, encoder)):
            Path(f).unlink(missing_ok=True)
        return False
    return True


SHARED_FROM = 10_000        # articles from which the impacts are shared (below, a whole write is fast)
IMPACT_SHARE = 1 / 32       # delta and dead articles beyond this share of them: written whole again


def _links(src: Path, probe: Path) -> bool:
    try:
        os.link(src, probe)
    except OSError:
        return False
    probe.unlink()
    return True


def _ids(folder: Path) -> list[str]:
    return json.loads((Path(folder) / "ids.json").read_text("utf-8")) if (Path(folder) / "ids.json").exists() else []


def carry(writer: impact.ImpactWriter, live: Path, kept: list[str]) -> None:
    """Copy the counts of the articles ``kept`` from the live impacts folder ``live`` into
    ``writer``: from its delta those counted there, the others from the shared rows."""
    delta = set(_ids(live / impact.DELTA))
    writer.carry([i for i in kept if i not in delta], live)
    if delta:
        writer.carry([i for i in kept if i in delta], live / impact.DELTA)


@dataclass
class ImpactPlan:
    """How a build writes its impacts: whole, from ``writer`` (``dead`` None), or as a delta
    counted in ``writer`` on the shared impacts of ``live``, whose rows ``dead`` no article
    uses any more. The build adds the articles it parses to ``writer``."""
    writer: impact.ImpactWriter
    live: Path | None = None
    dead: np.ndarray | None = None

    def write(self, folder: Path) -> None:
        if self.dead is None:
            self.writer.write(folder)
            return
        folder = Path(folder)
        folder.mkdir(parents=True)
        for f in self.live.iterdir():
            if f.is_file() and f.name != impact.DEAD:
                os.link(f, folder / f.name)
        np.save(folder / impact.DEAD, self.dead.astype(np.int64))
        self.writer.write(folder / impact.DELTA, impact.Frozen(self.live))


def impact_plan(live: Path | None, kept: list[str], added: int, gen: Path) -> ImpactPlan:
    """The plan of a build keeping the articles ``kept`` and counting ``added`` anew, on the
    live impacts folder ``live`` (None: a full build), into generation folder ``gen``: a delta
    when the live impacts may be shared, else whole, the kept articles carried over."""
    if live is None:
        return ImpactPlan(impact.ImpactWriter())
    shared_ids = _ids(live)
    if len(shared_ids) >= SHARED_FROM and _links(live / "ids.json", Path(gen) / ".link-check"):
        keep = set(kept)
        alive = np.fromiter((i in keep for i in shared_ids), dtype=bool, count=len(shared_ids))
        if (live / impact.DEAD).exists():
            alive[np.load(live / impact.DEAD)] = False
        dead = np.flatnonzero(~alive)
        carried = [i for i in _ids(live / impact.DELTA) if i in keep]
        if len(dead) + len(carried) + added <= IMPACT_SHARE * (len(kept) + added):
            writer = impact.ImpactWriter()
            writer.carry(carried, live / impact.DELTA)
            return ImpactPlan(writer, live, dead)
    writer = impact.ImpactWriter()           # written whole (also where the file system cannot link)
    carry(writer, live, kept)
    return ImpactPlan(writer)
