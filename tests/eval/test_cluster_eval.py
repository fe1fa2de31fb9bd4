"""Story clustering quality on real data, beside the baselines a data scientist would try first.

- SemEval-2022 Task 8 ar-ar pairs: Pearson of similarity() with -Overall, and accuracy of the
  same-story decision (Overall <= 1.5 same, >= 2.5 different).
- A fully labelled SaudiNewsNet slice (sabq + alweeam, 2015-07-23..27, 633 articles; labels in
  clusters_gold.jsonl, rules in docs/clustering.md): BCubed and pairwise P/R/F1 of stories and
  events, against TF-IDF + agglomerative (average linkage, cosine) and TF-IDF single-pass centroid
  clustering, each with its threshold tuned on these very labels (an oracle advantage rasd lacks:
  its settings were chosen on the tuning slice, clusters_tune.jsonl, of other days). rasd runs
  twice: on text alone, and with the NER stage's entity ids as the pipeline passes them.
- The tuning slice itself (2015-08-01..03, 319 articles), for reference: a drop there means the
  settings no longer do what they were chosen for; and a second tuning slice (2015-08-07..09, 214
  articles, labelled in the third clustering session to fit more story decisions on), scored the
  same way.

Both baselines work on a scipy sparse TF-IDF matrix: agglomerative clustering is one scipy
average-linkage tree cut at every grid threshold (the tree sklearn's AgglomerativeClustering
builds), and single-pass clustering scores clusters from the article-by-article dot products, so
a threshold costs milliseconds.
"""

from __future__ import annotations

import csv
import json
import math
import subprocess
import sys
import zipfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pytest
from scipy.sparse import csr_matrix

from rasd.cluster import ClusterSettings, cluster, fit_doc_freq, similarity
from rasd.models import Article, Block
from rasd.textnorm import normalize

GOLD = Path(__file__).resolve().parent / "clusters_gold.jsonl"
SLICE_DAYS = ("2015-07-23", "2015-07-24", "2015-07-25", "2015-07-26", "2015-07-27")
SLICE_OUTLETS = ("sabq", "alweeam")
TUNE = Path(__file__).resolve().parent / "clusters_tune.jsonl"
# The tuning slice: both outlets on its first day, alweeam alone on the next two.
TUNE_SLICE = (("2015-08-01", ("sabq", "alweeam")), ("2015-08-02", ("alweeam",)), ("2015-08-03", ("alweeam",)))
# A second tuning slice, labelled to fit the story decision's weights on more pairs: every sabq
# and alweeam article of 2015-08-07..09 (alweeam nearly alone: sabq has 16 articles on them).
TUNE2 = Path(__file__).resolve().parent / "clusters_tune2.jsonl"
TUNE2_DAYS = ("2015-08-07", "2015-08-08", "2015-08-09")


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


def _labels(path: Path, articles: Sequence[Article]) -> tuple[list[Article], dict[str, str], dict[str, str]]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    by_id = {a.id: a for a in articles}
    assert set(by_id) == {r["url"] for r in rows}, f"{path.name}: labels must cover the slice exactly"
    return list(by_id.values()), {r["url"]: r["story"] for r in rows}, {r["url"]: r["event"] for r in rows}


def load_gold(shared: Path) -> tuple[list[Article], dict[str, str], dict[str, str]]:
    return _labels(GOLD, load_days(shared, SLICE_DAYS, SLICE_OUTLETS))


def load_tune(shared: Path) -> tuple[list[Article], dict[str, str], dict[str, str]]:
    articles = [a for day, outlets in TUNE_SLICE for a in load_days(shared, (day,), outlets)]
    return _labels(TUNE, articles)


def load_tune2(shared: Path) -> tuple[list[Article], dict[str, str], dict[str, str]]:
    return _labels(TUNE2, load_days(shared, TUNE2_DAYS, SLICE_OUTLETS))


