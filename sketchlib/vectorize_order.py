"""Step 5 of :mod:`sketchlib.vectorize`: order the skeleton's pixels into pen paths (the tracer's walk).

:func:`order_paths` (re-exported by :mod:`sketchlib.vectorize`, where the whole
pipeline is described) walks the 8-connected skeleton graph into paths the way
a hand would draw them.
"""

from __future__ import annotations

import numpy as np

__all__ = ["order_paths"]  # and _order, the walk with its counts, for vectorize()

#: The 8 neighbours ``(dx, dy)``: the four edge neighbours first, then the diagonals.
_NEIGHBOURS = np.array([(1, 0), (0, 1), (-1, 0), (0, -1), (1, 1), (-1, 1), (-1, -1), (1, -1)], dtype=np.int64)


# --------------------------------------------------------------------------- 5. ordering


def _graph(pts: np.ndarray) -> list[list[int]]:
    """8-neighbour adjacency lists of ``pts: (P, 2)`` int (x, y), without redundant diagonals.

    A diagonal step is dropped when one of the two pixels at its corners is in
    the set too: the path around the corner already joins the two, and keeping
    both makes every corner of a staircase look like a junction.
    """
    low = pts.min(axis=0) - 1
    x, y = (pts - low).T  # every pixel at least 1 from the border of the index grid
    index = np.full((y.max() + 2, x.max() + 2), -1, dtype=np.int64)
    index[y, x] = np.arange(len(pts))
    dx, dy = _NEIGHBOURS[:, 0], _NEIGHBOURS[:, 1]
    near = index[y[:, None] + dy, x[:, None] + dx]  # (P, 8) neighbour index or -1
    diagonal = (dx != 0) & (dy != 0)
    corner = (index[y[:, None], x[:, None] + dx] >= 0) | (index[y[:, None] + dy, x[:, None]] >= 0)
    near[:, diagonal] = np.where(corner[:, diagonal], -1, near[:, diagonal])
    return [[int(j) for j in row if j >= 0] for row in near]


def _hop(
    current: int, heading: np.ndarray, pts: np.ndarray, adjacency: list[list[int]], visited: np.ndarray, recent: set
) -> list[int]:
    """Across a crossing: up to two visited pixels, then an unvisited one within 45 degrees of ``heading``.

    Returns the pixels to append (the crossed ones and the unvisited one), or ``[]``.
    A crossing of two 2-pixel-wide lines thins to a ``2 x 2`` square, hence two.
    """
    hops: list[list[int]] = []
    frontier = [[v] for v in adjacency[current] if visited[v] and v not in recent]
    for _ in range(2):
        grown = []
        for chain in frontier:
            for u in adjacency[chain[-1]]:
                if u in recent or u in chain:
                    continue
                (grown if visited[u] else hops).append(chain + [u])
        frontier = grown
    if not hops:
        return []
    steps = np.array([pts[h[-1]] - pts[current] for h in hops], dtype=np.float64)
    cosine = steps @ heading / (np.linalg.norm(steps, axis=1) * np.linalg.norm(heading))
    best = int(np.argmax(cosine - 1e-3 * np.array([len(h) for h in hops])))  # straight on, then short
    return hops[best] if cosine[best] > np.sqrt(0.5) else []


def _walk(
    start: int, pts: np.ndarray, adjacency: list[list[int]], visited: np.ndarray, memory: int, cross: bool
) -> list[int]:
    """Walk from ``start`` over unvisited pixels, always to the neighbour that turns least.

    With ``cross``, a walk that runs into a pixel an earlier walk visited (a
    crossing) steps over it when an unvisited pixel lies straight ahead (within
    45 degrees) on the other side; the crossed pixel then appears in both walks.
    """
    path = [start]
    visited[start] = True
    current = start
    while True:
        options = [j for j in adjacency[current] if not visited[j]]
        heading = pts[current] - pts[path[max(0, len(path) - 1 - memory)]] if len(path) > 1 else None
        if not options and cross and heading is not None:
            hop = _hop(current, heading, pts, adjacency, visited, set(path[-memory - 1 :]))
            if hop:
                path += hop
                current = hop[-1]
                visited[current] = True
                continue
        if not options:
            return path
        if len(options) > 1 and heading is not None:
            steps = pts[options] - pts[current]
            cosine = steps @ heading / (np.linalg.norm(steps, axis=1) * np.linalg.norm(heading))
            options = [options[int(np.argmax(cosine))]]  # argmax: the first best, in neighbour order
        current = options[0]
        visited[current] = True
        path.append(current)


