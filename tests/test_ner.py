"""The gazetteer scan and document consistency of rasd.ner, on small hand-made resources."""

from __future__ import annotations

from importlib import resources
from itertools import product
from pathlib import Path

import numpy as np
import pycrfsuite
import pytest

from rasd.ner import (
    DATA_DIR,
    LABELS,
    CrfEncoder,
    NerSettings,
    NeuralLayer,
    Resources,
    Tagger,
    default_tagger,
    make_consistent,
    model_attributes,
    sentence_features,
    strip_prefix,
    viterbi,
)
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


# ---------------------------------------------------------------------------------------------
# The CRF's input: only the model's attributes, as bytes


# Sentences written for these tests: names, clitics, titles, numbers, Latin and punctuation.
_SENTENCES = [
    ["وقال", "وزير", "الخارجية", "السعودي", "عادل", "الجبير", "في", "الرياض", "إن", "المملكة", "ترحب", "."],
    ["أعلنت", "الأمم", "المتحدة", "(", "UN", ")", "عن", "مؤتمر", "في", "جنيف", "يوم", "15", "مارس", "."],
    ["«", "لن", "نتراجع", "»", "،", "قال", "الرئيس", "الفرنسي", "إيمانويل", "ماكرون", "لصحيفة", "لوموند"],
    ["زار", "ولي", "العهد", "الأمير", "محمد", "بن", "سلمان", "القاهرة", "وبالتحديد", "مقر", "جامعة", "الدول"],
    ["حفتر"],
    ["قال", "الجبير"],
]


def _model_path() -> Path:
    return Path(str(resources.files("rasd.data") / DATA_DIR / "model.crfsuite"))  # the package is a directory


def test_encoder_passes_the_model_attributes_of_sentence_features_in_order() -> None:
    tagger = default_tagger()
    known = tagger.encoder.known
    dropped = 0
    for words in _SENTENCES:
        full = sentence_features(words, tagger.resources, tagger.settings)
        assert tagger.encoder.sentence(words) == [[f.encode() for f in fs if f in known] for fs in full]
        dropped += sum(f not in known for fs in full for f in fs)
    assert dropped > 0  # the filter has something to do on these sentences


def test_filtered_input_gives_the_labels_of_the_full_features() -> None:
    # crfsuite itself drops the attributes the model does not know: the labels cannot change.
    tagger = default_tagger()
    crf = pycrfsuite.Tagger()
    crf.open(str(_model_path()))
    for words in _SENTENCES:
        assert tagger.tag(words) == crf.tag(sentence_features(words, tagger.resources, tagger.settings))


def _tiny_model(tmp_path: Path, train: list[tuple[list[str], list[str]]]) -> Tagger:
    res = Resources()
    trainer = pycrfsuite.Trainer(verbose=False)
    for words, tags in train:
        trainer.append(sentence_features(words, res), tags)
    trainer.set_params({"max_iterations": 20})
    trainer.train(str(tmp_path / "model.crfsuite"))
    for name in ("clusters.tsv", "gazetteer.tsv", "triggers.tsv"):
        (tmp_path / name).write_text("", encoding="utf-8")
    return Tagger(tmp_path)


def test_model_attributes_and_bigrams_of_words_that_are_a_bar(tmp_path: Path) -> None:
    # "|" joins the two words of a bigram feature and can be a word itself: bg-=||| is | then |.
    tagger = _tiny_model(tmp_path, [(["قال", "|", "|", "أوباما"], ["O", "O", "O", "B-PERS"]),
                                    (["زار", "باريس"], ["O", "B-LOC"])])
    crf = pycrfsuite.Tagger()
    crf.open(str(tmp_path / "model.crfsuite"))
    assert model_attributes(crf) == set(crf.info().attributes)
    assert {"bg-=|||", "bg+=قال||"} <= tagger.encoder.known
    for words in (["قال", "|", "|", "أوباما"], ["|", "|", "|"], ["قال", "|", "زار", "باريس", "|"]):
        full = sentence_features(words, tagger.resources)
        encoded = tagger.encoder.sentence(words)
        assert encoded == [[f.encode() for f in fs if f in tagger.encoder.known] for fs in full]
        assert tagger.tag(words) == crf.tag(full)
    assert b"bg-=|||" in tagger.encoder.sentence(["قال", "|", "|"])[2]


