"""The web console ``cumulo up`` serves (docs/console.md): server-rendered pages of functions, logs,
state machines and queues, whose actions go through the control plane's own dispatch."""
