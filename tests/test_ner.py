"""The gazetteer scan and document consistency of rasd.ner, on small hand-made resources."""

from __future__ import annotations

from rasd.ner import NerSettings, Resources, make_consistent, sentence_features, strip_prefix
from rasd.textnorm import normalize


def _resources(phrases: dict[str, str]) -> Resources:
    # Keys as scripts/train_ner.py writes them: normalised, the first word without its clitics.
    keys = {}
    for phrase, typ in phrases.items():
        first, *rest = normalize(phrase).split(" ")
        keys[" ".join([strip_prefix(first), *rest])] = typ
    res = Resources(phrases=keys)
    res.index_phrases()
    return res


def _gazetteer_tags(words: list[str], res: Resources, settings: NerSettings | None = None) -> list[str]:
    settings = settings or NerSettings()
    return [next((f[2:] for f in fs if f.startswith("G=")), "O") for fs in sentence_features(words, res, settings)]


def test_gazetteer_takes_the_longest_phrase_and_a_clitic_on_the_first_word() -> None:
    res = _resources({"الأمم المتحدة": "ORG", "مجلس الأمن": "ORG", "مجلس الأمن الدولي": "ORG", "جنيف": "LOC"})
    words = ["وقال", "ومجلس", "الأمن", "الدولي", "في", "بجنيف", "إن", "الأمم", "المتحدة"]
    assert _gazetteer_tags(words, res) == ["O", "B-ORG", "I-ORG", "I-ORG", "O", "B-LOC", "O", "B-ORG", "I-ORG"]


def test_gazetteer_phrases_longer_than_max_phrase_are_not_matched() -> None:
    res = _resources({"منطقة دبي الحرة للتكنولوجيا والإعلام": "LOC", "دبي": "LOC"})
    words = ["منطقة", "دبي", "الحرة", "للتكنولوجيا", "والإعلام"]
    assert _gazetteer_tags(words, res)[0] == "B-LOC"
    assert _gazetteer_tags(words, res, NerSettings(max_phrase=4)) == ["O", "B-LOC", "O", "O", "O"]


def test_consistency_prefers_the_longest_known_name_and_the_surname() -> None:
    sents = [
        ["التقى", "جيسون", "رضايان", "بمسؤولي", "الأمم", "المتحدة"],
        ["وقال", "رضايان", "إن", "الأمم", "المتحدة", "لم", "ترد"],
    ]
    tagged = [["O", "B-PERS", "I-PERS", "O", "B-ORG", "I-ORG"], ["O"] * 7]
    make_consistent(sents, tagged)
    assert tagged[1] == ["O", "B-PERS", "O", "B-ORG", "I-ORG", "O", "O"]


def test_consistency_leaves_a_repeat_that_overlaps_a_tagged_word() -> None:
    sents = [["زار", "الأمم", "المتحدة"], ["قوة", "الأمم", "المتحدة", "المؤقتة"]]
    tagged = [["O", "B-ORG", "I-ORG"], ["B-ORG", "I-ORG", "O", "O"]]
    make_consistent(sents, tagged)
    assert tagged[1] == ["B-ORG", "I-ORG", "O", "O"]
