"""Words in Chinese and English, and which of the two a reader gets.

Every table of words has one shape, ``key -> (zh, en)``: the pages' own (block, time-up,
risk notice, report, set-up) and the dashboard's (``MESSAGES``). ``choose_lang`` reads
``Accept-Language`` for all of them; ``in_lang`` turns a table into one language's words.
Reasons (``engine.verdict.Reason``) and category names are shared by the block page, the
time-up page and the dashboard.
"""

from __future__ import annotations

from collections.abc import Mapping

from qinglang.engine.verdict import Reason

LANGS = ("zh", "en")
Words = Mapping[str, tuple[str, str]]


def choose_lang(accept_language: str | None, default: str = "zh") -> str:
    """``zh`` or ``en``, whichever ``Accept-Language`` prefers (q-values honoured; the
    earlier of two equal ones); ``default`` when it names neither."""
    best: tuple[float, int, str] | None = None
    for i, part in enumerate((accept_language or "").split(",")):
        tag, *params = part.strip().split(";")
        lang = tag.strip().lower().split("-", 1)[0]
        if lang not in LANGS:
            continue
        q = 1.0
        for p in params:
            k, _, v = p.strip().partition("=")
            if k.strip() == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        if q > 0 and (best is None or (q, -i) > (best[0], best[1])):
            best = (q, -i, lang)
    return best[2] if best else default


def in_lang(words: Words, lang: str) -> dict[str, str]:
    """One language's words of a table: Chinese for ``zh``, else English."""
    i = 0 if lang == "zh" else 1
    return {k: v[i] for k, v in words.items()}


