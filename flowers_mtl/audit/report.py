"""One audit of a data folder: read every photo once, then duplicates and label suspects."""

from __future__ import annotations

from dataclasses import dataclass

from . import duplicates, suspects
from .embed import Readings, read_photos
from .entries import Entries


@dataclass
class Audit:
    entries: Entries
    readings: Readings
    undecodable: list[dict]
    duplicates: list[dict]
    duplicate_groups: list[list[int]]
    label_suspects: list[dict]
    judged: dict[str, int]

    def to_json(self) -> dict:
        """What `audit.py --json` prints."""
        return {
            "photos": len(self.entries),
            "undecodable": self.undecodable,
            "duplicates": self.duplicates,
            "label_suspects": self.label_suspects,
        }

    def summary(self, listed: int = 10) -> str:
        leaks = sum(d["leak"] for d in self.duplicates)
        conflicts = sum(bool(d["label_conflict"]) for d in self.duplicates)
        per_task = {task: sum(s["task"] == task for s in self.label_suspects) for task in self.judged}
        lines = [
            f"{len(self.entries)} photos in {', '.join(sorted(set(self.entries.splits)))}: "
            f"{len(self.undecodable)} undecodable",
            f"{len(self.duplicates)} duplicate groups ({sum(len(d['paths']) for d in self.duplicates)} photos): "
            f"{leaks} span two splits (leaks), {conflicts} with labels that disagree",
            "label suspects: " + ", ".join(f"{task} {per_task[task]} (of {n} photos judged)" for task, n in self.judged.items()),
        ]
        lines += [f"  undecodable {u['split']}.txt:{u['line']}: {u['path']}: {u['reason']}" for u in self.undecodable[:listed]]
        lines += [f"  suspect {s['score']:.2f} {s['split']}.txt:{s['line']} {s['path']}: {s['task']} "
                  f"{s['given']} -> {s['suggested']}?" for s in self.label_suspects[:listed]]
        return "\n".join(lines)


def run_audit(entries: Entries, model, progress=None) -> Audit:
    readings = read_photos(entries.paths, model, progress=progress)
    undecodable = [
        {"path": entries.shown_path(i), "split": entries.splits[i], "line": entries.lines[i], "reason": reason}
        for i, reason in sorted(readings.reasons.items())
    ]
    groups_json, groups = duplicates.find_duplicates(entries, readings.hashes, readings.embeddings, readings.ok)
    suspects_json, judged = suspects.find_suspects(entries, readings.features, readings.ok, groups)
    return Audit(entries, readings, undecodable, groups_json, groups, suspects_json, judged)
