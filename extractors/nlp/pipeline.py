"""spaCy pipelines: built from ``spacy.blank(lang)``, trained parts loaded from disk.

Nothing here downloads anything. A pipeline is one of:

- the **rule pipeline** of a language (``rule_pipeline("de")``): ``spacy.blank``
  with orderbot's tokenizer, the labelled-value matcher and an EntityRuler
  (``extractors.nlp.patterns``) for dates, amounts with currency, quantities with
  units, part numbers and PO numbers. Built in code, so always available.
- a **trained pipeline** (``trained_pipeline("ner")``, ``trained_pipeline("kind")``):
  written by ``python -m extractors.nlp.train`` (``make model``) under
  ``extractors/nlp/models/`` and loaded from there; a missing directory raises
  ``ModelMissing`` naming the path and the command that builds it.

Every pipeline uses the same tokenizer (``OrderTokenizer``), in every language:
codes, numbers and dates stay one token ("AX-1234/B", "1.234,50", "05/12/2026"),
a unit glued to a number is split off ("20pcs" -> "20" "pcs"), and each Chinese
character is a token of its own, with runs of digits and Latin letters kept
together ("20箱A4纸" -> "20" "箱" "A4" "纸"). Rules and models therefore see the
same tokens whatever the language, and one multilingual model can read Chinese.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Iterator
from functools import cache
from pathlib import Path

import spacy
from spacy.language import Language
from spacy.tokens import Doc
from spacy.vocab import Vocab

from bot.errors import PermanentError

MODELS_DIR = Path(__file__).parent / "models"
BUILD_COMMAND = "make model  (or: .venv/bin/python -m extractors.nlp.train --out extractors/nlp/models --seed 1)"

# Languages that get a rule pipeline; any other spaCy code works too ("xx" included).
LANGUAGES = ("en", "de", "fr", "zh", "es", "it", "nl")

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_ALNUM = rf"[^\W_{CJK}]"
_TOKEN = re.compile(
    rf"""
    (?P<elision>(?<![^\W_])[^\W\d_{CJK}]{{1,2}}['’](?={_ALNUM}))   # l'  d'  qu'  dell'
    | {_ALNUM}+(?:(?:[-./_+&]|(?<=\d)[,'’](?=\d))(?={_ALNUM}){_ALNUM}+)*   # words, codes, numbers
    | [{CJK}]                                                       # one Chinese character
    | \S                                                            # any other sign
    """,
    re.X,
)
_NUMBER_THEN_WORD = re.compile(r"^(\d[\d.,'’]*\d|\d)([^\W\d_]+)$")
_CODE_THEN_NUMBER = re.compile(r"^([A-Za-z]{3})(\d[\d.,]*)$")
_AMOUNT_PER_UNIT = re.compile(r"^(\d[\d.,'’]*[.,]\d+|[^\W\d_]{3,5})(/)([^\W\d_]+)$")


class ModelMissing(PermanentError):
    """A trained pipeline is not on disk where orderbot looks for it."""

    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        super().__init__(
            f"the trained spaCy {what} pipeline is missing at {path}: build it with {BUILD_COMMAND}"
        )


# --- tokenizer -------------------------------------------------------------------


@cache
def _split_words() -> tuple[frozenset[str], frozenset[str]]:
    """Unit words split off a number ("20pcs"), currency codes split off an amount ("EUR12")."""
    from extractors.normalise import fold, vocabulary
    from extractors.quotes import text_vocabulary

    units = {w for w in vocabulary().units if w.isalpha()}
    for words in (text_vocabulary().get("unit_words") or {}).values():
        units.update(fold(str(w)) for w in words if str(w).isalpha())
    units.add("x")
    currencies = {w for w in vocabulary().currencies if w.isalpha() and w.isascii() and len(w) in (3, 4, 5)}
    return frozenset(units), frozenset(currencies)


def _pieces(token: str) -> Iterator[str]:
    units, currencies = _split_words()
    if token[:1].isdigit() and (m := _NUMBER_THEN_WORD.match(token)) and m.group(2).lower() in units:
        yield from m.groups()
    elif (m := _CODE_THEN_NUMBER.match(token)) and m.group(1).lower() in currencies:
        yield from m.groups()
    elif (m := _AMOUNT_PER_UNIT.match(token)) and (m.group(1)[0].isdigit() or m.group(1).lower() in currencies):
        yield from m.groups()  # "3.75/box", "EUR/Rolle"
    else:
        yield token


def token_texts(text: str) -> list[str]:
    """The tokens orderbot's tokenizer makes of ``text``, white space left out."""
    return [piece for m in _TOKEN.finditer(text) for piece in _pieces(m.group())]


class OrderTokenizer:
    """The one tokenizer of every orderbot pipeline (see the module docstring)."""

    def __init__(self, vocab: Vocab) -> None:
        self.vocab = vocab

    def __call__(self, text: str) -> Doc:
        words: list[str] = []
        spaces: list[bool] = []

        def gap(between: str) -> None:
            if not between:
                return
            if words and between[0] == " ":
                spaces[-1] = True
                between = between[1:]
            if between:
                words.append(between)
                spaces.append(False)

        pos = 0
        for m in _TOKEN.finditer(text):
            gap(text[pos : m.start()])
            for piece in _pieces(m.group()):
                words.append(piece)
                spaces.append(False)
            pos = m.end()
        gap(text[pos:])
        return Doc(self.vocab, words=words, spaces=spaces)

    def pipe(self, texts: Iterable[str], batch_size: int = 1000) -> Iterator[Doc]:
        for text in texts:
            yield self(text)

    # Nothing to save: the tokenizer is code. spaCy calls these when saving/loading.
    def to_disk(self, path: Path, **kwargs: object) -> None:
        Path(path).mkdir(parents=True, exist_ok=True)
        (Path(path) / "orderbot-tokenizer").write_text("orderbot.tokenizer.v1\n", encoding="utf-8")

    def from_disk(self, path: Path, **kwargs: object) -> OrderTokenizer:
        return self

    def to_bytes(self, **kwargs: object) -> bytes:
        return b""

    def from_bytes(self, data: bytes, **kwargs: object) -> OrderTokenizer:
        return self


@spacy.registry.tokenizers("orderbot.tokenizer.v1")
def create_tokenizer() -> Callable[[Language], OrderTokenizer]:
    def make(nlp: Language) -> OrderTokenizer:
        return OrderTokenizer(nlp.vocab)

    return make


TOKENIZER_CONFIG = {"nlp": {"tokenizer": {"@tokenizers": "orderbot.tokenizer.v1"}}}


def blank(lang: str) -> Language:
    """``spacy.blank(lang)`` with orderbot's tokenizer ("xx" is the multilingual one)."""
    return spacy.blank(lang, config=TOKENIZER_CONFIG)


# --- rule pipelines ----------------------------------------------------------------


def build_rule_pipeline(lang: str) -> Language:
    """A blank pipeline of ``lang`` with the labelled-value matcher and the EntityRuler."""
    from extractors.nlp import patterns

    nlp = blank(lang)
    nlp.add_pipe(patterns.LABELLED_VALUES)
    ruler = nlp.add_pipe("entity_ruler", config={"overwrite_ents": False, "phrase_matcher_attr": "LOWER"})
    ruler.add_patterns(patterns.entity_patterns())
    return nlp


_lock = threading.Lock()


@cache
def _rule_pipeline(lang: str) -> Language:
    return build_rule_pipeline(lang)


def rule_pipeline(lang: str | None = None) -> Language:
    """The cached rule pipeline of ``lang`` (None: the multilingual one)."""
    with _lock:
        return _rule_pipeline(lang or "xx")


# --- trained pipelines --------------------------------------------------------------

PIPELINES = ("ner", "kind")


def load_trained(name: str, models_dir: Path | None = None) -> Language:
    """Load the trained pipeline ``name`` ("ner" or "kind") from ``models_dir``; never cached."""
    if name not in PIPELINES:
        raise ValueError(f"unknown pipeline {name!r}; expected one of {', '.join(PIPELINES)}")
    path = (models_dir or MODELS_DIR) / name
    if not (path / "config.cfg").is_file():
        raise ModelMissing(path, name)
    # the tokenizer and components named in config.cfg are registered by these imports
    from extractors.nlp import patterns  # noqa: F401

    return spacy.load(path)


@cache
def _trained(name: str, models_dir: Path) -> Language:
    return load_trained(name, models_dir)


def trained_pipeline(name: str, models_dir: Path | None = None) -> Language:
    """The trained pipeline ``name``, loaded once per process."""
    with _lock:
        return _trained(name, models_dir or MODELS_DIR)
