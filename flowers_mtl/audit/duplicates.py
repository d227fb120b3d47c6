"""Near-duplicates: pairs that are one picture, joined into groups.

Two signals, because each fails where the other holds: the perceptual hash is exact under
resizing, re-encoding and brightness or colour edits but loses 10-25 of its 64 bits to a small
crop; the embedding's cosine shrugs off crops but drops to 0.8 when a copy is downsized, and two
different photos of one flower kind reach 0.96. A pair counts when its cosine clears a bar that
rises with the bits its hashes differ by:

    cosine >= COSINE_AT_0_BITS + COSINE_PER_BIT * bits      (so nothing beyond 19 bits)

Tuned on copies planted in the shared seed photos and checked by eye on the 5x6 photos
(README, "Audit the data before training"). Pairs become groups by union (a crop of a resized copy joins both).
All pairs are compared in row blocks, so memory grows with N x block, not N x N.
"""

from __future__ import annotations

import numpy as np

from ..data.phash import hamming
from .entries import Entries

COSINE_AT_0_BITS = 0.62
COSINE_PER_BIT = 0.02
MAX_BITS = int((1.0 - COSINE_AT_0_BITS) / COSINE_PER_BIT)
BLOCK = 1024
METHOD = (f"perceptual hash (64-bit DCT) and ImageNet-embedding cosine: a pair is one picture when "
          f"cosine >= {COSINE_AT_0_BITS} + {COSINE_PER_BIT} x differing bits (at most {MAX_BITS} bits)")


def duplicate_pairs(hashes: np.ndarray, embeddings: np.ndarray, ok: np.ndarray) -> list[tuple[int, int, int, float]]:
    """(i, j, bits, cosine) for i < j, both decodable, meeting the rule."""
    n = len(hashes)
    pairs = []
    for start in range(0, n, BLOCK):
        rows = np.arange(start, min(start + BLOCK, n))
        bits = hamming(hashes, rows)
        cosine = embeddings[rows] @ embeddings.T
        hit = (bits <= MAX_BITS) & (cosine >= COSINE_AT_0_BITS + COSINE_PER_BIT * bits)
        hit &= ok[rows, None] & ok[None, :] & (np.arange(n)[None, :] > rows[:, None])
        for r, j in zip(*np.nonzero(hit)):
            pairs.append((int(rows[r]), int(j), int(bits[r, j]), float(cosine[r, j])))
    return pairs


def groups_of(pairs, n: int) -> list[list[int]]:
    """Connected components of the pairs (union-find), each sorted, in order of first member."""
    parent = list(range(n))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, *_ in pairs:
        parent[root(i)] = root(j)
    members: dict[int, list[int]] = {}
    for i in sorted({k for pair in pairs for k in pair[:2]}):
        members.setdefault(root(i), []).append(i)
    return sorted(members.values())


def describe(group: list[int], pairs, entries: Entries) -> dict:
    """The JSON of one group: where each copy is, its labels, and whether it leaks or disagrees."""
    members = set(group)
    inside = [p for p in pairs if p[0] in members]
    labels = {task: [entries.label_name(task, int(entries.labels[i, t])) for i in group]
              for t, task in enumerate(entries.classes.tasks)}
    conflicts = [task for task, names in labels.items() if len({n for n in names if n != "-1"}) > 1]
    return {
        "paths": [entries.shown_path(i) for i in group],
        "splits": [entries.splits[i] for i in group],
        "lines": [entries.lines[i] for i in group],
        "labels": labels,
        "leak": len({entries.splits[i] for i in group}) > 1,
        "label_conflict": conflicts,
        "max_bits": max(p[2] for p in inside),
        "min_cosine": round(min(p[3] for p in inside), 4),
    }


def find_duplicates(entries: Entries, hashes, embeddings, ok) -> tuple[list[dict], list[list[int]]]:
    """(group descriptions, the groups as entry indices), both with leaks and label conflicts first,
    then larger groups first."""
    pairs = duplicate_pairs(hashes, embeddings, ok)
    described = [(describe(g, pairs, entries), g) for g in groups_of(pairs, len(entries))]
    described.sort(key=lambda d: (not d[0]["leak"], not d[0]["label_conflict"], -len(d[1])))
    return [d for d, _ in described], [g for _, g in described]
