"""The entity rules with no model call (`ciagent.steps.entities`): names, not phrases; one entity
per thing; types the transcript's own words give."""

from __future__ import annotations

from ciagent.evals.metrics import entity_prf, typed_share
from ciagent.steps.entities import tidy_entities
from ciagent.steps.entity_types import roster
from ciagent.types import Entity, EntityType, Mention, Segment, Transcript
from ciagent.vocabulary import is_amount, is_role, not_metadata

LINES = [
    "Welcome to Iron and Stone, a history podcast about the things people built.",
    "The job passed to his son, Washington Roebling, who was thirty-two.",
    "Emily was Washington's wife.",
    "This is where Emily Warren Roebling comes in.",
    "Later Emily Warren Roebling rode across in a carriage.",
    "Yes, and with NOAA, the National Oceanic and Atmospheric Administration.",
    "There's a book, The Devil's Teeth by Susan Casey, about white sharks.",
    "Tagging is the hard part, and environmental DNA helps.",
    "We will sell it at twenty five Euros.",
    "The biggest buyer is Counter Culture Coffee in Durham, and Counter Culture pays well.",
    "She had grown up in Cold Spring, New York, the sister of a general.",
    "During the marine heatwave people called the Blob, sharks moved north.",
    "The cooperative worked with Cenicafé, the research center of the federation.",
    "They replanted with a rust-resistant variety called Castillo.",
    "Thank you, Bethan, for that answer.",
    "It's good to talk with someone who doesn't ask about the movie Jaws.",
    "The paper came out in Nature in March, with the data online.",
    "The Farallones are just outside San Francisco.",
    "We tagged sharks off the Farallon Islands for years.",
]
TRANSCRIPT = Transcript(
    segments=tuple(
        Segment(id=i, start=i * 5.0, end=i * 5.0 + 4, speaker="Host", text=t)
        for i, t in enumerate(LINES)
    ),
    timed=True,
    format="txt",
)


def said(
    name: str, kind: EntityType, *where: tuple[int, str], aliases: tuple[str, ...] = ()
) -> Entity:
    """An entity mentioned at each (segment, text) of `where`, as grounding would place it."""
    mentions = []
    for segment_id, text in where:
        line = LINES[segment_id]
        start = line.index(text)
        mentions.append(
            Mention(
                segment_ids=[segment_id],
                start=segment_id * 5.0,
                end=segment_id * 5.0 + 4,
                text=text,
                char_start=start,
                char_end=start + len(text),
            )
        )
    return Entity(name=name, type=kind, aliases=list(aliases), mentions=mentions)


def tidy(*entities: Entity, speakers: tuple[str, ...] = ()) -> dict[str, Entity]:
    return {e.name: e for e in tidy_entities(list(entities), TRANSCRIPT, speakers)}


def test_phrases_the_model_took_for_names_are_dropped() -> None:
    kept = tidy(
        said("Tagging", EntityType.PRODUCT, (7, "Tagging")),  # capital only to start a sentence
        said("Environmental DNA", EntityType.PRODUCT, (7, "environmental DNA")),
        said("Twenty five Euros", EntityType.PRODUCT, (8, "twenty five Euros")),
        said("university", EntityType.PRODUCT, (0, "Iron")),  # the model wrote no name
        said("Durham", EntityType.PLACE, (9, "Durham")),
    )
    assert list(kept) == ["Durham"]


def test_a_work_and_its_author_are_two_entities() -> None:
    kept = tidy(
        said("Devil's Teeth by Susan Casey", EntityType.PERSON, (6, "Devil's Teeth by Susan Casey"))
    )
    assert kept["The Devil's Teeth"].type is EntityType.WORK
    assert kept["Susan Casey"].type is EntityType.PERSON
    [mention] = kept["Susan Casey"].mentions
    assert LINES[6][mention.char_start : mention.char_end] == "Susan Casey"


def test_an_acronym_joins_what_it_abbreviates() -> None:
    kept = tidy(
        said("NOAA", EntityType.ORGANIZATION, (5, "NOAA")),
        said(
            "National Oceanic and Atmospheric Administration",
            EntityType.ORGANIZATION,
            (5, "National Oceanic and Atmospheric Administration"),
        ),
    )
    assert list(kept) == ["National Oceanic and Atmospheric Administration"]
    assert kept["National Oceanic and Atmospheric Administration"].aliases == ["NOAA"]
    assert len(kept["National Oceanic and Atmospheric Administration"].mentions) == 2


