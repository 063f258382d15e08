"""Parameter Store (SSM parameters): values, versions, labels, paths; SecureString values sealed (docs/secrets.md)."""
