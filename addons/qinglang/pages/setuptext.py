# ruff: noqa: E501 - prose steps read better unbroken
"""The words of the device set-up page, in Chinese and English.

Steps are plain text; a part between backticks is shown as code (a file name, a menu
path you type, a command). ``{pac}`` and ``{proxy}`` are filled with the page's PAC
address and proxy address; ``{ca_pem}`` and ``{ca_crt}`` with the download file names; ``{ca_name}`` with the CA's
name as certificate stores list it.
"""

from __future__ import annotations

from typing import NamedTuple

from qinglang.pages.i18n import Words


class Platform(NamedTuple):
    key: str
    name: str
    files: tuple[str, ...]  # downloads, best first
    cert: tuple[str, ...]  # steps: install and trust the certificate
    proxy: tuple[str, ...]  # steps: send the traffic through the proxy


PEM, CRT, P12 = "qinglang-ca.pem", "qinglang-ca.crt", "qinglang-ca.p12"

WORDS: Words = {
    "title": ("清朗 · 设备设置", "qinglang · device set-up"),
    "intro": (
        "在孩子的设备上做两件事：安装并信任清朗的证书（这样清朗才能检查加密网页），再把设备的网络流量交给清朗。每台设备只需设置一次。",
        "Two things on each child's device: install and trust qinglang's certificate (so qinglang can check encrypted pages), then send the device's traffic through qinglang. Each device needs this once.",
    ),
    "via": ("这台设备的流量已经经过清朗。", "This device's traffic already goes through qinglang."),
    "step1": ("第一步：安装证书", "Step 1: install the certificate"),
    "fp": (
        "下载后请核对证书的 SHA-256 指纹，必须与下面完全一致：",
        "After downloading, compare the certificate's SHA-256 fingerprint; it must be exactly this:",
    ),
    "fp1": ("（有些系统只显示 SHA-1：）", "(Some systems show only SHA-1:)"),
    "download": ("下载证书：", "Download the certificate:"),
    "nocert": (
        "证书还没有生成：清朗第一次启动时会生成它。请稍后刷新本页。",
        "The certificate has not been made yet: qinglang makes it the first time it starts. Reload this page in a moment.",
    ),
    "never": (
        "这里只提供证书本身。证书的私钥从不离开运行清朗的电脑。",
        "Only the certificate is offered here. Its private key never leaves the machine that runs qinglang.",
    ),
    "step2": ("第二步：让流量经过清朗", "Step 2: send the traffic through qinglang"),
    "proxy": ("代理地址（手动设置时填写）：", "Proxy address (for manual set-up):"),
    "pac": ("自动配置（PAC）地址：", "Automatic configuration (PAC) address:"),
    "nopac": (
        "家长面板已关闭，所以没有可以直接下载的 PAC 地址：请手动填写代理地址。",
        "The dashboard is switched off, so there is no PAC address a device can fetch directly: enter the proxy address by hand.",
    ),
    "failclosed": (
        "对受过滤的设备，PAC 文件不设“直连”后备：清朗停止时，设备无法上网，而不是悄悄地不经过滤上网。家长的设备（不过滤的档案）在清朗停止时会直接上网。",
        "For a filtered device the PAC file has no DIRECT fallback: when qinglang is down the device cannot browse, instead of silently browsing unfiltered. A parent's device (a profile that is not filtered) goes direct when qinglang is down.",
    ),
    "wpad": (
        "自动发现（WPAD）：网络里的名字 wpad.<你的域名> 指向运行清朗的电脑并在 80 端口提供 /wpad.dat，或者由路由器的 DHCP 选项 252 给出 PAC 地址。Windows 和 ChromeOS 会自动查找，macOS 和 Linux 要打开“自动发现代理”，Firefox 要选“自动检测此网络的代理设置”；iOS 和 Android 不会自动查找，请填写 PAC 地址。",
        "Automatic discovery (WPAD): a name wpad.<your domain> that points at the machine running qinglang and serves /wpad.dat on port 80, or the PAC address in DHCP option 252 from the router. Windows and ChromeOS look for it by default; macOS and Linux need 'auto proxy discovery' on, Firefox 'Auto-detect proxy settings for this network'; iOS and Android never look: enter the PAC address.",
    ),
    "phones": ("手机：WireGuard", "Phones: WireGuard"),
    "phones_text": (
        "手机上的很多应用不理会系统代理。用 WireGuard 应用把整台手机的流量交给清朗：家长登录家长面板，在“WireGuard”页面为每台手机扫描二维码或下载配置文件。证书仍然要按上面的步骤安装。",
        "Many phone apps ignore the system proxy. The WireGuard app sends the whole phone's traffic through qinglang: a parent signs in to the dashboard and, on its WireGuard page, scans the QR code or downloads the configuration for each phone. The certificate is still installed as above.",
    ),
    "cert_steps": ("安装证书", "Install the certificate"),
    "proxy_steps": ("设置代理", "Set the proxy"),
    "other": ("English", "中文"),
}

