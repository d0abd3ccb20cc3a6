"""URL normalisation: reports of the same page share one key, different pages do not."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from watchfloor.signals.urls import SHORTENER_HOSTS, normalise_url


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        ("HTTPS://Example.COM/News/Story", "https://example.com/News/Story"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com/a/b/", "https://example.com/a/b"),
        ("https://example.com/a//", "https://example.com/a"),
        ("https://example.com/a#comments", "https://example.com/a"),
        ("https://user:secret@example.com/a", "https://example.com/a"),
        ("https://example.com./a", "https://example.com/a"),
        ("https://example.com/a/./b/../c", "https://example.com/a/c"),
        ("https://example.com/%7euser", "https://example.com/~user"),
        ("https://example.com/a%2fb", "https://example.com/a%2Fb"),
        ("https://ja.wikipedia.org/wiki/東京", "https://ja.wikipedia.org/wiki/%E6%9D%B1%E4%BA%AC"),
        ("https://例え.jp/パス", "https://xn--r8jz45g.jp/%E3%83%91%E3%82%B9"),
        ("https://ตัวอย่าง.ไทย/", "https://xn--72c1a1bt4awk9o.xn--o3cw4h/"),
        ("  https://example.com/a  ", "https://example.com/a"),
        ("http://[2001:db8::1]:8080/x", "http://[2001:db8::1]:8080/x"),
        ("https://twitter.com/#!/user/status/1", "https://twitter.com/#!/user/status/1"),
    ],
)
def test_urls_are_normalised(raw, key):
    assert normalise_url(raw) == key


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        (
            "https://example.com/p?utm_source=x&utm_medium=social&utm_campaign=c&id=7",
            "https://example.com/p?id=7",
        ),
        (
            "https://example.com/p?fbclid=IwAR0abc&gclid=xyz&dclid=1&msclkid=2",
            "https://example.com/p",
        ),
        (
            "https://example.com/p?igshid=a&mc_cid=b&mc_eid=c&yclid=d&_ga=e&ref_src=f&si=g",
            "https://example.com/p",
        ),
        ("https://example.com/p?UTM_Source=x&b=2&a=1", "https://example.com/p?a=1&b=2"),
        ("https://example.com/search?q=a+b", "https://example.com/search?q=a%20b"),
        (
            "https://example.com/search?q=%E6%9D%B1%E4%BA%AC",
            "https://example.com/search?q=%E6%9D%B1%E4%BA%AC",
        ),
        ("https://example.com/search?q=東京", "https://example.com/search?q=%E6%9D%B1%E4%BA%AC"),
        ("https://x.com/someone/status/1?s=20&t=abc", "https://x.com/someone/status/1"),
        (
            "https://www.youtube.com/watch?v=dQw&feature=share&si=k",
            "https://www.youtube.com/watch?v=dQw",
        ),
        # "s" and "t" mean something elsewhere: a search, a time offset.
        ("https://example.com/find?s=typhoon", "https://example.com/find?s=typhoon"),
    ],
)
def test_tracking_parameters_go_and_the_rest_are_sorted(raw, key):
    assert normalise_url(raw) == key


def test_reports_of_one_page_in_different_spellings_share_a_key():
    spellings = [
        "https://www.example.com/news/typhoon-relief",
        "HTTPS://WWW.EXAMPLE.COM/news/typhoon-relief/",
        "https://www.example.com:443/news/typhoon-relief?utm_source=line&fbclid=abc",
        "https://www.example.com/news/typhoon-relief#top",
        "https://www.example.com/news/./typhoon-relief",
    ]
    assert len({normalise_url(url) for url in spellings}) == 1


def test_different_pages_keep_different_keys():
    pages = [
        "https://example.com/news/1",
        "https://example.com/News/1",  # paths are case-sensitive
        "https://example.com/news/1?id=2",
        "http://example.com/news/1",
        "https://example.com:8080/news/1",
    ]
    assert len({normalise_url(url) for url in pages}) == len(pages)


@pytest.mark.parametrize("host", sorted(SHORTENER_HOSTS))
def test_shortened_links_keep_their_case_sensitive_code(host):
    upper = normalise_url(f"https://{host.upper()}/AbC12/?utm_source=x")
    lower = normalise_url(f"https://{host}/abc12/?utm_source=x")

    assert upper == f"https://{host}/AbC12/?utm_source=x"
    assert upper != lower


def test_a_shortener_link_drops_only_its_fragment_and_default_port():
    assert normalise_url("https://bit.ly:443/3xYzAbC#x") == "https://bit.ly/3xYzAbC"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "example.com/page",
        "ftp://example.com/file",
        "javascript:alert(1)",
        "mailto:someone@example.com",
        "https://",
        "https:///path",
        "https://exa mple.com/",
        "https://example.com/a\nb",
        "https://example.com:99999/",
        "https://example.com:port/",
        "https://example..com/",
        "not a url at all",
    ],
)
def test_what_is_not_an_http_url_has_no_key(raw):
    assert normalise_url(raw) is None


def test_a_non_string_has_no_key():
    assert normalise_url(None) is None  # type: ignore[arg-type]


URL_PARTS = st.builds(
    lambda scheme, host, port, path, query, fragment: (
        f"{scheme}://{host}{port}{path}{query}{fragment}"
    ),
    st.sampled_from(["http", "https", "HTTP", "Https"]),
    st.sampled_from(
        ["example.com", "EXAMPLE.com", "例え.jp", "sub.example.co.jp", "t.co", "bit.ly"]
    ),
    st.sampled_from(["", ":80", ":443", ":8080"]),
    st.lists(st.text(alphabet="abcXYZ-._~%2F東京", min_size=0, max_size=6), max_size=4).map(
        lambda parts: "/" + "/".join(parts)
    ),
    st.lists(
        st.tuples(
            st.sampled_from(["a", "b", "utm_source", "fbclid", "q", "si"]),
            st.text(alphabet="xyz 12+東", max_size=4),
        ),
        max_size=4,
    ).map(lambda pairs: ("?" + "&".join(f"{k}={v}" for k, v in pairs)) if pairs else ""),
    st.sampled_from(["", "#frag", "#!/route"]),
)


@given(URL_PARTS)
def test_normalising_twice_changes_nothing(url):
    key = normalise_url(url)
    if key is not None:
        assert normalise_url(key) == key


@given(st.text(max_size=60))
def test_any_text_gives_a_key_or_none_and_never_raises(text):
    key = normalise_url(text)
    assert key is None or key.startswith(("http://", "https://"))
