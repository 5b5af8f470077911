"""SecretMasker: raw values, encodings, nesting, longest-first, large texts."""

from __future__ import annotations

import base64
import json
from collections import namedtuple
from urllib.parse import quote, quote_plus

from glyphic_desktop.secrets.masking import MASK, SecretMasker, mask

SECRET = 'p@ss w0rd/"quoted"\\ü'


def test_plain_value_and_value_inside_a_larger_string() -> None:
    masker = SecretMasker(["hunter2-token"])
    assert masker.mask("hunter2-token") == MASK
    assert (
        masker.mask("Authorization: Bearer hunter2-token;x=1")
        == f"Authorization: Bearer {MASK};x=1"
    )
    assert masker.mask("hunter2-tokenhunter2-token") == MASK + MASK


def test_common_encodings_are_masked() -> None:
    masker = SecretMasker([SECRET])
    echoed = {
        "json": json.dumps({"password": SECRET}),
        "json_ascii": json.dumps({"password": SECRET}, ensure_ascii=True),
        "url": "https://x.test/?p=" + quote(SECRET, safe=""),
        "form": "p=" + quote_plus(SECRET),
        "repr": repr({"password": SECRET}),
        "b64": base64.b64encode(SECRET.encode()).decode(),
    }
    for kind, text in echoed.items():
        masked = masker.mask(text)
        assert MASK in masked, kind
        assert not masker.contains_secret(masked), kind
        for variant in (SECRET, quote(SECRET, safe=""), json.dumps(SECRET)[1:-1]):
            assert variant not in masked, kind


def test_basic_auth_header_value_is_masked() -> None:
    masker = SecretMasker()
    masker.add_basic_auth("alice", "s3cret-pass")
    header = "Basic " + base64.b64encode(b"alice:s3cret-pass").decode()
    assert masker.mask(f"sent Authorization: {header}") == f"sent Authorization: Basic {MASK}"


def test_short_values_are_masked_raw_but_not_encoded() -> None:
    masker = SecretMasker(["a#1"])
    assert masker.mask("pin=a#1") == f"pin={MASK}"
    assert masker.mask(quote("a#1", safe="")) == "a%231"


def test_nested_structures_return_new_objects_and_leave_the_input_alone() -> None:
    Pair = namedtuple("Pair", "left right")
    masker = SecretMasker(["tok-123456"])
    original = {
        "headers": {"Authorization": "Bearer tok-123456"},
        "list": ["tok-123456", 5, None, True, 1.5],
        "tuple": ("x", "tok-123456"),
        "named": Pair("tok-123456", 1),
        "set": {"tok-123456"},
        "bytes": b"raw tok-123456 bytes",
        "tok-123456": "as a key",
    }
    snapshot = repr(original)
    masked = masker.mask(original)
    assert masked is not original
    assert repr(original) == snapshot
    assert masked["headers"] == {"Authorization": f"Bearer {MASK}"}
    assert masked["list"] == [MASK, 5, None, True, 1.5]
    assert masked["tuple"] == ("x", MASK)
    assert masked["named"] == Pair(MASK, 1) and isinstance(masked["named"], Pair)
    assert masked["set"] == {MASK}
    assert masked["bytes"] == f"raw {MASK} bytes".encode()
    assert masked[MASK] == "as a key"
    assert not masker.contains_secret(masked)
    assert masker.contains_secret(original)


def test_longest_secret_wins_when_one_contains_another() -> None:
    masker = SecretMasker(["abcd", "abcdefgh"])
    assert masker.mask("xx abcdefgh yy abcd") == f"xx {MASK} yy {MASK}"


def test_regex_special_characters_are_literal() -> None:
    masker = SecretMasker([".*+?[](){}|^$"])
    assert masker.mask("a.*+?[](){}|^$b and abc") == f"a{MASK}b and abc"


def test_non_string_secrets_and_non_text_values() -> None:
    masker = SecretMasker([123456789, None, b"byte-secret", ""])
    assert masker.mask("pin 123456789") == f"pin {MASK}"
    assert masker.mask("byte-secret!") == f"{MASK}!"
    assert masker.mask(123456789) == 123456789  # numbers are not rewritten
    sentinel = object()
    assert masker.mask(sentinel) is sentinel


def test_no_secrets_means_identity() -> None:
    masker = SecretMasker()
    value = {"a": ["b"]}
    assert masker.mask(value) is value
    assert not masker
    assert mask("text", None) == "text"


def test_exception_traceback_is_masked() -> None:
    masker = SecretMasker(["leaky-secret-99"])
    try:
        raise RuntimeError("failed with token leaky-secret-99")
    except RuntimeError as exc:
        text = masker.mask_exception(exc)
    assert "leaky-secret-99" not in text
    assert f"failed with token {MASK}" in text
    assert "Traceback" in text


def test_credential_registration_uses_secret_fields_only() -> None:
    masker = SecretMasker()
    masker.add_credential({"host": "mail.example", "password": "pw-123456"}, ["password"])
    assert masker.mask("mail.example pw-123456") == f"mail.example {MASK}"


def test_large_text_is_masked_in_one_pass() -> None:
    secrets = [f"secret-value-{i:03d}" for i in range(50)]
    masker = SecretMasker(secrets)
    chunk = "lorem ipsum " * 50 + secrets[7] + " dolor " + secrets[42] + "\n"
    text = chunk * 2000  # about 1.3 MB
    masked = masker.mask(text)
    assert masked.count(MASK) == 4000
    assert not masker.contains_secret(masked)


def test_merge_and_repr_never_show_secrets() -> None:
    first = SecretMasker(["alpha-secret"])
    second = SecretMasker(["beta-secret"])
    first.merge(second)
    assert first.mask("alpha-secret beta-secret") == f"{MASK} {MASK}"
    assert "secret" not in repr(first).replace("SecretMasker", "")


def test_trie_matches_a_plain_longest_first_alternation() -> None:
    import random
    import re

    rng = random.Random(1234)
    alphabet = 'ab/+=%\\"c'
    for _ in range(200):
        secrets = {
            "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7))) for _ in range(6)
        }
        masker = SecretMasker()
        masker._values = set(secrets)  # raw values only, to compare with the reference
        ordered = sorted(secrets, key=lambda v: (-len(v), v))
        reference = re.compile("|".join(re.escape(v) for v in ordered))
        text = "".join(rng.choice(alphabet + "xyz") for _ in range(80))
        assert masker.mask_text(text) == reference.sub(MASK, text), (secrets, text)


def test_very_long_and_prefix_sharing_secrets() -> None:
    pem = "MIIE" + "x" * 5000 + "END"
    masker = SecretMasker([pem, "tok-1", "tok-12", "tok-123", "tok-2"])
    assert masker.mask(f"key {pem}!") == f"key {MASK}!"
    assert masker.mask("tok-1234 tok-12 tok-2 tok-3") == f"{MASK}4 {MASK} {MASK} tok-3"