PLATFORMS: dict[str, tuple[Platform, ...]] = {
    "en": (
        Platform(
            "windows",
            "Windows",
            (CRT, PEM),
            (
                "Download `{ca_crt}` and open it.",
                "Choose `Install Certificate…`; for every user of this computer choose "
                "`Local Machine` (needs an administrator), else `Current User`.",
                "Choose `Place all certificates in the following store`, `Browse…`, "
                "`Trusted Root Certification Authorities`, then `Next` and `Finish`.",
                "Windows shows a security warning with the certificate's SHA-1 "
                "thumbprint: compare it with the one above, then choose `Yes`.",
                "Firefox: `Settings > Privacy & Security > Certificates > View "
                "Certificates > Authorities > Import…`, choose `{ca_pem}` and tick "
                "`Trust this CA to identify websites`.",
            ),
            (
                "`Settings > Network & internet > Proxy`: turn on `Use setup script`, "
                "enter `{pac}` as the script address and save.",
                "Or, with WPAD set up on your network: turn on `Automatically detect settings`.",
            ),
        ),
        Platform(
            "macos",
            "macOS",
            (PEM,),
            (
                "Download `{ca_pem}` and open it: Keychain Access adds it to the "
                "`login` keychain (choose `System` for every user).",
                "In Keychain Access, find the certificate named `{ca_name}`, open it, "
                "unfold `Trust` and set `When using this certificate` to `Always "
                "Trust`. Close the window and confirm with your password.",
                "Compare the SHA-256 fingerprint shown under `Details` with the one above.",
                "Firefox: import `{ca_pem}` under `Settings > Privacy & Security > "
                "Certificates > View Certificates > Authorities`.",
            ),
            (
                "`System Settings > Network > Wi-Fi > Details… > Proxies`: turn on "
                "`Automatic proxy configuration`, enter `{pac}`, then `OK`.",
                "Or, with WPAD: turn on `Auto proxy discovery`.",
            ),
        ),
        Platform(
            "ios",
            "iPhone and iPad (iOS)",
            (PEM,),
            (
                "Open this page in Safari and tap `{ca_pem}`; allow the download of the "
                "configuration profile.",
                "`Settings > General > VPN & Device Management`: tap the downloaded "
                "profile `{ca_name}`, then `Install` and enter the passcode.",
                "`Settings > General > About > Certificate Trust Settings`: turn on full "
                "trust for `{ca_name}`. Without this step encrypted pages fail.",
            ),
            (
                "`Settings > Wi-Fi`, tap (i) beside the network, `Configure Proxy > "
                "Automatic`, enter `{pac}` and save.",
                "Apps may ignore this proxy: for a child's phone, WireGuard (below) "
                "covers every app.",
            ),
        ),
        Platform(
            "android",
            "Android",
            (CRT, PEM),
            (
                "Download `{ca_crt}`.",
                "`Settings > Security & privacy > More security settings > Encryption & "
                "credentials > Install a certificate > CA certificate`, choose `Install "
                "anyway` and the downloaded file (the menu differs by maker: search the "
                "settings for `CA certificate`).",
                "Limits: since Android 7, apps trust a certificate installed by the user "
                "only if they say so; most apps do not, and their encrypted traffic fails "
                "through the proxy (or list their hosts in a profile's "
                "`passthrough_hosts`). Chrome trusts it; Firefox only after "
                "`Settings > About Firefox`, tapping the logo five times, then `Settings "
                "> Secret settings > Use third party CA certificates`.",
            ),
            (
                "`Settings > Wi-Fi`, the network's settings, `Edit > Advanced options > "
                "Proxy > Proxy Auto-Config`, enter `{pac}` and save.",
                "Android does not look for WPAD. For every app, use WireGuard (below).",
            ),
        ),
        Platform(
            "chromeos",
            "ChromeOS",
            (CRT, PEM),
            (
                "Download `{ca_crt}`.",
                "Open `chrome://settings/certificates`, tab `Authorities`, `Import`, "
                "choose the file and tick `Trust this certificate for identifying "
                "websites`.",
                "A school's managed Chromebooks get the certificate and the proxy from "
                "the admin console's policies instead.",
            ),
            (
                "`Settings > Network > Wi-Fi`, the network, `Proxy`: choose `Automatic "
                "proxy configuration` and enter `{pac}` (or leave the address empty to "
                "use WPAD).",
            ),
        ),
        Platform(
            "linux",
            "Linux",
            (PEM,),
            (
                "Debian and Ubuntu: `sudo cp {ca_pem} "
                "/usr/local/share/ca-certificates/qinglang-ca.crt && sudo "
                "update-ca-certificates`.",
                "Fedora: `sudo cp {ca_pem} /etc/pki/ca-trust/source/anchors/ && sudo "
                "update-ca-trust`.",
                "Firefox has its own store: import `{ca_pem}` under `Settings > Privacy "
                "& Security > Certificates > View Certificates > Authorities`.",
                "Chromium and Chrome read the NSS store (package `libnss3-tools`). On an "
                "account where Chromium never ran, create the store first: `mkdir -p "
                "$HOME/.pki/nssdb && certutil -d sql:$HOME/.pki/nssdb -N "
                "--empty-password` (skip it if `$HOME/.pki/nssdb/cert9.db` exists).",
                "Then add the certificate: `certutil -d sql:$HOME/.pki/nssdb -A -t C,, "
                "-n qinglang -i {ca_pem}`, and restart Chromium.",
            ),
            (
                "GNOME: `Settings > Network > Network Proxy > Automatic`, enter `{pac}`.",
                "Command-line tools: `export http_proxy=http://{proxy} "
                "https_proxy=http://{proxy}`.",
            ),
        ),
    ),
    "zh": (
        Platform(
            "windows",
            "Windows",
            (CRT, PEM),
            (
                "下载 `{ca_crt}` 并打开。",
                "选“安装证书…”；要对这台电脑的所有用户生效，选“本地计算机”（需要管理员），"
                "否则选“当前用户”。",
                "选“将所有的证书都放入下列存储”，点“浏览…”，选“受信任的根证书颁发机构”，"
                "然后“下一步”“完成”。",
                "Windows 会弹出安全警告并显示证书的 SHA-1 指纹：与上面的核对一致后点“是”。",
                "Firefox：`设置 > 隐私与安全 > 证书 > 查看证书 > 证书颁发机构 > 导入…`，"
                "选 `{ca_pem}`，勾选“信任由此证书颁发机构来标识网站”。",
            ),
            (
                "`设置 > 网络和 Internet > 代理`：打开“使用设置脚本”，脚本地址填 `{pac}`，保存。",
                "如果网络里设置了 WPAD：打开“自动检测设置”即可。",
            ),
        ),
        Platform(
            "macos",
            "macOS",
            (PEM,),
            (
                "下载 `{ca_pem}` 并打开：“钥匙串访问”会把它加入“登录”钥匙串"
                "（要对所有用户生效，选“系统”）。",
                "在“钥匙串访问”里找到名为 `{ca_name}` 的证书，双击打开，展开“信任”，"
                "把“使用此证书时”设为“始终信任”。关闭窗口并输入密码确认。",
                "在“细节”里核对 SHA-256 指纹与上面一致。",
                "Firefox：在 `设置 > 隐私与安全 > 证书 > 查看证书 > 证书颁发机构` 导入 `{ca_pem}`。",
            ),
            (
                "`系统设置 > 网络 > Wi-Fi > 详细信息… > 代理`：打开“自动代理配置”，填 `{pac}`，点“好”。",
                "如果网络里设置了 WPAD：打开“自动发现代理”。",
            ),
        ),
        Platform(
            "ios",
            "iPhone 和 iPad（iOS）",
            (PEM,),
            (
                "用 Safari 打开本页，点 `{ca_pem}`，允许下载描述文件。",
                "`设置 > 通用 > VPN 与设备管理`：点已下载的描述文件 `{ca_name}`，点“安装”并输入密码。",
                "`设置 > 通用 > 关于本机 > 证书信任设置`：为 `{ca_name}` 打开“完全信任”。"
                "少了这一步，加密网页会打不开。",
            ),
            (
                "`设置 > 无线局域网`，点网络旁边的 (i)，`配置代理 > 自动`，填 `{pac}` 并存储。",
                "应用可能不理会这个代理：孩子的手机建议用下面的 WireGuard，覆盖所有应用。",
            ),
        ),
        Platform(
            "android",
            "Android",
            (CRT, PEM),
            (
                "下载 `{ca_crt}`。",
                "`设置 > 安全与隐私 > 更多安全设置 > 加密与凭据 > 安装证书 > CA 证书`，"
                "选“仍然安装”，再选下载的文件（各品牌菜单不同：在设置里搜索“CA 证书”）。",
                "限制：从 Android 7 起，应用只有自己声明时才信任用户安装的证书；大多数应用不声明，"
                "它们的加密流量经过代理时会失败（或者把它们的域名写进档案的 `passthrough_hosts`）。"
                "Chrome 信任用户证书；Firefox 要在 `设置 > 关于 Firefox` 连点标志五次，"
                "再打开 `设置 > 秘密设置 > 使用第三方 CA 证书`。",
            ),
            (
                "`设置 > WLAN`，进入网络设置，`修改 > 高级选项 > 代理 > 代理自动配置`，填 `{pac}` 并保存。",
                "Android 不会自动查找 WPAD。要覆盖所有应用，请用下面的 WireGuard。",
            ),
        ),
        Platform(
            "chromeos",
            "ChromeOS",
            (CRT, PEM),
            (
                "下载 `{ca_crt}`。",
                "打开 `chrome://settings/certificates`，“授权机构”标签页，“导入”，"
                "选择文件并勾选“信任该证书，以标识网站身份”。",
                "学校统一管理的 Chromebook 由管理控制台的策略下发证书和代理。",
            ),
            (
                "`设置 > 网络 > WLAN`，选网络，`代理`：选“自动代理配置”，填 `{pac}`（地址留空则使用 WPAD）。",
            ),
        ),
        Platform(
            "linux",
            "Linux",
            (PEM,),
            (
                "Debian 和 Ubuntu：`sudo cp {ca_pem} "
                "/usr/local/share/ca-certificates/qinglang-ca.crt && sudo "
                "update-ca-certificates`。",
                "Fedora：`sudo cp {ca_pem} /etc/pki/ca-trust/source/anchors/ && sudo update-ca-trust`。",
                "Firefox 有自己的证书库：在 `设置 > 隐私与安全 > 证书 > 查看证书 > 证书颁发机构` 导入 `{ca_pem}`。",
                "Chromium 和 Chrome 使用 NSS 证书库（软件包 `libnss3-tools`）。如果这个账户从没运行过 Chromium，先创建证书库：`mkdir -p $HOME/.pki/nssdb && certutil -d sql:$HOME/.pki/nssdb -N --empty-password`（已有 `$HOME/.pki/nssdb/cert9.db` 时跳过）。",
                "再导入证书：`certutil -d sql:$HOME/.pki/nssdb -A -t C,, -n qinglang -i {ca_pem}`，然后重启 Chromium。",
            ),
            (
                "GNOME：`设置 > 网络 > 网络代理 > 自动`，填 `{pac}`。",
                "命令行工具：`export http_proxy=http://{proxy} https_proxy=http://{proxy}`。",
            ),
        ),
    ),
}
