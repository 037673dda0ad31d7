"""Customer data in free text: find it, replace it with typed placeholders, undo one replacement.

KCS keeps customer-specific details in the ticket, never in the article. ``find`` returns every
span of customer data in a text as a ``Replacement`` (offsets into the original text, sorted,
non-overlapping); ``apply`` writes the placeholders, except for the replacements an agent chose
to keep. ``kb check`` uses ``find`` + ``is_documentation`` on public articles.

What counts, and why (the labelled set in tests/data/scrub_labelled.tsv pins these rules):

- ``<name>``: only the names handed in (the ticket's customer / contact fields) — the full name
  and its parts. Latin parts of two letters or more match as whole words, any case; honorifics
  (Mr, Ms, Dr …) and company suffixes (Ltd, Inc, 有限公司 …) are not parts. A Chinese name
  matches whole, by its given name (two characters or more) and as surname + honorific (王先生,
  李经理). Nothing else is guessed to be a name.
- ``<email>``: local@domain.tld.
- ``<phone>``: what the ``phonenumbers`` library (libphonenumber's metadata) accepts as a valid
  number, read for region CN (so ``+``/``00`` international numbers and Chinese landlines and
  mobiles) and, when written with separators, for region US; plus Chinese mobiles
  ``1[3-9]x xxxx xxxx`` with optional ``+86``/``0086`` and spaces or hyphens.
- ``<ip>``: IPv4 (four parts 0–255, not inside a longer dotted number such as a version, not
  right after ``v`` or a word such as version / firmware / build / 版本, and not a netmask) and IPv6 (validated by ``ipaddress``).
- ``<mac>``: six hex pairs separated by ``:`` or ``-``, or Cisco's ``xxxx.xxxx.xxxx``.
- ``<id_card>``: 18-character Chinese resident ID whose birth date is a real date and whose
  ISO 7064 MOD 11-2 check character (0–9 or X) is right; anything else is not an ID card.
- ``<url>``: an http(s) URL carrying credentials — ``user:pass@`` — or a query parameter
  named like a secret (token, key, sig, signature, password, code, session …). The whole URL
  is replaced. Other URLs are left alone.
- ``<id>``: account / order / ticket-like identifiers:
  1. after a label — account, order, ticket, case, invoice, contract, customer, member,
     serial / S/N, licence, subscription, tracking, reference, booking, user id; 账号, 账户,
     订单, 工单, 客户编号, 会员, 发票, 合同, 单号, 序列号, 运单 … — a token of letters, digits and
     ``-``/``_`` holding at least four digits;
  2. without a label: two to six capital letters, an optional ``-``/``_`` and six or more
     digits (ACC-123456, ORD20240101, INC0012345), with later ``-digits`` groups;
  3. ``#`` followed by four or more digits (#123456);
  4. a bare run of eight or more digits that is not a date (YYYYMMDD).
  Never an id: dotted numbers (10.0.19045, v2.3.1), anything after ``0x`` (0x80370102), a
  letter plus few digits (E1234, 22H2), well-known public prefixes (KB5034441, CVE-2024-12345,
  RFC, ISO, GB18030, ORA-12154, AADSTS50076 …), prices, negative numbers.

Overlaps: the more specific kind wins (url > email > id_card > mac > ip > phone > id > name),
then the longer span.
"""
from __future__ import annotations

import datetime
import ipaddress
import re
from dataclasses import dataclass
from typing import Container, Iterable

import phonenumbers

KINDS = ("name", "email", "phone", "ip", "mac", "id", "url", "id_card")
PLACEHOLDERS = {k: f"<{k}>" for k in KINDS}
_PRIORITY = {"url": 8, "email": 7, "id_card": 6, "mac": 5, "ip": 4, "phone": 3, "id": 2, "name": 1}


@dataclass(frozen=True)
class Replacement:
    start: int
    end: int
    kind: str
    original: str
    placeholder: str


# --- regexes ------------------------------------------------------------------------------

_EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
                    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*\.[A-Za-z]{2,24}(?![A-Za-z0-9-])", re.A)
