# bash completion for ndhc and ifchd.
# Install as /usr/share/bash-completion/completions/ndhc, with a symbolic
# link named ifchd to it (bash-completion loads a command's file by name).
# Flags take one dash or two; completion offers the long ones with two.

# _ndhc_ifaces prints the names of the network interfaces.
_ndhc_ifaces()
{
    local d
    for d in /sys/class/net/*; do
        [[ -e $d ]] && printf '%s\n' "${d##*/}"
    done
}

# _ndhc_words sets cur and prev, with "--flag=value" read as two words.
_ndhc_words()
{
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=
    ((COMP_CWORD > 0)) && prev=${COMP_WORDS[COMP_CWORD - 1]}
    if [[ $cur == = ]]; then
        cur=
    elif [[ $prev == = ]] && ((COMP_CWORD > 1)); then
        prev=${COMP_WORDS[COMP_CWORD - 2]}
    fi
}

# _ndhc_value completes the value of the flag in prev (one dash or two)
# and returns 0, or returns 1 when prev takes no value we know of.
_ndhc_value()
{
    local flag=${prev#-}
    flag=${flag#-}
    [[ $prev == -* ]] || return 1
    case $flag in
        i | interface)
            COMPREPLY=($(compgen -W "$(_ndhc_ifaces)" -- "$cur")) ;;
        c | config | resolv-conf | ifchd | socket | dbus-socket | control-socket | hook)
            COMPREPLY=($(compgen -f -- "$cur")) ;;
        state-dir | empty-dir)
            COMPREPLY=($(compgen -d -- "$cur")) ;;
        arp-mode)
            COMPREPLY=($(compgen -W "fast rfc5227 off" -- "$cur")) ;;
        dns)
            COMPREPLY=($(compgen -W "auto file resolved none" -- "$cur")) ;;
        classless-routes)
            COMPREPLY=($(compgen -W "on off no-default" -- "$cur")) ;;
        clientid)
            COMPREPLY=($(compgen -W "duid mac string:" -- "$cur")) ;;
        log-format)
            COMPREPLY=($(compgen -W "text json journal" -- "$cur")) ;;
        log-level)
            COMPREPLY=($(compgen -W "debug info warn error" -- "$cur")) ;;
        allow-degraded-sandbox)
            COMPREPLY=($(compgen -W "landlock seccomp landlock,seccomp" -- "$cur")) ;;
        supervisor-user | engine-user | sockd-user | ifch-user | hostname-user | dns-user | hook-user | socket-owner)
            COMPREPLY=($(compgen -u -- "$cur")) ;;
        socket-group | control-group)
            COMPREPLY=($(compgen -g -- "$cur")) ;;
        timeout | hook-timeout | arp-wait | hostname | vendor-class | request | route-metric | \
            allow-ranges | min-prefix | mtu-floor | min-route-prefix | event-fd | ready-fd | \
            allow | socket-mode | max-conns | max-conns-per-uid | idle-timeout | \
            max-dns | max-routes | max-search)
            COMPREPLY=() ;;
        *)
            return 1 ;;
    esac
    return 0
}

_ndhc()
{
    local cur prev
    _ndhc_words
    COMPREPLY=()
    local roles="supervisor engine sockd ifch hostname dns hook"
    local role_flags="--json --allow-degraded-sandbox --state-dir --empty-dir
        --supervisor-user --engine-user --sockd-user --ifch-user --hostname-user
        --dns-user --dbus-socket --hook-user"
    local client_flags="--interface --config --oneshot --timeout --release-on-exit
        --clientid --hostname --vendor-class --request --set-hostname
        --arp-mode --arp-wait --relentless-defense --resolv-conf --route-metric
        --allow-ranges --allow-link-local --allow-offlink-router --min-prefix
        --mtu-floor --classless-routes --min-route-prefix --ifchd --event-fd --ready-fd
        --log-format --log-level --allow-degraded-sandbox --state-dir --empty-dir
        --supervisor-user --engine-user --sockd-user --ifch-user --hostname-user
        --dns --dns-user --dbus-socket
        --control-socket --control-group --wait
        --hook --hook-user --hook-timeout
        -i -c -q -w --help"

    _ndhc_value && return 0

    local sub=
    ((COMP_CWORD > 1)) && sub=${COMP_WORDS[1]}
    case $sub in
        status)
            COMPREPLY=($(compgen -W "--interface -i --json --state-dir" -- "$cur")) ;;
        show)
            COMPREPLY=($(compgen -W "--interface -i --json --control-socket" -- "$cur")) ;;
        wait)
            COMPREPLY=($(compgen -W "--interface -i --json --control-socket --timeout" -- "$cur")) ;;
        renew | release | rebind)
            COMPREPLY=($(compgen -W "--interface -i --json --control-socket --wait --timeout" -- "$cur")) ;;
        policy)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$role_flags --users" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "$roles" -- "$cur"))
            fi ;;
        audit)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$role_flags" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "$roles" -- "$cur"))
            fi ;;
        prepare)
            [[ $cur == -* ]] && COMPREPLY=($(compgen -W "$client_flags" -- "$cur")) ;;
        version)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--json" -- "$cur"))
            fi ;;
        *)
            if ((COMP_CWORD == 1)) && [[ $cur != -* ]]; then
                COMPREPLY=($(compgen -W "status prepare show renew release rebind wait policy audit version" -- "$cur"))
            elif [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$client_flags" -- "$cur"))
            fi ;;
    esac
    return 0
}

_ifchd()
{
    local cur prev
    _ndhc_words
    COMPREPLY=()
    _ndhc_value && return 0
    [[ $cur == -* ]] || return 0
    COMPREPLY=($(compgen -W "--allow --config -c --socket --socket-mode
        --socket-owner --socket-group --resolv-conf --route-metric --min-prefix
        --mtu-floor --allow-link-local --allow-offlink-router --classless-routes
        --min-route-prefix --max-routes --max-dns --max-search --max-conns
        --max-conns-per-uid --idle-timeout --ifch-user --empty-dir
        --allow-degraded-sandbox --log-format --log-level --dns --help" -- "$cur"))
    return 0
}

complete -F _ndhc ndhc
complete -F _ifchd ifchd
