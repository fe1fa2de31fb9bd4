"""Quality of the shipped NER model (CLEANANERCorp test) and of entity merging (our gold set).

Floors sit just under the measured values (docs/entities.md); lower one only with a reason.
"""

from __future__ import annotations

import json
import time
import zipfile
from collections.abc import Iterable, Iterator
from itertools import combinations
from pathlib import Path

import pytest

from rasd.entities import find_mentions, link_entities
from rasd.models import Article, Block
from rasd.ner import default_tagger, entity_scores, read_conll, tag_tokens

pytestmark = pytest.mark.eval

GOLD = Path(__file__).resolve().parent / "entity_merge_gold.jsonl"

# Measured with the shipped model (F1 0.727; merge P 0.996, R 0.720, linking R 0.979): see docs/entities.md.
NER_FLOORS = {"ALL": 0.72, "PER": 0.68, "LOC": 0.82, "ORG": 0.59, "MISC": 0.76}
MERGE_FLOORS = {"precision": 0.98, "recall": 0.70, "linking_recall": 0.95}


def _documents(sents: list[list[str]], size: int = 20) -> Iterator[list[list[str]]]:
    # The corpus keeps no article breaks; consistency runs over windows of 20 sentences.
    for i in range(0, len(sents), size):
        yield sents[i : i + size]


def test_ner_entity_f1_on_cleananercorp_test(shared_data: Path) -> None:
    test = read_conll(shared_data / "ner" / "cleananercorp" / "test.txt")
    tagger = default_tagger()
    pred: list[list[str]] = []
    cpu = time.process_time()
    for doc in _documents([w for w, _ in test]):
        pred += tagger.tag_document(doc)
    doc_cpu = time.process_time() - cpu
    # Speed is printed, never asserted (bench/entities_bench.py keeps the record); the word
    # feature cache is warm from the pass above, as in a long-running process.
    cpu = time.process_time()
    for words, _ in test:
        tag_tokens(words)
    sent_cpu = time.process_time() - cpu
    ntok = sum(len(w) for w, _ in test)
    scores = entity_scores([t for _, t in test], pred)
    print(f"\ntokens per CPU-second: tag_tokens {ntok / sent_cpu:,.0f}; tag_document (windows) {ntok / doc_cpu:,.0f}")
    print("\ntype   P      R      F1     (gold)")
    for typ in ("ALL", "PER", "LOC", "ORG", "MISC"):
        s = scores[typ]
        print(f"{typ:5} {s['precision']:.3f}  {s['recall']:.3f}  {s['f1']:.3f}  ({s['gold']:.0f})")
    print("baseline (plain feature CRF): F1 0.681 P 0.80 R 0.60")
    for typ, floor in NER_FLOORS.items():
        assert scores[typ]["f1"] >= floor, f"{typ} F1 {scores[typ]['f1']:.3f} fell below {floor}"


def _saudinewsnet(shared_data: Path, urls: set[str]) -> dict[str, dict[str, str]]:
    found: dict[str, dict[str, str]] = {}
    for path in sorted((shared_data / "news" / "saudinewsnet").glob("*.zip")):
        with zipfile.ZipFile(path) as z:
            for name in z.namelist():
                for rec in json.loads(z.read(name)):
                    if rec["url"] in urls:
                        found[rec["url"]] = rec
    return found


def _merge_scores(
    shared_data: Path, gold: list[dict[str, object]], name: str
) -> tuple[tuple[float, float, tuple[int, int, int]], tuple[float, float, tuple[int, int, int]]]:
    """Pairwise merge scores of find_mentions + link_entities on the gold mentions' articles: end
    to end, and among the mentions the NER found (a gold mention is found when a system mention
    overlaps it). Checks that every article is there and every offset still holds."""
    urls = {str(g["url"]) for g in gold}
    recs = _saudinewsnet(shared_data, urls)
    assert len(recs) == len(urls), f"{name} articles missing from SaudiNewsNet"
    for g in gold:
        text = recs[str(g["url"])]["content"]
        assert text[int(g["start"]) : int(g["end"])] == g["text"], f"{name} offsets drifted: {g}"
    articles = [
        Article(id=url, text=rec["content"], blocks=(Block(0, len(rec["content"]), "body"),), source=rec["source"])
        for url, rec in recs.items()
    ]
    mentions = [m for a in articles for m in find_mentions(a) if m.type in ("PER", "ORG")]
    entity_of = {(m.article, m.span): e.id for e in link_entities(mentions) for m in e.mentions}
    system: list[str | None] = []
    for g in gold:
        hit = [eid for (aid, (s, e)), eid in entity_of.items()
               if aid == g["url"] and s < int(g["end"]) and e > int(g["start"])]
        system.append(hit[0] if hit else None)
    found = [i for i, sid in enumerate(system) if sid is not None]
    end_to_end = _pairwise(gold, system, range(len(gold)))
    linking = _pairwise(gold, system, found)
    entities = len({g["entity"] for g in gold})
    print(f"\n{name} mentions {len(gold)} (found by NER {len(found)}); gold entities {entities}")
    print("pairs                     P      R      (tp fp fn)")
    for label, (p, r, counts) in (("end to end", end_to_end), ("NER-found mentions only", linking)):
        print(f"{label:24}  {p:.3f}  {r:.3f}  {counts}")
    return end_to_end, linking