# key -> (zh, en)
MESSAGES: dict[str, tuple[str, str]] = {
    "app": ("清朗 家长面板", "qinglang dashboard"),
    "nav.overview": ("概览", "Overview"),
    "nav.events": ("事件", "Events"),
    "nav.dns": ("DNS 记录", "DNS log"),
    "nav.asks": ("访问请求", "Requests"),
    "nav.profiles": ("档案", "Profiles"),
    "nav.clients": ("设备", "Devices"),
    "nav.reports": ("举报", "Reports"),
    "nav.audit": ("操作记录", "Audit log"),
    "nav.signout": ("退出", "Sign out"),
    "nav.wireguard": ("手机 WireGuard", "WireGuard"),
    "wg.title": ("手机：WireGuard", "Phones: WireGuard"),
    "wg.help": (
        "每台设备有自己的 WireGuard 密钥和端口，清朗按端口认出设备并使用它的档案。"
        "在手机上安装 WireGuard 应用，选“扫描二维码”，或者导入下载的配置文件。"
        "配置里有这台设备的私钥：谁拿到它，谁就能以这台设备的身份上网，请不要分享。",
        "Each device has its own WireGuard key and port; qinglang tells devices apart by "
        "the port and gives each its profile. On the phone, install the WireGuard app and "
        "choose 'scan from QR code', or import the downloaded file. The configuration holds "
        "this device's private key: whoever has it can appear as this device, so do not "
        "share it.",
    ),
    "wg.empty": (
        "还没有设备。在运行清朗的电脑上执行 qinglang add-phone 手机名（例如 mei-phone；"
        "家长的手机加 --profile parent），然后重启清朗。",
        "No devices yet. On the machine that runs qinglang, run qinglang add-phone NAME "
        "(e.g. mei-phone; a parent's phone: --profile parent), then restart qinglang.",
    ),
    "wg.device": ("设备", "Device"),
    "wg.port": ("UDP 端口", "UDP port"),
    "wg.download": ("下载 .conf 文件", "Download the .conf file"),
    "wg.missing": (
        "还没有密钥文件：重启清朗（qinglang run）后，这台设备的监听端口和密钥才会生成。",
        "No key file yet: restart qinglang (qinglang run) to start this device's listener "
        "and make its keys.",
    ),
    "wg.none": ("没有这台设备的配置。", "There is no configuration for this device."),
    "wg.cert": (
        "手机仍然需要安装并信任清朗的证书：在手机上打开设备设置页。",
        "The phone still needs qinglang's certificate: open the set-up page on the phone.",
    ),
    "signin.title": ("登录", "Sign in"),
    "signin.user": ("用户名", "Name"),
    "signin.password": ("密码", "Password"),
    "signin.submit": ("登录", "Sign in"),
    "signin.failed": ("用户名或密码不正确。", "Wrong name or password."),
    "signin.limited": (
        "尝试次数过多，请 {s} 秒后再试。",
        "Too many attempts; try again in {s} seconds.",
    ),
    "signin.noadmin": (
        "还没有管理员账号。请在运行清朗的电脑上执行：qinglang admin set-password",
        "No admin account yet. On the machine running qinglang, run: qinglang admin set-password",
    ),
    "denied.title": ("这台设备不能打开家长面板", "This device cannot open the dashboard"),
    "denied.body": (
        "设备 {ip} 属于受过滤的档案“{profile}”。家长面板只对不受过滤的设备开放。"
        "要从这台设备管理清朗，请在运行清朗的电脑上执行：",
        "Device {ip} has the filtered profile “{profile}”. The dashboard opens only for "
        "devices that are not filtered. To manage qinglang from this device, run this on the "
        "machine that runs qinglang:",
    ),
    "denied.or_edit": (
        "（它会在 qinglang.yaml 的 clients 最前面加入这一条，几秒内生效：）",
        "(it puts this rule first in qinglang.yaml's clients; it works within seconds:)",
    ),
    "csrf": (
        "表单已过期，请返回并重试。",
        "This form has expired; go back and try again.",
    ),
    "period.today": ("今天", "Today"),
    "period.7d": ("最近 7 天", "Last 7 days"),
    "period.30d": ("最近 30 天", "Last 30 days"),
    "ov.rules_fallback": (
        "关键词列表无法加载：{problem}。过滤仍在进行，使用的是上一次成功加载的规则"
        "（{since} 起）。修正或删除这个文件后会自动生效，无需重启。",
        "The keyword lists do not load: {problem}. Filtering goes on with the last rules "
        "that loaded (since {since}). Fix or remove the file; it is picked up without a "
        "restart.",
    ),
    "ov.blocked": ("拦截", "Blocked"),
    "ov.masked": ("遮盖", "Masked"),
    "ov.passed": ("放行记录", "Passed (noted)"),
    "ov.by_category": ("按类别", "By category"),
    "ov.by_client": ("按设备和档案", "By device and profile"),
    "ov.top_hosts": ("拦截最多的网站", "Most blocked sites"),
    "ov.per_day": ("每天", "Per day"),
    "ov.quota": ("今天的上网时间", "Screen time today"),
    "ov.minutes": ("{used} / {limit} 分钟", "{used} / {limit} minutes"),
    "ov.no_limit": ("{used} 分钟（不限时）", "{used} minutes (no limit)"),
    "ov.extra": ("（含额外 {n} 分钟）", "(with {n} extra minutes)"),
    "ov.nothing": ("这段时间没有拦截或遮盖。", "Nothing was blocked or masked in this period."),
    "ov.open_asks": ("有 {n} 个访问请求等待处理。", "{n} requests are waiting for an answer."),
    "dns.title": ("DNS 查询记录", "DNS query log"),
    "dns.help": (
        "用 DNS 模式上网的设备查询过的网站（同一设备、同一网站、同一结果五分钟内只记一次）。"
        "“拦截/允许此网站”会把它加入该设备档案的“禁止的网站”或“允许的网站”（含子域名）。",
        "Names looked up by devices that use DNS mode (one line per device, name and answer "
        'every five minutes). "Block" and "Allow" write the device\'s profile\'s '
        "deny_domains / allow_domains (with subdomains).",
    ),
    "dns.none": ("还没有 DNS 查询记录。", "No DNS queries recorded yet."),
    "dns.block": ("拦截此网站", "Block this site"),
    "dns.allow": ("允许此网站", "Allow this site"),
    "dns.saved_block": ("已拦截，几秒内生效。", "Blocked; it takes effect within seconds."),
    "dns.saved_allow": ("已允许，几秒内生效。", "Allowed; it takes effect within seconds."),
    "dns.error": ("没有保存。", "Not saved."),
    "dev.new": ("新设备", "New devices"),
    "dev.named": ("已命名的设备", "Named devices"),
    "dev.new_help": (
        "这些设备最近用过网络，但还没有名字，使用默认档案。给它起个名字并选一个档案：",
        "These devices used the network lately but have no name yet and get the default "
        "profile. Name each one and choose its profile:",
    ),
    "dev.label": ("设备名称", "Device name"),
    "dev.label_hint": ("例如：小美的平板", "e.g. Mei's tablet"),
    "dev.assign": ("保存", "Save"),
    "dev.added": ("设备已命名，几秒内生效。", "The device is named; it takes effect in seconds."),
    "dev.error": (
        "没有保存：请填写名称并选择档案。",
        "Not saved: give a name and choose a profile.",
    ),
    "ov.holidays": (
        "法定节假日和调休安排来自 chinesecalendar {version}，数据到 {year} 年底。",
        "Public holidays and make-up workdays come from chinesecalendar {version}, "
        "known to the end of {year}.",
    ),
    "ov.holidays_soon": (
        "明年的节假日安排公布后，请更新：pip install -U chinesecalendar。",
        "Once next year's schedule is published, update it: pip install -U chinesecalendar.",
    ),
    "ov.holidays_ended": (
        "节假日数据只到 {year} 年，今年的法定节假日和调休不会自动生效。请更新 chinesecalendar，"
        "或在配置里填写 holidays 和 workdays。",
        "The holiday data ends with {year}: this year's public holidays and make-up workdays "
        "are not applied. Update chinesecalendar, or list holidays and workdays in the config.",
    ),
    "ov.holidays_missing": (
        "未安装 chinesecalendar：法定节假日和调休需要在配置里手动填写。",
        "chinesecalendar is not installed: list public holidays and make-up workdays in the "
        "config yourself.",
    ),
    "col.category": ("类别", "Category"),
    "col.client": ("设备", "Device"),
    "col.profile": ("档案", "Profile"),
    "col.host": ("网站", "Site"),
    "col.count": ("次数", "Count"),
    "col.time": ("时间", "Time"),
    "col.action": ("处理", "Action"),
    "col.score": ("分数", "Score"),
    "col.terms": ("触发词条", "Deciding terms"),
    "col.reason": ("原因", "Reason"),
    "col.path": ("路径", "Path"),
    "col.user": ("用户", "User"),
    "col.what": ("内容", "What"),
    "col.detail": ("详情", "Detail"),
    "col.message": ("留言", "Message"),
    "col.status": ("状态", "Status"),
    "col.url": ("网址", "Address"),
    "col.kind": ("类型", "Kind"),
    "col.decision": ("当时的决定", "Decision"),
    "action.block": ("拦截", "blocked"),
    "action.mask": ("遮盖", "masked"),
    "action.pass": ("放行", "passed"),
    "ev.filters": ("筛选", "Filters"),
    "ev.from": ("从", "From"),
    "ev.to": ("到", "To"),
    "ev.any": ("全部", "Any"),
    "ev.apply": ("筛选", "Apply"),
    "ev.reset": ("清除", "Clear"),
    "ev.next": ("更早的事件 →", "Older events →"),
    "ev.first": ("← 最新", "← Newest"),
    "ev.none": ("没有符合条件的事件。", "No events match."),
    "ev.host_hint": (
        "例如 example.com；*.example.com 含子域名",
        "e.g. example.com; *.example.com with subdomains",
    ),
    "asks.title": ("访问请求", "Access requests"),
    "asks.none": ("没有等待处理的请求。", "No requests are waiting."),
    "asks.page": ("仅此页面", "This page"),
    "asks.site": ("整个网站", "This site"),
    "asks.hour": ("1 小时", "1 hour"),
    "asks.today": ("今天", "today"),
    "asks.week": ("7 天", "7 days"),
    "asks.minutes30": ("今天多 30 分钟", "30 more minutes today"),
    "asks.refuse": ("拒绝", "Refuse"),
    "asks.kind.block": ("被拦截的页面", "blocked page"),
    "asks.kind.time": ("请求更多时间", "more time requested"),
    "asks.answered": ("已处理", "Answered"),
    "asks.granted": ("已允许", "granted"),
    "asks.refused": ("已拒绝", "refused"),
    "asks.until": ("有效至 {t}", "until {t}"),
    "asks.done_grant": (
        "已允许。孩子的下一次访问将会放行。",
        "Granted. The child's next request will pass.",
    ),
    "asks.done_refuse": ("已拒绝。", "Refused."),
    "asks.overrides": ("生效中的许可", "Access granted now"),
    "asks.all_sites": ("所有网站（时间限制）", "all sites (time limits)"),
    "asks.minutes_live": (
        "今天多 {n} 分钟（到 {day} 为止）；休息时段和时段限制解除到 {lifted}",
        "{n} more minutes today (until {day}); rest hours and schedules lifted until {lifted}",
    ),
    "asks.minutes_help": (
        "多给的分钟数加在今天的上网时间上，休息时段也会暂停这么久；与具体网站无关。",
        "The extra minutes are added to today's screen time, and rest hours pause for as "
        "long; they are not tied to a site.",
    ),
    "asks.revoke": ("撤销", "Revoke"),
    "prof.title": ("档案", "Profiles"),
    "prof.save": ("保存", "Save"),
    "prof.saved": (
        "已保存。清朗会在几秒内应用新设置。",
        "Saved. qinglang applies it within seconds.",
    ),
    "prof.new": ("新建档案", "New profile"),
    "prof.create": ("创建", "Create"),
    "prof.delete": ("删除此档案", "Delete this profile"),
    "prof.readonly": (
        "清朗没有使用配置文件（启动时未指定 --config），所以这里只能查看。",
        "qinglang runs without a config file (no --config), so this is read-only.",
    ),
    "prof.empty_default": ("留空则使用默认值", "Leave empty for the default"),
    "f.filter": ("过滤网页", "Filter pages"),
    "f.block_threshold": ("拦截分数线", "Block at score"),
    "f.mask": ("遮盖不良词语", "Mask harmful words"),
    "f.pii": ("个人信息", "Personal information"),
    "f.categories": (
        "计入的类别（逗号分隔，留空为全部）",
        "Counted categories (comma-separated; empty: all)",
    ),
    "f.age": ("年龄（按指南自动设置时间规则）", "Age (sets time rules from the guideline)"),
    "f.daily_minutes": ("每天上网分钟数", "Daily minutes"),
    "f.curfew": ("休息时段", "Rest hours (curfew)"),
    "f.safe_search": ("安全搜索", "Safe search"),
    "f.pii.mask": ("遮盖", "mask"),
    "f.pii.off": ("不遮盖", "leave as is"),
    "f.no_age": ("未设置（不按年龄限制）", "not set (no age limits)"),
    "f.presets": (
        "按年龄一键设置（只设年龄；本档案自己写的时间设置优先）",
        "One-click age presets (sets the age only; this profile's own time settings win)",
    ),
    "f.in_force": ("现在生效：", "In force now: "),
    "f.stop": ("。", "."),
    "f.minutes_hint": (
        "留空则按年龄或不限时；可写 60，或 {weekdays: 60, weekends: 120}。",
        "Empty: from the age, or no limit. Write e.g. 60, or {weekdays: 60, weekends: 120}.",
    ),
    "f.curfew_hint": (
        "留空则按年龄或没有休息时段；可写 22:00-06:00。",
        "Empty: from the age, or no rest hours. Write e.g. 22:00-06:00.",
    ),
    "f.always_allowed": ("总是允许的网站（每行一个）", "Always allowed sites (one per line)"),
    "f.allow_domains": ("允许的网站（每行一个）", "Allowed sites (one per line)"),
    "f.deny_domains": ("禁止的网站（每行一个）", "Blocked sites (one per line)"),
    "f.deny_urls": ("禁止的网址（每行一个）", "Blocked addresses (one per line)"),
    "f.default": ("默认", "default"),
    "f.on": ("开", "on"),
    "f.off": ("关", "off"),
    "cl.title": ("设备", "Devices"),
    "cl.help": (
        "按顺序匹配，第一条符合的规则生效；其余设备使用默认档案。",
        "Rules are tried in order, the first match wins; other devices get the default profile.",
    ),
    "cl.match": ("IP 地址或网段", "IP address or CIDR"),
    "cl.listener": ("监听端口", "Listener port"),
    "cl.user": ("代理用户名", "Proxy user name"),
    "cl.remove": ("删除", "Remove"),
    "cl.add": ("添加设备", "Add a device"),
    "cl.default": ("默认档案", "Default profile"),
    "rep.title": ("举报", "Reports"),
    "rep.none": ("没有待处理的举报。", "No open reports."),
    "err.store": (
        "暂时连不上事件数据库 {where}，请稍后再试。",
        "The event store {where} cannot be reached just now. Try again later.",
    ),
    "rep.kind.mistake": ("误拦截", "blocked by mistake"),
    "rep.kind.harmful": ("有害内容", "harmful"),
    "rep.kind.pii": ("公开个人信息", "exposes personal information"),
    "rep.dismiss": ("忽略", "Dismiss"),
    "rep.set_category": ("设定类别", "Set category"),
    "rep.export": ("导出为语料（zip）", "Export as corpus (zip)"),
    "rep.export_help": (
        "导出会重新下载每个被举报的网址，按 allow/ 和 block/ 文件夹整理，"
        "可直接用于 qinglang lists test。",
        "The export fetches each reported address again and files it under allow/ and "
        "block/, ready for qinglang lists test.",
    ),
    "audit.title": ("操作记录", "Audit log"),
    "err.title": ("无法保存", "Not saved"),
    "err.config": (
        "配置文件有错误，清朗继续使用之前的规则：",
        "The config file has a mistake; qinglang keeps the rules it had:",
    ),
    "child.ask_title": ("请家长允许访问", "Ask a parent for access"),
    "child.time_title": ("请家长多给一些时间", "Ask a parent for more time"),
    "child.ask_body": (
        "你可以请家长允许你打开这个页面。家长会在家长面板中看到你的请求。",
        "You can ask a parent to let you open this page. They will see your request in "
        "their dashboard.",
    ),
    "child.time_body": (
        "你可以请家长给你更多时间。家长会在家长面板中看到你的请求。",
        "You can ask a parent for more time. They will see your request in their dashboard.",
    ),
    "child.message": ("想对家长说的话（可不填）", "A message for your parent (optional)"),
    "child.send": ("发送请求", "Send the request"),
    "child.sent": (
        "请求已发送。家长同意后，重新打开页面即可。",
        "Your request was sent. When a parent says yes, open the page again.",
    ),
    "child.too_many": (
        "请求太多了，请等家长处理后再试。",
        "Too many requests; wait for a parent to answer.",
    ),
    "child.bad": ("这个请求无法处理。", "This request cannot be handled."),
}


