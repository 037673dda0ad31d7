"""A real, throw-away OpenLDAP server for the directory sign-in tests: Debian's slapd in a
temporary folder, on free loopback ports (ldap:// with StartTLS, and ldaps://, behind a CA made
for the run), stopped at the end — and by the kernel if the test process dies first.

Two directories in one server:

- ``dc=example,dc=org``, an OpenLDAP directory: inetOrgPerson users under ou=people,
  groupOfNames groups under ou=groups (no memberOf), the ppolicy overlay (an administrative
  lock refuses the bind), anonymous reads allowed, a service account cn=kb-service;
- ``dc=corp,dc=example``, shaped like Active Directory: sAMAccountName, userAccountControl and
  memberOf (a small schema with AD's own attribute OIDs), anonymous reads refused, a service
  account cn=svc-kb. slapd does not refuse binds for the ACCOUNTDISABLE bit as AD does: kb's own
  check of the bit is what the tests see.
"""
from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

SLAPD = "/usr/sbin/slapd"
ADMIN_PW = "directory-admin-pw"
SERVICE_PW = "kb-service-password"
ORG = "dc=example,dc=org"
CORP = "DC=corp,DC=example"
PEOPLE = f"ou=people,{ORG}"
GROUPS = f"ou=groups,{ORG}"
SERVICE_DN = f"cn=kb-service,{PEOPLE}"
ROLE_GROUPS = {"agent": f"cn=support,{GROUPS}", "engineer": f"cn=engineers,{GROUPS}",
               "admin": f"cn=kb-admins,{GROUPS}"}
AD_GROUPS = {"agent": f"CN=KB Agents,OU=Groups,{CORP}", "engineer": f"CN=KB Engineers,OU=Groups,{CORP}",
             "admin": f"CN=KB Admins,OU=Groups,{CORP}"}
PASSWORDS = {"alice": "alice-ldap-pass", "erin": "erin-ldap-pass", "adam": "adam-ldap-pass",
             "nora": "nora-ldap-pass", "dave": "dave-ldap-pass", "ann": "ann-ad-pass", "eve": "eve-ad-pass",
             "dan": "dan-ad-pass"}

AD_SCHEMA = """\
attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.8 NAME 'userAccountControl'
  EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.2.102 NAME 'memberOf'
  EQUALITY distinguishedNameMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.12 )
objectclass ( 1.3.6.1.4.1.99999.1.1 NAME 'kbTestAdUser' SUP top AUXILIARY
  MAY ( sAMAccountName $ userAccountControl $ memberOf ) )
"""


def _person(uid: str, cn: str, groups=(), extra: str = "") -> str:
    return textwrap.dedent(f"""\
        dn: uid={uid},{PEOPLE}
        objectClass: inetOrgPerson
        uid: {uid}
        cn: {cn}
        sn: {cn.split()[-1]}
        displayName: {cn}
        userPassword: {PASSWORDS.get(uid, uid + "-ldap-pass")}
        """) + extra


def _top(suffix: str, o: str, units: list[str], service_cn: str) -> str:
    """A directory's root, its organizational units, and kb's service account (password
    SERVICE_PW) in the first unit; attribute names keep the case the suffix is written in."""
    dc_attr, dc = suffix.split(",")[0].split("=")
    ou, cn = ("OU", "CN") if dc_attr.isupper() else ("ou", "cn")
    entries = [f"dn: {suffix}\nobjectClass: dcObject\nobjectClass: organization\no: {o}\ndc: {dc}\n"]
    entries += [f"dn: {ou}={u},{suffix}\nobjectClass: organizationalUnit\nou: {u}\n" for u in units]
    entries.append(f"dn: {cn}={service_cn},{ou}={units[0]},{suffix}\nobjectClass: organizationalRole\n"
                   f"objectClass: simpleSecurityObject\ncn: {service_cn}\nuserPassword: {SERVICE_PW}\n")
    return "\n".join(entries) + "\n"


def _org_ldif() -> str:
    members = {"support": ["alice", "dave"], "engineers": ["erin"], "kb-admins": ["adam"], "other": ["nora"]}
    out = [_top(ORG, "Example", ["people", "groups", "policies"], "kb-service") + textwrap.dedent(f"""\
        dn: cn=default,ou=policies,{ORG}
        objectClass: device
        objectClass: pwdPolicy
        cn: default
        pwdAttribute: userPassword
        pwdLockout: TRUE
        """),
           _person("alice", "Alice Lindqvist"), _person("erin", "Erin Engineer"), _person("adam", "Adam Admin"),
           _person("nora", "Nora Nogroup"),
           _person("dave", "Dave Departed", extra="pwdAccountLockedTime: 000001010000Z\n")]
    for group, uids in members.items():
        out.append(f"dn: cn={group},{GROUPS}\nobjectClass: groupOfNames\ncn: {group}\n"
                   + "".join(f"member: uid={u},{PEOPLE}\n" for u in uids))
    return "\n".join(out)


