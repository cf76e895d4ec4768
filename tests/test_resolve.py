"""Resolving what a document says onto master data."""

from __future__ import annotations

from decimal import Decimal

from bot.model import Address, Field, Message, OrderLine
from bot.resolve import Catalogue, match_customer, match_ship_to, resolve_line


def message(sender: str) -> Message:
    return Message(message_id="<m@x>", sha256="0" * 64, sender=sender)


def test_customer_from_sender_domain_is_verified(master):
    match = match_customer(master, message("buyer@nordwind.de"), None, ())
    assert match.customer.customer_id == "C1001" and match.by_domain


def test_customer_named_in_the_document_from_a_foreign_domain_is_not_verified(master):
    match = match_customer(master, message("buyer@freemail.example"), "Nordwind Logistik GmbH", ())
    assert match.customer.customer_id == "C1001" and not match.by_domain
    assert match_customer(master, message("x@unknown.example"), None, ("Hello, please deliver",)).customer is None


def test_ship_to_matches_a_known_address_by_postcode_and_street(master):
    known, confidence = match_ship_to(Address(None, "Billbrookdeich 210", "22113", "Hamburg", "DE"), master.addresses("C1001"))
    assert known.address_id == "C1001-02" and confidence > 0.8


def test_ship_to_by_site_name(master):
    bremerhaven = next(a for a in master.addresses("C1001") if a.city == "Bremerhaven")
    known, _ = match_ship_to(Address(name="our Bremerhaven site", city="Bremerhaven"), master.addresses("C1001"))
    assert known == bremerhaven


def test_an_unknown_address_is_not_forced_onto_a_known_one(master):
    known, _ = match_ship_to(Address("Somewhere Else Ltd", "Other Road 1", "99999", "Elsewhere", "DE"), master.addresses("C1001"))
    assert known is None


def test_line_resolved_by_our_sku_customer_part_number_or_description(master):
    catalogue = Catalogue.build(master)
    by_xref = resolve_line(OrderLine(codes=("NW-33933",), quantity=Field(Decimal(2), 0.9)), master, catalogue, "C1001")
    assert (by_xref.sku.value, by_xref.customer_sku.value) == ("AX-1410", "NW-33933")
    ours = resolve_line(OrderLine(codes=("ax-1523",)), master, catalogue, "C1001")
    assert ours.sku.value == "AX-1523" and ours.uom.value == "EA", "a missing unit is the product's base unit"
    product = master.product("AX-2040")
    by_text = resolve_line(OrderLine(description=Field(f"  {product.description.upper()} ", 0.8)), master, catalogue, "C1001")
    assert by_text.sku.value == "AX-2040"
    unknown = resolve_line(OrderLine(codes=("NOPE-1",), description=Field("Flux capacitor", 0.8)), master, catalogue, "C1001")
    assert unknown.sku.value is None


def test_fuzzy_description_match_is_confident_only_when_nearly_exact_with_the_same_numbers(master):
    """A typo or a reordered description still finds the product; one that differs in a
    number (another size) is at most a guess below the review threshold."""
    catalogue = Catalogue.build(master)
    product = master.product("AX-2040")  # "Stretch film 500mm x 300m 23my"
    typo = product.description.replace("Stretch", "Strech")
    sku, confidence = catalogue.find(typo)
    assert sku == "AX-2040" and confidence >= 0.7
    other_size = product.description.replace("300m", "310m")
    sku, confidence = catalogue.find(other_size)
    assert sku is None or confidence < 0.5
    assert catalogue.find("completely unrelated words here") == (None, 0.0)


def test_customer_from_a_known_delivery_address_when_nothing_else_names_it(master):
    """A sender from a free-mail domain whose order names no company, but delivers to
    one customer's known site, is that customer, unverified."""
    billbrook = Address(None, "Billbrookdeich 210", "22113", "Hamburg", "DE")
    match = match_customer(master, message("someone@freemail.example"), None, ("please deliver",), billbrook)
    assert match.customer.customer_id == "C1001" and not match.by_domain
    nowhere = Address(None, "Nowhere Lane 1", "00000", "Atlantis", "DE")
    assert match_customer(master, message("someone@freemail.example"), None, (), nowhere).customer is None
