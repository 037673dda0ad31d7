"""kb.quality.scrub: each kind of customer data in English and Chinese ticket text, hard negatives,
the undo of one replacement, the labelled set's targets, and `kb check` on public articles."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from kb.quality.scrub import PLACEHOLDERS, Replacement, apply, find, scrub

ROOT = Path(__file__).resolve().parent.parent


def _bench():
    spec = importlib.util.spec_from_file_location("bench_scrub", ROOT / "bench" / "scrub.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def kinds(text, names=()):
    return [(r.kind, r.original) for r in find(text, names)]


@pytest.mark.parametrize("text, expected", [
    # English
    ("Reply to priya.raman@contoso.com today", [("email", "priya.raman@contoso.com")]),
    ("Call back on +1 (415) 555-2671 after 3pm", [("phone", "+1 (415) 555-2671")]),
    ("Mobile +44 7911 123456", [("phone", "+44 7911 123456")]),
    ("Printer at 10.20.30.41 is down", [("ip", "10.20.30.41")]),
    ("Subnet 10.20.30.0/24, mask 255.255.255.0", [("ip", "10.20.30.0/24")]),
    ("Please call 415.555.2671 tomorrow", [("phone", "415.555.2671")]),
    ("Address 2a02:6b8:b010:9020::ff fails", [("ip", "2a02:6b8:b010:9020::ff")]),
    ("MAC 00:1A:2B:3C:4D:5E blocked", [("mac", "00:1A:2B:3C:4D:5E")]),
    ("Account ACC-123456 suspended", [("id", "ACC-123456")]),
    ("see ticket #884213", [("id", "#884213")]),
    ("Serial number 5CG1234XYZ", [("id", "5CG1234XYZ")]),
    ("link https://x.contoso.com/s?a=1&token=9f8e7d6c then", [("url", "https://x.contoso.com/s?a=1&token=9f8e7d6c")]),
    ("mount https://admin:pw@nas.contoso.com/share.", [("url", "https://admin:pw@nas.contoso.com/share")]),
    # Chinese
    ("客户邮箱zhangsan@163.com收不到验证码", [("email", "zhangsan@163.com")]),
    ("客户手机13812345678，下午方便", [("phone", "13812345678")]),
    ("手机号+86 139 1234 5678，微信同号", [("phone", "+86 139 1234 5678")]),
    ("联系电话：138-1234-5678。", [("phone", "138-1234-5678")]),
    ("座机010-62345678", [("phone", "010-62345678")]),
    ("打印机IP为192.168.10.23，无法ping通", [("ip", "192.168.10.23")]),
    ("网卡MAC地址3C:52:82:AB:CD:EF未登记", [("mac", "3C:52:82:AB:CD:EF")]),
    ("订单号ORD20240101001无法查询", [("id", "ORD20240101001")]),
    ("会员卡号：88001234，积分清零", [("id", "88001234")]),
    ("身份证号11010519491231002X需核实", [("id_card", "11010519491231002X")]),
    ("共享链接https://pan.contoso.cn/s/1a2b?pwd=x7k9已过期", [("url", "https://pan.contoso.cn/s/1a2b?pwd=x7k9")]),
])
def test_each_kind_in_both_languages(text, expected):
    assert kinds(text) == expected


@pytest.mark.parametrize("text", [
    "Windows 10 22H2 build 10.0.19045.3803 fails to install KB5034441 with 0x80070643",
    "WSL install fails with 0x80370102",
    "Client v2.3.1, agent 4.18.23110.3, firmware 1.0.4.128",
    "Error E1234 on the panel; ORA-12154; AADSTS50076; CVE-2024-21412; HRESULT -2147024894",
    "Licence $1,299.00, ¥6,999, meeting 2024-01-15 14:30, log of 20240115",
    "Windows 10 22H2 版本 10.0.19045 安装 KB5034441 失败，错误代码 0x80070643",
    "价格 ¥1,299.00，2024年1月15日，驱动 31.0.101.4502，GB18030",
    "该号码 110105194912310021X 不是身份证",
    "open https://learn.microsoft.com/zh-cn/windows/ for the steps",
])
def test_versions_error_codes_dates_and_prices_are_not_customer_data(text):
    assert find(text) == []


def test_id_card_checksum_is_validated():
    assert kinds("身份证 11010519491231002X") == [("id_card", "11010519491231002X")]
    # same digits, wrong check character: an 18-digit number, but not an ID card
    assert [k for k, _ in kinds("身份证 110105194912310021")] == ["id"]


def test_names_and_their_parts_in_both_languages():
    en = "John Smith called; Mr Smith says john cannot print. Smithson is a colleague."
    assert kinds(en, ["Mr. John Smith"]) == [("name", "John Smith"), ("name", "Smith"), ("name", "john")]
    zh = "王小明反馈无法登录，已联系王先生，小明说重启后正常。王府井店不受影响。"
    assert kinds(zh, ["王小明"]) == [("name", "王小明"), ("name", "王先生"), ("name", "小明")]
    assert kinds("欧阳娜娜和娜娜", ["欧阳娜娜"]) == [("name", "欧阳娜娜"), ("name", "娜娜")]
    # company suffixes and honorifics are not name parts; no names given, no names found
    assert kinds("Olivia at Contoso Ltd", ["Olivia Brown", "Contoso Ltd"]) == [("name", "Olivia"), ("name", "Contoso")]
    assert kinds("John Smith called") == []
    # names are text, not patterns
    assert kinds("王*明 and a+b called; aab did not", ["王*明", "a+b"]) == [("name", "王*明"), ("name", "a+b")]


def test_replacements_are_sorted_non_overlapping_offsets_into_the_original():
    text = "张伟（手机186 2233 4455，邮箱zhangwei@contoso.cn）订单ORD88001234，见 https://a.cn/x?sig=abc"
    found = find(text, ["张伟"])
    assert [r.kind for r in found] == ["name", "phone", "email", "id", "url"]
    for a, b in zip(found, found[1:]):
        assert a.end <= b.start
    for r in found:
        assert text[r.start:r.end] == r.original and r.placeholder == PLACEHOLDERS[r.kind]
    with pytest.raises(Exception):
        found[0].kind = "email"  # frozen


def test_apply_replaces_all_and_undoes_the_kept_ones():
    text = "Customer John Smith (john@acme.com) at 10.1.2.3 about ticket #123456"
    found = find(text, ["John Smith"])
    assert apply(text, found) == "Customer <name> (<email>) at <ip> about ticket <id>"
    assert scrub(text, ["John Smith"]) == apply(text, found)
    # the agent judges the IP harmless and undoes that one replacement
    ip = [i for i, r in enumerate(found) if r.kind == "ip"][0]
    assert apply(text, found, keep={ip}) == "Customer <name> (<email>) at 10.1.2.3 about ticket <id>"
    assert apply(text, found, keep=range(len(found))) == text
    assert apply(text, []) == text
    with pytest.raises(ValueError):
        apply("other text entirely", found)
    assert apply("a b", [Replacement(2, 3, "name", "b", "<name>")]) == "a <name>"


def test_placeholders_are_not_customer_data():
    assert find("Customer <name> (<email>, <phone>) at <ip>, <mac>, <id>, <url>, <id_card>") == []


def test_labelled_set_meets_the_targets():
    bench = _bench()
    cases = bench.load_labelled()
    assert len(cases) >= 100
    assert {c["lang"] for c in cases} == {"en", "zh"}
    per_kind, mistakes, negatives_hit = bench.score(cases)
    for kind in ("email", "phone", "id"):
        tp, fp, fn = per_kind[kind]
        assert tp / (tp + fn) >= 0.95, (kind, mistakes)
    # known and documented (bench/RESULTS.md, "Scrub"): a 10-digit Unix time is taken for an id,
    # a landline without its area code for an id, a 7-digit QQ number and a name in another script are missed
    known = {"extra id '1700000000'", "missed name 'Zhang Wei'", "extra id '62345678'", "missed phone '62345678'", "missed id '1234567'"}
    assert [m for m in mistakes if m.split(": ", 1)[1] not in known] == []
    assert negatives_hit <= 1
    assert all(per_kind[k][0] > 0 for k in per_kind), per_kind  # every kind is labelled somewhere


def test_labelled_format_errors_name_the_line(tmp_path):
    bench = _bench()
    bad = tmp_path / "bad.tsv"
    bad.write_text("# header\nen\tno third column\n", "utf-8")
    with pytest.raises(ValueError, match=r"bad.tsv:2"):
        bench.load_labelled(bad)


def test_check_rejects_customer_data_in_public_articles_only(repo):
    from click.testing import CliRunner

    from kb.quality.check import check_folder
    from kb.cli import main
    from tests.conftest import article, write

    leak = ("## Symptoms\nCustomer Zhang (zhang.wei@contoso.cn) cannot print.\n\n## Environment\nWindows 11\n\n"
            "## Cause\nA stale port.\n\n## Resolution\n1. Call 13912345678 back.\n2. 客户订单号ORD20240101001。\n")
    write(repo, {
        "leaky.md": article("KB-0100", "Printer leak", body=leak),
        "leaky-internal.md": article("KB-0101", "Internal leak", visibility="internal", body=leak),
        "clean.md": article("KB-0102", "Placeholders only", body=leak.replace("zhang.wei@contoso.cn", "<email>")
                            .replace("13912345678", "<phone>").replace("ORD20240101001", "<id>")),
        "docs-values.md": article("KB-0103", "Documentation values", body=(
            "## Symptoms\nWindows 10 22H2 (10.0.19045) fails with 0x80370102 after KB5034441.\n\n## Environment\n"
            "Router 192.168.1.1, DNS 8.8.8.8, mail user@example.com, https://portal.northwind.example/?token=x\n\n"
            "## Cause\nE1234.\n\n## Resolution\n1. Call +44 20 7946 0100 or 13800138000.\n")),
    })
    problems, count = check_folder(repo)
    assert count == 10
    leaks = [(Path(p.path).name, p.line, p.message.split(":")[1].split(" at ")[0].strip()) for p in problems]
    assert leaks == [("leaky.md", 14, "email"), ("leaky.md", 23, "phone"), ("leaky.md", 24, "id")], problems
    assert "zhang.wei" not in str(problems)  # the value itself does not go into CI logs
    # the command names file, line and kind, and fails
    r = CliRunner().invoke(main, ["check", str(repo)], env={"KB_HOME": str(repo.parent / "state")})
    assert r.exit_code == 1
    assert "leaky.md:23: customer data in a public article: phone at column" in r.output
    assert "leaky-internal.md" not in r.output and "clean.md" not in r.output and "docs-values" not in r.output


def test_starter_articles_pass_the_customer_data_check():
    from kb.quality.check import check_folder
    problems, count = check_folder(ROOT / "articles")
    assert count >= 61
    assert [p for p in problems if "customer data" in p.message] == []
