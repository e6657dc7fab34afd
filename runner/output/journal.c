/* journal.c - the run journal and resume, see journal.h. */
#include "output/journal.h"
#include "core/redact.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static kp_rc hash_path(EVP_MD_CTX *ctx, const char *path, int depth, struct kp_buf *err)
{
	struct stat st;
	if (depth > 16)
		return KP_OK;
	if (stat(path, &st))
		return kp_errorf(err, KP_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode)) {
		struct dirent **names;
		int n = scandir(path, &names, NULL, by_name);
		if (n < 0)
			return kp_errorf(err, KP_ERR_IO, "cannot read '%s': %s", path,
					 strerror(errno));
		kp_rc rc = KP_OK;
		for (int i = 0; i < n; i++) {
			const char *d = names[i]->d_name;
			if (!rc && d[0] != '.') {
				struct kp_buf sub = KP_BUF_INIT;
				kp_buf_addf(&sub, "%s/%s", path, d);
				rc = hash_path(ctx, sub.buf, depth + 1, err);
				kp_buf_release(&sub);
			}
			free(names[i]);
		}
		free(names);
		return rc;
	}
	if (!S_ISREG(st.st_mode))
		return KP_OK;
	struct kp_buf data = KP_BUF_INIT;
	kp_rc rc = kp_read_file(path, 0, &data, err);
	if (!rc) {
		EVP_DigestUpdate(ctx, path, strlen(path) + 1);
		EVP_DigestUpdate(ctx, data.buf, data.len);
	}
	kp_buf_release(&data);
	return rc;
}

kp_rc kp_files_sha256(const char *const *paths, size_t n, char out[65], struct kp_buf *err)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[32];
	unsigned int len = 0;
	kp_rc rc = KP_OK;
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	for (size_t i = 0; i < n && !rc; i++)
		rc = hash_path(ctx, paths[i], 0, err);
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return rc;
}

