"""KMS (a subset): symmetric customer keys kept sealed with the store's key, aliases, envelope operations (docs/secrets.md)."""
