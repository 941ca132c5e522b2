"""Deterministic, realistic-looking values for the simulated executor.

Everything here is a pure function of its inputs: randomness comes from `random.Random` seeded with a sha256 of the
canonical JSON of the parts that identify a value (never Python's salted ``hash()``), so a value is the same in every
process and run. Three ideas keep simulated calls consistent with each other:

* **id pools**: id-like fields of one *family* (``movie``, ``person``...) draw from a small fixed pool, so the ids a
  list returns are the ids a details call is likely to be asked about;
* **entity names**: the name/title of an entity is derived from (family, id) only, so movie 550 has the same title
  in every response that mentions it;
* **key hints**: a field's name picks the kind of value (``release_date`` a date, ``email`` an address, ``overview``
  a sentence), bounded by the field's schema (format, enum, pattern, min/max, lengths).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import string
import uuid
from functools import lru_cache
from typing import Any

try:  # the regular-expression parser, used to produce strings that match a schema ``pattern``
    import re._parser as _sre  # type: ignore[import-not-found]  # Python 3.11+
except ImportError:  # pragma: no cover - Python 3.10
    import sre_parse as _sre  # type: ignore[no-redef]

POOL_SIZE = 24  # ids per family: small, so lists and details calls keep meeting the same entities

FIRST_NAMES = ("Ada", "Alan", "Bruno", "Carmen", "Chen", "Dara", "Elena", "Farid", "Grace", "Hana", "Ivan", "Jonas",
               "Kemi", "Lena", "Marco", "Nadia", "Omar", "Priya", "Quinn", "Rosa", "Sami", "Tomas", "Uma", "Viktor",
               "Wen", "Yara", "Zoe", "Leo", "Mila", "Noah")  # fmt: skip
LAST_NAMES = ("Adams", "Bauer", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hughes", "Ito", "Jensen",
              "Kowalski", "Larsen", "Moreau", "Nakamura", "Okafor", "Petrov", "Quist", "Rossi", "Silva", "Tanaka",
              "Usman", "Varga", "Weber", "Xu", "Yilmaz", "Zhang", "Novak", "Moreno", "Brennan", "Haddad")  # fmt: skip
ADJECTIVES = ("Silent", "Crimson", "Hidden", "Golden", "Broken", "Distant", "Electric", "Frozen", "Wild", "Last",
              "Lonely", "Midnight", "Northern", "Quiet", "Restless", "Scarlet", "Secret", "Shining", "Velvet",
              "Wandering", "Iron", "Paper", "Glass", "Burning")  # fmt: skip
NOUNS = ("Harbor", "River", "Garden", "Empire", "Voyage", "Signal", "Horizon", "Machine", "Island", "Kingdom", "Letter",
         "Mirror", "Mountain", "Orchard", "Promise", "Shadow", "Storm", "Summer", "Station", "Tide", "Valley", "Winter",
         "Lantern", "Circus")  # fmt: skip
COMPANY_WORDS = ("Northwind", "Bluefield", "Silverline", "Redwood", "Brightwater", "Ironbridge", "Lakeside",
                 "Starlight", "Greenleaf", "Highgate", "Oakridge", "Sunpeak")  # fmt: skip
COMPANY_SUFFIXES = ("Pictures", "Studios", "Media", "Group", "Labs", "Partners", "Works", "Entertainment")
WORDS = ("a", "the", "of", "and", "in", "with", "story", "journey", "family", "city", "secret", "friend", "world",
         "night", "discovers", "finds", "returns", "must", "young", "old", "small", "town", "against", "time", "home",
         "love", "war", "team", "mystery", "years", "after", "before", "their", "his", "her", "new", "life", "lost",
         "together", "dangerous", "unexpected")  # fmt: skip
COUNTRIES = (("US", "United States of America"), ("GB", "United Kingdom"), ("FR", "France"), ("DE", "Germany"),
             ("JP", "Japan"), ("IN", "India"), ("BR", "Brazil"), ("CA", "Canada"), ("ES", "Spain"), ("IT", "Italy"))
LANGUAGES = (("en", "English"), ("fr", "French"), ("de", "German"), ("ja", "Japanese"), ("es", "Spanish"),
             ("it", "Italian"), ("hi", "Hindi"), ("pt", "Portuguese"))  # fmt: skip
CITIES = ("Lisbon", "Osaka", "Toronto", "Nairobi", "Oslo", "Austin", "Lyon", "Melbourne", "Seoul", "Bogota")

PERSON_FAMILIES = frozenset({"person", "user", "author", "actor", "director", "artist", "customer", "employee",
                             "member", "owner", "contact", "driver", "player", "character", "creator", "reviewer",
                             "writer", "friend", "follower", "student", "teacher", "patient", "doctor", "guest_star",
                             "cast", "crew", "people", "staff", "agent", "passenger", "guest"})  # fmt: skip
COMPANY_FAMILIES = frozenset({"company", "network", "organization", "organisation", "studio", "brand", "vendor",
                              "supplier", "merchant", "store", "shop", "business", "airline", "bank", "publisher",
                              "label", "provider", "production_company", "hotel", "restaurant", "agency"})  # fmt: skip
# Containers whose items are people even though the key is not a person noun (credits lists).
FAMILY_ALIASES = {"people": "person", "persons": "person", "cast": "person", "crew": "person",
                  "guest_stars": "person", "guest_star": "person", "staff": "person"}  # fmt: skip
NAME_KEYS = frozenset({"name", "title", "original_name", "original_title", "full_name", "fullname", "display_name",
                       "displayname"})  # fmt: skip
QUERY_KEYS = frozenset({"query", "q", "search", "search_query", "search_term", "keyword", "keywords", "term", "text",
                        "title", "name"})  # fmt: skip


# ---- determinism


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def digest(*parts: Any) -> int:
    """A process-independent integer for ``parts`` (sha256 of their canonical JSON)."""
    return int.from_bytes(hashlib.sha256(canonical_json(parts).encode("utf-8")).digest()[:16], "big")


def rng_for(*parts: Any) -> random.Random:
    return random.Random(digest(*parts))


# ---- names of keys and families


def key_words(key: str | None) -> list[str]:
    """``movieId`` / ``movie_id`` / ``Movie-ID`` -> ``["movie", "id"]``."""
    if not key:
        return []
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)
    return [w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w]


_IRREGULAR_PLURALS = {"movies": "movie", "cookies": "cookie", "zombies": "zombie", "calories": "calorie",
                      "series": "series", "species": "species", "news": "news", "people": "person"}  # fmt: skip


def singular(word: str) -> str:
    if word in _IRREGULAR_PLURALS:
        return _IRREGULAR_PLURALS[word]
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def family_name(word: str) -> str:
    """A container or resource name as an entity family: ``production_companies`` -> ``production_company``."""
    words = key_words(word) or ["item"]
    joined = "_".join(words)
    return FAMILY_ALIASES.get(joined) or "_".join(words[:-1] + [singular(words[-1])])


def is_id_key(key: str | None) -> bool:
    words = key_words(key)
    return bool(words) and words[-1] in ("id", "uuid", "guid")


def is_ids_key(key: str | None) -> bool:
    """``genre_ids``: a list whose items are ids of family ``genre``."""
    words = key_words(key)
    return len(words) > 1 and words[-1] == "ids"


def id_family(key: str, enclosing: str) -> str:
    """``movie_id`` -> ``movie``; a bare ``id`` belongs to the enclosing object's family."""
    words = key_words(key)
    return family_name("_".join(words[:-1])) if len(words) > 1 else enclosing


