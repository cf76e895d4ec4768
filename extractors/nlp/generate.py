"""Training data for orderbot's spaCy models, made up from scratch, deterministic by seed.

Two kinds of examples:

- ``ner_examples``: order emails written as prose ("please send 20 boxes of the
  A4 copy paper, our ref 88-123, to our Leeds site by Friday") with the character
  spans of ``QTY`` (the number), ``UNIT``, ``ITEM`` (the description), ``PART``
  (an article number of a line), ``PO`` (the customer's order number),
  ``DATE`` (the wanted delivery date, not any date), ``SITE`` (where to deliver:
  a site reference or an address) and ``PRICE`` (a unit price, with its currency
  where written). Greetings, signatures, phone numbers, quote and invoice
  numbers and other dates are in the text without a label: the model has to
  tell them apart by context.
- ``kind_examples``: whole messages (subject and new text) of each message kind,
  ``order``, ``change``, ``cancellation``, ``inquiry``, ``other``: new orders in
  prose or "see attached PO", changes of quantity, date or address,
  cancellations, RFQs, stock, price and status questions, out-of-office replies,
  newsletters, remittance advices, delivery notifications, invoices... with
  quoted reply history, signatures and disclaimers as noise.

Everything is composed at random from the word lists and templates in this
file (products, companies, places, streets, part-number and PO-number shapes
are put together from generic parts) plus the project's vocabularies for
closed word classes (units, currencies, weekdays, closings). It never reads
any real message.

``split="heldout"`` draws templates and open-class words (products, places,
names...) from a quarter of each list that ``split="train"`` never uses, so a
model evaluated on it is measured on phrasings and words it has not seen.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

Split = Literal["train", "heldout"]
LANGUAGES = ("en", "de", "fr", "zh", "es", "it", "nl")
KINDS = ("order", "change", "cancellation", "inquiry", "other")
NER_LABELS = ("QTY", "UNIT", "ITEM", "PART", "PO", "DATE", "SITE", "PRICE")

Entity = tuple[int, int, str]


@dataclass(frozen=True, slots=True)
class NerExample:
    text: str
    entities: tuple[Entity, ...]
    lang: str


@dataclass(frozen=True, slots=True)
class KindExample:
    subject: str
    body: str
    kind: str
    lang: str
    attachments: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return kind_text(self.subject, self.body, self.attachments)


_NAME_PARTS = re.compile(r"[_\-.]+")


def kind_text(subject: str, body: str, attachments: Sequence[str] = ()) -> str:
    """The text the kind classifier reads: the subject, the new text, then one line per
    attached file name ("[attachment] PO 4711 pdf": split into words so that "PO"
    and "pdf" count as words)."""
    files = "".join(f"\n[attachment] {_NAME_PARTS.sub(' ', name).strip()}" for name in attachments)
    return f"{subject.strip()}\n\n{body.strip()}{files}".strip()


# =====================================================================================
# Building text with entity spans
# =====================================================================================


class Text:
    """Text put together piece by piece, remembering the span of every labelled piece."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.entities: list[Entity] = []
        self.size = 0

    def add(self, piece: str, label: str | None = None) -> Text:
        if label and piece:
            self._apart(piece)
            self.entities.append((self.size, self.size + len(piece), label))
        self.parts.append(piece)
        self.size += len(piece)
        return self

    def add_text(self, other: Text) -> Text:
        self._apart(other.text)
        for start, end, label in other.entities:
            self.entities.append((start + self.size, end + self.size, label))
        self.parts.extend(other.parts)
        self.size += other.size
        return self

    @property
    def text(self) -> str:
        return "".join(self.parts)

    def _apart(self, piece: str) -> None:
        """A value glued to the previous letters or digits ("PL8943" + "A3纸") would be read
        as one word: put a space between them."""
        last = next((p for p in reversed(self.parts) if p), "")
        if last and _wordlike(last[-1]) and _wordlike(piece[:1]):
            self.parts.append(" ")
            self.size += 1


_SLOT = re.compile(r"\{(\w+)\}")


def fill(template: str, values: dict[str, str | Text]) -> Text:
    """``template`` with its ``{slots}`` replaced; a ``Text`` value keeps its entities."""
    out = Text()
    pos = 0
    for m in _SLOT.finditer(template):
        out.add(template[pos : m.start()])
        value = values[m.group(1)]
        if isinstance(value, Text):
            out.add_text(value)
        else:
            out.add(value)
        pos = m.end()
    out.add(template[pos:])
    return out


def labelled(value: str, label: str) -> Text:
    return Text().add(value, label)


# =====================================================================================
# Word lists (generic parts; products, places and names are composed from them)
# =====================================================================================

# Units per language: (singular, plural); the first ones are the common ones.
UNITS: dict[str, list[tuple[str, str]]] = {
    "en": [("box", "boxes"), ("carton", "cartons"), ("case", "cases"), ("pack", "packs"), ("pc", "pcs"),
           ("piece", "pieces"), ("roll", "rolls"), ("pallet", "pallets"), ("bag", "bags"), ("set", "sets"),
           ("pair", "pairs"), ("bottle", "bottles"), ("kg", "kg"), ("m", "m"), ("litre", "litres"),
           ("reel", "reels"), ("tube", "tubes"), ("drum", "drums"), ("sheet", "sheets"), ("unit", "units"),
           ("ea", "ea"), ("ctn", "ctns"), ("pkt", "pkts"), ("tin", "tins"), ("metre", "metres")],
    "de": [("Karton", "Kartons"), ("Stück", "Stück"), ("Stk.", "Stk."), ("Packung", "Packungen"), ("Paket", "Pakete"),
           ("Rolle", "Rollen"), ("Palette", "Paletten"), ("Sack", "Säcke"), ("Set", "Sets"), ("Paar", "Paar"),
           ("Flasche", "Flaschen"), ("kg", "kg"), ("m", "m"), ("Liter", "Liter"), ("Schachtel", "Schachteln"),
           ("Kiste", "Kisten"), ("Dose", "Dosen"), ("Beutel", "Beutel"), ("Eimer", "Eimer"), ("VE", "VE"),
           ("Pck.", "Pck."), ("Meter", "Meter"), ("Tube", "Tuben")],
    "fr": [("boîte", "boîtes"), ("carton", "cartons"), ("pièce", "pièces"), ("paquet", "paquets"),
           ("rouleau", "rouleaux"), ("palette", "palettes"), ("sac", "sacs"), ("lot", "lots"), ("paire", "paires"),
           ("bouteille", "bouteilles"), ("kg", "kg"), ("m", "m"), ("litre", "litres"), ("caisse", "caisses"),
           ("unité", "unités"), ("pcs", "pcs"), ("bidon", "bidons"), ("sachet", "sachets"), ("colis", "colis"),
           ("mètre", "mètres"), ("jeu", "jeux")],
    "zh": [("箱", "箱"), ("盒", "盒"), ("包", "包"), ("卷", "卷"), ("个", "个"), ("件", "件"), ("套", "套"),
           ("袋", "袋"), ("桶", "桶"), ("瓶", "瓶"), ("张", "张"), ("双", "双"), ("只", "只"), ("支", "支"),
           ("托", "托"), ("公斤", "公斤"), ("米", "米"), ("台", "台"), ("片", "片")],
    "es": [("caja", "cajas"), ("unidad", "unidades"), ("paquete", "paquetes"), ("rollo", "rollos"),
           ("palé", "palés"), ("bolsa", "bolsas"), ("juego", "juegos"), ("par", "pares"), ("botella", "botellas"),
           ("kg", "kg"), ("m", "m"), ("litro", "litros"), ("pieza", "piezas"), ("uds", "uds"), ("saco", "sacos")],
    "it": [("scatola", "scatole"), ("pezzo", "pezzi"), ("confezione", "confezioni"), ("rotolo", "rotoli"),
           ("bancale", "bancali"), ("sacco", "sacchi"), ("kit", "kit"), ("paio", "paia"), ("bottiglia", "bottiglie"),
           ("kg", "kg"), ("m", "m"), ("litro", "litri"), ("cartone", "cartoni"), ("pz", "pz"), ("cassa", "casse")],
    "nl": [("doos", "dozen"), ("stuk", "stuks"), ("pak", "pakken"), ("rol", "rollen"), ("pallet", "pallets"),
           ("zak", "zakken"), ("set", "sets"), ("paar", "paar"), ("fles", "flessen"), ("kg", "kg"), ("m", "m"),
           ("liter", "liter"), ("karton", "kartons"), ("st", "st"), ("emmer", "emmers")],
}

NUMBER_WORDS: dict[str, dict[int, str]] = {
    "en": {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 10: "ten", 12: "twelve", 20: "twenty", 50: "fifty"},
    "de": {1: "ein", 2: "zwei", 3: "drei", 4: "vier", 5: "fünf", 6: "sechs", 10: "zehn", 12: "zwölf", 20: "zwanzig"},
    "fr": {1: "un", 2: "deux", 3: "trois", 4: "quatre", 5: "cinq", 6: "six", 10: "dix", 12: "douze", 20: "vingt"},
    "zh": {1: "一", 2: "两", 3: "三", 4: "四", 5: "五", 6: "六", 8: "八", 10: "十", 20: "二十", 30: "三十"},
    "es": {2: "dos", 3: "tres", 4: "cuatro", 5: "cinco", 6: "seis", 10: "diez", 12: "doce", 20: "veinte"},
    "it": {2: "due", 3: "tre", 4: "quattro", 5: "cinque", 6: "sei", 10: "dieci", 12: "dodici", 20: "venti"},
    "nl": {2: "twee", 3: "drie", 4: "vier", 5: "vijf", 6: "zes", 10: "tien", 12: "twaalf", 20: "twintig"},
}

# Product nouns (open class: split between train and held-out).
PRODUCTS: dict[str, list[str]] = {
    "en": ["copy paper", "nitrile gloves", "cable ties", "hex bolts", "wood screws", "safety glasses", "packing tape",
           "stretch film", "bubble wrap", "shipping boxes", "printer toner", "ballpoint pens", "hand sanitiser",
           "paper towels", "bin liners", "cleaning wipes", "work boots", "hi-vis vests", "ear plugs", "dust masks",
           "extension leads", "LED bulbs", "AA batteries", "shelf brackets", "drill bits", "sanding discs",
           "masking tape", "lubricant spray", "label rolls", "envelopes", "lever arch files", "whiteboard markers",
           "padlocks", "hose clamps", "fuses", "pipe fittings", "cable glands", "spirit levels", "torch batteries",
           "floor cleaner", "coffee filters", "hairnets", "pallet wrap", "corner protectors", "spray paint",
           "washers", "hinges", "door handles", "grease cartridges", "welding rods"],
    "de": ["Kopierpapier", "Nitrilhandschuhe", "Kabelbinder", "Sechskantschrauben", "Holzschrauben", "Schutzbrillen",
           "Packband", "Stretchfolie", "Luftpolsterfolie", "Versandkartons", "Druckertoner", "Kugelschreiber",
           "Desinfektionsmittel", "Papierhandtücher", "Müllbeutel", "Reinigungstücher", "Sicherheitsschuhe",
           "Warnwesten", "Gehörschutzstöpsel", "Atemschutzmasken", "Verlängerungskabel", "LED-Lampen",
           "Batterien AA", "Regalwinkel", "Bohrer", "Schleifscheiben", "Abdeckband", "Schmierspray",
           "Etikettenrollen", "Briefumschläge", "Ordner", "Whiteboard-Marker", "Vorhängeschlösser",
           "Schlauchschellen", "Sicherungen", "Rohrfittings", "Kabelverschraubungen", "Wasserwaagen",
           "Bodenreiniger", "Kaffeefilter", "Kantenschutz", "Sprühlack", "Unterlegscheiben", "Scharniere",
           "Türgriffe", "Fettkartuschen", "Schweißelektroden", "Dübel", "Isolierband", "Arbeitshandschuhe"],
    "fr": ["papier pour photocopieur", "gants nitrile", "colliers de serrage", "vis hexagonales", "vis à bois",
           "lunettes de protection", "ruban adhésif", "film étirable", "papier bulle", "cartons d'expédition",
           "toner d'imprimante", "stylos à bille", "gel hydroalcoolique", "essuie-mains", "sacs poubelle",
           "lingettes nettoyantes", "chaussures de sécurité", "gilets haute visibilité", "bouchons d'oreille",
           "masques anti-poussière", "rallonges électriques", "ampoules LED", "piles AA", "équerres",
           "forets", "disques abrasifs", "ruban de masquage", "spray lubrifiant", "rouleaux d'étiquettes",
           "enveloppes", "classeurs", "marqueurs effaçables", "cadenas", "colliers de serrage inox", "fusibles",
           "raccords de tuyauterie", "presse-étoupes", "niveaux à bulle", "nettoyant sol", "filtres à café",
           "cornières de protection", "peinture en bombe", "rondelles", "charnières", "poignées de porte",
           "cartouches de graisse", "électrodes de soudure", "chevilles", "gants de travail", "charlottes"],
    "zh": ["复印纸", "丁腈手套", "扎带", "六角螺栓", "木螺丝", "护目镜", "封箱胶带", "缠绕膜", "气泡膜", "快递纸箱",
           "打印机硒鼓", "圆珠笔", "洗手液", "擦手纸", "垃圾袋", "清洁湿巾", "劳保鞋", "反光背心", "耳塞", "防尘口罩",
           "插线板", "LED灯泡", "五号电池", "层板支架", "钻头", "砂纸片", "美纹纸", "润滑喷剂", "标签纸", "信封",
           "文件夹", "白板笔", "挂锁", "喉箍", "保险丝", "管件", "电缆接头", "水平尺", "地板清洁剂", "咖啡滤纸",
           "护角", "喷漆", "垫圈", "合页", "门把手", "黄油枪弹", "焊条", "膨胀螺丝", "绝缘胶布", "工作手套"],
    "es": ["papel de fotocopiadora", "guantes de nitrilo", "bridas", "tornillos hexagonales", "tornillos para madera",
           "gafas de seguridad", "cinta de embalar", "film estirable", "plástico de burbujas", "cajas de envío",
           "tóner de impresora", "bolígrafos", "gel desinfectante", "toallas de papel", "bolsas de basura",
           "toallitas de limpieza", "botas de seguridad", "chalecos reflectantes", "tapones para los oídos",
           "mascarillas", "alargadores", "bombillas LED", "pilas AA", "escuadras", "brocas", "discos de lija",
           "cinta de carrocero", "spray lubricante", "rollos de etiquetas", "sobres", "archivadores", "candados",
           "abrazaderas", "fusibles", "racores", "niveles de burbuja", "arandelas", "bisagras"],
    "it": ["carta per fotocopie", "guanti in nitrile", "fascette", "bulloni esagonali", "viti per legno",
           "occhiali di protezione", "nastro adesivo", "film estensibile", "pluriball", "scatole di spedizione",
           "toner per stampante", "penne a sfera", "gel igienizzante", "asciugamani di carta", "sacchi per rifiuti",
           "salviette detergenti", "scarpe antinfortunistiche", "gilet ad alta visibilità", "tappi per le orecchie",
           "mascherine antipolvere", "prolunghe", "lampadine LED", "batterie AA", "staffe", "punte da trapano",
           "dischi abrasivi", "nastro di mascheratura", "spray lubrificante", "rotoli di etichette", "buste",
           "raccoglitori", "lucchetti", "fascette stringitubo", "fusibili", "raccordi", "livelle", "rondelle", "cerniere"],
    "nl": ["kopieerpapier", "nitril handschoenen", "kabelbinders", "zeskantbouten", "houtschroeven",
           "veiligheidsbrillen", "verpakkingstape", "stretchfolie", "noppenfolie", "verzenddozen", "printertoner",
           "balpennen", "handgel", "papieren handdoeken", "vuilniszakken", "reinigingsdoekjes", "werkschoenen",
           "veiligheidshesjes", "oordoppen", "stofmaskers", "verlengsnoeren", "LED-lampen", "AA-batterijen",
           "plankdragers", "boren", "schuurschijven", "afplaktape", "smeerspray", "etiketrollen", "enveloppen",
           "ordners", "hangsloten", "slangklemmen", "zekeringen", "fittingen", "waterpassen", "ringen", "scharnieren"],
}

