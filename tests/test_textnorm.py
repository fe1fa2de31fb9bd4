from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rasd import textnorm

ARABIC_TEXT = st.text(
    alphabet=st.sampled_from(
        list("ابتثجحخدذرسشصضطظعغفقكلمنهويىةءأإآؤئ ـًٌٍَُِّْ٠١٢٣٤٥٦٧٨٩0123456789.,،؛؟!«»“”\"'\n\u200f\u200b")
    ),
    max_size=80,
)


@given(st.text(max_size=200))
def test_normalize_is_idempotent_on_any_text(text: str) -> None:
    once = textnorm.normalize(text)
    assert textnorm.normalize(once) == once


@given(ARABIC_TEXT)
def test_tokens_point_back_into_the_original(text: str) -> None:
    for token in textnorm.tokens(text):
        assert text[token.start : token.end] == token.text
        assert token.norm == textnorm.normalize(token.norm)


@given(ARABIC_TEXT)
def test_sentences_are_ordered_non_overlapping_spans(text: str) -> None:
    previous_end = 0
    for start, end in textnorm.sentences(text):
        assert previous_end <= start < end <= len(text)
        assert text[start:end] == text[start:end].strip()
        previous_end = end


def test_spelling_variants_normalise_alike() -> None:
    pairs = [
        ("فى القاهرة", "في القاهره"),
        ("التى", "التي"),
        ("إلى", "الى"),
        ("مـــصر", "مصر"),
        ("الأُمَمُ", "الامم"),
        ("٢٠٢٥", "2025"),
        ("۲۰۲۵", "2025"),
        ("«قال»", '"قال"'),
        ("مسؤول", "مسئول"),
        ("\u200fالرئيس\u200b", "الرئيس"),
    ]
    for a, b in pairs:
        assert textnorm.normalize(a) == textnorm.normalize(b), (a, b)


def test_alef_maqsura_is_not_turned_into_alef() -> None:
    # pyarabic's normalize_alef would give الا; that would merge إلى with the exception particle.
    assert textnorm.normalize("إلى") == "الي"
    assert textnorm.normalize("إلا") == "الا"


def test_glued_words_from_the_lexicon_are_split_with_offsets() -> None:
    text = "وطالبت الأممالمتحدة بوقف القتال"
    toks = textnorm.tokens(text)
    assert [t.norm for t in toks] == ["وطالبت", "الامم", "المتحده", "بوقف", "القتال"]
    assert [text[t.start : t.end] for t in toks][1:3] == ["الأمم", "المتحدة"]


def test_unknown_long_words_are_not_split() -> None:
    assert [t.text for t in textnorm.tokens("والمستشفيات")] == ["والمستشفيات"]


def test_sentences_keep_quotes_abbreviations_and_decimals() -> None:
    text = 'قال د. أحمد إن النمو بلغ 3.5 في المئة. وأضاف: «الوضع مستقر. لكنه هش». ما العمل؟\nسطر آخر'
    got = [text[s:e] for s, e in textnorm.sentences(text)]
    assert got == [
        "قال د. أحمد إن النمو بلغ 3.5 في المئة.",
        "وأضاف: «الوضع مستقر. لكنه هش».",
        "ما العمل؟",
        "سطر آخر",
    ]


def test_unbalanced_quote_does_not_swallow_the_article() -> None:
    text = "قال الوزير «إن الخطة جاهزة. " + "وتستمر الجلسة غدا. " * 60
    assert len(textnorm.sentences(text)) > 10


def test_stems_fold_clitics_and_inflections() -> None:
    assert textnorm.stem("والمشير") == textnorm.stem("المشير")
    assert textnorm.stem(textnorm.normalize("للحكومة")) == textnorm.stem(textnorm.normalize("الحكومة"))
    assert textnorm.stem("حفتر") == "حفتر"


@pytest.mark.parametrize("word", ["حكومة", "مياه", "برلمان", "وقود", "روسية", "احتجاجات", "سيارات", "وزير", "حج"])
def test_a_word_has_one_stem_with_or_without_the_article(word: str) -> None:
    # Snowball alone gave حكومة / الحكومة the stems حكوم / حكومه, مياه / المياه ميا / مياه.
    bare = textnorm.stem(textnorm.normalize(word))
    for form in ("ال" + word, "وال" + word, "بال" + word, "لل" + word):
        assert textnorm.stem(textnorm.normalize(form)) == bare, form


def test_words_that_only_look_like_they_have_the_article_keep_it() -> None:
    assert textnorm.stem(textnorm.normalize("الله")) != textnorm.stem("له")
    assert textnorm.stem(textnorm.normalize("الذي")) != textnorm.stem(textnorm.normalize("ذي"))


def test_fast_words_equal_the_tokens_norms_on_news_text() -> None:
    text = (
        "قالت الأممالمتحدة فى بيانها: «إن ٣٫٥ مليون شخص تضرّروا»، وأضاف المتحـــدث أن 1,200 أسرة "
        "نزحت إلى المدارس التى فتحتها وزارة التربية، في حين طالب مجلس\u200cالأمن بوقف القتال."
    )
    assert textnorm.words(text) == [t.norm for t in textnorm.tokens(text)]
