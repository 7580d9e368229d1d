/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * Microsoft Graph transport: POST {graph}/v1.0/users/{from}/sendMail with
 * an application token (client credentials). 202 means accepted. A 401
 * refreshes the token once; 429 and 503 are retried as Retry-After asks
 * within the time budget; any other answer is reported with Graph's error
 * code and message.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "log.h"
#include "mail_buf.h"
#include "mail_transport.h"
#include "oauth.h"
#include "secret.h"

struct graph {
	struct wgotp_oauth oauth;
	char *base;		/* {URL}/v1.0/users/ */
	char *scope;
	char *ca_file;
};

int wgotp_graph_parse_error(const char *json, size_t len, char *code, size_t codelen,
			    char *msg, size_t msglen)
{
	struct json_object *root, *e, *v;
	int ret = -EPROTO;

	if (codelen)
		code[0] = '\0';
	if (msglen)
		msg[0] = '\0';
	root = wgotp_json_parse(json, len);
	if (!root || !json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "error", &e) || !json_object_is_type(e, json_type_object))
		goto cleanup;
	if (json_object_object_get_ex(e, "code", &v) && json_object_is_type(v, json_type_string))
		wgotp_oauth_sanitize(json_object_get_string(v), code, codelen);
	if (json_object_object_get_ex(e, "message", &v) && json_object_is_type(v, json_type_string))
		wgotp_oauth_sanitize(json_object_get_string(v), msg, msglen);
	ret = 0;
cleanup:
	json_object_put(root);
	return ret;
}

static int graph_error(const struct wgotp_http_response *r, struct wgotp_error *err)
{
	char code[64], msg[300];
	int errnum = r->status == 401 || r->status == 403 ? EACCES :
		     r->status == 404 || r->status == 400 ? EINVAL : EIO;

	if (wgotp_graph_parse_error(r->body ? r->body : "", r->len, code, sizeof(code), msg,
				    sizeof(msg)) < 0 || !code[0])
		return wgotp_error_set(err, errnum, "Graph sendMail: HTTP %ld (no Graph error in the answer)",
				       r->status);
	return wgotp_error_set(err, errnum, "Graph sendMail: HTTP %ld %s: %s", r->status, code, msg);
}

static int graph_send(void *state, const struct wgotp_mail_message *msg, int64_t now,
		      const struct wgotp_deadline *dl, struct wgotp_error *err)
{
	struct graph *g = state;
	struct wgotp_http_response r = { .retry_after = -1 };
	struct wgotp_http_request req = {
		.content_type = "application/json",
		.ca_file = g->ca_file,
	};
	struct wgotp_buf url = { 0 };
	char *json = NULL, *token = NULL, *u = NULL;
	size_t jsonlen = 0;
	int ret;

	ret = wgotp_mail_graph_json(msg, &json, &jsonlen, err);
	if (ret < 0)
		return ret;
	wgotp_buf_adds(&url, g->base);
	wgotp_buf_add_form(&url, msg->from);
	wgotp_buf_adds(&url, "/sendMail");
	ret = wgotp_buf_take(&url, &u, NULL);
	if (ret < 0) {
		ret = wgotp_error_set(err, -ret, "out of memory");
		goto cleanup;
	}
	req.url = u;
	req.body = json;
	req.body_len = jsonlen;

	for (int attempt = 0; attempt < 2; attempt++) {
		ret = wgotp_oauth_token(&g->oauth, g->scope, now, attempt > 0, dl, &token, err);
		if (ret < 0)
			goto cleanup;
		req.bearer = token;
		ret = wgotp_http_post_patient(&req, dl, "Graph sendMail", &r, err);
		wgotp_free_str(token);
		token = NULL;
		if (ret < 0)
			goto cleanup;
		if (r.status != 401)
			break;
		if (!attempt)
			log_warn("mail: Graph refused the access token (401); asking for a new one");
	}
	if (r.status == 202) {
		ret = 0;
	} else if (r.status == 429 || r.status == 503) {
		ret = wgotp_error_set(err, EBUSY, "Graph sendMail: throttled (HTTP %ld, Retry-After %lld s)%s",
				      r.status, (long long)r.retry_after,
				      r.retry_fits ? "" : "; the wait does not fit in the mail time budget");
	} else {
		ret = graph_error(&r, err);
	}
cleanup:
	wgotp_http_response_clear(&r);
	wgotp_freezero(json, jsonlen);
	wgotp_free_str(token);
	free(u);
	return ret;
}

static void graph_free(void *state)
{
	struct graph *g = state;

	if (!g)
		return;
	wgotp_oauth_clear(&g->oauth);
	free(g->base);
	free(g->scope);
	free(g->ca_file);
	free(g);
}

int wgotp_mail_graph_new(const struct wgotp_config *cfg, struct wgotp_store *store,
			 struct wgotp_mail_sender *out, struct wgotp_error *err)
{
	struct graph *g;
	size_t ulen;
	int ret;

	memset(out, 0, sizeof(*out));
	if (!cfg->graph_url || !wgotp_http_url_ok(cfg->graph_url))
		return wgotp_error_set(err, EINVAL, "[Graph] URL must be an https:// URL");
	if (!cfg->graph_scope || !*cfg->graph_scope)
		return wgotp_error_set(err, EINVAL, "[Graph] Scope may not be empty");
	g = calloc(1, sizeof(*g));
	if (!g)
		return wgotp_error_set(err, ENOMEM, "out of memory");
	ret = wgotp_oauth_init(&g->oauth, cfg, store, err);
	if (ret < 0)
		goto cleanup;
	ulen = strlen(cfg->graph_url);
	while (ulen && cfg->graph_url[ulen - 1] == '/')
		ulen--;
	if (asprintf(&g->base, "%.*s/v1.0/users/", (int)ulen, cfg->graph_url) < 0)
		g->base = NULL;
	g->scope = strdup(cfg->graph_scope);
	if (cfg->mail_ca_file)
		g->ca_file = strdup(cfg->mail_ca_file);
	if (!g->base || !g->scope || (cfg->mail_ca_file && !g->ca_file)) {
		ret = wgotp_error_set(err, ENOMEM, "out of memory");
		goto cleanup;
	}
	out->name = "graph";
	out->send = graph_send;
	out->free = graph_free;
	out->state = g;
	g = NULL;
	ret = 0;
cleanup:
	graph_free(g);
	return ret;
}
