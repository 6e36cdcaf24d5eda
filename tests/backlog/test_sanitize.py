import pytest

from backlog.sanitize import clean_text


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("<b>le car</b> est en retard", "le car est en retard"),
        ("<script>alert('x')</script>le site plante", "le site plante"),
        ("<img src=x onerror=alert(1)>bonjour", "bonjour"),
        ("a\x00b\x07c", "abc"),
        ("droite\u202egauche", "droitegauche"),
        ("  trop   d'espaces  ", "trop d'espaces"),
        ("ligne 1\r\nligne 2", "ligne 1\nligne 2"),
        ("", ""),
        (None, ""),
        ("moins de 3 cars < 10 h", "moins de 3 cars < 10 h"),
    ],
)
def test_clean_text(raw, expected):
    assert clean_text(raw) == expected


def test_long_text_is_cut_with_an_ellipsis():
    cleaned = clean_text("mot " * 5000, max_length=100)
    assert len(cleaned) == 100
    assert cleaned.endswith("…")
