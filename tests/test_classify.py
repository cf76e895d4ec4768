"""Message kinds (extractors.classify) on hand-written phrasings in several languages.

Corpus messages are classified in the golden tests of test_text_extractor.py.
"""

from __future__ import annotations

import pytest

from bot.model import Message, MessageKind
from extractors.classify import Classification, classify
from extractors.quotes import split_quoted

ORDER, CHANGE, CANCEL, INQUIRY, OTHER = (
    MessageKind.ORDER,
    MessageKind.CHANGE,
    MessageKind.CANCELLATION,
    MessageKind.INQUIRY,
    MessageKind.OTHER,
)


def message(subject: str, text: str, headers: tuple[tuple[str, str], ...] = ()) -> Message:
    split = split_quoted(text, subject)
    return Message(
        message_id="<t@x>", sha256="0", sender="buyer@customer.example", subject=subject,
        body=split.new, quoted=split.quoted, headers=headers,
    )


def kind_of(subject: str, text: str, *, doc: bool = False, body_orders: int = 0, headers=()) -> Classification:
    result = classify(message(subject, text, headers), has_order_document=doc, body_orders=body_orders)
    assert 0.0 <= result.confidence <= 1.0
    assert result.evidence
    return result


@pytest.mark.parametrize(
    ("subject", "text", "doc", "body_orders", "expected", "po"),
    [
        # cancellations
        ("Stornierung Bestellung 4500012345", "Sehr geehrte Damen und Herren,\n\nbitte stornieren Sie unsere Bestellung 4500012345, sie wird nicht mehr benötigt.\n\nMit freundlichen Grüßen\nJana", False, 0, CANCEL, "4500012345"),
        ("Annulation commande CMD-26-1886", "Bonjour,\n\nMerci d'annuler notre commande CMD-26-1886.\n\nCordialement", False, 0, CANCEL, "CMD-26-1886"),
        ("Pedido PED-77", "Hola,\n\npor favor anular el pedido PED-77, ya no lo necesitamos.\n\nSaludos", False, 0, CANCEL, "PED-77"),
        ("Ordine 2026/0690", "Buongiorno,\n\nvi chiediamo di annullare l'ordine n. 2026/0690.\n\nSaluti", False, 0, CANCEL, "2026/0690"),
        ("Bestelling 88123", "Goedemiddag,\n\nwilt u onze bestelling 88123 annuleren? Bedankt.", False, 0, CANCEL, "88123"),
        ("订单 CG123456", "您好，\n\n请取消订单号：CG123456。\n\n谢谢", False, 0, CANCEL, "CG123456"),
        ("FW: PO 88123", "please handle\n\n---------- Forwarded message ---------\nFrom: x\nSubject: PO 88123\n\nPlease cancel PO 88123, we no longer need it.\n", False, 0, CANCEL, "88123"),
        # changes
        ("Modification de la commande CMD-26-3642", "Bonjour,\n\npouvez-vous modifier la quantité de la ligne 2 à 40 pièces ?\n\nCordialement", False, 0, CHANGE, "CMD-26-3642"),
        ("PO 4471", "Hi,\n\ncould you push the delivery of PO 4471 back to 15 January? Please reschedule accordingly.\n\nThanks", False, 0, CHANGE, "4471"),
        ("Bestellung 4510072564", "Hallo,\n\nbitte ändern Sie bei Bestellung 4510072564 die Menge von CT-2571 auf 8 Schachteln.\n\nGruß", False, 1, CHANGE, "4510072564"),
        ("Ordine ODA/2026/0690", "Buongiorno,\n\nvi preghiamo di modificare l'ordine ODA/2026/0690: consegna a Verona invece di Milano.\n\nSaluti", False, 0, CHANGE, "ODA/2026/0690"),
        ("Revised PO 4471", "Hello, attached is the revised PO 4471 with the new quantities; it replaces the previous version.", True, 0, CHANGE, "4471"),
        ("订单 CG998877 修改", "请把订单号：CG998877 的交货日期更改为2027年1月5日。", False, 0, CHANGE, "CG998877"),
        # inquiries
        ("Anfrage Kabelbinder", "Hallo,\n\nkönnen Sie uns ein Angebot für 5000 Stück Kabelbinder 200x4,8 machen? Wie ist die Lieferzeit?\n\nDanke", False, 1, INQUIRY, None),
        ("Disponibilidad", "Hola,\n\n¿tienen disponibilidad de 20 cajas de CT-4996?\n\nGracias", False, 1, INQUIRY, None),
        ("Where is our order?", "Hi,\n\nwhat is the status of our PO 4471? It has not arrived yet.\n\nThanks", False, 0, INQUIRY, "4471"),
        ("Demande de prix", "Bonjour, pourriez-vous nous faire un devis pour 200 boîtes de VB.0247.06 ?", False, 1, INQUIRY, None),
        ("Richiesta di offerta", "Buongiorno, ci inviate un preventivo per 50 pezzi di CT-4996?", False, 1, INQUIRY, None),
        ("询价", "您好，请报价：GK-8913 100盒。\n谢谢", False, 1, INQUIRY, None),
        # other
        ("Automatic reply: PO 4471", "I am out of the office until 5 January with limited access to email.", False, 0, OTHER, "4471"),
        ("Abwesenheitsnotiz: Bestellung", "Ich bin bis zum 5.1. nicht im Büro.", False, 0, OTHER, None),
        ("Our December newsletter", "New products this month! Click here to unsubscribe.", False, 0, OTHER, None),
        ("Zahlungsavis", "Anbei unser Zahlungsavis für die Rechnungen 2026-1 bis 2026-5.", True, 0, OTHER, None),
        ("Request for SDS", "Hello, please send us the safety data sheet for KL-5865. Thanks", False, 0, OTHER, None),
        ("Votre colis a été livré", "Votre colis 1Z999 a été livré ce matin.", False, 0, OTHER, None),
        ("Hello", "Just wanted to say thanks for the visit last week!", False, 0, OTHER, None),
        # orders
        ("RE: Order confirmation AB-1 - your PO 999", "Thanks! Please also book a new order under PO 1000:\n- 5 pcs AX-1\n\nOn Mon, 2 Nov 2026, Desk <d@k.com> wrote:\n> PO 999 confirmed, please cancel nothing\n", False, 1, ORDER, None),
        ("Commande urgente", "Bonjour,\n\nmerci de nous livrer 10 boîtes de VB.0247.06.\n\nCordialement", False, 1, ORDER, None),
        ("PO 5511", "Please find attached our purchase order 5511. Note: this is a new order, please do not cancel PO 5500.", True, 0, ORDER, None),
        ("New order", "Hi, the PDF is attached. Please quote our PO number on the invoice.", True, 0, ORDER, None),
        ("Bestellung", "Anbei unsere Bestellung. Bitte Liefertermin bestätigen.", True, 0, ORDER, None),
        ("FW: Bestellung 77", "FYI\n\n---------- Forwarded message ---------\nFrom: x\nSubject: Bestellung 77\n\nBitte liefern Sie 5 Stück AX-1.\n", False, 1, ORDER, None),
        ("Pedido", "Buenos días, les rogamos nos suministren 20 cajas de guantes.", False, 1, ORDER, None),
        ("Scan", "Hallo, anbei unsere Bestellung als Scan.", False, 0, ORDER, None),
    ],
)
def test_kinds(subject: str, text: str, doc: bool, body_orders: int, expected: MessageKind, po: str | None) -> None:
    result = kind_of(subject, text, doc=doc, body_orders=body_orders)
    assert result.kind is expected, result.evidence
    assert result.referenced_po == po


