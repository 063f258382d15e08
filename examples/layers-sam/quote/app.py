import subprocess

import quotes   # from the SharedLayer, under /opt/python


def handler(event, context):
    quote = quotes.pick(int((event or {}).get("n", 0)))
    loud = subprocess.run(["shout", quote], capture_output=True, text=True).stdout.strip()   # from /opt/bin
    return {"quote": quote, "loud": loud}