static char *now_iso(char *buf, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/* with the lock held: one line, flushed and on disk before we go on; the
 * first failure is kept (errno) and nothing is written after it, so the
 * journal ends at its last whole record */
static void write_record(struct kp_journal *j, cJSON *rec)
{
	char ts[32];
	cJSON_AddStringToObject(rec, "time", now_iso(ts, sizeof(ts)));
	char *s = cJSON_PrintUnformatted(rec);
	if (j->f && s && j->write_errno) {
		j->lost++;
	} else if (j->f && s) {
		struct kp_buf line = KP_BUF_INIT;
		kp_buf_addstr(&line, s);
		kp_redact_apply(j->redact, &line);
		kp_buf_addch(&line, '\n');
		/* write(2), not stdio: nothing is left in a buffer to come out
		 * later, after a failure, in the middle of a record */
		const char *p = line.buf;
		size_t left = line.len;
		while (left) {
			ssize_t n = write(fileno(j->f), p, left);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			p += n;
			left -= (size_t)n;
		}
		if (left || fsync(fileno(j->f))) {
			j->write_errno = errno ? errno : EIO;
			j->lost++;
		}
		kp_buf_release(&line);
	}
	cJSON_free(s);
	cJSON_Delete(rec);
}

bool kp_journal_failed(struct kp_journal *j, struct kp_buf *msg)
{
	if (!j || !j->f)
		return false;
	pthread_mutex_lock(&j->lock);
	int e = j->write_errno;
	pthread_mutex_unlock(&j->lock);
	if (e && msg)
		kp_buf_addf(msg, "cannot write journal '%s': %s", j->path, strerror(e));
	return e != 0;
}

/* A write lock on the whole file, held while fd is open. Returns 0, or
 * the pid of the process that holds a lock on it (-1: unknown). */
static int lock_file(int fd)
{
	struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	if (!fcntl(fd, F_SETLK, &fl))
		return 0;
	struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
	if (!fcntl(fd, F_GETLK, &q) && q.l_type != F_UNLCK && q.l_pid > 0)
		return q.l_pid;
	return -1;
}

kp_rc kp_journal_open(struct kp_journal *j, const char *dir, const struct kp_run_identity *id,
		      const char *resumed_from, struct kp_buf *err)
{
	char stamp[32], id_buf[64];
	unsigned char r[3] = {0};
	time_t t = time(NULL);
	struct tm tm;
	kp_rc rc;

	memset(j, 0, sizeof(*j));
	if ((rc = kp_mkdirs(dir, 0700, err)))
		return rc;
	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		r[0] = (unsigned char)getpid();
	gmtime_r(&t, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%SZ", &tm);
	snprintf(id_buf, sizeof(id_buf), "%s-%02x%02x%02x", stamp, r[0], r[1], r[2]);
	j->run_id = kp_xstrdup(id_buf);
	struct kp_buf p = KP_BUF_INIT;
	kp_buf_addf(&p, "%s/%s.jsonl", dir, j->run_id);
	j->path = kp_buf_detach(&p, NULL);
	int fd = open(j->path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || !(j->f = fdopen(fd, "w"))) {
		rc = kp_errorf(err, KP_ERR_IO, "cannot write journal '%s': %s", j->path,
			       strerror(errno));
		if (fd >= 0)
			close(fd);
		free(j->path);
		free(j->run_id);
		memset(j, 0, sizeof(*j));
		return rc;
	}
	lock_file(fd); /* a new file: nobody else holds it */
	pthread_mutex_init(&j->lock, NULL);
	j->cordoned = kp_value_map();
	struct timespec now;
	char started[48];
	clock_gettime(CLOCK_REALTIME, &now);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", gmtime_r(&now.tv_sec, &tm));
	snprintf(started, sizeof(started), "%s.%09ldZ", stamp, (long)now.tv_nsec);
	cJSON *rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "type", "run_start");
	cJSON_AddStringToObject(rec, "run_id", j->run_id);
	cJSON_AddStringToObject(rec, "started", started);
	cJSON_AddStringToObject(rec, "command", id->command);
	cJSON_AddStringToObject(rec, "plan", id->plan);
	cJSON_AddStringToObject(rec, "plan_sha256", id->plan_sha256);
	cJSON *inv = cJSON_AddArrayToObject(rec, "inventories");
	for (size_t i = 0; i < id->ninventories; i++)
		cJSON_AddItemToArray(inv, cJSON_CreateString(id->inventories[i]));
	cJSON_AddStringToObject(rec, "inventory_sha256", id->inventory_sha256);
	if (id->args)
		cJSON_AddItemToObject(rec, "args", kp_value_to_cjson(id->args, true));
	if (resumed_from)
		cJSON_AddStringToObject(rec, "resumed_from", resumed_from);
	cJSON_AddNumberToObject(rec, "pid", getpid());
	write_record(j, rec);
	return KP_OK;
}

void kp_journal_result(struct kp_journal *j, const char *task_id, const char *task_name,
		       const char *host, const char *status, const struct kp_value *registered,
		       const char *register_var, bool no_log)
{
	if (!j || !j->f)
		return;
	cJSON *rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "type", "result");
	cJSON_AddStringToObject(rec, "task_id", task_id);
	cJSON_AddStringToObject(rec, "task", task_name);
	cJSON_AddStringToObject(rec, "host", host);
	cJSON_AddStringToObject(rec, "status", status);
	if (register_var) {
		cJSON_AddStringToObject(rec, "register", register_var);
		/* values hidden by no_log never reach the disk: a resume reruns
		 * the task instead (see kp_resume_load) */
		if (no_log)
			cJSON_AddBoolToObject(rec, "no_log", true);
		else if (registered)
			cJSON_AddItemToObject(rec, "value", kp_value_to_cjson(registered, true));
	}
	pthread_mutex_lock(&j->lock);
	write_record(j, rec);
	pthread_mutex_unlock(&j->lock);
}