def test_a_first_name_is_the_one_person_it_names_also_a_voice_of_the_transcript() -> None:
    kept = tidy(
        said("Washington Roebling", EntityType.ORGANIZATION, (1, "Washington Roebling")),
        said("Washington", EntityType.PLACE, (2, "Washington")),
        said("Bethan", EntityType.PLACE, (14, "Bethan")),
        speakers=("Bethan Owen AM", "PhD B", "Hon. Bill Blair (Minister of Finance)"),
    )
    # "his son, Washington Roebling": a person, and "Washington" alone is him
    assert kept["Washington Roebling"].type is EntityType.PERSON
    assert kept["Washington Roebling"].aliases == ["Washington"]
    assert kept["Bethan Owen"].type is EntityType.PERSON
    assert "Washington" not in kept
    assert "Bethan" not in kept


def test_a_name_cut_short_gets_its_first_word_back() -> None:
    kept = tidy(
        said("Warren Roebling", EntityType.PERSON, (3, "Warren Roebling"), (4, "Warren Roebling"))
    )
    assert list(kept) == ["Emily Warren Roebling"]
    assert {
        LINES[m.segment_ids[0]][m.char_start : m.char_end]
        for m in kept["Emily Warren Roebling"].mentions
    } == {"Emily Warren Roebling"}


def test_part_of_a_name_taken_for_a_person_joins_the_name() -> None:
    kept = tidy(
        said("Counter Culture Coffee", EntityType.ORGANIZATION, (9, "Counter Culture Coffee")),
        said("Counter Culture", EntityType.PERSON, (9, "Counter Culture pays")),
    )
    assert list(kept) == ["Counter Culture Coffee"]


def test_the_words_beside_a_name_type_it() -> None:
    kept = tidy(
        said("Iron and Stone", EntityType.ORGANIZATION, (0, "Iron and Stone")),
        said("Cold Spring", EntityType.EVENT, (10, "Cold Spring")),
        said("New York", EntityType.PLACE, (10, "New York")),
        said("Blob", EntityType.PERSON, (11, "Blob")),
        said("Cenicafé", EntityType.PLACE, (12, "Cenicafé")),
        said("Castillo", EntityType.WORK, (13, "Castillo")),
    )
    assert kept["Iron and Stone"].type is EntityType.WORK  # ", a history podcast"
    assert kept["Cold Spring"].type is EntityType.PLACE  # ", New York"
    assert kept["New York"].type is EntityType.PLACE  # ", the sister of": about someone else
    assert kept["Blob"].type is EntityType.EVENT  # "heatwave people called the Blob"
    assert kept["Cenicafé"].type is EntityType.ORGANIZATION  # ", the research center of"
    assert kept["Castillo"].type is EntityType.PRODUCT  # "variety called Castillo"


def test_a_noun_before_a_name_or_where_a_paper_came_out_types_it() -> None:
    kept = tidy(
        said("Jaws", EntityType.PRODUCT, (15, "Jaws")),
        said("Nature", EntityType.PLACE, (16, "Nature")),
        said("San Francisco", EntityType.PLACE, (17, "San Francisco")),
    )
    assert kept["Jaws"].type is EntityType.WORK  # "the movie Jaws"
    assert kept["Nature"].type is EntityType.WORK  # "the paper came out in Nature"
    assert kept["San Francisco"].type is EntityType.PLACE  # "just outside": no cue, kept


def test_a_group_of_places_called_for_short_is_the_group() -> None:
    kept = tidy(
        said("Farallon Islands", EntityType.PLACE, (18, "Farallon Islands")),
        said("Farallones", EntityType.ORGANIZATION, (17, "Farallones")),
        said("San Francisco", EntityType.PLACE, (17, "San Francisco")),
    )
    assert list(kept) == ["Farallon Islands", "San Francisco"]
    assert kept["Farallon Islands"].aliases == ["Farallones"]
    assert len(kept["Farallon Islands"].mentions) == 2


def test_head_nouns_honorifics_and_digits_type_a_name() -> None:
    kept = tidy(
        said("Counter Culture Coffee", EntityType.PERSON, (9, "Counter Culture Coffee")),
        said("Mr. Durham", EntityType.PLACE, (9, "Durham")),
        said("COVID-19", EntityType.PERSON, (9, "Counter")),
    )
    assert kept["Mr. Durham"].type is EntityType.PERSON
    assert kept["COVID-19"].type is EntityType.OTHER


def test_roster_keeps_names_of_voices_not_labels_or_offices() -> None:
    people = roster(
        [
            "Hon. Bill Blair (Minister of Public Safety)",
            "Bethan Owen AM",
            "PhD B",
            "Professor A",
            "Mr. Chair",
        ]
    )
    assert sorted(people.values()) == ["Bethan Owen", "Bill Blair"]


