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


@pytest.mark.parametrize("template", ["#if($x)a#end", "#foreach($i in $input.path('$.items'))$i#end",
                                      "#macro(m)#end", "#{if}($x)#{end}"])
def test_directives_beyond_the_subset_are_refused(template: str) -> None:
    with pytest.raises(VtlError, match="is not supported"):
        check(template)


def test_comments_do_not_count_as_directives() -> None:
    check("## #foreach is mentioned here only\n$input.body")


@given(st.text(alphabet=st.sampled_from(list("$!{}()[].,'\"#*acilnpstuxyz0 \n")), max_size=80), st.binary(max_size=60))
def test_any_template_renders_or_is_refused(template: str, body: bytes) -> None:
    try:
        out = render(template, body)
    except VtlError:
        return
    assert isinstance(out, str)