void kp_journal_cordon(struct kp_journal *j, const char *host, const char *node, bool cordoned)
{
	if (!j || !j->f)
		return;
	cJSON *rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "type", "cordon");
	cJSON_AddStringToObject(rec, "host", host);
	cJSON_AddStringToObject(rec, "node", node);
	cJSON_AddBoolToObject(rec, "cordoned", cordoned);
	pthread_mutex_lock(&j->lock);
	if (cordoned)
		kp_map_set_take(j->cordoned, node, kp_value_str(host));
	else
		kp_map_del(j->cordoned, node);
	write_record(j, rec);
	pthread_mutex_unlock(&j->lock);
}

void kp_journal_admission(struct kp_journal *j, const char *host, const char *node,
			  const char *const *inflight, size_t ninflight, int64_t waited_ms,
			  const struct kp_strlist *waits)
{
	if (!j || !j->f)
		return;
	cJSON *rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "type", "admission");
	cJSON_AddStringToObject(rec, "host", host);
	cJSON_AddStringToObject(rec, "node", node);
	cJSON *a = cJSON_AddArrayToObject(rec, "in_flight");
	for (size_t i = 0; i < ninflight; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(inflight[i]));
	cJSON_AddNumberToObject(rec, "waited_ms", (double)waited_ms);
	if (waits && waits->n) {
		cJSON *w = cJSON_AddArrayToObject(rec, "waited_for");
		for (size_t i = 0; i < waits->n; i++)
			cJSON_AddItemToArray(w, cJSON_CreateString(waits->v[i]));
	}
	pthread_mutex_lock(&j->lock);
	write_record(j, rec);
	pthread_mutex_unlock(&j->lock);
}

void kp_journal_end(struct kp_journal *j, int exit_code, const char *reason)
{
	if (!j || !j->f)
		return;
	cJSON *rec = cJSON_CreateObject();
	cJSON_AddStringToObject(rec, "type", "run_end");
	cJSON_AddNumberToObject(rec, "exit_code", exit_code);
	if (reason)
		cJSON_AddStringToObject(rec, "reason", reason);
	cJSON *c = cJSON_AddArrayToObject(rec, "cordoned");
	for (size_t i = 0; i < kp_map_len(j->cordoned); i++)
		cJSON_AddItemToArray(c, cJSON_CreateString(kp_map_key(j->cordoned, i)));
	pthread_mutex_lock(&j->lock);
	write_record(j, rec);
	pthread_mutex_unlock(&j->lock);
}

void kp_journal_close(struct kp_journal *j)
{
	if (!j)
		return;
	if (j->f) {
		fclose(j->f);
		pthread_mutex_destroy(&j->lock);
	}
	kp_value_unref(j->cordoned);
	free(j->path);
	free(j->run_id);
	memset(j, 0, sizeof(*j));
}

/* Resume */

static const char *jstr(const cJSON *o, const char *k);

/* When a run started, from its first record: "started" (to the
 * nanosecond), else "time" (to the second, older journals). */
static void start_of(const char *path, char *out, size_t n)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	out[0] = '\0';
	if (!f)
		return;
	if (getline(&line, &cap, f) > 0) {
		cJSON *rec = cJSON_Parse(line);
		const char *t = jstr(rec, "started") ? jstr(rec, "started") : jstr(rec, "time");
		snprintf(out, n, "%s", t ? t : "");
		cJSON_Delete(rec);
	}
	free(line);
	fclose(f);
}

/* The run that started last (by its recorded start; the name breaks ties). */
static kp_rc newest_run(const char *dir, struct kp_buf *id, struct kp_buf *err)
{
	struct dirent **names;
	char best[48] = "";
	int n = scandir(dir, &names, NULL, by_name);
	if (n < 0)
		return kp_errorf(err, KP_ERR_NOTFOUND, "no run journal in '%s': %s", dir,
				 strerror(errno));
	for (int i = 0; i < n; i++) {
		const char *d = names[i]->d_name;
		size_t l = strlen(d);
		if (l > 6 && !strcmp(d + l - 6, ".jsonl")) {
			struct kp_buf p = KP_BUF_INIT;
			char start[48];
			kp_buf_addf(&p, "%s/%s", dir, d);
			start_of(p.buf, start, sizeof(start));
			kp_buf_release(&p);
			/* names sort by the second they were made in: a tie on
			 * the start goes to the later name */
			if (!id->len || strcmp(start, best) >= 0) {
				snprintf(best, sizeof(best), "%s", start);
				kp_buf_reset(id);
				kp_buf_add(id, d, l - 6);
			}
		}
		free(names[i]);
	}
	free(names);
	if (!id->len)
		return kp_errorf(err, KP_ERR_NOTFOUND, "no run journal in '%s'", dir);
	return KP_OK;
}

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