def is_name_key(key: str | None) -> bool:
    return bool(key) and "_".join(key_words(key)) in NAME_KEYS


def name_kind(family: str) -> str:
    last = family.split("_")[-1]
    if family in PERSON_FAMILIES or last in PERSON_FAMILIES:
        return "person"
    if family in COMPANY_FAMILIES or last in COMPANY_FAMILIES:
        return "company"
    return "title"


# ---- entities


def entity_name(family: str, entity_id: Any, seed: int = 0) -> str:
    """The one name of entity ``entity_id`` of ``family``: a person's, a company's or a title."""
    r = rng_for("name", seed, family, entity_id)
    kind = name_kind(family)
    if kind == "person":
        return f"{r.choice(FIRST_NAMES)} {r.choice(LAST_NAMES)}"
    if kind == "company":
        return f"{r.choice(COMPANY_WORDS)} {r.choice(COMPANY_SUFFIXES)}"
    adjective, noun = r.choice(ADJECTIVES), r.choice(NOUNS)
    return r.choice((f"The {adjective} {noun}", f"{adjective} {noun}", f"{noun} of the {adjective} {r.choice(NOUNS)}"))


def _id_spec(schema: dict[str, Any]) -> tuple[Any, ...]:
    keys = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "format", "pattern", "minLength", "maxLength")
    return (json_type(schema, "integer"),) + tuple(canonical_json(schema.get(k)) for k in keys)


def id_pool(family: str, schema: dict[str, Any], seed: int = 0) -> list[Any]:
    """The fixed ids of ``family`` for an id field of this schema (integers, uuids, hex keys, pattern strings)."""
    return list(_id_pool(family, _id_spec(schema), canonical_json(schema), seed))


