"""A small hand-made HTTP Digest client (RFC 7616) for the integration tests.

It parses challenges the way RFC 9110 §11 defines them (several challenges per
field value, token or quoted-string parameter values, case-insensitive scheme
and parameter names) and builds Proxy-Authorization values for MD5, SHA-256
and SHA-512-256, their -sess variants, qop=auth and auth-int, userhash and
username* (RFC 8187). Every parameter of an answer can be overridden or left
out, so tests can build deliberately wrong answers too.

Used over the raw-socket Client of helpers.py; nothing here touches the
network."""

import hashlib
import os
import re
import urllib.parse

# algorithm token (upper-cased, without -sess) -> hashlib name
HASHES = {"MD5": "md5", "SHA-256": "sha256", "SHA-512-256": "sha512_256"}
ALGORITHMS = ("MD5", "SHA-256", "SHA-512-256")
ALL_ALGORITHMS = ALGORITHMS + tuple(a + "-sess" for a in ALGORITHMS)

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_TOKEN_RE = re.compile(_TOKEN)
_TOKEN68_RE = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def H(algorithm, data):
    """Hex digest of data under a Digest algorithm name (MD5, SHA-256, SHA-512-256[-sess])."""
    base = algorithm.upper()
    if base.endswith("-SESS"):
        base = base[:-5]
    if isinstance(data, str):
        data = data.encode("utf-8")
    return hashlib.new(HASHES[base], data).hexdigest()


def KD(algorithm, secret, data):
    return H(algorithm, f"{secret}:{data}")


def ha1(algorithm, user, realm, password, nonce=None, cnonce=None):
    """H(A1); for a -sess algorithm H(H(user:realm:password):nonce:cnonce)."""
    base = H(algorithm, f"{user}:{realm}:{password}")
    if algorithm.upper().endswith("-SESS"):
        return H(algorithm, f"{base}:{nonce}:{cnonce}")
    return base


def ha2(algorithm, method, uri, qop="auth", body=b""):
    if qop == "auth-int":
        return H(algorithm, f"{method}:{uri}:{H(algorithm, body)}")
    return H(algorithm, f"{method}:{uri}")


def userhash(algorithm, user, realm):
    """The username sent with userhash=true: H(user:realm) (RFC 7616 §3.4.4)."""
    return H(algorithm, f"{user}:{realm}")


def ext_value(text):
    """RFC 8187 ext-value in UTF-8 with no language: UTF-8''%xx..."""
    return "UTF-8''" + urllib.parse.quote(text.encode("utf-8"), safe="!#$&+-.^_`|~")


def quote(value):
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


# ---------------------------------------------------------------- parsing ---

class Challenge:
    """One challenge: scheme plus either auth-params (dict, lower-cased names) or a token68."""

    def __init__(self, scheme, params, names, token68=None, raw=""):
        self.scheme = scheme
        self.params = params  # lower-cased name -> unquoted value
        self.names = names  # parameter names in order, as sent (duplicates kept)
        self.token68 = token68
        self.raw = raw

    @property
    def is_digest(self):
        return self.scheme.lower() == "digest"

    @property
    def algorithm(self):
        return self.params.get("algorithm", "MD5")

    def get(self, name, default=None):
        return self.params.get(name.lower(), default)

    def __getitem__(self, name):
        return self.params[name.lower()]

    def __contains__(self, name):
        return name.lower() in self.params

    @property
    def qops(self):
        return [q.strip() for q in self.params.get("qop", "").split(",") if q.strip()]

    @property
    def stale(self):
        return self.params.get("stale", "").lower() == "true"

    def __repr__(self):
        return f"<Challenge {self.scheme} {self.params!r}>"


class ParseError(ValueError):
    pass


def _skip_ows(s, i):
    while i < len(s) and s[i] in " \t":
        i += 1
    return i