# Modifiers put in front of (Latin) or before (Chinese) a product noun.
MODIFIERS: dict[str, list[str]] = {
    "en": ["blue", "black", "white", "red", "yellow", "clear", "heavy-duty", "premium", "standard", "recycled",
           "stainless", "galvanised", "large", "small", "medium", "disposable", "industrial", "extra strong",
           "brown", "green", "grey", "transparent", "reinforced", "anti-slip", "economy"],
    "de": ["blaue", "schwarze", "weiße", "rote", "gelbe", "transparente", "verzinkte", "große", "kleine",
           "Edelstahl-", "Recycling-", "Premium-", "Standard-", "extra starke", "graue", "grüne", "braune"],
    "fr": ["bleus", "noirs", "blancs", "rouges", "jaunes", "transparents", "inox", "galvanisés", "grands",
           "petits", "recyclés", "renforcés", "premium", "standard", "gris", "verts", "marron"],
    "zh": ["蓝色", "黑色", "白色", "红色", "黄色", "透明", "加厚", "不锈钢", "镀锌", "大号", "小号", "中号",
           "一次性", "工业用", "环保", "防滑", "灰色", "绿色"],
    "es": ["azules", "negros", "blancos", "rojos", "transparentes", "inoxidables", "galvanizados", "grandes",
           "pequeños", "reciclados", "reforzados", "grises", "verdes"],
    "it": ["blu", "neri", "bianchi", "rossi", "trasparenti", "inox", "zincati", "grandi", "piccoli", "riciclati",
           "rinforzati", "grigi", "verdi"],
    "nl": ["blauwe", "zwarte", "witte", "rode", "transparante", "rvs", "verzinkte", "grote", "kleine",
           "gerecyclede", "versterkte", "grijze", "groene"],
}

# Specifications after a product noun: generic shapes filled with numbers.
SPEC_SHAPES = ["A4", "A3", "80gsm", "M{a} x {b}", "M{a}", "size {s}", "{a}mm", "{b} mm", "{a}x{b}mm", "{c}ml",
               "{c}ml", "{a}-{b}mm", "{a}W", "{a}V", "Ø{a}mm", "{b}cm", "{a}/{b}", "{c}g", "grade {a}", "{a}-pack", "{b}\""]
SIZES = ["S", "M", "L", "XL", "XXL", "9", "10", "42", "44"]

# Place names are syllables put together.
PLACE_PARTS: dict[str, tuple[list[str], list[str]]] = {
    "en": (["Ash", "Brad", "Carl", "Dun", "Elm", "Fair", "Glen", "Hol", "Kings", "Lang", "Marl", "North", "Oak",
            "Red", "Stan", "Thorn", "West", "Wood", "Bram", "Cran", "Hart", "Pen", "Rother", "Sel", "Brook", "Win"],
           ["ford", "ley", "ton", "bury", "field", "wick", "worth", "ham", "by", "stead", "mouth", "bridge", "dale",
            "well", "chester", "hurst", "combe", "moor"]),
    "de": (["Alten", "Berg", "Dorn", "Eichen", "Falken", "Grün", "Hohen", "Kirch", "Linden", "Neu", "Ober", "Rosen",
            "Schön", "Stein", "Unter", "Wald", "Weiß", "Lauter", "Mühl", "Sonnen", "Tann", "Wester", "Bären", "Hasel"],
           ["burg", "dorf", "feld", "hausen", "heim", "stadt", "bach", "berg", "au", "tal", "hagen", "brück",
            "kirchen", "ingen", "rode", "stedt"]),
    "fr": (["Mont", "Ville", "Beau", "Bel", "Château", "Fontaine", "Roche", "Val", "Pont", "Clair", "Bois",
            "Saint-Aubin-", "Grand", "Haute", "Char", "Mar", "Ber", "Lan", "Cour", "Mou"],
           ["neuve", "fort", "lieu", "mont", "val", "court", "ville", "champ", "font", "bourg", "lès-Bains",
            "sur-Loire", "mare", "tigny", "ignac", "ière"]),
    "zh": (["江", "河", "山", "阳", "安", "宁", "海", "东", "西", "南", "北", "新", "华", "金", "长", "青", "平",
            "明", "兴", "丰", "嘉", "临", "永", "昌"],
           ["州", "阳", "山", "城", "宁", "安", "江", "口", "源", "湖", "川", "门", "沙", "林", "台", "泉"]),
    "es": (["Villa", "Puerto", "Torre", "Monte", "Val", "Alcal", "Sant", "Bena", "Cala", "Fuen", "Mira", "Río"],
           ["franca", "llano", "nueva", "verde", "real", "mar", "alta", "sierra", "hermosa", "blanca", "del Campo"]),
    "it": (["Monte", "Castel", "Borgo", "Villa", "Porto", "San", "Roc", "Val", "Fonte", "Colle", "Pian", "Torre"],
           ["franco", "nuovo", "verde", "alto", "lungo", "fiore", "mare", "bello", "chiaro", "rosso", "d'Adda"]),
    "nl": (["Zand", "Berg", "Oost", "West", "Noord", "Zuid", "Hoog", "Nieuw", "Oud", "Groen", "Wester", "Leeu"],
           ["dam", "dijk", "veen", "hoven", "wijk", "broek", "horst", "voort", "burg", "kerk", "meer", "stad"]),
}

STREET_WORDS: dict[str, list[str]] = {
    "en": ["Mill", "Station", "Church", "Park", "Victoria", "Bridge", "Quarry", "Meadow", "Canal", "Foundry",
           "Harbour", "Kiln", "Orchard", "Forge", "Tanner"],
    "de": ["Industrie", "Bahnhof", "Haupt", "Garten", "Mühlen", "Linden", "Schiller", "Gewerbe", "Hafen",
           "Werk", "Ring", "Birken", "Kanal"],
    "fr": ["des Acacias", "de la Gare", "du Moulin", "des Forges", "de l'Industrie", "du Port", "des Tilleuls",
           "Victor Hugo", "de la Paix", "des Artisans"],
    "zh": ["人民", "建设", "工业", "中山", "解放", "和平", "发展", "科技", "创业", "长江"],
    "es": ["Mayor", "de la Industria", "del Puerto", "de los Olivos", "Real", "de la Estación", "del Molino"],
    "it": ["Roma", "dell'Industria", "del Porto", "dei Mille", "Garibaldi", "della Stazione", "del Lavoro"],
    "nl": ["Industrie", "Stations", "Kerk", "Haven", "Molen", "Linden", "Dorps", "Fabrieks"],
}

SITE_NOUNS: dict[str, list[str]] = {
    "en": ["site", "plant", "warehouse", "depot", "branch", "factory", "store", "DC", "yard", "office", "works", "hub"],
    "de": ["Werk", "Lager", "Standort", "Niederlassung", "Filiale", "Betrieb", "Außenlager", "Zentrallager"],
    "fr": ["site", "usine", "entrepôt", "dépôt", "agence", "magasin", "atelier", "établissement"],
    "zh": ["工厂", "仓库", "厂区", "分厂", "基地", "门店", "办事处"],
    "es": ["planta", "almacén", "sede", "centro", "fábrica", "obra", "tienda"],
    "it": ["stabilimento", "magazzino", "sede", "deposito", "filiale", "cantiere"],
    "nl": ["vestiging", "locatie", "magazijn", "fabriek", "depot", "filiaal"],
}

FIRST_NAMES = {
    "en": ["Tom", "Sarah", "James", "Emma", "David", "Laura", "Mike", "Rachel", "Chris", "Helen", "Paul", "Jo",
           "Steve", "Kate", "Andy", "Lucy", "Mark", "Anna"],
    "de": ["Thomas", "Sabine", "Jürgen", "Katrin", "Stefan", "Monika", "Andreas", "Julia", "Frank", "Petra",
           "Uwe", "Anja", "Klaus", "Heike"],
    "fr": ["Pierre", "Sophie", "Nicolas", "Claire", "Julien", "Isabelle", "Laurent", "Camille", "Éric",
           "Nathalie", "Olivier", "Céline"],
    "zh": ["伟", "芳", "娜", "敏", "静", "磊", "洋", "艳", "勇", "军", "杰", "娟"],
    "es": ["Javier", "María", "Carlos", "Lucía", "Antonio", "Elena", "Miguel", "Carmen", "Pablo", "Ana"],
    "it": ["Marco", "Giulia", "Luca", "Francesca", "Andrea", "Chiara", "Paolo", "Sara", "Matteo", "Elena"],
    "nl": ["Jan", "Sanne", "Pieter", "Eva", "Bram", "Lotte", "Daan", "Femke", "Joost", "Inge"],
}
LAST_NAMES = {
    "en": ["Smith", "Walker", "Harris", "Clarke", "Turner", "Hughes", "Wood", "Baker", "Lewis", "Fletcher",
           "Marsh", "Cooper", "Hall", "Price", "Bennett", "Shaw"],
    "de": ["Müller", "Schmidt", "Weber", "Fischer", "Becker", "Hoffmann", "Schulz", "Koch", "Richter", "Wolf",
           "Neumann", "Braun", "Zimmermann", "Krüger"],
    "fr": ["Martin", "Bernard", "Dubois", "Durand", "Lefebvre", "Moreau", "Laurent", "Girard", "Roux", "Fournier",
           "Mercier", "Blanc"],
    "zh": ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "周", "吴", "徐", "孙"],
    "es": ["García", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Ruiz", "Díaz", "Moreno", "Navarro"],
    "it": ["Rossi", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco", "Bruno", "Gallo", "Conti"],
    "nl": ["de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "de Boer", "Mulder", "Bos", "Vos"],
}

COMPANY_WORDS = ["North", "Apex", "Brook", "Summit", "Vale", "Crest", "Delta", "Orion", "Harbor", "Pioneer",
                 "Granite", "Beacon", "Meridian", "Atlas", "Cedar", "Falcon", "Nova", "Sterling", "Zenith", "Lumen"]
COMPANY_TRADES = {
    "en": ["Supplies", "Engineering", "Logistics", "Facilities", "Packaging", "Manufacturing", "Services", "Foods"],
    "de": ["Technik", "Logistik", "Bau", "Verpackung", "Maschinenbau", "Handel", "Elektro"],
    "fr": ["Industries", "Services", "Logistique", "Emballage", "Équipements", "Distribution"],
    "zh": ["科技", "机械", "贸易", "电子", "物流", "包装", "实业"],
    "es": ["Industrial", "Suministros", "Logística", "Embalajes", "Servicios"],
    "it": ["Industrie", "Forniture", "Logistica", "Imballaggi", "Meccanica"],
    "nl": ["Techniek", "Logistiek", "Verpakkingen", "Groothandel", "Installatie"],
}
LEGAL_FORMS = {
    "en": ["Ltd", "Limited", "plc", "Inc.", "LLC", "Ltd."], "de": ["GmbH", "GmbH & Co. KG", "AG", "KG"],
    "fr": ["SARL", "SAS", "SA"], "zh": ["有限公司", "股份有限公司"], "es": ["S.L.", "S.A."],
    "it": ["S.r.l.", "S.p.A."], "nl": ["B.V.", "N.V."],
}

CURRENCY = {"en": ["£", "$", "€", "GBP", "USD"], "de": ["€", "EUR", "Euro", "CHF"], "fr": ["€", "EUR", "euros"],
            "zh": ["¥", "￥", "元", "RMB", "人民币"], "es": ["€", "EUR", "euros"], "it": ["€", "EUR", "euro"],
            "nl": ["€", "EUR", "euro"]}

MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"],
    "de": ["Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
           "November", "Dezember"],
    "fr": ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre", "octobre",
           "novembre", "décembre"],
    "es": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
           "noviembre", "diciembre"],
    "it": ["gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio", "agosto", "settembre",
           "ottobre", "novembre", "dicembre"],
    "nl": ["januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
           "november", "december"],
}
WEEKDAYS = {
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
    "de": ["Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag"],
    "fr": ["lundi", "mardi", "mercredi", "jeudi", "vendredi"],
    "zh": ["周一", "周二", "周三", "周四", "周五"],
    "es": ["lunes", "martes", "miércoles", "jueves", "viernes"],
    "it": ["lunedì", "martedì", "mercoledì", "giovedì", "venerdì"],
    "nl": ["maandag", "dinsdag", "woensdag", "donderdag", "vrijdag"],
}