def test_encoder_word_cache_is_bounded_and_the_output_the_same() -> None:
    tagger = default_tagger()
    small = CrfEncoder(tagger.resources, tagger.encoder.known, tagger.settings, max_words=3)
    for words in _SENTENCES:
        assert small.sentence(words) == tagger.encoder.sentence(words)
    assert len(small._words) == 3


def test_document_consistency_of_the_tagger_is_make_consistent() -> None:
    tagger = default_tagger()
    doc = [*_SENTENCES, ["ثم", "التقى", "الجبير", "ماكرون", "في", "جنيف"]]
    expected = tagger.tag_sentences(doc)
    make_consistent(doc, expected, tagger.settings.consistency_min_chars, lambda w: normalize(w) or w)
    assert tagger.tag_document(doc) == expected


# ---------------------------------------------------------------------------------------------
# The numpy neural layer


def _layer_arrays(seed: int = 0, dims: int = 4, hidden: int = 3, filters: int = 5) -> dict[str, np.ndarray]:
    """Small random weights in the layout scripts/train_ner_neural.py exports."""
    rng = np.random.default_rng(seed)
    n = len(LABELS)
    chars = "ابتسمنو"
    width = n + dims + 1 + filters

    def r(*shape: int) -> np.ndarray:
        return rng.normal(0, 0.5, shape).astype(np.float32)

    arrays = {
        "labels": np.array("\n".join(LABELS)), "chars": np.array(chars), "vocab": np.array("سمان\nبتان"),
        "vec": r(2, dims), "char_emb": r(len(chars) + 2, 6), "conv_w": r(filters, 6, 3), "conv_b": r(filters),
        "out_w": r(n, 2 * hidden), "out_b": r(n), "trans": r(n, n), "start": r(n), "end": r(n), "skip": r(n),
    }
    arrays["char_emb"][0] = 0.0  # the padding row, as torch's padding_idx keeps it
    for d in ("f", "b"):
        arrays[f"w_ih_{d}"], arrays[f"w_hh_{d}"] = r(4 * hidden, width), r(4 * hidden, hidden)
        arrays[f"b_{d}"] = r(4 * hidden)
    return arrays


def _inputs(rng: np.random.Generator, n: int) -> np.ndarray:
    # Marginals first (positive: the layer reads their logarithm), then the word part.
    return np.concatenate([rng.uniform(0.01, 1, (n, len(LABELS))), rng.normal(size=(n, 10))], axis=1).astype(np.float32)


def test_viterbi_finds_the_best_path_by_brute_force() -> None:
    rng = np.random.default_rng(1)
    labels, steps = 3, 4
    em = rng.normal(size=(2, steps, labels)).astype(np.float32)
    trans, start, end = (rng.normal(size=s).astype(np.float32) for s in ((labels, labels), labels, labels))
    lengths = np.array([4, 2])
    paths = viterbi(em, lengths, trans, start, end)
    for b, n in enumerate(lengths):
        def score(p: tuple[int, ...], b: int = b) -> float:
            return float(start[p[0]] + sum(em[b, t, p[t]] for t in range(len(p)))
                         + sum(trans[p[t - 1], p[t]] for t in range(1, len(p))) + end[p[-1]])
        best = max(product(range(labels), repeat=int(n)), key=score)
        assert paths[b] == list(best)


def test_neural_layer_reads_a_reversed_padded_batch_like_one_sentence_at_a_time() -> None:
    layer = NeuralLayer(_layer_arrays())
    rng = np.random.default_rng(2)
    long, short = _inputs(rng, 6), _inputs(rng, 2)
    batch, _ = layer.emissions([long, short])
    alone, _ = layer.emissions([short])
    # Padding after the short sentence must not leak into its backward direction.
    np.testing.assert_allclose(batch[1, :2], alone[0], atol=1e-5)
    assert layer.decode([short]) == layer.decode([long, short])[1:]


def test_word_vector_uses_the_clitic_free_form_and_flags_a_missing_vector() -> None:
    arrays = _layer_arrays()
    layer = NeuralLayer(arrays)
    with_vec = layer.word_vector("والسمان", "سمان", "سمان")
    without = layer.word_vector("نمو", "نمو", "نمو")
    np.testing.assert_array_equal(with_vec[:4], arrays["vec"][0])
    assert with_vec[4] == 1.0 and without[4] == 0.0
    assert not without[:4].any()


