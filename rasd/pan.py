"""The PAN text-alignment measures: character precision, recall, granularity and plagdet.

Implemented from Potthast, Stein, Barrón-Cedeño and Rosso, "An Evaluation Framework for
Plagiarism Detection" (COLING 2010), macro-averaged as in the PAN competitions:

* a case or a detection is a pair of character ranges, one in the suspicious (target) document and
  one in the source document; a detection *detects* a case when both ranges overlap and it names
  the same two documents;
* recall of a case is the share of its characters (suspicious plus source) covered by the
  detections that detect it; precision of a detection is the same with the roles swapped; both are
  averaged over cases (detections), so a missed case or a false detection counts 0;
* granularity is the mean number of detections per detected case (1 is perfect);
* plagdet = F1(precision, recall) / log2(1 + granularity).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Case:
    """A reuse case or a detection: ``this_*`` in the suspicious document, ``source_*`` in the source."""

    this_doc: str
    this_offset: int
    this_length: int
    source_doc: str
    source_offset: int
    source_length: int
    obfuscation: str = ""

    @property
    def this_end(self) -> int:
        return self.this_offset + self.this_length

    @property
    def source_end(self) -> int:
        return self.source_offset + self.source_length


@dataclass(frozen=True, slots=True)
class PanScores:
    precision: float
    recall: float
    granularity: float
    plagdet: float
    cases: int
    detections: int


def detects(a: Case, b: Case) -> bool:
    """True when the two overlap in both documents (and name the same two documents)."""
    return (
        a.this_doc == b.this_doc
        and a.source_doc == b.source_doc
        and a.this_offset < b.this_end
        and b.this_offset < a.this_end
        and a.source_offset < b.source_end
        and b.source_offset < a.source_end
    )


def _covered(start: int, end: int, ranges: Iterable[tuple[int, int]]) -> int:
    """Characters of [start, end) covered by the union of ``ranges``."""
    clipped = sorted((max(s, start), min(e, end)) for s, e in ranges if s < end and e > start)
    total = 0
    cur_s = cur_e = start
    for s, e in clipped:
        if s > cur_e:
            total += cur_e - cur_s
            cur_s = s
        cur_e = max(cur_e, e)
    return total + (cur_e - cur_s)


def _by_pair(items: Iterable[Case]) -> dict[tuple[str, str], list[Case]]:
    index: dict[tuple[str, str], list[Case]] = defaultdict(list)
    for item in items:
        index[(item.this_doc, item.source_doc)].append(item)
    return index


def case_recall(case: Case, detections: Sequence[Case]) -> float:
    """Share of the case's characters (both documents) covered by detections that detect it."""
    hits = [d for d in detections if detects(case, d)]
    if not hits:
        return 0.0
    covered = _covered(case.this_offset, case.this_end, ((d.this_offset, d.this_end) for d in hits))
    covered += _covered(
        case.source_offset, case.source_end, ((d.source_offset, d.source_end) for d in hits)
    )
    total = case.this_length + case.source_length
    return covered / total if total else 0.0


def macro_recall(cases: Sequence[Case], detections: Sequence[Case]) -> float:
    if not cases and not detections:
        return 1.0
    if not cases or not detections:
        return 0.0
    index = _by_pair(detections)
    return sum(case_recall(c, index.get((c.this_doc, c.source_doc), [])) for c in cases) / len(cases)


def macro_precision(cases: Sequence[Case], detections: Sequence[Case]) -> float:
    # Precision is recall with the roles of cases and detections swapped (Potthast et al. 2010).
    return macro_recall(detections, cases)


def granularity(cases: Sequence[Case], detections: Sequence[Case]) -> float:
    index = _by_pair(detections)
    counts = [sum(detects(c, d) for d in index.get((c.this_doc, c.source_doc), [])) for c in cases]
    detected = [n for n in counts if n > 0]
    return sum(detected) / len(detected) if detected else 1.0


def plagdet(precision: float, recall: float, gran: float) -> float:
    if precision <= 0 and recall <= 0:
        return 0.0
    if gran < 1:
        raise ValueError(f"granularity is at least 1 by definition, got {gran}")
    f1 = 2 * precision * recall / (precision + recall)
    return f1 / math.log2(1 + gran)


def score(cases: Sequence[Case], detections: Sequence[Case]) -> PanScores:
    p = macro_precision(cases, detections)
    r = macro_recall(cases, detections)
    g = granularity(cases, detections)
    return PanScores(p, r, g, plagdet(p, r, g), len(cases), len(detections))
