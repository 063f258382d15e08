"""Secrets Manager: secrets, their versions and staging labels, sealed with the store's key (docs/secrets.md)."""
