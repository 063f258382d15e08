"""SNS topics: topics, subscriptions and publishing (``service.py``); the wire is ``api/sns.py``,
the message shapes ``model/sns.py``. A publish commits its deliveries before it answers: standard
queues' copies into the queues themselves, the rest as outbox messages (``outbox.py``) that the
router delivers."""
