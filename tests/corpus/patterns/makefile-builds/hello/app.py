import os


def handler(event, context):
    here = os.path.dirname(os.path.abspath(__file__))
    built = os.path.join(here, "built.txt")
    try:
        from greeting import greet
    except ImportError:
        greet = None
    return {
        "built": open(built).read().strip() if os.path.exists(built) else None,
        "makefile shipped": os.path.exists(os.path.join(here, "Makefile")),
        "greeting": greet(event.get("name", "you")) if greet else None,
    }
