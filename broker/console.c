/* broker/console.c — the web console on the broker's thread (console.h): a session is a connection inside plugbayd whose frames console_http.c hands over. */
#include "console.h"
#include "conn.h"
#include "console_http.h"
#include "logs.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ENDED_MAX 16 /* sessions let go per tick at most */

struct console {
    console_http *http;
    int64_t next_tick;
};

/* push hands a console request's frame to the broker's thread (on NNG's threads). */
static bool push(void *arg, uint64_t session, nng_msg *msg)
{
    broker *b = arg;
    return conn_queue_push(&b->queue, session, msg);
}

/* deliver passes a frame plugbayd sends a session to the HTTP side. */
static void deliver(void *data, uint64_t session, nng_msg *msg)
{
    broker *b = data;
    if (b->console && b->console->http)
        console_http_deliver(b->console->http, session, msg);
    else
        nng_msg_free(msg);
}

static const conn_local session_conn = {deliver};

/* line sends a plugin's log line to the console's event streams. */
static void line(broker *b, const char *plugin, const char *text)
{
    if (b->console && b->console->http)
        console_http_line(b->console->http, plugin, text);
}

int console_start(broker *b, bay_error *err)
{
    if (b->opt.console_addr == NULL)
        return 0;
    if ((b->console = calloc(1, sizeof *b->console)) == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "out of memory");
    int rc = console_http_start(b->opt.console_addr, b->opt.console_cert, push, b, &b->console->http, err);
    if (rc) {
        free(b->console);
        b->console = NULL;
        return rc;
    }
    logs_on_line(b, line);
    bay__log(BAY_LOG_INFO, NULL, "the web console is at %s: `plugbay console` prints a login link",
             console_http_url(b->console->http));
    return 0;
}

int console_command(broker *b, conn *c, const bay__frame *f, plugin *p, const bay_value *args, bay_error *err)
{
    (void)p, (void)args;
    if (b->console == NULL)
        return bay_error_set(err, BAY_ENOENT, NULL,
                             "plugbayd serves no web console: start it with --console 127.0.0.1:PORT (docs/console.md)");
    if (c->local)
        return bay_error_set(err, BAY_EPERM, NULL, "a console session cannot make login links; run `plugbay console`");
    char name[160], url[512];
    snprintf(name, sizeof name, "console:%s", c->name + (strncmp(c->name, "host:", 5) == 0 ? 5 : 0));
    conn *s = conn_open_local(b, name, c->rights, c->grants, c->uid, &session_conn, b);
    if (s == NULL)
        return bay_error_set(err, BAY_ENOMEM, NULL, "plugbayd is out of memory");
    if (console_http_login(b->console->http, s->session, conn_who(c), bay__role_name(c->rights), url, sizeof url,
                           err) != 0) {
        conn_let_go(b, s, 0, err->code, err->message);
        return err->code;
    }
    bay__log(BAY_LOG_INFO, "audit", "%s: console: a login link for a session of role %s", conn_who(c),
             bay__role_name(c->rights));
    bay_value *v = bay_map();
    bay_map_set(v, "url", bay_str(url));
    bay_map_set(v, "expires_s", bay_int(300));
    bay_map_set(v, "role", bay_str(bay__role_name(c->rights)));
    conn_send_value(b, c, f->id, v);
    bay_value_free(v);
    return 0;
}

int64_t console_tick(broker *b, int64_t now)
{
    if (b->console == NULL)
        return 0;
    if (now >= b->console->next_tick) {
        b->console->next_tick = now + 1000;
        uint64_t ended[ENDED_MAX];
        size_t n = console_http_tick(b->console->http, ended, ENDED_MAX);
        for (size_t i = 0; i < n; i++) {
            conn *c = conn_get(b, ended[i]);
            if (c)
                conn_let_go(b, c, 0, BAY_ECONN, "the console session ended");
        }
    }
    return b->console->next_tick;
}

int console_panel_url(broker *b, const plugin *p, const char *panel, char *url, size_t len)
{
    const bay__panel_decl *d = NULL;
    for (size_t i = 0; p->m && i < p->m->npanels && d == NULL; i++)
        if (strcmp(p->m->panels[i].panel, panel) == 0)
            d = &p->m->panels[i];
    if (b->console == NULL || d == NULL)
        return BAY_ENOENT;
    /* The panel's files are those of its entry's folder: the capability opens that folder, the URL names the entry. */
    char dir[PATH_MAX];
    const char *slash = strrchr(d->entry, '/');
    int n = slash ? snprintf(dir, sizeof dir, "%s/%.*s", p->m->dir, (int)(slash - d->entry), d->entry)
                  : snprintf(dir, sizeof dir, "%s", p->m->dir);
    if (n < 0 || (size_t)n >= sizeof dir)
        return BAY_ENOENT;
    return console_http_panel_url(b->console->http, p->id, panel, dir, slash ? slash + 1 : d->entry, url, len);
}

void console_stop(broker *b)
{
    if (b->console == NULL)
        return;
    console_http_stop(b->console->http);
    b->console->http = NULL;
    free(b->console);
    b->console = NULL;
}
