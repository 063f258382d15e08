"""The kinds of resource a template can declare or SAM can make implicitly, one module each behind one
protocol (``base.ResourceKind``)."""
