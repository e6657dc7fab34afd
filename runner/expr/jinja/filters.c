/*
 * filters.c - the table of every filter the library gives the Jinja
 * engine (implementations in filters_*.c, regex.c, ipaddr.c,
 * versions.c), and the Ansible names kplan knows but refuses, so that a
 * plan using one fails when it loads instead of when it runs.
 */
#include <string.h>

#include "expr/jinja/jlib.h"

#define SEL "*args,**kwargs"

const struct kp_jfilter kp_jinja_filters[] = {
    /* types */
    {"bool", NULL, 0, jf_bool},
    {"int", "default,base", 0, jf_int},
    {"float", "default", 0, jf_float},
    {"string", NULL, 0, jf_string},
    {"list", NULL, 0, jf_list},
    /* community.general's; ansible-core has no plain `dict` filter */
    {"community.general.dict", NULL, 0, jf_dict},
    {"abs", NULL, 0, jf_abs},
    {"round", "precision,method", 0, jf_round},
    {"ternary", "true_val,false_val,none_val", KP_JF_UNDEF_ARGS, jf_ternary},
    {"type_debug", NULL, 0, jf_type_debug},
    /* strings */
    {"lower", NULL, 0, jf_lower},
    {"upper", NULL, 0, jf_upper},
    {"capitalize", NULL, 0, jf_capitalize},
    {"title", NULL, 0, jf_title},
    {"trim", "chars", 0, jf_trim},
    {"replace", "old,new,count", 0, jf_replace},
    {"split", "sep,maxsplit", 0, jf_split},
    {"join", "d,attribute", 0, jf_join},
    {"wordcount", NULL, 0, jf_wordcount},
    {"center", "width", 0, jf_center},
    {"truncate", "length,killwords,end,leeway", 0, jf_truncate},
    {"indent", "width,first,blank", 0, jf_indent},
    {"format", "*args,**kwargs", 0, jf_format},
    {"quote", NULL, 0, jf_quote},
    {"regex_replace", "pattern,replacement,ignorecase,multiline", 0, jf_regex_replace},
    {"regex_search", "regex,*args,ignorecase,multiline", 0, jf_regex_search},
    {"regex_findall", "regex,multiline,ignorecase", 0, jf_regex_findall},
    {"regex_escape", "re_type", 0, jf_regex_escape},
    /* lists */
    {"first", NULL, 0, jf_first},
    {"last", NULL, 0, jf_last},
    {"length", NULL, 0, jf_length},
    {"count", NULL, 0, jf_length},
    {"min", "case_sensitive,attribute", 0, jf_min},
    {"max", "case_sensitive,attribute", 0, jf_max},
    {"sum", "attribute,start", 0, jf_sum},
    {"unique", "case_sensitive,attribute", 0, jf_unique},
    {"union", "b", 0, jf_union},
    {"intersect", "b", 0, jf_intersect},
    {"difference", "b", 0, jf_difference},
    {"symmetric_difference", "b", 0, jf_symmetric_difference},
    {"sort", "reverse,case_sensitive,attribute", 0, jf_sort},
    {"reverse", NULL, 0, jf_reverse},
    {"flatten", "levels,skip_nulls", 0, jf_flatten},
    {"zip", "*others", 0, jf_zip},
    {"zip_longest", "*others,fillvalue", 0, jf_zip_longest},
    {"batch", "linecount,fill_with", 0, jf_batch},
    {"slice", "slices,fill_with", 0, jf_slice},
    {"random", "start,step,seed", 0, jf_random},
    {"shuffle", "seed", 0, jf_shuffle},
    {"product", "*others", 0, jf_product},
    /* select / map */
    {"map", SEL, 0, jf_map},
    {"extract", "container,morekeys", 0, jf_extract},
    {"select", SEL, 0, jf_select},
    {"reject", SEL, 0, jf_reject},
    {"selectattr", SEL, 0, jf_selectattr},
    {"rejectattr", SEL, 0, jf_rejectattr},
    {"groupby", "attribute,default,case_sensitive", 0, jf_groupby},
    /* dicts */
    {"dict2items", "key_name,value_name", 0, jf_dict2items},
    {"items2dict", "key_name,value_name", 0, jf_items2dict},
    {"combine", "*dicts,recursive,list_merge", 0, jf_combine},
    {"dictsort", "case_sensitive,by,reverse", 0, jf_dictsort},
    {"items", NULL, KP_JF_UNDEF, jf_items},
    /* encodings */
    {"to_json", "indent,sort_keys,**kw", 0, jf_to_json},
    {"to_nice_json", "indent,sort_keys,**kw", 0, jf_to_nice_json},
    {"from_json", "**kw", 0, jf_from_json},
    {"to_yaml", "**kw", 0, jf_to_yaml},
    {"to_nice_yaml", "indent,**kw", 0, jf_to_nice_yaml},
    {"from_yaml", NULL, 0, jf_from_yaml},
    {"from_yaml_all", NULL, 0, jf_from_yaml_all},
    {"b64encode", "encoding", 0, jf_b64encode},
    {"b64decode", "encoding", 0, jf_b64decode},
    {"hash", "hashtype", 0, jf_hash},
    {"checksum", NULL, 0, jf_checksum},
    {"md5", NULL, 0, jf_md5},
    {"sha1", NULL, 0, jf_checksum},
    /* paths */
    {"basename", NULL, 0, jf_basename},
    {"dirname", NULL, 0, jf_dirname},
    {"splitext", NULL, 0, jf_splitext},
    {"expanduser", NULL, 0, jf_expanduser},
    {"expandvars", NULL, 0, jf_expandvars},
    {"path_join", NULL, 0, jf_path_join},
    {"urlsplit", "query", 0, jf_urlsplit},
    /* networks */
    {"ipaddr", "query,version", 0, jf_ipaddr},
    {"ipv4", "query", 0, jf_ipv4},
    {"ipv6", "query", 0, jf_ipv6},
    {"ipwrap", "query", 0, jf_ipwrap},
    {NULL, NULL, 0, NULL},
};