def test_entity_merge_pairwise_on_gold(shared_data: Path) -> None:
    gold = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    end_to_end, linking = _merge_scores(shared_data, gold, "gold")
    assert end_to_end[0] >= MERGE_FLOORS["precision"]
    assert end_to_end[1] >= MERGE_FLOORS["recall"]
    assert linking[1] >= MERGE_FLOORS["linking_recall"]


def _pairwise(
    gold: list[dict[str, object]], system: list[str | None], keep: Iterable[int]
) -> tuple[float, float, tuple[int, int, int]]:
    """Pairwise precision and recall of "same entity" over the gold mentions in ``keep``.

    A gold mention the NER missed has no entity, so it is merged with nothing.
    """
    tp = fp = fn = 0
    for i, j in combinations(list(keep), 2):
        same_gold = gold[i]["entity"] == gold[j]["entity"]
        same_sys = system[i] is not None and system[i] == system[j]
        tp += same_gold and same_sys
        fp += same_sys and not same_gold
        fn += same_gold and not same_sys
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall, (tp, fp, fn)


# Held-out merge set: other stories (the death of Mullah Omar and his succession; Platini's FIFA
# bid after Blatter's resignation), labelled after the merge rules were frozen (docs/entities.md,
# "Held-out evaluation"). Measured with the shipped model before the rules were changed after
# reading it: end to end P 0.989 R 0.524, linking R 0.687 (P 0.973 in another input order). After
# the fixes it showed (لل clitic, organisation head words, order-independent surnames): P 0.960,
# R 0.621, linking R 0.813 in every order; no longer an untouched set. Both recalls depend on the
# NER model.
HELDOUT = Path(__file__).resolve().parent / "entity_merge_heldout.jsonl"
HELDOUT_MERGE_FLOORS = {"precision": 0.95, "recall": 0.60, "linking_recall": 0.79}


# Second held-out merge set (docs/entities.md, "Second held-out set"): the Abha mosque bombing and its
# Gulf condemnations (8 articles), the Suez Canal opening (6); labelled after the issue #5 fixes with
# the rules frozen, measured once: P 1.000, R 0.426, linking R 0.711 (90 of 120 mentions found), the
# unbiased estimate. After the compound-name fix it showed (عبد الفتاح / عبدالفتاح, issue #5 second
# round): P 1.000, R 0.544, linking R 0.907; floors just under, as a regression guard only.
HELDOUT2 = Path(__file__).resolve().parent / "entity_merge_heldout2.jsonl"
HELDOUT2_MERGE_FLOORS = {"precision": 0.97, "recall": 0.52, "linking_recall": 0.88}


# name -> (labels, floors, the sets it must not overlap, the least number of mentions labelled)
HELDOUT_SETS = {
    "held-out": (HELDOUT, HELDOUT_MERGE_FLOORS, (GOLD,), 150),
    "held-out 2": (HELDOUT2, HELDOUT2_MERGE_FLOORS, (GOLD, HELDOUT), 120),
}


@pytest.mark.parametrize("name", list(HELDOUT_SETS))
def test_entity_merge_pairwise_on_heldout(shared_data: Path, name: str) -> None:
    path, floors, earlier_sets, least = HELDOUT_SETS[name]
    gold = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    earlier = {
        json.loads(line)["url"]
        for earlier_path in earlier_sets
        for line in earlier_path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    }
    assert not earlier & {g["url"] for g in gold}, f"{name} articles must not overlap the earlier sets"
    assert len(gold) >= least
    end_to_end, linking = _merge_scores(shared_data, gold, name)
    assert end_to_end[0] >= floors["precision"]
    assert end_to_end[1] >= floors["recall"]
    assert linking[1] >= floors["linking_recall"]
