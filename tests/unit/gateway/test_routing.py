"""Route keys and route selection for HTTP APIs: AWS's documented precedence, and the rules we chose."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cumulo.errors import CumuloError
from cumulo.gateway.routing import BadRequest, InvalidRouteKey, RouteMatch, RouteTable, decode_segment, parse_route_key


# -- parse_route_key ------------------------------------------------------------------------
@pytest.mark.parametrize(("key", "parsed"), [
    ("GET /pets", ("GET", "/pets")),
    ("GET /pets/{petID}", ("GET", "/pets/{petID}")),
    ("ANY /{proxy+}", ("ANY", "/{proxy+}")),
    ("POST /pets/{kind}/{rest+}", ("POST", "/pets/{kind}/{rest+}")),
    ("DELETE /", ("DELETE", "/")),
    ("PATCH /a-b/c.d/e_f/~g", ("PATCH", "/a-b/c.d/e_f/~g")),
    ("HEAD /x", ("HEAD", "/x")),
    ("OPTIONS /x", ("OPTIONS", "/x")),
    ("PUT /v1/{id}", ("PUT", "/v1/{id}")),
    ("$default", ("ANY", "$default")),
])
def test_valid_route_keys_parse_into_method_and_path(key: str, parsed: tuple[str, str]) -> None:
    assert parse_route_key(key) == parsed


@pytest.mark.parametrize("key", [
    "",                               # AWS: "Route key is required"
    "GET",                            # no path
    "FETCH /pets",                    # not an HTTP API method
    "get /pets",                      # methods are upper-case
    "GET pets",                       # path must start with '/'
    "GET  /pets",                     # one space only
    "GET /pets/",                     # trailing slash: AWS refuses route paths ending in '/'
    "GET /pets//dogs",                # empty path part
    "GET /{proxy+}/more",             # greedy variable only as the last part
    "GET /a/{id}/b/{id}",             # duplicate variable name
    "GET /a/{id}/{id+}",              # duplicate name across kinds
    "GET /items/{id}.json",           # a variable must be a whole path part
    "GET /a/{}",                      # empty variable name
    "GET /a/{b c}",                   # invalid variable name
    "GET /a%20b",                     # route paths are written decoded
    "GET /a?b=c",                     # no query in a route key
    "$DEFAULT",
])
def test_invalid_route_keys_are_refused_as_bad_requests(key: str) -> None:
    with pytest.raises(InvalidRouteKey) as info:
        parse_route_key(key)
    assert info.value.status == 400
    assert info.value.type == "BadRequestException"
    assert isinstance(info.value, CumuloError)


def test_missing_route_key_has_aws_message() -> None:
    with pytest.raises(InvalidRouteKey) as info:
        parse_route_key("")
    assert info.value.message == "Route key is required"
    assert info.value.to_aws() == {"Type": "User", "message": "Route key is required"}


def test_a_partial_variable_path_part_has_aws_message() -> None:
    with pytest.raises(InvalidRouteKey, match="One or more path parts appear to be invalid"):
        parse_route_key("GET /{exchange}/events/{eventId}.json")


# -- the route table ------------------------------------------------------------------------
def test_duplicate_route_keys_are_refused() -> None:
    with pytest.raises(InvalidRouteKey, match="Route with key 'GET /pets' already exists"):
        RouteTable(["GET /pets", "POST /pets", "GET /pets"])


def test_duplicate_default_route_is_refused() -> None:
    with pytest.raises(InvalidRouteKey):
        RouteTable(["$default", "$default"])


def test_routes_differing_only_in_variable_names_are_refused() -> None:
    with pytest.raises(InvalidRouteKey, match="same requests"):
        RouteTable(["GET /pets/{id}", "GET /pets/{name}"])
    with pytest.raises(InvalidRouteKey, match="same requests"):
        RouteTable(["GET /files/{proxy+}", "GET /files/{path+}"])


def test_same_shape_with_other_method_or_the_default_route_is_fine() -> None:
    table = RouteTable(["GET /pets/{id}", "ANY /pets/{name}", "ANY /", "$default"])
    assert table.match("GET", "/pets/1") == RouteMatch("GET /pets/{id}", {"id": "1"})
    assert table.match("PUT", "/pets/1") == RouteMatch("ANY /pets/{name}", {"name": "1"})
    assert table.match("GET", "/") == RouteMatch("ANY /", {})


def test_an_invalid_key_in_the_table_is_refused() -> None:
    with pytest.raises(InvalidRouteKey):
        RouteTable(["GET /ok", "GET /bad/"])


# AWS's own example ("Working with routes for HTTP APIs", Routing API requests),
# followed by cases for each rule of its precedence.
DOCS_ROUTES = ["GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /{proxy+}", "$default"]
PRECEDENCE = [
    # (routes, method, path, expected route key, expected parameters)
    (DOCS_ROUTES, "GET", "/pets/dog/1", "GET /pets/dog/{id}", {"id": "1"}),
    (DOCS_ROUTES, "GET", "/pets/cat/1", "GET /pets/{proxy+}", {"proxy": "cat/1"}),
    (DOCS_ROUTES, "POST", "/test/5", "ANY /{proxy+}", {"proxy": "test/5"}),
    (DOCS_ROUTES, "POST", "/", "$default", {}),
    (DOCS_ROUTES, "GET", "/pets", "ANY /{proxy+}", {"proxy": "pets"}),
    # no variables beats {var}, which beats {proxy+}
    (["GET /pets/{id}", "GET /pets/dog"], "GET", "/pets/dog", "GET /pets/dog", {}),
    (["GET /pets/{id}", "GET /pets/dog"], "GET", "/pets/cat", "GET /pets/{id}", {"id": "cat"}),
    (["GET /pets/{proxy+}", "GET /pets/{id}"], "GET", "/pets/1", "GET /pets/{id}", {"id": "1"}),
    (["GET /pets/{proxy+}", "GET /pets/{id}"], "GET", "/pets/1/toys", "GET /pets/{proxy+}", {"proxy": "1/toys"}),
    # a full match beats any greedy route, even one with a longer literal prefix
    (["GET /pets/{proxy+}", "GET /{a}/{b}"], "GET", "/pets/x", "GET /{a}/{b}", {"a": "pets", "b": "x"}),
    # longer literal prefixes beat shorter ones
    (["GET /{kind}/{id}", "GET /pets/{id}"], "GET", "/pets/1", "GET /pets/{id}", {"id": "1"}),
    (["GET /{a}/dog/{b}", "GET /pets/{a}/{b}"], "GET", "/pets/dog/1", "GET /pets/{a}/{b}", {"a": "dog", "b": "1"}),
    (["ANY /{proxy+}", "ANY /a/{proxy+}", "ANY /a/b/{proxy+}"], "GET", "/a/b/c", "ANY /a/b/{proxy+}", {"proxy": "c"}),
    (["ANY /{proxy+}", "ANY /a/{proxy+}", "ANY /a/b/{proxy+}"], "GET", "/a/x/c", "ANY /a/{proxy+}", {"proxy": "x/c"}),
    (["ANY /a/{proxy+}", "ANY /a/{x}/{proxy+}"], "GET", "/a/b/c", "ANY /a/{x}/{proxy+}", {"x": "b", "proxy": "c"}),
    # the exact method beats ANY on the same path
    (["ANY /pets", "GET /pets"], "GET", "/pets", "GET /pets", {}),
    (["ANY /pets", "GET /pets"], "DELETE", "/pets", "ANY /pets", {}),
    (["ANY /pets/{id}", "GET /pets/{id}"], "GET", "/pets/7", "GET /pets/{id}", {"id": "7"}),
    (["ANY /{proxy+}", "GET /{proxy+}"], "GET", "/x/y", "GET /{proxy+}", {"proxy": "x/y"}),
    # ... but path specificity comes first
    (["GET /{proxy+}", "ANY /pets/{proxy+}"], "GET", "/pets/x", "ANY /pets/{proxy+}", {"proxy": "x"}),
    (["GET /{id}", "ANY /pets"], "GET", "/pets", "ANY /pets", {}),
    # methods must match: ANY is the only wildcard
    (["GET /pets"], "POST", "/pets", None, None),
    (["GET /pets", "$default"], "POST", "/pets", "$default", {}),
    (["ANY /pets"], "TRACE", "/pets", "ANY /pets", {}),
    # the root
    (["GET /"], "GET", "/", "GET /", {}),
    (["ANY /{proxy+}"], "GET", "/", None, None),
    (["GET /", "ANY /{proxy+}"], "GET", "/x", "ANY /{proxy+}", {"proxy": "x"}),
    # a {var} matches exactly one non-empty segment
    (["GET /a/{id}"], "GET", "/a/1/2", None, None),
    (["GET /a/{id}"], "GET", "/a", None, None),
    (["GET /a/{id}/b"], "GET", "/a//b", None, None),
    # {proxy+} matches one or more segments
    (["GET /a/{proxy+}"], "GET", "/a", None, None),
    (["GET /a/{proxy+}"], "GET", "/a/x/y/z", "GET /a/{proxy+}", {"proxy": "x/y/z"}),
    (["GET /a/{proxy+}"], "GET", "/a/x//z", "GET /a/{proxy+}", {"proxy": "x//z"}),
    # literals are case-sensitive
    (["GET /Pets"], "GET", "/pets", None, None),
    # no routes at all
    ([], "GET", "/", None, None),
    (["$default"], "PATCH", "/anything/at/all", "$default", {}),
]


@pytest.mark.parametrize(("routes", "method", "path", "key", "params"), PRECEDENCE)
def test_route_selection_follows_aws_precedence(routes: list[str], method: str, path: str, key: str | None,
                                                params: dict[str, str] | None) -> None:
    expected = None if key is None else RouteMatch(key, params or {})
    assert RouteTable(routes).match(method, path) == expected
    assert RouteTable(reversed(routes)).match(method, path) == expected     # order of definition is irrelevant


# -- trailing slashes (our rule, see routing's docstring) ----------------------------------
@pytest.mark.parametrize(("routes", "path", "key", "params"), [
    (["GET /items"], "/items/", "GET /items", {}),
    (["GET /items/{id}"], "/items/7/", "GET /items/{id}", {"id": "7"}),
    (["GET /items/{proxy+}"], "/items/a/b/", "GET /items/{proxy+}", {"proxy": "a/b"}),
    (["GET /items/{proxy+}"], "/items/", None, None),         # nothing left for the greedy variable
    (["GET /items/{id}"], "/items/", None, None),
    (["GET /items"], "/items//", None, None),                 # only one trailing slash is forgiven
    (["GET /"], "/", "GET /", {}),
])
def test_one_trailing_slash_is_ignored_when_matching(routes: list[str], path: str, key: str | None,
                                                     params: dict[str, str] | None) -> None:
    expected = None if key is None else RouteMatch(key, params or {})
    assert RouteTable(routes).match("GET", path) == expected


# -- percent-encoding ---------------------------------------------------------------------
@pytest.mark.parametrize(("path", "params"), [
    ("/users/a%20b", {"id": "a b"}),
    ("/users/test%2Balias@x.com", {"id": "test+alias@x.com"}),
    ("/users/a+b", {"id": "a+b"}),                          # '+' is not a space in paths
    ("/users/a%2Fb", {"id": "a/b"}),                        # an encoded slash stays inside its segment
    ("/users/%E2%82%AC", {"id": "€"}),
    ("/users/%c3%a9", {"id": "é"}),                         # lower-case hex
])
def test_path_parameters_are_percent_decoded_per_segment(path: str, params: dict[str, str]) -> None:
    assert RouteTable(["GET /users/{id}"]).match("GET", path) == RouteMatch("GET /users/{id}", params)


def test_greedy_values_are_decoded_and_keep_their_slashes() -> None:
    match = RouteTable(["ANY /{proxy+}"]).match("GET", "/a%20b/c%2Fd/e")
    assert match == RouteMatch("ANY /{proxy+}", {"proxy": "a b/c/d/e"})


def test_literal_segments_match_their_encoded_form() -> None:
    assert RouteTable(["GET /items"]).match("GET", "/it%65ms") == RouteMatch("GET /items", {})


@pytest.mark.parametrize("path", ["/users/%", "/users/%2", "/users/%zz", "/users/a%2", "/users/%FF", "/users/%C3",
                                  "/other/%G0/x"])
def test_malformed_percent_encoding_is_a_bad_request(path: str) -> None:
    table = RouteTable(["GET /users/{id}", "$default"])
    with pytest.raises(BadRequest) as info:
        table.match("GET", path)
    assert info.value.status == 400
    assert info.value.type == "BadRequestException"


def test_decode_segment_leaves_plain_text_alone() -> None:
    assert decode_segment("plain-text_1.2~") == "plain-text_1.2~"
    assert decode_segment("%41%42c") == "ABc"


# -- properties ---------------------------------------------------------------------------
_LITERAL = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-._~", min_size=1, max_size=8)
_VALUE = st.text(min_size=1, max_size=12).filter(lambda v: v not in (".", ".."))


@st.composite
def _template_and_path(draw: st.DrawFn) -> tuple[str, str, str, dict[str, str]]:
    """A route path, a raw request path it must match, the decoded path, and the expected parameters."""
    kinds = draw(st.lists(st.sampled_from(["literal", "var"]), max_size=5))
    greedy = draw(st.booleans())
    template, raw, decoded, params = [], [], [], {}
    for index, kind in enumerate(kinds):
        if kind == "literal":
            text = draw(_LITERAL)
            template.append(text)
            raw.append(quote(text, safe=""))
            decoded.append(text)
        else:
            name, value = f"v{index}", draw(_VALUE.filter(lambda v: "/" not in v))
            template.append("{%s}" % name)
            raw.append(quote(value, safe=""))
            decoded.append(value)
            params[name] = value
    if greedy:
        values = draw(st.lists(_VALUE.filter(lambda v: "/" not in v), min_size=1, max_size=4))
        template.append("{rest+}")
        raw.extend(quote(v, safe="") for v in values)
        decoded.extend(values)
        params["rest"] = "/".join(values)
    return "/" + "/".join(template), "/" + "/".join(raw), "/" + "/".join(decoded), params


def _substitute(template: str, params: dict[str, str]) -> str:
    for name, value in params.items():
        template = template.replace("{%s+}" % name, value).replace("{%s}" % name, value)
    return template


@given(_template_and_path(), st.sampled_from(["GET", "POST", "DELETE"]))
def test_a_match_substituted_back_into_its_template_reproduces_the_path(
        case: tuple[str, str, str, dict[str, str]], method: str) -> None:
    template, raw, decoded, params = case
    match = RouteTable([f"ANY {template}"]).match(method, raw)
    assert match == RouteMatch(f"ANY {template}", params)
    assert _substitute(template, match.path_parameters) == decoded


@given(st.lists(_LITERAL, min_size=1, max_size=5), st.integers(min_value=0, max_value=4), st.booleans())
def test_a_literal_route_beats_a_variable_route_for_the_same_path(parts: list[str], position: int,
                                                                  exact_method: bool) -> None:
    position %= len(parts)
    literal = "/" + "/".join(parts)
    variable = "/" + "/".join("{v}" if i == position else p for i, p in enumerate(parts))
    greedy = "/" + "/".join(parts[:position] + ["{proxy+}"])
    routes = [f"{'GET' if exact_method else 'ANY'} {literal}", f"GET {variable}", f"GET {greedy}", "$default"]
    table = RouteTable(routes)
    assert table.match("GET", literal) == RouteMatch(routes[0], {})
    # remove the literal route: the single-variable route wins over the greedy one
    assert RouteTable(routes[1:]).match("GET", literal) == RouteMatch(routes[1], {"v": parts[position]})


@given(st.lists(st.sampled_from(["a", "b", "{x}", "{y}"]), min_size=1, max_size=4),
       st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=4))
def test_the_winner_does_not_depend_on_definition_order(shape: list[str], request_parts: list[str]) -> None:
    names = iter("pqrst")
    template = "/" + "/".join("{%s}" % next(names) if p.startswith("{") else p for p in shape)
    routes = [f"GET {template}", "GET /{proxy+}", "ANY /a/{proxy+}", "GET /a/b", "$default"]
    assume(len(set(routes)) == len(routes))
    path = "/" + "/".join(request_parts)
    assert RouteTable(routes).match("GET", path) == RouteTable(reversed(routes)).match("GET", path)
