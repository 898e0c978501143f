"""Every password-hash format that Apache's tools and crypt(3) produce verifies,
and the proxy's verdict equals Apache `htpasswd -v`'s verdict for right and
wrong passwords alike."""

import subprocess

import pytest

# user -> (how the line is made, password)
FORMATS = {
    "u_bcrypt": ("htpasswd -B", "bcrypt-pw"),
    "u_apr1": ("htpasswd -m", "apr1-pw"),
    "u_sha1": ("htpasswd -s", "sha1-pw"),
    "u_crypt": ("htpasswd -d", "crypt8ch"),  # DES crypt: 8 significant characters
    "u_htsha256": ("htpasswd -2", "sha256-pw"),
    "u_htsha512": ("htpasswd -5", "sha512-pw"),
    "u_ossl5": ("openssl passwd -5", "ossl5-pw"),
    "u_ossl6": ("openssl passwd -6", "ossl6-pw"),
    "u_mk512": ("mkpasswd -m sha-512", "mk512-pw"),
    "u_mkbcrypt": ("mkpasswd -m bcrypt", "mkbcrypt-pw"),  # $2b$
}
PLAIN = ("u_plain", "plain-pw")  # htpasswd -p: Apache itself rejects it on Unix


def _hash_line(how, user, password):
    tool = how.split()
    if tool[0] == "htpasswd":
        out = subprocess.run(["htpasswd", "-nb", tool[1], user, password], check=True,
                             capture_output=True, timeout=30, text=True).stdout.strip()
        assert out.startswith(user + ":"), out
        return out
    if tool[0] == "openssl":
        h = subprocess.run(["openssl", "passwd", tool[2], password], check=True,
                           capture_output=True, timeout=30, text=True).stdout.strip()
        return f"{user}:{h}"
    if tool[0] == "mkpasswd":
        h = subprocess.run(["mkpasswd", "-m", tool[2], password], check=True,
                           capture_output=True, timeout=30, text=True).stdout.strip()
        return f"{user}:{h}"
    raise ValueError(how)


@pytest.fixture(scope="module")
def formats_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("formats") / "formats.htpasswd"
    lines = [_hash_line(how, user, pw) for user, (how, pw) in FORMATS.items()]
    lines.append(f"{PLAIN[0]}:{PLAIN[1]}")
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def test_formats_file_has_the_expected_hash_prefixes(formats_file):
    text = open(formats_file).read()
    for prefix in ("u_bcrypt:$2y$", "u_apr1:$apr1$", "u_sha1:{SHA}", "u_htsha256:$5$",
                   "u_htsha512:$6$", "u_ossl5:$5$", "u_ossl6:$6$", "u_mk512:$6$",
                   "u_mkbcrypt:$2b$"):
        assert prefix in text
    crypt_line = [l for l in text.splitlines() if l.startswith("u_crypt:")][0]
    assert len(crypt_line.split(":", 1)[1]) == 13  # classic DES crypt


def _htpasswd_verdict(path, user, password):
    r = subprocess.run(["htpasswd", "-vb", path, user, password], capture_output=True, timeout=30)
    return r.returncode == 0


def _proxy_verdict(client, origin, user, password):
    resp = client.request("GET", origin.url("/echo"), auth=(user, password))
    assert resp.status in (200, 407), resp
    return resp.status == 200


@pytest.mark.parametrize("user", list(FORMATS))
def test_each_format_verifies_the_right_password_and_rejects_a_wrong_one(proxy, origin,
                                                                         formats_file, user):
    p = proxy(htpasswd=formats_file)
    password = FORMATS[user][1]
    with p.connect() as c:
        assert _proxy_verdict(c, origin, user, password), f"{FORMATS[user][0]} line rejected"
    with p.connect() as c:
        assert not _proxy_verdict(c, origin, user, "Z" + password)


@pytest.mark.parametrize("user", list(FORMATS) + [PLAIN[0]])
def test_proxy_verdict_equals_apache_htpasswd_verify(proxy, origin, formats_file, user):
    p = proxy(htpasswd=formats_file)
    right = dict(FORMATS, **{PLAIN[0]: ("htpasswd -p", PLAIN[1])})[user][1]
    candidates = [right, right + "x", right[:-1], right.upper(), "", "wrong", right + " ",
                  " " + right]
    mismatches = []
    for pw in candidates:
        oracle = _htpasswd_verdict(formats_file, user, pw)
        with p.connect() as c:
            got = _proxy_verdict(c, origin, user, pw)
        if got != oracle:
            mismatches.append(f"password {pw!r}: htpasswd -v says {oracle}, proxy says {got}")
    assert not mismatches, "\n".join(mismatches)


def test_des_crypt_line_accepts_a_password_truncated_to_eight_characters_like_apache(
        proxy, origin, formats_file):
    p = proxy(htpasswd=formats_file)
    assert _htpasswd_verdict(formats_file, "u_crypt", "crypt8ch-and-more")
    with p.connect() as c:
        assert _proxy_verdict(c, origin, "u_crypt", "crypt8ch-and-more")


def test_plaintext_line_is_rejected_like_apache_on_unix(proxy, origin, formats_file):
    p = proxy(htpasswd=formats_file)
    assert not _htpasswd_verdict(formats_file, *PLAIN)
    with p.connect() as c:
        assert not _proxy_verdict(c, origin, *PLAIN)


def test_utf8_password_made_by_htpasswd_verifies_through_curl(proxy, users, origin):
    from helpers import curl
    users.add("utf", "pä:ss€", flag="-B")
    users.add("utf5", "pä:ss€", flag="-5")
    p = proxy()
    for user in ("utf", "utf5"):
        r = curl(["-x", p.url, "--proxy-user", f"{user}:pä:ss€", "-o", "/dev/null",
                  "-w", "%{http_code}", origin.url("/echo")])
        assert r.stdout == b"200", (user, r)
        r = curl(["-x", p.url, "--proxy-user", f"{user}:pa:ss€", "-o", "/dev/null",
                  "-w", "%{http_code}", origin.url("/echo")])
        assert r.stdout == b"407", (user, r)
