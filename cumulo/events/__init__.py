"""Amazon EventBridge for Cumulo: event patterns, the rule index and target input transformers."""
