"""extractors.nlp: the generator, the rule pipelines, the trained models as committed.

No test trains a model: the trained pipelines under ``extractors/nlp/models``
are built by ``make model`` and committed; these tests load them from disk.
"""

from __future__ import annotations

import socket
import time
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from bot.model import Field, MessageKind, Order, OrderLine, ReasonCode
from extractors.classify import Classification
from extractors.nlp import Entity, crosscheck, model_entities, rule_entities
from extractors.nlp.generate import (
    KINDS,
    LANGUAGES,
    NER_LABELS,
    PRODUCTS,
    Gen,
    kind_examples,
    ner_examples,
)
from extractors.nlp.kind import KindPrediction, combine, predict_kind
from extractors.nlp.pipeline import (
    MODELS_DIR,
    ModelMissing,
    OrderTokenizer,
    blank,
    build_rule_pipeline,
    load_trained,
)

# --- the generator ------------------------------------------------------------------------------


def test_generator_same_seed_same_data():
    """Given a seed, When examples are generated twice, Then they are identical; another seed differs."""
    assert ner_examples(60, seed=3) == ner_examples(60, seed=3)
    assert kind_examples(60, seed=3) == kind_examples(60, seed=3)
    assert ner_examples(60, seed=3) != ner_examples(60, seed=4)
    assert kind_examples(60, seed=3, split="heldout") == kind_examples(60, seed=3, split="heldout")


def test_generator_covers_languages_kinds_and_labels():
    ner = ner_examples(210, seed=5)
    assert {e.lang for e in ner} == set(LANGUAGES)
    assert {label for e in ner for _, _, label in e.entities} == set(NER_LABELS)
    kinds = kind_examples(70, seed=5)
    assert {e.kind for e in kinds} == set(KINDS)
    assert {e.lang for e in kinds} == set(LANGUAGES)


def test_heldout_split_uses_words_training_never_sees():
    """The held-out quarter of an open word list never comes out of the training split."""
    train, heldout = Gen(1, "train"), Gen(1, "heldout")
    nouns = PRODUCTS["en"]
    seen_train = {train.pick(nouns) for _ in range(2000)}
    seen_heldout = {heldout.pick(nouns) for _ in range(2000)}
    assert seen_train and seen_heldout
    assert not seen_train & seen_heldout


def test_generated_entities_fall_on_token_boundaries():
    """Every labelled span is whole tokens of orderbot's tokenizer (else spaCy would drop it)."""
    nlp = blank("xx")
    for e in ner_examples(700, seed=11) + ner_examples(300, seed=12, split="heldout"):
        doc = nlp.make_doc(e.text)
        for start, end, label in e.entities:
            assert doc.char_span(start, end) is not None, (e.text[start:end], label, e.text)


# --- tokenizer and rule pipelines ----------------------------------------------------------------


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("please send 20boxes, our ref 88-123", ["please", "send", "20", "boxes", ",", "our", "ref", "88-123"]),
        ("Art.-Nr. 4711-220 zu je 12,50 EUR", ["Art", ".", "-", "Nr", ".", "4711-220", "zu", "je", "12,50", "EUR"]),
        ("€3.75/box, EUR12", ["€", "3.75", "/", "box", ",", "EUR", "12"]),
        ("20箱A4复印纸，订单号PO-88123", ["20", "箱", "A4", "复", "印", "纸", "，", "订", "单", "号", "PO-88123"]),
    ],
)
def test_tokenizer_keeps_codes_and_splits_units(text, tokens):
    doc = blank("xx")(text)
    assert [t.text for t in doc if not t.is_space] == tokens
    assert doc.text == text


@pytest.mark.parametrize("lang", ["en", "de", "fr", "zh"])
def test_rule_pipeline_builds_from_blank(lang):
    nlp = build_rule_pipeline(lang)
    assert nlp.lang == lang
    assert isinstance(nlp.tokenizer, OrderTokenizer)
    assert nlp.pipe_names == ["orderbot_labelled_values", "entity_ruler"]


RULE_CASES = {
    "en": (
        "Please send 20 boxes of copy paper, part no. HX-2207/B, at €12.50 each, PO 4500012345, "
        "by Friday 5 December 2026.",
        {("20 boxes", "QTY"), ("HX-2207/B", "PART"), ("€12.50", "PRICE"), ("4500012345", "PO"),
         ("Friday 5 December 2026", "DATE")},
    ),
    "de": (
        "Bitte liefern Sie 12 Kartons Kabelbinder, Art.-Nr. 7730-115, zu je 8,40 EUR bis zum 14.01.2027. "
        "Bestellnummer: B-20931.",
        {("12 Kartons", "QTY"), ("7730-115", "PART"), ("8,40 EUR", "PRICE"), ("14.01.2027", "DATE"),
         ("B-20931", "PO")},
    ),
    "fr": (
        "Merci de livrer 6 rouleaux de film, réf. KT-4410, à 23,90 € avant le 3 février 2027, commande n° 77120.",
        {("6 rouleaux", "QTY"), ("KT-4410", "PART"), ("23,90 €", "PRICE"), ("3 février 2027", "DATE"),
         ("77120", "PO")},
    ),
    "zh": (
        "请于2027年1月8日前发30箱手套，货号GL-3301，单价¥15.80，订单号：PO-66210。",
        {("2027年1月8日", "DATE"), ("30箱", "QTY"), ("GL-3301", "PART"), ("¥15.80", "PRICE"), ("PO-66210", "PO")},
    ),
}


