"""The vocabulary of the demo data set (kb/ops/demo.py): people, how each channel opens a ticket,
which starter articles are asked about most, the problems no article covers yet, and the
searches people ran. Plain data, no logic.
"""
from __future__ import annotations

AGENTS_EN = ["Priya Nair", "Tom Becker", "Maria Santos", "James O'Connor", "Aisha Rahman"]
AGENTS_ZH = ["Li Na", "Chen Hao", "Wang Fang"]
RARE_LINKER = "James O'Connor"          # resolves tickets, rarely links an article

CUSTOMERS_EN = [
    ("Sofia Rossi", "Sales EMEA"), ("Daniel Okafor", "Finance"), ("Emma Johansson", "Marketing"),
    ("Lukas Meyer", "Engineering"), ("Hannah Schmidt", "HR"), ("Oliver Brown", "Legal"),
    ("Chloe Martin", "Customer Success"), ("Mateo Garcia", "Sales EMEA"), ("Grace Kim", "Product"),
    ("Noah Wilson", "Facilities"), ("Isabella Moreau", "Finance"), ("Ethan Clarke", "Engineering"),
    ("Amelia Novak", "Procurement"), ("Jack Thompson", "Sales UK"), ("Mia Fischer", "Marketing"),
    ("Ravi Patel", "Data Platform"), ("Zoe Andersen", "Operations"), ("Samuel Adeyemi", "Sales Africa"),
    ("Lena Kowalski", "Accounting"), ("Henry Walsh", "Executive Office"), ("Fatima Haddad", "Legal"),
    ("Lucas Silva", "Customer Success"), ("Ella Murphy", "Reception"), ("Arjun Mehta", "Engineering"),
]
CUSTOMERS_ZH = [
    ("张伟", "上海销售部"), ("王芳", "财务部"), ("李强", "研发中心"), ("刘洋", "市场部"), ("陈静", "人力资源部"),
    ("杨帆", "上海销售部"), ("赵敏", "客户成功部"), ("黄磊", "采购部"), ("周婷", "法务部"), ("吴昊", "运营部"),
    ("徐丽", "新加坡办公室"), ("孙杰", "数据平台组"), ("马琳", "行政部"), ("朱晓东", "研发中心"),
]
PINYIN = {"张": "zhang", "王": "wang", "李": "li", "刘": "liu", "陈": "chen", "杨": "yang", "赵": "zhao",
          "黄": "huang", "周": "zhou", "吴": "wu", "徐": "xu", "孙": "sun", "马": "ma", "朱": "zhu"}

CHANNEL_WEIGHTS = {"email": 0.38, "web": 0.24, "phone": 0.22, "chat": 0.16}
PRIORITY_WEIGHTS = {"urgent": 0.08, "important": 0.27, "normal": 0.65}
URGENT_ARTICLES = {"KB-0013": 0.7, "KB-0060": 0.6, "KB-0003": 0.2, "KB-0044": 0.25, "KB-0045": 0.25}

# How often each starter article's problem comes up (others: 1.0).
POPULARITY = {
    "KB-0001": 16, "KB-0002": 8, "KB-0004": 7, "KB-0005": 4, "KB-0015": 6, "KB-0016": 4, "KB-0022": 6,
    "KB-0023": 3, "KB-0008": 5, "KB-0009": 2.5, "KB-0003": 5, "KB-0017": 6, "KB-0024": 3.5,
    "KB-0010": 3, "KB-0047": 3, "KB-0048": 2.5, "KB-0057": 2, "KB-0044": 2, "KB-0051": 2,
    "KB-0018": 2.5, "KB-0042": 1.5, "KB-0031": 1.5, "KB-0053": 1.5, "KB-0021": 2,
    "KB-0056": 4, "KB-0037": 4, "KB-0050": 4,
}
RARELY_LINKED_PRODUCTS = {"laptop": 0.3}      # share of resolved tickets that get linked
LINK_SHARE = 0.82
CREATED_FROM = ("KB-0056", "KB-0037", "KB-0050")   # drafts captured from tickets in the last weeks
REOPENING = "KB-0017"            # recent tickets resolved with it keep coming back
SLOWING = "KB-0022"              # resolves slower lately (a change broke step 3)
UNHELPFUL = "KB-0010"            # readers stopped finding it helpful
FLAGGED = ("KB-0040", "outdated", "The DNS suffix list changed after the domain migration; step 2 "
           "names the old suffix.")

