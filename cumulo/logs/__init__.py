"""CloudWatch Logs over Cumulo's log store: log groups and streams, reading and filtering events,
events shipped by others (PutLogEvents), retention and its pruning (docs/logs.md)."""