def _ad_user(cn: str, sam: str, group: str, uac: int) -> str:
    return textwrap.dedent(f"""\
        dn: CN={cn},OU=Users,{CORP}
        objectClass: inetOrgPerson
        objectClass: kbTestAdUser
        cn: {cn}
        sn: {cn.split()[-1]}
        displayName: {cn}
        sAMAccountName: {sam}
        userAccountControl: {uac}
        memberOf: {group}
        userPassword: {PASSWORDS[sam]}
        """)


def _corp_ldif() -> str:
    out = [_top(CORP, "Corp", ["Users", "Groups"], "svc-kb"),
           _ad_user("Ann Agent", "ann", AD_GROUPS["agent"], 512),
           _ad_user("Eve Engineer", "eve", AD_GROUPS["engineer"], 66048),        # 0x10200: enabled
           _ad_user("Dan Disabled", "dan", AD_GROUPS["agent"], 514)]             # 0x202: ACCOUNTDISABLE
    for role, dn in AD_GROUPS.items():
        members = {"agent": ["Ann Agent", "Dan Disabled"], "engineer": ["Eve Engineer"]}.get(role, [])
        out.append(f"dn: {dn}\nobjectClass: groupOfNames\ncn: {dn.split(',')[0][3:]}\n"
                   + "".join(f"member: CN={m},OU=Users,{CORP}\n" for m in members)
                   + ("" if members else f"member: CN=svc-kb,OU=Users,{CORP}\n"))
    return "\n".join(out)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:
    """In the child before exec: the kernel stops slapd if the test process goes away."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)     # PR_SET_PDEATHSIG


def stop_server(proc: subprocess.Popen, log) -> None:
    """Stop a server the suite started (killed if it does not stop in 20 s) and close its log."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log.close()


def _certificates(folder: Path) -> None:
    """A CA made for this run and a server certificate for 127.0.0.1 signed by it."""
    def ssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)
    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=kb test CA",
        "-keyout", "ca.key", "-out", "ca.pem")
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr")
    (folder / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
        "-extfile", "san.ext", "-out", "server.pem")


