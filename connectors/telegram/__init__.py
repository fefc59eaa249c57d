"""Telegram: private chats, groups and channels through the Bot API (python-telegram-bot)."""

from connectors.telegram.connector import TelegramConnector
from connectors.telegram.settings import TelegramConfig
from hub.connector import ConnectorType

TELEGRAM = ConnectorType(
    name="telegram",
    config_model=TelegramConfig,
    create=TelegramConnector,
    # Chat ids: a private chat's id is its user's id, the identity the hub keeps.
    sends_to=("telegram",),
    channels=("telegram",),
    chat=True,
    # Inline keyboards, pressed buttons back as callback_query (callbacks.py).
    choices=True,
)

CONNECTOR_TYPES = (TELEGRAM,)

__all__ = ["CONNECTOR_TYPES", "TELEGRAM", "TelegramConfig", "TelegramConnector"]
