"""The message-kind text classifier: order, change, cancellation, inquiry or other, with a probability.

``predict_kind(subject, text)`` reads what ``extractors.classify`` reads (the
subject and the message's own new text, see ``quotes.order_text``) with the
trained ``textcat`` pipeline (``models/kind``) and returns the most probable
kind, its probability and the probabilities of all kinds.

``combine(rule, model)`` is how the rule classifier and the model go together:
the rule decides, the model can only lower the rule's confidence and add a
reason to look when it disagrees. A confident rule is never overridden; when
the rule found no evidence at all, the model may break the tie, but only
towards a kind that sends the message to review (never towards ``order``), so
a model error can never produce an auto-keyed order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from bot.model import MessageKind
from extractors.nlp.generate import KINDS, kind_text

if TYPE_CHECKING:
    from extractors.classify import Classification

# Above this the model is sure of its kind; below REVIEW_BELOW it is not sure of anything.
CONFIDENT = 0.80
REVIEW_BELOW = 0.50
# A rule classification at or above this confidence is never questioned by the model.
RULE_CONFIDENT = 0.85
# The confidence a rule's kind keeps when the confident model disagrees with it.
DISPUTED_CONFIDENCE = 0.5
# A rule without evidence (confidence below this) may be replaced by a confident model,
# but only by a kind that goes to review.
RULE_GUESS = 0.6


@dataclass(frozen=True, slots=True)
class KindPrediction:
    kind: MessageKind
    probability: float
    # every kind's probability, in ``generate.KINDS`` order
    scores: tuple[tuple[MessageKind, float], ...]

    def probability_of(self, kind: MessageKind) -> float:
        return dict(self.scores).get(kind, 0.0)


def predict_kind(
    subject: str, text: str, attachments: Sequence[str] = (), *, models_dir: Path | None = None
) -> KindPrediction:
    """The model's kind for a message with ``subject``, new ``text`` and attached file names.

    Raises ``pipeline.ModelMissing`` when the trained pipeline is not on disk.
    """
    from extractors.nlp.pipeline import trained_pipeline

    nlp = trained_pipeline("kind", models_dir)
    return prediction_from_cats(nlp(kind_text(subject, text[:_MAX_TEXT], attachments)).cats)


# The classifier reads the beginning of a huge message only (as classify does).
_MAX_TEXT = 20_000


def prediction_from_cats(cats: dict[str, float]) -> KindPrediction:
    scores = tuple((MessageKind(k), round(float(cats.get(k, 0.0)), 4)) for k in KINDS)
    kind, probability = max(scores, key=lambda kv: kv[1])
    return KindPrediction(kind, probability, scores)


@dataclass(frozen=True, slots=True)
class KindDecision:
    """The combined kind: ``classification`` as classify returns it (possibly with a
    lower confidence or another kind), and ``disputed`` when a person should check
    the kind because rule and model disagree."""

    classification: Classification
    disputed: bool
    note: str


def combine(rule: Classification, model: KindPrediction) -> KindDecision:
    """Rule first; the model only lowers confidence, flags disagreement, or breaks a
    no-evidence tie towards a kind that goes to review.

    1. agreement: the rule's classification as it is (agreement never raises a
       confidence: the rules' thresholds stay what they were tuned for).
    2. the rule is confident (>= RULE_CONFIDENT): the rule stands; if the model is
       confident (>= CONFIDENT) of another kind the decision is ``disputed`` (the
       caller adds a review reason), the confidence unchanged.
    3. the rule is unsure and the model is confident of another kind:
       - rule ``order`` -> the kind stays ``order`` but with DISPUTED_CONFIDENCE and
         ``disputed`` (an order the model thinks is a change/cancellation/inquiry
         goes to review, never keyed);
       - the rule guessed without evidence (< RULE_GUESS) and the model says
         change/cancellation/inquiry/other -> the model's kind, ``disputed``;
       - otherwise the rule's kind with DISPUTED_CONFIDENCE, ``disputed``.
    4. the model is unsure: the rule's classification as it is.
    The model never turns a message into ``order``.
    """
    if model.kind == rule.kind:
        return KindDecision(rule, False, "model agrees")
    note = f"model says {model.kind.value} ({model.probability:.2f}), rules say {rule.kind.value} ({rule.confidence:.2f})"
    if model.probability < CONFIDENT:
        return KindDecision(rule, False, f"{note}; model unsure")
    if rule.confidence >= RULE_CONFIDENT:
        return KindDecision(rule, True, note)
    if rule.kind is MessageKind.ORDER:
        return KindDecision(replace(rule, confidence=min(rule.confidence, DISPUTED_CONFIDENCE)), True, note)
    if rule.confidence < RULE_GUESS and model.kind is not MessageKind.ORDER:
        evidence = f"{rule.evidence}; {note}"
        return KindDecision(
            replace(rule, kind=model.kind, confidence=round(min(model.probability, 0.7), 3), evidence=evidence),
            True,
            note,
        )
    return KindDecision(replace(rule, confidence=min(rule.confidence, DISPUTED_CONFIDENCE)), True, note)
