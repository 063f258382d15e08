"""Lambda's own control plane: functions, versions and aliases (``control``), layers, event invoke
(``asynchronous``: the async queue, retries and destinations) and event source mappings (``mappings``)."""
