"""A first Cumulo function: greets, and shows what a warm start keeps."""

import os

INVOCATIONS = 0  # module state survives between invocations of one environment (a warm start)


def handler(event, context):
    global INVOCATIONS
    INVOCATIONS += 1
    name = (event or {}).get("name", "world")
    print(f"greeting {name}")
    return {
        "message": f"Hello, {name}!",
        "invocations_in_this_environment": INVOCATIONS,
        "initialization_type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"],
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