@pytest.mark.parametrize("lang", sorted(RULE_CASES))
def test_rules_find_dates_amounts_quantities_parts_and_po(lang):
    text, expected = RULE_CASES[lang]
    found = {(e.text, e.label) for e in rule_entities(text, lang)}
    assert expected <= found, f"missing {expected - found}; found {found}"


def test_rules_do_not_take_sizes_or_dimensions_for_part_numbers():
    found = {(e.text, e.label) for e in rule_entities("10 pcs M8x40 bolts, 12mm, A4, IP65", "en")}
    assert ("10 pcs", "QTY") in found
    assert not [e for e in found if e[1] == "PART"], found


# --- trained pipelines: loading -------------------------------------------------------------------


def test_missing_model_directory_names_path_and_command(tmp_path: Path):
    with pytest.raises(ModelMissing) as info:
        load_trained("ner", tmp_path / "nowhere")
    message = str(info.value)
    assert str(tmp_path / "nowhere" / "ner") in message
    assert "make model" in message and "extractors.nlp.train" in message


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("the NLP pipelines must not touch the network")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.parametrize("name", ["ner", "kind"])
def test_trained_pipelines_load_from_disk_without_network(name, no_network):
    started = time.perf_counter()
    nlp = load_trained(name)
    seconds = time.perf_counter() - started
    assert isinstance(nlp.tokenizer, OrderTokenizer)
    assert nlp.pipe_names == (["ner"] if name == "ner" else ["textcat"])
    assert seconds < 3, f"loading {name} took {seconds:.2f} s"
    assert (MODELS_DIR / "metrics.json").is_file()


# --- trained NER on hand-written prose --------------------------------------------------------------

# Written for this test, not by the generator (other products, places and phrasings).
# QTY and PO must come out exactly; the ITEM must overlap the description (its
# boundaries on unseen nouns are the model's weak spot, see metrics.json).
PROSE = [
    ("please send 20 boxes of the A4 copy paper, our ref 88-123, to our Leeds site by Friday",
     {("20", "QTY"), ("88-123", "PO")}, "A4 copy paper"),
    ("Hi Jo, could you deliver 15 cartons of orange juice to the Riverside depot on Tuesday? PO 4471902. Thanks",
     {("15", "QTY"), ("4471902", "PO")}, "orange juice"),
    ("Guten Tag, bitte liefern Sie uns 40 Stück Zahnriemen HTD-5M bis nächsten Mittwoch. Bestellnummer 2027-0315.",
     {("40", "QTY"), ("2027-0315", "PO")}, "Zahnriemen"),
    ("Bonjour, merci de nous livrer 8 cartons de gobelets en carton pour le 12 mars, notre référence 2027-118.",
     {("8", "QTY"), ("2027-118", "PO")}, "gobelets en carton"),
    pytest.param(
        "Bonjour, merci de nous livrer 8 cartons de gobelets pour le 12 mars. Commande n° 5521-B.",
        {("8", "QTY"), ("5521-B", "PO")}, "gobelets",
        marks=pytest.mark.xfail(strict=True, reason="known miss: the model reads '5521-B' after a date as a DATE"),
    ),
    ("您好，请发50箱矿泉水到我们的杭州仓库，订单号PO-20271，谢谢。",
     {("50", "QTY"), ("PO-20271", "PO")}, "矿泉水"),
]


@pytest.mark.parametrize("text, expected, item", PROSE)
def test_trained_ner_finds_quantity_item_and_po_in_prose(text, expected, item):
    entities = model_entities(text)
    found = {(e.text, e.label) for e in entities}
    assert expected <= found, f"missing {expected - found}; found {found}"
    start = text.index(item)
    end = start + len(item)
    items = [e for e in entities if e.label == "ITEM"]
    assert any(e.start < end and start < e.end for e in items), f"no ITEM over {item!r}: {items}"


# --- trained kind classifier on hand-written messages --------------------------------------------------