def test_numpy_layer_equals_torch() -> None:
    torch = pytest.importorskip("torch")
    arrays = _layer_arrays(seed=3)
    layer = NeuralLayer(arrays)
    hidden = arrays["w_hh_f"].shape[1]
    lstm = torch.nn.LSTM(arrays["w_ih_f"].shape[1], hidden, batch_first=True, bidirectional=True)
    conv = torch.nn.Conv1d(6, arrays["conv_w"].shape[0], 3, padding=1)
    with torch.no_grad():
        for d, suf in (("f", ""), ("b", "_reverse")):
            getattr(lstm, f"weight_ih_l0{suf}").copy_(torch.tensor(arrays[f"w_ih_{d}"]))
            getattr(lstm, f"weight_hh_l0{suf}").copy_(torch.tensor(arrays[f"w_hh_{d}"]))
            getattr(lstm, f"bias_ih_l0{suf}").copy_(torch.tensor(arrays[f"b_{d}"]))
            getattr(lstm, f"bias_hh_l0{suf}").zero_()
        conv.weight.copy_(torch.tensor(arrays["conv_w"]))
        conv.bias.copy_(torch.tensor(arrays["conv_b"]))
        # Character CNN of one word, torch's way: embed, convolve, max-pool, ReLU.
        ids = [layer.char_ids.get(ch, 1) for ch in "بسمان"]
        emb = torch.tensor(arrays["char_emb"])[torch.tensor(ids)].T[None]
        char = torch.relu(conv(emb).max(dim=2).values)[0].numpy()
        np.testing.assert_allclose(layer.word_vector("بسمان", "بسمان", "بسمان")[5:], char, atol=1e-5)
        rng = np.random.default_rng(4)
        sents = [_inputs(rng, n) for n in (7, 3, 5)]
        batch = torch.nn.utils.rnn.pad_sequence([torch.tensor(x) for x in sents], batch_first=True)
        packed = torch.nn.utils.rnn.pack_padded_sequence(batch, [7, 3, 5], batch_first=True, enforce_sorted=False)
        h, _ = torch.nn.utils.rnn.pad_packed_sequence(lstm(packed)[0], batch_first=True)
        marg = torch.log(batch[:, :, : len(LABELS)] + 1e-6)
        expected = (h @ torch.tensor(arrays["out_w"]).T + torch.tensor(arrays["out_b"])
                    + torch.tensor(arrays["skip"]) * marg).numpy()
    got, _ = layer.emissions(sents)
    for b, n in enumerate((7, 3, 5)):
        np.testing.assert_allclose(got[b, :n], expected[b, :n], atol=1e-5)


def test_tagger_with_a_neural_layer_returns_each_sentence_its_own_labels(tmp_path: Path) -> None:
    # A tiny model directory: a CRF trained on four sentences, empty lexicons, random layer.
    np.savez(tmp_path / "neural.npz", **_layer_arrays(seed=5))
    tagger = _tiny_model(tmp_path, [
        (["قال", "الرئيس", "باراك", "أوباما"], ["O", "O", "B-PERS", "I-PERS"]),
        (["زار", "باريس", "أمس"], ["O", "B-LOC", "O"]),
        (["أعلنت", "الأمم", "المتحدة"], ["O", "B-ORG", "I-ORG"]),
        # The neural layer reads a marginal for every one of the nine labels.
        (["في", "كأس", "العالم", "في", "جنوب", "أفريقيا"], ["O", "B-MISC", "I-MISC", "O", "B-LOC", "I-LOC"]),
    ])
    assert tagger.neural is not None
    sents = [["وقال", "أوباما", "في", "باريس", "إن", "الأمم", "المتحدة"], ["زار"], [], ["قال", "الرئيس"]]
    together = tagger.tag_sentences(sents)
    # Sentences are decoded in length order; each must get back its own labels.
    assert together == [tagger.tag(ws) for ws in sents]
    assert [len(t) for t in together] == [7, 1, 0, 2]
    assert Tagger(tmp_path, NerSettings(neural=False)).neural is None