@lru_cache(maxsize=4096)
def _id_pool(family: str, spec: tuple[Any, ...], schema_json: str, seed: int) -> tuple[Any, ...]:
    schema = json.loads(schema_json)
    type_ = spec[0]
    values: list[Any] = []
    for k in range(POOL_SIZE * 4):
        if len(values) >= POOL_SIZE:
            break
        r = rng_for("id", seed, family, spec, k)
        if type_ in ("integer", "number"):
            value: Any = fake_int("id", schema, r, default=(1, 999_999))
            value = float(value) if type_ == "number" else value
        else:
            value = fake_id_string(schema, r)
        if value not in values:
            values.append(value)
    return tuple(values)


def fake_id_string(schema: dict[str, Any], r: random.Random) -> str:
    if schema.get("format") == "uuid":
        return str(uuid.UUID(int=r.getrandbits(128), version=4))
    if isinstance(schema.get("pattern"), str):
        value = regex_sample(schema["pattern"], r)
        if value is not None:
            return value
    return _fit_length("".join(r.choice("0123456789abcdef") for _ in range(24)), schema, r)  # TMDB-style hex key


# ---- scalars


def json_type(schema: dict[str, Any], default: str = "string") -> str:
    """The first non-null JSON type the schema allows (inferred from its keywords when ``type`` is absent)."""
    type_ = schema.get("type")
    types = [type_] if isinstance(type_, str) else list(type_ or [])
    non_null = [t for t in types if t != "null"]
    if non_null:
        return non_null[0]
    if types:
        return "null"
    if "properties" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    if "format" in schema or "pattern" in schema:
        return "string"
    return default


def fake_scalar(key: str | None, type_: str, schema: dict[str, Any], r: random.Random) -> Any:
    if type_ == "boolean":
        return r.random() < 0.5
    if type_ == "integer":
        return fake_int(key, schema, r)
    if type_ == "number":
        return fake_number(key, schema, r)
    if type_ == "null":
        return None
    return fake_string(key, schema, r)


def _bounds(schema: dict[str, Any], lo: float, hi: float, step: float) -> tuple[float, float]:
    """``lo``/``hi`` narrowed to the schema's minimum/maximum (2020-12 and OpenAPI 3.0 exclusive forms)."""
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    ex_min, ex_max = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if isinstance(ex_min, (int, float)) and not isinstance(ex_min, bool):
        minimum, ex_min = ex_min, True
    if isinstance(ex_max, (int, float)) and not isinstance(ex_max, bool):
        maximum, ex_max = ex_max, True
    low = float(minimum) + (step if ex_min is True else 0) if isinstance(minimum, (int, float)) else None
    high = float(maximum) - (step if ex_max is True else 0) if isinstance(maximum, (int, float)) else None
    if low is not None and high is not None:
        return low, max(low, high)
    if low is not None:
        return max(lo, low), max(hi, low)
    if high is not None:
        return min(lo, high), min(hi, high)
    return lo, hi


_INT_HINTS: tuple[tuple[tuple[str, ...], tuple[int, int]], ...] = (
    (("year",), (1970, 2024)),
    (("page",), (1, 1)),
    (("pages",), (1, 20)),
    (("age",), (18, 90)),
    (("runtime", "duration", "minutes", "length"), (80, 180)),
    (("season", "episode", "number", "rank", "position", "order", "level", "quantity"), (1, 12)),
    (("budget", "revenue", "population", "salary"), (1_000_000, 300_000_000)),
    (("count", "total", "results", "votes", "views", "likes", "followers"), (1, 5000)),
    (("width", "height"), (200, 2000)),
    (("price", "amount", "cost"), (5, 500)),
    (("percent", "percentage"), (0, 100)),
)


