/*
 * version.c - `kplan --version`: kplan's version and those of the
 * libraries it runs on, as they report themselves at run time (the shared
 * libraries actually loaded, not the headers it was built with).
 */
#include "cli/cli.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <libssh/libssh.h>
#include <lua.h>
#include <openssl/crypto.h>
#include <yaml.h>

void kp_print_version(FILE *out, const char *kplan_version)
{
	const curl_version_info_data *c = curl_version_info(CURLVERSION_NOW);
	fprintf(out, "kplan %s\n", kplan_version);
	fprintf(out, "libyaml %s\n", yaml_get_version_string());
	fprintf(out, "libssh %s\n", ssh_version(0));
	fprintf(out, "libcurl %s%s%s%s\n", c->version, c->ssl_version ? " (" : "",
		c->ssl_version ? c->ssl_version : "", c->ssl_version ? ")" : "");
	fprintf(out, "cJSON %s\n", cJSON_Version());
	fprintf(out, "OpenSSL %s\n", OpenSSL_version(OPENSSL_VERSION_STRING));
	/* the Lua of the hooks: its release as built (liblua has no run-time query) */
	fprintf(out, "Lua %s\n", LUA_VERSION_MAJOR "." LUA_VERSION_MINOR "." LUA_VERSION_RELEASE);
}