class Slapd:
    """The running server: its URLs, the CA file, and ldapmodify as the directory's admin."""

    def __init__(self, folder: Path):
        if not os.path.exists(SLAPD) or not shutil.which("ldapmodify"):
            pytest.fail("slapd is missing: apt-get install slapd ldap-utils (make test does it)")
        self.folder = folder
        self.port, self.tls_port = _free_port(), _free_port()
        self.url, self.ldaps_url = f"ldap://127.0.0.1:{self.port}", f"ldaps://127.0.0.1:{self.tls_port}"
        self.ca_file = folder / "ca.pem"
        _certificates(folder)
        (folder / "ad.schema").write_text(AD_SCHEMA)
        for db in ("org", "corp"):
            (folder / db).mkdir()
        (folder / "slapd.conf").write_text(self._conf())
        for suffix, ldif in ((ORG, _org_ldif()), (CORP, _corp_ldif())):
            path = folder / f"{suffix.split(',')[0][3:]}.ldif"
            path.write_text(ldif)
            subprocess.run([SLAPD.replace("slapd", "slapadd"), "-f", str(folder / "slapd.conf"), "-b", suffix,
                            "-l", str(path)], check=True, capture_output=True)
        self.log = open(folder / "slapd.log", "wb")
        self.proc = subprocess.Popen([SLAPD, "-d", "0", "-f", str(folder / "slapd.conf"), "-h",
                                      f"{self.url}/ {self.ldaps_url}/"], stdout=self.log, stderr=subprocess.STDOUT,
                                     preexec_fn=_die_with_parent)
        try:
            self._wait()
        except BaseException:
            self.stop()
            raise

    def _conf(self) -> str:
        f = self.folder
        return textwrap.dedent(f"""\
            include /etc/ldap/schema/core.schema
            include /etc/ldap/schema/cosine.schema
            include /etc/ldap/schema/inetorgperson.schema
            include /etc/ldap/schema/nis.schema
            include {f}/ad.schema
            modulepath /usr/lib/ldap
            moduleload back_mdb
            moduleload ppolicy
            pidfile {f}/slapd.pid
            TLSCACertificateFile {f}/ca.pem
            TLSCertificateFile {f}/server.pem
            TLSCertificateKeyFile {f}/server.key

            database mdb
            suffix "{ORG}"
            rootdn "cn=admin,{ORG}"
            rootpw {ADMIN_PW}
            directory {f}/org
            overlay ppolicy
            ppolicy_default "cn=default,ou=policies,{ORG}"
            access to attrs=userPassword by anonymous auth by * none
            access to * by * read

            database mdb
            suffix "{CORP}"
            rootdn "cn=admin,{CORP}"
            rootpw {ADMIN_PW}
            directory {f}/corp
            access to attrs=userPassword by anonymous auth by * none
            access to * by users read by anonymous auth
            """)

    def _wait(self) -> None:
        for _ in range(200):
            if self.proc.poll() is not None:
                raise AssertionError("slapd stopped: " + (self.folder / "slapd.log").read_text(errors="replace")[-2000:])
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("slapd did not start listening")

    def modify(self, ldif: str) -> None:
        """Apply an LDIF change as the directory's admin (the suffix is taken from its first DN)."""
        suffix = CORP if CORP.lower() in ldif.lower() else ORG
        subprocess.run(["ldapmodify", "-x", "-H", self.url, "-D", f"cn=admin,{suffix}", "-w", ADMIN_PW],
                       input=textwrap.dedent(ldif), text=True, check=True, capture_output=True)

    def add_person(self, uid: str, cn: str, group: str | None = None) -> str:
        """A new user (password ``<uid>-ldap-pass``) in ``group`` (a role name) or in none."""
        dn, rest = _person(uid, cn).split("\n", 1)
        self.modify(f"{dn}\nchangetype: add\n{rest}")
        if group:
            self.join(uid, group)
        return uid + "-ldap-pass"

    def join(self, uid: str, role: str) -> None:
        self.modify(f"dn: {ROLE_GROUPS[role]}\nchangetype: modify\nadd: member\nmember: uid={uid},{PEOPLE}\n")

    def leave(self, uid: str, role: str) -> None:
        self.modify(f"dn: {ROLE_GROUPS[role]}\nchangetype: modify\ndelete: member\nmember: uid={uid},{PEOPLE}\n")

    def lock(self, uid: str) -> None:
        """An administrative lock (ppolicy): the bind is refused and kb sees the account disabled."""
        self.modify(f"dn: uid={uid},{PEOPLE}\nchangetype: modify\nadd: pwdAccountLockedTime\n"
                    "pwdAccountLockedTime: 000001010000Z\n")

    def stop(self) -> None:
        stop_server(self.proc, self.log)


def org_env(slapd: Slapd, **extra: str) -> dict[str, str]:
    """KB_* settings for the OpenLDAP directory with a bind template."""
    env = {"KB_LDAP_URL": slapd.url, "KB_LDAP_USER_DN": f"uid={{username}},{PEOPLE}",
           "KB_LDAP_ROLES": ";".join(f"{r}={g}" for r, g in ROLE_GROUPS.items()), "KB_LDAP_TIMEOUT": "3s"}
    env.update(extra)
    return env


def org_search_env(slapd: Slapd, **extra: str) -> dict[str, str]:
    """KB_* settings for the OpenLDAP directory, search then bind with the service account."""
    env = {k: v for k, v in org_env(slapd).items() if k != "KB_LDAP_USER_DN"}
    env.update(KB_LDAP_BIND_DN=SERVICE_DN, KB_LDAP_BIND_PASSWORD=SERVICE_PW, KB_LDAP_USER_BASE=PEOPLE)
    env.update(extra)
    return env


def ad_env(slapd: Slapd, **extra: str) -> dict[str, str]:
    """KB_* settings for the AD-shaped directory: search then bind with a service account."""
    env = {"KB_LDAP_URL": slapd.url, "KB_LDAP_BIND_DN": f"CN=svc-kb,OU=Users,{CORP}",
           "KB_LDAP_BIND_PASSWORD": SERVICE_PW, "KB_LDAP_USER_BASE": f"OU=Users,{CORP}",
           "KB_LDAP_USER_FILTER": "(sAMAccountName={username})",
           "KB_LDAP_ROLES": ";".join(f"{r}={g}" for r, g in AD_GROUPS.items()), "KB_LDAP_TIMEOUT": "3s"}
    env.update(extra)
    return env


def dead_url() -> str:
    """An ldap:// URL on a loopback port where nothing listens."""
    return f"ldap://127.0.0.1:{_free_port()}"
