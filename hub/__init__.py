"""The hub: an omnichannel eCRM integration hub."""
