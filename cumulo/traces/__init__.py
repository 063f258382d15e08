"""AWS X-Ray: traces kept, the X-Ray API subset and the daemon's UDP endpoint (docs/traces.md)."""
