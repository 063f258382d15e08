"""Integrations other than a function: HTTP APIs' first-class AWS service integrations and HTTP proxies.

Pure: a request's parts in, the service call (or the backend's URL) out; the service's answer in, the
gateway's response out. The calls themselves are made by the gateway's server (``edge/gateway.py``).

- **Request parameters** (``RequestParameters`` of an ``AWS_PROXY`` integration with a subtype) are
  static text in which API Gateway's selection expressions are replaced: ``$request.body`` (the whole
  body), ``$request.body.<JSONPath>`` (``a.b``, ``a[0]``, ``['a b']``), ``$request.header.<name>``,
  ``$request.querystring.<name>``, ``$request.path.<name>``, ``$context.<name>`` and
  ``$stageVariables.<name>``, also written ``${request.header.x}`` inside longer text. What a request
  lacks is the empty string; a JSON value that is not a string is given as JSON text.
- **Service calls**: each subtype is one operation of SQS, EventBridge or Step Functions, asked as the
  AWS JSON protocol asks it (``X-Amz-Target``), with the parameters converted to the operation's types
  (``DelaySeconds`` a number, ``MessageAttributes`` a JSON object, lists from JSON or commas).
- **Answers**: as API Gateway relays them. EventBridge and Step Functions answer in their JSON; SQS, a
  query-protocol service to API Gateway, in the JSON form of its query answer
  (``{"SendMessageResponse": {"SendMessageResult": {...}, "ResponseMetadata": {"RequestId": ...}}}``,
  absent members ``null``). A role that may not make the call (or that API Gateway may not assume) is
  ``500 {"message":"Internal Server Error"}``, as on AWS; the service's own refusals keep their status.
- **REST APIs' non-proxy integrations** (``AWS`` and ``HTTP``) share one request side (``rest_request``:
  request parameters, the mapping template by content type, ``passthroughBehavior``) and one answer side
  (``rest_aws_response``: integration responses selected by status, response parameters and templates);
  ``rest_http_call`` makes an ``HTTP`` integration's backend request (its URL filled as ``proxy_url`` fills one).
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping
from urllib.parse import parse_qsl, quote

from cumulo.gateway.model import SUBTYPE_PARAMETERS
from cumulo.gateway.payload import INTERNAL_ERROR, GatewayResponse

__all__ = ["Sources", "map_parameters", "service_call", "service_response", "proxy_url", "ACCESS_DENIED_TYPES",
           "selection_expressions", "PROXY_HOP_HEADERS", "rest_request", "rest_http_call", "rest_mock_response", "HttpCall",
           "rest_aws_call", "rest_aws_response", "RestCall"]

# "$request.body.a.b", "${request.header.x}", "$context.identity.sourceIp", "$stageVariables.v"
_EXPRESSION = re.compile(
    r"\$\{(?P<braced>(?:request\.(?:body(?:[.\[][^}]*)?|(?:header|querystring|path)\.[^}]+)|context\.[^}]+"
    r"|stageVariables\.[^}]+))\}"
    r"|\$(?P<bare>request\.body(?:(?:\.[A-Za-z0-9_$@-]+|\[[^\]]*\])+)?"
    r"|request\.(?:header|querystring|path)\.[A-Za-z0-9_.~!#%&'*+^`|-]+"
    r"|context\.[A-Za-z0-9_.]+|stageVariables\.[A-Za-z0-9_]+)")
# JSONPath steps after $request.body: .name, [0], ['name'] / ["name"]
_STEP = re.compile(r"\.([A-Za-z0-9_$@-]+)|\[(\d+)\]|\[\s*'([^']*)'\s*\]|\[\s*\"([^\"]*)\"\s*\]")
ACCESS_DENIED_TYPES = ("AccessDeniedException", "AccessDenied", "AuthorizationError")
# Framing and connection-specific headers a proxy never forwards (RFC 9110 §7.6.1).
PROXY_HOP_HEADERS = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
                               "upgrade", "content-length", "host", "proxy-authorization", "proxy-authenticate"})


class Sources:
    """What selection expressions read from one request."""

    def __init__(self, body: bytes, headers: list[tuple[str, str]], raw_query: str, path: Mapping[str, str],
                 context: Mapping[str, Any], stage_variables: Mapping[str, str] | None) -> None:
        self.body = body
        self.headers: dict[str, str] = {}
        for key, value in headers:
            key = key.lower()
            self.headers[key] = f"{self.headers[key]},{value}" if key in self.headers else value
        self.query: dict[str, str] = {}
        for key, value in parse_qsl(raw_query, keep_blank_values=True):
            self.query[key] = f"{self.query[key]},{value}" if key in self.query else value
        self.path = dict(path)
        self.context = context
        self.stage_variables = dict(stage_variables or {})
        self._json: Any = _UNREAD

    def json_body(self) -> Any:
        if self._json is _UNREAD:
            try:
                self._json = json.loads(self.body)
            except (ValueError, UnicodeDecodeError, RecursionError):
                self._json = None
        return self._json

    def value(self, expression: str) -> str:
        """One selection expression (without its ``$``) as text; '' when the request lacks it."""
        if expression == "request.body":
            return self.body.decode("utf-8", "replace")
        if expression.startswith("request.body"):
            return _text(_walk(self.json_body(), expression[len("request.body"):]))
        kind, _, name = expression.partition(".")
        if kind == "request":
            where, _, name = name.partition(".")
            if where == "header":
                return self.headers.get(name.lower(), "")
            if where == "querystring":
                return self.query.get(name, "")
            return self.path.get(name, "")
        if kind == "stageVariables":
            return self.stage_variables.get(name, "")
        found: Any = self.context
        for part in name.split("."):
            found = found.get(part) if isinstance(found, Mapping) else None
        return _text(found)


_UNREAD = object()


def _walk(doc: Any, path: str) -> Any:
    position = 0
    while position < len(path):
        m = _STEP.match(path, position)
        if m is None:
            return None
        position = m.end()
        if m[2] is not None:
            doc = doc[int(m[2])] if isinstance(doc, list) and int(m[2]) < len(doc) else None
        else:
            key = next(g for g in (m[1], m[3], m[4]) if g is not None)
            doc = doc.get(key) if isinstance(doc, dict) else None
        if doc is None:
            return None
    return doc


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def selection_expressions(template: str) -> list[str]:
    """The selection expressions in one parameter's value (for checks and tests)."""
    return [m["braced"] or m["bare"] for m in _EXPRESSION.finditer(template)]