_URL = re.compile(r"https?://[^\s<>\"'`\u3000-\u303f\uff00-\uffef\u3400-\u9fff]+", re.I | re.A)
_URL_TRAIL = ".,;:!?)]}>'\""
_SECRET_PARAMS = re.compile(
    r"[?&#;](?:[\w.-]*[_-])?(?:token|access_token|id_token|auth|authorization|key|apikey|api_key|"
    r"sig|signature|secret|client_secret|password|passwd|pwd|pass|session|sessionid|sid|code|otp|"
    r"credential|x-amz-signature|x-amz-credential|x-goog-signature|jwt|ticket)=[^&#\s]+", re.I | re.A)
_USERINFO = re.compile(r"^https?://[^/@\s]+:[^/@\s]*@", re.I | re.A)
_IPV4 = re.compile(r"(?<![\w.])(?<![vV])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}"
                   r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:/\d{1,2})?(?![\w]|\.\d)", re.A)
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?:%\w+)?(?:/\d{1,3})?(?![\w:])", re.A)
_MAC = re.compile(r"(?<![\w:-])(?:[0-9A-Fa-f]{2}([:-]))(?:[0-9A-Fa-f]{2}\1){4}[0-9A-Fa-f]{2}(?![\w:-])"
                  r"|(?<![\w.])[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}\.[0-9A-Fa-f]{4}(?![\w.])", re.A)
_VERSION_LABEL = re.compile(r"(?:\b(?:version|ver|firmware|fw|build|driver|release|update|patch)\.?"
                            r"|版本号?|固件|驱动|内部版本)\s*[:：]?\s*$", re.I)
_ID_CARD = re.compile(r"(?<![0-9A-Za-z])[1-9]\d{16}[0-9Xx](?![0-9A-Za-z])", re.A)
_CN_MOBILE = re.compile(r"(?<![\w+])(?:(?:\+|00)86[\s-]?|\(\+?86\)\s?)?1[3-9]\d[\s-]?\d{4}[\s-]?\d{4}(?!\d)", re.A)

_ID_LABEL_EN = (r"account|acct|order|ticket|case|incident|invoice|contract|customer|client|member(?:ship)?|"
                r"serial|s/n|sn|licen[cs]e|subscription|tracking|reference|ref|booking|user\s?id|uid|"
                r"policy|claim|loyalty|card")
_ID_LABEL_ZH = (r"账号|帐号|账户|帐户|订单|工单|客户编号|客户号|会员卡?|发票|合同|单号|序列号|运单|快递单|"
                r"用户ID|用户id|用户名|编号|卡号|保单|流水号|交易号")
_ID_LABELLED = re.compile(
    rf"(?:(?<![A-Za-z])(?:{_ID_LABEL_EN})(?![A-Za-z])\s*(?:id|no\.?|number|num|code|#)?|(?:{_ID_LABEL_ZH})"
    rf"(?:号码|编号|号|ID)?\s*(?:为|是)?)\s*[:：#=]?\s*#?"
    rf"(?P<tok>(?<![\w.-])[A-Za-z0-9][A-Za-z0-9_-]*[A-Za-z0-9](?![\w]|[.-]\d))", re.I | re.A)
_ID_PREFIXED = re.compile(r"(?<![\w-])(?P<prefix>[A-Z]{2,6})[-_]?\d{6,}(?:[-_]\d+)*(?![\w-])", re.A)
_ID_HASH = re.compile(r"(?<![\w&#])#\d{4,}(?![\w])", re.A)
_ID_DIGITS = re.compile(r"(?<![\w.,+-])(?<!0x)\d{8,}(?![\w]|[.,]\d)", re.A)
# Public identifiers that look like ids: updates, vulnerabilities, standards, error families.
_PUBLIC_PREFIXES = {"KB", "CVE", "CWE", "RFC", "ISO", "IEC", "IEEE", "GB", "GBT", "MS", "ORA", "AADSTS",
                    "ERR", "ERROR", "SQL", "HTTP", "TLS", "SSL", "USB", "PCI", "DDR", "RTX", "GTX", "RX",
                    "UTF", "ANSI", "EN", "NIST", "SP", "HR", "HRESULT", "STATUS", "WIN", "KERNEL", "MSI",
                    "ECMA", "DIN", "JIS", "IDS", "SHA", "MD", "AES", "RSA", "CPU", "GPU", "SSD", "NVME"}