# =====================================================================================
# The generator
# =====================================================================================


class Gen:
    """One random source and one split; every ``pick`` of an open list honours the split."""

    def __init__(self, seed: int, split: Split) -> None:
        if split not in ("train", "heldout"):
            raise ValueError(f"split must be 'train' or 'heldout', not {split!r}")
        self.rng = random.Random(seed)
        self.split = split

    # -- randomness -----------------------------------------------------------------

    def pick(self, items: Sequence):
        """An item of ``items`` from this split's share (a quarter is held out)."""
        if len(items) >= 4:
            share = [x for i, x in enumerate(items) if (i % 4 == 3) == (self.split == "heldout")]
            return self.rng.choice(share)
        return self.rng.choice(items)

    def any(self, items: Sequence):
        """An item of a closed list (units, months...): the same for both splits."""
        return self.rng.choice(items)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def digits(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789") for _ in range(n))

    def letters(self, n: int) -> str:
        return "".join(self.rng.choice("ABCDEFGHJKLMNPRSTUVWXZ") for _ in range(n))

    # -- values -----------------------------------------------------------------------

    def quantity(self, lang: str) -> tuple[str, int]:
        r = self.rng.random()
        if r < 0.08 and lang in NUMBER_WORDS:
            n, word = self.rng.choice(sorted(NUMBER_WORDS[lang].items()))
            return word, n
        if r < 0.6:
            n = self.rng.randint(1, 30)
        elif r < 0.9:
            n = self.rng.choice([40, 48, 50, 60, 75, 100, 120, 144, 150, 200, 250, 300, 400, 500])
        else:
            n = self.rng.randint(1000, 12000)
            sep = "," if lang in ("en", "zh") else self.any([".", " ", "'"])
            return f"{n // 1000}{sep}{n % 1000:03d}" if self.chance(0.6) else str(n), n
        return str(n), n

    def unit(self, lang: str, n: int) -> str:
        units = UNITS[lang]
        sing, plural = self.any(units[:8]) if self.chance(0.7) else self.any(units)
        return sing if n == 1 else plural

    def product(self, lang: str) -> str:
        if lang != "zh" and self.chance(0.1):
            first, second = BRAND_SYLLABLES
            words = [(self.pick(first) + self.pick(second)).lower() for _ in range(self.rng.randint(1, 3))]
            return " ".join(words)
        if self.chance(0.25):
            first, second = BRAND_SYLLABLES
            brand = self.pick(first) + self.pick(second)
            noun = self.pick(GENERIC_NOUNS[lang])
            name = f"{brand}{noun}" if lang == "zh" else f"{brand} {noun}"
            return f"{name} {self.spec()}" if self.chance(0.3) else name
        noun = self.pick(PRODUCTS[lang])
        mod = self.pick(MODIFIERS[lang]) if self.chance(0.45) else ""
        spec = self.spec() if self.chance(0.35) else ""
        if lang == "zh":
            text = f"{mod}{noun}"
            return f"{text} {spec}" if spec and self.chance(0.5) else f"{spec}{text}" if spec else text
        if lang in ("fr", "es", "it") and mod:
            text = f"{noun} {mod}"
        elif mod.endswith("-"):
            text = f"{mod}{noun}"
        else:
            text = f"{mod} {noun}".strip()
        if spec:
            text = f"{text} {spec}" if self.chance(0.7) else f"{spec} {text}"
        return text

    def spec(self) -> str:
        shape = self.any(SPEC_SHAPES)
        return shape.format(a=self.rng.choice([3, 4, 5, 6, 8, 10, 12, 16, 20, 25]),
                            b=self.rng.choice([10, 16, 20, 25, 30, 40, 50, 60, 80, 100]),
                            c=self.rng.choice([50, 100, 250, 400, 500, 750]), s=self.any(SIZES))

    def part(self) -> str:
        shapes: list[Callable[[], str]] = [
            lambda: f"{self.letters(2)}-{self.digits(self.rng.randint(3, 5))}",
            lambda: f"{self.letters(self.rng.randint(1, 3))}{self.digits(self.rng.randint(3, 6))}",
            lambda: f"{self.digits(4)}-{self.digits(self.rng.randint(2, 4))}",
            lambda: f"{self.digits(3)}.{self.digits(3)}.{self.digits(2)}",
            lambda: f"{self.letters(2)}{self.digits(4)}-{self.letters(self.rng.randint(1, 3))}",
            lambda: f"{self.letters(2)}-{self.digits(4)}/{self.letters(1)}",
            lambda: f"{self.digits(self.rng.randint(5, 8))}",
            lambda: f"{self.letters(3)}{self.digits(2)}{self.letters(1)}{self.digits(3)}",
            lambda: f"{self.digits(2)}{self.letters(2)}{self.digits(3)}",
            lambda: f"{self.letters(1)}{self.digits(3)}-{self.digits(3)}-{self.digits(2)}",
            lambda: f"{self.letters(4)}{self.digits(4)}",
            lambda: f"{self.digits(3)}/{self.digits(4)}",
        ]
        return self.any(shapes)()

    def po(self) -> str:
        year = str(self.rng.choice([2025, 2026, 2027]))
        shapes: list[Callable[[], str]] = [
            lambda: f"45{self.digits(8)}",
            lambda: f"PO-{self.digits(5)}",
            lambda: f"PO{self.digits(6)}",
            lambda: f"{self.digits(2)}-{self.digits(3)}",
            lambda: f"{year}-{self.digits(4)}",
            lambda: f"{year}/{self.digits(3)}",
            lambda: f"{self.letters(2)}-{year}-{self.digits(3)}",
            lambda: f"ORD{self.digits(5)}",
            lambda: f"B{self.digits(6)}",
            lambda: f"{self.digits(self.rng.randint(5, 7))}",
            lambda: f"{self.letters(3)}{self.digits(4)}-{self.letters(1)}",
            lambda: f"P{self.digits(2)}-{self.digits(5)}",
            lambda: f"{self.digits(3)}{self.letters(1)}{self.digits(3)}",
            lambda: f"PO/{year[2:]}/{self.digits(4)}",
            lambda: f"{self.letters(1)}{self.digits(2)}/{self.digits(4)}",
            lambda: f"{self.digits(8)}",
        ]
        return self.any(shapes)()

    def price(self, lang: str) -> str:
        value = self.rng.choice([0.35, 0.89, 1.2, 2.5, 3.75, 4.99, 7.4, 12.5, 18.0, 24.9, 45.0, 89.95, 120.0,
                                 249.0, 1350.0]) * self.rng.choice([1, 1, 1, 2, 3])
        comma = lang in ("de", "fr", "es", "it", "nl") and self.chance(0.85)
        if value >= 1000 and self.chance(0.5):
            whole, cents = f"{value:,.2f}".split(".")
            amount = f"{whole.replace(',', '.')},{cents}" if comma else f"{whole}.{cents}"
        else:
            amount = f"{value:.2f}".replace(".", ",") if comma else f"{value:.2f}"
            if lang == "zh" and self.chance(0.4):
                amount = f"{value:g}"
        cur = self.any(CURRENCY[lang])
        if self.chance(0.12):
            return amount
        if cur in ("£", "$", "¥", "￥") or (cur == "€" and lang == "en") or (cur == "€" and self.chance(0.2)):
            return f"{cur}{amount}" if self.chance(0.8) else f"{cur} {amount}"
        if cur == "人民币":
            return f"人民币{amount}元"
        if cur == "元":
            return f"{amount}元"
        return f"{amount} {cur}" if self.chance(0.7) else f"{cur} {amount}"

    def place(self, lang: str) -> str:
        first, second = PLACE_PARTS[lang]
        name = self.pick(first) + self.pick(second)
        if lang == "zh" and self.chance(0.3):
            name += "市"
        return name

    def person(self, lang: str) -> str:
        first, last = self.pick(FIRST_NAMES[lang]), self.pick(LAST_NAMES[lang])
        return f"{last}{first}" if lang == "zh" else f"{first} {last}"

    def company(self, lang: str) -> str:
        word = self.pick(COMPANY_WORDS)
        if lang == "zh":
            return f"{self.place('zh')}{self.pick(COMPANY_TRADES['zh'])}{self.any(LEGAL_FORMS['zh'])}"
        if self.chance(0.3):
            word = self.pick(LAST_NAMES[lang]) if lang != "zh" else word
        return f"{word} {self.pick(COMPANY_TRADES[lang])} {self.any(LEGAL_FORMS[lang])}"

    def address(self, lang: str) -> str:
        town = self.place(lang)
        street = self.pick(STREET_WORDS[lang])
        num = str(self.rng.randint(1, 240))
        if lang == "en":
            if self.chance(0.5):
                pc = f"{self.letters(2)}{self.rng.randint(1, 20)} {self.rng.randint(1, 9)}{self.letters(2)}"
                unit = f"Unit {self.rng.randint(1, 30)}, " if self.chance(0.4) else ""
                return f"{unit}{num} {street} {self.any(['Road', 'Lane', 'Street', 'Way', 'Close'])}, {town} {pc}"
            state = self.any(["OH", "TX", "IL", "PA", "GA", "MI", "NC", "WI"])
            return f"{num} {street} {self.any(['Street', 'Ave', 'Road', 'Drive', 'Blvd'])}, {town}, {state} {self.digits(5)}"
        if lang == "de":
            return f"{street}{self.any(['straße', 'weg', 'allee', 'ring'])} {num}, {self.digits(5)} {town}"
        if lang == "fr":
            return f"{num} {self.any(['rue', 'avenue', 'chemin', 'boulevard'])} {street}, {self.digits(5)} {town}"
        if lang == "zh":
            return f"{town}{self.place('zh')}区{street}路{num}号"
        if lang == "es":
            return f"{self.any(['Calle', 'Avenida', 'Polígono'])} {street} {num}, {self.digits(5)} {town}"
        if lang == "it":
            return f"{self.any(['Via', 'Viale', 'Corso'])} {street} {num}, {self.digits(5)} {town}"
        return f"{street}{self.any(['straat', 'weg', 'laan'])} {num}, {self.digits(4)} {self.letters(2)} {town}"

    def email(self, name: str, company: str) -> str:
        local = re.sub(r"[^a-z]", "", name.lower().split()[0] if " " in name else "orders") or "info"
        domain = re.sub(r"[^a-z]", "", company.lower())[:12] or "example"
        return f"{local}@{domain}.example"

    def phone(self) -> str:
        return self.any([f"+44 {self.digits(4)} {self.digits(6)}", f"+49 {self.digits(3)} {self.digits(7)}",
                         f"+33 {self.digits(1)} {self.digits(2)} {self.digits(2)} {self.digits(2)} {self.digits(2)}",
                         f"+86 {self.digits(3)} {self.digits(4)} {self.digits(4)}", f"({self.digits(3)}) {self.digits(3)}-{self.digits(4)}",
                         f"0{self.digits(3)} {self.digits(6)}"])

    def day(self) -> date:
        start = date(2026, 1, 5)
        return start + timedelta(days=self.rng.randint(0, 720))

    def date_text(self, lang: str) -> str:
        d = self.day()
        wd = WEEKDAYS[lang][self.rng.randint(0, 4)]
        r = self.rng.random()
        if lang == "zh":
            forms = [f"{d.year}年{d.month}月{d.day}日", f"{d.month}月{d.day}日", f"{d.month}月{d.day}号", wd,
                     f"下{wd}", f"{d.year}-{d.month:02d}-{d.day:02d}", f"{d.month}/{d.day}", "明天", "本周五", "月底"]
            return self.any(forms)
        month = MONTHS[lang][d.month - 1]
        if r < 0.3:
            forms = {
                "en": [f"{d.day:02d}/{d.month:02d}/{d.year}", f"{d.month}/{d.day}/{d.year}", f"{d.isoformat()}",
                       f"{d.day}/{d.month}"],
                "de": [f"{d.day:02d}.{d.month:02d}.{d.year}", f"{d.day}.{d.month}.", f"{d.day}.{d.month}.{d.year % 100:02d}",
                       d.isoformat()],
                "fr": [f"{d.day:02d}/{d.month:02d}/{d.year}", f"{d.day}/{d.month}", f"{d.day:02d}.{d.month:02d}.{d.year}",
                       d.isoformat()],
            }.get(lang, [f"{d.day:02d}/{d.month:02d}/{d.year}", f"{d.day}-{d.month}-{d.year}", d.isoformat(),
                         f"{d.day}/{d.month}"])
            return self.any(forms)
        if r < 0.65:
            forms = {
                "en": [f"{d.day} {month}", f"{d.day} {month} {d.year}", f"{month} {d.day}", f"{month} {d.day}, {d.year}",
                       f"{wd} {d.day} {month[:3]}", f"the {d.day}{_ordinal(d.day)} of {month}", f"{d.day}{_ordinal(d.day)} {month}",
                       f"{wd}, {month} {d.day}"],
                "de": [f"{d.day}. {month}", f"{d.day}. {month} {d.year}", f"{wd}, den {d.day}.{d.month}.",
                       f"{wd}, {d.day}. {month}", f"{d.day}. {month[:3]}."],
                "fr": [f"{d.day} {month}", f"{d.day} {month} {d.year}", f"{wd} {d.day} {month}", f"{wd} {d.day}/{d.month}"],
                "es": [f"{d.day} de {month}", f"{d.day} de {month} de {d.year}", f"{wd} {d.day}", f"{wd} {d.day} de {month}"],
                "it": [f"{d.day} {month}", f"{d.day} {month} {d.year}", f"{wd} {d.day}", f"{wd} {d.day} {month}"],
                "nl": [f"{d.day} {month}", f"{d.day} {month} {d.year}", f"{wd} {d.day} {month}", f"{wd} {d.day}-{d.month}"],
            }[lang]
            return self.any(forms)
        forms = {
            "en": [wd, f"next {wd}", f"this {wd}", "tomorrow", "end of next week", "the end of the month",
                   f"{wd} morning", f"week {d.isocalendar()[1]}", f"{wd} next week"],
            "de": [wd, f"nächsten {wd}", "morgen", "Ende nächster Woche", "Monatsende", f"KW {d.isocalendar()[1]}",
                   f"{wd} früh", f"kommenden {wd}"],
            "fr": [wd, f"{wd} prochain", "demain", "la fin de la semaine prochaine", "la fin du mois",
                   f"semaine {d.isocalendar()[1]}", f"{wd} matin"],
            "es": [f"el {wd}", f"el próximo {wd}", "mañana", "finales de mes", f"la semana {d.isocalendar()[1]}"],
            "it": [wd, f"{wd} prossimo", "domani", "fine mese", f"settimana {d.isocalendar()[1]}"],
            "nl": [wd, f"volgende week {wd}", "morgen", "eind volgende week", f"week {d.isocalendar()[1]}"],
        }[lang]
        return self.any(forms)


def _wordlike(ch: str) -> bool:
    """A letter or digit that orderbot's tokenizer joins with its neighbours (not Chinese)."""
    return bool(ch) and ch.isalnum() and not "\u3400" <= ch <= "\ufaff"


def _ordinal(n: int) -> str:
    return "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


# =====================================================================================
# Order prose: templates per language
# =====================================================================================

# An item: {q} quantity, {u} unit, {i} item, {p} part, {price}; "of"-words are part of the template.
ITEM_TEMPLATES: dict[str, list[str]] = {
    "en": ["{q} {u} of {i}", "{q} {u} {i}", "{q} x {i}", "{q}x {i}", "{i} x {q}", "{i} - {q} {u}",
           "{q} {u} of the {i}", "{i} ({p}) x {q}", "{q} {u} of {i}, part no. {p}", "{q} {u} of part {p}",
           "part {p}: {q} {u}", "{q} off {p} {i}", "{q} {u} {p} {i}", "{q} {u} of {i} at {price} each",
           "{q} {u} of {i} ({p}) @ {price}", "{q} {i}", "{i}, qty {q}", "{q} {u} of {i} (item code {p})",
           "{q} more {u} of {i}", "{q} {u} of your {i} {p}", "{i} {p} - {q} {u} at {price}/{us}",
           "{q} {u} {i} (our code {p})", "another {q} {u} of {i}", "{q} {u} of {i} - {p} - {price} per {us}"],
    "de": ["{q} {u} {i}", "{q} x {i}", "{q}x {i}", "{i} x {q}", "{q} {u} {i}, Art.-Nr. {p}", "{q} {u} Art. {p}",
           "{i} ({p}) - {q} {u}", "Artikel {p}: {q} {u}", "{q} {u} {p} {i}", "{q} {u} {i} zu je {price}",
           "{q} {u} {i} à {price}", "{q} {i}", "{i}, Menge {q}", "{q} {u} von {i}", "{q} {u} {i} (Artikelnummer {p})",
           "{q} {u} {i} {p} zum Preis von {price} pro {us}", "weitere {q} {u} {i}", "{i} {p}: {q} {u}",
           "{q} {u} {i}, Materialnr. {p}, {price}/{us}"],
    "fr": ["{q} {u} de {i}", "{q} {u} {i}", "{q} x {i}", "{i} x {q}", "{q} {u} de {i}, réf. {p}",
           "{q} {u} réf. {p}", "{i} ({p}) - {q} {u}", "référence {p} : {q} {u}", "{q} {u} {p} {i}",
           "{q} {u} de {i} à {price} l'unité", "{q} {u} de {i} à {price}", "{q} {i}", "{i}, quantité {q}",
           "{q} {u} de {i} (code article {p})", "{q} {u} de {i} {p} au prix de {price} par {us}",
           "{q} {u} supplémentaires de {i}", "{i} réf {p} : {q} {u}"],
    "zh": ["{q}{u}{i}", "{i}{q}{u}", "{i} {q}{u}", "{q}{u}{i}（货号{p}）", "货号{p} {q}{u}", "{i}（{p}）{q}{u}",
           "{q}{u}{i}，单价{price}", "{i}，数量{q}{u}", "{p} {i} {q}{u}", "{q}{u}{p}{i}", "{i}，型号{p}，{q}{u}",
           "{q}{u}{i}，每{us}{price}", "{i}{q}{u}，单价{price}", "再要{q}{u}{i}"],
    "es": ["{q} {u} de {i}", "{q} x {i}", "{i} x {q}", "{q} {u} de {i}, ref. {p}", "{q} {u} ref. {p}",
           "{i} ({p}) - {q} {u}", "{q} {u} de {i} a {price} cada una", "{q} {i}", "{i}, cantidad {q}",
           "{q} {u} de {i} (código {p})", "{q} {u} de {i} {p} a {price} por {us}", "otras {q} {u} de {i}"],
    "it": ["{q} {u} di {i}", "{q} x {i}", "{i} x {q}", "{q} {u} di {i}, cod. {p}", "{q} {u} art. {p}",
           "{i} ({p}) - {q} {u}", "{q} {u} di {i} a {price} cadauno", "{q} {i}", "{i}, quantità {q}",
           "{q} {u} di {i} (codice {p})", "{q} {u} di {i} {p} a {price} al {us}", "altri {q} {u} di {i}"],
    "nl": ["{q} {u} {i}", "{q} x {i}", "{i} x {q}", "{q} {u} {i}, art.nr. {p}", "{q} {u} artikel {p}",
           "{i} ({p}) - {q} {u}", "{q} {u} {i} à {price} per stuk", "{q} {i}", "{i}, aantal {q}",
           "{q} {u} {i} (code {p})", "{q} {u} {i} {p} voor {price} per {us}", "nog {q} {u} {i}"],
}

# The same items put together from parts: a quantity block, a connector, the
# item, then optional part-number and price adjuncts (each list is split too).
QTY_BLOCKS = ["{q} {u}", "{q} {u}", "{q}{u}", "{q} x", "{q}x", "{q}"]
CONNECTORS: dict[str, list[str]] = {
    "en": [" of ", " ", " of the ", " of your ", " of our usual ", " - ", " "],
    "de": [" ", " ", " von ", " à ", " vom ", " - ", " "],
    "fr": [" de ", " de ", " ", " du ", " des ", " - ", " d'"],
    "zh": ["", "", "的", " ", ""],
    "es": [" de ", " de ", " ", " del ", " - "],
    "it": [" di ", " di ", " ", " del ", " - "],
    "nl": [" ", " ", " van ", " van de ", " - "],
}
PART_ADJUNCTS: dict[str, list[str]] = {
    "en": [" ({p})", ", part no. {p}", " - {p}", " (item code {p})", " {p}", ", our code {p}", " [{p}]",
           ", code {p}", " (ref {p})", ", SKU {p}", " p/n {p}", " (your part {p})", ", article {p}", " #{p}"],
    "de": [" ({p})", ", Art.-Nr. {p}", " - {p}", " (Artikelnummer {p})", " {p}", ", unsere Nr. {p}", " [{p}]",
           ", Mat.-Nr. {p}", " (Ihre Art.-Nr. {p})", ", Artikel {p}", " Nr. {p}", ", Bestellnr. Artikel {p}"],
    "fr": [" ({p})", ", réf. {p}", " - {p}", " (code article {p})", " {p}", ", notre réf. {p}", " [{p}]",
           ", référence {p}", " (votre réf. {p})", ", article {p}", " n° {p}"],
    "zh": ["（{p}）", "，货号{p}", " {p}", "（型号{p}）", "，料号{p}", "，编号{p}", "({p})", "，物料号{p}"],
    "es": [" ({p})", ", ref. {p}", " - {p}", " (código {p})", " {p}", ", artículo {p}", " [{p}]"],
    "it": [" ({p})", ", cod. {p}", " - {p}", " (codice {p})", " {p}", ", art. {p}", " [{p}]"],
    "nl": [" ({p})", ", art.nr. {p}", " - {p}", " (code {p})", " {p}", ", artikel {p}", " [{p}]"],
}
PRICE_ADJUNCTS: dict[str, list[str]] = {
    "en": [" at {price} each", " @ {price}", ", {price}/{us}", " for {price} per {us}", " ({price} ea)",
           " at {price}", ", price {price}", " - {price} each", " at the agreed {price}", " (unit price {price})"],
    "de": [" zu je {price}", " à {price}", ", {price}/{us}", " zum Preis von {price}", " ({price} pro {us})",
           " für {price}", ", Preis {price}", " - Stückpreis {price}", " (EP {price})"],
    "fr": [" à {price} l'unité", " à {price}", ", {price}/{us}", " au prix de {price}", " ({price} par {us})",
           ", prix {price}", " - PU {price}", " (prix unitaire {price})"],
    "zh": ["，单价{price}", "，每{us}{price}", "（单价{price}）", " 单价{price}", "，{price}/{us}", "，价格{price}"],
    "es": [" a {price} cada una", " a {price}", ", {price}/{us}", " por {price}", " (precio {price})"],
    "it": [" a {price} cadauno", " a {price}", ", {price}/{us}", " al prezzo di {price}", " (prezzo {price})"],
    "nl": [" à {price}", " voor {price}", ", {price}/{us}", " tegen {price} per {us}", " (prijs {price})"],
}
ITEM_FIRST: dict[str, list[str]] = {
    "en": ["{i}{pa} x {q}", "{i}{pa} - {q} {u}", "{i}{pa}, qty {q}", "{i}{pa}: {q} {u}", "{i}{pa} qty: {q}",
           "{i}{pa} ({q} {u})", "{i}{pa} * {q}", "{i}{pa} -> {q} {u}"],
    "de": ["{i}{pa} x {q}", "{i}{pa} - {q} {u}", "{i}{pa}, Menge {q}", "{i}{pa}: {q} {u}", "{i}{pa} ({q} {u})",
           "{i}{pa} Anzahl: {q}"],
    "fr": ["{i}{pa} x {q}", "{i}{pa} - {q} {u}", "{i}{pa}, quantité {q}", "{i}{pa} : {q} {u}", "{i}{pa} ({q} {u})",
           "{i}{pa}, qté {q}"],
    "zh": ["{i}{pa} {q}{u}", "{i}{pa}，数量{q}", "{i}{pa}：{q}{u}", "{i}{pa} x {q}", "{i}{pa}（{q}{u}）"],
    "es": ["{i}{pa} x {q}", "{i}{pa} - {q} {u}", "{i}{pa}, cantidad {q}", "{i}{pa}: {q} {u}"],
    "it": ["{i}{pa} x {q}", "{i}{pa} - {q} {u}", "{i}{pa}, quantità {q}", "{i}{pa}: {q} {u}"],
    "nl": ["{i}{pa} x {q}", "{i}{pa} - {q} {u}", "{i}{pa}, aantal {q}", "{i}{pa}: {q} {u}"],
}

# Brand-like words made of syllables, so that a product is recognised by where it
# stands and not only by its noun.
BRAND_SYLLABLES = (["Kor", "Vex", "Tel", "Mar", "Quin", "Zo", "Bel", "Dra", "Fen", "Lum", "Ost", "Pra", "Sil", "Tor",
                    "Ul", "Vor", "Ner", "Cal", "Gri", "Hal"],
                   ["ax", "mo", "tec", "ion", "ra", "lux", "dex", "sol", "tra", "vo", "nix", "por", "lin", "gar"])
GENERIC_NOUNS: dict[str, list[str]] = {
    "en": ["connectors", "adapters", "brackets", "sensors", "filters", "cartridges", "valves", "seals", "clips",
           "couplings", "panels", "cables", "rollers", "pads", "brushes", "nozzles", "spacers", "mounts"],
    "de": ["Stecker", "Adapter", "Halter", "Sensoren", "Filter", "Kartuschen", "Ventile", "Dichtungen", "Klammern",
           "Kupplungen", "Platten", "Kabel", "Rollen", "Bürsten", "Düsen", "Abstandshalter"],
    "fr": ["connecteurs", "adaptateurs", "supports", "capteurs", "filtres", "cartouches", "vannes", "joints",
           "clips", "raccords", "panneaux", "câbles", "brosses", "buses", "entretoises"],
    "zh": ["连接器", "适配器", "支架", "传感器", "过滤器", "滤芯", "阀门", "密封圈", "卡扣", "联轴器", "面板", "电缆",
           "滚轮", "刷子", "喷嘴", "垫片"],
    "es": ["conectores", "adaptadores", "soportes", "sensores", "filtros", "cartuchos", "válvulas", "juntas"],
    "it": ["connettori", "adattatori", "supporti", "sensori", "filtri", "cartucce", "valvole", "guarnizioni"],
    "nl": ["connectoren", "adapters", "beugels", "sensoren", "filters", "patronen", "kleppen", "afdichtingen"],
}

# Openers; {items} is one or more items joined inline.
OPENERS: dict[str, list[str]] = {
    "en": ["please send {items}", "could you please deliver {items}", "we'd like to order {items}",
           "can we get {items}", "please supply {items}", "we need {items}", "kindly arrange {items}",
           "I'd like to place an order for {items}", "please book in {items}", "can you ship {items}",
           "we require {items}", "please could we have {items}", "order for {items}", "{items} please",
           "need {items} asap", "please dispatch {items}", "can you send over {items}", "we would like {items}",
           "please can you send us {items}", "could we order {items}", "please process an order for {items}",
           "would you be able to supply {items}", "we'll take {items}", "send us {items} please",
           "please add a new order: {items}", "we're running low, please send {items}",
           "go ahead with {items}", "can I order {items}"],
    "de": ["bitte liefern Sie {items}", "wir bestellen {items}", "hiermit bestellen wir {items}",
           "bitte senden Sie uns {items}", "wir benötigen {items}", "bitte schicken Sie {items}",
           "wir hätten gerne {items}", "könnten Sie uns {items} liefern", "bitte um Lieferung von {items}",
           "wir möchten {items} bestellen", "bitte {items} liefern", "benötigen dringend {items}",
           "anbei unsere Bestellung: {items}", "bitte noch {items} mitschicken", "wir brauchen {items}",
           "bestellen hiermit {items}", "können Sie uns bitte {items} schicken", "bitte {items} an uns senden",
           "gerne bestellen wir {items}", "wir ordern {items}"],
    "fr": ["merci de nous livrer {items}", "nous souhaitons commander {items}", "veuillez nous envoyer {items}",
           "pourriez-vous nous livrer {items}", "nous avons besoin de {items}", "nous commandons {items}",
           "merci d'expédier {items}", "pouvez-vous nous faire parvenir {items}", "je voudrais commander {items}",
           "merci de préparer {items}", "nous aurions besoin de {items}", "veuillez livrer {items}",
           "commande : {items}", "merci de nous envoyer {items}", "nous vous passons commande de {items}",
           "pourriez-vous expédier {items}"],
    "zh": ["请发{items}", "请发送{items}", "我们需要{items}", "我们要订购{items}", "麻烦安排{items}",
           "请给我们送{items}", "我司订购{items}", "请尽快发货：{items}", "需要采购{items}", "下单：{items}",
           "请安排发货{items}", "帮我们订{items}", "本次采购{items}", "请供应{items}", "订购如下：{items}"],
    "es": ["por favor envíen {items}", "necesitamos {items}", "queremos pedir {items}", "les rogamos suministren {items}",
           "¿pueden enviarnos {items}?", "hacemos el siguiente pedido: {items}", "por favor entreguen {items}",
           "solicitamos {items}", "quisiéramos {items}", "manden {items} por favor"],
    "it": ["vi preghiamo di inviare {items}", "abbiamo bisogno di {items}", "ordiniamo {items}",
           "vi chiediamo di consegnare {items}", "potete spedirci {items}?", "vorremmo ordinare {items}",
           "per favore inviate {items}", "ci servono {items}", "richiediamo {items}", "mandateci {items}"],
    "nl": ["graag leveren {items}", "wij bestellen {items}", "kunnen jullie {items} sturen", "wij hebben {items} nodig",
           "graag ontvangen wij {items}", "bij deze bestellen wij {items}", "stuur ons aub {items}",
           "wij willen {items} bestellen", "graag {items} leveren", "kunt u ons {items} leveren"],
}

LIST_INTROS: dict[str, list[str]] = {
    "en": ["Please send the following:", "We'd like to order:", "Order:", "Please supply the items below:",
           "Can you send:", "Please deliver:", "Could we have the following please", "Our order:",
           "Please ship these:", "We need the following items:"],
    "de": ["Bitte liefern Sie folgende Artikel:", "Wir bestellen:", "Bestellung:", "Folgendes benötigen wir:",
           "Bitte senden Sie uns:", "Hiermit bestellen wir folgende Positionen:", "Bitte liefern:"],
    "fr": ["Merci de nous livrer :", "Commande :", "Nous commandons les articles suivants :",
           "Veuillez nous envoyer :", "Voici notre commande :", "Nous avons besoin de :"],
    "zh": ["请发以下货品：", "订单如下：", "需要以下物品：", "采购清单：", "请安排以下发货："],
    "es": ["Por favor envíen lo siguiente:", "Pedido:", "Necesitamos:", "Les pedimos:"],
    "it": ["Vi preghiamo di inviare:", "Ordine:", "Ci servono:", "Ordiniamo quanto segue:"],
    "nl": ["Graag het volgende leveren:", "Bestelling:", "Wij hebben nodig:", "Graag ontvangen wij:"],
}

JOINERS = {"en": [", ", " and ", ", plus ", "; ", " & "], "de": [", ", " und ", " sowie ", "; "],
           "fr": [", ", " et ", " ainsi que ", "; "], "zh": ["，", "、", "和", "；"], "es": [", ", " y ", "; "],
           "it": [", ", " e ", "; "], "nl": [", ", " en ", "; "]}

PO_CLAUSES: dict[str, list[str]] = {
    "en": ["our ref {po}", "PO {po}", "PO number {po}", "order no. {po}", "our order ref {po}",
           "please quote PO {po} on the delivery note", "reference {po}", "PO# {po}", "our PO is {po}",
           "use PO {po}", "order number {po}", "P.O. {po}", "our purchase order {po}", "ref: {po}",
           "please reference {po}", "our order number is {po}", "PO: {po}", "under PO {po}", "order {po}",
           "cost code / PO {po}"],
    "de": ["Bestellnummer {po}", "unsere Bestellnr. {po}", "Bestell-Nr. {po}", "unsere Referenz {po}",
           "bitte Bestellnummer {po} angeben", "Bestellung {po}", "PO {po}", "Auftragsnummer {po}",
           "Bestellnr.: {po}", "unter der Nummer {po}", "Bestellnummer lautet {po}", "Referenz: {po}"],
    "fr": ["notre référence {po}", "bon de commande {po}", "commande n° {po}", "n° de commande {po}",
           "référence commande {po}", "merci de rappeler la référence {po}", "notre commande {po}", "réf. {po}",
           "numéro de commande : {po}", "BC {po}", "PO {po}"],
    "zh": ["订单号{po}", "订单号：{po}", "采购单号{po}", "PO号{po}", "请在送货单上注明订单号{po}",
           "我方订单编号{po}", "单号{po}", "采购订单{po}", "订单编号：{po}"],
    "es": ["nuestra referencia {po}", "pedido nº {po}", "número de pedido {po}", "orden de compra {po}",
           "ref. {po}", "pedido {po}"],
    "it": ["nostro riferimento {po}", "ordine n. {po}", "numero ordine {po}", "ordine d'acquisto {po}",
           "rif. {po}", "ordine {po}"],
    "nl": ["onze referentie {po}", "bestelnummer {po}", "ordernummer {po}", "inkooporder {po}", "ref. {po}",
           "bestelling {po}"],
}

DATE_CLAUSES: dict[str, list[str]] = {
    "en": ["by {d}", "no later than {d}", "for delivery on {d}", "before {d}", "delivered by {d}",
           "needed by {d}", "on {d}", "for {d}", "latest {d}", "to arrive by {d}", "required {d}",
           "delivery {d}", "ideally by {d}", "by {d} at the latest", "in time for {d}", "for arrival {d}"],
    "de": ["bis {d}", "bis zum {d}", "bis spätestens {d}", "zum {d}", "Liefertermin {d}", "am {d}",
           "Lieferung bis {d}", "spätestens {d}", "für den {d}", "Anlieferung am {d}", "bis {d} bei uns"],
    "fr": ["avant le {d}", "pour le {d}", "livraison le {d}", "au plus tard le {d}", "d'ici {d}",
           "pour {d}", "le {d}", "livraison souhaitée {d}", "avant {d}", "dès {d}"],
    "zh": ["{d}前", "{d}之前送到", "交货日期{d}", "要求{d}到货", "{d}前交货", "请于{d}前送达", "最晚{d}",
           "{d}到货"],
    "es": ["antes del {d}", "para el {d}", "entrega el {d}", "a más tardar {d}", "para {d}"],
    "it": ["entro il {d}", "per il {d}", "consegna il {d}", "entro {d}", "al più tardi {d}"],
    "nl": ["voor {d}", "uiterlijk {d}", "levering op {d}", "op {d}", "graag {d}"],
}

# {site}: a site reference (labelled as a whole), or an address.
SITE_CLAUSES: dict[str, list[str]] = {
    "en": ["to our {s}", "to the {s}", "for our {s}", "delivered to {s}", "to {s}", "deliver to {s}",
           "for the {s}", "ship to {s}", "delivery address: {s}", "at {s}", "into our {s}", "for delivery to {s}"],
    "de": ["an unser {s}", "an {s}", "Lieferung an {s}", "Lieferadresse: {s}", "für unser {s}", "nach {s}",
           "ins {s}", "an die Adresse {s}", "Anlieferung in {s}"],
    "fr": ["à notre {s}", "à {s}", "livraison à {s}", "adresse de livraison : {s}", "pour notre {s}",
           "à livrer à {s}", "chez nous au {s}", "sur notre {s}"],
    "zh": ["送到{s}", "送至{s}", "送货地址：{s}", "发往{s}", "交货至{s}", "送到我们的{s}", "发到{s}"],
    "es": ["a nuestra {s}", "a {s}", "entrega en {s}", "dirección de entrega: {s}", "para nuestra {s}"],
    "it": ["al nostro {s}", "a {s}", "consegna a {s}", "indirizzo di consegna: {s}", "presso il {s}"],
    "nl": ["naar onze {s}", "naar {s}", "leveren aan {s}", "afleveradres: {s}", "op onze {s}"],
}

SITE_REFS: dict[str, list[str]] = {
    "en": ["{place} {noun}", "{noun} in {place}", "{place} {noun}", "new {place} {noun}", "{noun} at {place}"],
    "de": ["{noun} {place}", "{noun} in {place}", "{place}er {noun}", "{noun} am Standort {place}"],
    "fr": ["{noun} de {place}", "{noun} à {place}", "{noun} {place}"],
    "zh": ["{place}{noun}", "{place}的{noun}"],
    "es": ["{noun} de {place}", "{noun} en {place}"],
    "it": ["{noun} di {place}", "{noun} a {place}"],
    "nl": ["{noun} in {place}", "{noun} {place}"],
}

GREETINGS: dict[str, list[str]] = {
    "en": ["Hi {name},", "Hello,", "Dear Sir or Madam,", "Hi there,", "Good morning,", "Hi all,", "Dear {name},",
           "Morning {name},", "Hello team,", ""],
    "de": ["Hallo {name},", "Guten Tag,", "Sehr geehrte Damen und Herren,", "Hallo zusammen,", "Guten Morgen,",
           "Liebe Frau {last},", "Sehr geehrter Herr {last},", ""],
    "fr": ["Bonjour,", "Bonjour {name},", "Madame, Monsieur,", "Bonjour à tous,", "Cher {name},", ""],
    "zh": ["您好，", "{name}你好，", "各位好，", "王经理您好：", "你好！", ""],
    "es": ["Hola,", "Buenos días,", "Estimados señores:", "Hola {name},", ""],
    "it": ["Buongiorno,", "Gentili signori,", "Ciao {name},", "Salve,", ""],
    "nl": ["Hallo,", "Goedemorgen,", "Beste {name},", "Geachte heer/mevrouw,", ""],
}

CLOSINGS: dict[str, list[str]] = {
    "en": ["Thanks", "Many thanks", "Kind regards", "Best regards", "Regards", "Cheers", "Thank you", "Best"],
    "de": ["Vielen Dank", "Mit freundlichen Grüßen", "Viele Grüße", "Danke und Gruß", "Beste Grüße", "Gruß"],
    "fr": ["Merci", "Cordialement", "Bien cordialement", "Merci d'avance", "Bien à vous", "Salutations"],
    "zh": ["谢谢", "此致", "多谢", "祝好", "顺祝商祺"],
    "es": ["Gracias", "Saludos", "Un saludo", "Atentamente", "Saludos cordiales"],
    "it": ["Grazie", "Cordiali saluti", "Saluti", "Distinti saluti", "Grazie mille"],
    "nl": ["Bedankt", "Met vriendelijke groet", "Groeten", "Alvast bedankt", "Vriendelijke groet"],
}

# Sentences with numbers, codes and dates that are not the order's (unlabelled).
DISTRACTORS: dict[str, list[str]] = {
    "en": ["As per your quote {quote}.", "Following our call on {wd}.", "Invoice {inv} has been paid.",
           "Please call me on {phone} if there are any problems.", "Ticket #{short} is closed.",
           "Same as last month's order.", "Your quote dated {d2} is fine.", "Prices as agreed.",
           "Please confirm by return.", "Please include the delivery note.", "Goods in closes at 3pm.",
           "Please call {phone} 30 minutes before arrival."],
    "de": ["Gemäß Ihrem Angebot {quote}.", "Wie am {wd} besprochen.", "Rechnung {inv} ist bezahlt.",
           "Bei Fragen erreichen Sie mich unter {phone}.", "Bitte Auftragsbestätigung senden.",
           "Preise wie vereinbart.", "Ihr Angebot vom {d2} passt.", "Wareneingang bis 14 Uhr."],
    "fr": ["Suite à votre devis {quote}.", "Comme convenu {wd}.", "La facture {inv} a été réglée.",
           "En cas de problème, appelez-moi au {phone}.", "Merci de confirmer par retour.",
           "Prix selon accord.", "Votre offre du {d2} nous convient.", "Réception des marchandises jusqu'à 15h."],
    "zh": ["按照贵司报价单{quote}。", "如有问题请致电{phone}。", "发票{inv}已付款。", "请回复确认。",
           "价格按合同执行。", "{d2}的报价可以。"],
    "es": ["Según su oferta {quote}.", "Si hay algún problema llámenme al {phone}.", "Por favor confirmen.",
           "Precios según lo acordado."],
    "it": ["Come da vostra offerta {quote}.", "Per problemi chiamatemi al {phone}.", "Vi preghiamo di confermare.",
           "Prezzi come concordato."],
    "nl": ["Volgens uw offerte {quote}.", "Bij problemen bel me op {phone}.", "Graag bevestiging.",
           "Prijzen zoals afgesproken."],
}

TITLES = {"en": ["Purchasing", "Buyer", "Procurement Manager", "Stores", "Office Manager", "Maintenance Lead"],
          "de": ["Einkauf", "Einkäufer", "Lagerleitung", "Materialwirtschaft", "Assistenz"],
          "fr": ["Service achats", "Acheteur", "Responsable logistique", "Magasinier"],
          "zh": ["采购部", "采购经理", "仓库主管", "行政部"], "es": ["Compras", "Jefe de compras", "Almacén"],
          "it": ["Ufficio acquisti", "Buyer", "Magazzino"], "nl": ["Inkoop", "Inkoper", "Magazijn"]}

DISCLAIMERS = {
    "en": "This email and any attachments are confidential and intended solely for the addressee.",
    "de": "Diese E-Mail enthält vertrauliche Informationen und ist nur für den Empfänger bestimmt.",
    "fr": "Ce message et ses pièces jointes sont confidentiels et destinés exclusivement au destinataire.",
    "zh": "本邮件及附件含保密信息，仅供收件人使用。",
    "es": "Este mensaje es confidencial y está dirigido únicamente a su destinatario.",
    "it": "Questo messaggio è riservato ed è destinato esclusivamente al destinatario.",
    "nl": "Dit bericht is vertrouwelijk en uitsluitend bestemd voor de geadresseerde.",
}


class Composer:
    """Order texts (with entity spans) and whole messages of each kind, for one split."""

    def __init__(self, seed: int, split: Split = "train") -> None:
        self.g = Gen(seed, split)

    # -- pieces ---------------------------------------------------------------------------

    def item(self, lang: str) -> Text:
        g = self.g
        qty, n = g.quantity(lang)
        unit = g.unit(lang, n)
        unit_sing = g.any(UNITS[lang][:8])[0]
        template = g.pick(ITEM_TEMPLATES[lang]) if g.chance(0.4) else self.item_template(lang)
        if not qty[:1].isdigit():
            template = template.replace("{q}x", "{q} x")
        values: dict[str, str | Text] = {
            "q": labelled(qty, "QTY"),
            "u": labelled(unit, "UNIT"),
            "i": labelled(g.product(lang), "ITEM"),
            "p": labelled(g.part(), "PART"),
            "price": labelled(g.price(lang), "PRICE"),
            "us": unit_sing,
        }
        return fill(template, values)

    def item_template(self, lang: str) -> str:
        g = self.g
        pa = g.pick(PART_ADJUNCTS[lang]) if g.chance(0.4) else ""
        price = g.pick(PRICE_ADJUNCTS[lang]) if g.chance(0.25) else ""
        if g.chance(0.3):
            return g.pick(ITEM_FIRST[lang]).replace("{pa}", pa) + price
        block = g.pick(QTY_BLOCKS)
        if lang == "zh":
            block = block.replace(" ", "")
        conn = g.pick(CONNECTORS[lang])
        if "{u}" not in block:
            conn = "" if lang == "zh" else " "
        return block + conn + "{i}" + pa + price

    def items_inline(self, lang: str, count: int) -> Text:
        out = Text()
        for k in range(count):
            if k:
                out.add(self.g.any(JOINERS[lang]) if k < count - 1 else self.g.any(JOINERS[lang][:2]))
            out.add_text(self.item(lang))
        return out

    def items_list(self, lang: str, count: int) -> Text:
        g = self.g
        bullet = g.any(["- ", "* ", "• ", "{n}. ", "{n}) ", "", "Pos. {n}: "])
        out = Text()
        for k in range(count):
            out.add("\n" + bullet.replace("{n}", str(k + 1)))
            out.add_text(self.item(lang))
            if g.chance(0.1):
                out.add(g.any([";", ",", "."]))
        return out

    def site(self, lang: str) -> Text:
        g = self.g
        if g.chance(0.35):
            return labelled(g.address(lang), "SITE")
        ref = g.pick(SITE_REFS[lang]).format(place=g.place(lang), noun=g.pick(SITE_NOUNS[lang]))
        return labelled(ref, "SITE")

    def clause(self, lang: str, what: str) -> Text:
        g = self.g
        if what == "po":
            return fill(g.pick(PO_CLAUSES[lang]), {"po": labelled(g.po(), "PO")})
        if what == "date":
            return fill(g.pick(DATE_CLAUSES[lang]), {"d": labelled(g.date_text(lang), "DATE")})
        return fill(g.pick(SITE_CLAUSES[lang]), {"s": self.site(lang)})

    def distractor(self, lang: str) -> str:
        g = self.g
        d = g.day()
        return g.pick(DISTRACTORS[lang]).format(
            quote=g.any(["Q", "QT-", "AN", "DEV-", "OF"]) + g.digits(g.rng.randint(4, 6)),
            inv=g.any(["", "INV-", "RE"]) + g.digits(6), phone=g.phone(), short=g.digits(4),
            wd=WEEKDAYS[lang][g.rng.randint(0, 4)], d2=f"{d.day:02d}.{d.month:02d}.{d.year}" if lang == "de" else f"{d.day}/{d.month}",
        )

    def greeting(self, lang: str) -> str:
        g = self.g
        name = g.person(lang)
        return g.pick(GREETINGS[lang]).format(name=name.split()[0], last=name.split()[-1])

    def signature(self, lang: str) -> str:
        g = self.g
        name, company = g.person(lang), g.company(lang)
        lines = [g.any(CLOSINGS[lang]) + g.any([",", "", "!"] if lang != "zh" else ["！", "", "，"]), name]
        if g.chance(0.6):
            lines.append(g.any(TITLES[lang]))
        if g.chance(0.7):
            lines.append(company)
        if g.chance(0.4):
            lines.append(g.address(lang))
        if g.chance(0.5):
            lines.append(f"{g.any(['Tel', 'T', 'Phone', 'Tel.', 'Mob'])}: {g.phone()}")
        if g.chance(0.3):
            lines.append(g.email(name, company))
        if g.chance(0.15):
            lines.append("")
            lines.append(DISCLAIMERS[lang])
        if g.chance(0.08):
            lines = ["Sent from my iPhone"]
        return "\n".join(lines)

    # -- order prose (NER) -------------------------------------------------------------------

    def order_prose(self, lang: str) -> Text:
        """An order written in prose or as a short list, with its entities."""
        g = self.g
        sep = "" if lang == "zh" else " "
        comma = "，" if lang == "zh" else ", "
        stop = "。" if lang == "zh" else "."
        clauses = [w for w, p in (("po", 0.6), ("date", 0.6), ("site", 0.45)) if g.chance(p)]
        g.rng.shuffle(clauses)
        body = Text()
        greeting = self.greeting(lang) if g.chance(0.7) else ""
        if greeting:
            body.add(greeting + g.any(["\n\n", "\n", " "]))
        n_items = g.rng.choice([1, 1, 1, 2, 2, 3, 4])
        if n_items >= 3 and g.chance(0.6):
            body.add(g.pick(LIST_INTROS[lang]))
            body.add_text(self.items_list(lang, n_items))
            body.add("\n\n")
            for what in clauses:
                sentence = self.clause(lang, what)
                body.add_text(_capitalise(sentence))
                body.add(g.any([stop + sep, stop + "\n", "\n"]))
        else:
            opener = g.pick(OPENERS[lang])
            sentence = fill(opener, {"items": self.items_inline(lang, n_items)})
            inline = [c for c in clauses if g.chance(0.7)]
            for what in inline:
                sentence.add(g.any([comma, sep]) if lang != "zh" else g.any(["，", ""]))
                sentence.add_text(self.clause(lang, what))
            body.add_text(_capitalise(sentence) if g.chance(0.85) else sentence)
            body.add(g.any([stop, stop, "", "!"]) if lang != "zh" else g.any(["。", "", "！"]))
            for what in clauses:
                if what in inline:
                    continue
                body.add(g.any([sep, "\n"]))
                body.add_text(_capitalise(self.clause(lang, what)))
                body.add(stop)
        if g.chance(0.3):
            body.add(g.any([" ", "\n"]) + self.distractor(lang))
        if g.chance(0.55):
            body.add("\n\n" + self.signature(lang))
        return body

    # -- whole messages (textcat) ----------------------------------------------------------------

    def message(self, lang: str, kind: str) -> tuple[str, str, tuple[str, ...]]:
        g = self.g
        t = MessageTemplates(self, lang)
        subject, body = getattr(t, kind)()
        files: tuple[str, ...] = ()
        attached_order = kind == "order" and any(w in body for w in ("attach", "anbei", "ci-joint", "附件", "查收", "adjunt", "allegato", "bijgaand", "Anhang", "pièce"))
        if attached_order or not body.strip() or g.chance(ATTACHMENT_RATE[kind]):
            d = g.day()
            names = [g.pick(ATTACHMENTS[kind]).format(po=g.po().replace("/", "-"), inv=g.digits(6), n=g.digits(4),
                                                      date=f"{d.year}{d.month:02d}")]
            if g.chance(0.2):
                names.append(g.any(["image001.png", "logo.gif", "signature.jpg"]))
            files = tuple(names)
        if g.chance(0.15) and lang != "zh":
            subject = subject.upper() if g.chance(0.3) else subject.lower()
        if g.chance(0.2):
            prefix = {"de": ["AW: ", "WG: "], "fr": ["RE : ", "TR : "], "zh": ["回复：", "转发："]}.get(lang, ["RE: ", "Re: ", "FW: "])
            subject = g.any(prefix) + subject
        if g.chance(0.25):
            body += "\n\n" + t.quoted_history()
        if g.chance(0.08):
            body = body.lower()
        return subject, body, files


def _capitalise(t: Text) -> Text:
    """Upper-case the first letter (same length: entity spans stay where they are)."""
    for k, part in enumerate(t.parts):
        if part:
            if len(part[:1].upper()) == 1:
                t.parts[k] = part[:1].upper() + part[1:]
            break
    return t


# =====================================================================================
# Whole messages of each kind
# =====================================================================================

# Subjects and bodies by kind and language. Slots: {po} {items} {item} {q} {q2} {u}
# {d} {d2} {site} {site2} {address} {part} {inv} {price} {trk} {name} {quote} {company}.
SUBJECTS: dict[str, dict[str, list[str]]] = {
    "order": {
        "en": ["Order", "New order", "PO {po}", "Purchase order {po}", "Order {po}", "Order for {place}",
               "Re: quote {quote}", "Urgent order", "{company} order", "", "Stock replenishment", "Order - {item}",
               "PO {po} attached", "Weekly order", "Top-up order", "Supplies needed"],
        "de": ["Bestellung", "Neue Bestellung", "Bestellung {po}", "Auftrag {po}", "Bestellung für {place}",
               "Nachbestellung", "Eilbestellung", "", "Bestellung {item}", "Wochenbestellung", "Ihr Angebot {quote}"],
        "fr": ["Commande", "Nouvelle commande", "Commande {po}", "Bon de commande {po}", "Commande pour {place}",
               "", "Réassort", "Commande urgente", "Votre devis {quote}"],
        "zh": ["订单", "新订单", "采购订单{po}", "订单{po}", "采购申请", "", "补货", "加急订单"],
        "es": ["Pedido", "Nuevo pedido", "Pedido {po}", "Orden de compra {po}", ""],
        "it": ["Ordine", "Nuovo ordine", "Ordine {po}", "Ordine d'acquisto {po}", ""],
        "nl": ["Bestelling", "Nieuwe bestelling", "Bestelling {po}", "Inkooporder {po}", ""],
    },
    "change": {
        "en": ["Change to PO {po}", "Amendment PO {po}", "PO {po}", "Order {po} - new delivery date",
               "PO {po} revised", "Updated quantity", "Order {po} change", "Delivery address change",
               "Re: order {po}", "Correction to our order", "Revised PO {po}", "Reschedule {po}", ""],
        "de": ["Änderung Bestellung {po}", "Bestellung {po}", "Neuer Liefertermin {po}", "Mengenänderung",
               "Korrektur Bestellung {po}", "Lieferadresse geändert", "Terminverschiebung {po}", ""],
        "fr": ["Modification commande {po}", "Commande {po}", "Nouvelle date de livraison", "Changement de quantité",
               "Correction de notre commande {po}", "Changement d'adresse", ""],
        "zh": ["订单{po}变更", "修改订单{po}", "更改交货日期", "数量调整", "订单{po}", "送货地址变更", ""],
        "es": ["Modificación pedido {po}", "Pedido {po}", "Cambio de fecha", ""],
        "it": ["Modifica ordine {po}", "Ordine {po}", "Cambio data di consegna", ""],
        "nl": ["Wijziging bestelling {po}", "Bestelling {po}", "Nieuwe leverdatum", ""],
    },
    "cancellation": {
        "en": ["Cancellation PO {po}", "Cancel order {po}", "PO {po}", "Order {po} cancelled", "Please cancel",
               "Re: order {po}", "Cancel PO {po}", "Order sent in error", "Cancellation", ""],
        "de": ["Stornierung Bestellung {po}", "Storno {po}", "Bestellung {po}", "Bitte stornieren",
               "Stornierung", ""],
        "fr": ["Annulation commande {po}", "Commande {po}", "Annulation", "Merci d'annuler", ""],
        "zh": ["取消订单{po}", "订单{po}取消", "订单{po}", "撤销订单", ""],
        "es": ["Cancelación pedido {po}", "Anular pedido {po}", ""],
        "it": ["Annullamento ordine {po}", "Ordine {po}", ""],
        "nl": ["Annulering bestelling {po}", "Bestelling {po}", ""],
    },
    "inquiry": {
        "en": ["RFQ", "Request for quote", "Price enquiry", "Stock check", "Order status {po}", "Availability {part}",
               "Question", "Quote please", "Lead time?", "Where is our order?", "{item}", "Pricing for {item}",
               "Enquiry", "Tracking for PO {po}", ""],
        "de": ["Anfrage", "Preisanfrage", "Angebotsanfrage {item}", "Verfügbarkeit {part}", "Lieferstatus {po}",
               "Frage zu Bestellung {po}", "Lieferzeit?", ""],
        "fr": ["Demande de prix", "Demande de devis", "Disponibilité {part}", "Statut commande {po}", "Question",
               "Délai de livraison ?", ""],
        "zh": ["询价", "报价请求", "库存查询", "订单{po}状态", "咨询", "交期咨询", ""],
        "es": ["Solicitud de oferta", "Consulta de precio", "Estado pedido {po}", ""],
        "it": ["Richiesta di offerta", "Richiesta prezzi", "Stato ordine {po}", ""],
        "nl": ["Offerteaanvraag", "Prijsaanvraag", "Status bestelling {po}", ""],
    },
    "other": {
        "en": ["Out of Office: {re}", "Automatic reply: {re}", "Newsletter {month}", "Remittance advice",
               "Payment advice {inv}", "Your order has shipped", "Invoice {inv}", "Delivery notification",
               "Statement of account", "Your delivery {trk}", "Order confirmation {po}", "Thank you",
               "Meeting next week", "Price increase notice", "Safety data sheet", "Holiday closure", ""],
        "de": ["Abwesenheitsnotiz: {re}", "Automatische Antwort: {re}", "Newsletter {month}", "Zahlungsavis",
               "Rechnung {inv}", "Ihre Sendung {trk}", "Versandbestätigung", "Kontoauszug", "Auftragsbestätigung {po}",
               "Danke", "Betriebsferien", ""],
        "fr": ["Absence du bureau : {re}", "Réponse automatique : {re}", "Lettre d'information {month}",
               "Avis de paiement", "Facture {inv}", "Votre colis {trk}", "Confirmation de commande {po}", "Merci", ""],
        "zh": ["自动回复：{re}", "新闻通讯", "付款通知", "发票{inv}", "发货通知", "订单确认{po}", "谢谢", ""],
        "es": ["Respuesta automática: {re}", "Aviso de pago", "Factura {inv}", "Su pedido ha sido enviado", ""],
        "it": ["Risposta automatica: {re}", "Avviso di pagamento", "Fattura {inv}", "Il vostro ordine è stato spedito", ""],
        "nl": ["Automatisch antwoord: {re}", "Betalingsadvies", "Factuur {inv}", "Uw bestelling is verzonden", ""],
    },
}

BODIES: dict[str, dict[str, list[str]]] = {
    "order_attached": {
        "en": ["Please find attached our purchase order {po}.", "Attached PO {po}, please confirm receipt.",
               "Please process the attached order and confirm the delivery date.", "New order attached.",
               "See attached PO for our {place} site.", "Please see our order attached, delivery {d} please.",
               "Our PO {po} is attached. Please send an order confirmation.", "Here is this week's order (attached).",
               "PO attached - please deliver as usual.", "Please book the attached order for delivery {d}.",
               "Attached is our order for next month.", "Please action the attached PO.",
               "We have attached purchase order {po} for {item}.", "Order attached, thanks.", "", "See attached.",
               "Please see attachment.", "FYI", "Please process.", "Please confirm receipt of the attached.",
               "Hi, order for {place} attached. Thanks", "As discussed, please find the order attached."],
        "de": ["Anbei unsere Bestellung {po}.", "Im Anhang finden Sie unsere Bestellung, bitte um Auftragsbestätigung.",
               "Bitte bearbeiten Sie die beigefügte Bestellung.", "Anbei die Bestellung für unser Werk {place}.",
               "Bestellung {po} im Anhang, Liefertermin {d}.", "Anbei erhalten Sie unsere Bestellung.",
               "Bitte die angehängte Bestellung buchen.", "", "Siehe Anhang.", "Bitte bearbeiten.", "Anbei.",
               "Bitte um Bestätigung der beigefügten Bestellung."],
        "fr": ["Veuillez trouver ci-joint notre bon de commande {po}.", "Ci-joint notre commande, merci de confirmer.",
               "Merci de traiter la commande ci-jointe.", "Vous trouverez en pièce jointe notre commande {po}.",
               "Ci-joint la commande pour notre site de {place}.", "", "Voir pièce jointe.", "Merci de traiter.",
               "Ci-joint."],
        "zh": ["附件是我们的采购订单{po}，请查收。", "请查收附件订单并确认交期。", "订单见附件，请安排发货。",
               "附件为本月订单，请确认。", "", "见附件。", "请查收。"],
        "es": ["Adjunto nuestro pedido {po}.", "Les enviamos en adjunto la orden de compra {po}.",
               "Adjuntamos pedido, por favor confirmen."],
        "it": ["In allegato il nostro ordine {po}.", "Vi inviamo in allegato l'ordine d'acquisto {po}.",
               "In allegato ordine, confermate per favore."],
        "nl": ["Bijgaand onze bestelling {po}.", "In de bijlage vindt u inkooporder {po}.",
               "Bijgaand de bestelling, graag bevestigen."],
    },
    "order_accept": {
        "en": ["Thanks for the quote {quote}, please go ahead with {items}.",
               "We accept your offer {quote}. Please deliver {items} by {d}.",
               "Happy with the prices, please send {items}.", "Yes please, go ahead and ship {items}.",
               "Following your quote, we'd like to order {items}."],
        "de": ["Danke für das Angebot {quote}, wir bestellen {items}.", "Wir nehmen Ihr Angebot {quote} an: bitte {items} liefern.",
               "Passt, bitte liefern Sie {items}."],
        "fr": ["Merci pour le devis {quote}, nous commandons {items}.", "Nous acceptons votre offre {quote}, merci de livrer {items}."],
        "zh": ["报价{quote}收到，确认订购{items}。", "同意贵司报价，请发{items}。"],
        "es": ["Gracias por la oferta {quote}, pedimos {items}."],
        "it": ["Grazie per l'offerta {quote}, ordiniamo {items}."],
        "nl": ["Bedankt voor de offerte {quote}, wij bestellen {items}."],
    },
    "change": {
        "en": ["Please change the quantity on PO {po} from {q} to {q2} {u}.",
               "Could you move the delivery of our order {po} to {d}?",
               "We need to amend order {po}: the delivery address is now {address}.",
               "Please add {items} to our order {po}.", "Please reduce the {item} on PO {po} to {q2} {u}.",
               "Can you deliver order {po} to our {site} instead of {site2}?",
               "Change to PO {po}: delivery date {d} instead of {d2}.",
               "Please update our order {po} - the {item} quantity should be {q2}.",
               "Small change to yesterday's order {po}: make it {q2} {u} of {item} please.",
               "Our PO {po} needs to be revised, please deliver on {d} rather than {d2}.",
               "Sorry, we made a mistake on order {po}. The part number should be {part}, not {part2}.",
               "Please increase line 2 of PO {po} to {q2} {u}.", "Can we bring forward delivery of {po} to {d}?",
               "Please postpone order {po} until {d}.", "We'd like to swap the {item} on order {po} for {item2}."],
        "de": ["Bitte ändern Sie die Menge in Bestellung {po} von {q} auf {q2} {u}.",
               "Können Sie die Lieferung unserer Bestellung {po} auf den {d} verschieben?",
               "Bitte ändern Sie die Lieferadresse für Bestellung {po}: {address}.",
               "Bitte ergänzen Sie unsere Bestellung {po} um {items}.",
               "Korrektur zu Bestellung {po}: neuer Liefertermin {d} statt {d2}.",
               "Bitte die Position {item} in Bestellung {po} auf {q2} {u} reduzieren.",
               "Die Artikelnummer in Bestellung {po} muss {part} lauten, nicht {part2}."],
        "fr": ["Merci de modifier la quantité de la commande {po} : {q2} {u} au lieu de {q}.",
               "Pouvez-vous décaler la livraison de la commande {po} au {d} ?",
               "Veuillez modifier l'adresse de livraison de la commande {po} : {address}.",
               "Merci d'ajouter {items} à notre commande {po}.",
               "Modification de la commande {po} : livraison le {d} au lieu du {d2}."],
        "zh": ["请把订单{po}的数量从{q}{u}改为{q2}{u}。", "订单{po}的交货日期请改到{d}。",
               "订单{po}送货地址变更为：{address}。", "请在订单{po}中增加{items}。", "订单{po}的{item}数量请改为{q2}{u}。"],
        "es": ["Por favor modifiquen la cantidad del pedido {po} a {q2} {u}.", "¿Pueden cambiar la fecha de entrega del pedido {po} al {d}?",
               "Cambio en el pedido {po}: nueva dirección {address}."],
        "it": ["Vi preghiamo di modificare la quantità dell'ordine {po} a {q2} {u}.", "Potete spostare la consegna dell'ordine {po} al {d}?",
               "Modifica ordine {po}: nuovo indirizzo {address}."],
        "nl": ["Graag de hoeveelheid van bestelling {po} wijzigen naar {q2} {u}.", "Kunnen jullie de levering van bestelling {po} verplaatsen naar {d}?",
               "Wijziging bestelling {po}: nieuw afleveradres {address}."],
    },
    "cancellation": {
        "en": ["Please cancel PO {po}.", "We need to cancel our order {po}, sorry for the inconvenience.",
               "Order {po} is no longer required.", "Please cancel the {item} on order {po}.",
               "Kindly cancel our purchase order {po} dated {d2}.", "Please do not ship order {po}, we have to cancel it.",
               "Please disregard our PO {po} sent yesterday, it was sent in error.",
               "The project has been stopped, so please cancel everything on PO {po}.",
               "We no longer need the {items} we ordered on {po}. Please cancel.",
               "Cancel order {po} please - duplicate of {po2}.", "Please withdraw our order {po}."],
        "de": ["Bitte stornieren Sie die Bestellung {po}.", "Wir müssen unsere Bestellung {po} leider stornieren.",
               "Die Bestellung {po} wird nicht mehr benötigt.", "Bitte Bestellung {po} nicht ausliefern, Storno.",
               "Bitte die Position {item} aus Bestellung {po} stornieren.", "Unsere Bestellung {po} war ein Fehler, bitte annullieren."],
        "fr": ["Merci d'annuler la commande {po}.", "Nous devons annuler notre commande {po}, désolé.",
               "La commande {po} n'est plus nécessaire.", "Veuillez annuler le bon de commande {po} envoyé hier par erreur.",
               "Annulation de la ligne {item} de la commande {po}."],
        "zh": ["请取消订单{po}。", "订单{po}不需要了，请取消。", "我们需要取消采购订单{po}，抱歉。", "订单{po}中的{item}请取消。"],
        "es": ["Por favor cancelen el pedido {po}.", "Necesitamos anular nuestro pedido {po}.", "El pedido {po} ya no es necesario."],
        "it": ["Vi preghiamo di annullare l'ordine {po}.", "Dobbiamo cancellare il nostro ordine {po}.", "L'ordine {po} non è più necessario."],
        "nl": ["Graag bestelling {po} annuleren.", "Wij moeten onze bestelling {po} annuleren.", "Bestelling {po} is niet meer nodig."],
    },
    "inquiry": {
        "en": ["Could you please quote for {items}?", "Please send us your best price for {items}.",
               "Request for quotation: {items}. Delivery to {site}.", "Do you have {item} in stock?",
               "Is {part} available? We may need {q} {u}.", "What is the current price of {item} ({part})?",
               "How much would {q} {u} of {item} cost?", "What is the lead time on {item}?",
               "Where is our order {po}? It was due on {d}.", "Could you give us an update on PO {po}?",
               "Has order {po} shipped yet? Please send the tracking number.",
               "Can you confirm you received our PO {po}?", "Do you stock {item} in {spec}?",
               "We're looking for {item}, can you supply these and at what price?",
               "Please quote {q} {u} of {item}, delivered to {site}, and let us know the lead time.",
               "When will the back-ordered {item} on {po} arrive?", "Could you send me your current price list?",
               "Is there a minimum order quantity for {item}?"],
        "de": ["Bitte senden Sie uns ein Angebot über {items}.", "Haben Sie {item} auf Lager?",
               "Ist {part} lieferbar? Wir bräuchten eventuell {q} {u}.", "Was kostet {item} aktuell?",
               "Wie ist die Lieferzeit für {item}?", "Wo bleibt unsere Bestellung {po}? Liefertermin war {d}.",
               "Können Sie mir den Status der Bestellung {po} mitteilen?", "Preisanfrage: {q} {u} {item}.",
               "Gibt es {item} auch in {spec}?"],
        "fr": ["Pourriez-vous nous faire un devis pour {items} ?", "Avez-vous {item} en stock ?",
               "La référence {part} est-elle disponible ?", "Quel est le prix actuel de {item} ?",
               "Quel est le délai de livraison pour {item} ?", "Où en est notre commande {po} ? Elle était prévue le {d}.",
               "Demande de prix : {q} {u} de {item}."],
        "zh": ["请报价：{items}。", "{item}有现货吗？", "货号{part}有库存吗？", "{item}现在什么价格？", "{item}交期多久？",
               "我们的订单{po}什么时候发货？", "请告知订单{po}的物流单号。", "询价：{q}{u}{item}。"],
        "es": ["¿Podrían enviarnos un presupuesto para {items}?", "¿Tienen {item} en stock?", "¿Cuál es el plazo de entrega de {item}?",
               "¿Dónde está nuestro pedido {po}?"],
        "it": ["Potete inviarci un preventivo per {items}?", "Avete {item} disponibili a magazzino?", "Quali sono i tempi di consegna per {item}?",
               "A che punto è il nostro ordine {po}?"],
        "nl": ["Kunt u een offerte sturen voor {items}?", "Hebben jullie {item} op voorraad?", "Wat is de levertijd van {item}?",
               "Waar blijft onze bestelling {po}?"],
    },
    "other": {
        "en": ["I am out of the office until {d} with limited access to email. For urgent matters please contact {name} at {email}.",
               "Thank you for your email. I'm currently on annual leave and will respond when I return on {d}.",
               "Our {month} newsletter: new products, trade fair dates and more. To unsubscribe click here.",
               "Remittance advice: we have paid invoice {inv} for {price} on {d2}. Payment reference {ref}.",
               "Your order {po} has been shipped. Tracking number {trk}. Expected delivery {d}.",
               "Delivery note {ref}: your shipment was delivered on {d2} and signed for by {name}.",
               "Please find attached invoice {inv} for PO {po}.", "Thanks, received with thanks.",
               "Thank you for the quick delivery, all arrived in good condition.",
               "Can we move our call to Thursday?", "We confirm receipt of your order {po} and will deliver on {d}.",
               "Please find attached the safety data sheet for {item}.",
               "Please note our warehouse will be closed from {d2} to {d} for the holidays.",
               "Attached is your statement of account for {month}.",
               "Please note that from {d} our prices will increase by 4%.",
               "This is an automated message, please do not reply. Payment of {price} has been received.",
               "Our bank details have changed, please see the attached letter.",
               "Great to meet you at the trade show, let's keep in touch.",
               "Your account is now overdue. Please arrange payment of {price} for invoice {inv}.",
               "We have received your payment, thank you.", "Please update our contact details: {name}, {email}.",
               "Reminder: our offices will be closed on {d}.", "Your parcel {trk} is out for delivery today.",
               "Please see attached our new terms and conditions.", "Could you send us a copy of invoice {inv}?",
               "Please find our company registration certificate attached.", "Happy holidays from everyone at {company}!",
               "Our driver could not deliver order {po} today: nobody at goods in. We will try again on {d}.",
               "Your return authorisation {ref} has been approved.", "Credit note {inv} attached.",
               "We confirm receipt of your order {po}; it will ship on {d}.", "Test email, please ignore."],
        "de": ["Ich bin bis zum {d} nicht im Büro. In dringenden Fällen wenden Sie sich bitte an {name}.",
               "Vielen Dank für Ihre Nachricht. Ich bin im Urlaub und ab {d} wieder erreichbar.",
               "Zahlungsavis: Rechnung {inv} über {price} wurde am {d2} überwiesen.",
               "Ihre Sendung zu Bestellung {po} wurde versandt, Sendungsnummer {trk}.",
               "Anbei die Rechnung {inv} zur Bestellung {po}.", "Danke, Ware ist gut angekommen.",
               "Newsletter {month}: Neuheiten und Messetermine. Abmelden hier.",
               "Wir bestätigen den Eingang Ihrer Bestellung {po}, Liefertermin {d}.",
               "Anbei das Sicherheitsdatenblatt zu {item}.", "Zahlungserinnerung: Rechnung {inv} ist fällig.",
               "Ihr Paket {trk} wird heute zugestellt.", "Anbei unsere neuen AGB.", "Gutschrift {inv} anbei.",
               "Bitte aktualisieren Sie unsere Bankverbindung, siehe Anhang."],
        "fr": ["Je suis absent du bureau jusqu'au {d}. Pour toute urgence, contactez {name}.",
               "Avis de paiement : la facture {inv} de {price} a été réglée le {d2}.",
               "Votre commande {po} a été expédiée, numéro de suivi {trk}.", "Veuillez trouver ci-joint la facture {inv}.",
               "Merci, marchandise bien reçue.", "Lettre d'information de {month} : nouveautés et salons. Se désinscrire.",
               "Nous accusons réception de votre commande {po}.", "Relance : la facture {inv} est échue.",
               "Votre colis {trk} sera livré aujourd'hui.", "Ci-joint nos nouvelles conditions générales.",
               "Avoir {inv} ci-joint."],
        "zh": ["您好，我{d}前休假，急事请联系{name}。", "付款通知：发票{inv}金额{price}已于{d2}支付。",
               "您的订单{po}已发货，快递单号{trk}。", "附件是订单{po}的发票{inv}。", "货已收到，谢谢！",
               "我们确认已收到贵司订单{po}。", "这是自动回复邮件，请勿回复。"],
        "es": ["Estoy fuera de la oficina hasta el {d}.", "Aviso de pago: factura {inv} pagada el {d2}.",
               "Su pedido {po} ha sido enviado, número de seguimiento {trk}.", "Gracias, mercancía recibida."],
        "it": ["Sono fuori ufficio fino al {d}.", "Avviso di pagamento: fattura {inv} pagata il {d2}.",
               "Il vostro ordine {po} è stato spedito, tracking {trk}.", "Grazie, merce ricevuta."],
        "nl": ["Ik ben afwezig tot {d}.", "Betalingsadvies: factuur {inv} betaald op {d2}.",
               "Uw bestelling {po} is verzonden, trackingnummer {trk}.", "Bedankt, goederen ontvangen."],
    },
}

# File names attached to messages of each kind ({po} {inv} {n} {date}).
ATTACHMENTS: dict[str, list[str]] = {
    "order": ["PO_{po}.pdf", "PO{po}.pdf", "Order-{po}.pdf", "order_{po}.xlsx", "Bestellung_{po}.pdf", "commande_{po}.pdf",
              "订单{po}.pdf", "pedido_{po}.pdf", "ordine_{po}.pdf", "bestelling_{po}.pdf", "scan{n}.pdf", "{po}.pdf",
              "purchase_order.pdf", "order.csv", "Doc{n}.pdf", "PurchaseOrder_{po}.xml", "PO {po} signed.pdf"],
    "change": ["PO_{po}_rev2.pdf", "PO_{po}_amended.pdf", "Bestellung_{po}_Änderung.pdf", "{po} revised.pdf"],
    "cancellation": ["cancellation_{po}.pdf"],
    "inquiry": ["RFQ_{n}.xlsx", "drawing_{n}.pdf", "spec_sheet.pdf", "Anfrage_{n}.pdf", "询价单.xlsx", "enquiry.pdf"],
    "other": ["invoice_{inv}.pdf", "INV{inv}.pdf", "remittance_{n}.pdf", "statement_{date}.pdf", "SDS_{n}.pdf",
              "Rechnung_{inv}.pdf", "facture_{inv}.pdf", "newsletter.png", "image001.png", "POD_{n}.pdf",
              "bank_details.pdf", "price_list_{date}.pdf", "delivery_note_{n}.pdf", "logo.jpg"],
}
# How often a message of each kind carries a file.
ATTACHMENT_RATE = {"order": 0.35, "change": 0.12, "cancellation": 0.04, "inquiry": 0.15, "other": 0.3}

QUOTE_HEADERS = {
    "en": ["On {d2}, {name} <{email}> wrote:", "-----Original Message-----\nFrom: {name}\nSent: {d2}\nTo: orders\nSubject: {subject}",
           "From: {name} <{email}>\nSent: {d2}\nSubject: {subject}"],
    "de": ["Am {d2} schrieb {name} <{email}>:", "-----Ursprüngliche Nachricht-----\nVon: {name}\nGesendet: {d2}\nBetreff: {subject}"],
    "fr": ["Le {d2}, {name} <{email}> a écrit :", "-----Message d'origine-----\nDe : {name}\nEnvoyé : {d2}\nObjet : {subject}"],
    "zh": ["在 {d2}，{name} <{email}> 写道：", "------------------ 原始邮件 ------------------\n发件人: {name}\n发送时间: {d2}\n主题: {subject}"],
    "es": ["El {d2}, {name} <{email}> escribió:"], "it": ["Il {d2}, {name} <{email}> ha scritto:"],
    "nl": ["Op {d2} schreef {name} <{email}>:"],
}


class MessageTemplates:
    """Subject and body of one message of a kind, in one language."""

    def __init__(self, composer: Composer, lang: str) -> None:
        self.c = composer
        self.g = composer.g
        self.lang = lang

    def values(self) -> dict[str, str]:
        g, lang = self.g, self.lang
        d, d2 = g.day(), g.day()
        item_text = self.c.items_inline(lang, g.rng.choice([1, 1, 2, 3])).text
        qty, n = g.quantity(lang)
        name, company = g.person(lang), g.company(lang)
        return {
            "po": g.po(), "po2": g.po(), "items": item_text, "item": g.product(lang), "item2": g.product(lang),
            "q": qty, "q2": str(g.rng.randint(1, 200)), "u": g.unit(lang, n), "d": g.date_text(lang),
            "d2": f"{d2.day:02d}.{d2.month:02d}.{d2.year}" if lang == "de" else f"{d2.day}/{d2.month}/{d2.year}",
            "site": self.c.site(lang).text, "site2": self.c.site(lang).text, "address": g.address(lang),
            "part": g.part(), "part2": g.part(), "inv": g.any(["", "INV-", "RE-", "F"]) + g.digits(6),
            "price": g.price(lang), "trk": g.letters(2) + g.digits(9) + g.any(["GB", "DE", "", "CN"]),
            "name": name, "email": g.email(name, company), "quote": g.any(["Q", "QT-", "AN-", "DEV"]) + g.digits(5),
            "company": company, "place": g.place(lang), "ref": g.digits(8),
            "month": (MONTHS.get(lang) or MONTHS["en"])[d.month - 1], "spec": g.spec(),
            "re": "",
        }

    def _subject(self, kind: str, v: dict[str, str]) -> str:
        return self.g.pick(SUBJECTS[kind][self.lang]).format(**v).strip()

    def _wrap(self, text: str, *, signature: float = 0.6) -> str:
        c, g = self.c, self.g
        parts = []
        greeting = c.greeting(self.lang) if g.chance(0.6) else ""
        if greeting:
            parts.append(greeting)
        parts.append(text)
        if g.chance(0.15):
            parts.append(c.distractor(self.lang))
        if g.chance(signature):
            parts.append(c.signature(self.lang))
        return "\n\n".join(parts)

    def _body(self, key: str, v: dict[str, str]) -> str:
        return self.g.pick(BODIES[key][self.lang]).format(**v)

    def order(self) -> tuple[str, str]:
        g, v = self.g, self.values()
        r = g.rng.random()
        if r < 0.55:
            body = self.c.order_prose(self.lang).text
        elif r < 0.85:
            body = self._wrap(self._body("order_attached", v))
        else:
            body = self._wrap(self._body("order_accept", v))
        return self._subject("order", v), body

    def change(self) -> tuple[str, str]:
        v = self.values()
        return self._subject("change", v), self._wrap(self._body("change", v))

    def cancellation(self) -> tuple[str, str]:
        v = self.values()
        return self._subject("cancellation", v), self._wrap(self._body("cancellation", v))

    def inquiry(self) -> tuple[str, str]:
        v = self.values()
        return self._subject("inquiry", v), self._wrap(self._body("inquiry", v))

    def other(self) -> tuple[str, str]:
        v = self.values()
        v["re"] = self.g.pick(SUBJECTS["order"][self.lang]).format(**v).strip() or "Order"
        return self._subject("other", v), self._wrap(self._body("other", v), signature=0.4)

    def quoted_history(self) -> str:
        """An earlier message of any kind, quoted below the new text."""
        g = self.g
        kind = g.any(KINDS)
        v = self.values()
        subject = self._subject(kind, v)
        if kind == "order":
            prior = self.c.order_prose(self.lang).text
        else:
            prior = self._body(kind if kind != "order" else "order_attached", v)
        header = g.any(QUOTE_HEADERS[self.lang]).format(d2=v["d2"], name=v["name"], email=v["email"], subject=subject)
        lines = prior.split("\n")
        if header.startswith(("On ", "Am ", "Le ", "在 ", "El ", "Il ", "Op ")) and g.chance(0.7):
            lines = ["> " + line for line in lines]
        return header + "\n\n" + "\n".join(lines)


# =====================================================================================
# Public API
# =====================================================================================


def _languages(languages: Sequence[str] | None) -> tuple[str, ...]:
    langs = tuple(languages or LANGUAGES)
    unknown = [x for x in langs if x not in LANGUAGES]
    if unknown:
        raise ValueError(f"no templates for language(s) {', '.join(unknown)}; known: {', '.join(LANGUAGES)}")
    return langs


def ner_examples(
    n: int, *, seed: int, split: Split = "train", languages: Sequence[str] | None = None
) -> list[NerExample]:
    """``n`` order texts with entity spans, languages in turn; the same seed gives the same list."""
    langs = _languages(languages)
    composer = Composer(seed, split)
    out = []
    for k in range(n):
        lang = langs[k % len(langs)]
        t = composer.order_prose(lang)
        text = t.text
        if composer.g.chance(0.06):
            lowered = text.lower()
            if len(lowered) == len(text):
                text = lowered
        out.append(NerExample(text, tuple(t.entities), lang))
    return out


def kind_examples(
    n: int, *, seed: int, split: Split = "train", languages: Sequence[str] | None = None
) -> list[KindExample]:
    """``n`` messages, kinds and languages in turn; the same seed gives the same list."""
    langs = _languages(languages)
    composer = Composer(seed, split)
    out = []
    for k in range(n):
        lang = langs[k % len(langs)]
        kind = KINDS[(k // len(langs)) % len(KINDS)]
        subject, body, files = composer.message(lang, kind)
        out.append(KindExample(subject, body, kind, lang, files))
    return out
