"""The long-list selects render exactly what Django's own selects render."""

from __future__ import annotations

from django import forms
from hypothesis import given
from hypothesis import strategies as st

from watchfloor.web.forms import LongSelect, LongSelectMultiple

# Values and labels with what escaping must handle: quotes, ampersands, angle brackets,
# non-Latin scripts.
_text = st.text(alphabet=st.sampled_from("ab1 _-'\"&<>日本ไทย"), max_size=8)
_options = st.lists(st.tuples(_text, _text), max_size=8)
_choices = st.one_of(
    _options,
    # With groups, as Django's optgroups (a group's name, then its options).
    st.lists(st.tuples(_text.filter(bool), _options.filter(bool)), max_size=3),
)


@given(
    choices=_choices,
    chosen=st.lists(_text, max_size=3),
    size=st.sampled_from([None, 5]),
    required=st.booleans(),
)
def test_a_long_select_renders_as_djangos_select(choices, chosen, size, required):
    attrs = {"size": size} if size else {}
    attrs["required"] = required
    for long, stock, value in (
        (LongSelect, forms.Select, chosen[0] if chosen else None),
        (LongSelectMultiple, forms.SelectMultiple, chosen),
    ):
        expected = stock(attrs=attrs, choices=choices).render("person", value)
        assert long(attrs=attrs, choices=choices).render("person", value) == expected
