"""Deterministic "realistic-ish" text for the benchmark corpus.

Shared by gen_pg.py and gen_redis.py.  Only the standard library is used and
every generator takes an explicit random.Random, so output depends only on the
seed.  E-mail domains use reserved TLDs (.example / .test / .invalid) and IP
addresses come from the documentation ranges, so nothing here names a real
host.
"""

import itertools
import random

FIRST_NAMES = """
Anna Ben Carla David Elena Felix Greta Hugo Ines Jonas Katrin Lukas Maria
Nils Olga Paul Quentin Rosa Stefan Tanja Ulrich Vera Walter Xenia Yusuf Zoe
Amelia Oliver Isla George Ava Noah Mia Leo Sofia Arthur Lily Oscar Freya
Theo Emily Jack Grace Harry Chloe Jacob Ella Charlie Aria Thomas Evie James
Ruby William Alice Henry Daisy Lucas Hannah Mateo Camila Diego Valentina
Hiroshi Yuki Aiko Kenji Priya Arjun Ananya Rahul Fatima Omar Layla Karim
""".split()

LAST_NAMES = """
Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez
Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin
Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson Walker
Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson
Baker Hall Rivera Campbell Mitchell Carter Roberts Mueller Schmidt Schneider
Fischer Weber Meyer Wagner Becker Schulz Hoffmann Rossi Russo Ferrari Bianchi
Dubois Laurent Moreau Tanaka Suzuki Watanabe Kowalski Novak Jansen Olsen
""".split()

STREET_NAMES = """
Oak Maple Cedar Elm Pine Birch Willow Chestnut Walnut Spruce Lake Hill River
Park Forest Meadow Spring Sunset Highland Church Mill School Station Market
Bridge Garden Harbor Orchard Valley Ridge Main High King Queen Victoria Albert
Linden Rose Castle Canal Abbey Beacon Brook Clover Fern Heather Juniper
""".split()

STREET_TYPES = ["Street", "Road", "Avenue", "Lane", "Way", "Drive", "Close",
                "Court", "Place", "Terrace", "Gasse", "Weg", "Strasse"]

# (city, country code, postal code pattern: 9 = digit, A = letter)
CITIES = [
    ("Springfield", "US", "99999"), ("Riverton", "US", "99999"),
    ("Fairview", "US", "99999"), ("Lakeside", "US", "99999"),
    ("Greenville", "US", "99999"), ("Franklin", "US", "99999"),
    ("Bristol", "GB", "AA9 9AA"), ("Oxford", "GB", "AA9 9AA"),
    ("Leeds", "GB", "AA9 9AA"), ("York", "GB", "AA9 9AA"),
    ("Berlin", "DE", "99999"), ("Hamburg", "DE", "99999"),
    ("Munich", "DE", "99999"), ("Cologne", "DE", "99999"),
    ("Leipzig", "DE", "99999"), ("Dresden", "DE", "99999"),
    ("Lyon", "FR", "99999"), ("Nantes", "FR", "99999"),
    ("Lille", "FR", "99999"), ("Milan", "IT", "99999"),
    ("Turin", "IT", "99999"), ("Bologna", "IT", "99999"),
    ("Porto", "PT", "9999-999"), ("Valencia", "ES", "99999"),
    ("Seville", "ES", "99999"), ("Utrecht", "NL", "9999 AA"),
    ("Gothenburg", "SE", "999 99"), ("Aarhus", "DK", "9999"),
    ("Krakow", "PL", "99-999"), ("Brno", "CZ", "999 99"),
    ("Graz", "AT", "9999"), ("Basel", "CH", "9999"),
    ("Osaka", "JP", "999-9999"), ("Toronto", "CA", "A9A 9A9"),
    ("Melbourne", "AU", "9999"), ("Auckland", "NZ", "9999"),
]

MAIL_DOMAINS = ["mail.example", "post.example", "inbox.test", "webmail.test",
                "corp.example", "students.uni.example", "home.invalid"]

