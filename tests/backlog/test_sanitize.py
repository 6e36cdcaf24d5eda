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
        # A tag whose pieces join when an inner tag is removed.
        ("<img<b> src=x onerror=alert(1)> la cantine", "la cantine"),
        ("<scr<script>ipt>alert(1)</scr</script>ipt> le car", "le car"),
        # Invisible characters cannot hide a tag.
        ("<\u200bscript>alert(1)</script> le car", "le car"),
        ("<scr\x00ipt>alert(1)</script> le car", "le car"),
        # Lone surrogates (a JSON "\\ud800") are dropped: no UTF-8 encoder takes them.
        ("caf\ud800 fermé", "caf fermé"),
    ],
)
def test_clean_text(raw, expected):
    assert clean_text(raw) == expected


def test_long_text_is_cut_with_an_ellipsis():
    cleaned = clean_text("mot " * 5000, max_length=100)
    assert len(cleaned) == 100
    assert cleaned.endswith("…")


def test_tags_nested_deeper_than_anyone_types_lose_their_angle_brackets():
    cleaned = clean_text("<i" * 50 + " src=x onerror=alert(1)" + ">" * 50 + " le car")
    assert "<" not in cleaned and ">" not in cleaned
    assert cleaned.endswith("le car")
