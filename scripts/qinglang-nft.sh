#!/usr/bin/env bash
# qinglang transparent mode on a Linux router or Raspberry Pi: nftables rules that send
# the filtered clients' web traffic to mitmproxy's transparent-mode port.
#
#   qinglang-nft.sh apply  [--iface IF]... [--client ADDR|CIDR]... [--exempt ADDR|CIDR]...
#                          [--port 8080] [--table qinglang]
#   qinglang-nft.sh remove [--table qinglang]
#   qinglang-nft.sh show   [--table qinglang]
#   qinglang-nft.sh print  [same options as apply]   the ruleset, without loading it
#
# What `apply` does, for packets arriving on one of the --iface interfaces (if any given)
# AND from one of the --client addresses (if any given), except --exempt addresses:
#   - TCP 80 and 443 are redirected to this machine's --port, where
#     `qinglang run --mode transparent --listen-port PORT` listens;
#   - UDP 443 (QUIC, HTTP/3) is dropped, so browsers fall back to TCP, which is filtered.
# Everything lives in its own table (`inet qinglang`): `apply` replaces that table in one
# atomic transaction, `remove` deletes it, and no other rule on the machine is touched.
# The rules do not survive a reboot: scripts/qinglang-nft.service applies them at boot.
#
# Environment: NFT (the nft binary; default: nft).
set -euo pipefail

NFT=${NFT:-nft}
TABLE=qinglang
PORT=8080
IFACES=()
CLIENTS=()
EXEMPT=()

die() {
    echo "qinglang-nft: $*" >&2
    exit 2
}

usage() {
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

valid_addr() {
    # IPv4 or IPv6, optionally with a prefix length; nft checks the rest atomically.
    [[ $1 =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}(/[0-9]{1,2})?$ ]] ||
        [[ $1 =~ ^[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*(/[0-9]{1,3})?$ ]]
}

is_v6() { [[ $1 == *:* ]]; }

[ $# -ge 1 ] || usage 2
case $1 in -h | --help) usage 0 ;; esac
CMD=$1
shift
while [ $# -gt 0 ]; do
    case $1 in
    --iface | --client | --exempt | --port | --table)
        [ $# -ge 2 ] || die "$1 needs a value"
        case $1 in
        --iface)
            [[ $2 =~ ^[A-Za-z0-9_.:-]{1,15}$ ]] || die "not an interface name: $2"
            IFACES+=("$2")
            ;;
        --client)
            valid_addr "$2" || die "not an IP address or CIDR: $2"
            CLIENTS+=("$2")
            ;;
        --exempt)
            valid_addr "$2" || die "not an IP address or CIDR: $2"
            EXEMPT+=("$2")
            ;;
        --port)
            [[ $2 =~ ^[0-9]{1,5}$ ]] && [ "$2" -ge 1 ] && [ "$2" -le 65535 ] ||
                die "not a port: $2"
            PORT=$2
            ;;
        --table)
            [[ $2 =~ ^[A-Za-z][A-Za-z0-9_]{0,30}$ ]] || die "not a table name: $2"
            TABLE=$2
            ;;
        esac
        shift 2
        ;;
    -h | --help) usage 0 ;;
    *) die "unknown option: $1 (see --help)" ;;
    esac
done

join() {
    local IFS=,
    echo "$*"
}

# The set of addresses of one family, or nothing.
addr_set() {
    local name=$1 type=$2 family=$3
    shift 3
    local picked=()
    for a in "$@"; do
        if [ "$family" = 6 ] && is_v6 "$a"; then picked+=("$a"); fi
        if [ "$family" = 4 ] && ! is_v6 "$a"; then picked+=("$a"); fi
    done
    [ ${#picked[@]} -gt 0 ] || return 0
    echo "    set $name { type $type; flags interval; elements = { $(join "${picked[@]}") } }"
}

ruleset() {
    [ ${#IFACES[@]} -gt 0 ] || [ ${#CLIENTS[@]} -gt 0 ] ||
        die "say which clients to filter: --iface IF and/or --client ADDR|CIDR"
    local iif="" quoted=() sets
    if [ ${#IFACES[@]} -gt 0 ]; then
        for i in "${IFACES[@]}"; do quoted+=("\"$i\""); done
        iif="iifname { $(join "${quoted[@]}") } "
    fi
    sets=$(
        addr_set clients4 ipv4_addr 4 "${CLIENTS[@]}"
        addr_set clients6 ipv6_addr 6 "${CLIENTS[@]}"
        addr_set exempt4 ipv4_addr 4 "${EXEMPT[@]}"
        addr_set exempt6 ipv6_addr 6 "${EXEMPT[@]}"
    )
    # Who is filtered, as rules that jump to $1 (exempt addresses return first).
    who() {
        [[ $sets == *"set exempt4 "* ]] && echo "        ip saddr @exempt4 return"
        [[ $sets == *"set exempt6 "* ]] && echo "        ip6 saddr @exempt6 return"
        if [ ${#CLIENTS[@]} -eq 0 ]; then
            echo "        ${iif}jump $1"
        fi
        [[ $sets == *"set clients4 "* ]] && echo "        ${iif}ip saddr @clients4 jump $1"
        [[ $sets == *"set clients6 "* ]] && echo "        ${iif}ip6 saddr @clients6 jump $1"
        return 0
    }
    cat <<EOF
table inet $TABLE {
$sets
    # Filtered clients' web traffic goes to qinglang (mitmproxy --mode transparent).
    chain prerouting {
        type nat hook prerouting priority dstnat; policy accept;
$(who to_qinglang)
    }
    chain to_qinglang {
        tcp dport { 80, 443 } counter redirect to :$PORT
    }
    # QUIC (HTTP/3 over UDP 443) is dropped: browsers fall back to TCP, which is filtered.
    chain forward {
        type filter hook forward priority filter; policy accept;
$(who no_quic)
    }
    chain no_quic {
        udp dport 443 counter drop
    }
}
EOF
}

has_table() { "$NFT" list table inet "$TABLE" >/dev/null 2>&1; }

case $CMD in
print) ruleset ;;
apply)
    rules=$(ruleset)
    # Create-then-delete makes the delete valid when the table is new; the whole file is
    # one transaction, so a mistake leaves the previous rules in place.
    {
        echo "table inet $TABLE {}"
        echo "delete table inet $TABLE"
        echo "$rules"
    } | "$NFT" -f - || die "nft refused the rules; nothing was changed"
    fwd=$(cat /proc/sys/net/ipv4/ip_forward 2>/dev/null || echo 1)
    [ "$fwd" = 1 ] || echo "qinglang-nft: warning: IPv4 forwarding is off" \
        "(sysctl -w net.ipv4.ip_forward=1); clients will have no internet" >&2
    echo "qinglang-nft: applied table inet $TABLE: TCP 80/443 -> port $PORT, UDP 443 dropped"
    ;;
remove)
    if has_table; then
        "$NFT" delete table inet "$TABLE"
        echo "qinglang-nft: removed table inet $TABLE"
    else
        echo "qinglang-nft: table inet $TABLE is not there; nothing to remove"
    fi
    ;;
show)
    if has_table; then
        "$NFT" list table inet "$TABLE"
    else
        echo "qinglang-nft: table inet $TABLE is not applied"
    fi
    ;;
*) usage 2 ;;
esac
