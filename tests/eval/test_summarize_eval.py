"""ROUGE of rasd's summaries on EASC against lead, plain LexRank and TF-IDF centroid baselines.

EASC: 100 articles (topics 1-100), 5 human extractive summaries each. Every method gets the same
budget per article (the mean length in words of its 5 references), the same sentence split and
the same budget rule, and is scored against the 5 references with the mean of the per-reference
F1 (``rouge_multi(..., aggregate="mean")``). The weights of ``SummarySettings`` were swept on
topics 1-50 (the "tune" split) only; topics 51-100 ("test") were scored once, with the chosen
weights (docs/summarize.md).

Some EASC articles are hard-wrapped inside sentences; the loader joins a line break that does not
follow a sentence end into a space, since the summaries were cut from the unwrapped text.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import fmean

import pytest

from rasd.models import Article, Block, SummarySentence
from rasd.rouge import METRICS, rouge_multi, rouge_tokens
from rasd.summarize import SummarySettings, lead, summarize

Summarizer = Callable[[Sequence[Article], int], list[SummarySentence]]

# The baselines are the same function with every prior switched off and no MMR, so that they
# share the sentence filter and the budget rule; LexRank keeps the damping of its paper.
_PLAIN = {"weight_lede": 0.0, "weight_position": 0.0, "weight_title": 0.0, "weight_support": 0.0,
          "weight_length": 0.0, "mmr_lambda": 1.0, "position_scale": float("inf"), "damping": 0.85}
TFIDF_CENTROID = SummarySettings(**{**_PLAIN, "weight_centrality": 0.0, "weight_centroid": 1.0})
LEXRANK = SummarySettings(**{**_PLAIN, "weight_centrality": 1.0, "weight_centroid": 0.0})

# Lead with the budget rule of summarize (a sentence that does not fit is skipped and shorter
# later ones are tried), so that the gain of the content terms is seen apart from that rule.
LEAD_SKIP = SummarySettings(weight_centroid=0.0, weight_title=0.0, weight_support=0.0, mmr_lambda=1.0,
                            redundancy_max=float("inf"))

METHODS: dict[str, Summarizer] = {
    "lead": lambda arts, budget: lead(arts, budget_words=budget),
    "lead-skip": lambda arts, budget: summarize(arts, LEAD_SKIP, budget),
    "tfidf-centroid": lambda arts, budget: summarize(arts, TFIDF_CENTROID, budget),
    "lexrank": lambda arts, budget: summarize(arts, LEXRANK, budget),
    "rasd": lambda arts, budget: summarize(arts, budget_words=budget),
}

# Measured with this file (mean-of-5-references F1, %), all 100 topics: rasd 53.7 / 45.2 / 49.2,
# lead 52.1 / 44.0 / 47.8; on the held-out topics 51-100 rasd 46.8 R-2 against lead 45.7.
# Floors sit one point below what rasd measured; the margins over lead 0.2 below.
FLOORS = {"rouge1": 52.7, "rouge2": 44.2, "rougeL": 48.2}
MARGIN_OVER_LEAD_R2 = {"all 1-100": 1.0, "test 51-100": 0.9}

_WRAP = re.compile(r"(?<![.!?؟؛:…\n])[ \t]*\n(?!\s*\n)[ \t]*")


def load_easc(root: Path) -> list[tuple[int, Article, list[str]]]:
    """(topic, article, 5 reference summaries) for every EASC topic, in topic order."""
    out = []
    for topic_dir in sorted((root / "Articles").iterdir(), key=lambda p: int(p.name[5:])):
        topic = int(topic_dir.name[5:])
        (path,) = list(topic_dir.iterdir())
        text = _WRAP.sub(" ", path.read_text(encoding="utf-8-sig")).strip()
        ref_dir = root / "MTurk" / topic_dir.name
        refs = [p.read_text(encoding="utf-8-sig") for p in sorted(ref_dir.iterdir())]
        blocks = (Block(0, len(text), "body"),)
        article = Article(id=f"easc-{topic}", text=text, blocks=blocks, path=str(path))
        out.append((topic, article, refs))
    return out


def evaluate(
    data: list[tuple[int, Article, list[str]]], methods: dict[str, Summarizer]
) -> dict[str, dict[str, float]]:
    """Mean over articles of the mean-over-references F1 (%), per method and metric."""
    scores: dict[str, dict[str, list[float]]] = {m: {k: [] for k in METRICS} for m in methods}
    for _, article, refs in data:
        budget = round(fmean(len(rouge_tokens(r)) for r in refs))
        for name, method in methods.items():
            summary = " ".join(s.text for s in method([article], budget))
            result = rouge_multi(summary, refs)
            for k in METRICS:
                scores[name][k].append(result[k].f1)
    return {m: {k: 100 * fmean(v) for k, v in per.items()} for m, per in scores.items()}


def table(results: dict[str, dict[str, dict[str, float]]]) -> str:
    lines = [f"{'split':<14}{'method':<16}{'R-1':>7}{'R-2':>7}{'R-L':>7}"]
    for split, per_method in results.items():
        for method, s in per_method.items():
            lines.append(f"{split:<14}{method:<16}{s['rouge1']:7.1f}{s['rouge2']:7.1f}{s['rougeL']:7.1f}")
    return "\n".join(lines)


@pytest.mark.eval
def test_easc_rouge(shared_data: Path) -> None:
    data = load_easc(shared_data / "summarization" / "easc")
    assert len(data) == 100
    results = {
        "tune 1-50": evaluate([d for d in data if d[0] <= 50], METHODS),
        "test 51-100": evaluate([d for d in data if d[0] > 50], METHODS),
        "all 1-100": evaluate(data, METHODS),
    }
    print("\nEASC, F1 %, mean over 5 references, budget = mean reference length\n" + table(results))
    overall = results["all 1-100"]
    for metric, floor in FLOORS.items():
        assert overall["rasd"][metric] >= floor, f"{metric} fell below its floor {floor}"
    # The target of the issue: a ROUGE-2 point above lead overall, and above lead on held-out data.
    for split, margin in MARGIN_OVER_LEAD_R2.items():
        gain = results[split]["rasd"]["rouge2"] - results[split]["lead"]["rouge2"]
        assert gain >= margin, f"{split}: rasd is only {gain:.2f} ROUGE-2 above lead"
