"""Story clustering quality on real data, beside the baselines a data scientist would try first.

- SemEval-2022 Task 8 ar-ar pairs: Pearson of similarity() with -Overall, and accuracy of the
  same-story decision (Overall <= 1.5 same, >= 2.5 different).
- A fully labelled SaudiNewsNet slice (sabq + alweeam, 2015-07-23..27, 633 articles; labels in
  clusters_gold.jsonl, rules in docs/clustering.md): BCubed and pairwise P/R/F1 of stories and
  events, against TF-IDF + agglomerative (average linkage, cosine) and TF-IDF single-pass centroid
  clustering, each with its threshold tuned on these very labels (an oracle advantage rasd lacks:
  its settings were chosen on the SemEval pairs and other SaudiNewsNet days).
"""

from __future__ import annotations

import csv
import json
import math
import zipfile
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from rasd.cluster import ClusterSettings, cluster, fit_doc_freq, similarity
from rasd.models import Article, Block
from rasd.textnorm import normalize

GOLD = Path(__file__).resolve().parent / "clusters_gold.jsonl"
SLICE_DAYS = ("2015-07-23", "2015-07-24", "2015-07-25", "2015-07-26", "2015-07-27")
SLICE_OUTLETS = ("sabq", "alweeam")


def snn_article(item: dict[str, str]) -> Article:
    title = item["title"].strip()
    text = title + "\n\n" + item["content"].strip()
    blocks = (Block(0, len(title), "title"), Block(len(title) + 2, len(text), "body"))
    published = item["date_extracted"].replace(" ", "T") + "+03:00"
    return Article(id=item["url"], text=text, title=title, source=item["source"], url=item["url"],
                   published=published, blocks=blocks)


def load_days(shared: Path, days: Sequence[str], outlets: Sequence[str] | None = None) -> list[Article]:
    out: list[Article] = []
    for day in days:
        with zipfile.ZipFile(shared / "news" / "saudinewsnet" / f"{day}.zip") as zf:
            items = json.loads(zf.read(zf.namelist()[0]))
        out.extend(snn_article(a) for a in items if outlets is None or a["source"] in outlets)
    return out


def load_gold(shared: Path) -> tuple[list[Article], dict[str, str], dict[str, str]]:
    rows = [json.loads(line) for line in GOLD.read_text(encoding="utf-8").splitlines() if line.strip()]
    articles = {a.id: a for a in load_days(shared, SLICE_DAYS, SLICE_OUTLETS)}
    assert set(articles) == {r["url"] for r in rows}, "gold labels must cover the slice exactly"
    return list(articles.values()), {r["url"]: r["story"] for r in rows}, {r["url"]: r["event"] for r in rows}


# ---------------------------------------------------------------------------------------------
# Metrics


def bcubed(pred: dict[str, str], gold: dict[str, str]) -> tuple[float, float, float]:
    by_pred: dict[str, set[str]] = defaultdict(set)
    by_gold: dict[str, set[str]] = defaultdict(set)
    for item in gold:
        by_pred[pred[item]].add(item)
        by_gold[gold[item]].add(item)
    p = r = 0.0
    for item in gold:
        same = len(by_pred[pred[item]] & by_gold[gold[item]])
        p += same / len(by_pred[pred[item]])
        r += same / len(by_gold[gold[item]])
    p, r = p / len(gold), r / len(gold)
    return p, r, 2 * p * r / (p + r)


def pairwise(pred: dict[str, str], gold: dict[str, str]) -> tuple[float, float, float]:
    def pairs(labels: dict[str, str]) -> set[tuple[str, str]]:
        groups: dict[str, list[str]] = defaultdict(list)
        for item in sorted(labels):
            groups[labels[item]].append(item)
        return {(a, b) for g in groups.values() for i, a in enumerate(g) for b in g[i + 1 :]}

    pp, gp = pairs(pred), pairs(gold)
    tp = len(pp & gp)
    p = tp / len(pp) if pp else 1.0
    r = tp / len(gp) if gp else 1.0
    return p, r, (2 * p * r / (p + r)) if p + r else 0.0


# ---------------------------------------------------------------------------------------------
# Baselines: plain TF-IDF over normalised title + text


def tfidf_matrix(articles: Sequence[Article]) -> np.ndarray:
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [normalize(a.text) for a in articles]
    return TfidfVectorizer(sublinear_tf=True, min_df=1).fit_transform(texts)


def agglomerative(articles: Sequence[Article], matrix: np.ndarray, threshold: float) -> dict[str, str]:
    from sklearn.cluster import AgglomerativeClustering

    # Average linkage on cosine distances, given precomputed (the same as metric="cosine").
    dist = np.clip(1.0 - (matrix @ matrix.T).toarray(), 0.0, 2.0)
    model = AgglomerativeClustering(n_clusters=None, metric="precomputed", linkage="average",
                                    distance_threshold=threshold)
    labels = model.fit_predict(dist)
    return {a.id: str(lab) for a, lab in zip(articles, labels, strict=True)}


def single_pass(articles: Sequence[Article], matrix: np.ndarray, threshold: float) -> dict[str, str]:
    order = sorted(range(len(articles)), key=lambda i: (articles[i].published or "", articles[i].id))
    dense = matrix.toarray()
    sums = np.zeros_like(dense)
    unit = np.zeros_like(dense)
    k = 0
    out: dict[str, str] = {}
    for i in order:
        v = dense[i]
        best, best_sim = -1, -1.0
        if k:
            sims = unit[:k] @ v
            best = int(np.argmax(sims))
            best_sim = float(sims[best])
        if best_sim < threshold:
            best, k = k, k + 1
        sums[best] += v
        unit[best] = sums[best] / max(float(np.linalg.norm(sums[best])), 1e-12)
        out[articles[i].id] = str(best)
    return out


