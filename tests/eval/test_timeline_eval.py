"""Temporal expressions measured on Recognizers-Text's Arabic specs and on our own news sentences.

Run with ``pytest -m eval tests/eval/test_timeline_eval.py -s`` to see the tables. dateparser's
``search_dates`` runs on the same cases in the same run as the reference point.

Spans: exact (start, end) match with the gold ``Start``/``Length`` (where the spec gives no offsets,
Start -1, and its text is worded differently from the input, the most similar stretch of the
input of the same length stands in). Values: the gold date (or the
start of a gold range; every value the spec lists counts, since the spec gives past and future
readings of expressions without a year) cut to the granularity of our value must equal our
value; an approximate value of ours counts when its day lies inside the gold range.
"""

from __future__ import annotations

import datetime as dt
import json
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

import pytest

from rasd.timeline import extract

SPEC_DIR = ("dates", "recognizers-text-arabic")
EXTRACTOR_FILES = ("DateExtractor.json", "DatePeriodExtractor.json")
# Parser files whose results carry dates: values for "date"/"daterange" results, and the date part
# of "datetime" results (we resolve at day granularity, so the time of day is not compared).
PARSER_FILES = ("MergedParser.json", "DateTimeParser.json", "HolidayParser.json")
DATE_TYPES = {
    "date",
    "daterange",
    "datetime",
    "datetimeV2.date",
    "datetimeV2.daterange",
    "datetimeV2.datetime",
}
NEWS_GOLD = Path(__file__).with_name("news_dates_gold.jsonl")
# The spec files without a reference date were written against "now"; any fixed day works for
# spans, since spans do not depend on it.
DEFAULT_REF = dt.date(2016, 11, 7)

Span = tuple[int, int]
Predictor = Callable[[str, dt.date | None], list[tuple[Span, str | None, str]]]


@dataclass
class Scores:
    gold: int = 0
    predicted: int = 0
    exact: int = 0
    overlap: int = 0
    valued: int = 0  # gold expressions found (overlap) that we gave a value
    value_ok: int = 0
    value_gold: int = 0  # gold expressions carrying a comparable value

    @property
    def precision(self) -> float:
        return self.exact / self.predicted if self.predicted else 0.0

    @property
    def recall(self) -> float:
        return self.exact / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @property
    def overlap_recall(self) -> float:
        return self.overlap / self.gold if self.gold else 0.0

    @property
    def value_accuracy(self) -> float:
        """Correct values among the gold values we recognised and resolved."""
        return self.value_ok / self.valued if self.valued else 0.0

    @property
    def value_recall(self) -> float:
        """Correct values among all gold values."""
        return self.value_ok / self.value_gold if self.value_gold else 0.0


def _ours(text: str, ref: dt.date | None) -> list[tuple[Span, str | None, str]]:
    return [((x.start, x.end), x.value, x.anchor) for x in extract(text, ref)]


def _dateparser(text: str, ref: dt.date | None) -> list[tuple[Span, str | None, str]]:
    from dateparser.search import search_dates

    base = dt.datetime.combine(ref or DEFAULT_REF, dt.time(12))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        found = search_dates(text, languages=["ar"], settings={"RELATIVE_BASE": base}) or []
    out: list[tuple[Span, str | None, str]] = []
    pos = 0
    for sub, when in found:
        s = text.find(sub, pos)
        if s < 0:
            s = text.find(sub)
        if s < 0:
            continue
        pos = s + len(sub)
        out.append(((s, s + len(sub)), when.date().isoformat(), "publication"))
    return out


def _gold_span(case_input: str, result: dict) -> Span:
    text, start = result["Text"], int(result.get("Start", -1))
    if case_input[start : start + len(text)] != text:
        found = case_input.find(text.strip())
        if found < 0 and start >= 0:  # the spec's text is a slightly different wording: trust its offsets
            return start, start + int(result.get("Length", len(text)))
        if found < 0:  # no offsets either (Start -1, "في 3 شهور" for "في 3 أشهر"): the most similar stretch
            n = len(text.strip())
            found = max(
                range(max(1, len(case_input) - n + 1)),
                key=lambda i: SequenceMatcher(None, case_input[i : i + n], text.strip()).ratio(),
            )
        start, text = found, text.strip()
    return start, start + len(text)


def _gold_values(result: dict) -> list[tuple[str, str]]:
    """(start, end-exclusive) ISO days of every reading the spec gives for a result."""
    value = result.get("Value") or {}
    out: list[tuple[str, str]] = []
    for v in value.get("values", []):  # MergedParser style
        start = v.get("value") or v.get("start")
        if not start or start == "not resolved":
            continue
        end = v.get("end") or start
        out.append((start[:10], end[:10]))
    for key in ("PastResolution", "FutureResolution"):  # per-type parser style
        res = value.get(key) or {}
        day = res.get("date") or res.get("dateTime") or res.get("startDate")
        if day and not day.startswith("0001"):
            out.append((day[:10], (res.get("endDate") or day)[:10]))
    return out


def _value_matches(ours: str, anchor: str, readings: Iterable[tuple[str, str]]) -> bool:
    for start, end in readings:
        if anchor == "approximate" and len(ours) == 10 and start <= ours <= max(start, end):
            return True
        if start[: len(ours)] == ours:
            return True
    return False


