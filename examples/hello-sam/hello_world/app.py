import json
import os


def lambda_handler(event, context):
    """Sample pure Lambda function, as `sam init` writes it.

    event: API Gateway Lambda Proxy Input Format (or any JSON when invoked directly)
    context: the Lambda context object
    """
    return {
        "statusCode": 200,
        "body": json.dumps({"message": os.environ.get("GREETING", "hello world")}),
    }