def translator(lang: str):  # type: ignore[no-untyped-def]
    """``t(key, **values)`` for one language; an unknown key shows as itself."""
    i = 0 if lang == "zh" else 1

    def t(key: str, **values: object) -> str:
        pair = MESSAGES.get(key)
        text = pair[i] if pair else key
        return text.format(**values) if values else text

    return t


_REASONS: dict[Reason, tuple[str, str]] = {
    Reason.KEYWORDS: ("页面包含不适宜的内容", "the page contains unsuitable content"),
    Reason.PII: ("页面暴露了他人的个人信息", "the page exposes someone's personal information"),
    Reason.OVERSIZE: ("页面太大，无法检查", "the page is too large to be checked"),
    Reason.ERROR: ("页面无法被检查（内容损坏或格式不符）", "the page could not be checked"),
    Reason.PARTIAL: (
        "只请求了页面的一部分，无法完整检查",
        "only part of the page was requested, so it could not be checked as a whole",
    ),
    Reason.UNCONFIGURED: ("过滤器还没有准备好", "the filter is not ready yet"),
    Reason.RULES_FALLBACK: (
        "列表无法加载，正在使用上一次成功加载的规则",
        "the lists do not load: the last rules that loaded are in force",
    ),
    Reason.INTERNAL: (
        "过滤器出了错，为了安全已拦截",
        "the filter ran into an error, so this was blocked to be safe",
    ),
    Reason.BAD_REQUEST: (
        "请求的网址无法识别（主机名或端口不正确）",
        "the address could not be read (its host name or port is not valid)",
    ),
    # Request rules (urlrules.py reasons): decided before the page was fetched.
    Reason.DENY_DOMAIN: (
        "家长或学校设置了不能访问这个网站",
        "a parent or school has blocked this site",
    ),
    Reason.DENY_URL: (
        "家长或学校设置了不能访问这个网址",
        "a parent or school has blocked this address",
    ),
    Reason.CATEGORY: ("这类网站不适合你", "sites of this kind are not suitable for you"),
    Reason.SEARCH_ENGINE: (
        "这个搜索引擎不能使用，请换一个",
        "this search engine is not allowed; please use another one",
    ),
    Reason.SEARCH_KEYWORDS: ("搜索的内容不适宜", "the search contains unsuitable words"),
    Reason.URL_KEYWORDS: ("网址包含不适宜的内容", "the address contains unsuitable words"),
    Reason.PAYMENTS: ("这里不能付款或充值", "payments and top-ups are not allowed"),
    Reason.DOH: (
        "不能使用加密 DNS（DoH）绕过过滤",
        "encrypted DNS (DNS over HTTPS) would bypass the filter, so it is not allowed",
    ),
    Reason.PROXIES_VPN: (
        "不能使用代理或 VPN 绕过过滤",
        "proxies and VPNs would bypass the filter, so they are not allowed",
    ),
    Reason.BARE_IP: (
        "不能直接用 IP 地址访问",
        "connecting to a bare IP address is not allowed",
    ),
    Reason.EVENT_STREAM: ("实时数据流，没有检查", "a live event stream, not checked"),
    Reason.NOT_SCANNED: (
        "图片、字体、脚本等，没有文字需要检查",
        "images, fonts, scripts: no text to check",
    ),
    Reason.NO_BODY: ("没有内容", "nothing to check (no content)"),
    Reason.NOT_FILTERED: ("这个档案不过滤", "this profile is not filtered"),
    Reason.PASSTHROUGH: ("直接放行的网站", "a site let through unchecked"),
    Reason.OWN_DATA: (
        "不能把自己的个人信息发送出去",
        "your own personal information cannot be sent",
    ),
    Reason.ALWAYS_ALLOWED: ("总是允许的网站", "an always allowed site"),
    Reason.ALLOWED_DOMAIN: ("允许的网站", "an allowed site"),
    Reason.CURFEW: ("现在是休息时间", "it is rest time (curfew)"),
    Reason.QUOTA: ("今天的上网时间用完了", "today's screen time is used up"),
    Reason.SCHEDULE: ("这类网站现在不开放", "sites of this kind are closed at this time"),
    Reason.PORT: (
        "不能连接到这个端口",
        "connections to this port are not allowed",
    ),
    Reason.TUNNEL: (
        "这个连接无法被检查（不是网页），所以不能使用",
        "this connection cannot be checked (it is not a web page), so it is not allowed",
    ),
}

