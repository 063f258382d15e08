"""The mapping templates' subset (``gateway/vtl.py``): what REST APIs' service integrations are written with."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as st

from cumulo.gateway.vtl import VtlError, check, render

BODY = b'{"detail": {"k": "v", "q": "say \\"hi\\""}, "items": [1, 2], "name": "x y"}'


def test_input_and_util() -> None:
    assert render("$input.body", BODY) == BODY.decode()
    assert json.loads(render("$input.json('$')", BODY)) == json.loads(BODY)
    assert render("$input.json('$.items[1]')", BODY) == "2"
    assert render("$input.path('$.name')", BODY) == "x y"
    assert render("$input.params('id')/$input.params('q')/$input.params('X-H')", b"", path={"id": "7"},
                  query={"q": "s"}, headers={"x-h": "h"}) == "7/s/h"
    assert render("$util.urlEncode($input.path('$.name'))", BODY) == "x+y"
    assert render("$util.urlEncode('a*b~c')", b"") == "a*b%7Ec"
    escaped = render('{"input": "$util.escapeJavaScript($input.json(\'$.detail\'))"}', BODY)
    assert json.loads(json.loads(escaped)["input"]) == {"k": "v", "q": 'say "hi"'}
    assert render("$util.base64Encode('hi')", b"") == "aGk="
    assert render("${context.requestId}-$context.identity.sourceIp-$stageVariables.t", b"",
                  context={"requestId": "r", "identity": {"sourceIp": "1.2.3.4"}}, stage_variables={"t": "T"}) == \
        "r-1.2.3.4-T"


def test_set_comments_and_unknown_references() -> None:
    template = """## a comment
#set($root = $input.path('$'))
#set($context.requestOverride.header.X-Amz-Target = "AWSEvents.PutEvents")
#* a block
comment *#{"k": "$root.detail.k", "missing": "$nothing.here", "quiet": "$!nothing", "price": "$5"}"""
    assert json.loads(render(template, BODY)) == {"k": "v", "missing": "$nothing.here", "quiet": "", "price": "$5"}


@pytest.mark.parametrize("template,message", [
    ("#macro(m)#end", "is not supported"), ("#parse('x.vm')", "is not supported"), ("#if($x)a", "without #end"),
    ("a#end", "#end without"), ("#else", "#else without #if"), ("#foreach($i)x#end", "needs \\(\\$item in"),
    ("#if($x", "unbalanced")])
def test_directives_beyond_the_subset_are_refused(template: str, message: str) -> None:
    with pytest.raises(VtlError, match=message):
        check(template)


def test_foreach_and_if_as_batched_put_events_write_them() -> None:
    template = """#set($inputRoot = $input.path('$'))
{"Entries": [
  #foreach($elem in $inputRoot.items)
  {"Detail": "$util.escapeJavaScript($elem.Detail).replaceAll("\\\\'","'")", "DetailType": "$elem.DetailType",
   "Source": "$elem.Source", "n": $foreach.count}#if($foreach.hasNext),#end
  #end
]}"""
    body = json.dumps({"items": [{"Detail": '{"a": "it\'s"}', "DetailType": "T", "Source": "S"},
                                 {"Detail": "{}", "DetailType": "U", "Source": "S"}]}).encode()
    entries = json.loads(render(template, body))["Entries"]
    assert [e["DetailType"] for e in entries] == ["T", "U"] and [e["n"] for e in entries] == [1, 2]
    assert json.loads(entries[0]["Detail"]) == {"a": "it's"}
    assert json.loads(render("[#foreach($k in $input.path('$').keySet())\"$k\"#if($velocityCount < 2),#end#end]",
                             b'{"a": 1, "b": 2}')) == ["a", "b"]


@pytest.mark.parametrize("condition,expected", [
    ("$input.path('$.n') > 1", "yes"), ("$input.path('$.n') == 1", "no"), ("$input.path('$.s') == 'x'", "yes"),
    ("!$input.path('$.missing')", "yes"), ("$input.path('$.s') != 'x' || $input.path('$.n') >= 2", "yes"),
    ("$input.path('$.s') == 'x' && $nothing", "no"), ("$input.path('$.s').startsWith('x')", "yes"),
    ("($input.path('$.n') lt 2) or false", "no"),
])
def test_conditions(condition: str, expected: str) -> None:
    template = f"#if({condition})yes#elseif($input.path('$.n') == 1)one#{{else}}no#end"
    assert render(template, b'{"n": 2, "s": "x"}') == expected


def test_comments_do_not_count_as_directives() -> None:
    check("## #foreach is mentioned here only\n$input.body")


@given(st.text(alphabet=st.sampled_from(list("$!{}()[].,'\"#*acilnpstuxyz0 \n")), max_size=80), st.binary(max_size=60))
def test_any_template_renders_or_is_refused(template: str, body: bytes) -> None:
    try:
        out = render(template, body)
    except VtlError:
        return
    assert isinstance(out, str)


TOKENS = ["#if(", "#elseif(", "#else", "#end", "#foreach(", "#set(", "$x", " in ", "$input.path('$.items')", ")",
          "$foreach.hasNext", "==", "&&", "!", "'a'", "1", ",", "\n", "text", "${y}", "= "]


@given(st.lists(st.sampled_from(TOKENS), max_size=25).map("".join))
def test_any_arrangement_of_directives_renders_or_is_refused(template: str) -> None:
    try:
        check(template)
        out = render(template, b'{"items": [1, 2, 3]}')
    except VtlError:
        return
    assert isinstance(out, str)


def test_set_on_maps_and_the_response_override() -> None:
    from cumulo.gateway.vtl import render_overriding

    text, override = render_overriding("""#set($root = $input.path('$'))
#if($root.toString().contains("error"))
#set($context.responseOverride.status = 400)
#set($context.responseOverride.header.X-Why = "error")
#set($root.body = "changed")
#end
$input.json('$')""", b'{"body": "an error", "n": 1}')
    assert json.loads(text) == {"body": "changed", "n": 1}
    assert override == {"status": 400, "header": {"X-Why": "error"}}
