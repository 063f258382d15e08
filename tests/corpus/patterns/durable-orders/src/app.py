def handler(event, context):
    return {"order": event.get("order"), "durable": "DurableExecutionArn" in event}