OPENERS_EN = {
    "phone": ["Caller reports: {s}", "User called the hotline. {s}", "Phone call from {first}: {s}"],
    "email": ["Hi IT,\n\n{s}\n\nThanks,\n{first}", "Hello,\n{s}\nCould you help please?\n{first}",
              "{s}\n\nSent from my phone"],
    "web": ["{s}", "Issue description: {s}", "{s} (submitted via the IT portal)"],
    "chat": ["hi, quick one - {s}", "{s} can someone help?", "hello! {s}"],
}
OPENERS_ZH = {
    "phone": ["来电反映：{s}", "用户来电：{s}"],
    "email": ["你好，\n\n{s}\n\n谢谢！\n{first}", "IT 同事好，{s} 麻烦帮忙看一下。"],
    "web": ["{s}", "问题描述：{s}"],
    "chat": ["你好，{s}", "{s} 有人能帮忙吗？"],
}
SUBJECT_PREFIX_EN = ["", "", "", "Urgent: ", "Help: ", "Re: ", "Still: "]
SUBJECT_PREFIX_ZH = ["", "", "", "紧急：", "求助：", "回复："]
ENV_EN = ["On a Windows 11 laptop in the London office.", "Working from home today.",
          "MacBook Pro, macOS 15.", "Started after yesterday's update.", "Colleague next to me has the same.",
          "Travelling this week, at a hotel.", "", "", ""]
ENV_ZH = ["在上海办公室。", "今天在家办公。", "用的是公司配的 ThinkPad。", "昨天更新之后开始的。", "", ""]

# Problems the knowledge base has no article for (yet): product, language, subject, description,
# resolution.
GAPS = [
    ("laptop", "en", "Fingerprint reader stopped working after the BIOS update",
     "Windows Hello says 'We couldn't find a fingerprint scanner compatible with Windows Hello "
     "Fingerprint' since the BIOS update on Monday.",
     "Reinstalled the Synaptics fingerprint driver from the vendor package and re-enrolled the finger."),
    ("laptop", "en", "Laptop keyboard: some keys type the wrong characters",
     "The @ and \" keys are swapped and the pipe key does nothing.",
     "Keyboard layout was set to UK; removed it and kept US-International."),
    ("laptop", "zh", "笔记本键盘部分按键失灵", "笔记本的 F、G、H 三个键按下去没有反应，外接键盘正常。",
     "硬件故障，已登记保修并更换键盘。"),
    ("printing", "en", "Printer on the 3rd floor prints blank pages after the toner change",
     "Since the toner was replaced this morning every page comes out blank.",
     "The sealing tape was still on the new toner cartridge; removed it."),
    ("printing", "en", "Plotter shows error E-231 paper jam but there is no paper inside",
     "The A0 plotter in the design room keeps showing E-231 even after opening all covers.",
     "Cleaned the paper sensor; vendor visit booked to replace it."),
    ("crm", "en", "Orbit CRM mobile app crashes when opening a PDF attachment",
     "Opening any PDF from an opportunity in the Orbit CRM app on iOS closes the app immediately.",
     "Known issue in app 4.2.1; workaround: open attachments in the browser until 4.2.2 ships."),
    ("crm", "zh", "Orbit CRM 报价单 PDF 货币符号显示错误", "生成的报价单 PDF 中人民币金额显示为 $ 符号。",
     "报价模板的区域设置错误，已由 CRM 管理员修改为 zh-CN。"),
    ("meetings", "en", "Huddle live captions not available for Chinese speakers",
     "Our Shanghai colleagues speak Mandarin in the weekly call and the captions show nonsense.",
     "Live captions support English only in our Huddle plan; raised a feature request."),
    ("meetings", "zh", "Huddle 会议字幕不支持中文", "开会时打开实时字幕，中文发言显示成乱七八糟的英文。",
     "当前套餐的实时字幕只支持英文，已提交需求。"),
    ("network", "en", "Wi-Fi keeps dropping in meeting room 4B",
     "Every few minutes laptops in 4B lose Wi-Fi while the corridor is fine.",
     "Access point in 4B was faulty; network team replaced it."),
    ("network", "zh", "办公室网速特别慢", "下午两点以后打开网页和 Huddle 都很卡，测速只有 2 Mbps。",
     "上海办公室出口带宽被备份任务占满，已调整备份时间。"),
    ("email", "en", "E-mail signature images arrive as attachments",
     "Customers say my signature logo comes through as image001.png attachments.",
     "Recipient's mail client setting; advised using the HTML signature template without embedded images."),
    ("email", "zh", "Outlook 搜索不到去年的邮件", "在 Outlook 里搜索去年的邮件没有结果，但邮件明明在收件箱里。",
     "重建了 Windows 搜索索引。"),
    ("vpn", "en", "Is the Northwind VPN client available for Linux?",
     "I use Ubuntu 24.04 for development and need VPN access to the build servers.",
     "No Linux client is supported; set up access through the bastion host instead."),
    ("accounts", "en", "Need access to the Finance shared drive",
     "I moved to the Finance team and cannot open F:\\Finance.", "Access request approved by the drive owner; added to the group."),
    ("mobile", "en", "Cannot copy and paste from Outlook into WhatsApp on my work phone",
     "Copy from Outlook works, paste in WhatsApp is empty.",
     "Blocked by the app protection policy on purpose; explained the policy to the user."),
]
ZERO_RESULT_QUERIES = [
    "fingerprint reader", "windows hello fingerprint", "plotter E-231", "blank pages after toner",
    "vpn linux", "ubuntu vpn client", "live captions chinese", "会议字幕 中文", "打印空白页", "键盘 失灵",
    "signature image attachment", "wifi 4B", "outlook 搜索不到邮件", "copy paste whatsapp",
]
NO_CLICK_QUERIES = ["printer", "password", "wifi slow", "网速慢", "outlook search", "crm pdf", "huddle captions"]