def map_parameters(parameters: Mapping[str, str], sources: Sources) -> dict[str, str]:
    """Each parameter's value with its selection expressions replaced by what the request holds."""
    return {name: _EXPRESSION.sub(lambda m: sources.value(m["braced"] or m["bare"]), template)
            for name, template in parameters.items()}


# -- the service calls ---------------------------------------------------------------------------
def _int(value: str) -> Any:
    text = value.strip()
    return int(text) if re.fullmatch(r"-?\d{1,12}", text) else value


def _json_object(value: str) -> Any:
    try:
        found = json.loads(value)
    except (ValueError, RecursionError):
        return value
    return found


def _list(value: str) -> list[str]:
    text = value.strip()
    if text.startswith("["):
        try:
            found = json.loads(text)
        except (ValueError, RecursionError):
            found = None
        if isinstance(found, list):
            return [str(v) for v in found]
    return [v.strip() for v in text.split(",") if v.strip()]


def service_call(subtype: str, values: Mapping[str, str]) -> tuple[str, dict[str, Any]]:
    """(``X-Amz-Target``, the JSON request document) of one subtype's operation, given its mapped parameters."""
    required = SUBTYPE_PARAMETERS[subtype][0]
    # An optional parameter the request left empty ($request.querystring.max without ?max=) is not sent.
    v = {k: val for k, val in values.items() if k != "Region" and (val != "" or k in required)}
    if subtype == "EventBridge-PutEvents":
        entry: dict[str, Any] = {"Source": v["Source"], "DetailType": v["DetailType"], "Detail": v["Detail"]}
        if v.get("EventBusName"):
            entry["EventBusName"] = v["EventBusName"]
        if "Resources" in v:
            entry["Resources"] = _list(v["Resources"])
        if v.get("Time"):
            entry["Time"] = _int(v["Time"])
        if v.get("TraceHeader"):
            entry["TraceHeader"] = v["TraceHeader"]
        return "AWSEvents.PutEvents", {"Entries": [entry]}
    if subtype.startswith("SQS-"):
        operation = subtype[4:]
        doc: dict[str, Any] = {}
        for key, value in v.items():
            if key in ("DelaySeconds", "MaxNumberOfMessages", "VisibilityTimeout", "WaitTimeSeconds"):
                doc[key] = _int(value)
            elif key in ("MessageAttributes", "MessageSystemAttributes"):
                doc[key] = _json_object(value)
            elif key in ("AttributeNames", "MessageAttributeNames"):
                doc[key] = _list(value)
            else:
                doc[key] = value
        return f"AmazonSQS.{operation}", doc
    operation = subtype.split("-", 1)[1]
    lower = {k[:1].lower() + k[1:]: val for k, val in v.items()}
    if operation in ("StartExecution", "StartSyncExecution") and "input" not in lower:
        lower["input"] = "{}"
    return f"AWSStepFunctions.{operation}", lower


