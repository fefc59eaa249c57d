"""Channel names as the operator's YAML spells them, and the order proactive messages
try them in."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

# As in the consents table: email, sms, telegram, ...
ChannelName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]


def _unique_channels(v: list[str]) -> list[str]:
    if len(set(v)) != len(v):
        raise ValueError("each channel may be listed once")
    return v


# Channels (as in consents) tried in order; the first with consent and a reachable
# identity carries the message.
ChannelOrder = Annotated[list[ChannelName], AfterValidator(_unique_channels)]
