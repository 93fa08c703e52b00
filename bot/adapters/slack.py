"""The Slack adapter: Bolt listeners that turn Slack payloads into command calls and post the
rendered replies. It works in Socket Mode (no public URL) and in HTTP mode (a request URL).

Listeners acknowledge at once and do the work in a worker thread, so Slack's 3-second deadline is
met and one slow answer never holds up anyone else's. In HTTP mode a request is checked before Bolt
sees it: too large (413), not signed by Slack within five minutes (401), an exact replay (ignored)
or signed but malformed (400) — each refusal logged in one line, never with the body.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.app.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot import logs
from bot.adapters import text as text_commands
from bot.commands import Commands, Conversation
from bot.events import SeenEvents
from bot.feedback import FeedbackStore
from bot.rendering import slack as render
from bot.replies import Caller, Notice, Reply, is_public
from bot.services.ask import Answer
from bot.settings import SlackSettings

log = logging.getLogger(__name__)

APOLOGY = "Sorry — something went wrong while answering. Please try again in a moment."

# What each slow command says right away, before the real reply follows.
_WORKING = {
    "ask": "Searching the articles…",
    "today": "Putting the briefing together…",
    "briefing": "Putting the briefing together…",
    "add": "Adding it — I'll post the result here.",
    "follow": "Fetching the feed — I'll post the result here.",
}

# Slack's payloads are small: even a 40,000-character message with its rich-text blocks, JSON
# escaped, stays around a megabyte. A larger body is refused unhandled, before it is read when
# its Content-Length says so.
MAX_BODY_BYTES = 4 * 1024**2
# Slack's own rule: a request whose timestamp is further than this from now is refused as stale,
# which bounds how long a signature must be remembered to catch an exact replay.
FRESH_SECONDS = 5 * 60

_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|[^>]*)?>")
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def from_slack(text: str) -> str:
    """Plain text from Slack's message format: links unwrapped, mentions gone, entities decoded."""
    text = _MENTION.sub(" ", _LINK.sub(r"\1", text))
    text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    # Line breaks stay: the first line of pasted article text is its title.
    return "\n".join(" ".join(line.split()) for line in text.strip().splitlines())


class RecentSignatures:
    """Signatures of the requests accepted while they are fresh, so an exact replay is caught.

    An entry is dropped once its request would be refused as stale anyway, or, past ``size``
    entries, the oldest first.
    """

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def first_time(self, signature: str, *, timestamp: int, now: float) -> bool:
        while self._expiry and next(iter(self._expiry.values())) < now:
            self._expiry.popitem(last=False)
        if signature in self._expiry:
            return False
        self._expiry[signature] = timestamp + FRESH_SECONDS
        if len(self._expiry) > self.size:
            self._expiry.popitem(last=False)
        return True


def _ssl_check(body: bytes) -> bool:
    """Slack's certificate check of a slash command URL, which Bolt answers unsigned."""
    return len(body) <= 1024 and parse_qs(body.decode("latin-1")).get("ssl_check") == ["1"]


def _malformed(body: dict[str, Any]) -> str | None:
    """Why a signed payload lacks what Bolt and the listeners rely on, or None.

    Bolt would answer such a payload with a 500 and log a traceback.
    """
    event = body.get("event")
    if event is not None and not (isinstance(event, dict) and isinstance(event.get("type"), str)):
        return "an event that is not an object with a type"
    if "command" in body and not all(
        isinstance(body.get(key), str) and body[key] for key in ("command", "channel_id", "user_id")
    ):
        return "a slash command without its channel or user"
    return None