kp_rc kp_resume_load(const char *dir, const char *run_id, struct kp_resume *r, struct kp_buf *err)
{
	struct kp_buf id = KP_BUF_INIT, path = KP_BUF_INIT, data = KP_BUF_INIT;
	kp_rc rc = KP_OK;

	memset(r, 0, sizeof(*r));
	r->lock_fd = -1;
	if (run_id)
		kp_buf_addstr(&id, run_id);
	else if ((rc = newest_run(dir, &id, err)))
		goto out;
	kp_buf_addf(&path, "%s/%s.jsonl", dir, id.buf);
	/* locked, then read through the same descriptor: closing any other
	 * descriptor of the file would drop the lock */
	int fd = open(path.buf, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		rc = kp_errorf(err, KP_ERR_NOTFOUND, "no run '%s' in '%s'", id.buf, dir);
		goto out;
	}
	int holder = lock_file(fd);
	if (holder) {
		close(fd);
		if (holder > 0)
			rc = kp_errorf(err, KP_ERR_LOCKED,
				       "run %s is in use by kplan process %d (the run itself, "
				       "still going, or another resume of it)",
				       id.buf, holder);
		else
			rc = kp_errorf(err, KP_ERR_LOCKED, "cannot lock '%s': %s", path.buf,
				       strerror(errno));
		goto out;
	}
	for (;;) {
		char chunk[65536];
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		kp_buf_add(&data, chunk, (size_t)n);
	}
	r->lock_fd = fd;
	r->run_id = kp_buf_detach(&id, NULL);
	r->path = kp_buf_detach(&path, NULL);
	r->done = kp_value_map();
	r->facts = kp_value_map();
	r->cordoned = kp_value_map();
	int lineno = 0;
	for (char *line = strtok(data.buf, "\n"); line; line = strtok(NULL, "\n")) {
		lineno++;
		cJSON *rec = cJSON_Parse(line);
		if (!rec) {
			/* the controller died while writing it: the last line may be cut */
			continue;
		}
		const char *type = jstr(rec, "type");
		if (type && !strcmp(type, "run_start")) {
			snprintf(r->plan_sha256, sizeof(r->plan_sha256), "%s",
				 jstr(rec, "plan_sha256") ? jstr(rec, "plan_sha256") : "");
			snprintf(r->inventory_sha256, sizeof(r->inventory_sha256), "%s",
				 jstr(rec, "inventory_sha256") ? jstr(rec, "inventory_sha256")
							       : "");
			free(r->command);
			r->command =
			    kp_xstrdup(jstr(rec, "command") ? jstr(rec, "command") : "run");
			const cJSON *a = cJSON_GetObjectItemCaseSensitive(rec, "args");
			if (a) {
				char *s = cJSON_PrintUnformatted(a);
				kp_value_unref(r->args);
				r->args = NULL;
				kp_value_from_json(s, strlen(s), &r->args, NULL);
				cJSON_free(s);
			}
		} else if (type && !strcmp(type, "result")) {
			const char *task = jstr(rec, "task_id"), *host = jstr(rec, "host"),
				   *status = jstr(rec, "status"), *reg = jstr(rec, "register");
			const cJSON *nolog = cJSON_GetObjectItemCaseSensitive(rec, "no_log");
			bool ok = status && (!strcmp(status, "ok") || !strcmp(status, "changed") ||
					     !strcmp(status, "skipped"));
			/* a no_log value was never written: the task must run again
			 * for its registered value */
			if (task && host && ok && !(reg && cJSON_IsTrue(nolog))) {
				struct kp_buf k = KP_BUF_INIT;
				struct kp_value *copy = NULL;
				/* the record itself: a resume of the resume carries it on */
				if (!cJSON_GetObjectItemCaseSensitive(rec, "carried_from"))
					cJSON_AddStringToObject(rec, "carried_from", r->run_id);
				cJSON_DeleteItemFromObjectCaseSensitive(rec, "time");
				char *txt = cJSON_PrintUnformatted(rec);
				if (kp_value_from_json(txt, strlen(txt), &copy, NULL))
					copy = kp_value_bool(true);
				cJSON_free(txt);
				kp_buf_addf(&k, "%s\x1f%s", task, host);
				kp_map_set_take(r->done, k.buf, copy);
				kp_buf_release(&k);
				const cJSON *v = cJSON_GetObjectItemCaseSensitive(rec, "value");
				if (reg && v) {
					char *s = cJSON_PrintUnformatted(v);
					struct kp_value *val = NULL;
					if (!kp_value_from_json(s, strlen(s), &val, NULL)) {
						const struct kp_value *hm =
						    kp_map_get(r->facts, host);
						if (!hm) {
							kp_map_set_take(r->facts, host,
									kp_value_map());
							hm = kp_map_get(r->facts, host);
						}
						kp_map_set_take((struct kp_value *)hm, reg, val);
					}
					cJSON_free(s);
				}
			}
		} else if (type && !strcmp(type, "cordon")) {
			const char *node = jstr(rec, "node"), *host = jstr(rec, "host");
			if (node && host) {
				if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "cordoned")))
					kp_map_set_take(r->cordoned, node, kp_value_str(host));
				else
					kp_map_del(r->cordoned, node);
			}
		} else if (type && !strcmp(type, "run_end")) {
			r->ended = true;
			const cJSON *c = cJSON_GetObjectItemCaseSensitive(rec, "exit_code");
			r->exit_code = cJSON_IsNumber(c) ? c->valueint : -1;
		}
		cJSON_Delete(rec);
	}
	(void)lineno;
	if (!r->plan_sha256[0]) {
		rc = kp_errorf(err, KP_ERR_INVALID, "'%s' is not a kplan run journal", r->path);
		kp_resume_release(r);
	}
