"""Web chat: a widget any page embeds with one script tag, talking to the hub over a WebSocket.

The visitor's identity is a random id the hub signs (visitor.py) and the widget keeps in a
cookie of the embedding site. Trade-off: that cookie is set and read by the widget's own
script, so it cannot be HttpOnly, and a script injected into the shop's page could read it
and with it the visitor's conversation; it cannot be forged or turned into another
visitor's, since the hub checks its HMAC. It lives on the shop's site rather than the hub's
because browsers block or partition third-party cookies. The widget marks its cookie
SameSite=None; Secure when the hub's public URL and the page are https, so it still works
when the shop's page is itself framed by another site (the shop's server is sent a cookie it
ignores), else SameSite=Lax.
"""

from connectors.webchat.connector import WebChatConnector
from connectors.webchat.settings import WebChatConfig
from hub.connector import ConnectorType

WEBCHAT = ConnectorType(
    name="webchat",
    config_model=WebChatConfig,
    create=WebChatConnector,
    sends_to=("webchat",),
    channels=("webchat",),
    chat=True,
    # Buttons under the message in the widget (widget.js `choices`).
    choices=True,
)

CONNECTOR_TYPES = (WEBCHAT,)

__all__ = ["CONNECTOR_TYPES", "WEBCHAT", "WebChatConfig", "WebChatConnector"]
