"""One vocabulary of words that are never metadata: function words, conversational fillers, and
the roles and labels people are given in a recording.

Every step that keeps or drops a phrase asks the same questions here: is it filler ("Yeah, like,
mean"), a role or a speaker label ("Project Manager", "the host", "PhD B", "M_E_"), or a phrase
with something to say? Words are compared casefolded, with apostrophes kept ("'cause").
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "CONNECTORS",
    "FILLERS",
    "HESITATIONS",
    "OFFICE_WORDS",
    "ROLE_WORDS",
    "STOPWORDS",
    "UNITS",
    "is_amount",
    "is_filler",
    "is_role",
    "is_speaker_label",
    "is_vague",
    "listed",
    "meaningful_words",
    "not_metadata",
    "stems",
    "words",
]


def listed(text: str) -> list[str]:
    """The words of a literal word list written as one string."""
    return text.split()


STOPWORDS = frozenset(
    listed(
        """
        a an the and or but nor if so as at by for from in into of off on onto out over per to
        up with within without about above across after against along among around before behind
        below beneath beside between beyond down during except inside near since than through
        toward towards under until upon via this that these those there here where when which
        who whom whose what why how its it it's his her hers him he she they them their theirs
        our ours we us you your yours i me my mine myself itself themselves is are was were be
        been being am do does did done have has had having will would shall should can could may
        might must not no yes all any both each few more most other some such only own same too
        very then also just than whether while because again ever even still yet much many lot
        lots every another anyone someone something anything everything nothing one ones let
        lets get gets got
        """
    )
)
"""Function words: they carry no subject of their own."""

FILLERS = frozenset(
    listed(
        """
        um umm uh uhh uh-huh uhhuh erm er ah ahh oh ooh hmm hm mm mmm mhm mm-hmm yeah yea yep
        yup yes no nope okay ok alright right like mean know cause 'cause cos kind sort kinda
        sorta so well actually basically really literally totally exactly sure anyway anyways
        gonna wanna gotta guess think stuff thing things hey wow huh whatever fine good great
        cool oh-oh ha haha laugh laughs say said says go goes going went gone see look thanks
        thank whoo woo wah ho oops yay gosh geez jeez damn shit mm-mm uh-uh hmm-mm
        """
    )
)
"""Conversational fillers and the verbs of talk around them ("I mean", "you know", "kind of",
"I guess", "so yeah"): a phrase made only of these and function words says nothing."""

HESITATIONS = frozenset(listed("uh uhh um umm erm er ah ahh mm mmm hmm"))
"""Sounds of hesitation: a phrase holding one is no title, a line holding two no quote."""

ROLE_WORDS = frozenset(
    listed(
        """
        host hosts co-host cohost guest guests speaker speakers interviewer interviewee narrator
        moderator presenter caller callers listener listeners audience panelist panel chair
        chairman chairperson participant participants member members manager managers designer
        designers expert experts engineer engineers marketing industrial interface user users
        project projects lead leader director team professor prof phd ph.d postdoc grad graduate
        student students researcher researchers facilitator secretary assistant everybody
        everyone folks guys people person somebody man woman mister mr mrs ms dr doctor sir
        madam
        """
    )
)
"""Words that name a role in the conversation rather than who holds it."""

OFFICE_WORDS = frozenset(
    listed(
        """
        minister ministers president vice secretary chancellor premier mayor governor senator
        commissioner auditor attorney general deputy acting chief officer ceo cfo spokesperson
        spokesman spokeswoman representative hon honourable honorable
        """
    )
)
"""Offices and titles: a role too ("the Auditor General", "Minister of Finance", "Mr. Chair"),
unless a name is attached."""

CONNECTORS = frozenset(
    listed("of the and for on in at de del della der di du da la le van von y e & 's")
)
"""Words that may sit lowercase inside a name ("Bank of England", "Leonardo da Vinci")."""

UNITS = frozenset(
    listed(
        """
        euro euros dollar dollars pound pounds cent cents yen pence quid percent per cent buck
        bucks
        """
    )
)
"""Units of money and shares: a phrase of numbers and these is an amount, not a name."""

_NUMBER_WORDS = frozenset(
    listed(
        """
        zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen
        fifteen sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty
        ninety hundred hundreds thousand thousands million millions billion billions trillion
        half quarter point
        """
    )
)

_WORD = re.compile(r"[\w][\w'\u2019.-]*")
_LABEL = re.compile(
    r"^(?:[a-z](?:_[a-z])+_?|(?:speaker|spk|participant|person|voice|guest|host|phd|grad|"
    r"professor|student)[\s_-]*[a-z0-9]{0,2}|[a-z]{1,3}\d+)$"
)


def words(text: str) -> list[str]:
    """The text's words, casefolded, with inner apostrophes, hyphens and dots kept."""
    return [w.strip(".-'\u2019").replace("\u2019", "'") for w in _WORD.findall(text.casefold())]