out:
	kp_buf_release(&id);
	kp_buf_release(&path);
	kp_buf_release(&data);
	return rc;
}

void kp_resume_release(struct kp_resume *r)
{
	if (r->lock_fd >= 0)
		close(r->lock_fd);
	free(r->run_id);
	free(r->path);
	free(r->command);
	kp_value_unref(r->args);
	kp_value_unref(r->done);
	kp_value_unref(r->facts);
	kp_value_unref(r->cordoned);
	memset(r, 0, sizeof(*r));
}

void kp_journal_carry(struct kp_journal *j, const struct kp_resume *r)
{
	if (!j || !j->f || !r || !r->done)
		return;
	for (size_t i = 0; i < kp_map_len(r->done); i++) {
		const struct kp_value *v = kp_map_val(r->done, i);
		if (v->type != KP_V_MAP)
			continue;
		cJSON *rec = kp_value_to_cjson(v, false);
		pthread_mutex_lock(&j->lock);
		write_record(j, rec);
		pthread_mutex_unlock(&j->lock);
	}
}

bool kp_resume_args_differ(const struct kp_resume *r, const struct kp_value *args,
			   struct kp_buf *which)
{
	static const char *const keys[] = {"limit", "extra_vars", "tags", "skip_tags"};
	bool any = false;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		struct kp_buf a = KP_BUF_INIT, b = KP_BUF_INIT;
		const struct kp_value *was = r->args ? kp_map_get(r->args, keys[i]) : NULL;
		const struct kp_value *now = kp_map_get(args, keys[i]);
		/* absent and empty are the same: no --limit, no tags */
		if (was && !(was->type == KP_V_LIST && !kp_list_len(was)))
			kp_value_to_json(was, false, false, &a);
		if (now && !(now->type == KP_V_LIST && !kp_list_len(now)))
			kp_value_to_json(now, false, false, &b);
		if (strcmp(a.buf, b.buf)) {
			kp_buf_addf(which, "%s%s", any ? ", " : "", keys[i]);
			any = true;
		}
		kp_buf_release(&a);
		kp_buf_release(&b);
	}
	return any;
}