MESSAGES = [
    ("Order", "Hi, please send us 12 boxes of blue pens and 4 reams of paper. PO 55120. Thanks, Ann", (), "order"),
    ("Purchase order 88312", "Please find attached our purchase order. Kind regards, Bob", ("PO_88312.pdf",), "order"),
    ("Change to PO 55120", "Could you change the quantity on PO 55120 from 12 to 20 boxes please?", (), "change"),
    ("Cancel order 55120", "Please cancel our order 55120, we no longer need it. Sorry!", (), "cancellation"),
    ("Price enquiry", "Could you send me a quote for 500 nitrile gloves, size L? What is your lead time?", (), "inquiry"),
    ("Out of office", "I am out of the office until Monday with no access to email.", (), "other"),
    ("Remittance advice", "We have paid your invoice 778812 today. Payment reference 99120031.", (), "other"),
    ("Bestellung", "Hallo, bitte liefern Sie 30 Kartons Kopierpapier bis Freitag. Bestellnummer 4471.", (), "order"),
    ("Stornierung", "Bitte stornieren Sie unsere Bestellung 4471, sie wird nicht mehr benötigt.", (), "cancellation"),
    ("Commande", "Bonjour, nous souhaitons commander 10 boîtes de gants. Merci.", (), "order"),
    ("询价", "请问六角螺栓M8有现货吗？价格多少？", (), "inquiry"),
]


@pytest.mark.parametrize("subject, body, files, kind", MESSAGES, ids=[f"{m[3]}-{m[0][:20]}" for m in MESSAGES])
def test_kind_classifier_on_clear_messages(subject, body, files, kind):
    prediction = predict_kind(subject, body, files)
    assert prediction.kind.value == kind, prediction
    assert abs(sum(p for _, p in prediction.scores) - 1.0) < 0.01


# --- combining rules and model ----------------------------------------------------------------------------


def _rule(kind: MessageKind, confidence: float) -> Classification:
    return Classification(kind, confidence, None, "test")


def _model(kind: MessageKind, probability: float) -> KindPrediction:
    rest = (1 - probability) / (len(KINDS) - 1)
    scores = tuple((MessageKind(k), probability if k == kind.value else rest) for k in KINDS)
    return KindPrediction(kind, probability, scores)


def test_combine_never_overrides_a_confident_rule():
    decision = combine(_rule(MessageKind.ORDER, 0.95), _model(MessageKind.CANCELLATION, 0.99))
    assert decision.classification.kind is MessageKind.ORDER
    assert decision.classification.confidence == 0.95
    assert decision.disputed


def test_combine_never_makes_an_order():
    decision = combine(_rule(MessageKind.OTHER, 0.4), _model(MessageKind.ORDER, 0.99))
    assert decision.classification.kind is MessageKind.OTHER
    assert decision.disputed


def test_combine_lowers_an_unsure_order_the_model_doubts():
    decision = combine(_rule(MessageKind.ORDER, 0.75), _model(MessageKind.CHANGE, 0.9))
    assert decision.classification.kind is MessageKind.ORDER
    assert decision.classification.confidence <= 0.5
    assert decision.disputed


def test_combine_breaks_a_no_evidence_tie_towards_review():
    decision = combine(_rule(MessageKind.OTHER, 0.4), _model(MessageKind.INQUIRY, 0.9))
    assert decision.classification.kind is MessageKind.INQUIRY
    assert decision.disputed


def test_combine_ignores_an_unsure_model():
    rule = _rule(MessageKind.ORDER, 0.75)
    decision = combine(rule, _model(MessageKind.CHANGE, 0.6))
    assert decision.classification == rule and not decision.disputed


# --- cross-checking a rule-read order with entities -----------------------------------------------------


def _order(po: str | None, quantities: tuple[int, ...]) -> Order:
    lines = tuple(OrderLine(quantity=Field(Decimal(q), 0.9)) for q in quantities)
    return Order(source="body", po_number=Field(po, 0.9) if po else Field(), lines=lines)


def _ent(label: str, text: str, start: int = 0) -> Entity:
    return Entity(label, text, start, start + len(text), "model")


def test_crosscheck_agreeing_model_adds_nothing():
    ents = (_ent("QTY", "20"), _ent("ITEM", "paper", 10), _ent("PO", "88-123", 30))
    assert crosscheck(_order("88123", (20,)), "x" * 60, ents) == ()


def test_crosscheck_flags_another_po_more_items_and_an_unseen_quantity():
    ents = (_ent("QTY", "20"), _ent("ITEM", "paper", 5), _ent("QTY", "5", 15), _ent("ITEM", "pens", 20),
            _ent("PO", "4471", 30))  # two quantities, one line read
    reasons = crosscheck(_order("88-123", (25,)), "x" * 60, ents, count_lines=True)
    fields = {r.field for r in reasons}
    assert fields == {"po_number", "lines", "lines[1].quantity"}
    assert "lines" not in {r.field for r in crosscheck(_order("88-123", (25,)), "x" * 60, ents)}
    assert {r.code for r in reasons} == {ReasonCode.LOW_CONFIDENCE}


def test_crosscheck_ignores_entities_in_the_signature():
    text = "please send 20 boxes\n\nThanks\nAnn\nPO Box 4471"
    ents = (_ent("QTY", "20", 12), _ent("PO", "4471", text.index("4471")))
    assert crosscheck(replace(_order(None, (20,))), text, ents) == ()