def test_offices_amounts_and_roles_are_not_metadata() -> None:
    for phrase in (
        "Minister of Finance",
        "Mr.Chair",
        "the Auditor General",
        "Assembly Member for Carmarthen West",
    ):
        assert is_role(phrase), phrase
        assert not_metadata(phrase), phrase
    for phrase in ("Bank of England", "University of British Columbia", "Treasury Board"):
        assert not is_role(phrase), phrase
    for amount in ("Twenty five Euros", "twelve and a half Euro", "$15"):
        assert is_amount(amount), amount
    for name in ("Formula One", "Apollo 11", "COVID-19"):
        assert not is_amount(name), name


def test_entity_scores_count_an_alias_once() -> None:
    gold = [("NOAA", "organization"), ("Sarah Chen", "person")]
    predicted = [
        ("National Oceanic and Atmospheric Administration", "organization", ["NOAA"]),
        ("NOAA", "organization", []),  # a second entity for the same gold one is not a match
    ]
    found = entity_prf(predicted, gold)
    assert (found.precision, found.recall) == (0.5, 0.5)
    assert typed_share([("Ocean Agency", "place", ["NOAA"])], gold) == 0.0


def test_a_topic_that_is_a_name_cut_short_is_no_subject() -> None:
    from ciagent.steps.merge import subjects
    from ciagent.types import Topic

    lab = said(
        "California State University Long Beach Shark Lab",
        EntityType.ORGANIZATION,
        (9, "Counter Culture Coffee"),
    )
    topics = [
        Topic(name="California State University Long Beach Shark", score=0.5),
        Topic(name="white shark tagging", score=0.3),
        Topic(name="Shark", score=0.2),  # one word: a subject as much as a name's part
    ]
    kept = subjects(topics, [lab])
    assert [t.name for t in kept] == ["white shark tagging", "Shark"]


def test_a_topic_made_of_names_is_no_subject() -> None:
    from ciagent.steps.merge import subjects
    from ciagent.types import Topic

    book = said("The Devil's Teeth", EntityType.WORK, (6, "The Devil's Teeth"))
    author = said("Susan Casey", EntityType.PERSON, (6, "Susan Casey"))
    topics = [
        Topic(name="Devil's Teeth by Susan Casey", score=0.5),
        Topic(name="Susan Casey's shark research", score=0.3),  # a name and a subject
        Topic(name="white sharks", score=0.2),
    ]
    kept = subjects(topics, [book, author])
    assert [t.name for t in kept] == ["Susan Casey's shark research", "white sharks"]


def test_articles_are_written_as_a_person_writes_them() -> None:
    from ciagent.prose import with_articles

    assert with_articles("She built a underwater robot and a app.") == (
        "She built an underwater robot and an app."
    )
    for kept in ("a university", "a one-off", "a European", "a user", "a US lab", "a hat"):
        assert with_articles(kept) == kept
    assert with_articles("a Oakland studio, a hour") == "an Oakland studio, an hour"


def test_vague_phrases_are_no_titles_or_topics() -> None:
    from ciagent.vocabulary import is_vague

    for vague in (
        "Thirty minutes",
        "Six weeks on a ship",
        "200,000 applicants",
        "1860s",
        "Good result",
        "Small camera",
        "Own remote control",
        "plans you're developing",
        "financial element of that",
    ):
        assert is_vague(vague), vague
    for subject in (
        "White shark tagging",
        "New remote control design",
        "Brooklyn caisson",
        "First World War",
        "Longest suspension bridge",
    ):
        assert not is_vague(subject), subject


def test_a_quote_is_a_whole_statement_not_hosting_or_scraps() -> None:
    from ciagent.prose import quotable

    assert quotable(
        "We did. Our engineers built an autonomous vehicle we call the Tethys. It's a long-range"
        " robot that can stay at sea for weeks."
    )
    for scrap in (
        "Welcome to Iron and Stone, a history podcast about the things people built.",
        "We'll go to Mr. Nater next, and then to the member for Carleton.",
        "Tomás, you visited them in June, and you met the farmers there.",
        "I'm Maya Okafor, recording from our studio in Oakland today.",
        "I guess so . Radio two . Hmm . Radio two",
        "we will sell the t at twenty five Euros to the retailers",
        "So what would you say is the hardest part of tagging a shark?",
        "So that could be a great um {vocalsound} application",
    ):
        assert not quotable(scrap), scrap


def test_a_summary_speaks_of_the_episode_not_of_its_lines() -> None:
    from ciagent.prose import as_episode

    assert as_episode("The transcript lines describe the farmers' year.") == (
        "The episode describes the farmers' year."
    )
    assert as_episode("Transcript lines discuss the budget.") == "The episode discusses the budget."
    assert as_episode("This transcript outlines the plan.") == "This episode outlines the plan."
    assert as_episode("Sarah Chen tags sharks.") == "Sarah Chen tags sharks."