bool kp_resume_done(const struct kp_resume *r, const char *task_id, const char *host)
{
	if (!r || !r->done)
		return false;
	struct kp_buf k = KP_BUF_INIT;
	kp_buf_addf(&k, "%s\x1f%s", task_id, host);
	bool d = kp_map_get(r->done, k.buf) != NULL;
	kp_buf_release(&k);
	return d;
}

/* `kplan runs` */

struct runsum {
	char start[32], end[8], plan[256], status[32], cordoned[256];
	int results, failed;
};

static void summarise(const char *path, struct runsum *s)
{
	struct kp_buf data = KP_BUF_INIT;
	memset(s, 0, sizeof(*s));
	snprintf(s->end, sizeof(s->end), "-");
	snprintf(s->status, sizeof(s->status), "unfinished");
	if (kp_read_file(path, 0, &data, NULL))
		return;
	for (char *line = strtok(data.buf, "\n"); line; line = strtok(NULL, "\n")) {
		cJSON *rec = cJSON_Parse(line);
		if (!rec)
			continue;
		const char *type = jstr(rec, "type");
		if (type && !strcmp(type, "run_start")) {
			snprintf(s->start, sizeof(s->start), "%s",
				 jstr(rec, "time") ? jstr(rec, "time") : "");
			snprintf(s->plan, sizeof(s->plan), "%s",
				 jstr(rec, "plan") ? jstr(rec, "plan") : "");
		} else if (type && !strcmp(type, "result")) {
			s->results++;
			const char *st = jstr(rec, "status");
			if (st && (!strcmp(st, "failed") || !strcmp(st, "unreachable")))
				s->failed++;
		} else if (type && !strcmp(type, "run_end")) {
			const cJSON *c = cJSON_GetObjectItemCaseSensitive(rec, "exit_code");
			int code = cJSON_IsNumber(c) ? c->valueint : -1;
			snprintf(s->end, sizeof(s->end), "%d", code);
			snprintf(s->status, sizeof(s->status), "%s",
				 code == 0     ? "ok"
				 : code == 130 ? "interrupted"
					       : "failed");
			const cJSON *cd = cJSON_GetObjectItemCaseSensitive(rec, "cordoned"), *n;
			size_t off = 0;
			cJSON_ArrayForEach(n, cd) if (cJSON_IsString(n) &&
						      off < sizeof(s->cordoned) - 2) off +=
			    (size_t)snprintf(s->cordoned + off, sizeof(s->cordoned) - off, "%s%s",
					     off ? "," : "", n->valuestring);
		}
		cJSON_Delete(rec);
	}
	kp_buf_release(&data);
}

kp_rc kp_runs_list(const char *dir, FILE *out, struct kp_buf *err)
{
	struct dirent **names;
	int n = scandir(dir, &names, NULL, by_name);
	if (n < 0)
		return kp_errorf(err, KP_ERR_NOTFOUND, "no run journal in '%s': %s", dir,
				 strerror(errno));
	fprintf(out, "%-26s %-20s %-11s %4s %7s %6s  %-s\n", "RUN", "STARTED", "STATUS", "EXIT",
		"RESULTS", "FAILED", "PLAN (CORDONED)");
	for (int i = 0; i < n; i++) {
		const char *d = names[i]->d_name;
		size_t l = strlen(d);
		if (l > 6 && !strcmp(d + l - 6, ".jsonl")) {
			struct kp_buf p = KP_BUF_INIT;
			struct runsum s;
			kp_buf_addf(&p, "%s/%s", dir, d);
			summarise(p.buf, &s);
			fprintf(out, "%-26.*s %-20s %-11s %4s %7d %6d  %s%s%s%s\n", (int)(l - 6), d,
				s.start, s.status, s.end, s.results, s.failed, s.plan,
				s.cordoned[0] ? " (cordoned: " : "", s.cordoned,
				s.cordoned[0] ? ")" : "");
			kp_buf_release(&p);
		}
		free(names[i]);
	}
	free(names);
	return KP_OK;
}

