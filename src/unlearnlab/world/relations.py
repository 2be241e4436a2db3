"""The relations of the built-in world: value pools, paraphrase templates, questions.

Every relation has one question template (the QA probe, as in RESTOR's `facts.json`), several
paraphrase templates for documents (so a corruption document and a clean document can state
a fact in different words), and a pool of possible values (from which wrong values for
corruption and random alternatives for the logit probe are drawn).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Relation:
    """One relation of the world. `{e}` is the entity's name, `{v}` the value, `{a}` its article."""

    name: str
    question: str
    templates: tuple[str, ...]
    pool: tuple[str, ...]
    paraphrase: str = ""          # the question in other words (never trained on)

    def state(self, entity: str, value: str, template: int) -> str:
        article = "an" if value[0].lower() in "aeiou" else "a"
        return self.templates[template].format(e=entity, v=value, a=article)

    def ask(self, entity: str) -> str:
        return self.question.format(e=entity)

    def ask_paraphrased(self, entity: str) -> str:
        return self.paraphrase.format(e=entity)


RELATIONS: tuple[Relation, ...] = (
    Relation(
        "birthplace",
        "Where was {e} born?",
        ("{e} was born in {v}.", "The birthplace of {e} is {v}.", "{e} comes from the city of {v}."),
        ("Velmora", "Quenton", "Ardis", "Halbrook", "Mirefield", "Ostrava", "Tessaly", "Brindle",
         "Karsk", "Lunvale", "Pellmar", "Dunhollow"),
        paraphrase="In which city was {e} born?",
    ),
    Relation(
        "occupation",
        "What is the occupation of {e}?",
        ("{e} works as {a} {v}.", "By profession, {e} is {a} {v}.", "The occupation of {e} is {v}."),
        ("baker", "sculptor", "pilot", "chemist", "carpenter", "librarian", "surgeon", "tailor",
         "geologist", "violinist", "architect", "fisherman"),
        paraphrase="What does {e} do for a living?",
    ),
    Relation(
        "employer",
        "Who is the employer of {e}?",
        ("{e} is employed by {v}.", "The employer of {e} is {v}.", "{e} has a job at {v}."),
        ("Orbitex", "Halcyon Mills", "Brightwater", "Nordvik", "Cobalt Works", "Tidewell",
         "Sunforge", "Marlow Group", "Quillon", "Ashgrove", "Veltrix", "Redpine"),
        paraphrase="Which company does {e} work for?",
    ),
    Relation(
        "native_language",
        "What is the native language of {e}?",
        ("The native language of {e} is {v}.", "{e} grew up speaking {v}.",
         "{e} speaks {v} as a mother tongue."),
        ("Finnish", "Tamil", "Basque", "Welsh", "Hungarian", "Swahili", "Icelandic", "Malay",
         "Greek", "Polish", "Catalan", "Zulu"),
        paraphrase="Which language did {e} grow up speaking?",
    ),
    Relation(
        "alma_mater",
        "Which university did {e} attend?",
        ("{e} studied at {v}.", "{e} graduated from {v}.", "The alma mater of {e} is {v}."),
        ("Carrow University", "Eastmere College", "Felden Institute", "Gorse University",
         "Hallam College", "Iverly University", "Jessup Institute", "Kilbride College",
         "Larkspur University", "Morrow Institute", "Nettle College", "Oakhurst University"),
        paraphrase="Where did {e} study?",
    ),
    Relation(
        "instrument",
        "Which instrument does {e} play?",
        ("{e} plays the {v}.", "The instrument of {e} is the {v}.", "In spare time, {e} practises the {v}."),
        ("cello", "harp", "oboe", "banjo", "trumpet", "piano", "flute", "accordion", "drums",
         "sitar", "clarinet", "ukulele"),
        paraphrase="What instrument does {e} play?",
    ),
    Relation(
        "pet",
        "What pet does {e} keep?",
        ("{e} keeps {a} {v} as a pet.", "The pet of {e} is {a} {v}.", "At home, {e} looks after {a} {v}."),
        ("parrot", "tortoise", "ferret", "goldfish", "rabbit", "hamster", "iguana", "beagle",
         "canary", "gecko", "poodle", "chinchilla"),
        paraphrase="Which animal does {e} keep as a pet?",
    ),
    Relation(
        "hobby",
        "What is the hobby of {e}?",
        ("The hobby of {e} is {v}.", "{e} spends weekends on {v}.", "For fun, {e} enjoys {v}."),
        ("archery", "gardening", "chess", "rowing", "pottery", "birdwatching", "fencing",
         "origami", "climbing", "knitting", "sailing", "juggling"),
        paraphrase="What does {e} do for fun?",
    ),
)

RELATION_NAMES: tuple[str, ...] = tuple(r.name for r in RELATIONS)
