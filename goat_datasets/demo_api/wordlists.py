"""Word lists the demo world is assembled from.

Titles, names and places are combined from these lists by a seeded generator, so the demo needs no real (and possibly
copyrighted) catalogue data, yet reads plausibly enough for an LLM to write natural queries about it.
"""

from __future__ import annotations

GENRES: tuple[str, ...] = (
    "Action",
    "Adventure",
    "Animation",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Horror",
    "Mystery",
    "Romance",
    "Science Fiction",
    "Thriller",
)

TITLE_ADJECTIVES: tuple[str, ...] = (
    "Silent", "Crimson", "Hidden", "Broken", "Golden", "Midnight", "Frozen", "Burning", "Distant", "Restless",
    "Hollow", "Electric", "Paper", "Velvet", "Wild", "Lonely", "Iron", "Glass", "Northern", "Forgotten",
)

TITLE_NOUNS: tuple[str, ...] = (
    "Harbor", "Orchard", "Signal", "Lantern", "Tide", "Garden", "Echo", "Kingdom", "Station", "Compass",
    "River", "Mirror", "Summer", "Horizon", "Letter", "Circus", "Engine", "Island", "Crown", "Storm",
    "Meadow", "Archive", "Voyage", "Canyon", "Melody", "Frontier", "Shadow", "Lighthouse", "Carnival", "Orbit",
)

TITLE_PLACES: tuple[str, ...] = (
    "Paris", "the Valley", "Lisbon", "the North", "Tangier", "the City", "Avalon", "the Desert", "Vienna", "the Bay",
)

TITLE_TIMES: tuple[str, ...] = ("Midnight", "Dawn", "Dusk", "Noon", "Winter", "High Tide", "First Light")

# Templates use {adj}, {noun}, {noun2}, {place}, {time}; nouns are pluralised by adding "s" where a template says so.
TITLE_TEMPLATES: tuple[str, ...] = (
    "The {adj} {noun}",
    "{adj} {noun}",
    "The {noun} of {place}",
    "{noun}s at {time}",
    "The Last {noun}",
    "A {noun} in {place}",
    "{noun} and {noun2}",
    "Beyond the {adj} {noun}",
)

FIRST_NAMES: tuple[str, ...] = (
    "Ada", "Bruno", "Celia", "Dario", "Elena", "Felix", "Greta", "Hugo", "Ines", "Jonas", "Kira", "Luca", "Maren",
    "Nico", "Olga", "Pavel", "Quinn", "Rosa", "Stellan", "Tamsin", "Ugo", "Vera", "Wendell", "Xenia", "Yara",
    "Zoltan", "Amara", "Bastian", "Clio", "Desmond", "Esme", "Florian", "Gianna", "Henrik", "Isolde", "Jasper",
)

LAST_NAMES: tuple[str, ...] = (
    "Abernathy", "Bellweather", "Castellano", "Dunmore", "Eriksen", "Fairbanks", "Galloway", "Hartmann", "Ivanova",
    "Jablonski", "Kowalczyk", "Lindqvist", "Marchetti", "Novak", "Okafor", "Pellegrini", "Quarles", "Rasmussen",
    "Santoro", "Thorne", "Underhill", "Valdivia", "Whitlock", "Yamamura", "Zeller", "Ashcombe", "Brightwell",
    "Carrow", "Delacroix", "Everly",
)

CITY_NAMES: tuple[str, ...] = (
    "Port Elmsworth", "Northvale", "Brightwater", "Kestrel Bay", "Ashford Hollow", "Marlow Ridge", "Silverlake",
    "Dunmore Cross", "Fenwick", "Coldharbour", "Ravensmoor", "Westbrook",
)

REGIONS: tuple[str, ...] = ("Coastal Province", "Highlands", "River Delta", "Lake District", "Central Plains")

CINEMA_BRANDS: tuple[str, ...] = (
    "Grand Palace", "Starlight", "Reel House", "Silver Screen", "Picturedrome", "Majestic", "Paragon", "Lumen",
)