# SQS's query answers, as API Gateway gives them in JSON: every member of the result, null when absent.
_SQS_RESULT_MEMBERS = {
    "SendMessage": ("MD5OfMessageAttributes", "MD5OfMessageBody", "MD5OfMessageSystemAttributes", "MessageId",
                    "SequenceNumber"),
    "ReceiveMessage": (),
    "DeleteMessage": None,
    "PurgeQueue": None,
}
_SQS_MESSAGE_MEMBERS = ("Attributes", "Body", "MD5OfBody", "MD5OfMessageAttributes", "MessageAttributes",
                        "MessageId", "ReceiptHandle")


def service_response(subtype: str, status: int, body: bytes, request_id: str) -> GatewayResponse:
    """The service's answer (``status``, its JSON ``body``) as API Gateway relays it to the client."""
    try:
        doc = json.loads(body) if body.strip() else {}
    except ValueError:
        doc = None
    if status >= 400:
        kind = str((doc or {}).get("__type", "")).rsplit("#", 1)[-1] if isinstance(doc, dict) else ""
        if status == 403 or kind in ACCESS_DENIED_TYPES or doc is None or status >= 500:
            return INTERNAL_ERROR
        if subtype.startswith("SQS-"):
            message = (doc or {}).get("message") or (doc or {}).get("Message") or ""
            code = kind.removeprefix("AWS.SimpleQueueService.") if kind else "InvalidParameterValue"
            doc = {"Error": {"Code": code, "Message": message, "Type": "Sender"}, "RequestId": request_id}
        return GatewayResponse(status, [("content-type", "application/json")], json.dumps(doc).encode())
    if subtype.startswith("SQS-") and isinstance(doc, dict):
        operation = subtype[4:]
        members = _SQS_RESULT_MEMBERS[operation]
        answer: dict[str, Any] = {"ResponseMetadata": {"RequestId": request_id}}
        if operation == "ReceiveMessage":
            messages = doc.get("Messages") or None
            answer["ReceiveMessageResult"] = {"messages": None if messages is None else [
                {m: message.get(m) for m in _SQS_MESSAGE_MEMBERS} for message in messages]}
        elif members is not None:
            answer[f"{operation}Result"] = {m: doc.get(m) for m in members}
        doc = {f"{operation}Response": answer}
    return GatewayResponse(200, [("content-type", "application/json")], json.dumps(doc).encode())


