"""Request bodies of the inbox forms and the REST API, validated at the boundary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from hub.actions.reply import AgentReply
from hub.actions.ticket_update import TicketChange

Status = Literal["new", "open", "pending", "solved", "closed"]
Priority = Literal["low", "normal", "high", "urgent"]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]
MAX_TEXT = 100_000


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TicketPatch(_Body):
    status: Status | None = None
    priority: Priority | None = None
    assignee: str | None = Field(default=None, max_length=64)
    tags: list[Tag] | None = Field(default=None, max_length=30)

    def change(self) -> TicketChange:
        extra: dict[str, Any] = {}
        if "assignee" in self.model_fields_set:
            extra["assignee"] = self.assignee or None
        return TicketChange(
            status=self.status,
            priority=self.priority,
            tags=tuple(self.tags) if self.tags is not None else None,
            **extra,
        )


class ReplyBody(_Body):
    text: str | None = Field(default=None, min_length=1, max_length=MAX_TEXT)
    canned_response_id: int | None = Field(default=None, ge=1)
    # Set the ticket to this status with the reply (pending: waiting for the customer).
    status: Status | None = None
    # A connector to send through instead of the customer's last channel.
    connector_id: str | None = Field(default=None, max_length=40)
    # "Send later": when the outbox may send it (with a time zone offset).
    send_at: AwareDatetime | None = None
    # Send the connector's approved template (WhatsApp, outside the 24-hour window);
    # channels without a reply window send the text as is.
    template: bool = False

    @field_validator("send_at")
    @classmethod
    def _in_the_coming_year(cls, v: datetime | None) -> datetime | None:
        if v is not None and not datetime.now(UTC) < v <= datetime.now(UTC) + timedelta(days=366):
            raise ValueError("must be in the future, within a year")
        return v

    def draft(self, ticket_id: int, text: str) -> AgentReply:
        """The reply to send; `text` is given since the API may render it from a canned one."""
        return AgentReply(
            ticket_id,
            text,
            status=self.status,
            via=self.connector_id,
            send_at=self.send_at,
            template=self.template,
        )


class NoteBody(_Body):
    text: str = Field(min_length=1, max_length=MAX_TEXT)


class MergeBody(_Body):
    # Merged into the customer of the URL, which survives.
    other_customer_id: int = Field(ge=1, le=2**62)


class CannedBody(_Body):
    name: str = Field(min_length=1, max_length=100)
    body: str = Field(min_length=1, max_length=20_000)
    team_id: str | None = Field(default=None, max_length=40)


def problems(exc: ValidationError) -> list[dict[str, str]]:
    """Validation errors as the API reports them: the field and what is wrong."""
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"]}
        for e in exc.errors()
    ]