def meaningful_words(text: str) -> list[str]:
    """The words that are neither function words nor fillers."""
    return [w for w in words(text) if w and w not in STOPWORDS and w not in FILLERS]


def stems(text: str) -> set[str]:
    """The text's meaningful words cut to a five-letter stem: what overlap is counted in."""
    return {w[:5] for w in meaningful_words(text)}


def is_filler(text: str) -> bool:
    """Nothing but fillers and function words ("Yeah, like, mean", "you know", "Right.")."""
    return not meaningful_words(text)


def is_speaker_label(text: str, speakers: Iterable[str] = ()) -> bool:
    """A transcript's label for a voice ("PhD B", "Speaker 2", "M_E_"), or one of `speakers`
    that is itself no name (a label made of role words)."""
    key = " ".join(words(text))
    if not key:
        return False
    if _LABEL.match(key) or _LABEL.match(text.strip().casefold()):
        return True
    labels = {" ".join(words(s)) for s in speakers}
    return key in labels and is_role(text)


_FIGURE = re.compile(r"^\d[\d.,]*%?$|^\d+'?s$")  # "15", "2.5%", a decade: "1860s", "90's"
_OFFICE_OF = re.compile(r"^(?P<office>.+?)\s+(?:of|for)\s+\S")


def is_role(text: str) -> bool:
    """Only role and office words, fillers and function words, with at least one role word
    ("Project Manager", "the host", "the User Interface", "our marketing expert", "Mr.Chair"), or
    an office of something ("Minister of Finance", "Assembly Member for Carmarthen West")."""
    spaced = text.replace(".", " ")
    found = [w for w in words(spaced) if w not in STOPWORDS and w not in FILLERS]
    roles = ROLE_WORDS | OFFICE_WORDS
    if found and all(w in roles for w in found):
        return True
    office = _OFFICE_OF.match(spaced.strip())
    head = words(office.group("office")) if office else []
    return bool(head) and head[-1] in roles


_VAGUE_MODIFIERS = frozenset(
    listed(
        """
        good bad big small little large particular certain own next last first same other
        whole main general various different real nice great huge new old few such entire
        specific managed
        """
    )
)
_PERSONAL = frozenset(
    listed(
        """
        i i'm i've me my we we're we've our us you you're you've your he he's his him she she's
        her they they're they've their them it it's that's
        """
    )
)


def is_vague(text: str) -> bool:
    """A phrase too vague for a title or a topic, though it has words that mean something: a
    quantity or a decade ("Thirty minutes", "Six weeks on a ship", "1860s"), a vague word and a
    noun ("Good result", "Small camera", "Own remote control"), a phrase with a person in it
    ("plans you're developing") or that trails off ("financial element of that")."""
    found = words(text)
    if not found:
        return False
    first = found[0]
    if first in _NUMBER_WORDS - {"point"} or _FIGURE.match(first):
        return True
    named = all(w[:1].isupper() for w in text.split())  # "First World War", "Next Generation"
    if first in _VAGUE_MODIFIERS and len(found) <= 3 and not named:
        return True
    return any(w in _PERSONAL for w in found) or found[-1] in STOPWORDS


def is_amount(text: str) -> bool:
    """Numbers and units of money only ("Twenty five Euros", "twelve and a half Euro", "$15")."""
    found = [w for w in words(text.replace("$", " ")) if w not in STOPWORDS]
    counted = [w for w in found if w in _NUMBER_WORDS or _FIGURE.match(w)]
    return bool(counted) and all(w in _NUMBER_WORDS or w in UNITS or w in counted for w in found)


def not_metadata(text: str, speakers: Iterable[str] = ()) -> bool:
    """A phrase that must never be a title, topic or entity: filler, a role, a voice label, or
    no word at all ("1869")."""
    if not any(c.isalpha() for c in text):
        return True
    return is_filler(text) or is_role(text) or is_speaker_label(text, speakers)