def pipeline_entities(articles: Sequence[Article]) -> dict[str, list[str]]:
    """Article id -> entity ids (one per mention), exactly as rasd.pipeline.run_cluster builds them."""
    from rasd import pipeline
    from rasd.models import Analysis
    from rasd.settings import Settings

    analysis = Analysis(articles=list(articles))
    pipeline.run_entities(analysis, Settings())
    out: dict[str, list[str]] = {}
    for entity in analysis.entities:
        if entity.type in ("PER", "ORG", "LOC"):
            for mention in entity.mentions:
                out.setdefault(mention.article, []).append(entity.id)
    return out


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


def tfidf_matrix(articles: Sequence[Article]) -> csr_matrix:
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [normalize(a.text) for a in articles]
    return TfidfVectorizer(sublinear_tf=True, min_df=1).fit_transform(texts).tocsr()


def agglomerative_cuts(articles: Sequence[Article], matrix: csr_matrix) -> Callable[[float], dict[str, str]]:
    """Average-linkage cosine tree (what sklearn's AgglomerativeClustering(linkage="average",
    metric="cosine") builds), built once; the returned function cuts it at a distance threshold."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import squareform

    dist = np.clip(1.0 - (matrix @ matrix.T).toarray(), 0.0, 2.0)
    np.fill_diagonal(dist, 0.0)
    tree = linkage(squareform(dist, checks=False), method="average")

    def cut(threshold: float) -> dict[str, str]:
        labels = fcluster(tree, t=threshold, criterion="distance")
        return {a.id: str(lab) for a, lab in zip(articles, labels, strict=True)}

    return cut


def single_pass_runs(articles: Sequence[Article], matrix: csr_matrix) -> Callable[[float], dict[str, str]]:
    """Single-pass centroid clustering in publication order: an article joins the cluster whose
    centroid (sum of member vectors) has the highest cosine with it if that is >= the threshold.
    dot(v, sum) is the sum of v's dot products with the members, so one sparse product X @ X.T
    serves every threshold."""
    order = sorted(range(len(articles)), key=lambda i: (articles[i].published or "", articles[i].id))
    gram = (matrix @ matrix.T).toarray()

    def run(threshold: float) -> dict[str, str]:
        label = np.full(len(articles), -1)
        norm2: list[float] = []
        done: list[int] = []
        for i in order:
            best, best_sim = -1, -1.0
            if norm2:
                dots = np.bincount(label[done], weights=gram[i, done], minlength=len(norm2))
                sims = dots / np.sqrt(np.maximum(norm2, 1e-12))
                best = int(np.argmax(sims))
                best_sim = float(sims[best])
            if best_sim < threshold:
                best = len(norm2)
                norm2.append(0.0)
                dots_best = 0.0
            else:
                dots_best = float(dots[best])
            norm2[best] += 2 * dots_best + gram[i, i]
            label[i] = best
            done.append(i)
        return {a.id: str(label[i]) for i, a in enumerate(articles)}

    return run


def tuned(
    fn: Callable[[float], dict[str, str]], gold: dict[str, str], grid: Sequence[float]
) -> tuple[float, dict[str, str]]:
    """The grid threshold with the best mean of BCubed F1 and pairwise F1 on ``gold``."""
    best: tuple[float, float, dict[str, str]] = (-1.0, 0.0, {})
    for thr in grid:
        pred = fn(thr)
        score = (bcubed(pred, gold)[2] + pairwise(pred, gold)[2]) / 2
        if score > best[0]:
            best = (score, thr, pred)
    return best[1], best[2]


def rasd_labels(
    articles: Sequence[Article], settings: ClusterSettings, entities: dict[str, list[str]] | None = None
) -> tuple[dict[str, str], dict[str, str]]:
    stories = cluster(articles, settings, entities)
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
    # Measured 0.423 and 0.711 (0.461 and 0.733 before the background document frequencies of the
    # sixth session; plain sklearn TF-IDF cosine: Pearson 0.386).
    assert pearson >= 0.41
    assert accuracy >= 0.68


def _cells(story: dict[str, str], event: dict[str, str], gold_story: dict[str, str],
           gold_event: dict[str, str]) -> dict[str, tuple[float, float, float]]:
    return {"story-B3": bcubed(story, gold_story), "story-pair": pairwise(story, gold_story),
            "event-B3": bcubed(event, gold_event), "event-pair": pairwise(event, gold_event)}


def _print_table(title: str, rows: dict[str, dict[str, tuple[float, float, float]]]) -> None:
    print(title)
    print(f"{'system':40} {'story B3 P/R/F1':>20} {'story pair P/R/F1':>20} {'event B3 F1':>12} "
          f"{'event pair F1':>14} thresholds")
    for name, c in rows.items():
        thr = f"{c['story-thr'][0]:.2f}/{c['event-thr'][0]:.2f}" if "story-thr" in c else ""
        print(f"{name:40} {'/'.join(f'{x:.3f}' for x in c['story-B3']):>20} "
              f"{'/'.join(f'{x:.3f}' for x in c['story-pair']):>20} {c['event-B3'][2]:>12.3f} "
              f"{c['event-pair'][2]:>14.3f} {thr}")


@pytest.mark.eval
def test_saudinewsnet_clusters(shared_data: Path) -> None:
    articles, gold_story, gold_event = load_gold(shared_data)
    settings = ClusterSettings()
    rows: dict[str, dict[str, tuple[float, float, float]]] = {}
    rows["rasd, text only"] = _cells(*rasd_labels(articles, settings), gold_story, gold_event)
    rows["rasd + NER entities (as the pipeline)"] = _cells(
        *rasd_labels(articles, settings, pipeline_entities(articles)), gold_story, gold_event)
    singletons = {a.id: a.id for a in articles}
    rows["all singletons"] = _cells(singletons, singletons, gold_story, gold_event)
    matrix = tfidf_matrix(articles)
    # Distance thresholds for the tree, similarity thresholds (1 - distance) for single pass.
    grid = [round(x, 2) for x in np.arange(0.4, 0.96, 0.05)]
    for name, fn, g in (("agglomerative avg-cosine", agglomerative_cuts(articles, matrix), grid),
                        ("single-pass centroid", single_pass_runs(articles, matrix),
                         [round(1 - x, 2) for x in grid])):
        cells: dict[str, tuple[float, float, float]] = {}
        for level, gold in (("story", gold_story), ("event", gold_event)):
            thr, pred = tuned(fn, gold, g)
            cells[f"{level}-B3"] = bcubed(pred, gold)
            cells[f"{level}-pair"] = pairwise(pred, gold)
            cells[f"{level}-thr"] = (thr, math.nan, math.nan)
        rows[name + " (tuned on gold)"] = cells
    _print_table(f"\nSaudiNewsNet {SLICE_OUTLETS} {SLICE_DAYS[0]}..{SLICE_DAYS[-1]}: {len(articles)} articles, "
                 f"{len(set(gold_story.values()))} gold stories, {len(set(gold_event.values()))} gold events",
                 rows)
    text, ents = rows["rasd, text only"], rows["rasd + NER entities (as the pipeline)"]
    # Measured (text only) 0.876 / 0.488 / 0.933 / 0.527; with entities 0.869 / 0.484 / 0.937 / 0.564
    # (before the sixth session's background and story settings: 0.877 / 0.477 / 0.933 / 0.521 and
    # 0.883 / 0.496 / 0.939 / 0.573; docs/clustering.md says why they were changed).
    # Since the seventh session's stemming (the article removed before Snowball) and story threshold
    # 0.20: text only 0.862 / 0.486 / 0.932 / 0.516, with entities 0.872 / 0.513 / 0.936 / 0.561.
    # Tuned baselines: agglomerative 0.847 / 0.435, single pass 0.826 / 0.520 (story B3 / pairwise F1).
    assert text["story-B3"][2] >= 0.855
    assert text["story-pair"][2] >= 0.46
    assert text["event-B3"][2] >= 0.92
    assert text["event-pair"][2] >= 0.51
    assert ents["story-B3"][2] >= 0.86
    assert ents["story-pair"][2] >= 0.50
    assert ents["event-B3"][2] >= 0.93
    assert ents["event-pair"][2] >= 0.55


# Floors per tuning slice (story B3, story pairwise, event B3, event pairwise F1), each slice with
# its loader and the days it covers.
# Slice 1: measured 0.934 / 0.661 / 0.959 / 0.558 in the sweep the settings were chosen by; 0.931 /
# 0.643 / 0.957 / 0.524 since a change to the NER stage (rasd/entities.py) changed the entities of
# 64 of the 319 articles: the same with the clustering code of before that change.
# Slice 2: measured 0.883 / 0.123 / 0.939 / 0.074. Pairwise scores here are mostly one story: the
# bombing of the emergency forces' mosque in Asir holds 276 of the slice's 309 gold pairs in 24
# articles (reactions, funerals, the bomber named) whose cosines with each other are mostly below
# 0.1; rasd split it into single articles.
# Since the sixth session's background document frequencies and story settings (chosen on both
# slices and the bundled sample): slice 1 0.930 / 0.654 / 0.959 / 0.574, slice 2 0.898 / 0.312 /
# 0.941 / 0.140. Since the seventh session's stemming and story threshold (chosen on both slices
# and the sample): slice 1 0.923 / 0.640 / 0.954 / 0.532, slice 2 0.890 / 0.322 / 0.941 / 0.159.
TUNING_SLICES = {
    "tuning slice 2015-08-01..03": (load_tune, (0.92, 0.63, 0.95, 0.52)),
    "second tuning slice 2015-08-07..09": (load_tune2, (0.89, 0.30, 0.93, 0.13)),
}


@pytest.mark.eval
@pytest.mark.parametrize("name", list(TUNING_SLICES))
def test_tuning_slices(shared_data: Path, name: str) -> None:
    load, floors = TUNING_SLICES[name]
    articles, gold_story, gold_event = load(shared_data)
    ents = pipeline_entities(articles)
    rows = {"rasd + NER entities (as the pipeline)": _cells(
        *rasd_labels(articles, ClusterSettings(), ents), gold_story, gold_event)}
    singletons = {a.id: a.id for a in articles}
    rows["all singletons"] = _cells(singletons, singletons, gold_story, gold_event)
    _print_table(f"\n{name}: {len(articles)} articles, "
                 f"{len(set(gold_story.values()))} stories, {len(set(gold_event.values()))} events", rows)
    ours = rows["rasd + NER entities (as the pipeline)"]
    measured = tuple(ours[k][2] for k in ("story-B3", "story-pair", "event-B3", "event-pair"))
    assert all(m >= f for m, f in zip(measured, floors, strict=True)), (measured, floors)


@pytest.mark.eval
def test_the_shipped_background_table_is_what_its_script_builds(shared_data: Path, tmp_path: Path) -> None:
    # The table holds stems: after a change to textnorm.stem or article_terms it must be rebuilt,
    # or the background's terms stop matching the batch's (the unit test only checks coverage).
    root = Path(__file__).resolve().parents[2]
    built = tmp_path / "background.tsv.gz"
    subprocess.run([sys.executable, str(root / "scripts" / "build_cluster_background.py"), "--out", str(built),
                    "--ant", str(shared_data / "news" / "ant" / "ant_v1.1.jsonl.gz")], check=True,
                   capture_output=True)
    assert built.read_bytes() == (root / "rasd" / "data" / "cluster_background.tsv.gz").read_bytes()
