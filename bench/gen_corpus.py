"""Write a labelled purchase-order corpus (FORMATS.md section 3) from a seed.

    .venv/bin/python bench/gen_corpus.py OUT_DIR --seed 7 --n 120 --today 2026-11-26
    .venv/bin/orderbot eval OUT_DIR --today 2026-11-26 --errors 40

A benchmark of how extraction generalises: its master data (customers in
DE/FR/GB/US/NL/ES/IT/CN, 120 products, cross references), its e-mail phrasings
(seven languages) and spreadsheet headers are written here from scratch; it
never reads ``shared/corpus`` messages and does not reuse the NLP training
templates of ``extractors/nlp/generate.py``. PDFs are printed with the layouts
of ``tests/pdf_factory.py`` (each renders any order) plus two layouts of this
module. Output is byte-for-byte deterministic for a given seed/n/today.

Labels follow the corpus conventions (``shared/corpus/README.md``): known
ship-to addresses are labelled exactly as in ``addresses.csv``; a value the
message does not state is null; change/cancellation/unreadable messages carry
one restricted order entry; every problem message has exactly one defect.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import random
import sys
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests import pdf_factory as pf  # noqa: E402

CENT = Decimal("0.01")
OUR_ADDRESS = ["Orion Werkstoffhandel GmbH", "Speicherweg 9", "20095 Hamburg", "Germany"]
OUR_MAILBOX = "orders@orion-werkstoff.example"

# --- master data ------------------------------------------------------------------------

_COUNTRY = {
    # country: (currency, company stems, legal forms, domain tld, sites [(site, street, postal, city)])
    "DE": ("EUR", ["Falkenried", "Bergmann Antriebe", "Elbtal Verpackung", "Steinhuder"], ["GmbH", "AG", "KG"], "de",
           [("Zentrallager", "Industriering 44", "30855", "Langenhagen"), ("Werk Süd", "Augsburger Straße 210", "86368", "Gersthofen"),
            ("Versand", "Hafenrandweg 3", "27572", "Bremerhaven"), ("Lager Ost", "Fabrikstraße 18", "04129", "Leipzig")]),
    "FR": ("EUR", ["Ardoise", "Meunier Frères", "Vallée Emballages", "Lumière Atelier"], ["SAS", "SARL", "SA"], "fr",
           [("Entrepôt Nord", "14 rue du Chemin Vert", "59650", "Villeneuve-d'Ascq"), ("Usine", "3 allée des Tilleuls", "69800", "Saint-Priest"),
            ("Plateforme", "27 avenue de l'Europe", "67300", "Schiltigheim"), ("Dépôt Ouest", "5 impasse des Marins", "44600", "Saint-Nazaire")]),
    "GB": ("GBP", ["Thistledown", "Marlow Fixings", "Pennine Packaging", "Ashcombe"], ["Ltd", "plc"], "co.uk",
           [("Sheffield Works", "Unit 7 Attercliffe Road", "S9 3QS", "Sheffield"), ("Goods In", "22 Canal Side", "M17 1WA", "Manchester"),
            ("Depot", "9 Thames Reach", "RM9 6RJ", "Dagenham"), ("North Store", "41 Tyne View", "NE28 6UD", "Wallsend")]),
    "US": ("USD", ["Bluegrass", "Cedar Ridge", "Prairie Motion", "Keystone Fluid"], ["Inc.", "LLC", "Corp."], "com",
           [("DC 2", "4100 Commerce Dr", "40511", "Lexington"), ("Receiving", "880 Riverside Ave", "32204", "Jacksonville"),
            ("Plant 3", "1275 Industrial Way", "97301", "Salem"), ("Dock 5", "62 Foundry St", "15205", "Pittsburgh")]),
    "NL": ("EUR", ["Duinwater", "Vermeulen", "Polderkant", "Zeeburg"], ["B.V.", "N.V."], "nl",
           [("Magazijn", "Kanaalweg 31", "3526 KM", "Utrecht"), ("Distributiecentrum", "Moezelhavenweg 8", "1043 AM", "Amsterdam"),
            ("Expeditie", "Industrieweg 112", "5683 CE", "Best")]),
    "ES": ("EUR", ["Alcázar", "Navarro Suministros", "Levante Envases", "Sierra Blanca"], ["S.L.", "S.A."], "es",
           [("Almacén Central", "Calle de la Industria 17", "28823", "Coslada"), ("Nave 4", "Polígono El Oliveral, Calle F 9", "46190", "Riba-roja de Túria"),
            ("Centro Logístico", "Avenida del Puerto 250", "11011", "Cádiz")]),
    "IT": ("EUR", ["Fontana", "Rossi Imballaggi", "Valpadana", "Cortese Meccanica"], ["S.r.l.", "S.p.A."], "it",
           [("Magazzino Nord", "Via dell'Artigianato 21", "20863", "Concorezzo"), ("Stabilimento", "Via Emilia Est 440", "41122", "Modena"),
            ("Deposito", "Viale delle Industrie 6", "35127", "Padova")]),
    "CN": ("CNY", ["Huaxin", "Lanting", "Jinhai", "Ruifeng"], ["Co., Ltd."], "cn",
           [("Shenzhen Warehouse", "No. 88 Keji Road, Nanshan District", "518057", "Shenzhen"),
            ("Suzhou Plant", "No. 16 Xinghu Street, SIP", "215123", "Suzhou"), ("Ningbo Depot", "No. 5 Gangwan Road", "315800", "Ningbo")]),
}
_COUNTRY_NAMES = {"DE": "Germany", "FR": "France", "GB": "United Kingdom", "US": "USA", "NL": "Netherlands", "ES": "Spain",
                  "IT": "Italy", "CN": "China"}
_LOCAL_COUNTRY_NAMES = {"DE": "Deutschland", "FR": "France", "GB": "United Kingdom", "US": "USA", "NL": "Nederland",
                        "ES": "España", "IT": "Italia", "CN": "中国"}

_NOUNS = [  # (noun, uom, pack size, price range in EUR cents)
    ("Socket head cap screw", "EA", 100, (4, 60)), ("Flat washer", "EA", 500, (1, 9)), ("Hex nut", "EA", 200, (2, 15)),
    ("Corrugated box", "EA", 25, (40, 310)), ("Stretch film roll", "EA", 6, (650, 2400)), ("Packing tape", "EA", 36, (95, 420)),
    ("Nitrile gloves", "BX", 10, (450, 1290)), ("Safety glasses", "EA", 12, (180, 990)), ("Cable tie", "BX", 20, (220, 860)),
    ("Hydraulic hose", "MTR", None, (340, 1850)), ("Copper wire", "MTR", None, (90, 640)), ("Steel chain", "MTR", None, (410, 2200)),
    ("Industrial degreaser", "KGM", None, (280, 960)), ("Lithium grease", "KGM", None, (710, 2350)), ("Silica gel desiccant", "KGM", None, (520, 1480)),
    ("Ball bearing", "EA", None, (320, 4800)), ("Hose clamp", "EA", 50, (35, 190)), ("Label roll", "EA", 12, (380, 1650)),
    ("Pallet collar", "EA", None, (1250, 2890)), ("Drill bit", "EA", 10, (140, 2300)),
    ("Spray paint", "EA", 12, (390, 990)), ("Air filter", "EA", 4, (850, 5400)), ("V-belt", "EA", None, (520, 3100)),
    ("O-ring", "EA", 100, (8, 90)), ("Foam sheet", "EA", 20, (210, 1200)), ("Work boots", "EA", None, (3900, 11900)),
]
_SPECS = {
    "Socket head cap screw": ["M5x20 A2", "M6x30 8.8", "M8x40 12.9", "M10x50 A4", "M4x12 A2", "M12x60 8.8"],
    "Flat washer": ["M6 zinc", "M8 A2", "M10 DIN 125", "M12 A4", "M16 zinc"],
    "Hex nut": ["M6 A2", "M8 8", "M10 zinc", "M12 A4", "M20 galv"],
    "Corrugated box": ["300x200x150 single wall", "400x300x250 double wall", "600x400x400 double wall", "200x150x100 kraft", "500x350x300 brown"],
    "Stretch film roll": ["500mm 23my clear", "450mm 17my black", "500mm 20my pre-stretched", "100mm hand wrap"],
    "Packing tape": ["50mm x 66m brown", "48mm x 100m clear", "75mm x 50m printed FRAGILE", "25mm x 50m paper"],
    "Nitrile gloves": ["size S blue", "size M blue", "size L black", "size XL blue", "size M powder-free white"],
    "Safety glasses": ["clear anti-fog", "tinted grey", "over-spec clear", "amber lens"],
    "Cable tie": ["200x4.8 black", "300x4.8 natural", "140x3.6 black", "450x7.6 UV black"],
    "Hydraulic hose": ["1/2in 2SN", "3/8in 1SN", "3/4in 4SP", "1/4in 2SC"],
    "Copper wire": ["1.5mm2 blue", "2.5mm2 brown", "6mm2 green-yellow", "0.75mm2 black"],
    "Steel chain": ["6mm grade 80", "8mm galvanised", "10mm stainless", "5mm short link"],
    "Industrial degreaser": ["solvent-free 10kg", "citrus 25kg", "alkaline 20kg"],
    "Lithium grease": ["EP2 18kg", "NLGI 3 5kg", "high-temp 1kg"],
    "Silica gel desiccant": ["bags 50g", "indicating orange 5kg", "bulk beads 25kg"],
    "Ball bearing": ["6204-2RS", "6305-ZZ", "6001-2RS", "6206 C3", "608-ZZ"],
    "Hose clamp": ["12-22mm W2", "20-32mm W4", "40-60mm W1", "8-16mm W4"],
    "Label roll": ["100x150 thermal", "57x32 direct thermal", "100x50 synthetic"],
    "Pallet collar": ["1200x800 hinged", "1200x1000 hinged", "800x600 half"],
    "Spray paint": ["RAL 9005 matt 400ml", "RAL 3000 gloss 400ml", "primer grey 500ml", "marking yellow 500ml"],
    "Air filter": ["panel G4 592x592", "bag F7 592x592x600", "cartridge 325x500", "panel M5 287x592"],
    "V-belt": ["SPA 1250", "SPZ 900", "XPB 1800", "A 40", "B 62"],
    "O-ring": ["20x2 NBR70", "32x3 FKM", "10x1.5 EPDM", "45x3.5 NBR90", "6x1 silicone"],
    "Foam sheet": ["PE 10mm 1000x1000", "PU 20mm anthracite", "anti-static 5mm pink", "PE 3mm roll cut"],
    "Work boots": ["S3 size 42", "S3 size 44", "S1P size 40", "S3 size 46 wide"],
    "Drill bit": ["HSS 6.0mm", "HSS-Co 8.5mm", "carbide 10mm", "SDS 12x160"],
}


@dataclass(frozen=True)
class Customer:
    id: str
    name: str
    country: str
    domains: tuple[str, ...]
    currency: str
    credit: str
    limit: str
    contact: str


@dataclass(frozen=True)
class Site:
    customer_id: str
    address_id: str
    name: str
    street: str
    postal_code: str
    city: str
    country: str

    def label(self) -> dict[str, str]:
        return dict(name=self.name, street=self.street, postal_code=self.postal_code, city=self.city, country=self.country)

    def printed(self, local: bool = False) -> list[str]:
        names = _LOCAL_COUNTRY_NAMES if local else _COUNTRY_NAMES
        if self.country in ("GB", "US"):
            postal = f"{self.city} {self.postal_code}"
        else:
            postal = f"{self.postal_code} {self.city}"
        return [self.name, self.street, postal, names[self.country]]


@dataclass(frozen=True)
class Product:
    sku: str
    description: str
    uom: str
    pack: int | None
    price: Decimal
    stock: int


@dataclass
class Master:
    customers: list[Customer]
    sites: dict[str, list[Site]]
    products: list[Product]
    xref: dict[str, dict[str, str]]  # customer -> sku -> customer sku

    def product(self, sku: str) -> Product:
        return next(p for p in self.products if p.sku == sku)


_CONTACTS = {"DE": ["Jana Krüger", "Tobias Lenz", "Miriam Vogt"], "FR": ["Claire Dubois", "Julien Faure", "Anaïs Roux"],
             "GB": ["Oliver Hughes", "Priya Patel", "Gemma Shaw"], "US": ["Dana Whitfield", "Marcus Reyes", "Kelly Ng"],
             "NL": ["Sanne de Boer", "Ruud Visser"], "ES": ["Lucía Ortega", "Javier Molina"], "IT": ["Giulia Ferri", "Marco Greco"],
             "CN": ["Wang Lei", "Chen Jing"]}


def build_master(rnd: random.Random) -> Master:
    customers: list[Customer] = []
    sites: dict[str, list[Site]] = {}
    n = 2001
    for country in sorted(_COUNTRY):
        currency, stems, forms, tld, places = _COUNTRY[country]
        for k, stem in enumerate(stems[:3]):
            cid = f"K{n}"
            n += 1
            name = f"{stem} {rnd.choice(forms)}"
            slug = stem.lower().replace(" ", "-").translate(str.maketrans("äöüßéèçáíñàù", "aouseecainau"))
            domains = [f"{slug}.{tld}"] + ([f"{slug.split('-')[0]}-group.com"] if rnd.random() < 0.4 else [])
            credit = "hold" if (k == 2 and country in ("DE", "GB", "US")) else "ok"
            limit = rnd.choice(["", "", "250000", "500000"])
            customers.append(Customer(cid, name, country, tuple(domains), currency, credit, limit,
                                      rnd.choice(_CONTACTS[country])))
            chosen = rnd.sample(places, 2)
            sites[cid] = [Site(cid, f"{cid}-{i + 1:02d}", f"{stem} {site}", street, postal, city, country)
                          for i, (site, street, postal, city) in enumerate(chosen)]
    products: list[Product] = []
    seen: set[str] = set()
    prefixes = ["OR", "WX", "TM", "PK"]
    for noun, uom, pack, (lo, hi) in _NOUNS:
        for spec in _SPECS[noun]:
            sku = f"{rnd.choice(prefixes)}-{rnd.randint(10000, 99999)}"
            while sku in seen:
                sku = f"{rnd.choice(prefixes)}-{rnd.randint(10000, 99999)}"
            seen.add(sku)
            price = (Decimal(rnd.randint(lo, hi)) / 100).quantize(CENT)
            products.append(Product(sku, f"{noun} {spec}", uom, pack, price, rnd.randint(400, 9000)))
    for p in rnd.sample(products, 7):  # out of stock
        products[products.index(p)] = Product(p.sku, p.description, p.uom, p.pack, p.price, 0)
    xref: dict[str, dict[str, str]] = {}
    for c in customers:
        picks = rnd.sample(products, 10)
        style = rnd.choice(["{a}-{n}", "{n}", "{a}{n}", "{a}.{n}.{m}"])
        a = c.name[:2].upper()
        xref[c.id] = {p.sku: style.format(a=a, n=rnd.randint(1000, 99999), m=rnd.randint(10, 99)) for p in picks}
    return Master(customers, sites, products, xref)


def write_master(master: Master, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)

    def write(name: str, header: list[str], rows: list[list[Any]]) -> None:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
        (out / name).write_text(buf.getvalue(), encoding="utf-8")

    write("customers.csv", ["customer_id", "name", "email_domains", "currency", "credit_status", "credit_limit"],
          [[c.id, c.name, ";".join(c.domains), c.currency, c.credit, c.limit] for c in master.customers])
    write("addresses.csv", ["customer_id", "address_id", "name", "street", "postal_code", "city", "country"],
          [[s.customer_id, s.address_id, s.name, s.street, s.postal_code, s.city, s.country]
           for c in master.customers for s in master.sites[c.id]])
    write("products.csv", ["sku", "description", "uom", "pack_size", "unit_price", "currency", "stock"],
          [[p.sku, p.description, p.uom, p.pack or "", f"{p.price}", "EUR", p.stock] for p in master.products])
    write("customer_items.csv", ["customer_id", "customer_sku", "sku"],
          [[cid, csku, sku] for cid, m in master.xref.items() for sku, csku in m.items()])


# --- an order as drawn ------------------------------------------------------------------------

_UNIT_WORDS = {  # uom -> words per language
    "en": {"EA": ["pcs", "each", "EA"], "BX": ["box", "boxes"], "CS": ["case", "cartons"], "KGM": ["kg"], "MTR": ["m", "metres"]},
    "de": {"EA": ["Stk", "Stück"], "BX": ["Schachtel"], "CS": ["Karton"], "KGM": ["kg"], "MTR": ["m", "Meter"]},
    "fr": {"EA": ["pièce", "u"], "BX": ["boîte"], "CS": ["carton"], "KGM": ["kg"], "MTR": ["m", "mètres"]},
    "es": {"EA": ["ud", "unidades"], "BX": ["caja"], "CS": ["bulto"], "KGM": ["kg"], "MTR": ["m", "metros"]},
    "it": {"EA": ["pz", "pezzi"], "BX": ["scatola"], "CS": ["cartone"], "KGM": ["kg"], "MTR": ["m", "metri"]},
    "nl": {"EA": ["stuks", "st"], "BX": ["doos"], "CS": ["omdoos"], "KGM": ["kg"], "MTR": ["m", "meter"]},
    "zh": {"EA": ["个", "件"], "BX": ["盒"], "CS": ["箱"], "KGM": ["公斤"], "MTR": ["米"]},
}
_LANG_OF = {"DE": "de", "FR": "fr", "GB": "en", "US": "en", "NL": "nl", "ES": "es", "IT": "it", "CN": "zh"}


@dataclass
class Line:
    product: Product | None
    code: str | None  # what is printed as the item code
    customer_sku: str | None
    description: str
    quantity: Decimal | None
    uom: str
    unit_word: str
    price: Decimal | None  # per line uom, in the order currency
    shown_qty: str | None = None  # printed instead of the quantity (ambiguous)

    def label(self, with_price: bool) -> dict[str, Any]:
        return dict(sku=self.product.sku if self.product else None, customer_sku=self.customer_sku,
                    quantity=None if self.quantity is None else f"{self.quantity.normalize():f}", uom=self.uom,
                    unit_price=f"{self.price}" if (with_price and self.price is not None) else None)


@dataclass
class Order:
    customer: Customer | None
    company: str
    po: str
    order_date: date | None
    delivery: date | None
    currency: str
    site: Site | None
    site_printed: list[str] | None
    lines: list[Line]
    urgent: bool = False
    notes: str | None = None
    reasons: list[str] = field(default_factory=list)
    prices_stated: bool = True
    currency_stated: bool = True

    def label(self) -> dict[str, Any]:
        ship = None
        if self.site is not None:
            ship = self.site.label()
        return dict(customer_id=self.customer.id if self.customer else None, po_number=self.po,
                    order_date=self.order_date.isoformat() if self.order_date else None,
                    delivery_date=self.delivery.isoformat() if self.delivery else None,
                    currency=self.currency if self.currency_stated else None, ship_to=ship,
                    lines=[ln.label(self.prices_stated) for ln in self.lines], urgent=self.urgent,
                    review=bool(self.reasons), reasons=list(self.reasons))


def restricted(customer: Customer | None, po: str | None, reason: str) -> dict[str, Any]:
    return dict(customer_id=customer.id if customer else None, po_number=po, order_date=None, delivery_date=None,
                currency=None, ship_to=None, lines=[], urgent=False, review=True, reasons=[reason])


_FX = {"EUR": Decimal("1"), "USD": Decimal("1.08"), "GBP": Decimal("0.86"), "CNY": Decimal("7.70")}


class Gen:
    def __init__(self, seed: int, today: date) -> None:
        self.rnd = random.Random(seed)
        self.seed = seed
        self.today = today
        self.master = build_master(self.rnd)
        _MASTER_SITES.clear()
        _MASTER_SITES.update(self.master.sites)
        self.used_po: set[str] = set()
        self.history: list[tuple[Customer, str, Order]] = []  # clean orders, for duplicates/changes

    # -- drawing helpers
    def po_number(self, c: Customer | None) -> str:
        r = self.rnd
        while True:
            po = r.choice(["45{n8}", "PO-{y}-{n5}", "{a}{n6}", "{n5}/{y2}", "BE{n6}", "{a}-{n4}-{l}"]).format(
                n8=r.randint(10_000_000, 99_999_999), n5=r.randint(10000, 99999), n6=r.randint(100000, 999999),
                n4=r.randint(1000, 9999), y=self.today.year, y2=str(self.today.year)[2:],
                a=(c.name[:3].upper() if c else "XQ").replace(" ", ""), l=r.choice("ABCDEFGH"))
            if po not in self.used_po:
                self.used_po.add(po)
                return po

    def clean_products(self, k: int) -> list[Product]:
        pool = [p for p in self.master.products if p.stock > 0]
        return self.rnd.sample(pool, k)

    def make_line(self, c: Customer, p: Product, lang: str, allow_pack: bool = True, code_mode: str | None = None) -> Line:
        r = self.rnd
        fx = _FX[c.currency]
        uom = p.uom
        price = (p.price * fx).quantize(CENT, rounding=ROUND_HALF_UP)
        if uom in ("KGM", "MTR"):
            quantity = Decimal(r.choice([5, 10, 20, 25, 50, 100, 150]))
        else:
            quantity = Decimal(r.choice([1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 24, 30, 40, 50, 100]))
        if allow_pack and p.pack and uom == "EA" and r.random() < 0.15:
            uom = "CS"
            price = (price * p.pack).quantize(CENT)
            quantity = Decimal(r.choice([1, 2, 3, 5]))
        mode = code_mode or r.choice(["sku", "sku", "sku", "xref"])
        csku = self.master.xref[c.id].get(p.sku) if mode == "xref" else None
        code = csku or p.sku
        return Line(p, code, csku, p.description, quantity, uom, r.choice(_UNIT_WORDS[lang][uom]), price)

    def make_order(self, c: Customer, lang: str, nlines: int | None = None, allow_pack: bool = True) -> Order:
        r = self.rnd
        k = nlines or r.choice([1, 1, 2, 2, 3, 3, 4, 5, 6, 8, 12])
        lines = [self.make_line(c, p, lang, allow_pack) for p in self.clean_products(k)]
        site = r.choice(self.master.sites[c.id])
        od = self.today - timedelta(days=r.randint(0, 4))
        dd = self.today + timedelta(days=r.randint(3, 45))
        return Order(c, c.name, self.po_number(c), od, dd, c.currency, site, site.printed(), lines)

    def customer(self, *, credit: str = "ok", country: str | None = None) -> Customer:
        pool = [c for c in self.master.customers if c.credit == credit and (country is None or c.country == country)]
        return self.rnd.choice(pool)

    def sender(self, c: Customer) -> tuple[str, str]:
        first = c.contact.split()[0].lower()
        return c.contact, f"{first}.{c.contact.split()[-1].lower()}@{self.rnd.choice(c.domains)}".encode(
            "ascii", "ignore").decode()


# --- PDF printing -----------------------------------------------------------------------------

_PF_LAYOUT_FOR = {"US": ["en_two_page", "en_rush_shaded"], "ES": ["es_kv_right"], "NL": ["nl_whitespace"],
                  "FR": ["fr_totals_only"], "DE": ["de_fake_bold", "own_memo"], "IT": ["it_stacked"], "CN": ["zh_only"],
                  "GB": ["own_memo", "own_ledger"]}
_URGENT_PRINTED = {"nl_whitespace", "de_fake_bold", "en_rush_shaded", "zh_only", "own_memo", "own_ledger"}
_CURRENCY_PRINTED = set(_PF_LAYOUT_FOR["US"]) | {"es_kv_right", "nl_whitespace", "fr_totals_only", "de_fake_bold",
                                                 "it_stacked", "zh_only", "own_memo", "own_ledger"}


_MASTER_SITES: dict[str, list[Site]] = {}


def _pf_doc(o: Order) -> pf.Doc:
    ship = o.site_printed or []
    buyer_site = ship
    if o.customer is not None:  # letterhead: the customer's other site, not the delivery address
        others = [s for s in _MASTER_SITES.get(o.customer.id, []) if s != o.site]
        buyer_site = others[0].printed(o.customer.country != "GB") if others else ship
    return pf.Doc(po_number=o.po, order_date=o.order_date, delivery_date=o.delivery, currency=o.currency,
                  buyer=[o.company, *buyer_site[1:3]], bill_to=[o.company, "Postfach / PO Box 12", *buyer_site[2:3]],
                  ship_to=ship, vendor=OUR_ADDRESS,
                  items=[pf.Item(ln.code, ln.description, ln.quantity or Decimal(0), ln.unit_word, ln.price or Decimal(0),
                                 ln.customer_sku) for ln in o.lines],
                  notes=o.notes, urgent=o.urgent)


def own_memo(doc: pf.Doc) -> bytes:
    """Memo style: everything as 'Label ..... value' lines, a numbered item list
    with quantity x unit and '@ price', no table rulings; a stamp line."""
    s = pf.Sheet()
    s.text(50, 40, doc.buyer[0].upper(), size=12, bold=True)
    s.text(50, 56, " | ".join(doc.buyer[1:]), size=8)
    s.text(50, 90, "PURCHASE ORDER / BESTELLUNG", size=13, bold=True)
    if doc.urgent:
        s.text(400, 90, "*** URGENT ***", size=12, bold=True)
    rows = [("Order reference", doc.po_number), ("Dated", doc.order_date.strftime("%d %b %Y")),
            ("Wanted on site", doc.delivery_date.strftime("%d %b %Y") if doc.delivery_date else "-"),
            ("Currency", doc.currency)]
    y = 115
    for label, value in rows:
        s.text(50, y, f"{label} " + "." * (28 - len(label)), size=9, font="Courier")
        s.text(240, y, value, size=9, font="Courier")
        y += 13
    y += 10
    s.text(50, y, "Goods to be delivered to:", size=9, bold=True)
    s.text(320, y, "Supplier:", size=9, bold=True)
    for i, line in enumerate(doc.ship_to):
        s.text(50, y + 13 + 11 * i, line, size=9)
    for i, line in enumerate(doc.vendor):
        s.text(320, y + 13 + 11 * i, line, size=9)
    y += 13 + 11 * 5 + 15
    s.text(50, y, "We order as follows:", size=9)
    y += 16
    for n, it in enumerate(doc.items, 1):
        q = pf.qty(it.quantity, "dot")
        s.text(50, y, f"{n:>2}.", size=9, font="Courier")
        s.text(75, y, f"{q} {it.unit}", size=9)
        s.text(140, y, f"{it.code}  {it.description}", size=9)
        s.right(470, y, f"@ {pf.money(it.unit_price, 'dot')}", size=9)
        s.right(545, y, pf.money(it.total, "dot"), size=9)
        y += 13
        if y > 760:
            s.new_page()
            y = 60
    s.hline(400, 545, y + 2)
    s.text(400, y + 8, f"Order value {doc.currency}", size=9, bold=True)
    s.right(545, y + 20, pf.money(doc.net, "dot"), size=9, bold=True)
    if doc.notes:
        s.text(50, y + 40, f"Please note: {doc.notes}", size=9)
    s.text(50, 805, "Registered office as above. VAT GB 123 4567 89. Tel +44 114 496 0000", size=6.5)
    return s.bytes()


def own_ledger(doc: pf.Doc) -> bytes:
    """A grid whose first column is the quantity, unit in its own column,
    the header fields in a two-row caption band at the bottom of the letterhead
    and the delivery address in a right-hand box."""
    s = pf.Sheet()
    s.text(40, 36, doc.buyer[0], size=15, bold=True)
    s.text(40, 54, ", ".join(doc.buyer[1:]), size=8)
    if doc.urgent:
        s.text(40, 70, "RUSH - please expedite", size=10, bold=True)
    caps = [("Our PO", doc.po_number), ("Raised", pf.day_month_year(doc.order_date)),
            ("Deliver by", pf.day_month_year(doc.delivery_date) if doc.delivery_date else ""), ("Curr.", doc.currency)]
    for i, (cap, val) in enumerate(caps):
        s.text(40 + i * 90, 95, cap, size=7.5, bold=True)
        s.text(40 + i * 90, 107, val, size=9)
    s.box(370, 80, 560, 150)
    s.text(376, 84, "DELIVERY ADDRESS", size=7.5, bold=True)
    for i, line in enumerate(doc.ship_to):
        s.text(376, 97 + 11 * i, line, size=8.5)
    s.text(40, 135, "To: " + ", ".join(doc.vendor[:2]), size=8)
    cols = [40, 80, 120, 200, 430, 490, 560]
    heads = ["Qty", "Unit", "Item", "Description", "Price", "Value"]
    y = 175
    s.box(cols[0], y, cols[-1], y + 15, fill=0.88)
    for i, h in enumerate(heads):
        s.text(cols[i] + 3, y + 4, h, size=8, bold=True)
    for it in doc.items:
        y += 15
        s.right(cols[1] - 3, y + 4, pf.qty(it.quantity, "dot"), size=8)
        s.text(cols[1] + 3, y + 4, it.unit or "", size=8)
        s.text(cols[2] + 3, y + 4, it.code or "", size=8)
        s.text(cols[3] + 3, y + 4, it.description, size=8)
        s.right(cols[5] - 3, y + 4, pf.money(it.unit_price, "dot"), size=8)
        s.right(cols[6] - 3, y + 4, pf.money(it.total, "dot"), size=8)
    bottom = y + 15
    for yy in range(175, int(bottom) + 1, 15):
        s.hline(cols[0], cols[-1], yy)
    for x in cols:
        s.vline(x, 175, bottom)
    s.text(430, bottom + 10, "Net total", size=9, bold=True)
    s.right(560, bottom + 10, pf.money(doc.net, "dot"), size=9, bold=True)
    if doc.notes:
        s.text(40, bottom + 30, "Instructions: " + doc.notes, size=9)
    return s.bytes()


_OWN_LAYOUTS = {"own_memo": own_memo, "own_ledger": own_ledger}


def render_pdf(o: Order, layout: str) -> bytes:
    doc = _pf_doc(o)
    fn = _OWN_LAYOUTS.get(layout) or pf.LAYOUTS[layout]
    return fn(doc)


# --- e-mail bodies ----------------------------------------------------------------------------

_MONTHS_EN = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
              "November", "December"]
_MONTHS = {"en": _MONTHS_EN, "fr": pf.MONTHS["fr"], "it": pf.MONTHS["it"],
           "de": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
                  "November", "Dezember"],
           "es": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
                  "noviembre", "diciembre"],
           "nl": ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
                  "november", "december"]}


def write_date(d: date, lang: str, country: str, rnd: random.Random) -> str:
    if lang == "zh":
        return rnd.choice([f"{d.year}年{d.month}月{d.day}日", d.isoformat()])
    if country == "US":
        return rnd.choice([f"{d.month}/{d.day}/{d.year}", f"{_MONTHS_EN[d.month - 1]} {d.day}, {d.year}"])
    style = rnd.choice(["num", "long", "iso"])
    if style == "iso":
        return d.isoformat()
    if style == "num":
        return f"{d.day:02d}{'.' if lang in ('de', 'nl') else '/'}{d.month:02d}{'.' if lang in ('de', 'nl') else '/'}{d.year}"
    if lang == "en":
        return f"{d.day} {_MONTHS_EN[d.month - 1]} {d.year}"
    if lang == "de":
        return f"{d.day}. {_MONTHS['de'][d.month - 1]} {d.year}"
    return f"{d.day} {_MONTHS[lang][d.month - 1]} {d.year}"


def _num(value: Decimal, lang: str) -> str:
    text = f"{value.normalize():f}" if value == value.to_integral() else f"{value:f}"
    return text.replace(".", ",") if lang in ("de", "fr", "es", "it", "nl") else text


# Body templates: greeting, intro (po, date), line format, site phrase, closing.  Own phrasings.
_BODY = {
    "en": dict(hi=["Hello,", "Good morning,", "Dear Orion team,", "Hi there,"],
               intro=["Could you please arrange the items below under our purchase order {po}. We need them on {dd}.",
                      "Order ref {po} - required delivery {dd}:",
                      "Kindly supply the following against PO {po}, delivery no later than {dd}."],
               site_known=["Ship to our {city} site please.", "Delivery goes to {sitename}, {city}."],
               site_full=["Delivery address:\n{addr}"],
               urgent=["This one is urgent, we are nearly out.", "RUSH please - production is waiting."],
               bye=["Many thanks,", "Regards,", "Best wishes,", "Cheers,"]),
    "de": dict(hi=["Guten Tag,", "Hallo zusammen,", "Sehr geehrte Damen und Herren,"],
               intro=["hiermit bestellen wir unter unserer Bestellnummer {po} folgende Artikel, Liefertermin {dd}:",
                      "bitte liefern Sie bis zum {dd} (unsere Bestellung {po}):"],
               site_known=["Lieferung bitte an unser Lager in {city}.", "Anlieferung: {sitename}, {city}."],
               site_full=["Lieferanschrift:\n{addr}"],
               urgent=["Die Bestellung ist dringend!", "Eilt sehr, bitte bevorzugt bearbeiten."],
               bye=["Mit freundlichen Grüßen", "Viele Grüße", "Beste Grüße"]),
    "fr": dict(hi=["Bonjour,", "Madame, Monsieur,"],
               intro=["Merci de nous livrer pour le {dd} les articles suivants, notre commande n° {po} :",
                      "Veuillez trouver ci-dessous notre bon de commande {po}, livraison souhaitée le {dd}."],
               site_known=["Livraison sur notre site de {city}.", "À livrer à {sitename} ({city})."],
               site_full=["Adresse de livraison :\n{addr}"],
               urgent=["Commande urgente, merci.", "URGENT : merci de traiter en priorité."],
               bye=["Cordialement,", "Bien à vous,"]),
    "es": dict(hi=["Buenos días:", "Hola,"],
               intro=["les enviamos nuestro pedido {po}, con entrega el {dd}:", "Por favor, sírvannos lo siguiente (pedido nº {po}), fecha de entrega {dd}."],
               site_known=["Entregar en nuestro almacén de {city}."], site_full=["Dirección de entrega:\n{addr}"],
               urgent=["Es urgente, gracias."], bye=["Saludos cordiales,", "Un saludo,"]),
    "it": dict(hi=["Buongiorno,", "Gentili signori,"],
               intro=["con la presente ordiniamo quanto segue (ordine n. {po}), consegna entro il {dd}:",
                      "vi preghiamo di evadere il nostro ordine {po} per il {dd}."],
               site_known=["Consegna presso il nostro magazzino di {city}."], site_full=["Indirizzo di consegna:\n{addr}"],
               urgent=["Ordine urgente."], bye=["Cordiali saluti,", "Distinti saluti,"]),
    "nl": dict(hi=["Goedemorgen,", "Beste collega's,"],
               intro=["Graag bestellen wij onder ordernummer {po} het volgende, levering op {dd}:",
                      "Hierbij onze bestelling {po}; gewenste leverdatum {dd}."],
               site_known=["Leveren op onze locatie in {city} graag."], site_full=["Afleveradres:\n{addr}"],
               urgent=["Deze order is spoed!"], bye=["Met vriendelijke groet,", "Groeten,"]),
    "zh": dict(hi=["您好，", "你好！"],
               intro=["我司订单号 {po}，请于 {dd} 前送达以下货物：", "请按以下清单供货，采购单号：{po}，交货日期：{dd}。"],
               site_known=["送货至我们{city}的仓库。"], site_full=["收货地址：\n{addr}"],
               urgent=["此单加急，谢谢！"], bye=["谢谢！", "此致"]),
}


def body_line(ln: Line, lang: str, with_price: bool, cur: str, rnd: random.Random) -> str:
    q = _num(ln.quantity, lang) if ln.quantity is not None else (ln.shown_qty or "")
    ref = ln.code
    price = f" @ {_num(ln.price, lang)} {cur}" if with_price and ln.price is not None else ""
    if lang == "zh":
        return f"{ref} {ln.description} {q}{ln.unit_word}" + (f"，单价 {ln.price} {cur}" if price else "")
    form = rnd.choice(["{q} {u} {ref} ({d}){p}", "- {ref}: {q} {u}{p}", "{ref} | {d} | {q} {u}{p}", "* {q} x {ref} {d}{p}"])
    return form.format(q=q, u=ln.unit_word, ref=ref, d=ln.description, p=price)


def site_phrase(o: Order, lang: str, rnd: random.Random, full: bool | None = None) -> str:
    t = _BODY[lang]
    assert o.site is not None
    if full is None:
        full = rnd.random() < 0.5
    if full:
        return rnd.choice(t["site_full"]).format(addr="\n".join(o.site.printed()))
    sitename = o.site.name
    return rnd.choice(t["site_known"]).format(city=o.site.city, sitename=sitename)


def order_body(o: Order, lang: str, rnd: random.Random, with_price: bool) -> str:
    t = _BODY[lang]
    country = o.customer.country if o.customer else "GB"
    parts = [rnd.choice(t["hi"]), "",
             rnd.choice(t["intro"]).format(po=o.po, dd=write_date(o.delivery, lang, country, rnd) if o.delivery else "-"), ""]
    parts += [body_line(ln, lang, with_price, o.currency, rnd) for ln in o.lines]
    parts.append("")
    if o.site is not None or o.site_printed is not None:
        if o.site is not None:
            parts.append(site_phrase(o, lang, rnd))
        else:
            parts.append(rnd.choice(t["site_full"]).format(addr="\n".join(o.site_printed or [])))
    if o.urgent:
        parts.append(rnd.choice(t["urgent"]))
    parts += ["", rnd.choice(t["bye"]), o.customer.contact if o.customer else "Purchasing", o.company]
    return "\n".join(parts) + "\n"


# --- messages --------------------------------------------------------------------------------


@dataclass
class Built:
    case: str
    detail: str
    msg: EmailMessage
    label: dict[str, Any]


def new_message(g: Gen, idx: int, frm: tuple[str, str], subject: str, body: str) -> EmailMessage:
    m = EmailMessage()
    m["From"] = f"{frm[0]} <{frm[1]}>"
    m["To"] = f"Orion Orders <{OUR_MAILBOX}>"
    m["Subject"] = subject
    sent = datetime(g.today.year, g.today.month, g.today.day, 7, 0) - timedelta(minutes=idx * 7)
    from datetime import timezone
    m["Date"] = format_datetime(sent.replace(tzinfo=timezone.utc))
    m["Message-ID"] = f"<gen{g.seed}.{idx:04d}@{frm[1].split('@')[1]}>"
    m.set_content(body)
    return m


def fix_boundaries(m: EmailMessage, tag: str) -> None:
    for i, part in enumerate(m.walk()):
        if part.is_multipart():
            part.set_boundary(f"=_{tag}_{i}")


def xlsx_bytes(rows: list[list[Any]]) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Order"
    for row in rows:
        ws.append(row)
    fixed = datetime(2026, 1, 1)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    raw = io.BytesIO()
    wb.save(raw)
    src = zipfile.ZipFile(io.BytesIO(raw.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                import re
                data = re.sub(rb"<dcterms:(created|modified)([^>]*)>[^<]*<", rb"<dcterms:\1\2>2026-01-01T00:00:00Z<", data)
            zi = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(zi, data)
    return out.getvalue()


_SHEET_HEADERS = [  # (code, desc, qty, unit, price) header words
    ("Article", "Description", "Qty", "UoM", "Unit price"),
    ("Material", "Text", "Menge", "ME", "Preis/ME"),
    ("Réf.", "Désignation", "Quantité", "Unité", "PU HT"),
    ("Item #", "Item Description", "Order Qty", "Unit", "Price Each"),
    ("Codigo", "Descripcion", "Cantidad", "Unidad", "Precio"),
    ("Part number", "Part name", "Quantity ordered", "U/M", "Net price"),
]


class Builder:
    def __init__(self, g: Gen) -> None:
        self.g = g
        self.r = g.rnd

    def lang(self, c: Customer) -> str:
        return _LANG_OF[c.country]

    def layout(self, c: Customer) -> str:
        return self.r.choice(_PF_LAYOUT_FOR[c.country])

    def pdf_order(self, idx: int, o: Order, layout: str, frm: tuple[str, str] | None = None,
                  body_extra: str = "", subject: str | None = None) -> EmailMessage:
        c = o.customer
        lang = self.lang(c) if c else "en"
        o.currency_stated = layout in _CURRENCY_PRINTED
        if o.urgent and layout not in _URGENT_PRINTED:
            o.urgent = False
        body = {"en": "Please find our purchase order attached.", "de": "anbei unsere Bestellung.",
                "fr": "Veuillez trouver ci-joint notre commande.", "es": "Adjunto nuestro pedido.",
                "it": "In allegato il nostro ordine.", "nl": "Bijgaand onze bestelling.", "zh": "附件是我司采购订单，请查收。"}[lang]
        who = frm or self.g.sender(c)
        m = new_message(self.g, idx, who, subject or f"PO {o.po}", f"{body}\n{body_extra}\n{who[0]}\n{o.company}\n")
        m.add_attachment(render_pdf(o, layout), maintype="application", subtype="pdf", filename=f"PO_{o.po.replace('/', '-')}.pdf")
        return m

    # ---- cases
    def one_pdf(self, idx: int) -> Built:
        c = self.g.customer()
        o = self.g.make_order(c, self.lang(c))
        o.urgent = self.r.random() < 0.15
        o.notes = self.r.choice([None, None, "Deliver to gate 2", "Call 30 min before arrival"])
        layout = self.layout(c)
        m = self.pdf_order(idx, o, layout)
        self.g.history.append((c, o.po, o))
        return Built("one_pdf", layout, m, dict(kind="order", orders=[o.label()]))

    def two_pdf(self, idx: int) -> Built:
        c = self.g.customer()
        layout = self.layout(c)
        orders = [self.g.make_order(c, self.lang(c), nlines=self.r.randint(1, 4)) for _ in range(2)]
        for o in orders:
            o.currency_stated = layout in _CURRENCY_PRINTED
        m = new_message(self.g, idx, self.g.sender(c), f"Orders {orders[0].po} + {orders[1].po}",
                        "Two purchase orders attached / two POs enclosed.\n")
        for o in orders:
            m.add_attachment(render_pdf(o, layout), maintype="application", subtype="pdf", filename=f"{o.po.replace('/', '-')}.pdf")
            self.g.history.append((c, o.po, o))
        return Built("two_pdf", layout, m, dict(kind="order", orders=[o.label() for o in orders]))

    def body(self, idx: int) -> Built:
        c = self.g.customer()
        lang = self.lang(c) if self.r.random() < 0.8 else "en"
        o = self.g.make_order(c, lang, nlines=self.r.randint(1, 4), allow_pack=False)
        o.order_date = None
        o.urgent = self.r.random() < 0.2
        with_price = self.r.random() < 0.35
        o.prices_stated = with_price
        o.currency_stated = with_price
        m = new_message(self.g, idx, self.g.sender(c), self.r.choice([f"Order {o.po}", "new order", f"Bestellung {o.po}",
                                                                       f"Commande {o.po}", "PO"]) + (" - URGENT" if o.urgent and self.r.random() < 0.5 else ""),
                        order_body(o, lang, self.r, with_price))
        self.g.history.append((c, o.po, o))
        return Built("body", lang, m, dict(kind="order", orders=[o.label()]))

    def sheet(self, idx: int) -> Built:
        c = self.g.customer()
        lang = self.lang(c)
        o = self.g.make_order(c, lang, nlines=self.r.randint(2, 9), allow_pack=False)
        o.order_date = None
        heads = list(self.r.choice(_SHEET_HEADERS))
        heads[4] = f"{heads[4]} ({c.currency})"
        rows: list[list[Any]] = [heads]
        for ln in o.lines:
            rows.append([ln.code, ln.description, float(ln.quantity) if self.r.random() < 0.5 else _num(ln.quantity, "en"),
                         ln.unit_word, f"{ln.price}"])
        kind = self.r.choice(["csv", "xlsx"])
        body = (f"{_BODY['en']['hi'][0]}\n\nOrder {o.po} attached as a spreadsheet. Delivery date: "
                f"{write_date(o.delivery, 'en', c.country, self.r)}.\n{site_phrase(o, 'en', self.r)}\n\nThanks\n{c.contact}\n")
        m = new_message(self.g, idx, self.g.sender(c), f"Order {o.po}", body)
        if kind == "csv":
            buf = io.StringIO()
            csv.writer(buf, delimiter=self.r.choice([",", ";"]), lineterminator="\r\n").writerows(rows)
            m.add_attachment(buf.getvalue().encode("utf-8"), maintype="text", subtype="csv", filename=f"order_{o.po.replace('/', '-')}.csv")
        else:
            m.add_attachment(xlsx_bytes(rows), maintype="application",
                             subtype="vnd.openxmlformats-officedocument.spreadsheetml.sheet", filename=f"order_{o.po.replace('/', '-')}.xlsx")
        self.g.history.append((c, o.po, o))
        return Built("sheet", kind, m, dict(kind="order", orders=[o.label()]))

    def chain(self, idx: int) -> Built:
        c = self.g.customer()
        lang = self.lang(c)
        old_po = self.g.po_number(c)
        variant = self.r.choice(["reply_pdf", "reply_body", "forward_pdf"])
        quoted = (f"On {self.g.today - timedelta(days=12)} Orion Orders wrote:\n> Thank you for your order {old_po}.\n"
                  f"> It has been dispatched today.\n> Best regards, Orion")
        if variant == "reply_body":
            o = self.g.make_order(c, lang, nlines=self.r.randint(1, 3), allow_pack=False)
            o.order_date = None
            o.prices_stated = o.currency_stated = False
            text = order_body(o, lang, self.r, False) + "\n" + quoted + "\n"
            m = new_message(self.g, idx, self.g.sender(c), f"Re: Order confirmation {old_po}", text)
        else:
            o = self.g.make_order(c, lang)
            layout = self.layout(c)
            extra = "\n" + quoted if variant == "reply_pdf" else (
                f"\n---------- Forwarded message ---------\nFrom: Purchasing <buyer@{c.domains[0]}>\nSubject: PO {o.po}\n\n"
                f"Please send to Orion. (previous order {old_po} is closed)")
            m = self.pdf_order(idx, o, layout, body_extra=extra,
                               subject=(f"Re: Order confirmation {old_po}" if variant == "reply_pdf" else f"Fwd: PO {o.po}"))
        self.g.history.append((c, o.po, o))
        return Built("chain", variant, m, dict(kind="order", orders=[o.label()]))

    def change(self, idx: int, cancel: bool) -> Built:
        if not self.g.history:
            return self.one_pdf(idx)
        c, po, o = self.r.choice(self.g.history)
        lang = self.lang(c)
        ln = o.lines[0]
        if cancel:
            text = {"en": f"Please cancel our order {po} completely, it is no longer needed.",
                    "de": f"Bitte stornieren Sie unsere Bestellung {po}.",
                    "fr": f"Merci d'annuler notre commande {po}.", "es": f"Por favor anulen el pedido {po}.",
                    "it": f"Vi preghiamo di annullare l'ordine {po}.", "nl": f"Graag order {po} annuleren.",
                    "zh": f"请取消订单 {po}，谢谢。"}[lang]
            subj = f"Cancellation {po}"
        else:
            what = self.r.choice(["qty", "date", "address"])
            text = {"qty": f"Regarding PO {po}: please change the quantity of {ln.code} to {int((ln.quantity or 1) * 2)}.",
                    "date": f"Could you move the delivery of PO {po} to {write_date(self.g.today + timedelta(days=50), 'en', c.country, self.r)}?",
                    "address": f"Change request for order {po}: please deliver to our other site instead."}[what]
            subj = f"Change to order {po}"
        m = new_message(self.g, idx, self.g.sender(c), subj, f"Hello,\n\n{text}\n\nThanks\n{c.contact}\n")
        kind = "cancellation" if cancel else "change"
        return Built(kind, "", m, dict(kind=kind, orders=[restricted(c, po, f"{kind}_request" if cancel else "change_request")]))

    def inquiry(self, idx: int) -> Built:
        c = self.g.customer()
        p = self.r.choice(self.g.master.products)
        variant = self.r.choice(["price", "stock", "ooo", "newsletter", "remittance", "datasheet"])
        texts = {
            "price": ("inquiry", f"Price request {p.sku}", f"Hi,\ncould you quote us for 500 pcs of {p.sku} ({p.description})? "
                      "This is not an order yet.\nThanks"),
            "stock": ("inquiry", "Availability?", f"Hello,\ndo you have {p.description} ({p.sku}) in stock and what is the lead time?\nRegards"),
            "ooo": ("other", "Automatic reply: Out of office", "I am out of the office until Monday with limited access to email.\n"
                    "For urgent matters please contact purchasing."),
            "newsletter": ("other", "Our winter newsletter", "News from our plant: new canteen, new ERP go-live in January.\n"
                           "Unsubscribe here."),
            "remittance": ("other", "Remittance advice", f"Payment of invoice 90{self.r.randint(10000, 99999)} has been made today, "
                           f"amount {self.r.randint(200, 9000)}.00 {c.currency}."),
            "datasheet": ("inquiry", "Safety data sheet", f"Please send the current SDS for {p.description}."),
        }
        kind, subj, body = texts[variant]
        m = new_message(self.g, idx, self.g.sender(c), subj, body + "\n")
        return Built("inquiry_other", variant, m, dict(kind=kind, orders=[]))

    def problem(self, idx: int, defect: str) -> Built:
        g, r = self.g, self.r
        credit = "hold" if defect == "credit_hold" else "ok"
        c = g.customer(credit=credit)
        lang = self.lang(c)
        o = g.make_order(c, lang, nlines=r.randint(1, 4), allow_pack=False)
        layout = self.layout(c)
        reason = defect
        frm = None
        as_body = defect in ("ambiguous_quantity", "missing_ship_to")
        if defect == "unknown_sku":
            bad = o.lines[0]
            o.lines[0] = Line(None, f"ZZ-{r.randint(100000, 999999)}", None, "Special bracket to drawing 4471", bad.quantity,
                              bad.uom, bad.unit_word, bad.price)
        elif defect == "price_mismatch":
            c = g.customer(credit="ok", country=r.choice(["DE", "FR", "NL", "ES", "IT"]))
            o = g.make_order(c, self.lang(c), nlines=r.randint(1, 3), allow_pack=False)
            layout = self.layout(c)
            o.lines[0].price = (o.lines[0].price * Decimal("1.35")).quantize(CENT)
        elif defect == "past_delivery_date":
            o.delivery = g.today - timedelta(days=r.randint(3, 20))
            o.order_date = o.delivery - timedelta(days=7)
        elif defect == "out_of_stock":
            p = r.choice([p for p in g.master.products if p.stock == 0])
            o.lines.append(g.make_line(c, p, lang, allow_pack=False))
        elif defect == "unverified_sender":
            frm = (c.contact, f"{c.contact.split()[0].lower()}{r.randint(1, 99)}@{r.choice(['gmail.com', 'outlook.com', 'web.de'])}")
        elif defect == "unknown_customer":
            country = c.country
            company = f"{r.choice(['Quillon', 'Brackwater', 'Ostrava Tech', 'Minerva'])} {r.choice(_COUNTRY[country][2])}"
            o.customer = None
            o.company = company
            site = Site("", "", f"{company.split()[0]} Works", "Long Lane 4" if country in ("GB", "US") else "Hauptweg 4",
                        "12345", "Springfield", country)
            o.site = site
            o.site_printed = site.printed()
            for ln in o.lines:
                ln.customer_sku = None
                ln.code = ln.product.sku if ln.product else ln.code
            frm = ("Buyer", f"buyer@{company.split()[0].lower()}-{country.lower()}.example")
            m = self.pdf_order(idx, o, layout, frm=frm)
            m.replace_header("Subject", f"New order {o.po}")
            lbl = o.label()
            lbl.update(customer_id=None, review=True, reasons=["unknown_customer"])
            return Built("problem", f"unknown_customer, {layout}", m, dict(kind="order", orders=[lbl]))
        elif defect == "duplicate_po":
            cands = [h for h in g.history]
            if not cands:
                return self.one_pdf(idx)
            c, po, old = r.choice(cands)
            layout = self.layout(c)
            o = old
            if not o.order_date:  # body or sheet original: resend as a body order
                text = "Resending in case our order did not reach you:\n\n" + order_body(o, self.lang(c), r, o.prices_stated)
                m = new_message(g, idx, g.sender(c), f"Order {o.po} (resent)", text)
            else:
                m = self.pdf_order(idx, o, layout, subject=f"PO {o.po} - resend")
            lbl = o.label()
            lbl.update(review=True, reasons=["duplicate_po"])
            return Built("problem", f"duplicate_po of {po}", m, dict(kind="order", orders=[lbl]))
        elif defect == "unreadable_document":
            m = new_message(g, idx, g.sender(c), f"PO {o.po}", "Scan of our order attached.\n")
            m.add_attachment(pf.image_only_pdf(), maintype="application", subtype="pdf", filename="scan0001.pdf")
            return Built("problem", "unreadable_document", m, dict(kind="order", orders=[restricted(c, o.po, "unreadable_document")]))
        if as_body:
            o.order_date = None
            o.prices_stated = o.currency_stated = False
            if defect == "ambiguous_quantity":
                ln = o.lines[0]
                ln.quantity = None
                reason = "ambiguous_quantity"
            else:
                o.site = None
                o.site_printed = None
                reason = "missing_field"
            if defect == "ambiguous_quantity":
                lo = r.choice([10, 20, 30])
                o.lines[0].shown_qty = r.choice([f"{lo} or {lo + 10}", f"{lo}-{lo + 20}", "a few", f"{lo} (or {lo * 2}?)"])
            text = order_body(o, lang, r, False)
            m = new_message(g, idx, g.sender(c), f"Order {o.po}", text)
        else:
            m = self.pdf_order(idx, o, layout, frm=frm)
        o.reasons = [reason]
        return Built("problem", f"{defect}, {layout if not as_body else 'body'}", m, dict(kind="order", orders=[o.label()]))


_DEFECTS = ["unknown_sku", "price_mismatch", "past_delivery_date", "credit_hold", "unknown_customer", "unverified_sender",
            "duplicate_po", "ambiguous_quantity", "missing_ship_to", "out_of_stock", "unreadable_document"]
_CASES = [("one_pdf", 30), ("body", 14), ("two_pdf", 5), ("chain", 7), ("change", 5), ("cancel", 3), ("inquiry", 7),
          ("sheet", 9), ("problem", 20)]


def generate(out: Path, seed: int, n: int, today: date) -> list[Built]:
    g = Gen(seed, today)
    b = Builder(g)
    out.mkdir(parents=True, exist_ok=True)
    write_master(g.master, out / "masterdata")
    (out / "messages").mkdir(exist_ok=True)
    (out / "labels").mkdir(exist_ok=True)
    names = [c for c, _ in _CASES]
    weights = [w for _, w in _CASES]
    built: list[Built] = []
    defect_cycle = list(_DEFECTS)
    g.rnd.shuffle(defect_cycle)
    nprob = 0
    for idx in range(1, n + 1):
        case = g.rnd.choices(names, weights)[0] if idx > 3 else "one_pdf"
        if case == "problem":
            item = b.problem(idx, defect_cycle[nprob % len(defect_cycle)])
            nprob += 1
        elif case in ("change", "cancel"):
            item = b.change(idx, case == "cancel")
        else:
            item = getattr(b, {"inquiry": "inquiry"}.get(case, case))(idx)
        fix_boundaries(item.msg, f"{seed}_{idx}")
        item.label = {"message_id": item.msg["Message-ID"], **item.label}
        (out / "messages" / f"{idx:04d}.eml").write_bytes(bytes(item.msg))
        (out / "labels" / f"{idx:04d}.json").write_text(json.dumps(item.label, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        built.append(item)
    write_readme(out, g, built, seed, n, today)
    return built


def write_readme(out: Path, g: Gen, built: list[Built], seed: int, n: int, today: date) -> None:
    cases = Counter(b.case for b in built)
    kinds = Counter(b.label["kind"] for b in built)
    reasons = Counter(r for b in built for o in b.label["orders"] for r in o["reasons"])
    orders = sum(len(b.label["orders"]) for b in built)
    clean = sum(1 for b in built for o in b.label["orders"] if not o["review"])
    m = g.master
    lines = [
        "# Generated purchase-order corpus", "",
        f"Generated by `bench/gen_corpus.py --seed {seed} --n {n} --today {today}`. Synthetic: every company, person,",
        "address and number is invented. Layout: FORMATS.md section 3. Run the bot with the same `--today` and all",
        "messages in one call, in file order (a later message may duplicate an earlier PO).", "",
        "## Master data", "",
        f"- {len(m.customers)} customers ({', '.join(sorted({c.country for c in m.customers}))}), "
        f"{sum(c.credit == 'hold' for c in m.customers)} on credit hold; {sum(len(v) for v in m.sites.values())} ship-to addresses; "
        f"{len(m.products)} products ({sum(p.stock == 0 for p in m.products)} with zero stock); "
        f"{sum(len(v) for v in m.xref.values())} customer part-number cross-references.", "",
        "## Messages", "",
        f"{n} messages, {orders} expected order entries, {clean} of them clean (`review: false`).", "",
        "| case | messages |", "|---|---|", *(f"| {k} | {v} |" for k, v in sorted(cases.items())), "",
        "Label kinds: " + ", ".join(f"`{k}` {v}" for k, v in sorted(kinds.items())) + ".", "",
        "Review reasons: " + ", ".join(f"`{k}` {v}" for k, v in sorted(reasons.items())) + ".", "",
        "## Labelling conventions", "",
        "As in `shared/corpus/README.md`: known ship-to addresses exactly as in `addresses.csv`; unstated values null",
        "(body orders have no order date; prices/currency only when written); US numeric dates month/day/year;",
        "`unit_price` per line unit (a case price = list price x pack size); change/cancellation/unreadable messages",
        "have one restricted entry; each problem message has exactly one defect. Non-EUR orders use converted prices",
        "(not compared with the EUR list). An ambiguous quantity is labelled null.", "",
        "## Message index", "", "| # | case | detail | kind | orders | review reasons |", "|---|---|---|---|---|---|",
    ]
    for i, b in enumerate(built, 1):
        rs = sorted({r for o in b.label["orders"] for r in o["reasons"]})
        lines.append(f"| {i:04d} | {b.case} | {b.detail} | {b.label['kind']} | {len(b.label['orders'])} | {', '.join(rs)} |")
    (out / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--n", type=int, default=120)
    ap.add_argument("--today", type=date.fromisoformat, default=date(2026, 11, 26))
    args = ap.parse_args(argv)
    built = generate(args.out, args.seed, args.n, args.today)
    print(f"wrote {len(built)} messages to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
