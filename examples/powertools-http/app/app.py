"""An aws-lambda-powertools APIGatewayHttpResolver app, unchanged from how it runs on AWS."""

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.shared.cookies import Cookie

app = APIGatewayHttpResolver()
TODOS: dict[str, dict] = {}


@app.get("/todos/<todo_id>")
def get_todo(todo_id: str):
    verbose = app.current_event.get_query_string_value("verbose", "false") == "true"
    todo = TODOS.get(todo_id)
    if todo is None:
        return Response(status_code=404, content_type=content_types.APPLICATION_JSON, body={"error": "not found"})
    return {"todo": todo, "verbose": verbose, "session": app.current_event.cookies}


@app.post("/todos/<todo_id>")
def put_todo(todo_id: str):
    TODOS[todo_id] = app.current_event.json_body
    return Response(status_code=201, content_type=content_types.APPLICATION_JSON, body={"id": todo_id},
                    cookies=[Cookie(name="last_todo", value=todo_id)])


@app.get("/logo.bin")
def logo():
    return Response(status_code=200, content_type="application/octet-stream", body=bytes(range(256)))


def lambda_handler(event, context):
    return app.resolve(event, context)

