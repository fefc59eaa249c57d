"""The chat bot: what the hub says in a live chat before (or instead of) a person.

Commands: /start greets, /help explains, /human hands over to a person, /end closes the
conversation's ticket, /stop ends greetings and campaigns on the channel. Other text goes
to the person already handling an open ticket; without one, the FAQ answers when it is
confident, and otherwise the bot says a person will answer and a ticket opens. Pure
decisions here; the pipeline does the storing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hub.faq.bot import FaqBot, FaqMatch

Action = Literal["answer", "ticket", "close", "opt_out"]


@dataclass(frozen=True)
class BotTurn:
    # answer: the bot replies, no ticket; ticket: thread or open one; close: close it.
    action: Action
    # A reply template under templates/<locale>/ (chat_greeting, chat_handoff...), or None.
    template: str | None = None
    # The FAQ entry that answers, rendered through the FAQ's own templates.
    faq_match: FaqMatch | None = None


def decide(
    command: str | None, text: str, locale: str, has_open_ticket: bool, faq: FaqBot | None
) -> BotTurn:
    if command == "stop" or text.strip().lower() == "/stop":
        # Withdraws consent to proactive messages (greetings, campaigns) on this channel.
        return BotTurn("opt_out", template="chat_opt_out")
    if command == "start":
        return BotTurn("answer", template="chat_greeting")
    if command == "help":
        return BotTurn("answer", template="chat_help")
    if command == "end":
        return BotTurn("close", template="chat_closed" if has_open_ticket else None)
    if command == "human":
        return BotTurn("ticket", template=None if has_open_ticket else "chat_handoff")
    if has_open_ticket:
        # A person is on it: the bot keeps out of the conversation.
        return BotTurn("ticket")
    if faq is not None and text.strip():
        match = faq.match(text, locale)
        if not match.handoff and match.entry is not None:
            return BotTurn("answer", faq_match=match)
    return BotTurn("ticket", template="chat_handoff")