def _spec_cases(shared_data: Path, files: Iterable[str]) -> list[tuple[str, dt.date | None, list[dict]]]:
    cases = []
    for name in files:
        path = shared_data.joinpath(*SPEC_DIR, name)
        for case in json.loads(path.read_text(encoding="utf-8-sig")):
            ctx = (case.get("Context") or {}).get("ReferenceDateTime")
            ref = dt.date.fromisoformat(ctx[:10]) if ctx else None
            cases.append((case["Input"], ref, case["Results"]))
    return cases


def _score_spans(cases: list[tuple[str, dt.date | None, list[dict]]], predict: Predictor) -> Scores:
    sc = Scores()
    for text, ref, results in cases:
        gold = [_gold_span(text, r) for r in results]
        pred = predict(text, ref or DEFAULT_REF)
        spans = {p[0] for p in pred}
        sc.gold += len(gold)
        sc.predicted += len(spans)
        sc.exact += len(set(gold) & spans)
        sc.overlap += sum(any(s < pe and ps < e for ps, pe in spans) for s, e in gold)
    return sc


def _score_values(cases: list[tuple[str, dt.date | None, list[dict]]], predict: Predictor) -> Scores:
    sc = Scores()
    for text, ref, results in cases:
        pred = predict(text, ref)
        for r in results:
            if r.get("Type") not in DATE_TYPES:
                continue
            readings = _gold_values(r)
            if not readings:
                continue
            sc.value_gold += 1
            s, e = _gold_span(text, r)
            hit = [p for p in pred if p[0][0] < e and s < p[0][1] and p[1] is not None]
            if not hit:
                continue
            sc.valued += 1
            sc.value_ok += _value_matches(hit[0][1], hit[0][2], readings)  # type: ignore[arg-type]
    return sc


def _score_news(predict: Predictor) -> Scores:
    sc = Scores()
    for line in NEWS_GOLD.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        ref = dt.date.fromisoformat(row["reference"]) if row["reference"] else None
        pred = predict(row["text"], ref)
        spans = {p[0]: p for p in pred}
        sc.predicted += len(spans)
        for g in row["gold"]:
            sc.gold += 1
            span = (g["start"], g["end"])
            sc.exact += span in spans
            hit = [p for p in pred if p[0][0] < span[1] and span[0] < p[0][1]]
            sc.overlap += bool(hit)
            if g["value"] is None:
                continue
            sc.value_gold += 1
            if hit and hit[0][1] is not None:
                sc.valued += 1
                sc.value_ok += hit[0][1][: len(g["value"])] == g["value"] and len(hit[0][1]) >= len(
                    g["value"]
                )
    return sc


def _table(title: str, rows: dict[str, Scores], values: bool) -> str:
    head = f"{title}\n{'system':<12} {'gold':>5} {'pred':>5} {'P':>6} {'R':>6} {'F1':>6} {'overlapR':>9}"
    if values:
        head += f" {'val.gold':>8} {'resolved':>8} {'correct':>7} {'val.acc':>8} {'val.recall':>10}"
    lines = [head]
    for name, s in rows.items():
        line = (
            f"{name:<12} {s.gold:>5} {s.predicted:>5} {s.precision:>6.3f} {s.recall:>6.3f} {s.f1:>6.3f}"
            f" {s.overlap_recall:>9.3f}"
        )
        if values:
            line += (
                f" {s.value_gold:>8} {s.valued:>8} {s.value_ok:>7} {s.value_accuracy:>8.3f}"
                f" {s.value_recall:>10.3f}"
            )
        lines.append(line)
    return "\n".join(lines)


@pytest.mark.eval
def test_recognizers_spans(shared_data: Path) -> None:
    for name in EXTRACTOR_FILES:
        cases = _spec_cases(shared_data, [name])
        ours, base = _score_spans(cases, _ours), _score_spans(cases, _dateparser)
        print("\n" + _table(f"{name}: exact-span match", {"rasd": ours, "dateparser": base}, values=False))
        assert ours.f1 >= FLOORS[name]["f1"]
        assert ours.precision >= FLOORS[name]["precision"]


@pytest.mark.eval
def test_recognizers_values(shared_data: Path) -> None:
    cases = _spec_cases(shared_data, PARSER_FILES)
    ours, base = _score_values(cases, _ours), _score_values(cases, _dateparser)
    print("\n" + _table("parser files, date-valued results", {"rasd": ours, "dateparser": base}, values=True))
    assert ours.value_accuracy >= FLOORS["values"]["accuracy"]
    assert ours.value_recall >= FLOORS["values"]["recall"]


@pytest.mark.eval
def test_news_sentences() -> None:
    ours, base = _score_news(_ours), _score_news(_dateparser)
    print("\n" + _table("news_dates_gold.jsonl", {"rasd": ours, "dateparser": base}, values=True))
    assert ours.f1 >= FLOORS["news"]["f1"]
    assert ours.value_accuracy >= FLOORS["news"]["accuracy"]


# Pinned slightly below the measured numbers (docs/timeline.md has the tables); lowering one is a
# decision to be explained in the change that does it.
FLOORS: dict[str, dict[str, float]] = {
    "DateExtractor.json": {"f1": 0.80, "precision": 0.89},  # measured 0.821 / 0.916
    "DatePeriodExtractor.json": {"f1": 0.87, "precision": 0.89},  # measured 0.895 / 0.912
    "values": {"accuracy": 0.90, "recall": 0.78},  # measured 0.919 / 0.806 (79 of 86 resolved, 98 gold)
    "news": {"f1": 0.95, "accuracy": 0.95},  # measured 1.000 / 1.000 (written with the rules)
}
