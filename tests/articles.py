"""What the tests share: articles (one event told by three outlets, unrelated news of the day,
synthetic ones in bulk), the seed question, and a briefing subscription that is due."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from bot.subscriptions import DAILY, Subscription
from bot.wiring import Briefbot
from corpus.model import Article

# A news page as sites serve it: article text inside navigation, ads and comments.
ARTICLE_PAGE = Path(__file__).parent / "pages" / "article.html"
REPOSITORY = Path(__file__).resolve().parents[1]

# The question the product was designed around, about the bundled TASS article.
KIM = "What did Kim Jong Un inspect in Vladivostok?"

DAY = date(2024, 5, 10)


def at(hour: int, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


VOLCANO = [
    Article(
        title="Volcano erupts near Grindavik, lava reaches the town",
        source="Reykjavik Daily",
        url="https://rd.example/volcano",
        published_at=at(6),
        text="A volcano on Iceland's Reykjanes peninsula erupted early on Friday, sending lava "
        "into the edge of the fishing town of Grindavik. The town had been evacuated on Thursday "
        "after a swarm of earthquakes. Three houses caught fire, the civil protection agency said.",
    ),
    Article(
        title="Iceland eruption: lava flows into evacuated Grindavik",
        source="Nordic Wire",
        url="https://nw.example/iceland-eruption",
        published_at=at(9),
        text="Lava from a new volcanic eruption on the Reykjanes peninsula flowed into Grindavik "
        "on Friday, setting several homes on fire. Residents of the town were evacuated a day "
        "earlier as earthquakes shook the area. Flights at Keflavik airport were not affected.",
    ),
    Article(
        title="Grindavik homes burn as Reykjanes volcano erupts again",
        source="Atlantic Post",
        url="https://ap.example/grindavik",
        published_at=at(12),
        text="Homes in Grindavik burned on Friday after a volcano on the Reykjanes peninsula "
        "erupted for the fourth time since December. The evacuated town's defensive walls "
        "diverted most of the lava, officials said, but some flowed past the barriers.",
    ),
]
# The eruption's story on the next day, from another outlet.
VOLCANO_NEXT_DAY = Article(
    title="Grindavik eruption slows, scientists say",
    source="Science Now",
    url="https://sn.example/grindavik-slows",
    published_at=at(8, DAY + timedelta(days=1)),
    text="The eruption near Grindavik on the Reykjanes peninsula slowed on Saturday, "
    "scientists said, a day after lava reached the evacuated town and set homes on fire.",
)
OTHERS = [
    Article(
        title="Central bank holds interest rates at 4.5 percent",
        source="Money Wire",
        url="https://mw.example/rates",
        published_at=at(10),
        text="The central bank kept its main interest rate at 4.5 percent on Friday, saying "
        "inflation was falling more slowly than expected. Economists had predicted the decision.",
    ),
    Article(
        title="City wins the cup final on penalties",
        source="Sports Desk",
        url="https://sd.example/cup",
        published_at=at(20),
        text="City won the cup final on penalties after a goalless draw, with their goalkeeper "
        "saving two spot kicks in front of a crowd of 80,000 at the national stadium.",
    ),
]


WORDS = (
    "harbour",
    "council",
    "railway",
    "budget",
    "minister",
    "festival",
    "drought",
    "vaccine",
    "election",
    "court",
    "bridge",
    "museum",
    "strike",
    "satellite",
    "orchestra",
    "glacier",
    "tariff",
    "refinery",
    "stadium",
    "parliament",
    "volcano",
    "senate",
    "lottery",
    "telescope",
    "pipeline",
    "ferry",
    "cathedral",
    "mayor",
    "airline",
    "border",
    "reactor",
    "vineyard",
    "hospital",
    "library",
    "factory",
    "protest",
    "treaty",
    "summit",
    "wildfire",
    "harvest",
    "tunnel",
    "monsoon",
    "bank",
    "embassy",
    "marathon",
    "earthquake",
    "election",
    "school",
    "laboratory",
    "shipyard",
    "casino",
    "canal",
    "copper",
)


def synthetic_articles(count: int, *, seed: int, words: int) -> list[dict[str, str]]:
    """Distinct short articles (random word soups are far from near-duplicates of each other)."""
    rng = random.Random(seed)
    return [
        {
            "title": f"Report {seed}-{number}",
            "text": " ".join(rng.choice(WORDS) for _ in range(words)) + ".",
            "url": f"https://news.example/{seed}/{number}",
        }
        for number in range(count)
    ]


def subscribe_due_now(bot: Briefbot, *, platform: str, channel: str) -> None:
    """A daily briefing due a minute ago and never delivered."""
    minute_ago = datetime.now(UTC) - timedelta(minutes=1)
    bot.subscriptions.subscribe(
        Subscription(
            platform=platform,
            channel=channel,
            time=minute_ago.time().replace(second=0, microsecond=0),
            timezone="UTC",
            days=DAILY,
        )
    )


# A question about the sample corpus's biggest story, and a follow-up that means "after it".
LONDON = "Who claimed responsibility for the London bombings?"
NEXT = "what happened next?"