_CATEGORIES: dict[str, tuple[str, str]] = {
    "porn": ("色情", "pornography"),
    "sexual": ("色情", "sexual content"),
    "gambling": ("赌博", "gambling"),
    "violence": ("暴力", "violence"),
    "drugs": ("毒品", "drugs"),
    "self-harm": ("自我伤害", "self-harm"),
    "self_harm": ("自我伤害", "self-harm"),
    "suicide": ("自杀", "suicide"),
    "weapons": ("武器", "weapons"),
    "hate": ("仇恨言论", "hate speech"),
    "profanity": ("粗言秽语", "profanity"),
    "bullying": ("网络欺凌", "bullying"),
    "fraud": ("诈骗", "fraud"),
    "scam": ("诈骗", "scams"),
    "extremism": ("极端主义", "extremism"),
    "pii": ("个人信息", "personal information"),
    "games": ("游戏", "games"),
    "payments": ("支付", "payments"),
    "doh": ("加密 DNS", "encrypted DNS"),
    "proxies_vpn": ("代理和 VPN", "proxies and VPNs"),
    "social": ("社交网络", "social networks"),
    "video": ("视频", "video"),
    # The shipped keyword lists' categories (blocklists/).
    "consumption": ("诱导消费", "pushy spending"),
    "doxxing": ("人肉搜索", "doxxing"),
    "vulgar": ("低俗内容", "vulgar content"),
}


def category_name(category: str | None, lang: str) -> str:
    if not category:
        return "-"
    names = _CATEGORIES.get(category)
    if names is None:
        return category
    return names[0] if lang == "zh" else names[1]


def reason_text(reason: str | None, lang: str) -> str:
    r = reason or Reason.KEYWORDS
    texts = _REASONS.get(r)  # type: ignore[call-overload]
    if texts is None:
        return r
    return texts[0] if lang == "zh" else texts[1]
