"""How many SMS a text is: GSM-7 160/153 (extension characters count two), UCS-2 70/67 in
UTF-16 code units; and the credits a message costs are segments times recipients."""

from __future__ import annotations

import pytest

from tenants.messaging.segments import GSM7, UCS2, alphabet, count


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("a", GSM7, 1, 1),
        ("a" * 160, GSM7, 160, 1),
        ("a" * 161, GSM7, 161, 2),
        ("a" * 306, GSM7, 306, 2),
        ("a" * 307, GSM7, 307, 3),
        ("@£$¥èéùìòÇ" * 16, GSM7, 160, 1),  # the GSM alphabet's own accents: one septet each
        ("€" * 80, GSM7, 160, 1),  # an extension character is two septets
        ("€" * 81, GSM7, 162, 2),
        ("a" * 159 + "{", GSM7, 161, 2),
        ("[]{}\\~^|" + "a" * 144, GSM7, 160, 1),
        ("á" * 70, UCS2, 70, 1),  # á is not in the GSM alphabet: UCS-2
        ("á" * 71, UCS2, 71, 2),
        ("á" * 134, UCS2, 134, 2),
        ("á" * 135, UCS2, 135, 3),
        ("😀" * 35, UCS2, 70, 1),  # an emoji is two UTF-16 code units
        ("😀" * 36, UCS2, 72, 2),
        ("Hola ¿qué tal? ñ", GSM7, 16, 1),  # ¿ and ñ are GSM-7
    ],
)
def test_segments_of_gsm7_extension_and_ucs2_texts(text, encoding, units, segments):
    counted = count(text)
    assert (counted.encoding, counted.units, counted.segments) == (encoding, units, segments)


def test_the_alphabet_given_to_the_counter_comes_from_the_codec():
    basic, extended = alphabet()
    assert "@" in basic and "é" in basic and "€" not in basic
    assert set("€[]{}\\~^|") <= set(extended)
    assert "á" not in basic + extended
