"""SNS topics: topics, subscriptions and publishing (``service.py``); the wire is ``api/sns.py``,
the message shapes ``model/sns.py``. A publish commits one outbox delivery per matching
subscription (``outbox.py``) before it answers, and the router delivers them."""