class SlackAdapter:
    """Slack in front of :class:`Commands`: slash command, mentions, DMs and shared files."""

    def __init__(
        self,
        commands: Commands,
        *,
        settings: SlackSettings,
        admins: frozenset[str],
        seen: SeenEvents,
        feedback: FeedbackStore,
    ) -> None:
        if settings.bot_token is None:
            raise ValueError("the Slack adapter needs a bot token")
        self.commands = commands
        self.settings = settings
        self.admins = admins
        self._token = settings.bot_token.get_secret_value()
        self.client = AsyncWebClient(token=self._token, base_url=settings.api_url)
        # Back off on HTTP 429 for as long as Slack's Retry-After header asks.
        self.client.retry_handlers.append(AsyncRateLimitErrorRetryHandler(max_retry_count=3))
        secret = settings.signing_secret.get_secret_value() if settings.signing_secret else ""
        self._signing_key = secret.encode()
        # Bolt verifies requests too; ours comes first (see _http_request).
        self.app = AsyncApp(client=self.client, signing_secret=secret, logger=log)
        self._seen = seen
        self.feedback = feedback
        self._signatures = RecentSignatures()
        self.app.command(settings.command)(self._on_command)
        self.app.event("app_mention")(self._on_mention)
        self.app.event("message")(self._on_message)
        for action in render.FEEDBACK_ACTIONS:
            self.app.action(action)(self._on_vote)

    def trusted(self, user: str) -> bool:
        """With no admins configured every member may add and schedule; otherwise only them."""
        return not self.admins or user in self.admins

    # --- slash command -------------------------------------------------------------------

    async def _on_command(
        self, ack: AsyncAck, command: dict[str, Any], respond: AsyncRespond
    ) -> None:
        text = from_slack(command.get("text", ""))
        name = text_commands.command_name(text)
        with logs.request_context(
            platform="slack",
            channel=command.get("channel_id", ""),
            request=command.get("trigger_id", ""),
        ):
            caller = self._caller(command["channel_id"], command["user_id"])
            # Refused privately and at once: nothing is fetched, nothing said in the channel.
            arguments = text.strip()[len(name) :] if name else ""
            if refusal := self.commands.refusal(name, caller, arguments):
                await ack(**render.notice_message(refusal))
                return
            await ack(text=_WORKING.get(name, "Searching the articles…" if " " in text else ""))
            try:
                reply = await asyncio.to_thread(text_commands.run, self.commands, text, caller)
                messages = render.reply_messages(
                    reply,
                    command=self.settings.command,
                    restate=True,
                    rating=await self._rating(reply, caller),
                )
                for message in messages:
                    await respond(
                        **message,
                        response_type="in_channel" if is_public(reply) else "ephemeral",
                        replace_original=False,
                    )
            except Exception:
                log.exception("the %s command failed", self.settings.command)
                await respond(text=APOLOGY, response_type="ephemeral", replace_original=False)

    # --- mentions, direct messages and files ----------------------------------------------

    async def _on_mention(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        await self._converse(body, event)

    async def _on_message(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        """Direct messages only; in channels the bot answers when mentioned."""
        if event.get("channel_type") == "im" and event.get("subtype") in (None, "file_share"):
            await self._converse(body, event)

    async def _converse(self, body: dict[str, Any], event: dict[str, Any]) -> None:
        user, channel, ts = event.get("user", ""), event.get("channel"), event.get("ts")
        if event.get("bot_id") or event.get("subtype") == "bot_message" or user == "USLACKBOT":
            return
        if not (isinstance(channel, str) and isinstance(ts, str)):
            log.warning("ignored a Slack event without its channel or timestamp")
            return
        # Keyed on the message, not the event: a retry repeats both, and a DM that mentions the
        # bot may come as a message and as a mention.
        if not self._seen.first_time(f"{channel}/{ts}"):
            log.info("ignored a repeated Slack event %s", body.get("event_id"))
            return
        thread = event.get("thread_ts") or ts

        async def post(message: dict[str, Any]) -> None:
            await self.client.chat_postMessage(channel=channel, thread_ts=thread, **message)

        with logs.request_context(
            platform="slack", channel=channel, request=str(body.get("event_id", ts))
        ):
            caller = self._caller(channel, user)
            try:
                conversation = ("slack", f"{channel}/{thread}")
                for reply in await self._replies(event, caller, post, conversation):
                    rating = await self._rating(reply, caller)
                    messages = render.reply_messages(
                        reply, command=self.settings.command, rating=rating
                    )
                    for message in messages:
                        await post(message)
            except Exception:
                log.exception("answering a Slack message failed")
                await post({"text": APOLOGY})

    # --- feedback ---------------------------------------------------------------------------

    async def _rating(self, reply: Reply, caller: Caller) -> str | None:
        """The id an answer's 👍 / 👎 buttons carry, once it is recorded; None for any other
        reply, and for an answer that quotes nothing."""
        if not (isinstance(reply, Answer) and reply.found):
            return None
        return await asyncio.to_thread(
            self.feedback.record, reply, platform="slack", channel=caller.channel
        )

    async def _on_vote(
        self, ack: AsyncAck, body: dict[str, Any], action: dict[str, Any], respond: AsyncRespond
    ) -> None:
        """A click on 👍 or 👎: the person's vote on that answer, replacing an earlier one;
        thanked privately, so the channel sees no noise."""
        await ack()
        user = (body.get("user") or {}).get("id", "")
        up = action.get("action_id") == render.FEEDBACK_ACTIONS[0]
        counted = bool(user) and await asyncio.to_thread(
            self.feedback.vote, str(action.get("value", "")), user=user, up=up
        )
        text = (
            f"Thanks — you rated this answer {'👍' if up else '👎'}. Click the other to change it."
            if counted
            else "That answer can no longer be rated."
        )
        await respond(text=text, response_type="ephemeral", replace_original=False)

    async def _replies(
        self,
        event: dict[str, Any],
        caller: Caller,
        post: Callable[[dict[str, Any]], Awaitable[None]],
        conversation: Conversation,
    ) -> list[Reply]:
        files = event.get("files") or []
        if files:
            if refusal := self.commands.refusal("add", caller):
                return [refusal]
            names = ", ".join(f.get("name", "a file") for f in files)
            await post({"text": f"Adding {names} — one moment."})
            return [await self._add_file(caller, file) for file in files]
        text = from_slack(event.get("text", ""))
        reply = await asyncio.to_thread(
            text_commands.converse, self.commands, text, caller, conversation=conversation
        )
        return [reply]

    async def _add_file(self, caller: Caller, file: dict[str, Any]) -> Notice:
        name = file.get("name") or "upload"
        if refusal := self.commands.too_large(name, int(file.get("size") or 0)):
            return refusal
        url = file.get("url_private_download") or file.get("url_private")
        if not url:
            return Notice(
                (f"Couldn't add {name}: Slack did not share its contents with me.",), True
            )
        data = await self._download(url)
        return await asyncio.to_thread(self.commands.add_file, caller, name, data)

    async def _download(self, url: str) -> bytes:
        """A shared file's bytes. The bot token is only ever sent to Slack's own hosts."""
        host = urlsplit(url).hostname or ""
        api_host = urlsplit(self.settings.api_url).hostname
        if not (host == api_host or host == "slack.com" or host.endswith(".slack.com")):
            raise ValueError(f"refusing to send the bot token to {host}")
        headers = {"Authorization": f"Bearer {self._token}"}
        async with httpx.AsyncClient(follow_redirects=True, timeout=30) as http:
            response = await http.get(url, headers=headers)
            response.raise_for_status()
            return response.content

    def _caller(self, channel: str, user: str) -> Caller:
        return Caller(platform="slack", channel=channel, user=user, trusted=self.trusted(user))

    # --- delivery and serving ---------------------------------------------------------------

    async def post(self, channel: str, reply: Reply) -> None:
        """A scheduled briefing or an alert, posted to a channel the bot was invited to."""
        for message in render.reply_messages(reply, command=self.settings.command):
            await self.client.chat_postMessage(channel=channel, **message)

    def web_app(self) -> web.Application:
        """HTTP mode: events, commands and interactivity all arrive at ``POST /slack/events``
        (``briefbot run`` adds the health check and metrics to the same server)."""
        server = web.Application(client_max_size=MAX_BODY_BYTES)
        server.router.add_post("/slack/events", self._http_request)
        return server

    async def _http_request(self, request: web.Request) -> web.Response:
        """One request of HTTP mode, checked before Bolt's dispatch.

        Bolt alone would log a refused request's whole body, unauthenticated, and answer a
        malformed timestamp or payload with a 500 and a traceback.
        """
        if (request.content_length or 0) > MAX_BODY_BYTES:
            raise web.HTTPRequestEntityTooLarge(MAX_BODY_BYTES, request.content_length or 0)
        body = await request.read()  # raises the 413 itself when a chunked body grows too large
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if problem := self._unverified(body, timestamp, signature):
            if _ssl_check(body):
                return web.Response()
            log.info("refused a Slack request from %s: %s", request.remote, problem)
            return web.json_response({"error": "invalid request"}, status=401)
        if not self._signatures.first_time(signature, timestamp=int(timestamp), now=time.time()):
            log.warning("ignored a replayed Slack request from %s", request.remote)
            return web.Response()
        headers: dict[str, str | Sequence[str]] = dict(request.headers)
        try:
            bolt = AsyncBoltRequest(body=body.decode(), query=request.query_string, headers=headers)
        # Bolt parses the payload with json and urllib and then indexes into it, so a malformed
        # one can fail in many ways; all of them mean the same to the sender.
        except Exception as exc:
            problem = f"unreadable payload ({type(exc).__name__})"
        else:
            problem = _malformed(bolt.body)
        if problem:
            log.warning("refused a signed Slack request from %s: %s", request.remote, problem)
            return web.json_response({"error": "malformed request"}, status=400)
        return await to_aiohttp_response(await self.app.async_dispatch(bolt))

    def _unverified(self, body: bytes, timestamp: str, signature: str) -> str | None:
        """Why a request is not provably Slack's and recent, or None when it is.

        The signature is checked over the raw bytes, as Slack computes it: slack_sdk's verifier
        decodes them first and raises on invalid UTF-8 or a non-numeric timestamp.
        """
        if not self._signing_key:
            return "no signing secret is configured"
        if not (timestamp and signature):
            return "not signed"
        if not (_TIMESTAMP.fullmatch(timestamp) and _SIGNATURE.fullmatch(signature)):
            return "malformed signature headers"
        if abs(time.time() - int(timestamp)) > FRESH_SECONDS:
            return "stale timestamp"
        signed = b"v0:" + timestamp.encode() + b":" + body
        expected = "v0=" + hmac.new(self._signing_key, signed, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            return "bad signature"
        return None

    def socket_mode(self, app_token: str) -> AsyncSocketModeHandler:
        return AsyncSocketModeHandler(self.app, app_token)