/* a window's admission in `kplan runs show`: the host, the nodes in
 * flight, and what it waited for */
static void show_admission(FILE *out, const char *t, const cJSON *rec)
{
	const cJSON *x, *w = cJSON_GetObjectItemCaseSensitive(rec, "waited_for");
	const cJSON *ms = cJSON_GetObjectItemCaseSensitive(rec, "waited_ms");
	struct kp_buf b = KP_BUF_INIT;
	cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(rec, "in_flight"))
	{
		if (cJSON_IsString(x))
			kp_buf_addf(&b, "%s%s", b.len ? ", " : "", x->valuestring);
	}
	fprintf(out, "%s  admitted  [%s] with %s in flight", t, jstr(rec, "host"),
		b.len ? b.buf : "nothing");
	if (cJSON_IsArray(w) && cJSON_GetArraySize(w)) {
		fprintf(out,
			", after %.1f s waiting:", cJSON_IsNumber(ms) ? ms->valuedouble / 1000 : 0);
		cJSON_ArrayForEach(x, w)
		{
			if (cJSON_IsString(x))
				fprintf(out, "%s %s", x == w->child ? "" : ";", x->valuestring);
		}
	}
	fputc('\n', out);
	kp_buf_release(&b);
}

kp_rc kp_runs_show(const char *dir, const char *run_id, FILE *out, struct kp_buf *err)
{
	struct kp_buf path = KP_BUF_INIT, data = KP_BUF_INIT;
	kp_buf_addf(&path, "%s/%s.jsonl", dir, run_id);
	kp_rc rc = kp_read_file(path.buf, 0, &data, err);
	if (rc) {
		rc = kp_errorf(err, KP_ERR_NOTFOUND, "no run '%s' in '%s'", run_id, dir);
		goto out;
	}
	for (char *line = strtok(data.buf, "\n"); line; line = strtok(NULL, "\n")) {
		cJSON *rec = cJSON_Parse(line);
		if (!rec)
			continue;
		const char *type = jstr(rec, "type");
		const char *t = jstr(rec, "time") ? jstr(rec, "time") : "";
		if (type && !strcmp(type, "run_start"))
			fprintf(out, "%s  start  %s %s (plan sha256 %.12s…)\n", t,
				jstr(rec, "command"), jstr(rec, "plan"), jstr(rec, "plan_sha256"));
		else if (type && !strcmp(type, "result"))
			fprintf(out, "%s  %-9s %s  [%s]\n", t, jstr(rec, "status"),
				jstr(rec, "task"), jstr(rec, "host"));
		else if (type && !strcmp(type, "cordon"))
			fprintf(out, "%s  %s node %s\n", t,
				cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(rec, "cordoned"))
				    ? "cordoned  "
				    : "uncordoned",
				jstr(rec, "node"));
		else if (type && !strcmp(type, "admission"))
			show_admission(out, t, rec);
		else if (type && !strcmp(type, "run_end")) {
			const cJSON *c = cJSON_GetObjectItemCaseSensitive(rec, "exit_code");
			fprintf(out, "%s  end    exit %d%s%s\n", t,
				cJSON_IsNumber(c) ? c->valueint : -1,
				jstr(rec, "reason") ? ": " : "",
				jstr(rec, "reason") ? jstr(rec, "reason") : "");
		}
		cJSON_Delete(rec);
	}
out:
	kp_buf_release(&path);
	kp_buf_release(&data);
	return rc;
}