STREETS: tuple[str, ...] = (
    "Harbour", "Market", "Station", "Elm", "Canal", "Mill", "Chapel", "Bridge", "Kings", "Orchard", "Foundry", "Quay",
)

STREET_SUFFIXES: tuple[str, ...] = ("Street", "Road", "Lane", "Avenue", "Square")

AMENITIES: tuple[str, ...] = ("IMAX", "3D", "wheelchair access", "parking", "bar", "recliner seats", "kids club")

LANGUAGES: tuple[str, ...] = ("English", "English", "English", "French", "Spanish", "Italian", "Japanese", "German")

PROFESSIONS: tuple[str, ...] = (
    "retired detective", "young cartographer", "struggling violinist", "lighthouse keeper", "rookie journalist",
    "disgraced chef", "botanist", "former boxer", "night-shift nurse", "small-town mayor", "ship's engineer",
)

GENRE_PLOTS: dict[str, tuple[str, ...]] = {
    "Action": ("must stop a heist that spans three countries", "is pulled into a chase across rooftops"),
    "Adventure": ("sets out to find a lost expedition", "follows an old map into uncharted mountains"),
    "Animation": ("befriends a talking fox on a journey home", "discovers a hidden world under the floorboards"),
    "Comedy": ("accidentally books two weddings on the same day", "inherits a failing circus"),
    "Crime": ("uncovers a smuggling ring at the docks", "is framed for a robbery they did not commit"),
    "Documentary": ("follows the last working ferry on the coast", "records a year inside a family bakery"),
    "Drama": ("returns home to care for an ailing parent", "must choose between ambition and family"),
    "Fantasy": ("learns that the old orchard grants wishes", "is chosen to guard an enchanted crown"),
    "Horror": ("hears voices in a house that should be empty", "finds that the town's fog never lifts"),
    "Mystery": ("investigates a letter delivered forty years late", "tries to explain a vanished island"),
    "Romance": ("falls for a rival at a summer music festival", "trades letters with a stranger in another city"),
    "Science Fiction": ("receives a signal from a colony thought lost", "wakes up aboard a drifting station"),
    "Thriller": ("witnesses a crime from a night train", "races to decode a warning before dawn"),
}

CHARACTER_ROLES: tuple[str, ...] = (
    "Detective", "Captain", "Doctor", "Professor", "Agent", "Mayor", "Sister", "Uncle", "Officer", "Madame",
)

USERNAME_PREFIXES: tuple[str, ...] = (
    "cinephile", "popcorn", "reelfan", "nightowl", "filmbuff", "matinee", "frame", "plotwatcher",
)

USERNAME_SUFFIXES: tuple[str, ...] = (
    "ana", "ben", "cora", "dev", "eli", "fay", "gus", "hana", "ivo", "jo", "kat", "leo",
)

REVIEW_HEADLINES: dict[str, tuple[str, ...]] = {
    "high": ("An instant favourite", "Worth every minute", "Beautifully made", "Stayed with me for days"),
    "mid": ("Good, not great", "Solid evening out", "Uneven but charming", "Decent with a weak ending"),
    "low": ("Not for me", "Dragged on", "A missed opportunity", "Could not connect with it"),
}

REVIEW_SENTENCES: dict[str, tuple[str, ...]] = {
    "high": (
        "The performances are superb and the score is unforgettable.",
        "Every scene feels carefully crafted.",
        "I would happily watch it again in the cinema.",
    ),
    "mid": (
        "The first half is gripping but the pacing slips later on.",
        "Some lovely moments, though the script plays it safe.",
        "Worth a look if you enjoy the genre.",
    ),
    "low": (
        "The plot never quite comes together.",
        "Too long by at least half an hour.",
        "The lead deserved a better script.",
    ),
}

WEATHER_CONDITIONS: tuple[str, ...] = (
    "sunny", "partly cloudy", "cloudy", "light rain", "heavy rain", "thunderstorms", "windy", "fog",
)
