"""DynamoDB-compatible tables: items, expressions, streams (docs: ARCHITECTURE.md, "Tables")."""
