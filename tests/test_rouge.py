from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rasd.rouge import lcs_length, rouge, rouge_l, rouge_multi, rouge_n, rouge_tokens


def _lcs_table(a: list[str], b: list[str]) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]


@given(st.lists(st.sampled_from("أبجده"), max_size=40), st.lists(st.sampled_from("أبجدهو"), max_size=40))
def test_bit_parallel_lcs_equals_the_table(a: list[str], b: list[str]) -> None:
    assert lcs_length(a, b) == _lcs_table(a, b)


def test_lcs_longer_than_one_machine_word() -> None:
    a = [f"w{i}" for i in range(200)]
    b = [w for i, w in enumerate(a) if i % 3]  # 133 of the 200, in order
    assert lcs_length(a, b) == len(b) == _lcs_table(a, b)


def test_spelling_variants_match_on_both_sides() -> None:
    # EASC's references write hamza-less alef and no diacritics; the article does not.
    article = "له الفضلُ الأعظم في تطوير الموسيقى الكلاسيكيّة."
    reference = "له الفضل الاعظم في تطوير الموسيقي الكلاسيكية"
    scores = rouge(article, reference)
    assert scores["rouge1"].f1 == pytest.approx(1.0)
    assert scores["rouge2"].f1 == pytest.approx(1.0)
    assert scores["rougeL"].f1 == pytest.approx(1.0)


def test_punctuation_is_not_a_token_and_digits_are_folded() -> None:
    assert rouge_tokens("في عام ٢٠١٥، قال: «نعم»!") == ["في", "عام", "2015", "قال", "نعم"]


def test_values_by_hand() -> None:
    cand = ["وصل", "الوزير", "إلى", "الرياض", "أمس"]
    ref = ["وصل", "الوزير", "أمس", "إلى", "جدة"]
    # unigrams: 4 shared of 5 and 5; bigrams: only (وصل الوزير) of 4 and 4; LCS: وصل الوزير إلى = 3.
    r1, r2, rl = rouge_n(cand, ref, 1), rouge_n(cand, ref, 2), rouge_l(cand, ref)
    assert (r1.precision, r1.recall) == (pytest.approx(0.8), pytest.approx(0.8))
    assert r2.f1 == pytest.approx(0.25)
    assert rl.f1 == pytest.approx(0.6)


def test_repeated_ngrams_are_clipped() -> None:
    score = rouge_n(["نعم", "نعم", "نعم"], ["نعم", "لا"], 1)
    assert score.precision == pytest.approx(1 / 3)
    assert score.recall == pytest.approx(1 / 2)


def test_stemming_is_optional() -> None:
    assert rouge("المدارس", "مدارس")["rouge1"].f1 == 0.0
    assert rouge("المدارس", "مدارس", use_stem=True)["rouge1"].f1 == pytest.approx(1.0)


def test_multi_reference_mean_and_max() -> None:
    cand = "انعقدت القمة في الرياض"
    refs = ["انعقدت القمة في الرياض", "تأجيل الاجتماع إلى الشهر المقبل"]
    assert rouge_multi(cand, refs)["rouge1"].f1 == pytest.approx(0.5)
    assert rouge_multi(cand, refs, aggregate="max")["rouge1"].f1 == pytest.approx(1.0)


def test_empty_and_bad_arguments() -> None:
    assert rouge("", "نص")["rougeL"].f1 == 0.0
    with pytest.raises(ValueError, match="at least one reference"):
        rouge_multi("نص", [])
    with pytest.raises(ValueError, match="aggregate"):
        rouge_multi("نص", ["نص"], aggregate="median")
    with pytest.raises(ValueError, match="n >= 1"):
        rouge_n(["a"], ["a"], 0)
