"""Extractive summaries of a story or an event: one article or many, from several outlets.

The steps, each a small function below:

1. candidates: sentences of the ``body`` blocks only, with datelines cut off their front and
   boilerplate (اقرأ أيضا, URLs, follow-us lines), headline repeats and short fragments dropped;
   a full stop glued to the next sentence's first letter ("العالم.يسمى") ends a sentence too;
2. one node per distinct sentence: a sentence five outlets carry is one candidate, credited to the
   earliest published article, and the number of articles carrying it is kept as its *support*;
3. scores: similarity to the support-weighted centroid of the story's sentences (sublinear TF-IDF
   stem vectors), to the titles, the share of outlets carrying the sentence, a length prior, and
   a per-article position prior (each article's lede, then a gentle decay); LexRank centrality is
   available as one more term (off by default: it did not help on EASC, see docs/summarize.md);
4. selection: maximal marginal relevance up to a word budget, so that a second sentence saying the
   same thing in other words is passed over;
5. order: the chosen sentences in time order (article publication, then position in the article).

Position is a prior per article: in a multi-article story every article has its own lead, and a
news article's first paragraphs state its news, so the prior keeps its meaning where a
story-level "lead" does not exist. On EASC it is what human annotators reward most
(docs/summarize.md). ``weight_lede=0, weight_position=0`` turns it off.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from scipy import sparse

from rasd.models import Article, ArticleMemo, SummarySentence
from rasd.textnorm import normalize, sentences, stem, words


@dataclass(frozen=True, slots=True)
class SummarySettings:
    # A news story summary of about four sentences: what a reader scans in a story card.
    default_budget_words: int = 100
    # Shorter sentences are fragments (captions, "وأضاف:", bylines). A judgement from reading
    # SaudiNewsNet captions and bylines; 3-6 moved EASC lead R-2 by under 0.1.
    min_sentence_words: int = 6
    # Relevance = the weighted sum of these terms, each in [0, 1] (see _relevance). Swept one at a
    # time (two rounds) on EASC topics 1-50 only, R-2 F1 (mean of 5 references) of the whole:
    # - the lede (first kept sentence of each article): EASC annotators chose it 46% of the time
    #   against 19-28% for any later position; 1.5 tied, 0.5 and 2 were not better;
    weight_lede: float = 1.0
    # - position prior 1 / (1 + position / position_scale) within each article: a gentle decay
    #   after the lede. Scale swept 1-30: 10 best (43.5), 3 and 6 0.5 lower, 30 2.1 lower; weight
    #   0.5 or 2 lost 0.5-2.3;
    weight_position: float = 1.0
    position_scale: float = 10.0
    # - cosine to the support-weighted centroid of the story's sentences (continuous degree
    #   centrality: the sum of a sentence's cosines to all others, normalised). Swept 0-2: 1 best
    #   (43.5), 1.5 and 2 fell to 42.2 and 41.2 (it then outweighs the lede);
    weight_centroid: float = 1.0
    # - cosine to the titles: EASC has none, so untuned; a headline states the news, but it is
    #   one short line, so half the centroid's weight (a judgement);
    weight_title: float = 0.5
    # - share of the story's articles carrying the sentence (0 for one outlet, 1 for all): what
    #   several outlets repeat is the news. Untuned (EASC is single-article): a judgement, as
    #   strong as the lede;
    weight_support: float = 1.0
    # - length prior min(words, cap) / cap; swept -0.25-0.5 on EASC 1-50: none beat 0 once the
    #   glued-stop split cut the long run-on "sentences";
    weight_length: float = 0.0
    length_cap: int = 40
    # - LexRank centrality (continuous, normalised to max 1): swept 0-0.5 on topics 1-50, 0 best;
    #   its parameters are those of Erkan and Radev (damping 0.85, edges below cosine 0.1 dropped).
    weight_centrality: float = 0.0
    damping: float = 0.85
    edge_threshold: float = 0.1
    # MMR trade-off between relevance and novelty; swept 0.7-1 on EASC topics 1-50: 0.85 and 1
    # (no MMR) within 0.05 R-2, 0.95 0.4 lower, 0.7 not better. Kept for multi-article stories, where
    # paraphrases by different outlets are common and EASC cannot tell.
    mmr_lambda: float = 0.85
    # A sentence this close (cosine) to one already chosen says the same thing again and is never
    # taken, whatever its relevance; MMR alone lets a paraphrase of the top sentence through when
    # the position prior ranks it high. On EASC topics 1-50 0.7 and off were not better.
    redundancy_max: float = 0.5
    # Two sentences with a stem-set Jaccard at or above this are the same sentence carried by two
    # outlets (wire copy with a changed word or two). Not measured yet: a judgement, one changed
    # content word in a 10-word sentence still gives 9/11 = 0.82.
    duplicate_jaccard: float = 0.8
    # A sentence whose words are at least this share of a title's words is a headline repeat.
    title_overlap: float = 0.8
    # The similarity matrix is dense; above this many distinct sentences the least central-to-
    # the-centroid are dropped first so that memory stays near 2000^2 floats (32 MB).
    max_candidates: int = 2000


DEFAULT_SETTINGS = SummarySettings()

# Function words carry no topic; Snowball stems of them would otherwise dominate sentence vectors.
_STOPWORD_TEXT = (
    "في من على إلى الى عن أن إن ان ما لا لم لن هذا هذه ذلك تلك التي الذي الذين اللذين اللتين "
    "كان كانت يكون تكون قد وقد و ثم أو او بين حيث كما عند عندما مع كل بعد قبل حتى إذا اذا "
    "هو هي هم هن انه أنه إنه إنها أنها له لها لهم به بها منها منه فيها فيه عليه عليها وهو "
    "وهي ولا وفي ومن وعلى وإلى أيضا ايضا غير خلال ضمن نحو دون لدى إلا الا أما اما ليس أي اي "
    "التى فى وأن وان فإن بأن لأن لكن ولكن حين منذ عبر وذلك هناك هنا يا بل قال وقال وأضاف أضاف "
    "وأوضح أوضح وأشار أشار"
)
_STOPWORDS = frozenset(normalize(w) for w in _STOPWORD_TEXT.split())

_BOILERPLATE = re.compile(
    "|".join(
        normalize(p)
        for p in (
            "اقرأ أيضا", "اقرأ ايضا", "اقرأ المزيد", "شاهد أيضا", "شاهد ايضا", "شاهد الفيديو",
            "للمزيد من", "تابعونا", "تابعوا", "اشترك في", "اشتركوا", "جميع الحقوق محفوظة",
            "حقوق النشر", "اضغط هنا", "انقر هنا", "رابط مختصر", "مواضيع ذات صلة", "أخبار ذات صلة",
            "الكلمات الدالة", "المزيد من الأخبار",
        )
    )
)
_URL = re.compile(r"https?://|www\.|\S+@\S+\.\w+|\.(?:com|net|org|sa|ae|eg)\b", re.IGNORECASE)
_AGENCIES = (
    r"واس|وام|قنا|بنا|كونا|سانا|العمانية|الأناضول|سبأ|رويترز|أ\s?ف\s?ب|ا\s?ف\s?ب|أ\.ف\.ب|د\s?ب\s?أ|"
    r"يو\s?بي\s?آي|أ\s?ش\s?أ|وفا|معا|CNN|AFP|Reuters|AP"
)
# "الرياض - واس:" / "القاهرة (رويترز) -" / "دبي، 15 يونيو (وام) –" / "بيروت ـ «القدس العربي»:"
_DATELINE = re.compile(
    r"\s*[^\n.!?؟:()«»\-–—ـ]{0,50}?"
    r"(?:(?:[-–—ـ]\s*)?(?:\([^()\n]{1,30}\)|«[^«»\n]{1,30}»)|[-–—ـ]\s*(?:" + _AGENCIES + r"))"
    r"\s*[-–—ـ:]+\s*"
    # "واس - جدة:" (the agency first, as some Saudi papers print SPA copy)
    r"|\s*(?:" + _AGENCIES + r")\s*[-–—ـ]\s*[^\n.!?؟:()«»\-–—ـ]{1,30}:\s*"
)


# A terminator glued to the next sentence ("العالم.يسمى", "ليبيا .فى"): textnorm.sentences wants
# whitespace after a full stop, but scraped Arabic often has none, and a run of several sentences
# read as one is too long for any budget (EASC's own sentences were cut at every stop). Three
# letters or digits before the stop keep abbreviations (د.محمد, أ.ف.ب) whole; only an Arabic
# letter after it counts, so decimals, URLs and Latin initials never split.
_GLUED_STOP = re.compile(r"(?:(?<=[^\W_]{3})|(?<=\S)\s+)[.!?؟]+(?=[\u0621-\u064A])")


@dataclass(frozen=True, slots=True)
class _Sentence:
    article: int  # index into the articles given
    position: int  # among the kept sentences of its article
    start: int
    end: int
    words: tuple[str, ...]  # content stems, stopwords removed
    n_words: int  # all words, for the budget


@dataclass(frozen=True, slots=True)
class _Parsed:
    """What one article gives a summary whatever the other articles are: its title's content words
    and stems, and its sentences that pass every filter but the headline one (which compares a
    sentence with the titles of all the articles)."""

    title: frozenset[str]
    title_stems: tuple[str, ...]
    #: (start, end, content words, content stems, all words) per sentence.
    sentences: tuple[tuple[int, int, frozenset[str], tuple[str, ...], int], ...]


class ParsedArticles(ArticleMemo[_Parsed]):
    """Articles parsed for :func:`summarize` (their sentences, words and stems, the bulk of a
    summary's cost), each parsed once while it stays among the last ``size`` asked about."""

    def __init__(self, settings: SummarySettings = DEFAULT_SETTINGS, size: int = 2000) -> None:
        super().__init__(lambda article: _parse(article, settings), size)
        self.settings = settings


def summarize(
    articles: Sequence[Article],
    settings: SummarySettings = DEFAULT_SETTINGS,
    budget_words: int | None = None,
    parsed: ParsedArticles | None = None,
) -> list[SummarySentence]:
    """An extractive summary of ``articles`` (one story or event) of about ``budget_words`` words.

    Sentences are exact slices of their article's text, in time order; a sentence several outlets
    carry appears once, credited to the earliest published article. ``parsed`` (made with the
    same settings) keeps what each article gives for the next call; the summary is the same.
    """
    budget = settings.default_budget_words if budget_words is None else budget_words
    if budget < 1:
        raise ValueError(f"budget_words must be a positive number of words, got {budget}")
    if parsed is not None and parsed.settings != settings:
        raise ValueError("parsed was made with other summary settings; make one with these")
    parses = [parsed.get(a) if parsed is not None else _parse(a, settings) for a in articles]
    order = _time_order(articles)
    nodes, support = _distinct(_assemble(parses, settings), order, settings)
    if not nodes:
        return []
    if len(nodes) > settings.max_candidates:
        nodes, support = _prune(nodes, support, settings.max_candidates)
    vectors = _vectors([n.words for n in nodes] + [p.title_stems for p in parses])
    sent_vecs, title_vecs = vectors[: len(nodes)], vectors[len(nodes) :]
    relevance, similarity = _relevance(nodes, support, len(articles), sent_vecs, title_vecs, settings)
    chosen = _mmr(nodes, relevance, similarity, budget, settings)
    return _output(articles, [nodes[i] for i in chosen], order)


def lead(
    articles: Sequence[Article],
    settings: SummarySettings = DEFAULT_SETTINGS,
    budget_words: int | None = None,
) -> list[SummarySentence]:
    """Baseline: the first candidate sentences of the earliest article, then the next, to the budget.

    Uses the same sentence filter as :func:`summarize` and stops at the first sentence that would
    take the summary further from the budget (the usual lead; :func:`summarize` skips such a
    sentence and tries shorter ones).
    """
    budget = settings.default_budget_words if budget_words is None else budget_words
    order = _time_order(articles)
    cands = sorted(_candidates(articles, settings), key=lambda s: (order[s.article], s.position))
    picked: list[_Sentence] = []
    total = 0
    for s in cands:
        if not _fits(total, s.n_words, budget):
            break
        picked.append(s)
        total += s.n_words
    return _output(articles, picked, order)


# ---------------------------------------------------------------------------------------------
# Candidates


def split_glued(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """``textnorm.sentences`` spans, each cut again after a full stop glued to the next word."""
    spans = sentences(text, start, end)
    if _GLUED_STOP.search(text, start, end) is None:
        return spans
    out: list[tuple[int, int]] = []
    for s_start, s_end in spans:
        for m in _GLUED_STOP.finditer(text, s_start, s_end):
            out.append((s_start, m.end()))
            s_start = m.end()
        out.append((s_start, s_end))
    return out


def _candidates(articles: Sequence[Article], settings: SummarySettings) -> list[_Sentence]:
    return _assemble([_parse(a, settings) for a in articles], settings)


def _parse(article: Article, settings: SummarySettings) -> _Parsed:
    title = _content(words(_title_text(article)))
    text = article.text
    found = []
    for block in article.body_blocks():
        # One URL scan per block; most blocks have none, and then no sentence is checked.
        urls = [m.start() for m in _URL.finditer(text, block.start, block.end)]
        for si, (start, end) in enumerate(split_glued(text, block.start, block.end)):
            if si == 0:
                start = _skip_dateline(text, start, end)
            norms = words(text[start:end])
            if len(norms) < settings.min_sentence_words:
                continue
            if urls and any(start <= u < end for u in urls):
                continue
            if _BOILERPLATE.search(" ".join(norms)):
                continue
            content = _content(norms)
            if content:
                found.append((start, end, frozenset(content), tuple(map(stem, content)), len(norms)))
    return _Parsed(frozenset(title), tuple(map(stem, title)), tuple(found))


def _assemble(parses: Sequence[_Parsed], settings: SummarySettings) -> list[_Sentence]:
    """The candidate sentences of the articles: their parsed sentences that repeat no headline."""
    titles = [p.title for p in parses]
    out: list[_Sentence] = []
    for ai, parsed in enumerate(parses):
        position = 0
        for start, end, content, stems, n_words in parsed.sentences:
            if _is_headline(content, titles, settings.title_overlap):
                continue
            out.append(_Sentence(ai, position, start, end, stems, n_words))
            position += 1
    return out


def _skip_dateline(text: str, start: int, end: int) -> int:
    """Start of the sentence after a dateline such as "الرياض - واس:"; the span stays exact."""
    m = _DATELINE.match(text, start, end)
    if m is None or len(words(text[m.end() : end])) < 3:
        return start
    return m.end()


def _content(norms: Iterable[str]) -> list[str]:
    return [w for w in norms if w not in _STOPWORDS]


def _is_headline(content: set[str], titles: list[set[str]], overlap: float) -> bool:
    for title in titles:
        if title and len(content & title) >= overlap * len(content) and len(content) <= len(title) + 3:
            return True
    return False


def _title_text(article: Article) -> str:
    if article.title:
        return article.title
    return " ".join(article.text[b.start : b.end] for b in article.blocks if b.kind == "title")


# ---------------------------------------------------------------------------------------------
# One node per distinct sentence


def _time_order(articles: Sequence[Article]) -> list[int]:
    """Rank of each article in publication order; undated articles after dated, in input order."""
    def key(i: int) -> tuple[bool, float, int]:
        ts = _timestamp(articles[i].published)
        return (ts is None, ts if ts is not None else 0.0, i)

    ranked = sorted(range(len(articles)), key=key)
    rank = [0] * len(articles)
    for r, i in enumerate(ranked):
        rank[i] = r
    return rank


def _timestamp(published: str | None) -> float | None:
    if not published:
        return None
    try:
        dt = datetime.fromisoformat(published)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)  # a date without zone: any fixed choice keeps the order stable
    return dt.timestamp()


def _distinct(
    cands: list[_Sentence], order: list[int], settings: SummarySettings
) -> tuple[list[_Sentence], list[int]]:
    """Merge sentences that several articles carry; keep the earliest, count distinct articles.

    The same stem sequence is one sentence wherever it occurs; between articles, a stem-set
    Jaccard at or above ``duplicate_jaccard`` to an earlier kept sentence is one too. The Jaccard
    of all pairs comes from one sparse product; only pairs above the threshold are walked.
    """
    cands = sorted(cands, key=lambda s: (order[s.article], s.position))
    close = _close_pairs(cands, settings.duplicate_jaccard)
    node_of: list[int] = [0] * len(cands)
    nodes: list[_Sentence] = []
    carriers: list[set[int]] = []
    exact: dict[tuple[str, ...], int] = {}
    for i, s in enumerate(cands):
        node = exact.get(s.words)
        if node is None:
            best_j = 0.0
            for j, jac in close.get(i, ()):
                # j < i was merged into node_of[j]; compare with that node's own sentence only
                rep = nodes[node_of[j]]
                if rep is cands[j] and rep.article != s.article and jac > best_j:
                    node, best_j = node_of[j], jac
        if node is None:
            node = len(nodes)
            nodes.append(s)
            carriers.append(set())
            exact[s.words] = node
        node_of[i] = node
        carriers[node].add(s.article)
    return nodes, [len(c) for c in carriers]


def _close_pairs(cands: list[_Sentence], threshold: float) -> dict[int, list[tuple[int, float]]]:
    """For each sentence, the earlier sentences whose stem-set Jaccard is at least ``threshold``."""
    if len({s.article for s in cands}) < 2:
        return {}
    sets = _vectors([tuple(set(s.words)) for s in cands], binary=True)
    inter = sparse.triu(sets @ sets.T, k=1).tocoo()
    sizes = np.asarray(sets.sum(axis=1)).ravel()
    jac = inter.data / (sizes[inter.row] + sizes[inter.col] - inter.data)
    keep = jac >= threshold
    out: dict[int, list[tuple[int, float]]] = {}
    for j, i, v in zip(inter.row[keep].tolist(), inter.col[keep].tolist(), jac[keep].tolist(), strict=True):
        out.setdefault(i, []).append((j, v))
    return out


def _prune(nodes: list[_Sentence], support: list[int], keep: int) -> tuple[list[_Sentence], list[int]]:
    vecs = _vectors([n.words for n in nodes])
    centroid = np.asarray(vecs.mean(axis=0)).ravel()
    sim = vecs @ centroid
    best = sorted(np.argsort(-sim, kind="stable")[:keep].tolist())
    return [nodes[i] for i in best], [support[i] for i in best]


# ---------------------------------------------------------------------------------------------
# Scores


def _vectors(docs: list[tuple[str, ...]], binary: bool = False) -> sparse.csr_matrix:
    """Sublinear TF-IDF of stem lists, rows L2-normalised, as a CSR matrix built with numpy.

    IDF (smoothed, as scikit-learn's ``TfidfVectorizer``) comes from these sentences themselves.
    With ``binary`` the 0/1 incidence matrix comes back instead (stem sets).
    """
    vocab: dict[str, int] = {}
    flat = [vocab.setdefault(w, len(vocab)) for doc in docs for w in doc]
    n_cols = max(len(vocab), 1)
    row_of = np.repeat(np.arange(len(docs)), [len(doc) for doc in docs])
    # One sort of (row, column) keys gives the CSR layout and the term counts at once.
    keys, counts = np.unique(row_of * n_cols + np.array(flat, dtype=np.int64), return_counts=True)
    rows, cols = np.divmod(keys, n_cols)
    indptr = np.searchsorted(rows, np.arange(len(docs) + 1))
    shape = (len(docs), n_cols)
    if binary:
        return sparse.csr_matrix((np.ones(len(cols)), cols, indptr), shape=shape)
    df = np.bincount(cols, minlength=n_cols)
    idf = np.log((1 + len(docs)) / (1 + df)) + 1.0
    data = (1.0 + np.log(counts)) * idf[cols]
    norms = np.sqrt(np.bincount(rows, weights=data * data, minlength=len(docs)))
    data /= np.where(norms > 0, norms, 1.0)[rows]
    return sparse.csr_matrix((data, cols, indptr), shape=shape)


def _relevance(
    nodes: list[_Sentence],
    support: list[int],
    n_articles: int,
    vecs: sparse.csr_matrix,
    title_vecs: sparse.csr_matrix,
    settings: SummarySettings,
) -> tuple[np.ndarray, np.ndarray]:
    """Relevance in [0, 1] per node, and the dense cosine matrix of the nodes (for MMR)."""
    similarity = (vecs @ vecs.T).toarray()
    positions = np.array([n.position for n in nodes], dtype=float)
    carried = np.array(support, dtype=float)
    relevance = settings.weight_lede * (positions == 0)
    relevance = relevance + settings.weight_position / (1.0 + positions / settings.position_scale)
    if n_articles > 1:
        relevance += settings.weight_support * (carried - 1) / (n_articles - 1)
    if settings.weight_length:
        lengths = np.array([min(n.n_words, settings.length_cap) for n in nodes], dtype=float)
        relevance += settings.weight_length * lengths / settings.length_cap
    if settings.weight_centroid:
        # A sentence five outlets carry is one node; weighting by support keeps its weight.
        centroid = carried @ similarity  # = (sum of support-weighted vectors) . each vector
        if centroid.max() > 0:
            norm = np.sqrt(carried @ similarity @ carried)
            relevance += settings.weight_centroid * centroid / norm
    if settings.weight_title and title_vecs.nnz:
        relevance += settings.weight_title * (vecs @ title_vecs.T).toarray().max(axis=1)
    if settings.weight_centrality:
        prior = carried / (1.0 + positions / settings.position_scale)
        centrality = _lexrank(similarity, prior, settings)
        relevance += settings.weight_centrality * centrality / max(centrality.max(), 1e-12)
    relevance = np.asarray(relevance, dtype=float)
    # MMR weighs relevance against a cosine in [0, 1], so relevance is brought to that scale.
    return relevance / max(float(relevance.max()), 1e-12), similarity


def _lexrank(similarity: np.ndarray, prior: np.ndarray, settings: SummarySettings) -> np.ndarray:
    """Continuous LexRank with a teleport vector: the stationary distribution of the walk."""
    n = similarity.shape[0]
    graph = np.where(similarity >= settings.edge_threshold, similarity, 0.0)
    np.fill_diagonal(graph, 0.0)
    rows = graph.sum(axis=1)
    teleport = prior / prior.sum() if prior.sum() > 0 else np.full(n, 1.0 / n)
    # A sentence linked to nothing teleports, so the walk stays a proper distribution.
    transition = np.divide(graph, rows[:, None], out=np.zeros_like(graph), where=rows[:, None] > 0)
    dangling = rows == 0
    score = teleport.copy()
    for _ in range(100):
        nxt = settings.damping * (score @ transition + score[dangling].sum() * teleport)
        nxt += (1 - settings.damping) * teleport
        if np.abs(nxt - score).sum() < 1e-9:
            return nxt
        score = nxt
    return score


# ---------------------------------------------------------------------------------------------
# Selection and output


def _fits(total: int, n_words: int, budget: int) -> bool:
    """A sentence is taken while it brings the summary's length closer to the budget."""
    return total + n_words <= budget or total + n_words - budget < budget - total


def _mmr(
    nodes: list[_Sentence], relevance: np.ndarray, similarity: np.ndarray, budget: int,
    settings: SummarySettings,
) -> list[int]:
    """Greedy MMR over numpy arrays; ties go to the earlier sentence (nodes are in time order)."""
    lam = settings.mmr_lambda
    n_words = np.array([n.n_words for n in nodes])
    left = np.ones(len(nodes), dtype=bool)
    redundancy = np.zeros(len(nodes))
    chosen: list[int] = []
    total = 0
    while True:
        after = total + n_words
        ok = left & (redundancy < settings.redundancy_max)
        ok &= (after <= budget) | (after - budget < budget - total)
        if not ok.any():
            return chosen
        score = np.where(ok, lam * relevance - (1 - lam) * redundancy, -np.inf)
        best = int(np.argmax(score))
        chosen.append(best)
        total += int(n_words[best])
        left[best] = False
        redundancy = np.maximum(redundancy, similarity[best])


def _output(articles: Sequence[Article], picked: list[_Sentence], order: list[int]) -> list[SummarySentence]:
    picked = sorted(picked, key=lambda s: (order[s.article], s.start))
    return [
        SummarySentence(articles[s.article].text[s.start : s.end], articles[s.article].id, (s.start, s.end))
        for s in picked
    ]
