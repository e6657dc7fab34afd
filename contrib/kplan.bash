# bash completion for kplan: commands, options, module names, and files
# for the options that take one.
_kplan()
{
	local cur prev cmd
	COMPREPLY=()
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD-1]}
	cmd=${COMP_WORDS[1]}
	local commands="run check plan validate inventory modules runs version"
	local opts="--inventory --extra-vars --limit --forks --tags --skip-tags --start-at-task
		--resume --force --check --diff --format --detailed-exitcode --no-fold --yes --known-hosts
		--host-key-checking --kubeconfig --journal --timeout --list-hosts --list-tasks
		--list-tags --syntax-check --user --private-key --ask-become-pass
		--become-password-file --vault-password-file --vault-id --ask-vault-pass
		--verbose --no-color --help"
	if [ "$COMP_CWORD" -eq 1 ]; then
		COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
		return
	fi
	case $prev in
	-i|--inventory|--private-key|--become-password-file|--vault-password-file|--known-hosts|--kubeconfig|--journal)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--format)
		COMPREPLY=($(compgen -W "text json markdown" -- "$cur"))
		return
		;;
	--host-key-checking)
		COMPREPLY=($(compgen -W "strict accept-new off" -- "$cur"))
		return
		;;
	esac
	case $cmd in
	modules)
		local mods
		mods=$(kplan modules 2>/dev/null | awk '{print $1}')
		COMPREPLY=($(compgen -W "$mods" -- "$cur"))
		return
		;;
	inventory)
		opts="--inventory --list --graph --host --vault-password-file --vault-id --help"
		;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts" -- "$cur"))
	else
		COMPREPLY=($(compgen -f -- "$cur"))
	fi
}
complete -o filenames -F _kplan kplan
