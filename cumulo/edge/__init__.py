"""The HTTP edge shared by the control plane and the API gateway: a lean HTTP/1.1 server (``server``)
and the gateway's own server over it (``gateway``, above the composition root)."""
