/* scope.c - looking a variable up in a scope's layers, see expr.h. */
#include "expr/expr.h"

#include <string.h>

const struct kp_value *kp_scope_getn(const struct kp_scope *s, const char *name, size_t len)
{
	for (size_t i = s ? s->nlayers : 0; i-- > 0;) {
		const struct kp_value *v =
		    s->layers[i] ? kp_map_getn(s->layers[i], name, len) : NULL;
		if (v)
			return v;
	}
	return s && s->lazy ? s->lazy(s->lazy_ctx, name, len) : NULL;
}

const struct kp_value *kp_scope_get(const struct kp_scope *s, const char *name)
{
	return kp_scope_getn(s, name, strlen(name));
}
