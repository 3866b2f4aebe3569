# bash completion for netlogind and netlogin.
# Install as /usr/share/bash-completion/completions/netlogin, with a
# symbolic link named netlogind to it.

_netlogin_words()
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

_netlogind()
{
    local cur prev
    _netlogin_words
    COMPREPLY=()
    local flag=${prev#-}
    flag=${flag#-}
    if [[ $prev == -* ]]; then
        case $flag in
            key | cert | session-program | unix)
                COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
            pam-confdir | run-dir)
                COMPREPLY=($(compgen -d -- "$cur")); return 0 ;;
            log-level)
                COMPREPLY=($(compgen -W "debug info warn error" -- "$cur")); return 0 ;;
            degrade)
                COMPREPLY=($(compgen -W "landlock seccomp landlock,seccomp" -- "$cur")); return 0 ;;
            listen | unix-mode | pam-service | net-uids | max-conns | max-unauth | \
                max-per-source | rate | burst | auth-timeout | fail-delay | \
                idle-timeout | event-fd | uid)
                return 0 ;;
        esac
    fi
    local sub=
    ((COMP_CWORD > 1)) && sub=${COMP_WORDS[1]}
    case $sub in
        audit) COMPREPLY=($(compgen -W "-json -uid" -- "$cur")) ;;
        policy) COMPREPLY=($(compgen -W "-json" -- "$cur")) ;;
        version) ;;
        *)
            if ((COMP_CWORD == 1)) && [[ $cur != -* ]]; then
                COMPREPLY=($(compgen -W "audit policy version" -- "$cur"))
            elif [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "-listen -key -cert -unix -unix-mode
                    -pam-service -pam-confdir -session-program -net-uids -run-dir
                    -max-conns -max-unauth -max-per-source -rate -burst
                    -auth-timeout -fail-delay -idle-timeout -degrade -event-fd
                    -log-level -h" -- "$cur"))
            fi ;;
    esac
    return 0
}

_netlogin()
{
    local cur prev
    _netlogin_words
    COMPREPLY=()
    local flag=${prev#-}
    flag=${flag#-}
    if [[ $prev == -* ]]; then
        case $flag in
            ca | unix | key | cert)
                COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
            connect | fingerprint | server-name | c | timeout | host | cn | days)
                return 0 ;;
        esac
    fi
    local sub=
    ((COMP_CWORD > 1)) && sub=${COMP_WORDS[1]}
    if [[ $sub == keygen ]]; then
        COMPREPLY=($(compgen -W "-key -cert -host -cn -days" -- "$cur"))
    elif ((COMP_CWORD == 1)) && [[ $cur != -* ]]; then
        COMPREPLY=($(compgen -W "keygen" -- "$cur"))
    elif [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "-connect -ca -fingerprint -server-name -unix -c
            -timeout -h" -- "$cur"))
    fi
    return 0
}

complete -F _netlogind netlogind
complete -F _netlogin netlogin
