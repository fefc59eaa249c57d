"""Meta's messaging products: WhatsApp Cloud API, Messenger and Instagram, one connector
type each, sharing the webhook (webhook.py) and the Graph API client (graph.py)."""

from typing import Any

from connectors.meta.connector import MetaConnector
from connectors.meta.settings import InstagramConfig, MessengerConfig, WhatsAppConfig
from hub.connector import ConnectorType, ReplyWindow


def _whatsapp_template(config: Any, locale: str) -> str | None:
    return config.template_for(locale)  # type: ignore[no-any-return]


WHATSAPP = ConnectorType(
    name="whatsapp",
    config_model=WhatsAppConfig,
    create=MetaConnector,
    # A wa_id is the customer's phone number: a WhatsApp user meets their other history
    # through the phone identity; replies go to the wa_id.
    sends_to=("whatsapp",),
    channels=("whatsapp",),
    chat=True,
    # Free text within 24 hours of the customer's last message, else an approved template.
    reply_window=ReplyWindow(hours=24, template_for=_whatsapp_template),
    # Interactive reply buttons or a list (choices.py).
    choices=True,
)

MESSENGER = ConnectorType(
    name="messenger",
    config_model=MessengerConfig,
    create=MetaConnector,
    sends_to=("messenger",),
    channels=("messenger",),
    chat=True,
    reply_window=ReplyWindow(hours=24),
    choices=True,  # quick replies
)

INSTAGRAM = ConnectorType(
    name="instagram",
    config_model=InstagramConfig,
    create=MetaConnector,
    sends_to=("instagram",),
    channels=("instagram",),
    chat=True,
    reply_window=ReplyWindow(hours=24),
    choices=True,  # quick replies
)

CONNECTOR_TYPES = (WHATSAPP, MESSENGER, INSTAGRAM)

__all__ = ["CONNECTOR_TYPES", "INSTAGRAM", "MESSENGER", "WHATSAPP", "MetaConnector"]
