"""Train the neural NER layer over the CRF (an experiment of issue #5; not shipped).

The layer is a BiLSTM-CRF over the CRF's marginals, PPMI-SVD word vectors of ANT and a character
CNN (see rasd.ner.NeuralLayer and docs/entities.md, NER section, for what it gained: about one
point of dev F1 at less than half the speed). Reproduce the dev runs:

    .venv/bin/pip install torch==2.13.0                           # training only
    .venv/bin/python scripts/train_ner_neural.py vectors          # ANT vectors (~2 min)
    .venv/bin/python scripts/train_ner_neural.py crf --dev        # out-of-fold CRF marginals (~5 min)
    .venv/bin/python scripts/train_ner_neural.py train --dev      # the layer, scored on dev each epoch
    .venv/bin/python scripts/train_ner_neural.py check --dev --npz /tmp/rasd-ner-neural/neural_dev.npz

Without --dev the same stages use all of train (the CRF marginals then come from the shipped
model's recipe) and `check` scores CLEANANERCorp test with the shipped CRF files plus the layer.
Work files go to /tmp/rasd-ner-neural; nothing is written under rasd/. One CPU thread.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import torch

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import pycrfsuite

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_ner import (
    C1,
    C2,
    FOLDS,
    MAX_ITER,
    SHARED,
    _read_rows,
    ant_texts,
    append_out_of_fold,
    build_triggers,
    choose_phrases,
    entity_phrases,
    harvest_ant_names,
    word_counts,
)

from rasd.ner import LABELS, NerSettings, Resources, read_conll, sentence_features

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "rasd" / "data" / "ner"

WORK = Path("/tmp/rasd-ner-neural")
VEC_DIMS = 64
Sents = list[tuple[list[str], list[str]]]


def splits(dev: bool) -> tuple[Sents, Sents]:
    train = read_conll(SHARED / "ner" / "cleananercorp" / "train.txt")
    if not dev:
        return train, []
    cut = len(train) * 9 // 10
    return train[:cut], train[cut:]


def base_resources() -> tuple[Resources, dict[str, str], dict[str, str]]:
    res = Resources()
    with (PKG / "clusters.tsv").open(encoding="utf-8") as fh:
        for line in fh:
            w, a, b, c = line.rstrip("\n").split("\t")
            res.clusters[w] = (a, b, c)
    auto = {k: v for k, v, o in _read_rows(PKG / "gazetteer.tsv") if o == "auto"}
    return res, auto, ant_name_table()


def ant_name_table() -> dict[str, str]:
    # As scripts/train_ner.py builds it. Note: it comes out empty, because harvest_ant_names
    # strips ال from the word before comparing it with HONORIFICS (السيد -> سيد), so the shipped
    # gazetteer has no ANT names either; kept as is so the CRFs here match the shipped recipe.
    path = WORK / "ant_names.pkl"
    if not path.is_file():
        names = {k: "PERS" for k, c in harvest_ant_names(ant_texts()).items() if c >= 2}
        path.write_bytes(pickle.dumps(names))
    return pickle.loads(path.read_bytes())


def train_crf(train: Sents, base: Resources, auto: dict[str, str], ant_names: dict[str, str], path: Path) -> None:
    """The shipped CRF recipe (scripts/train_ner.py train_model) on ``train``, written to ``path``."""
    trainer = pycrfsuite.Trainer(verbose=False)
    append_out_of_fold(trainer, train, base, build_triggers(train), ant_names, auto)
    trainer.set_params({"c1": C1, "c2": C2, "max_iterations": MAX_ITER, "feature.possible_transitions": True})
    trainer.train(str(path))


def runtime_resources(train: Sents, base: Resources, auto: dict[str, str], ant_names: dict[str, str]) -> Resources:
    """What a Tagger built from ``train`` reads at run time: its own gazetteer and triggers."""
    res = Resources(clusters=base.clusters, triggers=build_triggers(train), auto=auto,
                    phrases=choose_phrases(entity_phrases(train), word_counts(train), ant_names))
    res.index_phrases()
    return res


def marginals(model: Path, res: Resources, sents: Sents) -> list[list[list[float]]]:
    tagger = pycrfsuite.Tagger()
    tagger.open(str(model))
    out = []
    settings = NerSettings()
    for words, _ in sents:
        tagger.set(sentence_features(words, res, settings))
        out.append([[tagger.marginal(y, i) for y in LABELS] for i in range(len(words))])
    return out


def crf_stage(dev: bool) -> None:
    """CRF marginals for every sentence: out-of-fold on train, from the full-train CRF on dev."""
    train, devset = splits(dev)
    base, auto, ant_names = base_resources()
    tag = "dev" if dev else "full"
    n = len(train)
    oof: list[list[list[float]]] = []
    for k in range(FOLDS):
        t0 = time.process_time()
        lo, hi = n * k // FOLDS, n * (k + 1) // FOLDS
        rest = train[:lo] + train[hi:]
        path = WORK / f"crf_{tag}_fold{k}.crfsuite"
        if not path.is_file():
            train_crf(rest, base, auto, ant_names, path)
        oof += marginals(path, runtime_resources(rest, base, auto, ant_names), train[lo:hi])
        print(f"fold {k}: {time.process_time() - t0:.0f} CPU-s", file=sys.stderr, flush=True)
    result = {"train": oof}
    if devset:
        path = WORK / f"crf_{tag}_all.crfsuite"
        if not path.is_file():
            train_crf(train, base, auto, ant_names, path)
        result["dev"] = marginals(path, runtime_resources(train, base, auto, ant_names), devset)
    (WORK / f"marginals_{tag}.pkl").write_bytes(pickle.dumps(result))


def vectors_stage() -> None:
    """PPMI-SVD vectors of the 30k most frequent ANT words (the recipe behind clusters.tsv)."""
    import numpy as np
    from train_ner import ppmi_svd_vectors

    vocab, vec = ppmi_svd_vectors(ant_texts(), VEC_DIMS)
    np.savez(WORK / "vectors.npz", vocab=np.array(vocab), vec=vec.astype(np.float32))


# Sizes and training, on dev with consistency (docs/entities.md has the table): hidden 2x64 and
# 50 filters peaked at 0.757 at epoch 2 then fell to 0.740-0.747; 2x32 and 30 filters gave
# 0.745-0.751 and 2.5x the layer's speed; averaging the weights from epoch 2 on held dev at
# 0.747-0.752 over epochs 2-7 (0.741 at 8) where single epochs swung from 0.721 to 0.757.
CHAR_DIMS = 24
FILTERS = 30
HIDDEN = 32
DROPOUT = 0.5
LR = 2e-3
BATCH = 16
WEIGHT_DECAY = 0.0
AVERAGE_FROM = 2
EPOCHS = 6
# The log-marginal skip connection and no dropout on the marginals: without them (dropout 0.5 on
# every input) the network stayed below the CRF (best dev 0.724 against 0.741).
SKIP = True
KEEP_MARGINALS = True


def word_table(sents: Sents, vocab: dict[str, int]) -> dict[str, tuple[int, str]]:
    """Per distinct word: its vector row (-1 for none) and its normalised characters."""
    from rasd.ner import strip_clitics, strip_prefix, word_chars
    from rasd.textnorm import normalize

    out: dict[str, tuple[int, str]] = {}
    for words, _ in sents:
        for w in words:
            if w not in out:
                norm = normalize(w) or w
                pre, core = strip_prefix(norm), strip_clitics(norm)
                idx = vocab.get(norm, vocab.get(pre, vocab.get(core, -1)))
                out[w] = (idx, word_chars(norm))
    return out


def build_model(n_chars: int, vec: np.ndarray) -> torch.nn.Module:
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.vec = nn.Embedding.from_pretrained(torch.cat([torch.tensor(vec), torch.zeros(1, vec.shape[1])]),
                                                    freeze=True)
            self.char_emb = nn.Embedding(n_chars + 2, CHAR_DIMS, padding_idx=0)
            self.conv = nn.Conv1d(CHAR_DIMS, FILTERS, 3, padding=1)
            dim = len(LABELS) + vec.shape[1] + 1 + FILTERS
            self.drop = nn.Dropout(DROPOUT)
            self.lstm = nn.LSTM(dim, HIDDEN, batch_first=True, bidirectional=True)
            self.out = nn.Linear(2 * HIDDEN, len(LABELS))
            self.trans = nn.Parameter(torch.zeros(len(LABELS), len(LABELS)))
            self.start = nn.Parameter(torch.zeros(len(LABELS)))
            self.end = nn.Parameter(torch.zeros(len(LABELS)))
            # Skip connection: the CRF's log-marginals go straight to the emissions, so the
            # network starts from the CRF's own decision and learns corrections to it.
            self.skip = nn.Parameter(torch.full((len(LABELS),), 1.0 if SKIP else 0.0), requires_grad=SKIP)

        def word_inputs(self, vec_idx: torch.Tensor, has_vec: torch.Tensor, chars: torch.Tensor) -> torch.Tensor:
            """(words,) vector rows, (words,) flags, (words, chars) ids -> the word part of the input."""
            e = self.char_emb(chars).transpose(1, 2)
            conv = self.conv(e)
            conv = conv.masked_fill((chars == 0)[:, None, :], -1e4)
            char = torch.relu(conv.max(dim=2).values)
            return torch.cat([self.vec(vec_idx), has_vec[:, None], char], dim=1)

        def emissions(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
            from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
            n = len(LABELS)
            marg = x[:, :, :n]
            inp = torch.cat([marg if KEEP_MARGINALS else self.drop(marg), self.drop(x[:, :, n:])], dim=2)
            packed = pack_padded_sequence(inp, lengths, batch_first=True, enforce_sorted=False)
            h, _ = self.lstm(packed)
            h, _ = pad_packed_sequence(h, batch_first=True, total_length=x.shape[1])
            return self.out(self.drop(h)) + self.skip * torch.log(marg + 1e-6)

        def nll(self, em: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
            """Negative log-likelihood of the gold labels under the linear-chain CRF, summed."""
            bsz, steps, _ = em.shape
            ar = torch.arange(bsz)
            gold = self.start[tags[:, 0]] + em[ar, 0, tags[:, 0]]
            alpha = self.start[None] + em[:, 0]
            for t in range(1, steps):
                m = mask[:, t]
                gold = gold + m * (self.trans[tags[:, t - 1], tags[:, t]] + em[ar, t, tags[:, t]])
                new = torch.logsumexp(alpha[:, :, None] + self.trans[None] + em[:, t, None, :], dim=1)
                alpha = torch.where(m[:, None] > 0, new, alpha)
            last = tags[ar, mask.sum(1).long() - 1]
            gold = gold + self.end[last]
            return (torch.logsumexp(alpha + self.end[None], dim=1) - gold).sum()

    return Net()


def bio_penalty() -> tuple[np.ndarray, np.ndarray]:
    """-1e4 on transitions conlleval would read as a new entity: O/other type -> I-X, start -> I-X."""
    import numpy as np
    n = len(LABELS)
    trans = np.zeros((n, n), dtype=np.float32)
    start = np.zeros(n, dtype=np.float32)
    for j, lab in enumerate(LABELS):
        if lab.startswith("I-"):
            start[j] = -1e4
            for i, prev in enumerate(LABELS):
                if prev[2:] != lab[2:]:
                    trans[i, j] = -1e4
    return trans, start


def export(net: torch.nn.Module, chars: str, vocab: list[str], path: Path) -> None:
    import numpy as np
    pen_t, pen_s = bio_penalty()
    sd = {k: v.detach().numpy() for k, v in net.state_dict().items()}
    arrays = {
        "labels": np.array("\n".join(LABELS)), "chars": np.array(chars), "vocab": np.array("\n".join(vocab)),
        "vec": sd["vec.weight"][:-1].astype(np.float16), "char_emb": sd["char_emb.weight"],
        "conv_w": sd["conv.weight"], "conv_b": sd["conv.bias"],
        "out_w": sd["out.weight"], "out_b": sd["out.bias"],
        "skip": sd["skip"], "trans": sd["trans"] + pen_t, "start": sd["start"] + pen_s, "end": sd["end"],
    }
    for d, suf in (("f", ""), ("b", "_reverse")):
        arrays[f"w_ih_{d}"] = sd[f"lstm.weight_ih_l0{suf}"]
        arrays[f"w_hh_{d}"] = sd[f"lstm.weight_hh_l0{suf}"]
        arrays[f"b_{d}"] = sd[f"lstm.bias_ih_l0{suf}"] + sd[f"lstm.bias_hh_l0{suf}"]
    np.savez_compressed(path, **{k: (v.astype(np.float16) if v.dtype == np.float32 and k != "trans" and k != "start"
                                     else v) for k, v in arrays.items()})


def score_numpy(path: Path, sents: Sents, marg: list[list[list[float]]]) -> dict[str, float]:
    """Dev F1 of the exported numpy layer, sentence by sentence and with document consistency."""
    import numpy as np

    from rasd.ner import NeuralLayer, entity_scores, make_consistent, strip_clitics, strip_prefix
    from rasd.textnorm import normalize

    with np.load(path, allow_pickle=False) as arrays:
        layer = NeuralLayer(arrays)
    inputs = []
    for (words, _), m in zip(sents, marg, strict=True):
        vecs = []
        for w in words:
            norm = normalize(w) or w
            vecs.append(layer.word_vector(norm, strip_prefix(norm), strip_clitics(norm)))
        inputs.append(np.concatenate([np.array(m, dtype=np.float32), np.stack(vecs)], axis=1))
    t0 = time.process_time()
    pred = []
    for lo in range(0, len(inputs), 64):
        pred += layer.decode(inputs[lo : lo + 64])
    cpu = time.process_time() - t0
    gold = [t for _, t in sents]
    out = {"sentence": entity_scores(gold, pred)["ALL"]["f1"], "tok_per_cpu_s_layer": sum(map(len, gold)) / cpu}
    cons = [list(p) for p in pred]
    for lo in range(0, len(sents), 20):
        make_consistent([w for w, _ in sents[lo : lo + 20]], cons[lo : lo + 20], 3, lambda w: normalize(w) or w)
    scores = entity_scores(gold, cons)
    out["consistent"] = scores["ALL"]["f1"]
    for typ in ("PER", "LOC", "ORG", "MISC"):
        out[typ] = scores[typ]["f1"]
    out["P"], out["R"] = scores["ALL"]["precision"], scores["ALL"]["recall"]
    return out


def train_stage(dev: bool, epochs: int, seed: int, out: Path) -> None:
    import numpy as np
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    train, devset = splits(dev)
    margs = pickle.loads((WORK / f"marginals_{'dev' if dev else 'full'}.pkl").read_bytes())
    vz = np.load(WORK / "vectors.npz")
    vocab_list = [str(w) for w in vz["vocab"]]
    vocab = {w: i for i, w in enumerate(vocab_list)}
    table = word_table(train + devset, vocab)
    train_words = {w for ws, _ in train for w in ws}
    chars = "".join(sorted({ch for w in train_words for ch in table[w][1]}))
    cid = {ch: i + 2 for i, ch in enumerate(chars)}
    net = build_model(len(chars), vz["vec"])
    opt = torch.optim.Adam([p for p in net.parameters() if p.requires_grad], lr=LR, weight_decay=WEIGHT_DECAY)
    lab = {y: i for i, y in enumerate(LABELS)}
    nvec = len(vocab_list)

    def tensors(batch: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        words = sorted({w for i in batch for w in train[i][0]})
        wid = {w: j for j, w in enumerate(words)}
        vidx = torch.tensor([table[w][0] if table[w][0] >= 0 else nvec for w in words])
        has = torch.tensor([1.0 if table[w][0] >= 0 else 0.0 for w in words])
        cmax = max(len(table[w][1]) for w in words)
        ch = torch.zeros(len(words), cmax, dtype=torch.long)
        for j, w in enumerate(words):
            ids = [cid.get(c, 1) for c in table[w][1]]
            ch[j, : len(ids)] = torch.tensor(ids)
        lengths = [len(train[i][0]) for i in batch]
        steps = max(lengths)
        winp = net.word_inputs(vidx, has, ch)
        x = torch.zeros(len(batch), steps, len(LABELS) + winp.shape[1])
        tags = torch.zeros(len(batch), steps, dtype=torch.long)
        mask = torch.zeros(len(batch), steps)
        for b, i in enumerate(batch):
            n = lengths[b]
            idx = torch.tensor([wid[w] for w in train[i][0]])
            x[b, :n] = torch.cat([torch.tensor(margs["train"][i]), winp[idx]], dim=1)
            tags[b, :n] = torch.tensor([lab[t] for t in train[i][1]])
            mask[b, :n] = 1
        return x, torch.tensor(lengths), tags, mask

    best = -1.0
    avg: dict[str, torch.Tensor] = {}
    for ep in range(epochs):
        t0 = time.process_time()
        net.train()
        order = rng.permutation(len(train))
        # Batches of similar length (shuffled buckets) keep the padding and the CRF loop short.
        buckets = [order[i : i + BATCH * 20] for i in range(0, len(order), BATCH * 20)]
        total = 0.0
        for bucket in buckets:
            bucket = sorted(bucket, key=lambda i: len(train[i][0]))
            batches = [bucket[i : i + BATCH] for i in range(0, len(bucket), BATCH)]
            rng.shuffle(batches)
            for batch in batches:
                x, lengths, tags, mask = tensors(batch)
                loss = net.nll(net.emissions(x, lengths), tags, mask)
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(net.parameters(), 5.0)
                opt.step()
                total += float(loss.detach())
        net.eval()
        if AVERAGE_FROM and ep + 1 >= AVERAGE_FROM:
            # Weights averaged over the epochs from AVERAGE_FROM on (Izmailov et al. 2018): dev F1
            # swings by a point from one epoch to the next, the average does not.
            state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            seen = ep + 2 - AVERAGE_FROM
            avg = state if seen == 1 else {k: avg[k] + (state[k] - avg[k]) / seen for k in state}
            live = state
            net.load_state_dict(avg)
            export(net, chars, vocab_list, out)
            net.load_state_dict(live)
        else:
            export(net, chars, vocab_list, out)
        msg = f"epoch {ep + 1}: loss {total:.0f}, {time.process_time() - t0:.0f} CPU-s"
        if devset:
            sc = score_numpy(out, devset, margs["dev"])
            msg += " | " + " ".join(f"{k} {v:.3f}" for k, v in sc.items() if k != "tok_per_cpu_s_layer")
            msg += f" | layer {sc['tok_per_cpu_s_layer']:,.0f} tok/CPU-s"
            if sc["consistent"] > best:
                best = sc["consistent"]
                out.with_suffix(".best.npz").write_bytes(out.read_bytes())
        print(msg, file=sys.stderr, flush=True)
    torch.save(net.state_dict(), out.with_suffix(".pt"))


def check_stage(dev: bool, npz: Path) -> None:
    """End to end through rasd.ner.Tagger: a model directory as train_ner.py writes it, windows of
    20 sentences with document consistency, F1 and tokens per CPU-second."""
    import shutil

    from rasd.ner import Tagger, entity_scores

    train, devset = splits(dev)
    data = devset if dev else read_conll(SHARED / "ner" / "cleananercorp" / "test.txt")
    base, auto, ant_names = base_resources()
    d = WORK / ("model_dev" if dev else "model_full")
    d.mkdir(exist_ok=True)
    if dev:
        res = runtime_resources(train, base, auto, ant_names)
        shutil.copy(WORK / "crf_dev_all.crfsuite", d / "model.crfsuite")
        with (d / "gazetteer.tsv").open("w", encoding="utf-8") as fh:
            fh.writelines(f"{k}\t{v}\ttrain\n" for k, v in sorted(res.phrases.items()))
            fh.writelines(f"{k}\t{v}\tauto\n" for k, v in sorted(auto.items()))
        with (d / "triggers.tsv").open("w", encoding="utf-8") as fh:
            fh.writelines(f"{k}\t{v}\n" for k, v in sorted(res.triggers.items()))
        shutil.copy(PKG / "clusters.tsv", d / "clusters.tsv")
    else:
        for name in ("model.crfsuite", "gazetteer.tsv", "triggers.tsv", "clusters.tsv"):
            shutil.copy(PKG / name, d / name)
    shutil.copy(npz, d / "neural.npz")
    gold = [t for _, t in data]
    ntok = sum(map(len, gold))
    for neural in (False, True):
        for consistency in (False, True):
            tagger = Tagger(d, NerSettings(neural=neural, consistency=consistency))
            t0 = time.process_time()
            pred = []
            for lo in range(0, len(data), 20):
                pred += tagger.tag_document([w for w, _ in data[lo : lo + 20]])
            cpu = time.process_time() - t0
            sc = entity_scores(gold, pred)
            print(f"neural={neural} consistency={consistency}: " + " ".join(
                f"{k} {sc[k]['f1']:.3f}" for k in ("ALL", "PER", "LOC", "ORG", "MISC"))
                + f" P {sc['ALL']['precision']:.3f} R {sc['ALL']['recall']:.3f} | {ntok / cpu:,.0f} tok/CPU-s (cold)")


def main() -> int:
    global SKIP, KEEP_MARGINALS, HIDDEN, LR, FILTERS, WEIGHT_DECAY, AVERAGE_FROM
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("stage", choices=["crf", "vectors", "train", "check"])
    ap.add_argument("--npz", type=Path, default=None, help="check: the exported layer to check")
    ap.add_argument("--dev", action="store_true", help="train on the first nine tenths, score the last")
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--no-skip", action="store_true")
    ap.add_argument("--drop-marginals", action="store_true")
    ap.add_argument("--hidden", type=int, default=HIDDEN)
    ap.add_argument("--lr", type=float, default=LR)
    ap.add_argument("--filters", type=int, default=FILTERS)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--average-from", type=int, default=AVERAGE_FROM, help="average weights from this epoch on")
    args = ap.parse_args()
    HIDDEN, LR, FILTERS, WEIGHT_DECAY = args.hidden, args.lr, args.filters, args.weight_decay
    AVERAGE_FROM = args.average_from
    SKIP, KEEP_MARGINALS = not args.no_skip, not args.drop_marginals
    WORK.mkdir(parents=True, exist_ok=True)
    if args.stage == "crf":
        crf_stage(args.dev)
    elif args.stage == "vectors":
        vectors_stage()
    elif args.stage == "check":
        check_stage(args.dev, args.npz)
    else:
        out = args.out or (WORK / f"neural_{'dev' if args.dev else 'full'}.npz")
        train_stage(args.dev, args.epochs, args.seed, out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