# How people describe a problem before anyone has diagnosed it (by product): about a third of
# the demo tickets are this vague; half of those carry one hint from the article's tags.
VAGUE_SHARE = 0.35
VAGUE_EN = {
    "accounts": ["Can't log in", "Login problem", "Problem with my account", "Sign-in not working"],
    "vpn": ["VPN not working", "Can't connect to the VPN", "VPN problem", "VPN issue again"],
    "email": ["Outlook problem", "E-mail not working", "Problem with my mailbox", "Mail issue"],
    "printing": ["Printer not working", "Cannot print", "Printing problem", "Printer issue"],
    "laptop": ["Laptop problem", "Issue with my laptop", "Laptop not working properly"],
    "network": ["Internet not working", "Network problem", "Can't reach the site", "Wi-Fi issue"],
    "meetings": ["Huddle problem", "Problem in my meeting", "Meeting room issue"],
    "crm": ["CRM not working", "Orbit CRM problem", "Issue with Orbit"],
    "mobile": ["Phone problem", "Work phone not working", "Issue with my mobile"],
}
VAGUE_ZH = {
    "accounts": ["登录不了", "账号有问题", "无法登录"], "vpn": ["VPN 连不上", "VPN 有问题"],
    "email": ["邮箱有问题", "Outlook 用不了"], "printing": ["打印机用不了", "无法打印"],
    "laptop": ["电脑有问题", "笔记本出问题了"], "network": ["上不了网", "网络有问题"],
    "meetings": ["Huddle 会议有问题", "开会出问题"], "crm": ["CRM 用不了", "Orbit CRM 有问题"],
    "mobile": ["手机有问题", "手机上用不了"],
}
HINT_EN = ["Might have to do with {tag}.", "Something about {tag}?", "It says something about {tag}.",
           "({tag})", "Probably {tag} related."]
HINT_ZH = ["好像和{tag}有关。", "提示里有{tag}。", "（{tag}）"]