def order_paths(points: np.ndarray, join: bool = False, memory: int = 4) -> list[np.ndarray]:
    """One cluster's skeleton pixels -> ordered paths, each ``(k, 2)`` int64 ``(x, y)``.

    The pixels form a graph (8-neighbours, see :func:`_graph`). Each path is a
    walk: it starts where the unvisited pixels have an end (the pixel with the
    fewest unvisited neighbours, ties broken towards the top left), steps to the
    unvisited neighbour whose direction is closest to the heading over the last
    ``memory`` pixels (at a crossing it goes straight on), and stops when no
    unvisited neighbour is left. Walks repeat until every pixel is visited.
    Every pixel is stepped on once, so the walking is linear in the number of
    pixels (choosing the next start adds one pass over the pixels per path),
    where a brute-force search for the best order is factorial.

    Args:
        points: ``(P, 2)`` distinct integer pixel coordinates of one cluster (or of any set).
        join: let paths share pixels where lines meet: a path is attached at
            both ends to the pixels it touches that an earlier path (or its own
            start, for a loop) visited, so a branch leaving a junction starts at
            the junction and a closed loop closes; and a walk that runs into a
            crossing steps over the crossed pixel when its line goes on straight
            ahead. Without ``join`` every pixel is in exactly one path.
        memory: how many pixels back the heading is measured.

    Returns:
        The paths, in the order they were walked.
    """
    return [path for path, _ in _order(np.asarray(points, dtype=np.int64).reshape(-1, 2), join, memory)]


def _order(pts: np.ndarray, join: bool, memory: int) -> list[tuple[np.ndarray, int]]:
    """:func:`order_paths`, with the number of pixels each path visits first (without the joins)."""
    if len(pts) == 0:
        return []
    adjacency = _graph(pts)
    visited = np.zeros(len(pts), dtype=bool)
    # ties between equally good starts go to the top left: smallest x + y, then y
    rank = np.lexsort((pts[:, 1], pts.sum(axis=1)))
    position = np.empty(len(pts), dtype=np.int64)
    position[rank] = np.arange(len(pts))
    free = np.array([len(a) for a in adjacency])  # unvisited neighbours of every pixel
    paths: list[tuple[np.ndarray, int]] = []
    while not visited.all():
        todo = np.flatnonzero(~visited)
        start = int(todo[np.lexsort((position[todo], free[todo]))[0]])
        before = visited.copy()
        path = _walk(start, pts, adjacency, visited, memory, cross=join)
        fresh = [i for i in path if not before[i]]
        for i in fresh:
            for j in adjacency[i]:
                free[j] -= 1
        n_new = len(fresh)
        if join:
            path = _joined(path, pts, visited_before=before)
        paths.append((pts[path], n_new))
    return paths


def _joined(path: list[int], pts: np.ndarray, visited_before: np.ndarray) -> list[int]:
    """``path`` with a touching, earlier-visited pixel added at its start and at its end (if any)."""
    first, last = pts[path[0]], pts[path[-1]]

    def touching(p: np.ndarray, candidates: np.ndarray) -> int | None:
        if not len(candidates):
            return None
        d = np.abs(pts[candidates] - p).max(axis=1)
        hits = candidates[d == 1]
        if not len(hits):
            return None
        steps = np.abs(pts[hits] - p).sum(axis=1)  # an edge neighbour before a diagonal one
        return int(hits[np.argmin(steps)])

    earlier = np.flatnonzero(visited_before)
    head = touching(first, earlier)
    # at the end: earlier paths, or the path's own start (a loop), but not the pixels just walked
    # (nor a crossing the walk has just stepped over, nor, on a path of a pixel or two, the head's pixel)
    recent = np.array(path[-4:] + ([head] if head is not None and len(path) < 3 else []), dtype=np.int64)
    own = np.array(path[: max(0, len(path) - 3)], dtype=np.int64)
    tail = touching(last, np.setdiff1d(earlier, recent))
    if tail is None and len(path) > 3:
        tail = touching(last, own)
    out = list(path)
    if head is not None:
        out.insert(0, head)
    if tail is not None:
        out.append(tail)
    return out