def fake_int(key: str | None, schema: dict[str, Any], r: random.Random, default: tuple[int, int] = (1, 1000)) -> int:
    words = set(key_words(key))
    lo, hi = next((rng for hints, rng in _INT_HINTS if words & set(hints)), default)
    low, high = _bounds(schema, lo, hi, 1)
    low_i, high_i = int(-(-low // 1)), int(high // 1)  # ceil, floor
    value = r.randint(low_i, max(low_i, high_i))
    step = schema.get("multipleOf")
    if isinstance(step, int) and not isinstance(step, bool) and step > 0:
        value -= value % step
        value = value + step if value < low_i else value
    return value


_NUMBER_HINTS: tuple[tuple[tuple[str, ...], tuple[float, float]], ...] = (
    (("average", "rating", "score", "stars"), (1.0, 10.0)),
    (("popularity",), (0.5, 100.0)),
    (("lat", "latitude"), (-90.0, 90.0)),
    (("lon", "lng", "longitude"), (-180.0, 180.0)),
    (("price", "amount", "cost", "total", "fee", "balance"), (1.0, 500.0)),
    (("percent", "percentage", "rate"), (0.0, 100.0)),
    (("ratio", "probability", "confidence"), (0.0, 1.0)),
)


def fake_number(key: str | None, schema: dict[str, Any], r: random.Random) -> float:
    """A non-integral number (so ``oneOf: [integer, number]`` matches exactly one branch) inside the bounds."""
    words = set(key_words(key))
    lo, hi = next((rng for hints, rng in _NUMBER_HINTS if words & set(hints)), (0.0, 1000.0))
    low, high = _bounds(schema, lo, hi, 0.01)
    value = round(r.uniform(low, high), 2)
    if value == int(value):
        value = value + 0.25 if value + 0.25 <= high else value - 0.25
    return min(max(value, low), high)


def _date(r: random.Random) -> str:
    return f"{r.randint(1970, 2024):04d}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"


def _time(r: random.Random) -> str:
    return f"{r.randint(0, 23):02d}:{r.randint(0, 59):02d}:{r.randint(0, 59):02d}"


def _slug(r: random.Random) -> str:
    return f"{r.choice(ADJECTIVES).lower()}-{r.choice(NOUNS).lower()}"


def sentence(r: random.Random, words: tuple[int, int] = (8, 16)) -> str:
    text = " ".join(r.choice(WORDS) for _ in range(r.randint(*words)))
    return text[0].upper() + text[1:] + "."


def _person(r: random.Random) -> str:
    return f"{r.choice(FIRST_NAMES)} {r.choice(LAST_NAMES)}"


_FORMATS = {
    "date": _date,
    "date-time": lambda r: f"{_date(r)}T{_time(r)}Z",
    "time": _time,
    "email": lambda r: f"{r.choice(FIRST_NAMES).lower()}.{r.choice(LAST_NAMES).lower()}@example.com",
    "uri": lambda r: f"https://www.example.com/{_slug(r)}",
    "url": lambda r: f"https://www.example.com/{_slug(r)}",
    "uri-reference": lambda r: f"/{_slug(r)}",
    "hostname": lambda r: f"{r.choice(NOUNS).lower()}.example.com",
    "ipv4": lambda r: f"192.0.2.{r.randint(1, 254)}",
    "ipv6": lambda r: f"2001:db8::{r.randint(1, 65535):x}",
    "uuid": lambda r: str(uuid.UUID(int=r.getrandbits(128), version=4)),
}

# (words any of which appear in the key, value maker): the first match wins
_STRING_HINTS: tuple[tuple[frozenset[str], Any], ...] = tuple(
    (frozenset(hints.split()), maker)
    for hints, maker in (
        ("email mail", _FORMATS["email"]),
        ("url uri link homepage website href", _FORMATS["uri"]),
        ("path image logo poster backdrop profile still avatar photo thumbnail picture",
         lambda r: "/" + "".join(r.choice(string.ascii_letters + string.digits) for _ in range(27)) + ".jpg"),
        ("date birthday deathday released", _date),
        ("at time timestamp created updated modified", _FORMATS["date-time"]),
        ("phone mobile tel", lambda r: f"+1-555-{r.randint(100, 999):03d}-{r.randint(1000, 9999):04d}"),
        ("iso_3166_1 country country_code region", lambda r: r.choice(COUNTRIES)[0]),
        ("iso_639_1 language lang locale", lambda r: r.choice(LANGUAGES)[0]),
        ("currency", lambda r: r.choice(("USD", "EUR", "GBP", "JPY"))),
        ("city town", lambda r: r.choice(CITIES)),
        ("address street", lambda r: f"{r.randint(1, 200)} {r.choice(NOUNS)} Street"),
        ("zip postal postcode", lambda r: f"{r.randint(10000, 99999)}"),
        ("overview description summary bio biography content text comment review message tagline body note",
         sentence),
        ("character author username owner director actor", _person),
        ("job role position", lambda r: r.choice(("Director", "Producer", "Writer", "Actor", "Editor", "Composer"))),
        ("department", lambda r: r.choice(("Directing", "Production", "Writing", "Acting", "Editing", "Sound"))),
        ("status state", lambda r: r.choice(("active", "pending", "completed", "released"))),
        ("type kind category genre media_type", lambda r: r.choice(NOUNS).lower()),
        ("code symbol", lambda r: "".join(r.choice(string.ascii_uppercase) for _ in range(3))),
        ("color colour", lambda r: r.choice(("red", "green", "blue", "black", "white"))),
        ("name title", lambda r: f"{r.choice(ADJECTIVES)} {r.choice(NOUNS)}"),
    )
)


def fake_string(key: str | None, schema: dict[str, Any], r: random.Random) -> str:
    fmt = schema.get("format")
    if isinstance(schema.get("pattern"), str):
        value = regex_sample(schema["pattern"], r)
        if value is not None and _length_ok(value, schema):
            return value
    if fmt in _FORMATS:
        return _FORMATS[fmt](r)
    words = key_words(key)
    joined = "_".join(words)
    for hints, maker in _STRING_HINTS:
        if joined in hints or hints & set(words):
            return _fit_length(maker(r), schema, r)
    return _fit_length(f"{r.choice(ADJECTIVES).lower()} {r.choice(NOUNS).lower()}", schema, r)


def _length_ok(value: str, schema: dict[str, Any]) -> bool:
    return schema.get("minLength", 0) <= len(value) <= schema.get("maxLength", len(value))


def _fit_length(value: str, schema: dict[str, Any], r: random.Random) -> str:
    lo, hi = schema.get("minLength"), schema.get("maxLength")
    if isinstance(lo, int) and len(value) < lo:
        value += "".join(r.choice(string.ascii_lowercase) for _ in range(lo - len(value)))
    if isinstance(hi, int) and len(value) > hi:
        value = value[:hi]
    return value


# ---- strings matching a pattern


def regex_sample(pattern: str, r: random.Random) -> str | None:
    """A string ``re.search(pattern, ...)`` accepts, for the common subset of regex syntax; None when unsure."""
    try:
        parsed = _sre.parse(pattern)
        value = "".join(_emit(parsed, r))
    except Exception:  # unsupported construct or a broken pattern: let the caller fall back
        return None
    try:
        return value if re.search(pattern, value) else None
    except re.error:
        return None


_CATEGORY_CHARS = {
    "CATEGORY_DIGIT": string.digits,
    "CATEGORY_WORD": string.ascii_letters + string.digits + "_",
    "CATEGORY_SPACE": " ",
    "CATEGORY_NOT_DIGIT": string.ascii_letters,
    "CATEGORY_NOT_WORD": "-.",
    "CATEGORY_NOT_SPACE": string.ascii_letters,
}


def _emit(items: Any, r: random.Random) -> list[str]:
    out: list[str] = []
    for op, arg in items:
        name = str(op)
        if name == "LITERAL":
            out.append(chr(arg))
        elif name == "NOT_LITERAL":
            out.append("a" if chr(arg) != "a" else "b")
        elif name == "ANY":
            out.append(r.choice(string.ascii_lowercase))
        elif name == "IN":
            out.append(_emit_in(arg, r))
        elif name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            low, high, sub = arg
            high = low + 3 if str(high) == "MAXREPEAT" or high > low + 3 else high
            for _ in range(r.randint(low, high)):
                out.extend(_emit(sub, r))
        elif name == "SUBPATTERN":
            out.extend(_emit(arg[-1], r))
        elif name == "BRANCH":
            out.extend(_emit(r.choice(arg[1]), r))
        elif name == "CATEGORY":
            out.append(r.choice(_CATEGORY_CHARS[str(arg)]))
        elif name in ("AT", "ASSERT", "ASSERT_NOT"):
            continue
        else:
            raise ValueError(f"unsupported regex construct {name}")
    return out


def _emit_in(items: Any, r: random.Random) -> str:
    chars: list[str] = []
    negate = False
    for op, arg in items:
        name = str(op)
        if name == "NEGATE":
            negate = True
        elif name == "LITERAL":
            chars.append(chr(arg))
        elif name == "RANGE":
            chars.extend(chr(c) for c in range(arg[0], min(arg[1], arg[0] + 200) + 1))
        elif name == "CATEGORY":
            chars.extend(_CATEGORY_CHARS[str(arg)])
    if negate:
        allowed = [c for c in string.ascii_letters + string.digits if c not in chars]
        return r.choice(allowed)
    return r.choice(chars)


# ---- example arguments


def documented_value(schema: dict[str, Any]) -> tuple[bool, Any]:
    """(True, value) for the first value a schema documents: examples, example, default, const, enum[0]."""
    examples = schema.get("examples")
    if isinstance(examples, list) and examples:
        return True, examples[0]
    for key in ("example", "default", "const"):
        if key in schema:
            return True, schema[key]
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return True, enum[0]
    return False, None