# -- HTTP proxies --------------------------------------------------------------------------------
def proxy_url(uri: str, path: Mapping[str, str], raw_query: str) -> str:
    """The backend URL a ``HTTP_PROXY`` integration requests: ``{name}`` (and ``{name+}``) in ``uri`` filled with
    the route's path parameters (the greedy ``proxy`` keeps its slashes, its dot segments encoded), the client's
    query string appended."""
    def fill(m: re.Match[str]) -> str:
        name = m[1].rstrip("+")
        value = path.get(name, "")
        if not (m[1].endswith("+") or name == "proxy"):
            return quote(value, safe="")
        # A greedy value keeps its slashes, but a "." or ".." segment is sent encoded: the backend must not
        # resolve it to a path outside the integration's own (/public/{proxy} and "../admin").
        return "/".join("%2E" * len(seg) if seg in (".", "..") else quote(seg, safe="")
                        for seg in value.split("/"))

    url = re.sub(r"\{([A-Za-z0-9_.-]+\+?)\}", fill, uri)
    if raw_query:
        url += ("&" if "?" in url else "?") + raw_query
    return url


# -- REST APIs' AWS service integrations (type: aws, mapping templates) -----------------------------
_JSON_PREFIX = {"events": "AWSEvents", "states": "AWSStepFunctions", "sqs": "AmazonSQS", "dynamodb": "DynamoDB_20120810",
                "kinesis": "Kinesis_20131202"}
_SQS_INTS = ("DelaySeconds", "MaxNumberOfMessages", "VisibilityTimeout", "WaitTimeSeconds")
_SQS_XMLNS = "http://queue.amazonaws.com/doc/2012-11-05/"
UNSUPPORTED_MEDIA = GatewayResponse(415, [("content-type", "application/json")],
                                    b'{"message": "Unsupported Media Type"}')


class RestCall:
    """What a REST API's AWS integration asks of a service: (``X-Amz-Target``, JSON document), and how the
    answer is to be written (SQS's query answers as XML unless the integration asked for JSON)."""

    def __init__(self, service: str, target: str, doc: dict[str, Any], sqs_json: bool) -> None:
        self.service, self.target, self.doc, self.sqs_json = service, target, doc, sqs_json


def _param_source(source: str, sources: Sources) -> str:
    if source.startswith("'") and source.endswith("'") and len(source) >= 2:
        return source[1:-1]
    if source.startswith("method.request."):
        where, _, name = source[len("method.request."):].partition(".")
        where = {"multivalueheader": "header", "multivaluequerystring": "querystring"}.get(where, where)
        return sources.value(f"request.{where}.{name}")
    return sources.value(source)


def rest_request(parameters: Mapping[str, str], mapping: Mapping[str, Any], content_type: str,
                 sources: Sources) -> tuple[dict[str, str], dict[str, str], dict[str, str], str] | GatewayResponse:
    """A non-proxy (``AWS`` or ``HTTP``) integration's request: (headers, query, path parameters) from its
    ``integration.request.<header|querystring|path>.<name>`` parameters (header names lower-cased), and its body:
    the mapping template chosen by the request's content type, rendered (``passthroughBehavior`` when none is:
    the client's body, or the 415 API Gateway answers)."""
    from cumulo.gateway.vtl import VtlError, render

    headers: dict[str, str] = {}
    query: dict[str, str] = {}
    path: dict[str, str] = {}
    for target, source in parameters.items():
        where, _, name = target[len("integration.request."):].partition(".")
        value = _param_source(source, sources)
        if where == "header":
            headers[name.lower()] = value
        else:
            (query if where == "querystring" else path)[name] = value
    templates: Mapping[str, str] = mapping.get("request_templates") or {}
    media = (content_type or "application/json").split(";", 1)[0].strip().lower()
    template = next((t for k, t in templates.items() if k.lower() == media), None)
    passthrough = str(mapping.get("passthrough", "WHEN_NO_MATCH")).upper()
    if template is None and (passthrough == "NEVER" or (passthrough == "WHEN_NO_TEMPLATES" and templates)):
        return UNSUPPORTED_MEDIA
    if template is None:
        return headers, query, path, sources.body.decode("utf-8", "replace")
    try:
        body = render(template, sources.body, path=sources.path, query=sources.query, headers=sources.headers,
                      context=sources.context, stage_variables=sources.stage_variables)
    except VtlError:
        return INTERNAL_ERROR_REST
    return headers, query, path, body


