# common.sh - shared by the lab's kubeadm, kubelet and kubectl (pasted into
# each program when its package is built; VERSION is set before this).

# kc_load FILE: the kubeconfig's server into KC_SERVER, its CA, client
# certificate and key (embedded *-data or file paths) into files in KC_DIR
kc_load() {
	KC_FILE=$1
	if [ ! -r "$KC_FILE" ]; then
		return 1
	fi
	KC_DIR=$(mktemp -d "${TMPDIR:-/tmp}/.kube-lab.XXXXXX")
	# shellcheck disable=SC2064 # expand now
	trap "rm -rf '$KC_DIR'" EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	KC_SERVER=$(sed -n 's/^ *server: *//p' "$KC_FILE" | head -n 1)
	for _pair in certificate-authority:ca.crt client-certificate:client.crt client-key:client.key; do
		_k=${_pair%%:*}
		_out=$KC_DIR/${_pair#*:}
		_data=$(sed -n "s/^ *$_k-data: *//p" "$KC_FILE" | head -n 1)
		if [ -n "$_data" ]; then
			printf '%s' "$_data" | base64 -d >"$_out" 2>/dev/null || :
		else
			_path=$(sed -n "s/^ *$_k: *//p" "$KC_FILE" | head -n 1)
			[ -z "$_path" ] || cp "$_path" "$_out" 2>/dev/null || :
		fi
	done
	[ -n "$KC_SERVER" ]
}

# api METHOD PATH [BODY_FILE [CONTENT_TYPE]]: the answer's body in
# $KC_DIR/body, its HTTP status in API_CODE (000: no connection)
api() {
	_m=$1 _p=$2 _b=${3:-} _ct=${4:-application/json}
	set -- -sS -o "$KC_DIR/body" -w '%{http_code}' --connect-timeout 5 --max-time 60 \
		-X "$_m" -H 'Accept: application/json' -H "User-Agent: $PROG/v$VERSION (linux/amd64) kubernetes/lab"
	[ ! -s "$KC_DIR/ca.crt" ] || set -- "$@" --cacert "$KC_DIR/ca.crt"
	[ ! -s "$KC_DIR/client.crt" ] || set -- "$@" --cert "$KC_DIR/client.crt"
	[ ! -s "$KC_DIR/client.key" ] || set -- "$@" --key "$KC_DIR/client.key"
	[ -z "$_b" ] || set -- "$@" -H "Content-Type: $_ct" --data-binary "@$_b"
	API_CODE=$(curl "$@" "$KC_SERVER$_p" 2>"$KC_DIR/curl.err") || API_CODE=000
	case $API_CODE in 2??) return 0 ;; *) return 1 ;; esac
}

# json_str KEY FILE: the first "KEY":"value" in FILE, unescaped
json_str() {
	awk -v k="\"$1\":\"" '{
		i = index($0, k); if (!i) next
		s = substr($0, i + length(k)); out = ""
		while (length(s)) {
			c = substr(s, 1, 1)
			if (c == "\\") {
				d = substr(s, 2, 1)
				out = out (d == "n" ? "\n" : d == "t" ? "\t" : d); s = substr(s, 3); continue
			}
			if (c == "\"") break
			out = out c; s = substr(s, 2)
		}
		print out; exit
	}' "$2"
}

# api_error: what kubectl prints for a failed request (to stderr)
api_error() {
	if [ "$API_CODE" = 000 ]; then
		_hp=${KC_SERVER#*://}
		echo "The connection to the server $_hp was refused - did you specify the right host or port?" >&2
		return
	fi
	_reason=$(json_str reason "$KC_DIR/body")
	_msg=$(json_str message "$KC_DIR/body")
	# a 404 without a Status (a path the server does not serve): kubectl's
	# words for it
	if [ -z "$_reason" ] && [ "$API_CODE" = 404 ]; then
		_reason=NotFound _msg="the server could not find the requested resource"
	fi
	[ -n "$_reason" ] || _reason=Unknown
	[ -n "$_msg" ] || _msg="the server responded with the status code $API_CODE but did not return more information"
	echo "Error from server ($_reason): $_msg" >&2
}

# vnum v1.13.3 -> 1013003 (empty when it is not a version)
vnum() {
	_v=${1#v}
	_v=${_v%%-*}
	case $_v in
	*.*.*) ;;
	*) return 1 ;;
	esac
	_maj=${_v%%.*} _r=${_v#*.}
	_min=${_r%%.*} _pat=${_r#*.}
	case $_maj$_min$_pat in *[!0-9]* | '') return 1 ;; esac
	echo $((_maj * 1000000 + _min * 1000 + _pat))
}

# build_info vX.Y.Z: GIT_COMMIT, BUILD_DATE, GO_VERSION of that release
build_info() {
	case $1 in
	v1.12.5) GIT_COMMIT=51dd616cdd25d6ee22c83a858773b607328a18ec BUILD_DATE=2019-01-16T18:14:49Z GO_VERSION=go1.10.7 ;;
	v1.13.0) GIT_COMMIT=ddf47ac13c1a9483ea035a79cd7c10005ff21a6d BUILD_DATE=2018-12-03T20:56:12Z GO_VERSION=go1.11.2 ;;
	v1.13.1) GIT_COMMIT=eec55b9ba98609a46fee712359c7b5b365bdd920 BUILD_DATE=2018-12-13T10:31:33Z GO_VERSION=go1.11.2 ;;
	v1.13.2) GIT_COMMIT=cff46ab41ff0bb44d8584413b598ad8360ec1def BUILD_DATE=2019-01-10T23:28:14Z GO_VERSION=go1.11.4 ;;
	v1.13.3) GIT_COMMIT=721bfa751924da8d1680787490c54b9179b1fed0 BUILD_DATE=2019-02-01T20:00:57Z GO_VERSION=go1.11.5 ;;
	v1.14.0) GIT_COMMIT=641856db18352033a0d96dbc99153fa3b27298e5 BUILD_DATE=2019-03-25T15:45:25Z GO_VERSION=go1.12.1 ;;
	*) GIT_COMMIT=0000000000000000000000000000000000000000 BUILD_DATE=2019-01-01T00:00:00Z GO_VERSION=go1.11.5 ;;
	esac
}

# version_struct NAME: Go's printing of version.Info for vVERSION
version_struct() {
	build_info "v$VERSION"
	_mi=${VERSION#*.}
	_mi=${_mi%%.*}
	printf '%s: &version.Info{Major:"1", Minor:"%s", GitVersion:"v%s", GitCommit:"%s", GitTreeState:"clean", BuildDate:"%s", GoVersion:"%s", Compiler:"gc", Platform:"linux/amd64"}\n' \
		"$1" "$_mi" "$VERSION" "$GIT_COMMIT" "$BUILD_DATE" "$GO_VERSION"
}

now_utc() {
	date -u +%Y-%m-%dT%H:%M:%SZ
}