/* Ansible's filters, tests and lookups that kplan does not provide: a plan
 * naming one is refused when it loads ("filter 'json_query' is not
 * supported by kplan"). */
const char *const kp_jinja_unsupported[] = {
    /* filters */
    "filter:json_query",
    "filter:password_hash",
    "filter:to_uuid",
    "filter:vault",
    "filter:unvault",
    "filter:strftime",
    "filter:to_datetime",
    "filter:comment",
    "filter:subelements",
    "filter:human_readable",
    "filter:human_to_bytes",
    "filter:realpath",
    "filter:relpath",
    "filter:fileglob",
    "filter:urlencode",
    "filter:urlize",
    "filter:win_basename",
    "filter:win_dirname",
    "filter:win_splitdrive",
    "filter:ansible_managed",
    "filter:from_xml",
    "filter:to_xml",
    "filter:from_csv",
    "filter:jc",
    "filter:pow",
    "filter:log",
    "filter:root",
    "filter:k8s_config_resource_name",
    "filter:cidr_merge",
    "filter:ipmath",
    "filter:ipsubnet",
    "filter:network_in_network",
    "filter:network_in_usable",
    "filter:nthhost",
    "filter:next_nth_usable",
    "filter:previous_nth_usable",
    "filter:reduce_on_network",
    "filter:slaac",
    "filter:hwaddr",
    "filter:macaddr",
    "filter:xmlattr",
    "filter:forceescape",
    "filter:escape",
    "filter:e",
    "filter:safe",
    "filter:striptags",
    "filter:filesizeformat",
    "filter:pprint",
    "filter:tojson",
    "filter:wordwrap",
    "filter:permutations",
    "filter:combinations",
    "filter:rekey_on_member",
    "filter:urldecode",
    /* tests */
    "test:vault_encrypted",
    "test:is_same_file",
    "test:is_mount",
    "test:isnan",
    "test:uri",
    "test:url",
    "test:urn",
    "test:nan",
    "test:mount",
    "test:same_file",
    "test:escaped",
    "test:started",
    /* lookups */
    "lookup:first_found",
    "lookup:fileglob",
    "lookup:items",
    "lookup:dict",
    "lookup:sequence",
    "lookup:subelements",
    "lookup:together",
    "lookup:nested",
    "lookup:indexed_items",
    "lookup:url",
    "lookup:csvfile",
    "lookup:ini",
    "lookup:lines",
    "lookup:random_choice",
    "lookup:unvault",
    "lookup:config",
    "lookup:inventory_hostnames",
    "lookup:list",
    "lookup:varnames",
    "lookup:k8s",
    "lookup:hashi_vault",
    "lookup:aws_ssm",
    "lookup:aws_secret",
    "lookup:dig",
    "lookup:community.general.dig",
    "lookup:redis",
    "lookup:etcd",
    "lookup:etcd3",
    "lookup:consul_kv",
    "lookup:onepassword",
    "lookup:passwordstore",
    "lookup:cartesian",
    "lookup:flattened",
    "lookup:filetree",
    NULL,
};

bool kp_jinja_unsupported_as(const char *kind, const char *name)
{
	size_t k = strlen(kind);
	for (const char *const *u = kp_jinja_unsupported; *u; u++)
		if (!strncmp(*u, kind, k) && (*u)[k] == ':' && !strcmp(*u + k + 1, name))
			return true;
	return false;
}

const char *kp_jinja_unsupported_kind(const char *name)
{
	static const char *const kinds[] = {"filter", "test", "lookup"};
	size_t n = strlen(name);
	for (const char *const *u = kp_jinja_unsupported; *u; u++) {
		const char *colon = strchr(*u, ':');
		if (strlen(colon + 1) == n && !memcmp(colon + 1, name, n)) {
			for (size_t k = 0; k < 3; k++)
				if (!strncmp(*u, kinds[k], (size_t)(colon - *u)))
					return kinds[k];
		}
	}
	return NULL;
}