class HttpCall:
    """What a REST API's ``HTTP`` (non-proxy) integration sends its backend: the URL, headers and body."""

    def __init__(self, url: str, headers: list[tuple[str, str]], body: bytes) -> None:
        self.url, self.headers, self.body = url, headers, body


def rest_http_call(uri: str, parameters: Mapping[str, str], mapping: Mapping[str, Any], content_type: str,
                   sources: Sources) -> HttpCall | GatewayResponse:
    """The backend request of a REST ``type: http`` integration: ``uri`` with its ``{name}`` filled from the
    ``integration.request.path.<name>`` parameters (as an ``HTTP_PROXY`` URL is, dot segments encoded), the
    ``integration.request.querystring.<name>`` ones as its query string, the mapped headers (not the client's),
    ``Content-Type`` the request's (``application/json`` when it has none) unless a parameter maps it, and the
    body rendered by the mapping template."""
    from urllib.parse import urlencode

    found = rest_request(parameters, mapping, content_type, sources)
    if isinstance(found, GatewayResponse):
        return found
    headers, query, path, body = found
    url = proxy_url(uri, {**sources.path, **path}, urlencode(query, quote_via=quote, safe=""))
    sent = [(k, v) for k, v in headers.items() if k not in PROXY_HOP_HEADERS]
    if "content-type" not in headers:
        sent.append(("content-type", (content_type or "application/json").split(";", 1)[0].strip()))
    return HttpCall(url, sent, body.encode())


def rest_aws_call(uri: str, parameters: Mapping[str, str], mapping: Mapping[str, Any], content_type: str,
                  sources: Sources) -> RestCall | GatewayResponse:
    """The service call of a REST ``type: aws`` integration for one request (``rest_request``: its request
    parameters and mapping template), or the answer API Gateway gives instead."""
    from cumulo.gateway.model import AWS_INTEGRATION_URI

    m = AWS_INTEGRATION_URI.match(uri)
    assert m is not None          # checked when the route was made
    found = rest_request(parameters, mapping, content_type, sources)
    if isinstance(found, GatewayResponse):
        return found
    headers, query, _, body = found
    service, kind, rest = m["service"], m["kind"], m["rest"]
    if service == "lambda":                  # the rendered body is the function's event
        return RestCall("lambda", "", {"payload": body}, True)
    if service == "sqs":
        form = dict(parse_qsl(body, keep_blank_values=True)) if "=" in body else {}
        params = {**form, **query}
        action = rest if kind == "action" else params.get("Action", "")
        doc: dict[str, Any] = {}
        if kind == "path":
            doc["QueueUrl"] = "https://sqs.localhost/" + rest.strip("/")
        attributes: dict[str, dict[str, Any]] = {}
        for key, value in params.items():
            if key in ("Action", "Version"):
                continue
            if key in _SQS_INTS:
                doc[key] = _int(value)
            elif re.fullmatch(r"(Attribute|MessageAttribute)Name(\.\d+)?", key):
                doc.setdefault(key.split(".")[0] + "s", []).append(value)
            elif (am := re.fullmatch(r"MessageAttribute\.(\d+)\.(Name|Value\.DataType|Value\.StringValue)", key)):
                entry = attributes.setdefault(am[1], {})
                entry[am[2]] = value
            else:
                doc[key] = value
        if attributes:
            doc["MessageAttributes"] = {a.get("Name", ""): {"DataType": a.get("Value.DataType", "String"),
                                                            "StringValue": a.get("Value.StringValue", "")}
                                        for _, a in sorted(attributes.items())}
        wants_json = "json" in headers.get("accept", "")
        return RestCall("sqs", f"AmazonSQS.{action}", doc, wants_json)
    target = headers.get("x-amz-target") or f"{_JSON_PREFIX[service]}.{rest.split('/', 1)[0]}"
    try:
        doc = json.loads(body) if body.strip() else {}
    except (ValueError, RecursionError):
        doc = {"__unreadable__": body}
    return RestCall(service, target, doc if isinstance(doc, dict) else {"__unreadable__": body}, True)