_HONORIFICS_EN = {"mr", "mrs", "ms", "miss", "dr", "prof", "sir", "madam", "mx"}
_COMPANY_WORDS = {"ltd", "limited", "inc", "corp", "co", "company", "llc", "gmbh", "ag", "plc", "sa", "bv",
                  "group", "team", "dept", "department", "the", "and", "of", "it", "support", "service",
                  "services", "technology", "technologies", "international", "holdings", "bank"}
_ZH_COMPANY = re.compile(r"(?:股份)?有限(?:责任)?公司|集团|公司|分公司|科技|银行|部门?$")
_ZH_HONORIFICS = "先生|女士|小姐|老师|经理|总|工|主任|同学|师傅"
_ZH_COMPOUND_SURNAMES = {"欧阳", "司马", "诸葛", "上官", "司徒", "东方", "皇甫", "令狐", "慕容", "尉迟",
                         "长孙", "宇文", "公孙", "夏侯", "端木", "独孤", "南宫", "西门", "轩辕", "澹台"}
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


# --- individual detectors -----------------------------------------------------------------

def _netmask(s: str) -> bool:
    """255.255.255.0 and the like: a mask, not an address."""
    try:
        bits = format(int(ipaddress.IPv4Address(s.split("/")[0])), "032b")
    except ValueError:
        return False
    return bits.startswith("1") and "01" not in bits


def _valid_id_card(s: str) -> bool:
    s = s.upper()
    try:
        datetime.date(int(s[6:10]), int(s[10:12]), int(s[12:14]))
    except ValueError:
        return False
    if not 1900 <= int(s[6:10]) <= datetime.date.today().year:
        return False
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(c) * w for c, w in zip(s[:17], weights))
    return "10X98765432"[total % 11] == s[17]


def _is_date8(s: str) -> bool:
    if len(s) != 8:
        return False
    try:
        datetime.date(int(s[:4]), int(s[4:6]), int(s[6:]))
    except ValueError:
        return False
    return 1970 <= int(s[:4]) <= 2100


def _urls(text: str):
    for m in _URL.finditer(text):
        url = m.group(0).rstrip(_URL_TRAIL)
        if _USERINFO.match(url) or _SECRET_PARAMS.search(url):
            yield m.start(), m.start() + len(url), "url"


def _emails(text: str):
    for m in _EMAIL.finditer(text):
        yield m.start(), m.end(), "email"


def _id_cards(text: str):
    for m in _ID_CARD.finditer(text):
        if _valid_id_card(m.group(0)):
            yield m.start(), m.end(), "id_card"


def _macs(text: str):
    for m in _MAC.finditer(text):
        yield m.start(), m.end(), "mac"


def _ips(text: str):
    for m in _IPV4.finditer(text):
        if not _VERSION_LABEL.search(text[max(0, m.start() - 24):m.start()]) and not _netmask(m.group(0)):
            yield m.start(), m.end(), "ip"
    for m in _IPV6.finditer(text):
        raw = m.group(0)
        addr = raw.split("%")[0].split("/")[0]
        if addr.count(":") < 2 or len(addr) < 6 or sum(c.isalnum() for c in addr) < 4:
            continue
        try:
            ipaddress.IPv6Address(addr)
        except ValueError:
            continue
        yield m.start(), m.end(), "ip"


def _phones(text: str):
    for m in _CN_MOBILE.finditer(text):
        yield m.start(), m.end(), "phone"
    if not any(c.isdigit() for c in text):
        return
    for region in ("CN", "US"):
        for m in phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID):
            raw = m.raw_string
            if region == "US" and not raw.startswith("+") and not re.search(r"[\s().-]", raw):
                continue  # a bare run of ten digits is more often an id than a US number
            if _looks_versioned(text, m.start, m.end):
                continue
            yield m.start, m.end, "phone"