def _quoted(s, i):
    """s[i] is '"'; returns (value, index after the closing quote)."""
    assert s[i] == '"'
    i += 1
    out = []
    while i < len(s):
        c = s[i]
        if c == "\\":
            if i + 1 >= len(s):
                raise ParseError(f"dangling backslash in {s!r}")
            out.append(s[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise ParseError(f"unterminated quoted string in {s!r}")


def parse_challenges(values):
    """Parses one or more Proxy-Authenticate field values into a list of Challenge.

    Accepts a string or a list of strings (one per header line); a line may hold
    several comma-separated challenges."""
    if isinstance(values, str):
        values = [values]
    out = []
    for value in values:
        out.extend(_parse_one_field(value))
    return out


def _parse_one_field(s):
    challenges = []
    i = 0
    n = len(s)
    while True:
        # skip empty list elements
        while i < n and s[i] in " \t,":
            i += 1
        if i >= n:
            return challenges
        m = _TOKEN_RE.match(s, i)
        if not m:
            raise ParseError(f"expected a scheme at {i} in {s!r}")
        scheme = m.group(0)
        start = i
        i = m.end()
        params, names, token68 = {}, [], None
        if i < n and s[i] not in " \t,":
            raise ParseError(f"junk after scheme in {s!r}")
        i = _skip_ows(s, i)
        # token68?
        m68 = _TOKEN68_RE.match(s, i)
        if m68:
            j = _skip_ows(s, m68.end())
            is_param = False
            name_m = _TOKEN_RE.match(s, i)
            if name_m:
                k = _skip_ows(s, name_m.end())
                if k < n and s[k] == "=":
                    k = _skip_ows(s, k + 1)
                    is_param = k < n and (s[k] == '"' or bool(_TOKEN_RE.match(s, k)))
            if not is_param and (j >= n or s[j] == ","):
                token68 = m68.group(0)
                i = j
                challenges.append(Challenge(scheme, params, names, token68, s[start:i].strip()))
                continue
        # auth-params, separated by commas, until a token not followed by '='
        while i < n:
            i = _skip_ows(s, i)
            if i >= n:
                break
            if s[i] == ",":
                # look ahead: a new challenge begins with "token SP" not followed by '='
                j = i
                while j < n and s[j] in " \t,":
                    j += 1
                if j >= n:
                    i = j
                    break
                nm = _TOKEN_RE.match(s, j)
                if not nm:
                    raise ParseError(f"expected a parameter at {j} in {s!r}")
                k = _skip_ows(s, nm.end())
                if k >= n or s[k] != "=":
                    i = j  # next challenge
                    break
                i = j
                continue
            nm = _TOKEN_RE.match(s, i)
            if not nm:
                raise ParseError(f"expected a parameter name at {i} in {s!r}")
            name = nm.group(0)
            i = _skip_ows(s, nm.end())
            if i >= n or s[i] != "=":
                if not params:
                    raise ParseError(f"expected '=' after {name!r} in {s!r}")
                i = nm.start()
                break
            i = _skip_ows(s, i + 1)
            if i < n and s[i] == '"':
                value, i = _quoted(s, i)
            else:
                vm = _TOKEN_RE.match(s, i)
                if not vm:
                    raise ParseError(f"expected a value for {name!r} in {s!r}")
                value, i = vm.group(0), vm.end()
            names.append(name)
            params[name.lower()] = value
            i = _skip_ows(s, i)
            if i < n and s[i] != ",":
                raise ParseError(f"junk after parameter {name!r} in {s!r}")
        challenges.append(Challenge(scheme, params, names, None, s[start:i].strip(" \t,")))


def parse_params(value):
    """Parses a comma-separated auth-param list (e.g. Proxy-Authentication-Info) into a dict
    with lower-cased names; raises ParseError on duplicates."""
    out = {}
    i, n = 0, len(value)
    while i < n:
        while i < n and value[i] in " \t,":
            i += 1
        if i >= n:
            break
        nm = _TOKEN_RE.match(value, i)
        if not nm:
            raise ParseError(f"expected a parameter name at {i} in {value!r}")
        name = nm.group(0).lower()
        i = _skip_ows(value, nm.end())
        if i >= n or value[i] != "=":
            raise ParseError(f"expected '=' after {name!r} in {value!r}")
        i = _skip_ows(value, i + 1)
        if i < n and value[i] == '"':
            v, i = _quoted(value, i)
        else:
            vm = _TOKEN_RE.match(value, i)
            if not vm:
                raise ParseError(f"expected a value for {name!r} in {value!r}")
            v, i = vm.group(0), vm.end()
        if name in out:
            raise ParseError(f"duplicate parameter {name!r} in {value!r}")
        out[name] = v
        i = _skip_ows(value, i)
        if i < n and value[i] != ",":
            raise ParseError(f"junk after {name!r} in {value!r}")
    return out


def digest_challenges(resp):
    """The Digest challenges of a response (helpers.Response), in order."""
    return [c for c in parse_challenges(resp.all("Proxy-Authenticate")) if c.is_digest]


def pick(resp, algorithm="SHA-256"):
    """The Digest challenge of resp offering algorithm (without -sess: -sess answers are
    made to the plain challenge)."""
    base = algorithm.upper()
    if base.endswith("-SESS"):
        base = base[:-5]
    for c in digest_challenges(resp):
        if c.algorithm.upper() == base:
            return c
    raise AssertionError(f"no Digest {base} challenge in {resp.all('Proxy-Authenticate')!r}")


# --------------------------------------------------------------- answering ---

def new_cnonce():
    return os.urandom(12).hex()


class DigestClient:
    """Answers one Digest challenge for one user; counts nc per nonce.

    algorithm: what to put in the answer (defaults to the challenge's); may be a
    -sess variant. userhash=True sends H(user:realm) as username; ext=True sends
    username* (RFC 8187) instead of username."""

    def __init__(self, user, password, challenge, algorithm=None, qop="auth", userhash=False,
                 ext=False, cnonce=None):
        self.user = user
        self.password = password
        self.challenge = challenge
        self.realm = challenge["realm"]
        self.nonce = challenge["nonce"]
        self.opaque = challenge.get("opaque")
        self.algorithm = algorithm or challenge.algorithm
        self.qop = qop
        self.userhash = userhash
        self.ext = ext
        self.cnonce = cnonce or new_cnonce()
        self.nc = 0
        self.last = None  # the dict of the last answer's parameters (after overrides)

    def renew(self, challenge_or_nonce):
        """Switches to a new nonce (from a stale challenge or a nextnonce), resetting nc."""
        if isinstance(challenge_or_nonce, Challenge):
            self.challenge = challenge_or_nonce
            self.nonce = challenge_or_nonce["nonce"]
            self.opaque = challenge_or_nonce.get("opaque", self.opaque)
        else:
            self.nonce = challenge_or_nonce
        self.nc = 0

    def response_value(self, method, uri, body=b"", nc=None, cnonce=None, nonce=None, qop=None,
                       algorithm=None, password=None, realm=None, user=None):
        algorithm = algorithm or self.algorithm
        qop = qop or self.qop
        nonce = nonce or self.nonce
        cnonce = cnonce or self.cnonce
        realm = self.realm if realm is None else realm
        user = self.user if user is None else user
        password = self.password if password is None else password
        a1 = ha1(algorithm, user, realm, password, nonce, cnonce)
        a2 = ha2(algorithm, method, uri, qop, body)
        return KD(algorithm, a1, f"{nonce}:{nc}:{cnonce}:{qop}:{a2}")

    def params(self, method, uri, body=b"", nc=None, password=None, **overrides):
        """The ordered answer parameters as a list of (name, value, quoted).

        nc: an int to use (default: the next count). overrides: name=value replaces a
        parameter's value (value None drops it); response is computed from the final
        realm/nonce/cnonce/qop/algorithm values unless overridden."""
        if nc is None:
            self.nc += 1
            nc = self.nc
        ncs = nc if isinstance(nc, str) else f"{nc:08x}"
        cnonce = overrides.get("cnonce", self.cnonce)
        nonce = overrides.get("nonce", self.nonce)
        qop = overrides.get("qop", self.qop)
        realm = overrides.get("realm", self.realm)
        algorithm = overrides.get("algorithm", self.algorithm)
        # an unknown algorithm token (a test of unsupported_algorithm) is sent as given;
        # the response is then computed with the client's own algorithm
        calc_alg = algorithm if algorithm and _base(algorithm) in HASHES else self.algorithm
        if self.userhash:
            username = ("username", userhash(calc_alg, self.user, realm), True)
        elif self.ext:
            username = ("username*", ext_value(self.user), False)
        else:
            username = ("username", self.user, True)
        response = self.response_value(method, uri, body, ncs, cnonce, nonce, qop, calc_alg,
                                       password, realm)
        ps = [
            username,
            ("realm", realm, True),
            ("nonce", nonce, True),
            ("uri", uri, True),
            ("algorithm", algorithm, False),
            ("response", response, True),
            ("qop", qop, False),
            ("nc", ncs, False),
            ("cnonce", cnonce, True),
        ]
        if self.opaque is not None:
            ps.append(("opaque", self.opaque, True))
        if self.userhash:
            ps.append(("userhash", "true", False))
        names = [p[0] for p in ps]
        for name, value in overrides.items():
            key = name.replace("_star", "*")
            if key in names:
                idx = names.index(key)
                ps[idx] = (key, value, ps[idx][2]) if value is not None else None
            elif value is not None:
                ps.append((key, value, True))
        ps = [p for p in ps if p is not None]
        self.last = {n: v for n, v, _ in ps}
        self.last["_nc"] = ncs
        return ps

    def header(self, method, uri, body=b"", nc=None, password=None, **overrides):
        """A Proxy-Authorization value: 'Digest username="...", ...'."""
        ps = self.params(method, uri, body, nc, password, **overrides)
        parts = [f"{n}={quote(v) if q else v}" for n, v, q in ps]
        return "Digest " + ", ".join(parts)

    def expected_rspauth(self, uri, nc=None, qop="auth"):
        """rspauth for the last answer: KD(H(A1), nonce:nc:cnonce:qop:H(":" uri))."""
        ncs = nc or self.last["_nc"]
        algorithm = self.algorithm
        a1 = ha1(algorithm, self.user, self.realm, self.password, self.nonce, self.cnonce)
        a2 = H(algorithm, f":{uri}")
        return KD(algorithm, a1, f"{self.nonce}:{ncs}:{self.cnonce}:{qop}:{a2}")

    def check_info(self, resp, uri):
        """Asserts resp carries a correct Proxy-Authentication-Info for the last answer;
        returns its parameters."""
        values = resp.all("Proxy-Authentication-Info")
        assert len(values) == 1, f"expected one Proxy-Authentication-Info, got {values!r}"
        info = parse_params(values[0])
        assert info.get("qop") == self.qop, info
        assert info.get("nc") == self.last["_nc"], info
        assert info.get("cnonce") == self.cnonce, info
        if self.qop == "auth":
            assert info.get("rspauth") == self.expected_rspauth(uri), \
                f"wrong rspauth: {info!r}, expected {self.expected_rspauth(uri)}"
        return info


def _base(algorithm):
    a = algorithm.upper()
    return a[:-5] if a.endswith("-SESS") else a