INTERNAL_ERROR_REST = GatewayResponse(500, [("content-type", "application/json")],
                                      b'{"message": "Internal server error"}')


def _sqs_xml(operation: str, doc: Mapping[str, Any], request_id: str, status: int) -> bytes:
    from xml.sax.saxutils import escape

    if status >= 400:
        kind = str(doc.get("__type", "")).rsplit("#", 1)[-1].removeprefix("AWS.SimpleQueueService.")
        kind = "AccessDenied" if kind == "AccessDeniedException" else kind      # SQS's query code
        return (f'<?xml version="1.0"?><ErrorResponse xmlns="{_SQS_XMLNS}"><Error><Type>Sender</Type>'
                f"<Code>{escape(kind or 'InvalidParameterValue')}</Code><Message>{escape(str(doc.get('message') or doc.get('Message') or ''))}"
                f"</Message><Detail/></Error><RequestId>{request_id}</RequestId></ErrorResponse>").encode()

    def element(name: str, value: Any) -> str:
        if isinstance(value, dict):
            return f"<{name}>" + "".join(element(k, v) for k, v in value.items()) + f"</{name}>"
        if isinstance(value, list):
            return "".join(element(name, v) for v in value)
        return f"<{name}>{escape(str(value))}</{name}>"

    result = ""
    if operation == "ReceiveMessage":
        result = "<ReceiveMessageResult>" + "".join(
            element("Message", {k: v for k, v in m.items() if k in _SQS_MESSAGE_MEMBERS and v is not None})
            for m in doc.get("Messages") or []) + "</ReceiveMessageResult>"
    elif _SQS_RESULT_MEMBERS.get(operation):
        result = element(f"{operation}Result", {k: doc[k] for k in _SQS_RESULT_MEMBERS[operation] or () if k in doc})
    return (f'<?xml version="1.0"?><{operation}Response xmlns="{_SQS_XMLNS}">{result}'
            f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{operation}Response>").encode()


def rest_aws_response(call: RestCall, mapping: Mapping[str, Any], status: int, body: bytes, request_id: str,
                      sources: Sources, backend_headers: list[tuple[str, str]] | None = None) -> GatewayResponse:
    """The method's response: the integration response whose ``selectionPattern`` matches the service's (or the
    HTTP backend's) status (else the default one, whatever the status: API Gateway's well-known 200 on a
    service's error), its ``statusCode``, response parameters (static, ``integration.response.header.<name>``
    of the backend's headers, ``integration.response.body[.<JSONPath>]``) and mapping template (chosen by the
    client's ``Accept``, else ``application/json``, else the first; the body passed through without one)."""
    from cumulo.gateway.vtl import VtlError, render_overriding

    error_message = None
    if call.service == "lambda" and status == 0:          # a function error: its errorMessage selects
        try:
            error = json.loads(body)
            error_message = str(error.get("errorMessage", "")) if isinstance(error, dict) else ""
        except ValueError:
            error_message = ""
    if call.service == "sqs" and status < 500:
        operation = call.target.split(".", 1)[1]
        try:
            doc = json.loads(body) if body.strip() else {}
        except ValueError:
            doc = {}
        if call.sqs_json or status >= 400:
            relayed = service_response("SQS-" + operation, status, body, request_id) if operation in \
                _SQS_RESULT_MEMBERS else None
            body = relayed.body if relayed is not None and relayed.status == status else body
        if not call.sqs_json:
            body = _sqs_xml(operation, doc if isinstance(doc, dict) else {}, request_id, status)
    responses: list[Mapping[str, Any]] = list(mapping.get("responses") or [])
    # Lambda: the pattern is matched against a failed invocation's errorMessage; services: against the status.
    selected = error_message if call.service == "lambda" else str(status)
    chosen = None if selected is None else next(
        (r for r in responses if r.get("pattern") and re.fullmatch(str(r["pattern"]), selected, re.S)), None)
    chosen = chosen or next((r for r in responses if not r.get("pattern")), None)
    if chosen is None:
        chosen = {"status": 200}
    headers = [("content-type", "application/xml" if call.service == "sqs" and not call.sqs_json
                else "application/json")]
    for name, source in (chosen.get("headers") or {}).items():
        if not (str(name).startswith("method.response.header.") and isinstance(source, str)):
            continue
        value = _response_source(source, backend_headers or [], body)
        if value is not None and "\r" not in value and "\n" not in value:
            header = str(name)[len("method.response.header."):]
            headers = [(k, v) for k, v in headers if k.lower() != header.lower()] + [(header, value)]
    templates: Mapping[str, str] = chosen.get("templates") or {}
    accept = [a.split(";", 1)[0].strip().lower() for a in sources.headers.get("accept", "").split(",")]
    media = next((k for k in templates if k.lower() in accept), None) or \
        ("application/json" if "application/json" in templates else next(iter(templates), None))
    template = templates[media] if media is not None else None
    override: dict[str, Any] = {}
    if template:
        try:
            text, override = render_overriding(template, body, path=sources.path, query=sources.query,
                                               headers=sources.headers, context=sources.context,
                                               stage_variables=sources.stage_variables)
        except VtlError:
            return INTERNAL_ERROR_REST
        body = text.encode()
        headers = [(k, v) for k, v in headers if k.lower() != "content-type"] + [("content-type", str(media))]
    try:
        code = int(override.get("status") or chosen.get("status", 200))
    except (TypeError, ValueError):
        code = 200
    for name, value in (override.get("header") or {}).items():
        if isinstance(name, str) and "\r" not in str(value) and "\n" not in str(value) and re.fullmatch(
                r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", name):
            headers = [(k, v) for k, v in headers if k.lower() != name.lower()] + [(name, str(value))]
    return GatewayResponse(code if 100 <= code <= 599 else 500, headers, body)


def rest_mock_response(mapping: Mapping[str, Any], content_type: str, request_id: str,
                       sources: Sources) -> GatewayResponse:
    """A REST ``MOCK`` integration's answer, as API Gateway makes it with no backend: the request's mapping
    template renders a JSON object whose ``statusCode`` selects the integration response (by its
    ``selectionPattern``; none, or no template: the default one), whose parameters and template make the answer.
    A request template that renders no JSON object is API Gateway's 500."""
    found = rest_request({}, mapping, content_type, sources)
    if isinstance(found, GatewayResponse):
        return found
    text = found[3].strip()
    status = 200
    if text:
        try:
            doc = json.loads(text)
        except ValueError:
            return INTERNAL_ERROR_REST
        if not isinstance(doc, dict):
            return INTERNAL_ERROR_REST
        try:
            status = int(doc.get("statusCode", 200))
        except (TypeError, ValueError):
            return INTERNAL_ERROR_REST
    return rest_aws_response(RestCall("mock", "", {}, True), mapping, status, b"", request_id, sources)


def _response_source(source: str, backend_headers: list[tuple[str, str]], body: bytes) -> str | None:
    """One response parameter's value: ``'static'``, ``integration.response.header.<name>`` (the backend's
    header, several joined by commas), ``integration.response.body`` or ``integration.response.body.<JSONPath>``;
    None when it names nothing the answer has."""
    if len(source) >= 2 and source[0] == source[-1] == "'":
        return source[1:-1]
    if source.startswith(("integration.response.header.", "integration.response.multivalueheader.")):
        name = source.split(".", 3)[3].lower()
        found = [v for k, v in backend_headers if k.lower() == name]
        return ",".join(found) if found else None
    if source == "integration.response.body":
        return body.decode("utf-8", "replace")
    if source.startswith("integration.response.body."):
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None
        found = _walk(doc, source[len("integration.response.body"):])
        return None if found is None else _text(found)
    return None
