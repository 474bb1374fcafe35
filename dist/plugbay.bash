# bash completion for plugbay — command names, option names and which commands take a plugin ID are read
# from `plugbay help` (printed from plugbay's command table); plugin ids from `plugbay list --json`, when
# a broker answers within a second; files for an option's value and for other operands.

# _plugbay completes the word under the cursor of a plugbay command line.
_plugbay()
{
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]} help
    help=$("${COMP_WORDS[0]}" help 2>/dev/null) || return
    local valued=" $(grep -oE -- '--[a-z-]+ [A-Z]' <<<"$help" | cut -d' ' -f1 | sort -u | tr '\n' ' ') -o "
    # The words after plugbay that are not options or their values: the command and its operands.
    local i w operands=() broker=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        w=${COMP_WORDS[i]}
        if [[ $w == --broker ]]; then
            broker=(--broker "${COMP_WORDS[i+1]}")
        fi
        if [[ $valued == *" $w "* ]]; then
            ((i++))
        elif [[ $w != -* ]]; then
            operands+=("$w")
        fi
    done
    if [[ $valued == *" $prev "* ]]; then
        [[ $prev == --role ]] && COMPREPLY=($(compgen -W "observer host admin" -- "$cur")) ||
            COMPREPLY=($(compgen -f -- "$cur"))
        return
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$(grep -oE -- '--[a-z][a-z-]*' <<<"$help" | sort -u)" -- "$cur"))
    elif ((${#operands[@]} == 0)); then
        COMPREPLY=($(compgen -W "$(sed -nE 's/^  plugbay ([a-z]+).*/\1/p' <<<"$help" | sort -u)" -- "$cur"))
    elif ((${#operands[@]} == 1)) && grep -qE "^  plugbay ${operands[0]} [a-z]+" <<<"$help"; then
        COMPREPLY=($(compgen -W "$(sed -nE "s/^  plugbay ${operands[0]} ([a-z]+).*/\1/p" <<<"$help")" -- "$cur"))
    elif ((${#operands[@]} == 1)) && grep -qE "^  plugbay ${operands[0]} [^ ]*ID" <<<"$help"; then
        local ids
        ids=$(timeout 2 "${COMP_WORDS[0]}" "${broker[@]}" --timeout 1000 list --json 2>/dev/null |
              grep -oE '"id":"[^"]*"' | cut -d'"' -f4)
        COMPREPLY=($(compgen -W "$ids" -- "$cur"))
        grep -qE "^  plugbay ${operands[0]} [^ ]*FILE" <<<"$help" && COMPREPLY+=($(compgen -f -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
}
complete -F _plugbay plugbay