STATUSES = ["new", "paid", "packed", "shipped", "delivered", "returned",
            "cancelled"]

EVENT_KINDS = ["created", "payment_authorized", "payment_captured", "packed",
               "label_printed", "shipped", "out_for_delivery", "delivered",
               "customer_message", "support_note", "refund_requested",
               "address_changed"]

ACTORS = ["web", "mobile-app", "warehouse", "payment-gateway", "courier",
          "support", "scheduler", "import-job"]

# A few hundred common English words, roughly ordered by frequency; the
# generator draws with Zipf-like weights so the text compresses like prose.
WORDS = """
the of and to a in is it you that he was for on are with as I his they be at
one have this from or had by hot word but what some we can out other were all
there when up use your how said an each she which do their time if will way
about many then them write would like so these her long make thing see him two
has look more day could go come did number sound no most people my over know
water than call first who may down side been now find any new work part take
get place made live where after back little only round man year came show
every good me give our under name very through just form sentence great think
say help low line differ turn cause much mean before move right boy old too
same tell does set three want air well also play small end put home read hand
port large spell add even land here must big high such follow act why ask men
change went light kind off need house picture try us again animal point mother
world near build self earth father head stand own page should country found
answer school grow study still learn plant cover food sun four between state
keep eye never last let thought city tree cross farm hard start might story saw
far sea draw left late run don't while press close night real life few north
order package delivery parcel customer refund invoice payment shipping address
courier warehouse item items product size colour color blue black white red
green grey please thanks thank hello regards arrived damaged missing wrong
quickly today tomorrow yesterday week weekend morning evening door neighbour
reception leave box gift wrap note fragile return exchange discount coupon code
account password login email phone number support ticket issue problem resolved
waiting update status tracking label printed scanned depot hub route driver
""".split()


def _zipf_cum_weights(n, s=1.0):
    return list(itertools.accumulate(1.0 / ((i + 1) ** s) for i in range(n)))


_WORD_CW = _zipf_cum_weights(len(WORDS), 0.9)


def words(rng, n):
    return rng.choices(WORDS, cum_weights=_WORD_CW, k=n)


def sentence(rng, lo=5, hi=16):
    w = words(rng, rng.randint(lo, hi))
    w[0] = w[0].capitalize()
    return " ".join(w) + rng.choice([".", ".", ".", "!", "?"])


def paragraph(rng, lo=1, hi=4):
    return " ".join(sentence(rng) for _ in range(rng.randint(lo, hi)))


def pattern(rng, pat):
    out = []
    for ch in pat:
        if ch == "9":
            out.append(chr(48 + rng.randrange(10)))
        elif ch == "A":
            out.append(chr(65 + rng.randrange(26)))
        else:
            out.append(ch)
    return "".join(out)


def person(rng):
    first = rng.choice(FIRST_NAMES)
    last = rng.choice(LAST_NAMES)
    sep = rng.choice([".", "_", "", "."])
    num = str(rng.randrange(100)) if rng.random() < 0.4 else ""
    email = "%s%s%s%s@%s" % (first.lower(), sep, last.lower(), num,
                             rng.choice(MAIL_DOMAINS))
    return first, last, email


def street(rng):
    return "%d %s %s" % (rng.randint(1, 250), rng.choice(STREET_NAMES),
                         rng.choice(STREET_TYPES))


def city(rng):
    name, cc, pat = rng.choice(CITIES)
    return name, cc, pattern(rng, pat)


def phone(rng):
    return "+%d %03d %04d %04d" % (rng.choice([1, 44, 49, 33, 39, 34, 31, 81]),
                                  rng.randrange(1000), rng.randrange(10000),
                                  rng.randrange(10000))


def doc_ip(rng):
    base = rng.choice(["192.0.2.", "198.51.100.", "203.0.113."])
    return base + str(rng.randint(1, 254))


def new_rng(seed, *parts):
    """Independent deterministic stream for (seed, parts...)."""
    return random.Random("%s/%s" % (seed, "/".join(str(p) for p in parts)))
