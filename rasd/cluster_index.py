"""The candidate index of rasd.cluster: term -> recent articles, read from the newest end.

Split from rasd.cluster to keep that module readable; nothing here is public.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import compress, repeat
from operator import add, ge, itemgetter, mul

_ZEROS = repeat(0.0)  # the default of dict.get in map(d.get, keys, _ZEROS); an endless iterator


class _Posting:
    """The entries of one term, oldest first, as parallel lists, so that a query reads a slice of
    each with C-level map and zip instead of unpacking a tuple per entry in a Python loop."""

    __slots__ = ("docs", "head", "ordered", "times", "weights")

    def __init__(self) -> None:
        self.docs: list[str] = []
        self.times: list[float] = []
        self.weights: list[float] = []
        self.head = 0  # the entries before it are older than the story window: dropped
        # Times never decrease (a batch in publication order): the oldest entry read is the first.
        self.ordered = True


class _ArticleIndex:
    """Term -> (time, article id, weight) of recent articles, in the order they were added.

    Entries older than the story window are dropped from the front whenever a posting grows, and a
    query reads each posting from its newest end, at most ``max_posting`` entries deep: the cost of
    a query is bounded whatever the size of the corpus.
    """

    def __init__(self, window: float, max_posting: int) -> None:
        self.postings: dict[str, _Posting] = {}
        self.window = window
        self.max_posting = max_posting

    def add(self, doc_id: str, t: float, vec: Mapping[str, float], terms: Iterable[str]) -> None:
        cutoff = t - self.window
        postings = self.postings
        for term in terms:
            post = postings.get(term)
            if post is None:
                post = postings[term] = _Posting()
            else:
                times = post.times
                head, n = post.head, len(times)
                while head < n and times[head] < cutoff:
                    head += 1
                if head > 64 and 2 * head > n:
                    # Compacted once the dropped entries are the larger part: amortised O(1).
                    del post.docs[:head], post.times[:head], post.weights[:head]
                    head = 0
                post.head = head
                if post.ordered and times and t < times[-1]:
                    post.ordered = False
            post.docs.append(doc_id)
            post.times.append(t)
            post.weights.append(vec[term])

    def nearest(self, vec: Mapping[str, float], terms: Iterable[str], t: float, k: int) -> list[str]:
        """Up to k recent article ids with the largest dot product with ``vec`` over indexed terms.

        Each posting is read from its newest entry; an article's partial products are added in
        the order of the query's terms, and ties keep the order in which articles were met.
        """
        cutoff = t - self.window
        depth = self.max_posting
        acc: dict[str, float] = {}
        get = acc.get
        for term in terms:
            post = self.postings.get(term)
            if post is None:
                continue
            lo = max(post.head, len(post.docs) - depth)
            if lo >= len(post.docs):
                continue
            docs: Iterable[str] = reversed(post.docs[lo:])
            weights: Iterable[float] = reversed(post.weights[lo:])
            if (post.times[lo] if post.ordered else min(post.times[lo:])) < cutoff:
                # Not a cut of the posting: an article added late (a watcher catching up) sits
                # among newer ones.
                keep = list(map(ge, reversed(post.times[lo:]), repeat(cutoff)))
                docs, weights = list(compress(docs, keep)), list(compress(weights, keep))
            # acc[d] = acc.get(d, 0.0) + q * w for each entry (an article occurs once a posting),
            # run in C: update takes the pairs one by one as map yields them.
            docs = list(docs)
            acc.update(zip(docs, map(add, map(get, docs, _ZEROS), map(mul, repeat(vec[term]), weights)),
                           strict=True))
        # A C-level sort of a few hundred items; ties keep the (deterministic) order of the postings.
        return [a for a, _ in sorted(acc.items(), key=itemgetter(1), reverse=True)[:k]]
