"""The PAN measures on hand-made cases whose values are worked out by hand."""

from __future__ import annotations

import math

import pytest

from rasd.pan import Case, case_recall, detects, granularity, macro_precision, macro_recall, plagdet, score


def case(t0: int, t1: int, s0: int, s1: int, susp: str = "s1", src: str = "r1") -> Case:
    return Case(susp, t0, t1 - t0, src, s0, s1 - s0)


def test_perfect_detection_scores_one() -> None:
    cases = [case(100, 200, 1000, 1100)]
    result = score(cases, list(cases))
    assert (result.precision, result.recall, result.granularity, result.plagdet) == (1.0, 1.0, 1.0, 1.0)


def test_half_covered_case() -> None:
    # The detection covers the first half of the case in both documents and nothing outside it.
    c = case(100, 200, 1000, 1100)
    d = case(100, 150, 1000, 1050)
    assert case_recall(c, [d]) == pytest.approx(0.5)
    assert macro_precision([c], [d]) == pytest.approx(1.0)
    assert plagdet(1.0, 0.5, 1.0) == pytest.approx(2 / 3)


def test_detection_overlapping_in_one_document_only_does_not_detect() -> None:
    c = case(100, 200, 1000, 1100)
    wrong_source_place = case(100, 200, 5000, 5100)
    other_source = case(100, 200, 1000, 1100, src="r2")
    assert not detects(c, wrong_source_place)
    assert not detects(c, other_source)
    assert macro_recall([c], [wrong_source_place, other_source]) == 0.0
    assert macro_precision([c], [wrong_source_place, other_source]) == 0.0


def test_split_detection_counts_in_granularity() -> None:
    c = case(0, 100, 0, 100)
    halves = [case(0, 50, 0, 50), case(50, 100, 50, 100)]
    assert case_recall(c, halves) == pytest.approx(1.0)
    assert granularity([c], halves) == 2.0
    result = score([c], halves)
    assert result.plagdet == pytest.approx(1 / math.log2(3))


def test_overlapping_detections_are_not_double_counted() -> None:
    c = case(0, 100, 0, 100)
    dets = [case(0, 80, 0, 80), case(20, 100, 20, 100)]
    assert case_recall(c, dets) == pytest.approx(1.0)


def test_detection_longer_than_case_loses_precision() -> None:
    # 100 + 100 case characters inside a 200 + 200 detection: precision 0.5, recall 1.
    c = case(100, 200, 100, 200)
    d = case(50, 250, 50, 250)
    result = score([c], [d])
    assert result.recall == pytest.approx(1.0)
    assert result.precision == pytest.approx(0.5)


def test_missed_cases_and_false_detections_average_in_as_zero() -> None:
    cases = [case(0, 100, 0, 100), case(500, 600, 500, 600, susp="s2")]
    dets = [case(0, 100, 0, 100), case(0, 100, 0, 100, susp="s3")]
    result = score(cases, dets)
    assert result.recall == pytest.approx(0.5)
    assert result.precision == pytest.approx(0.5)
    assert result.granularity == 1.0


def test_empty_inputs() -> None:
    assert score([], []).plagdet == 1.0
    assert score([case(0, 10, 0, 10)], []).plagdet == 0.0
    assert score([], [case(0, 10, 0, 10)]).plagdet == 0.0
    with pytest.raises(ValueError, match="granularity"):
        plagdet(0.5, 0.5, 0.5)