def _looks_versioned(text: str, start: int, end: int) -> bool:
    """A match that is part of a dotted number (10.0.19045.3803) or a date is not a phone."""
    raw = text[start:end]
    if (re.fullmatch(r"\d+(?:\.\d+)+", raw) and not re.fullmatch(r"\d{3}\.\d{3}\.\d{4}", raw)) or re.fullmatch(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}", raw):
        return True
    before, after = text[max(0, start - 2):start], text[end:end + 2]
    return bool(re.search(r"\d\.$|[vV]$|(?:^|[^\w])-$|0[xX]$", before) or re.match(r"\.\d", after))


def _ids(text: str):
    for m in _ID_LABELLED.finditer(text):
        tok = m.group("tok")
        if sum(c.isdigit() for c in tok) < 4 or tok.lower().startswith("0x") or _public(tok):
            continue
        yield m.start("tok"), m.end("tok"), "id"
    for m in _ID_PREFIXED.finditer(text):
        if m.group("prefix") not in _PUBLIC_PREFIXES:
            yield m.start(), m.end(), "id"
    for m in _ID_HASH.finditer(text):
        yield m.start(), m.end(), "id"
    for m in _ID_DIGITS.finditer(text):
        if not _is_date8(m.group(0)):
            yield m.start(), m.end(), "id"


def _public(tok: str) -> bool:
    m = re.match(r"[A-Za-z]+", tok)
    return bool(m and m.group(0).upper() in _PUBLIC_PREFIXES)


def name_patterns(names: Iterable[str]) -> list[re.Pattern]:
    """Patterns for the names handed in and their parts (longest first)."""
    forms: set[str] = set()
    for name in names:
        for piece in re.split(r"[()（）/,，;；、]|\band\b", name or ""):
            piece = piece.strip()
            if not piece:
                continue
            if _CJK.search(piece):
                core = _ZH_COMPANY.sub("", re.sub(r"\s+", "", piece))
                core = re.sub(rf"(?:{_ZH_HONORIFICS})$", "", core)
                if len(core) < 2:
                    continue
                forms.add(re.escape(core))
                surname = core[:2] if core[:2] in _ZH_COMPOUND_SURNAMES and len(core) > 2 else core[:1]
                given = core[len(surname):]
                if len(given) >= 2:
                    forms.add(re.escape(given))
                if len(core) <= 4:
                    forms.add(f"{re.escape(surname)}(?:{_ZH_HONORIFICS})")
                continue
            words = [w for w in re.split(r"[\s.·_-]+", piece) if w]
            kept = [w for w in words if w.lower().strip("'") not in _HONORIFICS_EN | _COMPANY_WORDS]
            if kept:
                forms.add(re.escape(" ".join(kept)).replace(r"\ ", r"[\s.·_-]+"))
            for w in kept:
                if len(w) >= 2 and not w.isdigit():
                    forms.add(re.escape(w))
    out = []
    for f in sorted(forms, key=len, reverse=True):
        latin = not _CJK.search(f)
        pat = rf"(?<![A-Za-z0-9]){f}(?![A-Za-z0-9])" if latin else f
        out.append(re.compile(pat, re.I if latin else 0))
    return out


def _names(text: str, names: Iterable[str]):
    for pat in name_patterns(names):
        for m in pat.finditer(text):
            yield m.start(), m.end(), "name"


# --- the interface ------------------------------------------------------------------------

def find(text: str, names: Iterable[str] = ()) -> list[Replacement]:
    """Every span of customer data in ``text``: sorted, non-overlapping, offsets into ``text``."""
    if not text:
        return []
    candidates = []
    for gen in (_urls(text), _emails(text), _id_cards(text), _macs(text), _ips(text), _phones(text),
                _ids(text), _names(text, [n for n in names if n])):
        candidates.extend(gen)
    candidates.sort(key=lambda c: (-_PRIORITY[c[2]], -(c[1] - c[0]), c[0]))
    taken: list[tuple[int, int, str]] = []
    for start, end, kind in candidates:
        if end <= start or any(start < e and s < end for s, e, _ in taken):
            continue
        taken.append((start, end, kind))
    taken.sort()
    return [Replacement(s, e, k, text[s:e], PLACEHOLDERS[k]) for s, e, k in taken]