def test_quoted_history_never_decides_the_kind() -> None:
    """Given a new order whose reply history asks to cancel another PO, then it is an order."""
    text = "Please book 5 pcs AX-1 under PO 2000.\n\nOn Mon, 2 Nov 2026, Buyer <b@x.com> wrote:\n> Please cancel PO 1999.\n"
    assert kind_of("RE: PO 1999", text, body_orders=1).kind is ORDER


def test_signature_words_never_decide_the_kind() -> None:
    text = "Please book 5 pcs AX-1.\n\nBest regards\nAnna\nOrders cannot be cancelled after dispatch. Ask for a quotation at sales@x.com\n"
    assert kind_of("Order", text, body_orders=1).kind is ORDER


def test_negated_cancellation_is_not_a_cancellation() -> None:
    assert kind_of("PO 5511", "Please do not cancel PO 5511, we still need it. Just checking the status?").kind is INQUIRY


def test_an_order_document_wins_over_weak_words() -> None:
    result = kind_of("PO 4711", "Attached our PO 4711. Please confirm price and delivery date?", doc=True)
    assert result.kind is ORDER
    assert result.confidence >= 0.85


def test_change_with_an_order_document_needs_clear_words() -> None:
    assert kind_of("PO 4711", "Attached PO 4711, please change the invoice address in your system to ours.", doc=True).kind is ORDER
    assert kind_of("Change to PO 4711", "Updated PO 4711 attached.", doc=True).kind is CHANGE


def test_auto_reply_header() -> None:
    result = kind_of("Re: PO 4711", "Thank you for your message.", headers=(("Auto-Submitted", "auto-replied"),))
    assert result.kind is OTHER
    assert "automatic reply" in result.evidence


def test_order_words_without_document_or_lines_are_a_low_confidence_order() -> None:
    result = kind_of("PO 4711", "Please find attached our purchase order 4711.")
    assert result.kind is ORDER
    assert result.confidence <= 0.6
