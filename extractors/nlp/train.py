"""Train orderbot's spaCy models on generated data, deterministically, on the CPU.

    python -m extractors.nlp.train --out extractors/nlp/models --seed 1

writes ``OUT/ner`` (entity recogniser for orders written as prose), ``OUT/kind``
(message-kind classifier) and ``OUT/metrics.json`` (held-out scores, no
timings, so that the same seed writes the same bytes). Training data comes from
``extractors.nlp.generate`` with ``--seed``; the held-out set is generated with
another seed and from the template and word subsets training never sees.

    python -m extractors.nlp.train --compare-languages

trains one NER per language and the multilingual one on the same data and
prints the held-out F1 of each (the measurement behind shipping one 'xx' model).

    python -m extractors.nlp.train --check-corpus DIR

only evaluates: runs the trained classifier over ``DIR/messages/*.eml`` and
compares with the ``kind`` of ``DIR/labels/*.json``. A sanity check, never
training data.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.training import Example
from spacy.util import compounding, fix_random_seed, minibatch

from extractors.nlp.generate import KINDS, LANGUAGES, NER_LABELS, kind_examples, ner_examples
from extractors.nlp.pipeline import MODELS_DIR, blank

# Held-out data: another seed, and the held-out share of templates and words.
HELDOUT_SEED_OFFSET = 1000


@dataclass(frozen=True, slots=True)
class Settings:
    ner_train: int = 8000
    ner_heldout: int = 1400
    ner_epochs: int = 5
    kind_train: int = 8000
    kind_heldout: int = 1750
    kind_epochs: int = 4
    width: int = 64
    depth: int = 3
    dropout: float = 0.2


def tok2vec(width: int, depth: int, rows: int) -> dict:
    return {
        "@architectures": "spacy.Tok2Vec.v2",
        "embed": {
            "@architectures": "spacy.MultiHashEmbed.v2",
            "width": width,
            "attrs": ["NORM", "PREFIX", "SUFFIX", "SHAPE"],
            "rows": [rows, rows // 2, rows // 2, rows // 4],
            "include_static_vectors": False,
        },
        "encode": {
            "@architectures": "spacy.MaxoutWindowEncoder.v2",
            "width": width,
            "window_size": 1,
            "maxout_pieces": 3,
            "depth": depth,
        },
    }


def ner_model(s: Settings) -> dict:
    return {
        "@architectures": "spacy.TransitionBasedParser.v2",
        "state_type": "ner",
        "extra_state_tokens": False,
        "hidden_width": 64,
        "maxout_pieces": 2,
        "use_upper": True,
        "nO": None,
        "tok2vec": tok2vec(s.width, s.depth, 4000),
    }


def textcat_model(s: Settings) -> dict:
    """Bag of words and bigrams (robust on short texts) with a small CNN beside it."""
    return {
        "@architectures": "spacy.TextCatEnsemble.v2",
        "nO": None,
        "linear_model": {
            "@architectures": "spacy.TextCatBOW.v3",
            "exclusive_classes": True,
            "ngram_size": 2,
            "no_output_layer": False,
            "length": 2**16,
            "nO": None,
        },
        "tok2vec": tok2vec(s.width, 2, 2000),
    }


# --- building blocks ------------------------------------------------------------------


def ner_pipeline(lang: str, s: Settings) -> Language:
    nlp = blank(lang)
    ner = nlp.add_pipe("ner", config={"model": ner_model(s)})
    for label in NER_LABELS:
        ner.add_label(label)
    return nlp


def kind_pipeline(s: Settings) -> Language:
    nlp = blank("xx")
    textcat = nlp.add_pipe("textcat", config={"model": textcat_model(s), "threshold": 0.5})
    for kind in KINDS:
        textcat.add_label(kind)
    return nlp


def ner_data(nlp: Language, examples) -> list[Example]:
    out = []
    for e in examples:
        doc = nlp.make_doc(e.text)
        out.append(Example.from_dict(doc, {"entities": [(s, t, label) for s, t, label in e.entities]}))
    return out


def kind_data(nlp: Language, examples) -> list[Example]:
    out = []
    for e in examples:
        doc = nlp.make_doc(e.text)
        out.append(Example.from_dict(doc, {"cats": {k: float(k == e.kind) for k in KINDS}}))
    return out


def fit(nlp: Language, train: list[Example], *, epochs: int, seed: int, dropout: float, log) -> None:
    """Fixed seeds, fixed order of batches: the same data gives the same weights."""
    fix_random_seed(seed)
    optimizer = nlp.initialize(lambda: train)
    rng = random.Random(seed)
    for epoch in range(epochs):
        order = list(train)
        rng.shuffle(order)
        losses: dict[str, float] = {}
        for batch in minibatch(order, size=compounding(8.0, 32.0, 1.002)):
            nlp.update(batch, drop=dropout, sgd=optimizer, losses=losses)
        log(f"  epoch {epoch + 1}/{epochs} loss " + ", ".join(f"{k}={v:.1f}" for k, v in sorted(losses.items())))


# --- evaluation ----------------------------------------------------------------------------


def ner_scores(nlp: Language, examples: list[Example]) -> dict:
    """Per-label precision/recall/F1 over exact entity spans, plus micro averages."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    docs = nlp.pipe([e.reference.text for e in examples], batch_size=64)
    for doc, example in zip(docs, examples):
        gold = {(e.start_char, e.end_char, e.label_) for e in example.reference.ents}
        pred = {(e.start_char, e.end_char, e.label_) for e in doc.ents}
        for _, _, label in pred & gold:
            tp[label] += 1
        for _, _, label in pred - gold:
            fp[label] += 1
        for _, _, label in gold - pred:
            fn[label] += 1

    def prf(t: int, p: int, n: int) -> dict:
        precision = t / (t + p) if t + p else 0.0
        recall = t / (t + n) if t + n else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"p": round(precision, 4), "r": round(recall, 4), "f1": round(f1, 4), "support": t + n}

    per_label = {label: prf(tp[label], fp[label], fn[label]) for label in NER_LABELS}
    micro = prf(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    return {"per_label": per_label, "micro": micro}


def kind_scores(nlp: Language, texts: Sequence[str], gold: Sequence[str]) -> dict:
    confusion = {g: {p: 0 for p in KINDS} for g in KINDS}
    correct = 0
    for doc, g in zip(nlp.pipe(texts, batch_size=64), gold):
        p = max(doc.cats.items(), key=lambda kv: kv[1])[0]
        confusion[g][p] += 1
        correct += p == g
    return {"accuracy": round(correct / len(gold), 4) if gold else 0.0, "n": len(gold), "confusion": confusion}


def format_ner(scores: dict) -> str:
    lines = [f"{'label':8} {'P':>6} {'R':>6} {'F1':>6} {'n':>6}"]
    for label, s in [*scores["per_label"].items(), ("micro", scores["micro"])]:
        lines.append(f"{label:8} {s['p']:6.3f} {s['r']:6.3f} {s['f1']:6.3f} {s['support']:6d}")
    return "\n".join(lines)


def format_confusion(scores: dict) -> str:
    lines = [f"accuracy {scores['accuracy']:.3f} over {scores['n']} messages (rows: truth, columns: predicted)",
             f"{'':13}" + "".join(f"{k[:12]:>13}" for k in KINDS)]
    for g in KINDS:
        lines.append(f"{g:13}" + "".join(f"{scores['confusion'][g][p]:13d}" for p in KINDS))
    return "\n".join(lines)


# --- the commands -------------------------------------------------------------------------------


def train_all(out: Path, seed: int, s: Settings, log=print) -> dict:
    heldout_seed = seed + HELDOUT_SEED_OFFSET
    started = time.perf_counter()

    log(f"NER: {s.ner_train} generated orders (seed {seed}), held out {s.ner_heldout} (seed {heldout_seed})")
    ner = ner_pipeline("xx", s)
    train = ner_data(ner, ner_examples(s.ner_train, seed=seed))
    heldout = ner_data(ner, ner_examples(s.ner_heldout, seed=heldout_seed, split="heldout"))
    fit(ner, train, epochs=s.ner_epochs, seed=seed, dropout=s.dropout, log=log)
    ner_metrics = ner_scores(ner, heldout)
    log(format_ner(ner_metrics))
    ner_seconds = time.perf_counter() - started

    log(f"kind: {s.kind_train} generated messages (seed {seed}), held out {s.kind_heldout} (seed {heldout_seed})")
    kind = kind_pipeline(s)
    train_k = kind_examples(s.kind_train, seed=seed)
    heldout_k = kind_examples(s.kind_heldout, seed=heldout_seed, split="heldout")
    fit(kind, kind_data(kind, train_k), epochs=s.kind_epochs, seed=seed, dropout=s.dropout, log=log)
    kind_metrics = kind_scores(kind, [e.text for e in heldout_k], [e.kind for e in heldout_k])
    log(format_confusion(kind_metrics))
    kind_seconds = time.perf_counter() - started - ner_seconds

    out.mkdir(parents=True, exist_ok=True)
    ner.to_disk(out / "ner")
    kind.to_disk(out / "kind")
    metrics = {
        "seed": seed,
        "heldout_seed": heldout_seed,
        "settings": {k: getattr(s, k) for k in s.__dataclass_fields__},
        "languages": list(LANGUAGES),
        "ner": ner_metrics,
        "kind": kind_metrics,
    }
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    log(f"trained in {ner_seconds:.0f} s (NER) + {kind_seconds:.0f} s (kind); written to {out}")
    return metrics


def compare_languages(seed: int, s: Settings, log=print) -> None:
    """One NER per language against one multilingual NER, same data, same epochs."""
    heldout_seed = seed + HELDOUT_SEED_OFFSET
    per_lang = s.ner_train // len(LANGUAGES)
    rows = []
    multi = ner_pipeline("xx", s)
    train_all_langs = []
    heldout_by_lang = {}
    for lang in LANGUAGES:
        train_all_langs += ner_examples(per_lang, seed=seed + LANGUAGES.index(lang), languages=[lang])
        heldout_by_lang[lang] = ner_examples(s.ner_heldout // len(LANGUAGES), seed=heldout_seed, split="heldout", languages=[lang])
    t0 = time.perf_counter()
    fit(multi, ner_data(multi, train_all_langs), epochs=s.ner_epochs, seed=seed, dropout=s.dropout, log=lambda _: None)
    multi_time = time.perf_counter() - t0
    own_time = 0.0
    for lang in LANGUAGES:
        own = ner_pipeline(lang, s)
        mine = [e for e in train_all_langs if e.lang == lang]
        t0 = time.perf_counter()
        # the same number of updates per example as the multilingual model
        fit(own, ner_data(own, mine), epochs=s.ner_epochs, seed=seed, dropout=s.dropout, log=lambda _: None)
        own_time += time.perf_counter() - t0
        f_own = ner_scores(own, ner_data(own, heldout_by_lang[lang]))["micro"]["f1"]
        f_multi = ner_scores(multi, ner_data(multi, heldout_by_lang[lang]))["micro"]["f1"]
        rows.append((lang, f_own, f_multi))
        log(f"{lang}: own {f_own:.3f}  multilingual {f_multi:.3f}")
    log(f"mean: own {sum(r[1] for r in rows) / len(rows):.3f}  multilingual {sum(r[2] for r in rows) / len(rows):.3f}")
    log(f"training time: {len(LANGUAGES)} models {own_time:.0f} s, one model {multi_time:.0f} s")


def check_corpus(corpus: Path, models_dir: Path | None, log=print) -> dict:
    """Kind accuracy of the trained classifier on real messages (evaluation only)."""
    from bot.model import RawMessage
    from extractors.mime import parse_message
    from extractors.nlp.kind import predict_kind
    from extractors.quotes import order_text

    texts, gold, names = [], [], []
    for label_file in sorted((corpus / "labels").glob("*.json")):
        eml = corpus / "messages" / f"{label_file.stem}.eml"
        if not eml.is_file():
            continue
        kind = json.loads(label_file.read_text(encoding="utf-8"))["kind"]
        message = parse_message(RawMessage(data=eml.read_bytes(), origin=f"folder:{eml}", name=eml.name))
        texts.append((message.subject, order_text(message.body, message.quoted, message.subject),
                      tuple(d.name for d in message.documents)))
        gold.append(kind)
        names.append(eml.name)
    confusion = {g: {p: 0 for p in KINDS} for g in KINDS}
    wrong = []
    for (subject, text, files), g, name in zip(texts, gold, names):
        prediction = predict_kind(subject, text, files, models_dir=models_dir)
        confusion[g][prediction.kind.value] += 1
        if prediction.kind.value != g:
            wrong.append(f"{name}: {g} read as {prediction.kind.value} ({prediction.probability:.2f})")
    correct = sum(confusion[k][k] for k in KINDS)
    scores = {"accuracy": round(correct / len(gold), 4) if gold else 0.0, "n": len(gold), "confusion": confusion}
    log(format_confusion(scores))
    for line in wrong:
        log("  " + line)
    return scores


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m extractors.nlp.train", description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=MODELS_DIR, help="where to write the pipelines (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--compare-languages", action="store_true", help="measure per-language NER against one multilingual NER")
    parser.add_argument("--check-corpus", type=Path, metavar="DIR", help="only evaluate the trained classifier on DIR")
    parser.add_argument("--quick", action="store_true", help="a small run to try settings (not for shipping)")
    args = parser.parse_args(argv)
    s = Settings(ner_train=1500, ner_heldout=500, ner_epochs=3, kind_train=1500, kind_heldout=500, kind_epochs=3) if args.quick else Settings()
    if args.check_corpus:
        check_corpus(args.check_corpus, args.out)
        return 0
    if args.compare_languages:
        compare_languages(args.seed, s)
        return 0
    train_all(args.out, args.seed, s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