def apply(text: str, replacements: list[Replacement], keep: Container[int] = ()) -> str:
    """``text`` with every replacement written as its placeholder, except those whose index
    (in ``replacements``) is in ``keep``."""
    out, pos = [], 0
    for i, r in sorted(enumerate(replacements), key=lambda ir: ir[1].start):
        if r.start < pos or text[r.start:r.end] != r.original:
            raise ValueError(f"replacement {i} ({r.kind} at {r.start}) does not fit this text")
        out.append(text[pos:r.start])
        out.append(r.original if i in keep else r.placeholder)
        pos = r.end
    out.append(text[pos:])
    return "".join(out)


def scrub(text: str, names: Iterable[str] = ()) -> str:
    """``text`` with all customer data replaced."""
    return apply(text, find(text, names))


# --- documentation values (allowed in public articles) -------------------------------------

_DOC_DOMAINS = re.compile(r"(?:^|[.@])(?:example\.(?:com|org|net)|[\w-]+\.(?:example|test|invalid|localhost)"
                          r"|example|test|invalid|localhost)$", re.I)
_DOC_PHONES = {"13800138000", "8613800138000"}
# fiction / documentation ranges: US 555-0100…0199, UK (Ofcom) 020 7946 0xxx and 07700 900xxx
_DOC_PHONE_RANGES = re.compile(r"^(?:1?\d{3}5550 1\d\d|(?:44|0)(?:2079460|7700900)\d{3})$".replace(" ", ""))
_PUBLIC_RESOLVERS = {"8.8.8.8", "8.8.4.4", "1.1.1.1", "1.0.0.1", "9.9.9.9", "114.114.114.114",
                     "223.5.5.5", "223.6.6.6", "119.29.29.29", "208.67.222.222", "208.67.220.220"}


def is_documentation(r: Replacement) -> bool:
    """Whether a match is a value documentation may show: reserved example domains, private,
    loopback and documentation address ranges, public DNS resolvers, the canonical example
    mobile number 138 0013 8000, and the numbers reserved for fiction (US 555-01xx, UK 020 7946
    0xxx and 07700 900xxx)."""
    v = r.original
    if r.kind in ("email", "url"):
        host = v.split("@", 1)[1] if r.kind == "email" else re.sub(r"^https?://([^/@]*@)?", "", v, flags=re.I)
        host = re.split(r"[/:?#]", host, maxsplit=1)[0]
        return bool(_DOC_DOMAINS.search(host))
    if r.kind == "ip":
        try:
            addr = ipaddress.ip_interface(v.split("%")[0]).ip
        except ValueError:
            return False
        doc = any(addr in ipaddress.ip_network(n) for n in (
            "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
            if addr.version == ipaddress.ip_network(n).version)
        return doc or addr.is_private or addr.is_loopback or addr.is_unspecified or str(addr) in _PUBLIC_RESOLVERS
    if r.kind == "phone":
        digits = re.sub(r"\D", "", v)
        return digits.lstrip("0") in _DOC_PHONES or bool(_DOC_PHONE_RANGES.match(digits))
    return False


_FM_KEYS_CHECKED = re.compile(r"^(?:title|summary)\s*:")


def article_findings(raw: str) -> list[tuple[int, int, Replacement]]:
    """Customer data left in an article file: (line, column, match) for the title, summary and
    body — other front matter (owners are staff contacts) and documentation values excepted."""
    lines = raw.split("\n")
    in_fm = bool(lines) and lines[0].strip() == "---"
    out = []
    for no, line in enumerate(lines, 1):
        if in_fm:
            if no > 1 and line.strip() in ("---", "..."):
                in_fm = False
                continue
            if not _FM_KEYS_CHECKED.match(line):
                continue
        for r in find(line):
            if not is_documentation(r):
                out.append((no, r.start + 1, r))
    return out
