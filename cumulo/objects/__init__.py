"""Object storage (S3): buckets and objects (``service.py``), their bytes as files (``files.py``).

The wire protocol is ``api/s3.py``; the rules (names, limits, ranges, the event document) are pure
models in ``model/objects.py`` and ``model/s3events.py``; metadata and multipart uploads live in
the message store (``store/ports.py``'s ``ObjectIndex``), notifications leave through the outbox
(``outbox.py``).
"""
