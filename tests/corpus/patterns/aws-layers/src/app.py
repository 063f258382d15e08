from importlib.metadata import version

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
tracer = Tracer()


@tracer.capture_lambda_handler
@logger.inject_lambda_context
def handler(event: dict, context: LambdaContext) -> dict:
    logger.info("order received", extra={"order": event.get("order")})
    return {"order": event.get("order"), "powertools": version("aws-lambda-powertools").split(".")[0]}