def tuned(fn, articles, matrix, gold, grid) -> tuple[float, dict[str, str]]:  # type: ignore[no-untyped-def]
    """The grid threshold with the best mean of BCubed F1 and pairwise F1 on ``gold``."""
    best = (-1.0, 0.0, {})
    for thr in grid:
        pred = fn(articles, matrix, thr)
        score = (bcubed(pred, gold)[2] + pairwise(pred, gold)[2]) / 2
        if score > best[0]:
            best = (score, thr, pred)
    return best[1], best[2]


def rasd_labels(articles: Sequence[Article], settings: ClusterSettings) -> tuple[dict[str, str], dict[str, str]]:
    stories = cluster(articles, settings)
    story = {a: s.id for s in stories for a in s.articles}
    event = {a: e.id for s in stories for e in s.events for a in e.articles}
    return story, event


# ---------------------------------------------------------------------------------------------
# Tests


def semeval_pairs(shared: Path) -> list[tuple[Article, Article, float]]:
    path = shared / "similarity" / "semeval2022_task8_ar_ar_train.csv"
    out = []
    with path.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            arts = []
            for k in ("text1", "text2"):
                t = row[k]
                arts.append(Article(id=f"{row['pair_id']}-{k}", text=t, blocks=(Block(0, len(t), "body"),)))
            out.append((arts[0], arts[1], float(row["Overall"])))
    return out


def semeval_scores(shared: Path, settings: ClusterSettings) -> tuple[float, float, int]:
    pairs = semeval_pairs(shared)
    doc_freq = fit_doc_freq([a for p in pairs for a in p[:2]], settings)
    sims = [similarity(a, b, settings, doc_freq) for a, b, _ in pairs]
    overall = [o for _, _, o in pairs]
    pearson = float(np.corrcoef(sims, [-o for o in overall])[0, 1])
    decided = [(s >= settings.same_story_threshold, o <= 1.5) for s, o in zip(sims, overall, strict=True)
               if o <= 1.5 or o >= 2.5]
    accuracy = sum(p == g for p, g in decided) / len(decided)
    return pearson, accuracy, len(decided)


@pytest.mark.eval
def test_semeval_pairs(shared_data: Path) -> None:
    pearson, accuracy, n = semeval_scores(shared_data, ClusterSettings())
    print(f"\nSemEval-2022 ar-ar: Pearson {pearson:.3f}; same-story accuracy {accuracy:.3f} on {n} pairs")
    # Measured 0.456 and 0.733 (plain sklearn TF-IDF cosine: Pearson 0.386).
    assert pearson >= 0.43
    assert accuracy >= 0.70


@pytest.mark.eval
def test_saudinewsnet_clusters(shared_data: Path) -> None:
    articles, gold_story, gold_event = load_gold(shared_data)
    story, event = rasd_labels(articles, ClusterSettings())
    matrix = tfidf_matrix(articles)
    rows: dict[str, dict[str, tuple[float, float, float]]] = {}
    rows["rasd"] = {"story-B3": bcubed(story, gold_story), "story-pair": pairwise(story, gold_story),
                    "event-B3": bcubed(event, gold_event), "event-pair": pairwise(event, gold_event)}
    singletons = {a.id: a.id for a in articles}
    rows["all singletons"] = {"story-B3": bcubed(singletons, gold_story),
                              "story-pair": pairwise(singletons, gold_story),
                              "event-B3": bcubed(singletons, gold_event),
                              "event-pair": pairwise(singletons, gold_event)}
    grid = [round(x, 2) for x in np.arange(0.4, 0.96, 0.05)]
    for name, fn, g in (("agglomerative avg-cosine", agglomerative, grid),
                        ("single-pass centroid", single_pass, [round(1 - x, 2) for x in grid])):
        cells = {}
        for level, gold in (("story", gold_story), ("event", gold_event)):
            thr, pred = tuned(fn, articles, matrix, gold, g)
            cells[f"{level}-B3"] = bcubed(pred, gold)
            cells[f"{level}-pair"] = pairwise(pred, gold)
            cells[f"{level}-thr"] = (thr, math.nan, math.nan)
        rows[name + " (tuned on gold)"] = cells
    print(f"\nSaudiNewsNet {SLICE_OUTLETS} {SLICE_DAYS[0]}..{SLICE_DAYS[-1]}: {len(articles)} articles, "
          f"{len(set(gold_story.values()))} gold stories, {len(set(gold_event.values()))} gold events")
    print(f"{'system':38} {'story B3 P/R/F1':>20} {'story pair P/R/F1':>20} {'event B3 F1':>12} "
          f"{'event pair F1':>14} thresholds")
    for name, c in rows.items():
        thr = f"{c['story-thr'][0]:.2f}/{c['event-thr'][0]:.2f}" if "story-thr" in c else ""
        print(f"{name:38} {'/'.join(f'{x:.3f}' for x in c['story-B3']):>20} "
              f"{'/'.join(f'{x:.3f}' for x in c['story-pair']):>20} {c['event-B3'][2]:>12.3f} "
              f"{c['event-pair'][2]:>14.3f} {thr}")
    ours = rows["rasd"]
    # Measured 0.876 / 0.454 / 0.932 / 0.520; the target (story BCubed >= 0.93) is not met.
    assert ours["story-B3"][2] >= 0.86
    assert ours["story-pair"][2] >= 0.42
    assert ours["event-B3"][2] >= 0.92
    assert ours["event-pair"][2] >= 0.49
