"""Charts drawn as SVG: well-formed whatever the values, scaled into their box, labelled for a reader."""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET

from hypothesis import given, strategies as st

from cumulo.console.charts import HEIGHT, LEFT, RIGHT, TOP, BOTTOM, WIDTH, Series, chart, compact, nice_max, sparkline

SVG = "{http://www.w3.org/2000/svg}"
# what XML allows (a page is HTML, where control characters pass; XML is the stricter reader)
text = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=40)
values = st.lists(st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=32),
                            st.floats(min_value=0, max_value=1e12)), max_size=200)


def _points(d: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in re.findall(r"(-?[0-9.]+) (-?[0-9.]+)", d)]


@given(st.lists(values, min_size=1, max_size=4), text)
def test_a_chart_is_well_formed_and_every_point_is_inside_its_plot(series: list[list[float | None]], title: str) -> None:
    markup = chart(title, [Series(f"s{i}", v) for i, v in enumerate(series)], 1_700_000_000, 60, "ms")
    root = ET.fromstring(markup)            # the figure parses as XML: nothing unescaped, nothing unclosed
    svg = root.find("svg")
    assert svg is not None and svg.get("role") == "img" and svg.get("aria-label", "").startswith(title)
    for path in svg.iter("path"):
        for x, y in _points(path.get("d", "")):
            if path.get("d") == "M0 0":
                continue
            assert LEFT - 2 <= x <= WIDTH - RIGHT + 2 and TOP - 0.1 <= y <= HEIGHT - BOTTOM + 0.1
    assert "nan" not in markup.lower() and "inf" not in markup.lower().replace("info", "")


def test_a_gap_breaks_the_line_and_values_scale_to_a_round_top() -> None:
    markup = chart("Invocations", [Series("Invocations", [1.0, 2.0, None, 4.0, 4.0])], 0, 60)
    d = ET.fromstring(markup).find("svg").find("path").get("d")     # type: ignore[union-attr]
    assert d.count("M") == 2                                          # two stretches of data
    ys = [y for _, y in _points(d)]
    plot = HEIGHT - TOP - BOTTOM          # the axis tops out at 5: 4 is 4/5 up, 1 is 1/5 up
    assert min(ys) == round(TOP + plot / 5, 1) and max(ys) == round(TOP + plot * 4 / 5, 1)
    assert "Invocations: total 11, latest 4" in markup


def test_an_empty_range_says_so() -> None:
    markup = chart("Duration", [Series("p99", [None] * 60, summed=False)], 0, 60, "ms")
    assert "No data in this range" in markup and "p99: no data" in markup


def test_nice_max_and_compact_numbers() -> None:
    assert [nice_max(v) for v in (0, 0.3, 1, 1.01, 3, 7, 10, 120, 2e6)] == [1, 0.5, 1, 2, 5, 10, 10, 200, 2e6]
    assert [compact(v) for v in (0, 0.25, 950, 1234, 3.4e6, math.inf)] == ["0", "0.25", "950", "1.23k", "3.4M", "—"]


@given(values, text)
def test_a_sparkline_is_well_formed_and_labelled(vs: list[float | None], label: str) -> None:
    root = ET.fromstring(sparkline(vs, label, "%"))
    title = root.find("title")
    assert title is not None and (title.text or "").startswith(label)
    assert root.get("aria-label") == title.text
